"""Offline Clarify: bias metrics equal hand computation; the processing job writes analysis.json."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

from tests.hang import HANG_GUARD_S

try:
    from .test_hosting import FAKE_IMAGE, fake_algo, upload_linear
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import FAKE_IMAGE, fake_algo, upload_linear

__all__ = ["fake_algo"]

CLARIFY = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"

# 4 women (1 positive label), 6 men (4 positive labels); the sensitive facet d is F.
TABLE = pd.DataFrame(
    {
        "sex": ["F", "F", "F", "F", "M", "M", "M", "M", "M", "M"],
        "y": [1, 0, 0, 0, 1, 1, 1, 0, 0, 1],
        "pred": [1, 0, 0, 1, 1, 1, 0, 0, 1, 1],
    }
)


def _kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def _expected_pre() -> dict[str, float]:
    na, nd = 6, 4
    pa = [2 / 6, 4 / 6]  # P(y=0), P(y=1) among men
    pd_ = [3 / 4, 1 / 4]  # among women
    mid = [(a + b) / 2 for a, b in zip(pa, pd_, strict=True)]
    return {
        "CI": (na - nd) / (na + nd),
        "DPL": 4 / 6 - 1 / 4,
        "KL": _kl(pa, pd_),
        "JS": 0.5 * (_kl(pa, mid) + _kl(pd_, mid)),
        "LP": math.sqrt(sum((a - b) ** 2 for a, b in zip(pa, pd_, strict=True))),
        "TVD": 0.5 * sum(abs(a - b) for a, b in zip(pa, pd_, strict=True)),
        "KS": max(abs(a - b) for a, b in zip(pa, pd_, strict=True)),
    }


def _expected_post() -> dict[str, float]:
    return {
        "DPPL": 4 / 6 - 2 / 4,
        "DI": (2 / 4) / (4 / 6),
        "AD": 4 / 6 - 3 / 4,
        "RD": 3 / 4 - 1 / 1,
    }


def test_pre_training_metrics_equal_hand_computation() -> None:
    from mllab.offline.sagemaker import clarify

    got = clarify.pre_training_bias(TABLE, "y", 1, "sex", "F")
    assert set(got) == set(_expected_pre())  # CDDL needs a group variable
    for name, value in _expected_pre().items():
        assert got[name] == pytest.approx(value), name
    assert got["CI"] == pytest.approx(0.2)
    assert got["DPL"] == pytest.approx(5 / 12)


def test_post_training_metrics_equal_hand_computation() -> None:
    from mllab.offline.sagemaker import clarify

    got = clarify.post_training_bias(TABLE, "y", [1], "sex", ["F"], "pred")
    for name, value in _expected_post().items():
        assert got[name] == pytest.approx(value), name
    assert got["DI"] == pytest.approx(0.75)


def test_cddl_and_thresholds() -> None:
    from mllab.offline.sagemaker import clarify

    df = TABLE.assign(dept=["a", "a", "b", "b", "a", "a", "a", "b", "b", "b"])
    got = clarify.pre_training_bias(df, "y", 1, "sex", "F", methods=["CDDL"], group_variable="dept")
    # dept a: rejected {F}, accepted {F, M, M, M} -> DD = 1/1 - 1/4; dept b: rejected {F, F, M, M},
    # accepted {M} -> DD = 2/4 - 0/1; CDD = (5 * 0.75 + 5 * 0.5) / 10
    assert got == {"CDDL": pytest.approx((5 * 0.75 + 5 * 0.5) / 10)}
    ages = pd.DataFrame({"age": list(range(20, 80, 5)), "y": [0, 1] * 6})
    got = clarify.pre_training_bias(ages, "y", 1, "age", 50, methods=["CI"])
    older = sum(a > 50 for a in ages["age"])
    assert got["CI"] == pytest.approx(((12 - older) - older) / 12)


def _wait_job(sm: Any, name: str, timeout: float = HANG_GUARD_S) -> None:
    """Poll DescribeProcessingJob until the job ends (any end: Completed, Failed, Stopped)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
        if status in {"Completed", "Failed", "Stopped"}:
            return
        time.sleep(0.2)
    raise AssertionError(f"hang guard: processing job {name} did not end within {timeout:.0f} s")


