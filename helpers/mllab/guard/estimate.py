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

#: Requests refused by default: always-on, unbounded or outside every lab.
REFUSED: dict[tuple[str, str], str] = {
    ("sagemaker", "CreateNotebookInstance"): "notebook instances bill every hour until stopped",
    ("sagemaker", "StartNotebookInstance"): "notebook instances bill every hour until stopped",
    ("sagemaker", "CreateDomain"): "Studio domains create always-on storage and apps",
    ("sagemaker", "CreateUserProfile"): "Studio user profiles belong to a Studio domain",
    ("sagemaker", "CreateSpace"): "Studio spaces bill while their apps run",
    ("sagemaker", "CreateApp"): "Studio apps bill every hour until deleted",
    ("sagemaker", "CreateCluster"): "HyperPod clusters are provisioned, always-on capacity",
    ("sagemaker", "CreateLabelingJob"): "Ground Truth labeling jobs pay human workers per object",
    ("sagemaker", "CreateInferenceRecommendationsJob"): (
        "Inference Recommender load-tests many instance types at once"
    ),
    ("sagemaker", "CreateAutoMLJob"): "Autopilot runs many training jobs with no lab-set bound",
    ("sagemaker", "CreateAutoMLJobV2"): "Autopilot runs many training jobs with no lab-set bound",
    ("sagemaker", "CreateMlflowTrackingServer"): "MLflow tracking servers bill every hour",
    ("sagemaker", "CreateOptimizationJob"): "optimization jobs run on accelerated instances",
    ("emr", "RunJobFlow"): "EMR clusters are provisioned, always-on capacity",
    ("redshift", "CreateCluster"): "Redshift clusters are provisioned, always-on capacity",
    ("kafka", "CreateCluster"): "MSK clusters are provisioned, always-on brokers",
    ("kafka", "CreateClusterV2"): "MSK clusters are provisioned, always-on brokers",
    ("kinesis-analytics-v2", "CreateApplication"): (
        "Managed Service for Apache Flink applications bill per KPU-hour while running"
    ),
    ("opensearch", "CreateDomain"): "OpenSearch domains are provisioned, always-on capacity",
    ("ec2", "RunInstances"): "EC2 instances are outside every lab",
    ("ec2", "CreateNatGateway"): "NAT gateways bill every hour",
    ("glue", "CreateDevEndpoint"): "Glue development endpoints bill per DPU-hour until deleted",
    ("glue", "CreateSession"): "Glue interactive sessions bill while idle",
    ("comprehend", "CreateEndpoint"): "Comprehend custom endpoints bill every hour",
    ("rekognition", "StartProjectVersion"): "a running Custom Labels model bills every hour",
}


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
            ``"monitoring_job_definition"``, ``"pipeline"``) or None.
    """

    allowed_types: frozenset[str] = DEFAULT_ALLOWED_TYPES
    ttl_hours: float = 1.0
    max_runtime_seconds: int = 3600
    max_instances: int = 4
    max_shards: int = 10
    lookup: Callable[[str, str], dict[str, Any] | None] = field(default=lambda kind, name: None)


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


def _training_definition(defn: dict[str, Any], policy: Policy, where: str) -> tuple[float, float]:
    """Return (worst-case usd, hourly usd) of one training job definition."""
    seconds = runtime_seconds(defn.get("StoppingCondition"), f"{where}StoppingCondition", policy)
    rc = defn.get("ResourceConfig") or {}
    groups = rc.get("InstanceGroups")
    hourly_total = 0.0
    if groups:
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
    return hourly_total * seconds / 3600.0, hourly_total


# --------------------------------------------------------------------------- SageMaker


@estimator("sagemaker", "CreateTrainingJob")
def _training(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("sagemaker", "CreateHyperParameterTuningJob")
def _tuning(p: dict[str, Any], policy: Policy) -> Estimate:
    cfg = p.get("HyperParameterTuningJobConfig") or {}
    limits = cfg.get("ResourceLimits") or {}
    n = limits.get("MaxNumberOfTrainingJobs")
    if n is None:
        raise Refusal(
            "the tuning job is unbounded (ResourceLimits.MaxNumberOfTrainingJobs is missing)",
            "set HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs, e.g. 10",
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise Refusal(
            f"ResourceLimits.MaxNumberOfTrainingJobs is {n!r}; it must be at least 1",
            "set MaxNumberOfTrainingJobs to a small whole number, e.g. 10",
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


@estimator("sagemaker", "CreateProcessingJob")
def _processing(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("sagemaker", "CreateTransformJob")
def _transform(p: dict[str, Any], policy: Policy) -> Estimate:
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
                detail[name] = {"serverless_memory_mb": mem, "max_concurrency": conc}
            else:
                price = instance_hourly(
                    "hosting", v.get("InstanceType"), policy, f"{where}.InstanceType"
                )
                n = count(v.get("InitialInstanceCount"), f"{where}.InitialInstanceCount", policy)
                per_hour = price * n
                detail[name] = {"instance_type": v.get("InstanceType"), "instances": n}
            total += per_hour
    return total, detail


@estimator(
    "sagemaker",
    "CreateEndpointConfig",
)
def _endpoint_config(p: dict[str, Any], policy: Policy) -> Estimate | None:
    _variants_hourly(p, policy)  # refuses disallowed types at the first call that names them
    return None


@estimator("sagemaker", "CreateEndpoint", "UpdateEndpoint")
def _endpoint(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator(
    "sagemaker",
    "CreateDataQualityJobDefinition",
    "CreateModelQualityJobDefinition",
    "CreateModelBiasJobDefinition",
    "CreateModelExplainabilityJobDefinition",
)
def _monitoring_definition(p: dict[str, Any], policy: Policy) -> Estimate | None:
    _monitoring_resources(p, policy, "JobResources.ClusterConfig")
    return None


@estimator("sagemaker", "CreateMonitoringSchedule")
def _monitoring_schedule(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("sagemaker", "CreateCompilationJob")
def _compilation(p: dict[str, Any], policy: Policy) -> Estimate:
    runtime_seconds(p.get("StoppingCondition"), "StoppingCondition", policy)
    return Estimate(
        0.0,
        str(p.get("CompilationJobName", "")),
        detail={"basis": "Neo compilation itself has no charge; the compiled model's host does"},
    )


# --------------------------------------------------------------------------- Pipelines

#: Step types that start billable jobs, and the request each step's Arguments is.
_PIPELINE_STEPS = {
    "Training": "_training",
    "Processing": "_processing",
    "Transform": "_transform",
    "Tuning": "_tuning",
}


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    """Replace ``{"Get": "Parameters.X"}`` by the parameter's value (other references stay)."""
    if isinstance(value, dict):
        if set(value) == {"Get"} and str(value["Get"]).startswith("Parameters."):
            return params.get(str(value["Get"]).split(".", 1)[1], value)
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _pipeline_steps(definition: Any) -> list[dict[str, Any]]:
    import json

    doc = json.loads(definition) if isinstance(definition, str) else dict(definition or {})
    steps: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for st in items or []:
            steps.append(st)
            args = st.get("Arguments") or {}
            if st.get("Type") == "Condition":
                walk(args.get("IfSteps") or st.get("IfSteps") or [])
                walk(args.get("ElseSteps") or st.get("ElseSteps") or [])

    walk(list(doc.get("Steps") or []))
    return steps


