"""The cleanup check: prove that a lab run left nothing billable behind (every lab's last cell).

Scoped to one lab run: it looks at what this run created (the guard's record and the ledger,
as :mod:`mllab.teardown` does) and at everything tagged ``mllab:run=<this run>`` in the account
(as ``mllab sweep`` does), then asks AWS whether each is still there or still running.

Besides SageMaker, Kinesis, Firehose and Glue it covers the deleter registry's kinds that bill
or store while they exist (:data:`REGISTRY_BILLABLE`): Bedrock AgentCore runtimes, runtime
endpoints, gateways and targets, memories; Lambda functions; S3 Vectors buckets and indexes;
Bedrock knowledge bases, guardrails, custom models (and a customisation job still training),
provisioned throughput and custom-model deployments; OpenSearch Serverless collections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mllab.checks.core import CheckFailed

#: Kinds that bill while they exist or run (models and endpoint configs cost nothing).
BILLABLE = (
    "monitoring-schedule",
    "endpoint",
    "training-job",
    "tuning-job",
    "processing-job",
    "transform-job",
    "stream-consumer",
    "delivery-stream",
    "stream",
    "crawler",
)

_HOW = {
    "endpoint": "sm.delete_endpoint(EndpointName={n!r})",
    "monitoring-schedule": "sm.delete_monitoring_schedule(MonitoringScheduleName={n!r})",
    "training-job": "sm.stop_training_job(TrainingJobName={n!r})",
    "tuning-job": "sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName={n!r})",
    "processing-job": "sm.stop_processing_job(ProcessingJobName={n!r})",
    "transform-job": "sm.stop_transform_job(TransformJobName={n!r})",
    "stream-consumer": "kinesis.deregister_stream_consumer(StreamARN=..., ConsumerName={n!r})",
    "delivery-stream": "firehose.delete_delivery_stream(DeliveryStreamName={n!r})",
    "stream": "kinesis.delete_stream(StreamName={n!r}, EnforceConsumerDeletion=True)",
    "crawler": "glue.stop_crawler(Name={n!r})",
    "model": "sm.delete_model(ModelName={n!r})",
    "endpoint-config": "sm.delete_endpoint_config(EndpointConfigName={n!r})",
}


@dataclass(frozen=True)
class Leftover:
    """A resource of this run that still costs money.

    Attributes:
        kind: ``endpoint``, ``stream``, ``training-job``...
        name: its name.
        state: what AWS says about it (``InService``, ``ACTIVE``, ``InProgress``...).
        fix: the call that removes or stops it.
    """

    kind: str
    name: str
    state: str
    fix: str


def _gone(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    msg = err.response.get("Error", {}).get("Message", "").lower()
    return (
        "NotFound" in code
        or "not found" in msg
        or "could not find" in msg
        or (code == "ValidationException" and ("does not exist" in msg or "not exist" in msg))
    )


def _state(lab: Any, kind: str, name: str, extra: str = "") -> str | None:
    """The resource's billable state, or None when it is gone, finished or idle."""
    from mllab.teardown import JOB_CALLS

    sm = lab.client("sagemaker")
    try:
        if kind == "endpoint":
            return str(sm.describe_endpoint(EndpointName=name)["EndpointStatus"])
        if kind == "monitoring-schedule":
            s = sm.describe_monitoring_schedule(MonitoringScheduleName=name)
            st = str(s.get("MonitoringScheduleStatus", ""))
            return st if st in ("Pending", "Scheduled") else None
        if kind in JOB_CALLS:
            op, _stop, key, status = JOB_CALLS[kind]
            st = str(getattr(sm, op)(**{key: name})[status])
            return st if st in ("InProgress", "Stopping") else None
        if kind == "stream":
            st = lab.client("kinesis").describe_stream_summary(StreamName=name)
            status = str(st["StreamDescriptionSummary"]["StreamStatus"])
            return None if status == "DELETING" else status
        if kind == "stream-consumer":
            if not extra:
                return None
            c = lab.client("kinesis").describe_stream_consumer(StreamARN=extra, ConsumerName=name)
            return str(c["ConsumerDescription"]["ConsumerStatus"])
        if kind == "delivery-stream":
            d = lab.client("firehose").describe_delivery_stream(DeliveryStreamName=name)
            status = str(d["DeliveryStreamDescription"]["DeliveryStreamStatus"])
            return None if status == "DELETING" else status
        if kind == "crawler":
            st = str(lab.client("glue").get_crawler(Name=name)["Crawler"].get("State", ""))
            return st if st in ("RUNNING", "STOPPING") else None
        if kind == "model":
            sm.describe_model(ModelName=name)
            return "exists"
        if kind == "endpoint-config":
            sm.describe_endpoint_config(EndpointConfigName=name)
            return "exists"
    except ClientError as err:
        if _gone(err):
            return None
        raise
    return None


