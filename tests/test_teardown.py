"""Teardown deletes what a lab created, also after an exception, and records actual use."""

from __future__ import annotations

from typing import Any

import pytest

from mllab import Lab
from tests.guard.test_guard_refusals import IMAGE


def _endpoint(lab: Any, name: str = "ep") -> None:
    sm = lab.client("sagemaker")
    sm.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{lab.bucket}/{name}/model.tar.gz"},
        ExecutionRoleArn=lab.role_arn,
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def test_teardown_after_exception_leaves_nothing_billable() -> None:
    with Lab("keeper") as keeper:  # keeps the offline account alive to inspect it
        with pytest.raises(RuntimeError, match="learner bug"), Lab("crashy") as lab:
            _endpoint(lab)
            lab.client("kinesis").create_stream(StreamName="clicks", ShardCount=1)
            raise RuntimeError("learner bug")
        sm = keeper.client("sagemaker")
        assert sm.list_endpoints()["Endpoints"] == []
        assert sm.list_endpoint_configs()["EndpointConfigs"] == []
        assert sm.list_models()["Models"] == []
        assert keeper.client("kinesis").list_streams()["StreamNames"] == []
        rows = {r.resource: r for r in keeper.ledger.rows(lab="crashy")}
        assert rows["ep"].actual_usd is not None
        assert rows["clicks"].actual_usd is not None


def test_teardown_reports_what_it_deleted_and_is_idempotent(lab: Any) -> None:
    _endpoint(lab)
    done = lab.teardown()
    assert {"kind": "endpoint", "name": "ep", "action": "deleted"} in done
    assert {"kind": "model", "name": "ep-model", "action": "deleted"} in done
    assert lab.teardown() == []


def test_close_twice_is_safe(lab: Any) -> None:
    lab.close()
    assert lab.close() == []
    assert lab.closed


def test_job_names_are_unique_per_run() -> None:
    with Lab("a") as one, Lab("a") as two:
        assert one.job_name("fraud-xgb") != two.job_name("fraud-xgb")
        assert one.job_name("fraud-xgb") == one.job_name("fraud-xgb")
        assert one.job_name("fraud-xgb").startswith("fraud-xgb-")
        assert len(one.job_name("x" * 55)) <= 63
        with pytest.raises(ValueError):
            one.job_name("")
