"""Admission of Amazon Bedrock AgentCore operations, and of Bedrock Agents classic (lab 06).

AgentCore bills by use (``helpers/mllab/guard/agents_pricing.json``, dated, names its source):

* **Runtime**: per second, CPU while the session's code consumes it (I/O wait and idle time
  are free) and memory for the session's whole life, from its start until it ends (idle past
  ``idleRuntimeSessionTimeout``, ``StopRuntimeSession``, ``maxLifetime``); 1-second minimum.
  ``InvokeAgentRuntime`` is priced before it is sent at what it could cost until the session is
  settled: the snapshot's session size (1 vCPU, 2 GB) for the longest request (15 minutes, CPU
  and memory) plus the idle timeout after it (memory), capped by ``maxLifetime`` -- one
  *window*. Offline the runtime measures each session (:func:`session_usage`): a call into a
  session that is already running reserves only the *increment*, what the session has used so
  far (memory-seconds since its start at 2 GB + the CPU seconds its process consumed) plus a
  window from now, less what its earlier calls reserved; when the session ends, its calls'
  rows are settled (``set_actual``) to the measured consumption, each to its share (from its
  call to the next one). So the pending total of a session never drops below what it has used
  plus what the call being sent could add, and after the lab it equals what the sessions used.
  On AWS nothing measurable comes back (the answer carries no usage and the guard does not
  read billing), so every call keeps its worst-case window. The model tokens the agent
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

import math
import sys
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
    """Dollars per hour of one busy session (the snapshot's vCPU and GB)."""
    s = _snap()
    return float(s["runtime_session_vcpu"]) * float(s["runtime_usd_per_vcpu_hour"]) + float(
        s["runtime_session_gb"]
    ) * float(s["runtime_usd_per_gb_hour"])


#: Seconds one synchronous ``InvokeAgentRuntime`` request may run (AgentCore: 15 minutes).
REQUEST_SECONDS = 900.0


def session_rates() -> tuple[float, float]:
    """Dollars per second of the session's memory (its GB) and of one vCPU busy."""
    s = _snap()
    memory = float(s["runtime_session_gb"]) * float(s["runtime_usd_per_gb_hour"]) / 3600.0
    return memory, float(s["runtime_usd_per_vcpu_hour"]) / 3600.0


def measured_usd(memory_seconds: float, cpu_seconds: float) -> float:
    """What a session that lived ``memory_seconds`` and consumed ``cpu_seconds`` of CPU costs.

    Memory at the snapshot's session size for the whole life, rounded up to whole seconds
    (1-second minimum); CPU per second consumed. Costs nothing to call.
    """
    memory, cpu = session_rates()
    lived = max(1.0, float(math.ceil(max(0.0, memory_seconds) - 1e-9)))
    return memory * lived + cpu * max(0.0, cpu_seconds)


def window(
    idle_timeout: float, max_lifetime: float = 28800.0, age: float = 0.0
) -> dict[str, float]:
    """The most one call can add to a session ``age`` seconds old before the session ends.

    The request itself (at most :data:`REQUEST_SECONDS`, CPU and memory) and then the idle
    timeout (memory; idle CPU is not billed), not beyond ``maxLifetime``.

    Returns:
        ``{"cpu_seconds", "memory_seconds", "usd"}``.
    """
    active = REQUEST_SECONDS
    tail = max(0.0, min(float(idle_timeout), float(max_lifetime) - float(age) - active))
    memory, cpu = session_rates()
    usd = memory * (active + tail) + cpu * active
    return {"cpu_seconds": active, "memory_seconds": active + tail, "usd": usd}


#: The longest idle timeout and lifetime AgentCore allows: what an unknown runtime is priced at.
MAX_IDLE_SECONDS = 28800.0
MAX_LIFETIME_SECONDS = 28800.0


def _lifecycle(arn: str, qualifier: str, policy: Policy | None = None) -> tuple[float, float]:
    """The idle timeout and max lifetime of the version ``qualifier`` serves.

    Offline the runtime's own store answers; on AWS the guard's lookup describes the endpoint
    and its live version (``GetAgentRuntimeEndpoint``, ``GetAgentRuntime``), AgentCore's
    defaults (900 s, 8 h) standing for fields the version leaves out. A runtime that can be
    described by neither is priced at the longest idle timeout AgentCore allows (fail closed).
    """
    try:
        from mllab.offline.agentcore import store

        for rt in store.STATE.runtimes.values():
            if rt.arn == arn or rt.id == arn or arn.startswith(rt.arn + "/"):
                ep = rt.endpoints.get(qualifier)
                version = ep.live_version if ep is not None else rt.latest
                life = rt.versions[version].config.get("lifecycleConfiguration") or {}
                return (
                    float(life.get("idleRuntimeSessionTimeout") or 900),
                    float(life.get("maxLifetime") or 28800),
                )
    except Exception:  # noqa: BLE001 - not offline, or not there: ask AWS below
        pass
    found = policy.lookup("agent_runtime", f"{arn}|{qualifier}") if policy is not None else None
    if found is not None:
        life = found.get("lifecycleConfiguration") or {}
        return (
            float(life.get("idleRuntimeSessionTimeout") or 900),
            float(life.get("maxLifetime") or 28800),
        )
    return MAX_IDLE_SECONDS, MAX_LIFETIME_SECONDS


def session_usage(arn: str, session_id: str, qualifier: str) -> dict[str, float] | None:
    """What the offline runtime measured of the running session a call would reuse.

    Returns:
        ``{"age_seconds", "cpu_seconds", "reserved_usd", "idle_timeout", "max_lifetime"}``,
        or None when the call starts a new session (none running, idle past its timeout, older
        than its lifetime, another version) or when no offline runtime is loaded (AWS).
    """
    module = sys.modules.get("mllab.offline.agentcore.runtime")
    if module is None or not session_id:
        return None
    found: dict[str, float] | None = module.session_usage(arn, session_id, qualifier)
    return found


def invoke_agent_runtime(params: dict[str, Any], policy: Policy) -> Estimate:
    """A window for a new session; for a running one (offline), the increment (module doc)."""
    arn = str(params.get("agentRuntimeArn", ""))
    qualifier = str(params.get("qualifier") or "DEFAULT")
    session_id = str(params.get("runtimeSessionId") or "")
    idle, life = _lifecycle(arn, qualifier, policy)
    usage = session_usage(arn, session_id, qualifier)
    snap = _snap()
    if usage is None:
        ahead = window(idle, life)
        return Estimate(
            ahead["usd"],
            arn,
            detail={
                "session": session_id,
                "session_seconds": ahead["memory_seconds"],
                "vcpu": snap["runtime_session_vcpu"],
                "gb": snap["runtime_session_gb"],
                "basis": "a new session: the longest request (vCPU + GB) and the idle timeout "
                "after it (GB) at the snapshot's session size; model tokens are priced per "
                "Converse call",
            },
        )
    age = usage["age_seconds"]
    ahead = window(usage["idle_timeout"], usage["max_lifetime"], age)
    used = measured_usd(age, usage["cpu_seconds"])
    usd = max(0.0, used + ahead["usd"] - usage["reserved_usd"])
    return Estimate(
        usd,
        arn,
        detail={
            "session": session_id,
            "session_seconds": ahead["memory_seconds"],
            "used_usd": used,
            "reserved_usd": usage["reserved_usd"],
            "vcpu": snap["runtime_session_vcpu"],
            "gb": snap["runtime_session_gb"],
            "basis": "a running session: measured so far + one window from now - what its "
            "earlier calls reserved; settled to the measured use when the session ends",
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