# --------------------------------------------------------------------------- registry kinds
# Kinds of the admission table's deleter registry (mllab.guard.admission.DELETERS) beyond the
# SageMaker/Kinesis/Firehose/Glue ones above: found from what this run recorded and from the
# tag inventory (mllab.teardown.run_targets), then asked whether each is still there. A
# name is recorded in several forms (the request's name, the id AWS gave, an ARN): each
# lookup resolves the form it can to one canonical name and ignores the ones it cannot
# (a bare endpoint or target name, which the inventory finds in full).

#: Registry kinds that bill, or store something, while they exist (in deletion order).
REGISTRY_BILLABLE = (
    "bedrock-provisioned-throughput",
    "bedrock-custom-model-deployment",
    "bedrock-custom-model",
    "agentcore-runtime-endpoint",
    "agentcore-gateway-target",
    "agentcore-runtime",
    "agentcore-gateway",
    "agentcore-memory",
    "bedrock-knowledge-base",
    "aoss-collection",
    "bedrock-guardrail",
    "s3vectors-index",
    "s3vectors-bucket",
    "lambda-function",
)
#: Registry kinds that cost nothing while they exist (listed with ``include_free``).
REGISTRY_FREE = ("bedrock-prompt",)

_CTL = "bedrock-agentcore-control"
_ENDED = {"DELETING", "Deleting", "DELETED"}


def _items(client: Any, op: str, key: str, **kw: Any) -> list[dict[str, Any]]:
    from mllab.guard.declarations._util import paginate

    return list(paginate(client, op, key, token_key="nextToken", **kw))


def _live_state(status: Any) -> str | None:
    st = str(status or "exists")
    return None if st in _ENDED else st


def _runtime(c: Any, name: str) -> tuple[str, str] | None:
    for rt in _items(c, "list_agent_runtimes", "agentRuntimes"):
        if name in (rt["agentRuntimeId"], rt["agentRuntimeName"], rt["agentRuntimeArn"]):
            rid = str(rt["agentRuntimeId"])
            st = _live_state(c.get_agent_runtime(agentRuntimeId=rid).get("status"))
            return (rid, st) if st else None
    return None


def _runtime_endpoint(c: Any, name: str) -> tuple[str, str] | None:
    if "/runtime-endpoint/" not in name:
        return None  # the bare endpoint name: the inventory finds it by its ARN
    runtime, endpoint = name.split("/runtime-endpoint/", 1)
    rid = runtime.rsplit("/", 1)[-1]
    if endpoint == "DEFAULT":
        return None  # goes with its runtime
    ep = c.get_agent_runtime_endpoint(agentRuntimeId=rid, endpointName=endpoint)
    st = _live_state(ep.get("status"))
    return (f"{rid}/runtime-endpoint/{endpoint}", st) if st else None


def _gateway(c: Any, name: str) -> tuple[str, str] | None:
    for gw in _items(c, "list_gateways", "items"):
        if name in (gw["gatewayId"], gw.get("name")):
            st = _live_state(gw.get("status"))
            return (str(gw["gatewayId"]), st) if st else None
    return None


def _gateway_target(c: Any, name: str) -> tuple[str, str] | None:
    if "/" not in name:
        return None  # the bare target name: the inventory finds it as <gateway>/<target>
    gid, tid = name.split("/", 1)
    for t in _items(c, "list_gateway_targets", "items", gatewayIdentifier=gid):
        if tid in (t["targetId"], t.get("name")):
            st = _live_state(t.get("status"))
            return (f"{gid}/{t['targetId']}", st) if st else None
    return None


def _memory(c: Any, name: str) -> tuple[str, str] | None:
    for m in _items(c, "list_memories", "memories"):
        # a memory's id is <name>-<suffix>; its summary has no name
        if name in (m["id"], m.get("arn")) or str(m["id"]).startswith(name + "-"):
            st = _live_state(m.get("status"))
            return (str(m["id"]), st) if st else None
    return None