def pipeline_estimate(
    definition: Any, policy: Policy, overrides: dict[str, Any] | None = None
) -> tuple[float, dict[str, float]]:
    """Worst case of one pipeline execution: every job step run once (both condition branches).

    Returns:
        ``(dollars, {step name: dollars})``. Refuses like the job itself would be refused.
    """
    import json

    doc = json.loads(definition) if isinstance(definition, str) else dict(definition or {})
    params = {p["Name"]: p.get("DefaultValue") for p in doc.get("Parameters") or []}
    params.update(overrides or {})
    per_step: dict[str, float] = {}
    for st in _pipeline_steps(doc):
        fn = _PIPELINE_STEPS.get(str(st.get("Type")))
        if fn is None:
            continue
        args = _resolve(st.get("Arguments") or {}, params)
        try:
            est = globals()[fn](args, policy)
        except Refusal as r:
            raise Refusal(f"pipeline step {st.get('Name')!r}: {r.reason}", r.fix) from None
        per_step[str(st.get("Name"))] = est.usd
    return sum(per_step.values()), per_step


@estimator("sagemaker", "CreatePipeline", "UpdatePipeline")
def _pipeline_definition(p: dict[str, Any], policy: Policy) -> Estimate | None:
    definition = p.get("PipelineDefinition")
    if definition is None:
        return None  # a definition in S3 (PipelineDefinitionS3Location) is priced at start
    try:
        pipeline_estimate(definition, policy)  # refuses disallowed types and unbounded steps now
    except (ValueError, TypeError, AttributeError):
        return None  # not a valid definition: SageMaker answers with its ValidationException
    return None


