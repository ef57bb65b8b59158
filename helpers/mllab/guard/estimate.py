"""Worst-case cost estimates of billable requests, and the refusals (introduced in lab 00).

Each estimator takes the request parameters (as the caller passed them to boto3) and the
lab's :class:`Policy`, and returns an :class:`Estimate` or raises :class:`Refusal`. They
make no network call themselves; where an estimate depends on another resource (an
endpoint's config, a Glue job's capacity) they ask ``policy.lookup``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mllab.guard import pricing

#: The instance types a lab may use unless it opts in to more: small CPU types.
DEFAULT_ALLOWED_TYPES = frozenset(
    {
        "ml.t2.medium",
        "ml.t2.large",
        "ml.t3.medium",
        "ml.t3.large",
        "ml.m4.xlarge",
        "ml.m5.large",
        "ml.m5.xlarge",
        "ml.c4.xlarge",
        "ml.c5.large",
        "ml.c5.xlarge",
        "ml.r5.large",
    }
)

#: Glue worker types and their DPUs.
GLUE_WORKER_DPU = {
    "Standard": 1.0,
    "G.025X": 0.25,
    "G.1X": 1.0,
    "G.2X": 2.0,
    "G.4X": 4.0,
    "G.8X": 8.0,
    "Z.2X": 2.0,
}

#: Operations refused with a reason (filled by :func:`mllab.guard.admission.refuse` from
#: ``declarations/refused.py`` and the family modules). Undeclared operations are refused too.
REFUSED: dict[tuple[str, str], str] = {}


class Refusal(Exception):
    """Raised by an estimator: the request must not be sent."""

    def __init__(self, reason: str, fix: str, estimate_usd: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.estimate_usd = estimate_usd


@dataclass
class Policy:
    """What a lab allows and how it bounds always-on resources.

    Attributes:
        allowed_types: instance types the lab may use.
        ttl_hours: the time-to-live assumed for endpoints, streams and transform jobs
            (teardown deletes them; the estimate assumes they live this long).
        max_runtime_seconds: the longest ``MaxRuntimeInSeconds`` (or Glue ``Timeout``) allowed.
        max_instances: the largest instance count per job or variant.
        max_shards: the largest Kinesis shard count.
        lookup: ``lookup(kind, name)`` returns a description of another resource
            (``"endpoint_config"``, ``"glue_job"``, ``"stream"``, ``"workgroup"``,
            ``"monitoring_job_definition"``, ``"pipeline"``, ``"endpoint"``,
            ``"training_job"``, ``"s3_object"``, ``"agent_runtime"``) or None, in the lab's
            region.
        lookup_in: ``lookup_in(region)`` returns the same lookup in another region (the
            guard prices a request with lookups in the region of the client that sends it).
    """

    allowed_types: frozenset[str] = DEFAULT_ALLOWED_TYPES
    ttl_hours: float = 1.0
    max_runtime_seconds: int = 3600
    max_instances: int = 4
    max_shards: int = 10
    lookup: Callable[[str, str], dict[str, Any] | None] = field(default=lambda kind, name: None)
    lookup_in: Callable[[str], Callable[[str, str], dict[str, Any] | None]] | None = None

    def __post_init__(self) -> None:
        ttl = self.ttl_hours
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
            raise ValueError(f"ttl_hours={ttl!r}: give a finite number of hours, e.g. 1")
        if ttl <= 0 or ttl > 24 * 7:
            raise ValueError(
                f"ttl_hours={ttl!r}: the time-to-live must be more than 0 and at most 168 hours"
            )


@dataclass
class Estimate:
    """A worst-case estimate of one request.

    Attributes:
        usd: worst-case dollars.
        resource: the name of what the request creates or runs.
        hourly_usd: price per hour while it runs (for actual-use accounting), if hourly.
        family: pricing family (``training``, ``hosting``, ...), if instance-priced.
        detail: the figures behind the estimate, for the ledger and for `mllab cost`.
    """

    usd: float
    resource: str
    hourly_usd: float | None = None
    family: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    #: the pending ledger row holding this estimate against the budget (set by the guard)
    reservation: int | None = None


Estimator = Callable[[dict[str, Any], Policy], "Estimate | None"]
ESTIMATORS: dict[tuple[str, str], Estimator] = {}


def estimator(service: str, *operations: str) -> Callable[[Estimator], Estimator]:
    """Register an estimator for one or more operations of a service."""

    def decorate(func: Estimator) -> Estimator:
        for op in operations:
            ESTIMATORS[(service, op)] = func
        return func

    return decorate


def is_billable(service: str, operation: str) -> bool:
    """True when the guard estimates or refuses this operation."""
    return (service, operation) in ESTIMATORS or (service, operation) in REFUSED


# --------------------------------------------------------------------------- helpers


def instance_hourly(family: str, itype: Any, policy: Policy, where: str) -> float:
    """Check an instance type against the snapshot and allow-list; return its hourly price."""
    allowed = policy.allowed_types
    suggestion = pricing.cheapest(family, allowed) or "ml.m5.large"
    if not isinstance(itype, str) or not itype:
        raise Refusal(f"{where} names no instance type", f"set {where} to e.g. {suggestion!r}")
    spec = pricing.instance(itype)
    price = pricing.hourly(family, itype)
    if spec is None or price is None:
        raise Refusal(
            f"{itype!r} ({where}) is not a SageMaker {family} instance type in the "
            f"{pricing.snapshot_label()}",
            f"use {suggestion}",
        )
    if itype not in allowed:
        extra = (
            "; accelerated (GPU/Inferentia/Trainium) types need a lab that opts in with "
            "Lab(..., allow_gpu=True)"
            if spec.is_accelerated
            else ""
        )
        raise Refusal(
            f"{itype} ({where}, ${price}/hour) is not on this lab's instance allow-list "
            f"({', '.join(sorted(allowed))}){extra}",
            f"use {suggestion}",
        )
    return price


def count(value: Any, where: str, policy: Policy, default: int | None = None) -> int:
    """Validate an instance count: a whole number from 1 to ``policy.max_instances``."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refusal(f"{where} is {value!r}, not a whole number", f"set {where} to 1")
    if value < 1:
        raise Refusal(f"{where} is {value}; it must be at least 1", f"set {where} to 1")
    if value > policy.max_instances:
        raise Refusal(
            f"{where} is {value}; this lab allows at most {policy.max_instances}",
            f"set {where} <= {policy.max_instances} (one instance is enough for lab data)",
        )
    return value


