"""Endpoint auto scaling: Application Auto Scaling checks, and a target-tracking simulation.

Introduced in lab 04. moto stores scalable targets and scaling policies; offline this module
adds the checks AWS makes for SageMaker variants:

* ``RegisterScalableTarget`` (namespace ``sagemaker``): ``ResourceId`` must be
  ``endpoint/<endpoint>/variant/<variant>`` of an existing endpoint and variant, the dimension
  ``sagemaker:variant:DesiredInstanceCount``, a new target needs ``MinCapacity`` (>= 1 for
  instance variants) and ``MaxCapacity`` (>= MinCapacity).
* ``PutScalingPolicy``: the scalable target must be registered first (``ObjectNotFoundException``)
  and a ``TargetTrackingScaling`` policy needs a ``TargetValue`` and a SageMaker metric
  (``SageMakerVariantInvocationsPerInstance`` or a customized metric).

Nothing scales by itself offline (no instances exist). :func:`simulate_scaling` answers the
exam question "what would the policy do now?" from the metrics the endpoint really recorded.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any

from mllab.offline.registry import AwsError, OfflineCall, handles

if TYPE_CHECKING:  # pragma: no cover
    import boto3

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SAGEMAKER_METRICS = (
    "SageMakerVariantInvocationsPerInstance",
    "SageMakerVariantProvisionedConcurrencyUtilization",
    "SageMakerVariantConcurrentRequestsPerModelHighResolution",
    "SageMakerInferenceComponentInvocationsPerCopy",
    "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution",
)
#: CloudWatch alarm rules of target tracking: scale out after 3 one-minute datapoints above the
#: target, scale in after 15 below 90% of it.
SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_FRACTION = 0.9

_RESOURCE = re.compile(r"^endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)$")


def _parse_resource(resource_id: str) -> tuple[str, str]:
    m = _RESOURCE.match(resource_id or "")
    if not m:
        raise AwsError(
            "ValidationException",
            f"Unsupported resource ID {resource_id!r} for service namespace sagemaker: use "
            "endpoint/<endpoint-name>/variant/<variant-name>.",
        )
    return m.group("endpoint"), m.group("variant")


def _variant(call: OfflineCall, endpoint: str, variant: str) -> dict[str, Any]:
    from mllab.offline.sagemaker import hosting

    ep = hosting.backend(call.account_id, call.region).endpoints.get(endpoint)
    if ep is None:
        raise AwsError(
            "ValidationException",
            f'Could not find endpoint "{hosting._arn("endpoint", endpoint, call.account_id, call.region)}".',
        )
    for v in ep.production_variants:
        if v["VariantName"] == variant:
            return dict(v)
    raise AwsError(
        "ValidationException",
        f'The variant name "{variant}" is not present within endpoint "{endpoint}".',
    )


def _target(call: OfflineCall, resource_id: str, dimension: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    be = applicationautoscaling_backends[call.account_id][call.region]
    return (be.targets.get(dimension) or {}).get(resource_id)


@handles("application-auto-scaling", "RegisterScalableTarget")
def _register(call: OfflineCall) -> dict[str, Any] | None:
    p = call.params
    if p.get("ServiceNamespace") != "sagemaker":
        return None
    endpoint, variant = _parse_resource(str(p.get("ResourceId", "")))
    if p.get("ScalableDimension") != DIMENSION:
        raise AwsError(
            "ValidationException",
            f"Unsupported scalable dimension {p.get('ScalableDimension')!r} for a SageMaker variant: use {DIMENSION}.",
        )
    v = _variant(call, endpoint, variant)
    existing = _target(call, p["ResourceId"], DIMENSION)
    lo, hi = p.get("MinCapacity"), p.get("MaxCapacity")
    if existing is None and (lo is None or hi is None):
        raise AwsError(
            "ValidationException",
            "MinCapacity and MaxCapacity are required when registering a new scalable target.",
        )
    lo = lo if lo is not None else existing.min_capacity
    hi = hi if hi is not None else existing.max_capacity
    if "CurrentServerlessConfig" not in v and lo < 1:
        raise AwsError(
            "ValidationException",
            "MinCapacity of an instance-based SageMaker variant must be at least 1.",
        )
    if hi < lo:
        raise AwsError(
            "ValidationException",
            f"Maximum capacity ({hi}) cannot be less than minimum capacity ({lo}).",
        )
    return None


@handles("application-auto-scaling", "PutScalingPolicy")
def _put_policy(call: OfflineCall) -> dict[str, Any] | None:
    p = call.params
    if p.get("ServiceNamespace") != "sagemaker":
        return None
    resource, dimension = str(p.get("ResourceId", "")), str(p.get("ScalableDimension", ""))
    if _target(call, resource, dimension) is None:
        raise AwsError(
            "ObjectNotFoundException",
            f"No scalable target registered for service namespace: sagemaker, resource ID: {resource}, "
            f"scalable dimension: {dimension}",
        )
    if p.get("PolicyType") == "TargetTrackingScaling":
        cfg = p.get("TargetTrackingScalingPolicyConfiguration") or {}
        if "TargetValue" not in cfg:
            raise AwsError(
                "ValidationException",
                "TargetTrackingScalingPolicyConfiguration needs TargetValue (e.g. 70 invocations per instance per minute).",
            )
        pre = cfg.get("PredefinedMetricSpecification")
        if pre and pre.get("PredefinedMetricType") not in SAGEMAKER_METRICS:
            raise AwsError(
                "ValidationException",
                f"Unsupported predefined metric type {pre.get('PredefinedMetricType')!r} for service "
                f"namespace sagemaker: use one of {', '.join(SAGEMAKER_METRICS[:2])}.",
            )
        if not pre and not cfg.get("CustomizedMetricSpecification"):
            raise AwsError(
                "ValidationException",
                "A target tracking policy needs PredefinedMetricSpecification or CustomizedMetricSpecification.",
            )
    return None


def _per_minute(
    session: boto3.Session, endpoint: str, variant: str, minutes: int
) -> list[tuple[dt.datetime, float]]:
    cw = session.client("cloudwatch")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    res = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="InvocationsPerInstance",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        StartTime=now - dt.timedelta(minutes=minutes),
        EndTime=now,
        Period=60,
        Statistics=["Sum"],
    )
    return sorted((p["Timestamp"], float(p["Sum"])) for p in res["Datapoints"])


def simulate_scaling(
    session: boto3.Session,
    endpoint: str,
    variant: str,
    *,
    lookback_minutes: int = 15,
    strict: bool = False,
    apply: bool = False,
) -> dict[str, Any]:
    """Say what the variant's target-tracking policy would do, from its recorded invocations.

    Target tracking on ``SageMakerVariantInvocationsPerInstance`` keeps the one-minute sum of
    ``InvocationsPerInstance`` near ``TargetValue``: it scales out to
    ``ceil(current_instances * metric / target)`` (within Min/MaxCapacity) when the metric is
    above the target, and scales in the same way when it is below 90% of the target (unless
    ``DisableScaleIn``). On AWS the alarms need 3 consecutive minutes above (15 below); a lab
    rarely runs that long, so by default the simulation uses the busiest recorded minute for
    scale-out and the mean for scale-in. ``strict=True`` applies the alarm datapoint rules.

    Args:
        session: the lab's session (``lab.session``).
        endpoint: the endpoint name.
        variant: the production variant name.
        lookback_minutes: how many minutes of metrics to read.
        strict: apply the 3/15-datapoint alarm rules.
        apply: also set the variant's instance count (UpdateEndpointWeightsAndCapacities), as
            Application Auto Scaling would. On AWS more instances bill more per hour.

    Returns:
        ``{"current_instances", "desired_instances", "action"` ("scale-out", "scale-in" or
        "none"), "metric" (invocations per instance per minute used), "target_value",
        "min_capacity", "max_capacity", "datapoints", "reason"}``. Costs nothing offline.

    Raises:
        ValueError: no scalable target or no target-tracking policy is registered for the variant.
    """
    aas = session.client("application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/{variant}"
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])[
        "ScalableTargets"
    ]
    if not targets:
        raise ValueError(
            f"{resource} is not a registered scalable target: call RegisterScalableTarget first"
        )
    target = targets[0]
    policies = [
        p
        for p in aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)[
            "ScalingPolicies"
        ]
        if p.get("PolicyType") == "TargetTrackingScaling"
    ]
    if not policies:
        raise ValueError(
            f"{resource} has no TargetTrackingScaling policy: call PutScalingPolicy first"
        )
    cfg = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    goal = float(cfg["TargetValue"])
    lo, hi = int(target["MinCapacity"]), int(target["MaxCapacity"])
    sm = session.client("sagemaker")
    desc = next(
        v
        for v in sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
        if v["VariantName"] == variant
    )
    current = int(desc.get("CurrentInstanceCount") or 1)
    points = _per_minute(session, endpoint, variant, lookback_minutes)
    values = [v for _, v in points]
    out: dict[str, Any] = {
        "current_instances": current,
        "desired_instances": current,
        "action": "none",
        "metric": 0.0,
        "target_value": goal,
        "min_capacity": lo,
        "max_capacity": hi,
        "datapoints": points,
        "reason": "",
    }
    if not values:
        out["reason"] = (
            "no invocations recorded in the lookback window: the alarms have no data, nothing changes"
        )
        return out
    if strict:
        high = len(values) >= SCALE_OUT_DATAPOINTS and all(
            v > goal for v in values[-SCALE_OUT_DATAPOINTS:]
        )
        low = len(values) >= SCALE_IN_DATAPOINTS and all(
            v < SCALE_IN_FRACTION * goal for v in values[-SCALE_IN_DATAPOINTS:]
        )
        metric = sum(values[-SCALE_OUT_DATAPOINTS:]) / min(len(values), SCALE_OUT_DATAPOINTS)
    else:
        metric = max(values)
        high = metric > goal
        low = not high and (sum(values) / len(values)) < SCALE_IN_FRACTION * goal
        if low:
            metric = sum(values) / len(values)
    out["metric"] = metric
    # the recorded metric is per instance at the time: the load is metric * current instances
    wanted = max(1, math.ceil(current * metric / goal)) if goal > 0 else hi
    if high:
        desired = min(hi, max(lo, wanted))
        out["reason"] = (
            f"{metric:.1f} invocations per instance per minute is above the target {goal:g}: "
            f"ceil({current} x {metric:.1f} / {goal:g}) = {wanted}, capped to [{lo}, {hi}]"
        )
    elif low and not cfg.get("DisableScaleIn"):
        desired = max(lo, min(current, wanted))
        out["reason"] = (
            f"{metric:.1f} invocations per instance per minute is below 90% of the target {goal:g}: "
            f"scale in to max({lo}, ceil({current} x {metric:.1f} / {goal:g})) = {desired}"
        )
    else:
        desired = current
        out["reason"] = (
            f"{metric:.1f} invocations per instance per minute is within the target band "
            f"({SCALE_IN_FRACTION * goal:g}..{goal:g})"
            if not (low and cfg.get("DisableScaleIn"))
            else "below the target, but DisableScaleIn is set"
        )
        if (
            strict
            and not high
            and not low
            and values
            and max(values[-SCALE_OUT_DATAPOINTS:]) > goal
        ):
            out["reason"] = (
                f"above the target, but not for {SCALE_OUT_DATAPOINTS} consecutive minutes yet"
            )
    out["desired_instances"] = desired
    out["action"] = (
        "scale-out" if desired > current else "scale-in" if desired < current else "none"
    )
    if apply and desired != current:
        sm.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": desired}],
        )
    return out