def _job(lab: Any, name: str, config: dict[str, Any], data: pd.DataFrame) -> dict[str, Any]:
    s3 = lab.client("s3")
    s3.put_object(
        Bucket=lab.bucket, Key=f"{name}/data/train.csv", Body=data.to_csv(header=False, index=False)
    )
    s3.put_object(
        Bucket=lab.bucket, Key=f"{name}/config/analysis_config.json", Body=json.dumps(config)
    )
    sm = lab.client("sagemaker")

    def s3_input(input_name: str, key: str, local: str) -> dict[str, Any]:
        return {
            "InputName": input_name,
            "S3Input": {
                "S3Uri": f"s3://{lab.bucket}/{key}",
                "LocalPath": local,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }

    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=lab.role_arn,
        AppSpecification={"ImageUri": CLARIFY},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 10,
            }
        },
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        ProcessingInputs=[
            s3_input("dataset", f"{name}/data/train.csv", "/opt/ml/processing/input/data"),
            s3_input(
                "analysis_config",
                f"{name}/config/analysis_config.json",
                "/opt/ml/processing/input/config",
            ),
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "analysis_result",
                    "S3Output": {
                        "S3Uri": f"s3://{lab.bucket}/{name}/out",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    _wait_job(sm, name)
    desc = sm.describe_processing_job(ProcessingJobName=name)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    body = s3.get_object(Bucket=lab.bucket, Key=f"{name}/out/analysis.json")["Body"].read()
    return dict(json.loads(body))


def _metrics(section: dict[str, Any], facet: str = "sex") -> dict[str, float]:
    [entry] = section["facets"][facet]
    return {m["name"]: m["value"] for m in entry["metrics"]}


def test_clarify_processing_job_writes_analysis_json(lab: Any) -> None:
    config = {
        "dataset_type": "text/csv",
        "headers": ["sex", "y", "pred"],
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "sex", "value_or_threshold": ["F"]}],
        "predicted_label": "pred",
        "methods": {
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": ["DPPL", "DI"]},
            "report": {"name": "report", "title": "Bias report"},
        },
    }
    analysis = _job(lab, "clarify-1", config, TABLE)
    pre = analysis["pre_training_bias_metrics"]
    assert pre["label"] == "y"
    assert pre["facets"]["sex"][0]["value_or_threshold"] == "F"
    got = _metrics(pre)
    for name, value in _expected_pre().items():
        assert got[name] == pytest.approx(value), name
    entry = pre["facets"]["sex"][0]["metrics"][0]
    assert set(entry) == {"name", "description", "value"}
    assert entry["description"] == "Class Imbalance (CI)"
    post = _metrics(analysis["post_training_bias_metrics"])
    assert post == {"DPPL": pytest.approx(1 / 6), "DI": pytest.approx(0.75)}
    report = (
        lab.client("s3")
        .get_object(Bucket=lab.bucket, Key="clarify-1/out/report.html")["Body"]
        .read()
    )
    assert b"Class Imbalance (CI)" in report


def test_post_training_bias_from_the_models_predictions(lab: Any, fake_algo: Any) -> None:
    # the model predicts the "p" column: score = 0 * sex + 1 * p
    data = pd.DataFrame(
        {"sex": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1], "y": TABLE["y"], "p": TABLE["pred"]}
    )
    lab.client("sagemaker").create_model(
        ModelName="lin",
        ExecutionRoleArn=lab.role_arn,
        PrimaryContainer={
            "Image": FAKE_IMAGE,
            "ModelDataUrl": upload_linear(lab, "lin/model.tar.gz", [0.0, 1.0]),
        },
    )
    config = {
        "dataset_type": "text/csv",
        "headers": ["sex", "y", "p"],
        "label": "y",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "sex", "value_or_threshold": [0]}],
        "methods": {"post_training_bias": {"methods": "all"}},
        "predictor": {
            "model_name": "lin",
            "instance_type": "ml.m5.large",
            "initial_instance_count": 1,
            "accept_type": "text/csv",
        },
    }
    analysis = _job(lab, "clarify-2", config, data)
    got = _metrics(analysis["post_training_bias_metrics"])
    for name, value in _expected_post().items():
        assert got[name] == pytest.approx(value), name


def test_clarify_job_fails_with_a_reason(lab: Any) -> None:
    config = {
        "dataset_type": "text/csv",
        "headers": ["sex", "y", "pred"],
        "label": "nope",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "sex"}],
        "methods": {"pre_training_bias": {"methods": "all"}},
    }
    with pytest.raises(AssertionError, match="column 'nope' is not in the dataset's headers"):
        _job(lab, "clarify-3", config, TABLE)
