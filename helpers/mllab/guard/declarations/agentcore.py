"""Admission of Amazon Bedrock AgentCore operations, and of Bedrock Agents classic (lab 06).

AgentCore bills by use (``helpers/mllab/guard/agents_pricing.json``, dated, names its source):

* **Runtime**: vCPU-hours and GB-hours while a session is active. ``InvokeAgentRuntime`` is
  priced before it is sent at the worst case of one session window: the snapshot's session
  size (1 vCPU, 2 GB) for the runtime's ``idleRuntimeSessionTimeout`` (default 900 s; a call
  starts or extends a session by at most that much idle time). The model tokens the agent
  spends are priced per Converse call by the Bedrock estimator, as each call crosses the
  bridge: an agent that loops is refused when the budget runs out.
* **Gateway**: per tool call (``tools/call`` through the gateway's MCP endpoint) and per
  search; the gateway itself costs nothing idle.
* **Memory**: per short-term event created (``CreateEvent``), per retrieval
  (``RetrieveMemoryRecords``), and long-term records stored per month.

Creates (runtimes, endpoints, gateways, targets, memories) bill nothing by themselves and are
admitted with zero estimates and their deleters, so teardown and ``mllab sweep`` remove them.
Bedrock Agents classic is closed to new accounts (``AccessDeniedException``): its operations
are declared read/free so the learner sees AWS's refusal, not the guard's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mllab.guard import admission
from mllab.guard.declarations.lambda_ import prices
from mllab.guard.estimate import Estimate, Policy

CONTROL = "bedrock-agentcore-control"
DATA = "bedrock-agentcore"


def _snap() -> dict[str, Any]:
    return dict(prices()["agentcore"])


def session_hour_usd() -> float:
    """Dollars per hour of one active session (the snapshot's vCPU and GB)."""
    s = _snap()
    return float(s["runtime_session_vcpu"]) * float(s["runtime_usd_per_vcpu_hour"]) + float(
        s["runtime_session_gb"]
    ) * float(s["runtime_usd_per_gb_hour"])


def _idle_timeout(arn: str) -> float:
    try:
        from mllab.offline.agentcore import store

        for rt in store.STATE.runtimes.values():
            if rt.arn == arn or rt.id == arn or arn.startswith(rt.arn + "/"):
                life = rt.versions[rt.latest].config.get("lifecycleConfiguration") or {}
                return float(life.get("idleRuntimeSessionTimeout") or 900)
    except Exception:  # noqa: BLE001 - unknown runtime: the default
        pass
    return 900.0


def invoke_agent_runtime(params: dict[str, Any], policy: Policy) -> Estimate:
    """One session window of compute (vCPU-hours + GB-hours), worst case."""
    arn = str(params.get("agentRuntimeArn", ""))
    seconds = _idle_timeout(arn)
    usd = session_hour_usd() * seconds / 3600.0
    return Estimate(
        usd,
        arn,
        detail={
            "session_seconds": seconds,
            "vcpu": _snap()["runtime_session_vcpu"],
            "gb": _snap()["runtime_session_gb"],
            "basis": "1 session x idleRuntimeSessionTimeout at the snapshot's vCPU and GB; "
            "model tokens are priced per Converse call",
        },
    )


def create_event(params: dict[str, Any], policy: Policy) -> Estimate:
    """One short-term memory event."""
    return Estimate(
        float(_snap()["memory_usd_per_1000_short_term_events"]) / 1000.0,
        str(params.get("memoryId", "")),
        detail={"basis": "per new short-term event"},
    )


def retrieve_records(params: dict[str, Any], policy: Policy) -> Estimate:
    """One long-term memory retrieval."""
    return Estimate(
        float(_snap()["memory_usd_per_1000_retrievals"]) / 1000.0,
        str(params.get("memoryId", "")),
        detail={"basis": "per retrieval"},
    )


def batch_records(params: dict[str, Any], policy: Policy) -> Estimate:
    """Long-term records stored for a month."""
    n = len(params.get("records") or [])
    return Estimate(
        n * float(_snap()["memory_usd_per_1000_long_term_records_month"]) / 1000.0,
        str(params.get("memoryId", "")),
        detail={"records": n, "basis": "records x one month of storage"},
    )


def _zero(kind: str) -> Any:
    def estimate(params: dict[str, Any], policy: Policy) -> Estimate:
        if kind == "agentcore-runtime-endpoint":
            # the deleter's name of an endpoint: <runtime id>/runtime-endpoint/<endpoint>
            name = f"{params.get('agentRuntimeId')}/runtime-endpoint/{params.get('name') or params.get('endpointName')}"
        elif kind == "agentcore-gateway-target":
            name = (
                f"{params.get('gatewayIdentifier')}/{params.get('name') or params.get('targetId')}"
            )
        else:
            name = str(
                params.get("agentRuntimeName")
                or params.get("agentRuntimeId")
                or params.get("name")
                or params.get("gatewayIdentifier")
                or params.get("memoryId")
                or ""
            )
        return Estimate(0.0, name, detail={"basis": f"an idle {kind} costs nothing"})

    return estimate


# --------------------------------------------------------------------------- deleters


def _client(session: Any, region: str) -> Any:
    return session.client(CONTROL, region_name=region)


def _items(c: Any, op: str, key: str, **kw: Any) -> list[dict[str, Any]]:
    """Every item of every page of an AgentCore list call (``nextToken``)."""
    from mllab.guard.declarations._util import paginate

    return list(paginate(c, op, key, token_key="nextToken", **kw))


def _quiet(fn: Any) -> str | None:
    from mllab.guard.declarations._util import quietly

    return quietly(fn)


def _delete_runtime(session: Any, region: str, name: str) -> str | None:
    c = _client(session, region)
    rid = name.rsplit("/", 1)[-1]
    for rt in _items(c, "list_agent_runtimes", "agentRuntimes"):
        if name in (rt["agentRuntimeId"], rt["agentRuntimeName"], rt["agentRuntimeArn"]):
            rid = rt["agentRuntimeId"]
    return _quiet(lambda: c.delete_agent_runtime(agentRuntimeId=rid))


def _find_runtimes(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    c = _client(session, region)
    for rt in _items(c, "list_agent_runtimes", "agentRuntimes"):
        tags = c.list_tags_for_resource(resourceArn=rt["agentRuntimeArn"]).get("tags") or {}
        yield rt["agentRuntimeId"], dict(tags)


def _delete_endpoint(session: Any, region: str, name: str) -> str | None:
    c = _client(session, region)
    if "/runtime-endpoint/" not in name:
        return None
    runtime, endpoint = name.split("/runtime-endpoint/")
    return _quiet(
        lambda: c.delete_agent_runtime_endpoint(
            agentRuntimeId=runtime.rsplit("/", 1)[-1], endpointName=endpoint
        )
    )


def _find_endpoints(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    c = _client(session, region)
    for rt in _items(c, "list_agent_runtimes", "agentRuntimes"):
        eps = _items(
            c,
            "list_agent_runtime_endpoints",
            "runtimeEndpoints",
            agentRuntimeId=rt["agentRuntimeId"],
        )
        for ep in eps:
            if ep["name"] == "DEFAULT":
                continue
            arn = ep["agentRuntimeEndpointArn"]
            tags = c.list_tags_for_resource(resourceArn=arn).get("tags") or {}
            yield arn, dict(tags)


def _delete_gateway(session: Any, region: str, name: str) -> str | None:
    c = _client(session, region)
    gid = name
    for gw in _items(c, "list_gateways", "items"):
        if name in (gw["gatewayId"], gw["name"]):
            gid = gw["gatewayId"]
    from mllab.guard.declarations._util import gone

    try:
        targets = _items(c, "list_gateway_targets", "items", gatewayIdentifier=gid)
    except Exception as err:  # noqa: BLE001 - already deleted: nothing to do
        if gone(err):
            return None
        raise
    for t in targets:
        _quiet(lambda t=t: c.delete_gateway_target(gatewayIdentifier=gid, targetId=t["targetId"]))
    return _quiet(lambda: c.delete_gateway(gatewayIdentifier=gid))


def _find_gateways(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    c = _client(session, region)
    for gw in _items(c, "list_gateways", "items"):
        arn = c.get_gateway(gatewayIdentifier=gw["gatewayId"])["gatewayArn"]
        tags = c.list_tags_for_resource(resourceArn=arn).get("tags") or {}
        yield gw["gatewayId"], dict(tags)


def _delete_target(session: Any, region: str, name: str) -> str | None:
    c = _client(session, region)
    if "/" not in name:
        return None
    gid, tid = name.split("/", 1)
    from mllab.guard.declarations._util import gone

    try:
        for t in _items(c, "list_gateway_targets", "items", gatewayIdentifier=gid):
            if t["name"] == tid:  # recorded by name at CreateGatewayTarget
                tid = t["targetId"]
    except Exception as err:  # noqa: BLE001 - the gateway is gone, and its targets with it
        if gone(err):
            return None
        raise
    return _quiet(lambda: c.delete_gateway_target(gatewayIdentifier=gid, targetId=tid))


def _find_targets(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    c = _client(session, region)
    for gw in _items(c, "list_gateways", "items"):
        gw_tags = dict(
            c.list_tags_for_resource(
                resourceArn=c.get_gateway(gatewayIdentifier=gw["gatewayId"])["gatewayArn"]
            ).get("tags")
            or {}
        )
        for t in _items(c, "list_gateway_targets", "items", gatewayIdentifier=gw["gatewayId"]):
            yield (
                f"{gw['gatewayId']}/{t['targetId']}",
                gw_tags,
            )  # targets carry their gateway's tags


def _delete_memory(session: Any, region: str, name: str) -> str | None:
    c = _client(session, region)
    mid = name
    for m in _items(c, "list_memories", "memories"):
        if name in (m["id"], m.get("arn")) or m["id"].startswith(name + "-"):
            mid = m["id"]
    return _quiet(lambda: c.delete_memory(memoryId=mid))


def _find_memories(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    c = _client(session, region)
    for m in _items(c, "list_memories", "memories"):
        tags = c.list_tags_for_resource(resourceArn=m["arn"]).get("tags") or {}
        yield m["id"], dict(tags)


admission.deleter(
    "agentcore-runtime-endpoint",
    created_by=[(CONTROL, "CreateAgentRuntimeEndpoint")],
    delete=_delete_endpoint,
    find=_find_endpoints,
    order=20,
)
admission.deleter(
    "agentcore-runtime",
    created_by=[(CONTROL, "CreateAgentRuntime")],
    delete=_delete_runtime,
    find=_find_runtimes,
    order=25,
)
admission.deleter(
    "agentcore-gateway-target",
    created_by=[(CONTROL, "CreateGatewayTarget")],
    delete=_delete_target,
    find=_find_targets,
    order=20,
)
admission.deleter(
    "agentcore-gateway",
    created_by=[(CONTROL, "CreateGateway")],
    delete=_delete_gateway,
    find=_find_gateways,
    order=25,
)
admission.deleter(
    "agentcore-memory",
    created_by=[(CONTROL, "CreateMemory")],
    delete=_delete_memory,
    find=_find_memories,
    order=25,
)

for _op, _kind in (
    ("CreateAgentRuntime", "agentcore-runtime"),
    ("UpdateAgentRuntime", "agentcore-runtime"),
    ("CreateAgentRuntimeEndpoint", "agentcore-runtime-endpoint"),
    ("UpdateAgentRuntimeEndpoint", "agentcore-runtime-endpoint"),
    ("CreateGateway", "agentcore-gateway"),
    ("UpdateGateway", "agentcore-gateway"),
    ("CreateGatewayTarget", "agentcore-gateway-target"),
    ("UpdateGatewayTarget", "agentcore-gateway-target"),
    ("CreateMemory", "agentcore-memory"),
    ("UpdateMemory", "agentcore-memory"),
):
    admission.billable(CONTROL, _op, estimator=_zero(_kind), deleter=_kind, note="idle: free")

admission.read(
    CONTROL,
    "GetAgentRuntime",
    "ListAgentRuntimes",
    "ListAgentRuntimeVersions",
    "GetAgentRuntimeEndpoint",
    "ListAgentRuntimeEndpoints",
    "GetGateway",
    "ListGateways",
    "GetGatewayTarget",
    "ListGatewayTargets",
    "GetMemory",
    "ListMemories",
    "ListTagsForResource",
)
admission.free(
    CONTROL,
    "DeleteAgentRuntime",
    "DeleteAgentRuntimeEndpoint",
    "DeleteGateway",
    "DeleteGatewayTarget",
    "DeleteMemory",
    "TagResource",
    "UntagResource",
    "SynchronizeGatewayTargets",
)
admission.billable(
    DATA,
    "InvokeAgentRuntime",
    estimator=invoke_agent_runtime,
    deleter=admission.NOTHING_PERSISTS,
    note="vCPU-hours and GB-hours while the session is active (sessions end on idle timeout)",
)
admission.billable(
    DATA, "CreateEvent", estimator=create_event, deleter=admission.NOTHING_PERSISTS,
    note="per short-term memory event (deleted with its memory)",
)  # fmt: skip
admission.billable(
    DATA, "RetrieveMemoryRecords", estimator=retrieve_records,
    deleter=admission.NOTHING_PERSISTS, note="per retrieval",
)  # fmt: skip
admission.billable(
    DATA, "BatchCreateMemoryRecords", estimator=batch_records,
    deleter=admission.NOTHING_PERSISTS, note="records stored (deleted with their memory)",
)  # fmt: skip
admission.read(
    DATA,
    "GetEvent",
    "ListEvents",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "ListMemoryExtractionJobs",
)
admission.free(
    DATA,
    "StopRuntimeSession",
    "DeleteEvent",
    "DeleteMemoryRecord",
    "BatchDeleteMemoryRecords",
    "BatchUpdateMemoryRecords",
    note="ends a session or removes memory: stops what bills",
)


# Bedrock Agents classic: AWS answers AccessDeniedException for a new account; offline too
# (mllab.offline.bedrock.agents_classic). Its operations are the bedrock-agent ones about agents.
def _classic_operations() -> list[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-agent")
    return [o for o in model.operation_names if "Agent" in o or "ActionGroup" in o]


_CLASSIC = _classic_operations()
admission.read("bedrock-agent", *[o for o in _CLASSIC if o.startswith(("Get", "List"))])
admission.free(
    "bedrock-agent",
    *[o for o in _CLASSIC if not o.startswith(("Get", "List"))],
    note="Agents classic: refused by AWS (AccessDeniedException) for new accounts",
)
admission.free(
    "bedrock-agent-runtime",
    "InvokeAgent",
    "InvokeInlineAgent",
    "GetAgentMemory",
    "DeleteAgentMemory",
    note="Agents classic: refused by AWS (AccessDeniedException) for new accounts",
)