def runtime_seconds(stopping: Any, where: str, policy: Policy) -> int:
    """Validate ``StoppingCondition.MaxRuntimeInSeconds`` and return it."""
    cap = policy.max_runtime_seconds
    if not isinstance(stopping, dict) or stopping.get("MaxRuntimeInSeconds") is None:
        raise Refusal(
            f"the request has no bound on its runtime ({where}.MaxRuntimeInSeconds is missing)",
            f"set {where}={{'MaxRuntimeInSeconds': {cap}}} or less",
        )
    value = stopping["MaxRuntimeInSeconds"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Refusal(
            f"{where}.MaxRuntimeInSeconds is {value!r}; it must be a positive whole number",
            f"set {where}.MaxRuntimeInSeconds <= {cap}",
        )
    if value > cap:
        raise Refusal(
            f"{where}.MaxRuntimeInSeconds is {value} s; this lab allows at most {cap} s",
            f"set MaxRuntimeInSeconds <= {cap}",
        )
    return value


#: The instance type SageMaker Debugger and Profiler rules run on when none is named.
RULE_DEFAULT_INSTANCE = "ml.m5.xlarge"


def _retries(defn: dict[str, Any], where: str) -> int:
    """Return ``1 + RetryStrategy.MaximumRetryAttempts`` (each attempt can run to the limit)."""
    strategy = defn.get("RetryStrategy")
    if not strategy:
        return 1
    n = strategy.get("MaximumRetryAttempts")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise Refusal(
            f"{where}RetryStrategy.MaximumRetryAttempts is {n!r}",
            "drop RetryStrategy or set MaximumRetryAttempts to a small whole number",
        )
    if n > 3:
        raise Refusal(
            f"{where}RetryStrategy.MaximumRetryAttempts is {n}; each attempt can run to "
            "MaxRuntimeInSeconds, and this lab allows at most 3 retries",
            "set MaximumRetryAttempts <= 3 (or drop RetryStrategy)",
        )
    return 1 + n


def _rules_hourly(defn: dict[str, Any], policy: Policy, where: str) -> float:
    """Hourly price of the Debugger/Profiler rule evaluators a training job starts.

    Each rule configuration runs a processing job beside the training job for as long as it
    trains (on ``InstanceType``, or ml.m5.xlarge when none is named).
    """
    total = 0.0
    for key in ("DebugRuleConfigurations", "ProfilerRuleConfigurations"):
        for i, rule in enumerate(defn.get(key) or []):
            itype = rule.get("InstanceType") or RULE_DEFAULT_INSTANCE
            total += instance_hourly("processing", itype, policy, f"{where}{key}[{i}].InstanceType")
    return total


def _keep_alive_seconds(rc: dict[str, Any], where: str, policy: Policy) -> int:
    """``ResourceConfig.KeepAlivePeriodInSeconds`` (a warm pool bills its instances while kept)."""
    keep = rc.get("KeepAlivePeriodInSeconds")
    if keep is None:
        return 0
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0 or keep > 3600:
        raise Refusal(
            f"{where}ResourceConfig.KeepAlivePeriodInSeconds is {keep!r}; a warm pool keeps "
            "(and bills) its instances that long after the job, at most 3600 s",
            "drop KeepAlivePeriodInSeconds or set it between 0 and 3600",
        )
    return keep


def _instance_configs_hourly(configs: list[dict[str, Any]], policy: Policy, where: str) -> float:
    """The dearest of a tuning job's ``HyperParameterTuningResourceConfig.InstanceConfigs``."""
    worst = 0.0
    for i, c in enumerate(configs):
        price = instance_hourly(
            "training", c.get("InstanceType"), policy, f"{where}InstanceConfigs[{i}].InstanceType"
        )
        n = count(c.get("InstanceCount"), f"{where}InstanceConfigs[{i}].InstanceCount", policy)
        worst = max(worst, price * n)
    return worst


def _training_definition(defn: dict[str, Any], policy: Policy, where: str) -> tuple[float, float]:
    """Return (worst-case usd, hourly usd) of one training job definition.

    Prices every field that changes what runs: instances (``ResourceConfig`` or its
    ``InstanceGroups``, or a tuning job's ``HyperParameterTuningResourceConfig``), the runtime
    limit, retries, Debugger/Profiler rule evaluators, and a warm pool's keep-alive period.
    Refuses training plans (reserved capacity bought up front).
    """
    seconds = runtime_seconds(defn.get("StoppingCondition"), f"{where}StoppingCondition", policy)
    rc = defn.get("ResourceConfig") or {}
    if rc.get("TrainingPlanArn") or defn.get("TrainingPlanArn"):
        raise Refusal(
            f"{where}ResourceConfig.TrainingPlanArn runs on a SageMaker training plan "
            "(reserved capacity paid up front)",
            "drop TrainingPlanArn and train on an on-demand instance type",
        )
    htrc = defn.get("HyperParameterTuningResourceConfig")
    groups = rc.get("InstanceGroups")
    hourly_total = 0.0
    if htrc:
        configs = htrc.get("InstanceConfigs") or []
        if configs:
            hourly_total = _instance_configs_hourly(
                configs, policy, f"{where}HyperParameterTuningResourceConfig."
            )
        else:
            price = instance_hourly(
                "training",
                htrc.get("InstanceType"),
                policy,
                f"{where}HyperParameterTuningResourceConfig.InstanceType",
            )
            n = count(
                htrc.get("InstanceCount"),
                f"{where}HyperParameterTuningResourceConfig.InstanceCount",
                policy,
            )
            hourly_total = price * n
        rc = htrc
    elif groups:
        for i, g in enumerate(groups):
            price = instance_hourly(
                "training", g.get("InstanceType"), policy, f"InstanceGroups[{i}].InstanceType"
            )
            n = count(g.get("InstanceCount"), f"InstanceGroups[{i}].InstanceCount", policy)
            hourly_total += price * n
    else:
        price = instance_hourly(
            "training", rc.get("InstanceType"), policy, f"{where}ResourceConfig.InstanceType"
        )
        n = count(rc.get("InstanceCount"), f"{where}ResourceConfig.InstanceCount", policy)
        hourly_total = price * n
    if defn.get("EnableManagedSpotTraining"):
        wait = (defn.get("StoppingCondition") or {}).get("MaxWaitTimeInSeconds")
        if wait is None or (isinstance(wait, int) and wait < seconds):
            raise Refusal(
                "managed spot training needs StoppingCondition.MaxWaitTimeInSeconds >= "
                "MaxRuntimeInSeconds",
                f"set MaxWaitTimeInSeconds to at least {seconds}",
            )
    attempts = _retries(defn, where)
    rules = _rules_hourly(defn, policy, where)
    keep = _keep_alive_seconds(rc, where, policy)
    usd = (hourly_total + rules) * seconds / 3600.0 * attempts + hourly_total * keep / 3600.0
    return usd, hourly_total + rules


# --------------------------------------------------------------------------- SageMaker


def training_job(p: dict[str, Any], policy: Policy) -> Estimate:
    usd, hourly = _training_definition(p, policy, "")
    sc = p.get("StoppingCondition") or {}
    return Estimate(
        usd,
        str(p.get("TrainingJobName", "")),
        hourly_usd=hourly,
        family="training",
        detail={
            "max_runtime_s": sc.get("MaxRuntimeInSeconds"),
            "spot": bool(p.get("EnableManagedSpotTraining")),
            "basis": "on-demand price x instances x MaxRuntimeInSeconds (spot priced on-demand)",
        },
    )


def tuning_job(p: dict[str, Any], policy: Policy) -> Estimate:
    if (p.get("Autotune") or {}).get("Mode"):
        raise Refusal(
            "Autotune lets SageMaker choose the tuning job's limits (up to 500 training jobs)",
            "drop Autotune and set ResourceLimits.MaxNumberOfTrainingJobs yourself",
        )
    cfg = p.get("HyperParameterTuningJobConfig") or {}
    limits = cfg.get("ResourceLimits") or {}
    n = limits.get("MaxNumberOfTrainingJobs")
    if n is None:
        raise Refusal(
            "the tuning job is unbounded (ResourceLimits.MaxNumberOfTrainingJobs is missing)",
            "set HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs to the few jobs the lab allows",
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise Refusal(
            f"ResourceLimits.MaxNumberOfTrainingJobs is {n!r}; it must be at least 1",
            "set MaxNumberOfTrainingJobs to a small whole number: the few jobs the lab allows",
        )
    par = limits.get("MaxParallelTrainingJobs", 1)
    if isinstance(par, bool) or not isinstance(par, int) or par < 1:
        raise Refusal(
            f"ResourceLimits.MaxParallelTrainingJobs is {par!r}; it must be at least 1",
            "set MaxParallelTrainingJobs to 1 or 2",
        )
    defs = list(p.get("TrainingJobDefinitions") or [])
    if p.get("TrainingJobDefinition"):
        defs.append(p["TrainingJobDefinition"])
    if not defs:
        raise Refusal("the request has no TrainingJobDefinition", "add a TrainingJobDefinition")
    per_job = [_training_definition(d, policy, "TrainingJobDefinition.") for d in defs]
    worst, hourly = max(per_job)
    return Estimate(
        worst * n,
        str(p.get("HyperParameterTuningJobName", "")),
        hourly_usd=hourly,
        family="training",
        detail={"max_jobs": n, "max_parallel": par, "per_job_usd": worst},
    )


def processing_job(p: dict[str, Any], policy: Policy) -> Estimate:
    cluster = (p.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    price = instance_hourly(
        "processing",
        cluster.get("InstanceType"),
        policy,
        "ProcessingResources.ClusterConfig.InstanceType",
    )
    n = count(cluster.get("InstanceCount"), "ClusterConfig.InstanceCount", policy)
    seconds = runtime_seconds(p.get("StoppingCondition"), "StoppingCondition", policy)
    return Estimate(
        price * n * seconds / 3600.0,
        str(p.get("ProcessingJobName", "")),
        hourly_usd=price * n,
        family="processing",
        detail={"max_runtime_s": seconds},
    )


def transform_job(p: dict[str, Any], policy: Policy) -> Estimate:
    res = p.get("TransformResources") or {}
    price = instance_hourly(
        "transform", res.get("InstanceType"), policy, "TransformResources.InstanceType"
    )
    n = count(res.get("InstanceCount"), "TransformResources.InstanceCount", policy)
    return Estimate(
        price * n * policy.ttl_hours,
        str(p.get("TransformJobName", "")),
        hourly_usd=price * n,
        family="transform",
        detail={"ttl_hours": policy.ttl_hours, "basis": "stopped by teardown after the TTL"},
    )


def _variants_hourly(cfg: dict[str, Any], policy: Policy) -> tuple[float, dict[str, Any]]:
    """Return the hourly worst case of an endpoint config's variants (refusing bad ones)."""
    total = 0.0
    detail: dict[str, Any] = {}
    variants = list(cfg.get("ProductionVariants") or [])
    shadows = list(cfg.get("ShadowProductionVariants") or [])
    if not variants:
        raise Refusal("the endpoint config has no ProductionVariants", "add a production variant")
    for kind, group in (("ProductionVariants", variants), ("ShadowProductionVariants", shadows)):
        for i, v in enumerate(group):
            name = v.get("VariantName", f"{kind}[{i}]")
            where = f"{kind}[{i}]"
            serverless = v.get("ServerlessConfig")
            if serverless:
                mem = serverless.get("MemorySizeInMB")
                conc = serverless.get("MaxConcurrency")
                if not isinstance(mem, int) or not isinstance(conc, int) or mem < 1 or conc < 1:
                    raise Refusal(
                        f"{where}.ServerlessConfig needs MemorySizeInMB and MaxConcurrency",
                        "set ServerlessConfig={'MemorySizeInMB': 2048, 'MaxConcurrency': 5}",
                    )
                per_hour = (
                    mem
                    / 1024.0
                    * conc
                    * 3600.0
                    * pricing.price("serverless_inference_usd_per_gb_second")
                )
                provisioned = serverless.get("ProvisionedConcurrency") or 0
                if isinstance(provisioned, bool) or not isinstance(provisioned, int):
                    raise Refusal(
                        f"{where}.ServerlessConfig.ProvisionedConcurrency is {provisioned!r}",
                        "drop ProvisionedConcurrency",
                    )
                if provisioned > conc:
                    raise Refusal(
                        f"{where}.ServerlessConfig.ProvisionedConcurrency ({provisioned}) exceeds "
                        f"MaxConcurrency ({conc})",
                        "set ProvisionedConcurrency <= MaxConcurrency",
                    )
                detail[name] = {"serverless_memory_mb": mem, "max_concurrency": conc}
            else:
                price = instance_hourly(
                    "hosting", v.get("InstanceType"), policy, f"{where}.InstanceType"
                )
                n = count(v.get("InitialInstanceCount"), f"{where}.InitialInstanceCount", policy)
                scaling = v.get("ManagedInstanceScaling") or {}
                if scaling.get("Status") == "ENABLED" or scaling.get("MaxInstanceCount"):
                    n = max(
                        n,
                        count(
                            scaling.get("MaxInstanceCount"),
                            f"{where}.ManagedInstanceScaling.MaxInstanceCount",
                            policy,
                        ),
                    )
                per_hour = price * n
                detail[name] = {"instance_type": v.get("InstanceType"), "instances": n}
            total += per_hour
    return total, detail


def endpoint_config(p: dict[str, Any], policy: Policy) -> Estimate | None:
    _variants_hourly(p, policy)  # refuses disallowed types at the first call that names them
    return None


def endpoint(p: dict[str, Any], policy: Policy) -> Estimate:
    name = p.get("EndpointConfigName")
    cfg = policy.lookup("endpoint_config", str(name)) if name else None
    if cfg is None:
        raise Refusal(
            f"endpoint config {name!r} was not found, so the endpoint cannot be priced",
            "create the endpoint config first (CreateEndpointConfig) and pass its name",
        )
    hourly, detail = _variants_hourly(cfg, policy)
    return Estimate(
        hourly * policy.ttl_hours,
        str(p.get("EndpointName", "")),
        hourly_usd=hourly,
        family="hosting",
        detail={"variants": detail, "ttl_hours": policy.ttl_hours, "config": name},
    )


def _monitoring_resources(defn: dict[str, Any], policy: Policy, where: str) -> float:
    res = (defn.get("MonitoringResources") or defn.get("JobResources") or {}).get(
        "ClusterConfig"
    ) or {}
    price = instance_hourly("processing", res.get("InstanceType"), policy, f"{where}.InstanceType")
    n = count(res.get("InstanceCount"), f"{where}.InstanceCount", policy)
    seconds = runtime_seconds(
        defn.get("StoppingCondition") or {"MaxRuntimeInSeconds": 3600}, "StoppingCondition", policy
    )
    return price * n * seconds / 3600.0


def monitoring_definition(p: dict[str, Any], policy: Policy) -> Estimate | None:
    _monitoring_resources(p, policy, "JobResources.ClusterConfig")
    return None


def monitoring_schedule(p: dict[str, Any], policy: Policy) -> Estimate:
    cfg = p.get("MonitoringScheduleConfig") or {}
    defn = cfg.get("MonitoringJobDefinition")
    if defn is None and cfg.get("MonitoringJobDefinitionName"):
        defn = policy.lookup("monitoring_job_definition", cfg["MonitoringJobDefinitionName"])
    if defn is None:
        raise Refusal(
            "the monitoring schedule names no job definition that could be priced",
            "create the job definition first and pass MonitoringJobDefinitionName",
        )
    per_run = _monitoring_resources(defn, policy, "MonitoringResources.ClusterConfig")
    runs = max(1, math.ceil(policy.ttl_hours))  # at most hourly schedules
    return Estimate(
        per_run * runs,
        str(p.get("MonitoringScheduleName", "")),
        family="processing",
        detail={"runs_within_ttl": runs, "per_run_usd": per_run},
    )


def compilation_job(p: dict[str, Any], policy: Policy) -> Estimate:
    runtime_seconds(p.get("StoppingCondition"), "StoppingCondition", policy)
    return Estimate(
        0.0,
        str(p.get("CompilationJobName", "")),
        detail={"basis": "Neo compilation itself has no charge; the compiled model's host does"},
    )


# --------------------------------------------------------------------------- Pipelines

#: Step types that start billable jobs, and the estimator of the request each step's Arguments is.
_PIPELINE_STEPS = {
    "Training": "training_job",
    "Processing": "processing_job",
    "Transform": "transform_job",
    "Tuning": "tuning_job",
}

#: Step types that start nothing billable themselves (a model record, a registry entry, a
#: failure, a condition whose branches are walked).
_FREE_STEPS = frozenset({"Model", "RegisterModel", "CreateModel", "Fail", "Condition"})

#: The most items a ForEach step may fan out over in a lab.
MAX_FOREACH_ITEMS = 10


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    """Replace ``{"Get": "Parameters.X"}`` by the parameter's value (other references stay)."""
    if isinstance(value, dict):
        if set(value) == {"Get"} and str(value["Get"]).startswith("Parameters."):
            return params.get(str(value["Get"]).split(".", 1)[1], value)
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _parse_definition(definition: Any) -> dict[str, Any]:
    """Parse a pipeline definition, refusing one that cannot be read (never priced as 0)."""
    import json

    try:
        doc = json.loads(definition) if isinstance(definition, str) else dict(definition or {})
    except (ValueError, TypeError) as err:
        raise Refusal(
            f"the pipeline definition cannot be parsed ({err}), so its steps cannot be priced",
            "pass PipelineDefinition as the JSON the SDK's pipeline.definition() returns",
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Steps", []), list):
        raise Refusal(
            "the pipeline definition has no list of Steps, so it cannot be priced",
            "pass PipelineDefinition as the JSON the SDK's pipeline.definition() returns",
        )
    return doc


def _foreach_multiplier(st: dict[str, Any], params: dict[str, Any]) -> tuple[list[Any], int]:
    """Return (body steps, worst-case iterations) of a ForEach-like step."""
    args = st.get("Arguments") or {}
    body = args.get("Steps") or st.get("Steps") or args.get("LoopSteps") or []
    items = _resolve(args.get("Items", args.get("InputItems", st.get("Items"))), params)
    if not isinstance(items, list):
        raise Refusal(
            f"pipeline step {st.get('Name')!r} (ForEach) iterates over {items!r}, which is not a "
            "literal list, so the number of iterations cannot be bounded",
            f"iterate over a literal list of at most {MAX_FOREACH_ITEMS} items",
        )
    if len(items) > MAX_FOREACH_ITEMS:
        raise Refusal(
            f"pipeline step {st.get('Name')!r} (ForEach) runs its body {len(items)} times; "
            f"this lab allows at most {MAX_FOREACH_ITEMS}",
            f"iterate over at most {MAX_FOREACH_ITEMS} items",
        )
    return list(body), max(1, len(items))


def _walk_steps(
    items: list[Any], params: dict[str, Any], multiplier: int, out: list[tuple[dict[str, Any], int]]
) -> None:
    for st in items or []:
        if not isinstance(st, dict):
            raise Refusal(f"pipeline step {st!r} is not an object", "fix the definition")
        kind = str(st.get("Type"))
        args = st.get("Arguments") or {}
        if kind == "Condition":
            out.append((st, multiplier))
            _walk_steps(args.get("IfSteps") or st.get("IfSteps") or [], params, multiplier, out)
            _walk_steps(args.get("ElseSteps") or st.get("ElseSteps") or [], params, multiplier, out)
        elif kind in {"ForEach", "ParallelFor", "Loop"}:
            body, n = _foreach_multiplier(st, params)
            out.append((st, multiplier))
            _walk_steps(body, params, multiplier * n, out)
        else:
            out.append((st, multiplier))


def _pipeline_steps(definition: Any) -> list[dict[str, Any]]:
    """Every step of a definition, condition branches and loop bodies included."""
    doc = _parse_definition(definition)
    params = {p["Name"]: p.get("DefaultValue") for p in doc.get("Parameters") or []}
    out: list[tuple[dict[str, Any], int]] = []
    _walk_steps(list(doc.get("Steps") or []), params, 1, out)
    return [st for st, _n in out]


def pipeline_estimate(
    definition: Any, policy: Policy, overrides: dict[str, Any] | None = None
) -> tuple[float, dict[str, float]]:
    """Worst case of one pipeline execution: every job step, both condition branches, and each
    loop body times its item count.

    Every step type is priced (Training, Processing, Transform, Tuning), free (Model,
    RegisterModel, Fail, Condition) or refused (Lambda, Callback, EMR, AutoML, Clarify and
    quality checks, notebook jobs, anything else): instance types in every step pass the
    allow-list.

    Returns:
        ``(dollars, {step name: dollars})``. Refuses like the job itself would be refused.
    """
    doc = _parse_definition(definition)
    params = {p["Name"]: p.get("DefaultValue") for p in doc.get("Parameters") or []}
    params.update(overrides or {})
    walked: list[tuple[dict[str, Any], int]] = []
    _walk_steps(list(doc.get("Steps") or []), params, 1, walked)
    per_step: dict[str, float] = {}
    for st, times in walked:
        kind = str(st.get("Type"))
        if kind in _FREE_STEPS or kind in {"ForEach", "ParallelFor", "Loop"}:
            continue
        fn = _PIPELINE_STEPS.get(kind)
        if fn is None:
            raise Refusal(
                f"pipeline step {st.get('Name')!r} has type {kind!r}, which the guard cannot "
                "price (it starts work outside the steps the labs use)",
                "use Processing, Training, Tuning, Transform, Model, RegisterModel, Condition "
                "and Fail steps",
            )
        args = _resolve(st.get("Arguments") or {}, params)
        if not isinstance(args, dict):
            raise Refusal(f"pipeline step {st.get('Name')!r} has no Arguments", "fix the step")
        try:
            est = globals()[fn](args, policy)
        except Refusal as r:
            raise Refusal(f"pipeline step {st.get('Name')!r}: {r.reason}", r.fix) from None
        key = str(st.get("Name"))
        per_step[key] = per_step.get(key, 0.0) + est.usd * times
    return sum(per_step.values()), per_step


def pipeline_definition(p: dict[str, Any], policy: Policy) -> Estimate | None:
    """CreatePipeline / UpdatePipeline: refuse now what an execution could not run.

    A definition in S3 (``PipelineDefinitionS3Location``) cannot be read before it is
    sent, so it is refused: pass the definition inline.
    """
    definition = p.get("PipelineDefinition")
    if definition is None:
        if p.get("PipelineDefinitionS3Location"):
            raise Refusal(
                "a pipeline definition in S3 cannot be read by the guard before it is sent",
                "pass PipelineDefinition inline (the SDK's pipeline.definition())",
            )
        return None
    pipeline_estimate(definition, policy)  # refuses disallowed types and unbounded steps now
    return None


def pipeline_execution(p: dict[str, Any], policy: Policy) -> Estimate:
    """StartPipelineExecution: price one execution from the pipeline's definition.

    The pipeline is looked up in the client's region; a miss or a definition that cannot be
    parsed is a refusal, never a zero estimate.
    """
    name = str(p.get("PipelineName", ""))
    found = policy.lookup("pipeline", name)
    if found is None:
        raise Refusal(
            f"pipeline {name!r} was not found, so its execution cannot be priced",
            "create the pipeline first (CreatePipeline)",
        )
    overrides = {x["Name"]: x["Value"] for x in p.get("PipelineParameters") or []}
    usd, per_step = pipeline_estimate(found.get("PipelineDefinition"), policy, overrides)
    parallel = (p.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps")
    return Estimate(
        usd,
        name,
        detail={
            "steps": per_step,
            "max_parallel_steps": parallel,
            "basis": "every job step once, both condition branches, loop bodies x items",
        },
    )


# --------------------------------------------------------------------------- Glue


def glue_job_run(p: dict[str, Any], policy: Policy) -> Estimate:
    """StartJobRun: DPUs x Timeout, from the run's and the job's settings (job looked up in the
    client's region; a miss is a refusal). ``AllocatedCapacity`` (the deprecated DPU count),
    ``MaxCapacity`` and ``NumberOfWorkers`` x ``WorkerType`` are all read; the largest wins."""
    job = policy.lookup("glue_job", str(p.get("JobName")))
    if job is None:
        raise Refusal(
            f"Glue job {p.get('JobName')!r} was not found in the client's region, so its run "
            "cannot be priced",
            "create the job first (glue.create_job) in the region of the client that starts it",
        )
    timeout = p.get("Timeout", job.get("Timeout", 2880))
    cap_min = policy.max_runtime_seconds // 60
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int)
        or timeout < 1
        or timeout > cap_min
    ):
        raise Refusal(
            f"the job run's Timeout is {timeout!r} minutes (Glue's default is 2880); "
            f"this lab allows at most {cap_min}",
            f"set Timeout <= {cap_min} (minutes) on the job or the run",
        )
    workers = p.get("NumberOfWorkers", job.get("NumberOfWorkers"))
    wtype = p.get("WorkerType", job.get("WorkerType"))
    dpus: list[float] = []
    if workers is not None or wtype is not None:
        if wtype not in GLUE_WORKER_DPU:
            raise Refusal(f"WorkerType {wtype!r} is unknown", "use G.1X")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise Refusal(
                f"NumberOfWorkers is {workers!r}; it must be a whole number >= 1",
                "set NumberOfWorkers=2 with WorkerType='G.1X'",
            )
        dpus.append(GLUE_WORKER_DPU[str(wtype)] * workers)
    for key in ("MaxCapacity", "AllocatedCapacity"):
        value = p.get(key, job.get(key))
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(float(value))
            or value <= 0
        ):
            raise Refusal(
                f"{key} is {value!r}; it must be a positive number of DPUs", f"drop {key}"
            )
        dpus.append(float(value))
    if not dpus:
        dpus.append(10.0)  # Glue's default for a Spark job without capacity settings
    dpu = max(dpus)
    if dpu > 10:
        raise Refusal(
            f"the job run asks for {dpu:g} DPUs; this lab allows at most 10",
            "set NumberOfWorkers=2 with WorkerType='G.1X' (or MaxCapacity=0.0625 for Python shell)",
        )
    price = pricing.price("glue_usd_per_dpu_hour")
    return Estimate(
        dpu * timeout / 60.0 * price,
        str(p.get("JobName", "")),
        hourly_usd=dpu * price,
        detail={"dpu": dpu, "timeout_min": timeout},
    )


def glue_crawler(p: dict[str, Any], policy: Policy) -> Estimate:
    minutes = pricing.price("glue_crawler_minimum_minutes")
    price = pricing.price("glue_usd_per_dpu_hour")
    return Estimate(
        2 * minutes / 60.0 * price,
        str(p.get("Name", "")),
        detail={"basis": "2 DPUs for the 10-minute billing minimum", "dpu": 2},
    )


# --------------------------------------------------------------------------- Kinesis


def _shard_count(value: Any, where: str, policy: Policy) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Refusal(f"{where} is {value!r}; it must be at least 1", f"set {where} to 1 or 2")
    if value > policy.max_shards:
        raise Refusal(
            f"{where} is {value}; this lab allows at most {policy.max_shards} shards",
            f"set {where} <= {policy.max_shards}",
        )
    return value


def kinesis_stream(p: dict[str, Any], policy: Policy) -> Estimate:
    mode = (p.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        hourly = pricing.price("kinesis_on_demand_usd_per_stream_hour")
        detail: dict[str, Any] = {"mode": mode}
    else:
        shards = _shard_count(p.get("ShardCount"), "ShardCount", policy)
        hourly = shards * pricing.price("kinesis_usd_per_shard_hour")
        detail = {"mode": mode, "shards": shards}
    detail["ttl_hours"] = policy.ttl_hours
    return Estimate(hourly * policy.ttl_hours, str(p.get("StreamName", "")), hourly, detail=detail)


def kinesis_reshard(p: dict[str, Any], policy: Policy) -> Estimate:
    shards = _shard_count(p.get("TargetShardCount"), "TargetShardCount", policy)
    hourly = shards * pricing.price("kinesis_usd_per_shard_hour")
    name = p.get("StreamName") or str(p.get("StreamARN", "")).rsplit("/", 1)[-1]
    return Estimate(hourly * policy.ttl_hours, str(name), hourly, detail={"shards": shards})


def kinesis_retention(p: dict[str, Any], policy: Policy) -> Estimate:
    hours = p.get("RetentionPeriodHours")
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 24:
        raise Refusal(
            f"RetentionPeriodHours is {hours!r}; it must be a whole number of hours >= 24",
            "set RetentionPeriodHours between 24 and 8760",
        )
    ref = str(p.get("StreamARN") or p.get("StreamName") or "")
    stream = policy.lookup("stream", ref) or {}
    shards = int(stream.get("OpenShardCount") or 1)
    extended = hours > 24
    hourly = (
        shards * pricing.price("kinesis_extended_retention_usd_per_shard_hour") if extended else 0.0
    )
    name = p.get("StreamName") or ref.rsplit("/", 1)[-1]
    return Estimate(
        hourly * policy.ttl_hours,
        f"{name}#retention",
        hourly,
        detail={
            "shards": shards,
            "retention_hours": hours,
            "basis": "extended retention per shard-hour (over 24 h)",
        },
    )


def kinesis_consumer(p: dict[str, Any], policy: Policy) -> Estimate:
    arn = str(p.get("StreamARN", ""))
    stream = policy.lookup("stream", arn) or {}
    shards = int(stream.get("OpenShardCount") or 1)
    hourly = shards * pricing.price("kinesis_efo_usd_per_consumer_shard_hour")
    return Estimate(
        hourly * policy.ttl_hours,
        str(p.get("ConsumerName", "")),
        hourly,
        detail={"shards": shards, "basis": "enhanced fan-out per consumer-shard-hour"},
    )


# --------------------------------------------------------------------------- Firehose, Athena


def firehose_stream(p: dict[str, Any], policy: Policy) -> Estimate:
    return Estimate(
        0.0,
        str(p.get("DeliveryStreamName", "")),
        detail={
            "basis": f"no hourly charge; ${pricing.price('firehose_usd_per_gb_ingested')}/GB ingested"
        },
    )


def athena_query(p: dict[str, Any], policy: Policy) -> Estimate:
    per_tb = pricing.price("athena_usd_per_tb_scanned")
    minimum = pricing.price("athena_minimum_bytes_per_query")
    wg = policy.lookup("workgroup", str(p.get("WorkGroup") or "primary")) or {}
    cutoff = (wg.get("Configuration") or {}).get("BytesScannedCutoffPerQuery")
    worst = float(cutoff) if cutoff else minimum
    return Estimate(
        worst / 1e12 * per_tb,
        str(p.get("QueryString", ""))[:60],
        detail={
            "basis": "10 MB minimum per query, or the workgroup's BytesScannedCutoffPerQuery; "
            "actual from DataScannedInBytes",
            "cutoff_bytes": cutoff,
        },
    )


def athena_cost(scanned_bytes: int) -> float:
    """Return Athena's charge for a query that scanned ``scanned_bytes`` (10 MB minimum)."""
    billed = max(int(scanned_bytes), int(pricing.price("athena_minimum_bytes_per_query")))
    return billed / 1e12 * pricing.price("athena_usd_per_tb_scanned")


# --------------------------------------------------------------------------- more SageMaker


def _endpoint_variants(endpoint_name: str, policy: Policy) -> dict[str, dict[str, Any]]:
    """The production variants of an existing endpoint's config, by variant name (or refuse)."""
    ep = policy.lookup("endpoint", endpoint_name)
    cfg = policy.lookup("endpoint_config", str(ep.get("EndpointConfigName"))) if ep else None
    if cfg is None:
        raise Refusal(
            f"endpoint {endpoint_name!r} (or its config) was not found in the client's region, "
            "so the change cannot be priced",
            "create the endpoint first, in the region of this client",
        )
    return {str(v.get("VariantName")): v for v in cfg.get("ProductionVariants") or []}


def update_endpoint_capacity(p: dict[str, Any], policy: Policy) -> Estimate:
    """UpdateEndpointWeightsAndCapacities: each ``DesiredInstanceCount`` for the TTL."""
    name = str(p.get("EndpointName", ""))
    variants = _endpoint_variants(name, policy)
    hourly = 0.0
    for i, d in enumerate(p.get("DesiredWeightsAndCapacities") or []):
        if d.get("DesiredInstanceCount") is None:
            continue
        v = variants.get(str(d.get("VariantName")))
        if v is None:
            raise Refusal(f"variant {d.get('VariantName')!r} is not on {name!r}", "name a variant")
        n = count(d["DesiredInstanceCount"], f"DesiredWeightsAndCapacities[{i}]", policy)
        hourly += instance_hourly("hosting", v.get("InstanceType"), policy, "variant") * n
    return Estimate(
        hourly * policy.ttl_hours, name, hourly, "hosting", {"ttl_hours": policy.ttl_hours}
    )


def update_training_job(p: dict[str, Any], policy: Policy) -> Estimate:
    """UpdateTrainingJob: new profiler rules and a warm pool's keep-alive period are priced."""
    name = str(p.get("TrainingJobName", ""))
    job = policy.lookup("training_job", name)
    if job is None:
        raise Refusal(f"training job {name!r} was not found in the client's region", "name a job")
    rc = job.get("ResourceConfig") or {}
    hourly = instance_hourly(
        "training", rc.get("InstanceType"), policy, "ResourceConfig.InstanceType"
    )
    hourly *= int(rc.get("InstanceCount") or 1)
    seconds = int((job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") or 0)
    rules = _rules_hourly(p, policy, "")
    keep = _keep_alive_seconds(p.get("ResourceConfig") or {}, "", policy)
    usd = rules * seconds / 3600.0 + hourly * keep / 3600.0
    return Estimate(usd, f"{name}#update", detail={"rules_hourly": rules, "keep_alive_s": keep})


def inference_component(p: dict[str, Any], policy: Policy) -> Estimate:
    """CreateInferenceComponent / UpdateInferenceComponent: copies run on the endpoint's
    instances (priced at CreateEndpoint with ManagedInstanceScaling.MaxInstanceCount); the
    copy count is bounded and the endpoint must exist."""
    name = str(p.get("EndpointName") or p.get("InferenceComponentName") or "")
    copies = (p.get("RuntimeConfig") or {}).get("CopyCount", 1)
    count(copies, "RuntimeConfig.CopyCount", policy)
    if p.get("EndpointName"):
        _endpoint_variants(str(p["EndpointName"]), policy)
    return Estimate(
        0.0,
        str(p.get("InferenceComponentName", name)),
        detail={"basis": "runs on the endpoint's instances, priced at CreateEndpoint"},
    )


def monitoring_schedule_update(p: dict[str, Any], policy: Policy) -> Estimate:
    """UpdateMonitoringSchedule: priced like a new schedule (the new job definition, TTL runs)."""
    return monitoring_schedule(p, policy)


# --------------------------------------------------------------------------- data services


def kinesis_split_shard(p: dict[str, Any], policy: Policy) -> Estimate:
    """SplitShard adds one open shard: the stream's new shard count must stay within bounds."""
    ref = str(p.get("StreamARN") or p.get("StreamName") or "")
    stream = policy.lookup("stream", ref)
    if stream is None:
        raise Refusal(f"stream {ref!r} was not found in the client's region", "name a stream")
    shards = _shard_count(int(stream.get("OpenShardCount") or 0) + 1, "the new shard count", policy)
    hourly = pricing.price("kinesis_usd_per_shard_hour")
    name = p.get("StreamName") or ref.rsplit("/", 1)[-1]
    return Estimate(hourly * policy.ttl_hours, f"{name}#split", hourly, detail={"shards": shards})


def kinesis_stream_mode(p: dict[str, Any], policy: Policy) -> Estimate:
    """UpdateStreamMode to ON_DEMAND bills per stream-hour."""
    mode = (p.get("StreamModeDetails") or {}).get("StreamMode")
    hourly = pricing.price("kinesis_on_demand_usd_per_stream_hour") if mode == "ON_DEMAND" else 0.0
    name = str(p.get("StreamARN", "")).rsplit("/", 1)[-1]
    return Estimate(hourly * policy.ttl_hours, f"{name}#mode", hourly, detail={"mode": mode})


def glue_crawler_definition(p: dict[str, Any], policy: Policy) -> Estimate | None:
    """CreateCrawler / UpdateCrawler: a ``Schedule`` would start runs on the account's behalf."""
    if p.get("Schedule"):
        raise Refusal(
            f"the crawler has Schedule {p['Schedule']!r}: Glue would start (and bill) runs on "
            "its own, after the lab ends",
            "drop Schedule and start the crawler yourself (glue.start_crawler)",
        )
    return None


def s3_select(p: dict[str, Any], policy: Policy) -> Estimate:
    """SelectObjectContent: the object's size scanned and returned (looked up; miss refuses)."""
    key = f"{p.get('Bucket')}/{p.get('Key')}"
    head = policy.lookup("s3_object", key)
    if head is None:
        raise Refusal(f"object s3://{key} was not found, so the scan cannot be priced", "name it")
    gb = float(head.get("ContentLength") or 0) / 1e9
    per_gb = pricing.price("s3_select_usd_per_gb_scanned") + pricing.price(
        "s3_select_usd_per_gb_returned"
    )
    return Estimate(gb * per_gb, key, detail={"bytes": head.get("ContentLength")})


def kms_key(p: dict[str, Any], policy: Policy) -> Estimate:
    """CreateKey: USD 1 a key-month, pro rata for the TTL (teardown schedules its deletion)."""
    if p.get("MultiRegion"):
        raise Refusal("multi-Region keys bill a key in every replica Region", "drop MultiRegion")
    hourly = pricing.price("kms_usd_per_key_month") / pricing.price("hours_per_month")
    return Estimate(
        hourly * policy.ttl_hours, "kms-key", hourly, detail={"ttl_hours": policy.ttl_hours}
    )


def metric_alarm(p: dict[str, Any], policy: Policy) -> Estimate:
    """PutMetricAlarm: USD 0.10 an alarm-month pro rata; alarm actions must not launch things."""
    for action in p.get("AlarmActions") or []:
        if ":autoscaling:" in str(action) and ":scalingPolicy:" not in str(action):
            raise Refusal("the alarm acts on an EC2 Auto Scaling group", "drop the action")
        if ":ec2:" in str(action) or ":ssm" in str(action) or ":lambda:" in str(action):
            raise Refusal(
                f"alarm action {action} starts work on the account's behalf",
                "use SNS topics or Application Auto Scaling policies as alarm actions",
            )
    hourly = pricing.price("cloudwatch_alarm_usd_per_month") / pricing.price("hours_per_month")
    return Estimate(hourly * policy.ttl_hours, str(p.get("AlarmName", "")), hourly)


#: Where an SNS subscription or an EventBridge target only delivers messages (nothing runs).
PASSIVE_PROTOCOLS = frozenset({"sqs", "email", "email-json"})
PASSIVE_TARGET_SERVICES = frozenset({"sqs", "sns", "logs"})


def kinesis_enhanced_monitoring(p: dict[str, Any], policy: Policy) -> Estimate:
    """EnableEnhancedMonitoring: each shard-level metric of each shard is a CloudWatch metric
    (USD 0.30 a metric-month pro rata) until the stream is deleted or monitoring disabled."""
    metrics = list(p.get("ShardLevelMetrics") or [])
    ref = str(p.get("StreamARN") or p.get("StreamName") or "")
    stream = policy.lookup("stream", ref)
    if stream is None:
        raise Refusal(
            f"stream {ref!r} was not found in the client's region, so its shard-level metrics "
            "cannot be priced",
            "create the stream first, in the region of this client",
        )
    shards = int(stream.get("OpenShardCount") or 1)
    count = shards * (7 if "ALL" in metrics else len(metrics))
    hourly = (
        count * pricing.price("cloudwatch_metric_usd_per_month") / pricing.price("hours_per_month")
    )
    name = p.get("StreamName") or ref.rsplit("/", 1)[-1]
    return Estimate(
        hourly * policy.ttl_hours,
        f"{name}#shard-metrics",
        hourly,
        detail={"shards": shards, "metrics": count, "basis": "CloudWatch metric-months"},
    )


def sns_subscription(p: dict[str, Any], policy: Policy) -> Estimate:
    """Subscribe: a queue or e-mail subscription only delivers; others run or bill per message."""
    protocol = str(p.get("Protocol", "")).lower()
    if protocol not in PASSIVE_PROTOCOLS:
        raise Refusal(
            f"an SNS subscription with Protocol {protocol!r} runs or bills on the account's "
            "behalf for every message (Lambda, HTTP, SMS, Firehose, mobile push)",
            "subscribe an SQS queue (or an e-mail address) instead",
        )
    return Estimate(0.0, str(p.get("TopicArn", "")), detail={"protocol": protocol})


def eventbridge_targets(p: dict[str, Any], policy: Policy) -> Estimate:
    """PutTargets: rule targets run on the account's behalf; only delivering ones are admitted."""
    for target in p.get("Targets") or []:
        arn = str(target.get("Arn", ""))
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service not in PASSIVE_TARGET_SERVICES:
            raise Refusal(
                f"rule target {arn or target.get('Id')!r} runs on the account's behalf "
                "whenever the rule matches, also after the lab ends",
                "target an SQS queue, an SNS topic or a CloudWatch Logs log group",
            )
    return Estimate(0.0, str(p.get("Rule", "")), detail={"targets": len(p.get("Targets") or [])})


def vpc_endpoint(p: dict[str, Any], policy: Policy) -> Estimate:
    """CreateVpcEndpoint: gateway endpoints are free; interface endpoints bill per AZ-hour."""
    kind = p.get("VpcEndpointType") or "Gateway"
    if kind == "Gateway":
        return Estimate(0.0, str(p.get("ServiceName", "")), detail={"type": kind})
    if kind != "Interface":
        raise Refusal(
            f"VpcEndpointType {kind!r} is not one the labs use", "use Gateway or Interface"
        )
    azs = max(1, len(p.get("SubnetIds") or []))
    if azs > 3:
        raise Refusal(f"the endpoint spans {azs} subnets; this lab allows 3", "name <= 3 subnets")
    hourly = azs * pricing.price("vpc_interface_endpoint_usd_per_az_hour")
    return Estimate(
        hourly * policy.ttl_hours, str(p.get("ServiceName", "")), hourly, detail={"azs": azs}
    )


def _scaling_target(resource_id: str, max_capacity: Any, policy: Policy, where: str) -> float:
    """Hourly worst case of a SageMaker variant scaled to ``max_capacity`` instances."""
    n = count(max_capacity, where, policy)
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
        raise Refusal(
            f"ResourceId {resource_id!r} is not a SageMaker endpoint variant; only variants scale "
            "in the labs",
            "use ResourceId='endpoint/<endpoint>/variant/<variant>'",
        )
    v = _endpoint_variants(parts[1], policy).get(parts[3])
    if v is None:
        raise Refusal(f"variant {parts[3]!r} is not on endpoint {parts[1]!r}", "name a variant")
    if v.get("ServerlessConfig"):
        return 0.0
    return instance_hourly("hosting", v.get("InstanceType"), policy, "the variant") * n


def scalable_target(p: dict[str, Any], policy: Policy) -> Estimate:
    """RegisterScalableTarget: the variant at ``MaxCapacity`` for the TTL."""
    if p.get("ServiceNamespace") != "sagemaker":
        raise Refusal(
            f"scaling {p.get('ServiceNamespace')!r} resources is outside every lab",
            "scale SageMaker endpoint variants only",
        )
    hourly = _scaling_target(
        str(p.get("ResourceId", "")), p.get("MaxCapacity", 1), policy, "MaxCapacity"
    )
    return Estimate(hourly * policy.ttl_hours, str(p.get("ResourceId", "")), hourly, "hosting")


def scheduled_action(p: dict[str, Any], policy: Policy) -> Estimate:
    """PutScheduledAction: a scheduled MaxCapacity is priced like a scalable target."""
    if p.get("ServiceNamespace") != "sagemaker":
        raise Refusal("scheduled scaling outside SageMaker is outside every lab", "drop it")
    action = p.get("ScalableTargetAction") or {}
    hourly = _scaling_target(
        str(p.get("ResourceId", "")),
        action.get("MaxCapacity", 1),
        policy,
        "ScalableTargetAction.MaxCapacity",
    )
    return Estimate(hourly * policy.ttl_hours, str(p.get("ResourceId", "")), hourly, "hosting")
