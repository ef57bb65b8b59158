"""Offline SageMaker Pipelines: process -> train -> evaluate -> condition -> register, for real."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from mllab.guard.errors import CostGuardError

XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PREP = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mllab-test-prep:1"
EVAL = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mllab-test-eval:1"
RES = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}}


def _prep(ctx: Any) -> None:
    """Split the raw CSV (header, label ``y``) into label-first headerless train/validation."""
    src = next(ctx.local("/opt/ml/processing/raw").glob("*.csv"))
    df = pd.read_csv(src)
    df = df[["y"] + [c for c in df.columns if c != "y"]]
    for name, part in (("train", df.iloc[:240]), ("validation", df.iloc[240:])):
        out = ctx.local(f"/opt/ml/processing/{name}")
        out.mkdir(parents=True, exist_ok=True)
        part.to_csv(out / f"{name}.csv", header=False, index=False)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula."""
    ranks = pd.Series(score).rank().to_numpy()
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _evaluate(ctx: Any) -> None:
    """Compute the model's AUC on the validation split; write evaluation.json."""
    import xgboost as xgb

    tar = next(ctx.local("/opt/ml/processing/model").glob("*.tar.gz"))
    with tarfile.open(tar) as t:
        raw = t.extractfile("xgboost-model").read()  # type: ignore[union-attr]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    val = pd.read_csv(next(ctx.local("/opt/ml/processing/validation").glob("*.csv")), header=None)
    pred = booster.predict(xgb.DMatrix(val.iloc[:, 1:].to_numpy()))
    auc = _auc(val.iloc[:, 0].to_numpy(), pred)
    out = ctx.local("/opt/ml/processing/evaluation")
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps({"metrics": {"auc": {"value": auc}}}))


@pytest.fixture
def images() -> Iterator[None]:
    from mllab.offline.sagemaker import monitor

    undo = [
        monitor.register_processing_image("mllab-test-prep", _prep),
        monitor.register_processing_image("mllab-test-eval", _evaluate),
    ]
    yield
    for u in undo:
        u()


def _raw(lab: Any) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=300) > 0).astype(int)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y)
    lab.client("s3").put_object(Bucket=lab.bucket, Key="raw/data.csv", Body=df.to_csv(index=False))
    return f"s3://{lab.bucket}/raw/"


def _get(ref: str) -> dict[str, str]:
    return {"Get": ref}


def _definition(lab: Any) -> dict[str, Any]:
    b = lab.bucket
    out = lambda name: {  # noqa: E731
        "OutputName": name,
        "S3Output": {
            "S3Uri": {
                "Std:Join": {
                    "On": "/",
                    "Values": [f"s3://{b}/pipe", _get("Execution.PipelineExecutionId"), name],
                }
            },
            "LocalPath": f"/opt/ml/processing/{name}",
            "S3UploadMode": "EndOfJob",
        },
    }
    inp = lambda name, uri: {  # noqa: E731
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": f"/opt/ml/processing/{name}",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
        },
    }
    chan = lambda name: {  # noqa: E731
        "ChannelName": name,
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": _get(
                    f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"
                ),
            }
        },
    }
    common = {
        "RoleArn": lab.role_arn,
        "ProcessingResources": RES,
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "InputData", "Type": "String", "DefaultValue": f"s3://{b}/raw/"},
            {"Name": "AucThreshold", "Type": "Float", "DefaultValue": 0.7},
            {"Name": "Rounds", "Type": "Integer", "DefaultValue": 20},
            {"Name": "ApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
        ],
        "Steps": [
            {
                "Name": "Preprocess",
                "Type": "Processing",
                "Arguments": {
                    **common,
                    "AppSpecification": {"ImageUri": PREP},
                    "ProcessingInputs": [inp("raw", _get("Parameters.InputData"))],
                    "ProcessingOutputConfig": {"Outputs": [out("train"), out("validation")]},
                },
            },
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
                    "HyperParameters": {
                        "objective": "binary:logistic",
                        "num_round": {
                            "Std:Join": {"On": "", "Values": [_get("Parameters.Rounds")]}
                        },
                        "max_depth": "3",
                        "eval_metric": "auc",
                    },
                    "InputDataConfig": [chan("train"), chan("validation")],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{b}/models"},
                    "ResourceConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 10,
                    },
                    "RoleArn": lab.role_arn,
                    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
                },
            },
            {
                "Name": "Evaluate",
                "Type": "Processing",
                "Arguments": {
                    **common,
                    "AppSpecification": {"ImageUri": EVAL},
                    "ProcessingInputs": [
                        inp("model", _get("Steps.Train.ModelArtifacts.S3ModelArtifacts")),
                        inp(
                            "validation",
                            _get(
                                "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"
                            ),
                        ),
                    ],
                    "ProcessingOutputConfig": {"Outputs": [out("evaluation")]},
                },
                "PropertyFiles": [
                    {
                        "PropertyFileName": "EvaluationReport",
                        "OutputName": "evaluation",
                        "FilePath": "evaluation.json",
                    }
                ],
            },
            {
                "Name": "CheckAUC",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {
                                "Std:JsonGet": {
                                    "PropertyFile": _get(
                                        "Steps.Evaluate.PropertyFiles.EvaluationReport"
                                    ),
                                    "Path": "metrics.auc.value",
                                }
                            },
                            "RightValue": _get("Parameters.AucThreshold"),
                        }
                    ],
                    "IfSteps": [
                        {
                            "Name": "Register",
                            "Type": "RegisterModel",
                            "Arguments": {
                                "ModelPackageGroupName": "churn",
                                "ModelApprovalStatus": _get("Parameters.ApprovalStatus"),
                                "InferenceSpecification": {
                                    "Containers": [
                                        {
                                            "Image": XGB,
                                            "ModelDataUrl": _get(
                                                "Steps.Train.ModelArtifacts.S3ModelArtifacts"
                                            ),
                                        }
                                    ],
                                    "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"],
                                },
                                "ModelMetrics": {
                                    "ModelQuality": {
                                        "Statistics": {
                                            "ContentType": "application/json",
                                            "S3Uri": {
                                                "Std:Join": {
                                                    "On": "/",
                                                    "Values": [
                                                        _get(
                                                            "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
                                                        ),
                                                        "evaluation.json",
                                                    ],
                                                }
                                            },
                                        }
                                    }
                                },
                            },
                        }
                    ],
                    "ElseSteps": [
                        {
                            "Name": "AucTooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": [
                                            "AUC below threshold",
                                            _get("Parameters.AucThreshold"),
                                        ],
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        ],
    }