def _registry_state(lab: Any, kind: str, region: str, name: str) -> tuple[str, str] | None:
    """``(canonical name, state)`` of a registry resource that is still there, else None."""

    def client(service: str) -> Any:
        return lab.client(service, region_name=region)

    try:
        if kind == "agentcore-runtime":
            return _runtime(client(_CTL), name)
        if kind == "agentcore-runtime-endpoint":
            return _runtime_endpoint(client(_CTL), name)
        if kind == "agentcore-gateway":
            return _gateway(client(_CTL), name)
        if kind == "agentcore-gateway-target":
            return _gateway_target(client(_CTL), name)
        if kind == "agentcore-memory":
            return _memory(client(_CTL), name)
        if kind == "lambda-function":
            fn = client("lambda").get_function_configuration(FunctionName=name)
            return str(fn["FunctionName"]), str(fn.get("State") or "exists")
        if kind == "s3vectors-bucket":
            client("s3vectors").get_vector_bucket(vectorBucketName=name)
            return name, "exists"
        if kind == "s3vectors-index":
            if name.startswith("arn:"):
                kw = {"indexArn": name}
            elif "/" in name:
                bucket, index = name.split("/", 1)
                kw = {"vectorBucketName": bucket, "indexName": index}
            else:
                return None  # a bucket name recorded by CreateIndex: the inventory has the ARN
            idx = client("s3vectors").get_index(**kw)["index"]
            return str(idx["indexArn"]), "exists"
        if kind == "bedrock-knowledge-base":
            agent = client("bedrock-agent")
            for kb in _items(agent, "list_knowledge_bases", "knowledgeBaseSummaries"):
                if name in (kb["knowledgeBaseId"], kb["name"]):
                    st = _live_state(kb.get("status"))
                    return (str(kb["knowledgeBaseId"]), st) if st else None
            return None
        if kind == "aoss-collection":
            found = client("opensearchserverless").batch_get_collection(names=[name])
            for col in found.get("collectionDetails") or []:
                st = _live_state(col.get("status"))
                return (name, st) if st else None
            return None
        if kind == "bedrock-guardrail":
            br = client("bedrock")
            for g in _items(br, "list_guardrails", "guardrails"):
                if name in (g["id"], g["name"], g["arn"]):
                    st = _live_state(g.get("status"))
                    return (str(g["id"]), st) if st else None
            return None
        if kind == "bedrock-prompt":
            agent = client("bedrock-agent")
            for p in _items(agent, "list_prompts", "promptSummaries"):
                if name in (p["id"], p["name"], p["arn"]):
                    return str(p["id"]), "exists"
            return None
        if kind == "bedrock-provisioned-throughput":
            pt = client("bedrock").get_provisioned_model_throughput(provisionedModelId=name)
            st = _live_state(pt.get("status"))
            return (str(pt["provisionedModelArn"]), st) if st else None
        if kind == "bedrock-custom-model-deployment":
            dep = client("bedrock").get_custom_model_deployment(
                customModelDeploymentIdentifier=name
            )
            st = _live_state(dep.get("status"))
            return (str(dep["customModelDeploymentArn"]), st) if st else None
        if kind == "bedrock-custom-model":
            br = client("bedrock")
            try:
                model = br.get_custom_model(modelIdentifier=name)
                return str(model["modelName"]), "exists (storage bills monthly)"
            except ClientError as err:
                if not _gone(err):
                    raise
            # the job that makes it (recorded by its job name) may still be training
            job = br.get_model_customization_job(jobIdentifier=name)
            st = str(job.get("status", ""))
            return (f"job {name}", st) if st == "InProgress" else None
    except ClientError as err:
        if _gone(err):
            return None
        raise
    return None


