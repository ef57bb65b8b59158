"""Application Auto Scaling of endpoint variants, and the target-tracking simulation."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.guard.errors import CostGuardError

try:
    from .test_hosting import FAKE_IMAGE, _endpoint, _model, _variant, fake_algo, upload_linear
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import FAKE_IMAGE, _endpoint, _model, _variant, fake_algo, upload_linear

__all__ = ["fake_algo"]

RESOURCE = "endpoint/scale/variant/AllTraffic"
DIM = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture
def scaled(lab: Any, fake_algo: Any) -> Any:
    _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [1.0]), image=FAKE_IMAGE)
    _endpoint(lab, "scale", [_variant("m", n=1)])
    aas = lab.client("application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE,
        ScalableDimension=DIM,
        MinCapacity=1,
        MaxCapacity=4,
    )
    aas.put_scaling_policy(
        PolicyName="ipi",
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE,
        ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 20.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    )
    return lab


def test_target_and_policy_are_visible(scaled: Any) -> None:
    aas = scaled.client("application-autoscaling")
    t = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[RESOURCE])[
        "ScalableTargets"
    ][0]
    assert (t["MinCapacity"], t["MaxCapacity"], t["ScalableDimension"]) == (1, 4, DIM)
    p = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RESOURCE)[
        "ScalingPolicies"
    ][0]
    spec = p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_registration_is_validated(scaled: Any) -> None:
    aas = scaled.client("application-autoscaling")
    # the guard cannot price a target on an endpoint that does not exist: refused before
    # the request is sent (offline and on AWS alike)
    with pytest.raises(CostGuardError, match="endpoint 'ghost'.*was not found"):
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/ghost/variant/AllTraffic",
            ScalableDimension=DIM,
            MinCapacity=1,
            MaxCapacity=2,
        )
    with pytest.raises(CostGuardError, match="variant 'B' is not on endpoint 'scale'"):
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/scale/variant/B",
            ScalableDimension=DIM,
            MinCapacity=1,
            MaxCapacity=2,
        )
    with pytest.raises(ClientError, match="cannot be less than minimum"):
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=RESOURCE,
            ScalableDimension=DIM,
            MinCapacity=3,
            MaxCapacity=2,
        )
    with pytest.raises(ClientError) as err:
        aas.put_scaling_policy(
            PolicyName="x",
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/other/variant/AllTraffic",
            ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 5.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
            },
        )
    assert err.value.response["Error"]["Code"] == "ObjectNotFoundException"
    with pytest.raises(ClientError, match="Unsupported predefined metric type"):
        aas.put_scaling_policy(
            PolicyName="cpu",
            ServiceNamespace="sagemaker",
            ResourceId=RESOURCE,
            ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                },
            },
        )


def test_simulation_scales_out_from_recorded_invocations(scaled: Any) -> None:
    from mllab.offline.sagemaker.autoscaling import simulate_scaling

    quiet = simulate_scaling(scaled.session, "scale", "AllTraffic")
    assert quiet["action"] == "none" and "no invocations" in quiet["reason"]

    rt = scaled.client("sagemaker-runtime")
    for _ in range(50):
        rt.invoke_endpoint(EndpointName="scale", Body=b"1", ContentType="text/csv")
    res = simulate_scaling(scaled.session, "scale", "AllTraffic", apply=True)
    # 50 invocations/instance/minute against a target of 20 -> ceil(1 * 50 / 20) = 3
    # (or spread over two clock minutes: at least 25 in one -> 2)
    assert res["action"] == "scale-out"
    assert res["desired_instances"] == min(4, -(-int(res["metric"]) // 20))
    assert res["desired_instances"] >= 2
    desc = scaled.client("sagemaker").describe_endpoint(EndpointName="scale")["ProductionVariants"][
        0
    ]
    assert desc["CurrentInstanceCount"] == res["desired_instances"]

    strict = simulate_scaling(scaled.session, "scale", "AllTraffic", strict=True)
    assert strict["action"] == "none"  # not yet 3 consecutive minutes above the target