def _steps(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in steps}


def _wait(sm: Any, arn: str) -> dict[str, Any]:
    from mllab.offline.sagemaker import pipelines

    assert pipelines.wait(arn, 300)
    return dict(sm.describe_pipeline_execution(PipelineExecutionArn=arn))


def test_pipeline_runs_the_dag_and_registers_the_model(lab: Any, images: None) -> None:
    _raw(lab)
    sm = lab.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    sm.create_pipeline(
        PipelineName="churn-pipe",
        PipelineDefinition=json.dumps(_definition(lab)),
        RoleArn=lab.role_arn,
    )
    arn = sm.start_pipeline_execution(PipelineName="churn-pipe")["PipelineExecutionArn"]
    desc = _wait(sm, arn)
    steps = _steps(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", (desc, steps)
    assert {k: v["StepStatus"] for k, v in steps.items()} == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckAUC": "Succeeded",
        "Register": "Succeeded",
    }
    assert steps["CheckAUC"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    train_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    train = sm.describe_training_job(TrainingJobName=train_arn.rsplit("/", 1)[-1])
    assert train["TrainingJobStatus"] == "Completed"
    # property references resolved: the training channel is the preprocessing output
    exec_id = arn.rsplit("/", 1)[-1]
    assert (
        train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        == f"s3://{lab.bucket}/pipe/{exec_id}/train"
    )
    assert train["HyperParameters"]["num_round"] == "20"
    pkg_arn = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    pkg = sm.describe_model_package(ModelPackageName=pkg_arn)
    assert pkg["ModelApprovalStatus"] == "PendingManualApproval"
    assert (
        pkg["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        == train["ModelArtifacts"]["S3ModelArtifacts"]
    )
    metrics_uri = pkg["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert metrics_uri == f"s3://{lab.bucket}/pipe/{exec_id}/evaluation/evaluation.json"
    report = json.loads(
        lab.client("s3")
        .get_object(Bucket=lab.bucket, Key=f"pipe/{exec_id}/evaluation/evaluation.json")["Body"]
        .read()
    )
    assert report["metrics"]["auc"]["value"] > 0.8
    order = sorted(steps.values(), key=lambda s: s["StartTime"])
    assert [s["StepName"] for s in order] == [
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckAUC",
        "Register",
    ]
    assert all(s["EndTime"] >= s["StartTime"] for s in order)

    # the failing path: a threshold no model reaches goes to the Fail step
    arn2 = sm.start_pipeline_execution(
        PipelineName="churn-pipe",
        PipelineParameters=[{"Name": "AucThreshold", "Value": "1.01"}],
    )["PipelineExecutionArn"]
    desc2 = _wait(sm, arn2)
    steps2 = _steps(sm, arn2)
    assert desc2["PipelineExecutionStatus"] == "Failed"
    assert desc2["FailureReason"] == "AUC below threshold 1.01"
    assert steps2["CheckAUC"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps2["AucTooLow"]["StepStatus"] == "Failed"
    assert steps2["AucTooLow"]["FailureReason"] == "AUC below threshold 1.01"
    assert "Register" not in steps2
    listed = sm.list_pipeline_executions(PipelineName="churn-pipe")["PipelineExecutionSummaries"]
    assert {e["PipelineExecutionArn"]: e["PipelineExecutionStatus"] for e in listed} == {
        arn: "Succeeded",
        arn2: "Failed",
    }
    assert (
        len(sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]) == 1
    )


def test_guard_refuses_a_pipeline_whose_steps_it_would_refuse(lab: Any) -> None:
    """On AWS the Pipelines service starts the steps' jobs, out of the guard's sight; so the
    guard reads the definition at CreatePipeline and prices every execution at its start."""
    from mllab import CostGuardError

    sm = lab.client("sagemaker")

    def definition(instance: Any) -> dict[str, Any]:
        return {
            "Version": "2020-12-01",
            "Parameters": [
                {"Name": "TrainInstance", "Type": "String", "DefaultValue": "ml.m5.large"}
            ],
            "Steps": [
                {
                    "Name": "BigTrain",
                    "Type": "Training",
                    "Arguments": {
                        "AlgorithmSpecification": {
                            "TrainingImage": XGB,
                            "TrainingInputMode": "File",
                        },
                        "HyperParameters": {"num_round": "5"},
                        "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/m"},
                        "ResourceConfig": {
                            "InstanceCount": 1,
                            "InstanceType": instance,
                            "VolumeSizeInGB": 10,
                        },
                        "RoleArn": lab.role_arn,
                        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
                    },
                }
            ],
        }

    with pytest.raises(CostGuardError) as err:
        sm.create_pipeline(
            PipelineName="big",
            PipelineDefinition=json.dumps(definition("ml.p4d.24xlarge")),
            RoleArn=lab.role_arn,
        )
    assert "pipeline step 'BigTrain'" in str(err.value) and "ml.p4d.24xlarge" in str(err.value)
    assert sm.list_pipelines()["PipelineSummaries"] == []

    param = {"Get": "Parameters.TrainInstance"}
    sm.create_pipeline(
        PipelineName="big", PipelineDefinition=json.dumps(definition(param)), RoleArn=lab.role_arn
    )
    with pytest.raises(CostGuardError, match="ml.p3.2xlarge"):
        sm.start_pipeline_execution(
            PipelineName="big",
            PipelineParameters=[{"Name": "TrainInstance", "Value": "ml.p3.2xlarge"}],
        )
    assert sm.list_pipeline_executions(PipelineName="big")["PipelineExecutionSummaries"] == []
    row_count = len(lab.ledger.rows(run=lab.run_id))
    arn = sm.start_pipeline_execution(PipelineName="big")["PipelineExecutionArn"]
    rows = lab.ledger.rows(run=lab.run_id)[row_count:]
    assert [(r.operation, r.resource) for r in rows] == [("StartPipelineExecution", "big")]
    assert rows[0].estimate_usd == pytest.approx(0.115 * 600 / 3600)
    _wait(sm, arn)
    # the step's training job was started on the pipeline's behalf: no second ledger row
    assert [r.operation for r in lab.ledger.rows(run=lab.run_id)[row_count:]] == [
        "StartPipelineExecution"
    ]


def test_parameters_are_checked_and_definitions_validated(lab: Any) -> None:
    sm = lab.client("sagemaker")
    # a definition the guard cannot parse cannot be priced: refused before it is sent
    with pytest.raises(CostGuardError, match="definition cannot be parsed"):
        sm.create_pipeline(PipelineName="bad", PipelineDefinition="{not json", RoleArn=lab.role_arn)
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "N", "Type": "Integer", "DefaultValue": 3}],
        "Steps": [
            {
                "Name": "Stop",
                "Type": "Fail",
                "Arguments": {
                    "ErrorMessage": {"Std:Join": {"On": "=", "Values": ["n", _get("Parameters.N")]}}
                },
            }
        ],
    }
    sm.create_pipeline(
        PipelineName="p", PipelineDefinition=json.dumps(definition), RoleArn=lab.role_arn
    )
    with pytest.raises(ClientError):
        sm.start_pipeline_execution(
            PipelineName="p", PipelineParameters=[{"Name": "M", "Value": "1"}]
        )
    with pytest.raises(ClientError):
        sm.start_pipeline_execution(
            PipelineName="p", PipelineParameters=[{"Name": "N", "Value": "x"}]
        )
    arn = sm.start_pipeline_execution(
        PipelineName="p", PipelineParameters=[{"Name": "N", "Value": "7"}]
    )["PipelineExecutionArn"]
    desc = _wait(sm, arn)
    assert desc["FailureReason"] == "n=7"
    with pytest.raises(ClientError):
        sm.stop_pipeline_execution(PipelineExecutionArn=arn)


def test_update_pipeline_moves_last_modified_time(lab: Any) -> None:
    sm = lab.client("sagemaker")
    fail = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "stop"}}
    definition = {"Version": "2020-12-01", "Parameters": [], "Steps": [fail]}
    sm.create_pipeline(
        PipelineName="moved", PipelineDefinition=json.dumps(definition), RoleArn=lab.role_arn
    )
    before = sm.describe_pipeline(PipelineName="moved")
    assert before["LastModifiedTime"] == before["CreationTime"]
    fail["Arguments"]["ErrorMessage"] = "stop again"
    sm.update_pipeline(PipelineName="moved", PipelineDefinition=json.dumps(definition))
    after = sm.describe_pipeline(PipelineName="moved")
    assert after["LastModifiedTime"] >= before["LastModifiedTime"]
    assert after["LastModifiedTime"] > after["CreationTime"]
    assert json.loads(after["PipelineDefinition"])["Steps"][0]["Arguments"]["ErrorMessage"] == (
        "stop again"
    )