def _registry_fix(kind: str, name: str) -> str:
    """The call that deletes one registry resource (named as :func:`_registry_state` gives)."""
    if kind == "agentcore-runtime-endpoint":
        rid, ep = name.split("/runtime-endpoint/", 1)
        return f"agentcore_control.delete_agent_runtime_endpoint(agentRuntimeId={rid!r}, endpointName={ep!r})"
    if kind == "agentcore-gateway-target":
        gid, tid = name.split("/", 1)
        return (
            f"agentcore_control.delete_gateway_target(gatewayIdentifier={gid!r}, targetId={tid!r})"
        )
    if kind == "s3vectors-index":
        return f"s3vectors.delete_index(indexArn={name!r})"
    if kind == "bedrock-custom-model" and name.startswith("job "):
        return f"bedrock.stop_model_customization_job(jobIdentifier={name[4:]!r}), then delete the model"
    how = {
        "agentcore-runtime": "agentcore_control.delete_agent_runtime(agentRuntimeId={n!r})",
        "agentcore-gateway": "agentcore_control.delete_gateway(gatewayIdentifier={n!r}) "
        "(its targets first)",
        "agentcore-memory": "agentcore_control.delete_memory(memoryId={n!r})",
        "lambda-function": "lambda_client.delete_function(FunctionName={n!r})",
        "s3vectors-bucket": "s3vectors.delete_vector_bucket(vectorBucketName={n!r}) "
        "(its indexes first)",
        "bedrock-knowledge-base": "bedrock_agent.delete_knowledge_base(knowledgeBaseId={n!r}) "
        "(its data sources first)",
        "aoss-collection": "aoss.delete_collection(id=...) for the collection {n!r}",
        "bedrock-guardrail": "bedrock.delete_guardrail(guardrailIdentifier={n!r})",
        "bedrock-prompt": "bedrock_agent.delete_prompt(promptIdentifier={n!r})",
        "bedrock-provisioned-throughput": "bedrock.delete_provisioned_model_throughput("
        "provisionedModelId={n!r})",
        "bedrock-custom-model-deployment": "bedrock.delete_custom_model_deployment("
        "customModelDeploymentIdentifier={n!r})",
        "bedrock-custom-model": "bedrock.delete_custom_model(modelIdentifier={n!r})",
    }
    return how.get(kind, "lab.close()").format(n=name)


def _registry_leftovers(lab: Any, include_free: bool) -> list[Leftover]:
    from mllab.teardown import run_targets

    kinds = set(REGISTRY_BILLABLE) | (set(REGISTRY_FREE) if include_free else set())
    out: dict[tuple[str, str], Leftover] = {}
    for kind, region, name in run_targets(lab):
        if kind not in kinds:
            continue
        live = _registry_state(lab, kind, region, name)
        if live is None:
            continue
        canonical, state = live
        out.setdefault(
            (kind, canonical), Leftover(kind, canonical, state, _registry_fix(kind, canonical))
        )
    return list(out.values())


def billable_leftovers(lab: Any, *, include_free: bool = False) -> list[Leftover]:
    """List what this lab run created that still bills (read-only; costs nothing).

    Args:
        lab: the open lab.
        include_free: also list models, endpoint configs and Bedrock prompts (they cost
            nothing but clutter).

    Returns:
        The leftovers, endpoints first, then the registry kinds in deletion order.
    """
    from mllab.teardown import KINDS, find_leftovers, run_resources

    kinds = set(BILLABLE) | ({"model", "endpoint-config"} if include_free else set())
    found = {key: r.extra for key, r in run_resources(lab).items() if r.kind in kinds}
    try:
        for r in find_leftovers(lab.session, lab=lab.name):
            if r.run == lab.run_id and r.kind in kinds:
                found.setdefault((r.kind, r.name), r.extra)
    except ClientError:
        pass
    out = []
    for (kind, name), extra in found.items():
        state = _state(lab, kind, name, extra)
        if state:
            out.append(Leftover(kind, name, state, _HOW.get(kind, "").format(n=name)))
    out.extend(_registry_leftovers(lab, include_free))
    order = {k: i for i, k in enumerate((*KINDS, *REGISTRY_BILLABLE, *REGISTRY_FREE))}
    out.sort(key=lambda r: (order.get(r.kind, 99), r.name))
    return out


def nothing_billable_left(lab: Any, *, include_free: bool = False) -> str:
    """Check that this lab run left nothing billable: the check of every lab's cleanup cell.

    Args:
        lab: the open lab.
        include_free: also require models and endpoint configs to be deleted.

    Returns:
        A one-line summary for the PASS line.

    Raises:
        CheckFailed: something still exists or runs; the message lists each with the call
            that removes it (or run ``lab.teardown()``).
    """
    left = billable_leftovers(lab, include_free=include_free)
    if left:
        lines = "\n".join(f"  - {r.kind} {r.name!r} is {r.state}: {r.fix}" for r in left)
        raise CheckFailed(
            f"{len(left)} billable resource(s) of this lab run are still there:\n{lines}\n"
            "Delete them (lab.teardown() deletes this run's SageMaker, Kinesis, Firehose and Glue "
            "resources; lab.close() every kind the guard admits)."
        )
    return "nothing billable left by this lab run"
