"""Table-driven: every billable operation, with adversarial requests, is refused before moto sees it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from mllab import CostGuardError

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def training(**over: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "TrainingJobName": "guarded",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/MLLabSageMakerExecutionRole",
        "OutputDataConfig": {"S3OutputPath": "s3://mllab-123456789012-us-east-1/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {"num_round": "10"},
    }
    for path, value in over.items():
        node = req
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is _DROP:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return req


_DROP = object()

TRAINING_CASES = {
    "gpu type": (training(ResourceConfig__InstanceType="ml.p3.2xlarge"), "allow-list"),
    "p4d type": (training(ResourceConfig__InstanceType="ml.p4d.24xlarge"), "allow_gpu=True"),
    "unknown type": (
        training(ResourceConfig__InstanceType="ml.m5.huge"),
        "not a SageMaker training",
    ),
    "zero count": (training(ResourceConfig__InstanceCount=0), "at least 1"),
    "huge count": (training(ResourceConfig__InstanceCount=500), "at most 4"),
    "no stopping condition": (training(StoppingCondition=_DROP), "no bound"),
    "huge runtime": (
        training(StoppingCondition__MaxRuntimeInSeconds=5 * 24 * 3600),
        "MaxRuntimeInSeconds <= 3600",
    ),
    "spot without wait": (training(EnableManagedSpotTraining=True), "MaxWaitTimeInSeconds"),
    "spot wait shorter": (
        training(
            EnableManagedSpotTraining=True,
            StoppingCondition={"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 60},
        ),
        "MaxWaitTimeInSeconds",
    ),
}


@pytest.mark.parametrize("case", sorted(TRAINING_CASES))
def test_training_job_refused_and_never_reaches_moto(lab: Any, case: str) -> None:
    req, needle = TRAINING_CASES[case]
    sm = lab.client("sagemaker")
    with pytest.raises(CostGuardError) as err:
        sm.create_training_job(**req)
    assert needle in str(err.value)
    assert "Nothing was sent to AWS" in str(err.value)
    assert "Fix:" in str(err.value)
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    assert lab.ledger.rows(run=lab.run_id) == []


def test_negative_count_is_refused_by_validation_before_sending(lab: Any) -> None:
    sm = lab.client("sagemaker")
    with pytest.raises((CostGuardError, ParamValidationError)):
        sm.create_training_job(**training(ResourceConfig__InstanceCount=-3))
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_malformed_request_is_refused_before_sending(lab: Any) -> None:
    sm = lab.client("sagemaker")
    bad = training()
    bad["ResourceConfig"]["InstanceCount"] = "two"
    with pytest.raises(ParamValidationError):
        sm.create_training_job(**bad)
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_budget_exceeded_states_estimate_remaining_and_fix() -> None:
    from mllab import Lab

    with Lab("budget", budget_usd=0.01) as small:
        sm = small.client("sagemaker")
        with pytest.raises(CostGuardError) as err:
            sm.create_training_job(**training(StoppingCondition__MaxRuntimeInSeconds=3600))
        msg = str(err.value)
        assert "exceeds the lab's remaining budget" in msg
        assert "$0.1150" in msg  # ml.m5.large for one hour
        assert "$0.0100" in msg
        assert "MLLAB_BUDGET_USD" in msg
        assert err.value.estimate_usd == pytest.approx(0.115)
        assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def tuning(**limits: Any) -> dict[str, Any]:
    defn = training()
    defn.pop("TrainingJobName")
    defn.pop("HyperParameters")
    defn["StaticHyperParameters"] = {"num_round": "10"}
    defn["AlgorithmSpecification"]["MetricDefinitions"] = []
    cfg: dict[str, Any] = {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]
        },
    }
    cfg["ResourceLimits"].update(limits)
    for k in [k for k, v in limits.items() if v is _DROP]:
        cfg["ResourceLimits"].pop(k)
    return {
        "HyperParameterTuningJobName": "guarded-hpo",
        "HyperParameterTuningJobConfig": cfg,
        "TrainingJobDefinition": defn,
    }


@pytest.mark.parametrize(
    ("req", "needle"),
    [
        (tuning(MaxNumberOfTrainingJobs=10_000), "remaining budget"),
        (tuning(MaxNumberOfTrainingJobs=0), "at least 1"),
        (tuning(MaxParallelTrainingJobs=0), "at least 1"),
    ],
    ids=["huge", "zero", "zero-parallel"],
)
def test_tuning_refused(lab: Any, req: dict[str, Any], needle: str) -> None:
    sm = lab.client("sagemaker")
    with pytest.raises((CostGuardError, ParamValidationError)) as err:
        sm.create_hyper_parameter_tuning_job(**req)
    if isinstance(err.value, CostGuardError):
        assert needle in str(err.value)
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_unbounded_tuning_is_refused_even_if_validation_would_pass(lab: Any) -> None:
    from mllab.guard.estimate import Policy, Refusal
    from mllab.guard.estimate import tuning_job as _tuning

    req = tuning()
    req["HyperParameterTuningJobConfig"]["ResourceLimits"].pop("MaxNumberOfTrainingJobs")
    with pytest.raises(Refusal, match="unbounded"):
        _tuning(req, Policy())


def processing(**over: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "ProcessingJobName": "guarded-proc",
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 10,
            }
        },
        "AppSpecification": {
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
        },
        "RoleArn": "arn:aws:iam::123456789012:role/MLLabSageMakerExecutionRole",
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    req.update(over)
    return req


@pytest.mark.parametrize(
    ("req", "needle"),
    [
        (
            processing(
                ProcessingResources={
                    "ClusterConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.g5.xlarge",
                        "VolumeSizeInGB": 10,
                    }
                }
            ),
            "allow-list",
        ),
        (processing(StoppingCondition=None), "no bound"),
        (
            processing(
                ProcessingResources={
                    "ClusterConfig": {
                        "InstanceCount": 50,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 10,
                    }
                }
            ),
            "at most 4",
        ),
    ],
    ids=["gpu", "unbounded", "huge-count"],
)
def test_processing_refused(lab: Any, req: dict[str, Any], needle: str) -> None:
    req = {k: v for k, v in req.items() if v is not None}
    sm = lab.client("sagemaker")
    with pytest.raises(CostGuardError, match=needle):
        sm.create_processing_job(**req)
    assert sm.list_processing_jobs()["ProcessingJobSummaries"] == []


def test_transform_refused_for_gpu(lab: Any) -> None:
    sm = lab.client("sagemaker")
    with pytest.raises(CostGuardError, match="allow-list"):
        sm.create_transform_job(
            TransformJobName="t",
            ModelName="m",
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}
            },
            TransformOutput={"S3OutputPath": "s3://b/out"},
            TransformResources={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1},
        )


def variant(**over: Any) -> dict[str, Any]:
    v: dict[str, Any] = {
        "VariantName": "AllTraffic",
        "ModelName": "m",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    v.update(over)
    return v


@pytest.mark.parametrize(
    ("variants", "needle"),
    [
        ([variant(InstanceType="ml.g4dn.xlarge")], "allow-list"),
        ([variant(InstanceType="ml.nope.large")], "not a SageMaker hosting"),
        ([variant(InitialInstanceCount=40)], "at most 4"),
        (
            [variant(), variant(VariantName="B", InstanceType="ml.p3.2xlarge")],
            "ProductionVariants[1]",
        ),
    ],
    ids=["gpu", "unknown", "count", "second-variant"],
)
def test_endpoint_config_with_disallowed_type_refused_at_first_call(
    lab: Any, variants: list[dict[str, Any]], needle: str
) -> None:
    sm = lab.client("sagemaker")
    with pytest.raises(CostGuardError) as err:
        sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=variants)
    assert needle in str(err.value)
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []


def test_endpoint_estimate_uses_config_and_ttl(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_model(
        ModelName="m",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{lab.bucket}/m/model.tar.gz"},
        ExecutionRoleArn=lab.role_arn,
    )
    sm.create_endpoint_config(
        EndpointConfigName="cfg", ProductionVariants=[variant(InitialInstanceCount=2)]
    )
    from mllab.guard.estimate import endpoint as _endpoint

    est = _endpoint({"EndpointName": "e", "EndpointConfigName": "cfg"}, lab.guard.policy)
    assert est.usd == pytest.approx(0.115 * 2 * 1.0)
    assert est.hourly_usd == pytest.approx(0.23)


def test_endpoint_with_missing_config_refused(lab: Any) -> None:
    sm = lab.client("sagemaker")
    with pytest.raises(CostGuardError, match="was not found"):
        sm.create_endpoint(EndpointName="e", EndpointConfigName="nope")
    assert sm.list_endpoints()["Endpoints"] == []


def test_serverless_estimate_from_memory_and_concurrency() -> None:
    from mllab.guard.estimate import Policy, _variants_hourly

    hourly, _ = _variants_hourly(
        {
            "ProductionVariants": [
                {
                    "VariantName": "s",
                    "ModelName": "m",
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
                }
            ]
        },
        Policy(),
    )
    assert hourly == pytest.approx(2 * 5 * 3600 * 0.00002)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"StreamName": "s", "ShardCount": 500}, "at most 10 shards"),
        ({"StreamName": "s", "ShardCount": 0}, "at least 1"),
    ],
    ids=["huge", "zero"],
)
def test_kinesis_shards_refused(lab: Any, kwargs: dict[str, Any], needle: str) -> None:
    kinesis = lab.client("kinesis")
    with pytest.raises((CostGuardError, ParamValidationError)) as err:
        kinesis.create_stream(**kwargs)
    if isinstance(err.value, CostGuardError):
        assert needle in str(err.value)
    assert kinesis.list_streams()["StreamNames"] == []


def test_glue_job_with_default_timeout_refused(lab: Any) -> None:
    glue = lab.client("glue")
    glue.create_job(
        Name="etl",
        Role=lab.role_arn,
        Command={
            "Name": "pythonshell",
            "ScriptLocation": f"s3://{lab.bucket}/s.py",
            "PythonVersion": "3.9",
        },
        MaxCapacity=0.0625,
    )
    with pytest.raises(CostGuardError, match="Timeout"):
        glue.start_job_run(JobName="etl")
    assert glue.get_job_runs(JobName="etl")["JobRuns"] == []


@pytest.mark.parametrize(
    ("service", "method", "kwargs"),
    [
        (
            "sagemaker",
            "create_notebook_instance",
            {
                "NotebookInstanceName": "n",
                "InstanceType": "ml.t3.medium",
                "RoleArn": "arn:aws:iam::123456789012:role/r",
            },
        ),
        (
            "sagemaker",
            "create_domain",
            {
                "DomainName": "d",
                "AuthMode": "IAM",
                "DefaultUserSettings": {},
                "SubnetIds": ["s"],
                "VpcId": "v",
            },
        ),
        (
            "sagemaker",
            "create_auto_ml_job_v2",
            {
                "AutoMLJobName": "a",
                "AutoMLJobInputDataConfig": [
                    {
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/x"}
                        }
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
                "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "y"}},
                "RoleArn": "arn:aws:iam::123456789012:role/r",
            },
        ),
        (
            "emr",
            "run_job_flow",
            {
                "Name": "c",
                "Instances": {},
                "JobFlowRole": "r",
                "ServiceRole": "r",
                "ReleaseLabel": "emr-7.0.0",
            },
        ),
        (
            "glue",
            "create_dev_endpoint",
            {"EndpointName": "d", "RoleArn": "arn:aws:iam::123456789012:role/r"},
        ),
    ],
    ids=["notebook", "studio", "autopilot", "emr", "glue-dev"],
)
def test_always_on_and_unbounded_requests_refused(
    lab: Any, service: str, method: str, kwargs: dict[str, Any]
) -> None:
    client = lab.client(service)
    with pytest.raises(CostGuardError, match="always refuses"):
        getattr(client, method)(**copy.deepcopy(kwargs))
    if service == "sagemaker" and method == "create_notebook_instance":
        assert client.list_notebook_instances()["NotebookInstances"] == []


def test_gpu_allowed_when_lab_opts_in() -> None:
    from mllab import Lab

    with Lab("gpu-lab", allow_gpu=True, budget_usd=10) as gpu:
        sm = gpu.client("sagemaker")
        sm.create_training_job(**training(ResourceConfig__InstanceType="ml.g4dn.xlarge"))
        rows = gpu.ledger.rows(run=gpu.run_id)
        assert [r.resource for r in rows] == ["guarded"]
        assert rows[0].estimate_usd == pytest.approx(0.736 * 600 / 3600)
