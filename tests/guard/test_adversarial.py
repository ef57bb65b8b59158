"""Adversarial requests a careless or curious learner could make: each is refused, or priced
within 20% of a hand-computed worst case (prices from pricing.json, us-east-1 on-demand).

Estimator-level cases run against a :class:`Policy` whose lookups answer from a dict (what
the lab's describe calls would return); the path, budget and teardown cases are in
``test_paths_and_budget.py``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mllab.guard import admission, pricing
from mllab.guard import estimate as e
from mllab.guard.estimate import Policy, Refusal

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/MLLabSageMakerExecutionRole"
M5L_TRAIN = pricing.hourly("training", "ml.m5.large") or 0.0
M5X_PROC = pricing.hourly("processing", "ml.m5.xlarge") or 0.0
M5L_PROC = pricing.hourly("processing", "ml.m5.large") or 0.0
M5L_HOST = pricing.hourly("hosting", "ml.m5.large") or 0.0


def policy(found: dict[tuple[str, str], Any] | None = None) -> Policy:
    """A policy whose lookup answers ``found[(kind, name)]``."""
    table = found or {}
    return Policy(lookup=lambda kind, name: table.get((kind, name)))


def training(**over: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "TrainingJobName": "adv",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    req.update(over)
    return req


def within(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= 0.2 * expected + 1e-12


# --------------------------------------------------------------------------- training fields

TRAINING_REFUSED = {
    "debug rule on gpu": training(
        DebugRuleConfigurations=[
            {
                "RuleConfigurationName": "r",
                "RuleEvaluatorImage": IMAGE,
                "InstanceType": "ml.p3.2xlarge",
            }
        ]
    ),
    "profiler rule on p4d": training(
        ProfilerRuleConfigurations=[
            {
                "RuleConfigurationName": "p",
                "RuleEvaluatorImage": IMAGE,
                "InstanceType": "ml.p4d.24xlarge",
            }
        ]
    ),
    "warm pool forever": training(
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
            "KeepAlivePeriodInSeconds": 10**7,
        }
    ),
    "warm pool negative": training(
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
            "KeepAlivePeriodInSeconds": -1,
        }
    ),
    "training plan": training(
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
            "TrainingPlanArn": "arn:aws:sagemaker:us-east-1:1:training-plan/x",
        }
    ),
    "retries 100": training(RetryStrategy={"MaximumRetryAttempts": 100}),
    "retries bool": training(RetryStrategy={"MaximumRetryAttempts": True}),
    "instance group gpu": training(
        ResourceConfig={
            "InstanceGroups": [
                {"InstanceType": "ml.g5.48xlarge", "InstanceCount": 1, "InstanceGroupName": "g"}
            ],
            "VolumeSizeInGB": 10,
        }
    ),
    "instance group 100": training(
        ResourceConfig={
            "InstanceGroups": [
                {"InstanceType": "ml.m5.large", "InstanceCount": 100, "InstanceGroupName": "g"}
            ],
            "VolumeSizeInGB": 10,
        }
    ),
    "mixed case type": training(
        ResourceConfig={"InstanceType": "ML.M5.LARGE", "InstanceCount": 1, "VolumeSizeInGB": 10}
    ),
    "padded type": training(
        ResourceConfig={"InstanceType": " ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10}
    ),
    "trainium": training(
        ResourceConfig={
            "InstanceType": "ml.trn1.32xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        }
    ),
    "inferentia": training(
        ResourceConfig={
            "InstanceType": "ml.inf2.48xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        }
    ),
    "float count": training(
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1.5, "VolumeSizeInGB": 10}
    ),
    "bool count": training(
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": True, "VolumeSizeInGB": 10}
    ),
    "runtime 5 days": training(StoppingCondition={"MaxRuntimeInSeconds": 5 * 86400}),
    "runtime string": training(StoppingCondition={"MaxRuntimeInSeconds": "3600"}),
    "no stopping": training(StoppingCondition=None),
    "spot no wait": training(EnableManagedSpotTraining=True),
}


@pytest.mark.parametrize("case", sorted(TRAINING_REFUSED))
def test_training_field_evasion_refused(case: str) -> None:
    with pytest.raises(Refusal):
        e.training_job(copy.deepcopy(TRAINING_REFUSED[case]), policy())


TRAINING_PRICED = {
    # case: (request, hand-computed worst case in dollars)
    "plain hour": (training(), M5L_TRAIN),
    "debug rule default type": (
        training(
            DebugRuleConfigurations=[{"RuleConfigurationName": "r", "RuleEvaluatorImage": IMAGE}]
        ),
        M5L_TRAIN + M5X_PROC,
    ),
    "two profiler rules": (
        training(
            ProfilerRuleConfigurations=[
                {
                    "RuleConfigurationName": "a",
                    "RuleEvaluatorImage": IMAGE,
                    "InstanceType": "ml.m5.large",
                },
                {
                    "RuleConfigurationName": "b",
                    "RuleEvaluatorImage": IMAGE,
                    "InstanceType": "ml.m5.large",
                },
            ]
        ),
        M5L_TRAIN + 2 * M5L_PROC,
    ),
    "warm pool hour": (
        training(
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
                "KeepAlivePeriodInSeconds": 3600,
            }
        ),
        2 * M5L_TRAIN,
    ),
    "three retries": (training(RetryStrategy={"MaximumRetryAttempts": 3}), 4 * M5L_TRAIN),
    "four instances": (
        training(
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 4, "VolumeSizeInGB": 10}
        ),
        4 * M5L_TRAIN,
    ),
    "spot priced on demand": (
        training(
            EnableManagedSpotTraining=True,
            StoppingCondition={"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        ),
        M5L_TRAIN,
    ),
    "instance groups summed": (
        training(
            ResourceConfig={
                "InstanceGroups": [
                    {"InstanceType": "ml.m5.large", "InstanceCount": 2, "InstanceGroupName": "a"},
                    {"InstanceType": "ml.m5.large", "InstanceCount": 1, "InstanceGroupName": "b"},
                ],
                "VolumeSizeInGB": 10,
            }
        ),
        3 * M5L_TRAIN,
    ),
}


@pytest.mark.parametrize("case", sorted(TRAINING_PRICED))
def test_training_fields_priced_within_20_percent(case: str) -> None:
    req, expected = TRAINING_PRICED[case]
    est = e.training_job(copy.deepcopy(req), policy())
    assert within(est.usd, expected), (est.usd, expected)


# --------------------------------------------------------------------------- tuning


def tuning(defn_over: dict[str, Any] | None = None, **cfg_over: Any) -> dict[str, Any]:
    defn = training()
    defn.pop("TrainingJobName")
    defn.update(defn_over or {})
    cfg = {
        "Strategy": "Random",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
    }
    cfg.update(cfg_over)
    return {
        "HyperParameterTuningJobName": "adv-hpo",
        "HyperParameterTuningJobConfig": cfg,
        "TrainingJobDefinition": defn,
    }


HTRC_P4D = {
    "InstanceConfigs": [
        {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
    ]
}

TUNING_REFUSED = {
    "resource config p4d": tuning(
        {"ResourceConfig": None, "HyperParameterTuningResourceConfig": HTRC_P4D}
    ),
    "resource config 50": tuning(
        {
            "ResourceConfig": None,
            "HyperParameterTuningResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 50,
            },
        }
    ),
    "autotune": {**tuning(), "Autotune": {"Mode": "Enabled"}},
    "no max jobs": tuning(ResourceLimits={"MaxParallelTrainingJobs": 1}),
    "definition debug gpu": tuning(
        {
            "DebugRuleConfigurations": [
                {
                    "RuleConfigurationName": "r",
                    "RuleEvaluatorImage": IMAGE,
                    "InstanceType": "ml.g4dn.xlarge",
                }
            ]
        }
    ),
    "definition retries": tuning({"RetryStrategy": {"MaximumRetryAttempts": 30}}),
}


@pytest.mark.parametrize("case", sorted(TUNING_REFUSED))
def test_tuning_field_evasion_refused(case: str) -> None:
    with pytest.raises(Refusal):
        e.tuning_job(copy.deepcopy(TUNING_REFUSED[case]), policy())


def test_tuning_priced_from_instance_configs_worst_type() -> None:
    htrc = {
        "InstanceConfigs": [
            {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 10},
        ]
    }
    req = tuning({"ResourceConfig": None, "HyperParameterTuningResourceConfig": htrc})
    m5x = pricing.hourly("training", "ml.m5.xlarge") or 0.0
    assert within(e.tuning_job(req, policy()).usd, 4 * 2 * m5x)


def test_tuning_retries_multiply_every_trial() -> None:
    req = tuning({"RetryStrategy": {"MaximumRetryAttempts": 1}})
    assert within(e.tuning_job(req, policy()).usd, 4 * 2 * M5L_TRAIN)


# --------------------------------------------------------------------------- hosting


def variant(**over: Any) -> dict[str, Any]:
    v = {
        "VariantName": "AllTraffic",
        "ModelName": "m",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    v.update(over)
    return v


HOSTING_REFUSED = {
    "managed scaling 100": {
        "ProductionVariants": [
            variant(
                ManagedInstanceScaling={
                    "Status": "ENABLED",
                    "MinInstanceCount": 1,
                    "MaxInstanceCount": 100,
                }
            )
        ]
    },
    "managed scaling no max": {
        "ProductionVariants": [variant(ManagedInstanceScaling={"Status": "ENABLED"})]
    },
    "shadow gpu": {
        "ProductionVariants": [variant()],
        "ShadowProductionVariants": [variant(VariantName="s", InstanceType="ml.g5.12xlarge")],
    },
    "serverless provisioned over max": {
        "ProductionVariants": [
            {
                "VariantName": "s",
                "ModelName": "m",
                "ServerlessConfig": {
                    "MemorySizeInMB": 2048,
                    "MaxConcurrency": 2,
                    "ProvisionedConcurrency": 50,
                },
            }
        ]
    },
    "no variants": {"ProductionVariants": []},
    "inferentia variant": {"ProductionVariants": [variant(InstanceType="ml.inf2.xlarge")]},
}


@pytest.mark.parametrize("case", sorted(HOSTING_REFUSED))
def test_endpoint_config_evasion_refused(case: str) -> None:
    with pytest.raises(Refusal):
        e.endpoint_config(copy.deepcopy(HOSTING_REFUSED[case]), policy())


def test_endpoint_priced_at_managed_scaling_max() -> None:
    cfg = {
        "ProductionVariants": [
            variant(
                ManagedInstanceScaling={
                    "Status": "ENABLED",
                    "MinInstanceCount": 1,
                    "MaxInstanceCount": 3,
                }
            )
        ]
    }
    est = e.endpoint(
        {"EndpointName": "ep", "EndpointConfigName": "c"}, policy({("endpoint_config", "c"): cfg})
    )
    assert within(est.usd, 3 * M5L_HOST)


def test_endpoint_with_missing_config_refused() -> None:
    with pytest.raises(Refusal, match="not found"):
        e.endpoint({"EndpointName": "ep", "EndpointConfigName": "missing"}, policy())


ENDPOINT_FOUND = {
    ("endpoint", "ep"): {"EndpointName": "ep", "EndpointConfigName": "c"},
    ("endpoint_config", "c"): {"ProductionVariants": [variant()]},
}

CAPACITY_REFUSED = {
    "weights 100": {
        "EndpointName": "ep",
        "DesiredWeightsAndCapacities": [{"VariantName": "AllTraffic", "DesiredInstanceCount": 100}],
    },
    "weights unknown variant": {
        "EndpointName": "ep",
        "DesiredWeightsAndCapacities": [{"VariantName": "nope", "DesiredInstanceCount": 1}],
    },
    "weights missing endpoint": {
        "EndpointName": "nope",
        "DesiredWeightsAndCapacities": [{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
    },
}


@pytest.mark.parametrize("case", sorted(CAPACITY_REFUSED))
def test_capacity_changes_refused(case: str) -> None:
    with pytest.raises(Refusal):
        e.update_endpoint_capacity(copy.deepcopy(CAPACITY_REFUSED[case]), policy(ENDPOINT_FOUND))


def test_capacity_change_priced() -> None:
    req = {
        "EndpointName": "ep",
        "DesiredWeightsAndCapacities": [{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    }
    assert within(e.update_endpoint_capacity(req, policy(ENDPOINT_FOUND)).usd, 3 * M5L_HOST)


SCALING_REFUSED = {
    "max 50": (
        "scalable_target",
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": "endpoint/ep/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 1,
            "MaxCapacity": 50,
        },
    ),
    "ecs namespace": (
        "scalable_target",
        {
            "ServiceNamespace": "ecs",
            "ResourceId": "service/c/s",
            "ScalableDimension": "ecs:service:DesiredCount",
            "MaxCapacity": 1,
        },
    ),
    "dynamodb namespace": (
        "scalable_target",
        {
            "ServiceNamespace": "dynamodb",
            "ResourceId": "table/t",
            "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
            "MaxCapacity": 40000,
        },
    ),
    "bad resource id": (
        "scalable_target",
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": "inference-component/x",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MaxCapacity": 2,
        },
    ),
    "missing endpoint": (
        "scalable_target",
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": "endpoint/nope/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MaxCapacity": 2,
        },
    ),
    "scheduled 100": (
        "scheduled_action",
        {
            "ServiceNamespace": "sagemaker",
            "ScheduledActionName": "x",
            "ResourceId": "endpoint/ep/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ScalableTargetAction": {"MaxCapacity": 100},
        },
    ),
    "scheduled ec2": (
        "scheduled_action",
        {
            "ServiceNamespace": "ec2",
            "ScheduledActionName": "x",
            "ResourceId": "spot-fleet-request/sfr",
            "ScalableDimension": "ec2:spot-fleet-request:TargetCapacity",
            "ScalableTargetAction": {"MaxCapacity": 1000},
        },
    ),
}


@pytest.mark.parametrize("case", sorted(SCALING_REFUSED))
def test_autoscaling_evasion_refused(case: str) -> None:
    fn, req = SCALING_REFUSED[case]
    with pytest.raises(Refusal):
        getattr(e, fn)(copy.deepcopy(req), policy(ENDPOINT_FOUND))


def test_scalable_target_priced_at_max_capacity() -> None:
    req = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 1,
        "MaxCapacity": 4,
    }
    assert within(e.scalable_target(req, policy(ENDPOINT_FOUND)).usd, 4 * M5L_HOST)


# --------------------------------------------------------------------------- monitoring

MON_DEF_P3 = {
    "MonitoringResources": {
        "ClusterConfig": {
            "InstanceType": "ml.p3.16xlarge",
            "InstanceCount": 100,
            "VolumeSizeInGB": 10,
        }
    },
    "MonitoringAppSpecification": {"ImageUri": IMAGE},
    "RoleArn": ROLE,
    "MonitoringOutputConfig": {"MonitoringOutputs": []},
}


@pytest.mark.parametrize("op", ["monitoring_schedule", "monitoring_schedule_update"])
def test_monitoring_schedule_to_100_p3_refused(op: str) -> None:
    req = {
        "MonitoringScheduleName": "m",
        "MonitoringScheduleConfig": {"MonitoringJobDefinition": MON_DEF_P3},
    }
    with pytest.raises(Refusal):
        getattr(e, op)(req, policy())


def test_monitoring_schedule_missing_definition_refused() -> None:
    req = {
        "MonitoringScheduleName": "m",
        "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": "gone"},
    }
    with pytest.raises(Refusal):
        e.monitoring_schedule(req, policy())


# --------------------------------------------------------------------------- pipelines


def step(name: str, kind: str = "Training", **args: Any) -> dict[str, Any]:
    if kind == "Training":
        body = training()
        body.pop("TrainingJobName")
        body.update(args)
        return {"Name": name, "Type": kind, "Arguments": body}
    return {"Name": name, "Type": kind, "Arguments": args}


def pipeline(*steps: dict[str, Any], params: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"Version": "2020-12-01", "Parameters": params or [], "Steps": list(steps)})


GPU_RC = {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 4, "VolumeSizeInGB": 10}

PIPELINES_REFUSED = {
    "foreach 100 x p4d": pipeline(
        {
            "Name": "each",
            "Type": "ForEach",
            "Arguments": {"Items": list(range(100)), "Steps": [step("t", ResourceConfig=GPU_RC)]},
        }
    ),
    "foreach 100 cheap": pipeline(
        {
            "Name": "each",
            "Type": "ForEach",
            "Arguments": {"Items": list(range(100)), "Steps": [step("t")]},
        }
    ),
    "foreach unbounded items": pipeline(
        {
            "Name": "each",
            "Type": "ForEach",
            "Arguments": {"Items": {"Get": "Steps.x.Properties.List"}, "Steps": [step("t")]},
        }
    ),
    "foreach body gpu": pipeline(
        {
            "Name": "each",
            "Type": "ForEach",
            "Arguments": {"Items": [1, 2], "Steps": [step("t", ResourceConfig=GPU_RC)]},
        }
    ),
    "condition else gpu": pipeline(
        {
            "Name": "c",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [],
                "IfSteps": [step("ok")],
                "ElseSteps": [step("gpu", ResourceConfig=GPU_RC)],
            },
        }
    ),
    "nested condition gpu": pipeline(
        {
            "Name": "c",
            "Type": "Condition",
            "Arguments": {
                "IfSteps": [
                    {
                        "Name": "c2",
                        "Type": "Condition",
                        "Arguments": {"IfSteps": [step("gpu", ResourceConfig=GPU_RC)]},
                    }
                ]
            },
        }
    ),
    "lambda step": pipeline(
        step("l", "Lambda", FunctionArn="arn:aws:lambda:us-east-1:1:function:f")
    ),
    "emr step": pipeline(step("emr", "EMR", ClusterId="j-1")),
    "callback step": pipeline(step("cb", "Callback", SqsQueueUrl="https://sqs")),
    "clarify step": pipeline(step("cl", "ClarifyCheck")),
    "quality step": pipeline(step("q", "QualityCheck")),
    "automl step": pipeline(step("a", "AutoML")),
    "notebook step": pipeline(step("n", "NotebookJob")),
    "unknown step": pipeline(step("x", "Teleport")),
    "parameter to gpu": pipeline(
        step(
            "t",
            ResourceConfig={
                "InstanceType": {"Get": "Parameters.T"},
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
        ),
        params=[{"Name": "T", "Type": "String", "DefaultValue": "ml.p3.8xlarge"}],
    ),
    "step runtime unbounded": pipeline(step("t", StoppingCondition={})),
    "not json": "{not json",
    "steps not a list": json.dumps({"Steps": {"a": 1}}),
}


@pytest.mark.parametrize("case", sorted(PIPELINES_REFUSED))
def test_pipeline_definitions_refused_at_create(case: str) -> None:
    with pytest.raises(Refusal):
        e.pipeline_definition(
            {"PipelineName": "p", "PipelineDefinition": PIPELINES_REFUSED[case]}, policy()
        )


def test_pipeline_definition_in_s3_refused() -> None:
    with pytest.raises(Refusal, match="S3"):
        e.pipeline_definition(
            {
                "PipelineName": "p",
                "PipelineDefinitionS3Location": {"Bucket": "b", "ObjectKey": "k"},
            },
            policy(),
        )


@pytest.mark.parametrize("case", ["not json", "lambda step", "foreach 100 cheap"])
def test_pipeline_execution_never_priced_zero(case: str) -> None:
    found = {("pipeline", "p"): {"PipelineDefinition": PIPELINES_REFUSED[case]}}
    with pytest.raises(Refusal):
        e.pipeline_execution({"PipelineName": "p"}, policy(found))


def test_pipeline_execution_of_missing_pipeline_refused() -> None:
    with pytest.raises(Refusal, match="not found"):
        e.pipeline_execution({"PipelineName": "gone"}, policy())


def test_pipeline_execution_override_to_gpu_refused() -> None:
    d = pipeline(
        step(
            "t",
            ResourceConfig={
                "InstanceType": {"Get": "Parameters.T"},
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
        ),
        params=[{"Name": "T", "Type": "String", "DefaultValue": "ml.m5.large"}],
    )
    found = {("pipeline", "p"): {"PipelineDefinition": d}}
    with pytest.raises(Refusal):
        e.pipeline_execution(
            {"PipelineName": "p", "PipelineParameters": [{"Name": "T", "Value": "ml.p3.2xlarge"}]},
            policy(found),
        )


PIPELINES_PRICED = {
    "one step": (pipeline(step("t")), M5L_TRAIN),
    "both branches": (
        pipeline(
            {
                "Name": "c",
                "Type": "Condition",
                "Arguments": {"IfSteps": [step("a")], "ElseSteps": [step("b")]},
            }
        ),
        2 * M5L_TRAIN,
    ),
    "foreach three": (
        pipeline(
            {
                "Name": "f",
                "Type": "ForEach",
                "Arguments": {"Items": [1, 2, 3], "Steps": [step("t")]},
            }
        ),
        3 * M5L_TRAIN,
    ),
    "model and register free": (
        pipeline(step("t"), step("m", "Model"), step("r", "RegisterModel"), step("f", "Fail")),
        M5L_TRAIN,
    ),
}


@pytest.mark.parametrize("case", sorted(PIPELINES_PRICED))
def test_pipeline_execution_priced_within_20_percent(case: str) -> None:
    d, expected = PIPELINES_PRICED[case]
    est = e.pipeline_execution(
        {"PipelineName": "p"}, policy({("pipeline", "p"): {"PipelineDefinition": d}})
    )
    assert within(est.usd, expected), (est.usd, expected)


# --------------------------------------------------------------------------- Glue, Kinesis, S3, KMS, alarms, VPC

GLUE_JOB = {"Name": "j", "Timeout": 30, "WorkerType": "G.1X", "NumberOfWorkers": 2}

GLUE_REFUSED = {
    "allocated 800": {"JobName": "j", "AllocatedCapacity": 800},
    "max capacity 800": {"JobName": "j", "MaxCapacity": 800.0},
    "workers 400": {"JobName": "j", "NumberOfWorkers": 400},
    "worker type G.8X x 10": {"JobName": "j", "WorkerType": "G.8X", "NumberOfWorkers": 10},
    "unknown worker": {"JobName": "j", "WorkerType": "Z.99X"},
    "timeout default 2880": {"JobName": "bare"},
    "timeout 10000": {"JobName": "j", "Timeout": 10000},
    "nan capacity": {"JobName": "j", "MaxCapacity": float("nan")},
    "missing job (other region)": {"JobName": "elsewhere"},
}


@pytest.mark.parametrize("case", sorted(GLUE_REFUSED))
def test_glue_job_run_evasion_refused(case: str) -> None:
    found = {("glue_job", "j"): GLUE_JOB, ("glue_job", "bare"): {"Name": "bare"}}
    with pytest.raises(Refusal):
        e.glue_job_run(copy.deepcopy(GLUE_REFUSED[case]), policy(found))


def test_glue_job_run_priced() -> None:
    est = e.glue_job_run({"JobName": "j"}, policy({("glue_job", "j"): GLUE_JOB}))
    assert within(est.usd, 2 * 0.5 * pricing.price("glue_usd_per_dpu_hour"))


@pytest.mark.parametrize("schedule", ["cron(0 * * * ? *)", "rate(1 minute)"])
def test_glue_crawler_schedule_refused(schedule: str) -> None:
    with pytest.raises(Refusal, match="Schedule"):
        e.glue_crawler_definition(
            {"Name": "c", "Role": ROLE, "Targets": {}, "Schedule": schedule}, policy()
        )


def test_kinesis_split_beyond_bound_refused() -> None:
    found = {("stream", "s"): {"OpenShardCount": 10}}
    with pytest.raises(Refusal):
        e.kinesis_split_shard(
            {"StreamName": "s", "ShardToSplit": "x", "NewStartingHashKey": "1"}, policy(found)
        )


def test_kinesis_split_of_missing_stream_refused() -> None:
    with pytest.raises(Refusal):
        e.kinesis_split_shard(
            {"StreamName": "gone", "ShardToSplit": "x", "NewStartingHashKey": "1"}, policy()
        )


@pytest.mark.parametrize("shards", [0, 11, 1000, -1])
def test_kinesis_shard_counts_refused(shards: int) -> None:
    with pytest.raises(Refusal):
        e.kinesis_stream({"StreamName": "s", "ShardCount": shards}, policy())


def test_kinesis_on_demand_mode_priced() -> None:
    est = e.kinesis_stream_mode(
        {
            "StreamARN": "arn:aws:kinesis:us-east-1:1:stream/s",
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        },
        policy(),
    )
    assert within(est.usd, pricing.price("kinesis_on_demand_usd_per_stream_hour"))


def test_s3_select_priced_from_object_size() -> None:
    est = e.s3_select(
        {"Bucket": "b", "Key": "k"}, policy({("s3_object", "b/k"): {"ContentLength": 10**9}})
    )
    assert within(est.usd, 0.0027)


def test_s3_select_missing_object_refused() -> None:
    with pytest.raises(Refusal):
        e.s3_select({"Bucket": "b", "Key": "gone"}, policy())


def test_kms_multi_region_refused_and_key_priced() -> None:
    with pytest.raises(Refusal):
        e.kms_key({"MultiRegion": True}, policy())
    assert within(e.kms_key({}, policy()).usd, 1.0 / 730)


@pytest.mark.parametrize(
    "action",
    [
        "arn:aws:automate:us-east-1:ec2:terminate",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:ssm:us-east-1:123456789012:opsitem:3",
    ],
)
def test_alarm_actions_that_launch_refused(action: str) -> None:
    with pytest.raises(Refusal):
        e.metric_alarm({"AlarmName": "a", "AlarmActions": [action]}, policy())


@pytest.mark.parametrize("subnets", [4, 10])
def test_interface_endpoint_across_many_subnets_refused(subnets: int) -> None:
    req = {
        "VpcId": "vpc-1",
        "ServiceName": "com.amazonaws.us-east-1.sagemaker.api",
        "VpcEndpointType": "Interface",
        "SubnetIds": [f"subnet-{i}" for i in range(subnets)],
    }
    with pytest.raises(Refusal):
        e.vpc_endpoint(req, policy())


def test_interface_endpoint_priced_per_az_hour() -> None:
    req = {
        "VpcId": "vpc-1",
        "ServiceName": "x",
        "VpcEndpointType": "Interface",
        "SubnetIds": ["a", "b"],
    }
    assert within(e.vpc_endpoint(req, policy()).usd, 2 * 0.01)


def test_gateway_load_balancer_endpoint_refused() -> None:
    with pytest.raises(Refusal):
        e.vpc_endpoint(
            {"VpcId": "v", "ServiceName": "x", "VpcEndpointType": "GatewayLoadBalancer"}, policy()
        )


# --------------------------------------------------------------------------- knobs


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), 10_000, True])
def test_policy_ttl_validated(ttl: Any) -> None:
    with pytest.raises(ValueError):
        Policy(ttl_hours=ttl)


def test_declared_billable_families_are_in_the_table() -> None:
    admission.load_all()
    for op in (
        ("sagemaker", "UpdateEndpointWeightsAndCapacities"),
        ("sagemaker", "UpdateTrainingJob"),
        ("sagemaker", "UpdateMonitoringSchedule"),
        ("application-auto-scaling", "RegisterScalableTarget"),
        ("application-auto-scaling", "PutScheduledAction"),
        ("kinesis", "SplitShard"),
        ("glue", "CreateCrawler"),
    ):
        decl = admission.classify(*op)
        assert decl is not None and decl.kind == "billable", op
