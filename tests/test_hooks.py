"""The guard covers every path: lab clients, plain boto3, new sessions, the SageMaker SDK v3."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from mllab import CostGuardError
from tests.guard.test_guard_refusals import training

GPU = {"ResourceConfig__InstanceType": "ml.p3.2xlarge"}


def test_plain_boto3_client_is_guarded_while_lab_open(lab: Any) -> None:
    assert boto3.DEFAULT_SESSION is lab.session
    sm = boto3.client("sagemaker")
    with pytest.raises(CostGuardError):
        sm.create_training_job(**training(**GPU))
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_new_boto3_session_is_guarded_while_lab_open(lab: Any) -> None:
    sm = boto3.Session(region_name="us-east-1").client("sagemaker")
    with pytest.raises(CostGuardError):
        sm.create_training_job(**training(**GPU))
    sm.create_training_job(**training())
    assert lab.ledger.latest_for("guarded", run=lab.run_id) is not None


def test_default_session_restored_and_guard_inert_after_close() -> None:
    from botocore.client import BaseClient

    from mllab import Lab, hooks

    before = boto3.DEFAULT_SESSION
    with Lab("x"):
        assert BaseClient._make_api_call is hooks._guarded_make_api_call
        assert hooks.active() is not None
    assert boto3.DEFAULT_SESSION is before
    assert hooks.active() is None  # the wrapper stays installed but acts for no lab


def test_sagemaker_sdk_model_trainer_is_guarded(lab: Any) -> None:
    from sagemaker.core import image_uris
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, StoppingCondition

    image = image_uris.retrieve("xgboost", region="us-east-1", version="1.7-1")
    trainer = ModelTrainer(
        training_image=image,
        role=lab.role_arn,
        sagemaker_session=lab.sm_session,
        compute=Compute(instance_type="ml.p3.2xlarge", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        hyperparameters={"num_round": 10},
        base_job_name="sdk-guarded",
    )
    with pytest.raises(CostGuardError, match="allow-list"):
        trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=f"s3://{lab.bucket}/x/")
            ],
            wait=False,
        )
    assert lab.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_nested_labs_act_for_the_innermost() -> None:
    from mllab import Lab, hooks

    with Lab("outer") as outer, Lab("inner") as inner:
        assert hooks.active() is inner
        inner.client("sagemaker").create_training_job(**training())
        assert inner.ledger.latest_for("guarded", run=inner.run_id) is not None
        assert outer.ledger.rows(run=outer.run_id) == []


def test_sagemaker_sdk_model_builder_deploy_is_guarded(lab: Any) -> None:
    from sagemaker.serve import ModelBuilder
    from sagemaker.serve.mode.function_pointers import Mode

    from tests.guard.test_guard_refusals import IMAGE

    mb = ModelBuilder(
        s3_model_data_url=f"s3://{lab.bucket}/sdk/model.tar.gz",
        image_uri=IMAGE,
        role_arn=lab.role_arn,
        sagemaker_session=lab.sm_session,
        instance_type="ml.g5.xlarge",
        mode=Mode.SAGEMAKER_ENDPOINT,
    )
    mb.build(model_name="guarded-model")
    with pytest.raises(CostGuardError, match="allow-list"):
        mb.deploy(
            endpoint_name="guarded-ep", initial_instance_count=1, instance_type="ml.g5.xlarge"
        )
    sm = lab.client("sagemaker")
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
