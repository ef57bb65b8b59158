"""Production variants: weighted traffic split, TargetVariant, weight updates, per-variant metrics."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

try:
    from .test_hosting import FAKE_IMAGE, _endpoint, _model, _variant, fake_algo, upload_linear
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import FAKE_IMAGE, _endpoint, _model, _variant, fake_algo, upload_linear

__all__ = ["fake_algo"]


@pytest.fixture
def ab(lab: Any, fake_algo: Any) -> Any:
    from mllab.offline.sagemaker import hosting

    hosting.set_seed(1234)
    _model(lab, "a", upload_linear(lab, "a/model.tar.gz", [1, 0, 0, 0]), image=FAKE_IMAGE)
    _model(lab, "b", upload_linear(lab, "b/model.tar.gz", [0, 1, 0, 0]), image=FAKE_IMAGE)
    _endpoint(lab, "ab", [_variant("a", "VariantA", 0.8, n=2), _variant("b", "VariantB", 0.2)])
    yield lab
    hosting.set_seed(None)


def _sum(lab: Any, metric: str, variant: str, stat: str = "Sum") -> float:
    now = dt.datetime.now(dt.UTC)
    res = lab.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": "ab"},
            {"Name": "VariantName", "Value": variant},
        ],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(minutes=1),
        Period=3600,
        Statistics=[stat],
    )
    return sum(p[stat] for p in res["Datapoints"])


def test_split_follows_the_weights_and_metrics_count_it(ab: Any) -> None:
    rt = ab.client("sagemaker-runtime")
    n = 1000
    seen = Counter(
        rt.invoke_endpoint(EndpointName="ab", Body=b"0.1,0.2,0.3,0.4", ContentType="text/csv")[
            "InvokedProductionVariant"
        ]
        for _ in range(n)
    )
    # Binomial(1000, 0.8): mean 800, sd ~12.6; 4.5 sd bounds.
    sd = math.sqrt(n * 0.8 * 0.2)
    assert abs(seen["VariantA"] - 0.8 * n) < 4.5 * sd
    assert seen["VariantA"] + seen["VariantB"] == n

    assert _sum(ab, "Invocations", "VariantA") == seen["VariantA"]
    assert _sum(ab, "Invocations", "VariantB") == seen["VariantB"]
    # VariantA has 2 instances: InvocationsPerInstance is half its invocations
    assert _sum(ab, "InvocationsPerInstance", "VariantA") == pytest.approx(seen["VariantA"] / 2)
    assert _sum(ab, "Invocation4XXErrors", "VariantA") == 0
    assert _sum(ab, "ModelLatency", "VariantB", "Average") > 0
    assert _sum(ab, "OverheadLatency", "VariantB", "Average") >= 0


def test_target_variant_and_weight_updates(ab: Any) -> None:
    rt = ab.client("sagemaker-runtime")
    for _ in range(20):
        res = rt.invoke_endpoint(
            EndpointName="ab", Body=b"1,2,3,4", ContentType="text/csv", TargetVariant="VariantB"
        )
        assert res["InvokedProductionVariant"] == "VariantB"
    with pytest.raises(ClientError, match="Variant Nope not found"):
        rt.invoke_endpoint(
            EndpointName="ab", Body=b"1,2,3,4", ContentType="text/csv", TargetVariant="Nope"
        )

    sm = ab.client("sagemaker")
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ab",
        DesiredWeightsAndCapacities=[
            {"VariantName": "VariantA", "DesiredWeight": 0.0, "DesiredInstanceCount": 3}
        ],
    )
    desc = {
        v["VariantName"]: v for v in sm.describe_endpoint(EndpointName="ab")["ProductionVariants"]
    }
    assert desc["VariantA"]["CurrentWeight"] == 0.0 and desc["VariantA"]["DesiredWeight"] == 0.0
    assert desc["VariantA"]["CurrentInstanceCount"] == 3
    assert desc["VariantB"]["CurrentWeight"] == 0.2
    for _ in range(30):
        res = rt.invoke_endpoint(EndpointName="ab", Body=b"1,2,3,4", ContentType="text/csv")
        assert res["InvokedProductionVariant"] == "VariantB"
    with pytest.raises(ClientError, match="not present within endpoint configuration"):
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ab",
            DesiredWeightsAndCapacities=[{"VariantName": "C", "DesiredWeight": 1.0}],
        )


def test_model_errors_count_as_4xx(ab: Any) -> None:
    rt = ab.client("sagemaker-runtime")
    for _ in range(3):
        with pytest.raises(rt.exceptions.ModelError):
            rt.invoke_endpoint(
                EndpointName="ab", Body=b"x,y", ContentType="text/csv", TargetVariant="VariantA"
            )
    assert _sum(ab, "Invocation4XXErrors", "VariantA") == 3
    assert _sum(ab, "Invocation5XXErrors", "VariantA") == 0