@estimator("sagemaker", "StartPipelineExecution")
def _pipeline_execution(p: dict[str, Any], policy: Policy) -> Estimate:
    name = str(p.get("PipelineName", ""))
    found = policy.lookup("pipeline", name)
    if found is None:
        raise Refusal(
            f"pipeline {name!r} was not found, so its execution cannot be priced",
            "create the pipeline first (CreatePipeline)",
        )
    overrides = {x["Name"]: x["Value"] for x in p.get("PipelineParameters") or []}
    try:
        usd, per_step = pipeline_estimate(found.get("PipelineDefinition"), policy, overrides)
    except (ValueError, TypeError, AttributeError):
        usd, per_step = 0.0, {}  # SageMaker rejects the execution itself
    return Estimate(
        usd,
        name,
        detail={"steps": per_step, "basis": "every job step once, both condition branches"},
    )


# --------------------------------------------------------------------------- Glue


@estimator("glue", "StartJobRun")
def _glue_job_run(p: dict[str, Any], policy: Policy) -> Estimate:
    job = policy.lookup("glue_job", str(p.get("JobName"))) or {}
    timeout = p.get("Timeout", job.get("Timeout", 2880))
    cap_min = policy.max_runtime_seconds // 60
    if not isinstance(timeout, int) or timeout < 1 or timeout > cap_min:
        raise Refusal(
            f"the job run's Timeout is {timeout!r} minutes (Glue's default is 2880); "
            f"this lab allows at most {cap_min}",
            f"set Timeout <= {cap_min} (minutes) on the job or the run",
        )
    workers = p.get("NumberOfWorkers", job.get("NumberOfWorkers"))
    wtype = p.get("WorkerType", job.get("WorkerType"))
    if workers and wtype:
        if wtype not in GLUE_WORKER_DPU:
            raise Refusal(f"WorkerType {wtype!r} is unknown", "use G.1X")
        dpu = GLUE_WORKER_DPU[wtype] * int(workers)
    else:
        dpu = float(p.get("MaxCapacity", job.get("MaxCapacity") or 10.0))
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


@estimator("glue", "StartCrawler")
def _glue_crawler(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("kinesis", "CreateStream")
def _kinesis_create(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("kinesis", "UpdateShardCount")
def _kinesis_reshard(p: dict[str, Any], policy: Policy) -> Estimate:
    shards = _shard_count(p.get("TargetShardCount"), "TargetShardCount", policy)
    hourly = shards * pricing.price("kinesis_usd_per_shard_hour")
    name = p.get("StreamName") or str(p.get("StreamARN", "")).rsplit("/", 1)[-1]
    return Estimate(hourly * policy.ttl_hours, str(name), hourly, detail={"shards": shards})


@estimator("kinesis", "IncreaseStreamRetentionPeriod")
def _kinesis_retention(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("kinesis", "RegisterStreamConsumer")
def _kinesis_efo(p: dict[str, Any], policy: Policy) -> Estimate:
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


@estimator("firehose", "CreateDeliveryStream")
def _firehose(p: dict[str, Any], policy: Policy) -> Estimate:
    return Estimate(
        0.0,
        str(p.get("DeliveryStreamName", "")),
        detail={
            "basis": f"no hourly charge; ${pricing.price('firehose_usd_per_gb_ingested')}/GB ingested"
        },
    )


@estimator("athena", "StartQueryExecution")
def _athena(p: dict[str, Any], policy: Policy) -> Estimate:
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
