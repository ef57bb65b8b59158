"""Offline AgentCore Memory: short-term events and long-term records by strategy (lab 06).

Control plane (``bedrock-agentcore-control``): ``CreateMemory`` (``eventExpiryDuration`` in
days, ``memoryStrategies``), ``GetMemory``, ``ListMemories``, ``UpdateMemory``,
``DeleteMemory``. Data plane (``bedrock-agentcore``): ``CreateEvent``, ``GetEvent``,
``ListEvents``, ``DeleteEvent``, ``ListSessions``, ``ListActors`` (short-term memory: the raw
turns of a session, kept ``eventExpiryDuration`` days on the lab clock), and
``RetrieveMemoryRecords``, ``ListMemoryRecords``, ``GetMemoryRecord``, ``DeleteMemoryRecord``,
``BatchCreateMemoryRecords`` (long-term memory).

Long-term extraction. AWS extracts records with a model, asynchronously; offline each
strategy is a small documented method that runs when the event is created, over the event's
``conversational`` text:

* **semantic** (facts): every declarative sentence of 4+ words (not a question) becomes a
  record; a sentence whose embedding is within cosine 0.92 of an existing record of the same
  namespace is a duplicate and is not stored again (consolidation).
* **userPreference**: a USER sentence that states a preference -- "I prefer / like / love /
  want / need / hate / don't like / would rather", "my favourite", "always/never ..." -- is a
  record.
* **summary**: one record per session, rewritten at each event: the session's three
  sentences closest to the session's mean embedding (its most central content), in order.

Records are searched by meaning: ``RetrieveMemoryRecords`` embeds ``searchQuery`` with
:mod:`mllab.models.embeddings` and returns the ``topK`` (default 10) records of the namespace
(a prefix match, as AWS does) by cosine similarity, as ``score``. Namespaces follow the
strategy's templates with ``{actorId}``, ``{sessionId}`` and ``{memoryStrategyId}`` filled in.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.agentcore import store
from mllab.offline.registry import AwsError, OfflineCall, handles

CONTROL = "bedrock-agentcore-control"
DATA = "bedrock-agentcore"
_LOCK = threading.RLock()

_TYPES = {
    "semanticMemoryStrategy": ("SEMANTIC", "/strategies/{memoryStrategyId}/actors/{actorId}"),
    "summaryMemoryStrategy": (
        "SUMMARIZATION",
        "/strategies/{memoryStrategyId}/actors/{actorId}/sessions/{sessionId}",
    ),
    "userPreferenceMemoryStrategy": (
        "USER_PREFERENCE",
        "/strategies/{memoryStrategyId}/actors/{actorId}",
    ),
}
_PREFERENCE = re.compile(
    r"\b(i\s+(really\s+)?(prefer|like|love|want|need|hate|dislike|enjoy)|i\s+(do\s+not|don't)\s+"
    r"(like|want|eat|use)|i'?d\s+rather|i\s+would\s+rather|my\s+favou?rite|always|never)\b",
    re.IGNORECASE,
)
DUPLICATE_COSINE = 0.92


@dataclass
class Record:
    """One long-term memory record."""

    id: str
    text: str
    strategy_id: str
    namespace: str
    created: float
    vector: Any = None

    def summary(self, score: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "memoryRecordId": self.id,
            "content": {"text": self.text},
            "memoryStrategyId": self.strategy_id,
            "namespaces": [self.namespace],
            "createdAt": store.clock_dt(self.created),
        }
        if score is not None:
            out["score"] = round(float(score), 6)
        return out


@dataclass
class Memory:
    """A memory resource: strategies, events and records."""

    id: str
    arn: str
    name: str
    description: str
    expiry_days: int
    strategies: list[dict[str, Any]]
    created: float
    updated: float
    role_arn: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out = {
            "arn": self.arn,
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "eventExpiryDuration": self.expiry_days,
            "status": "ACTIVE",
            "createdAt": store.clock_dt(self.created),
            "updatedAt": store.clock_dt(self.updated),
            "strategies": [dict(s) for s in self.strategies],
        }
        if self.role_arn:
            out["memoryExecutionRoleArn"] = self.role_arn
        return out


def _strategies(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in raw or []:
        for key, spec in item.items():
            if key not in _TYPES:
                raise AwsError(
                    "ValidationException",
                    f"Memory strategy {key} is not emulated offline; use semanticMemoryStrategy, "
                    "summaryMemoryStrategy or userPreferenceMemoryStrategy",
                )
            kind, default_ns = _TYPES[key]
            sid = f"{spec['name']}-{store.suffix()}"
            ns = list(spec.get("namespaces") or spec.get("namespaceTemplates") or [default_ns])
            t = store.clock_dt(store.now())
            out.append(
                {
                    "strategyId": sid,
                    "name": spec["name"],
                    "description": spec.get("description", ""),
                    "type": kind,
                    "namespaces": ns,
                    "namespaceTemplates": ns,
                    "createdAt": t,
                    "updatedAt": t,
                    "status": "ACTIVE",
                }
            )
    return out


def _memory(call: OfflineCall) -> Memory:
    mid = str(call.params.get("memoryId", ""))
    with _LOCK:
        mem = store.STATE.memories.get((call.account_id, call.region, mid))
    if mem is None:
        raise AwsError("ResourceNotFoundException", f"Memory {mid} not found", 404)
    return mem  # type: ignore[no-any-return]


@handles(CONTROL, "CreateMemory")
def create_memory(call: OfflineCall) -> dict[str, Any]:
    """Create a memory (bills per event, retrieval and stored record; idle: nothing)."""
    p = call.params
    name = str(p.get("name", ""))
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$", name):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z][a-zA-Z0-9_]{0,47}",
        )
    days = int(p.get("eventExpiryDuration") or 0)
    if not 3 <= days <= 365:
        raise AwsError(
            "ValidationException",
            f"eventExpiryDuration is {days}; it must be between 3 and 365 days",
        )
    mid = f"{name}-{store.suffix()}"
    t = store.now()
    mem = Memory(
        id=mid,
        arn=f"arn:aws:bedrock-agentcore:{call.region}:{call.account_id}:memory/{mid}",
        name=name,
        description=str(p.get("description") or ""),
        expiry_days=days,
        strategies=_strategies(p.get("memoryStrategies") or []),
        created=t,
        updated=t,
        role_arn=p.get("memoryExecutionRoleArn"),
    )
    with _LOCK:
        store.STATE.memories[(call.account_id, call.region, mid)] = mem
    store.set_tags(mem.arn, p.get("tags"))
    return {"memory": mem.describe()}


@handles(CONTROL, "GetMemory")
def get_memory(call: OfflineCall) -> dict[str, Any]:
    """Describe a memory and its strategies."""
    return {"memory": _memory(call).describe()}


@handles(CONTROL, "ListMemories")
def list_memories(call: OfflineCall) -> dict[str, Any]:
    """Every memory of the account and region."""
    with _LOCK:
        mems = [
            m
            for (a, r, _), m in store.STATE.memories.items()
            if a == call.account_id and r == call.region
        ]
    return {
        "memories": [
            {
                "arn": m.arn,
                "id": m.id,
                "status": "ACTIVE",
                "createdAt": store.clock_dt(m.created),
                "updatedAt": store.clock_dt(m.updated),
            }
            for m in mems
        ]
    }


@handles(CONTROL, "UpdateMemory")
def update_memory(call: OfflineCall) -> dict[str, Any]:
    """Change description, expiry, or add/delete strategies."""
    mem = _memory(call)
    p = call.params
    with _LOCK:
        if p.get("description") is not None:
            mem.description = str(p["description"])
        if p.get("eventExpiryDuration"):
            mem.expiry_days = int(p["eventExpiryDuration"])
        changes = p.get("memoryStrategies") or {}
        mem.strategies += _strategies(changes.get("addMemoryStrategies") or [])
        drop = {d.get("memoryStrategyId") for d in changes.get("deleteMemoryStrategies") or []}
        mem.strategies = [s for s in mem.strategies if s["strategyId"] not in drop]
        mem.updated = store.now()
    return {"memory": mem.describe()}


@handles(CONTROL, "DeleteMemory")
def delete_memory(call: OfflineCall) -> dict[str, Any]:
    """Delete a memory with its events and records."""
    mem = _memory(call)
    with _LOCK:
        store.STATE.memories.pop((call.account_id, call.region, mem.id), None)
    return {"memoryId": mem.id, "status": "DELETING"}


# --------------------------------------------------------------------------- extraction

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """Split text into sentences (punctuation-based)."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s.strip()]


def _embed(texts: list[str]) -> Any:
    from mllab.models.embeddings import embed

    return embed(texts)


def _namespace(template: str, actor: str, session: str, strategy_id: str) -> str:
    return (
        template.replace("{actorId}", actor)
        .replace("{sessionId}", session)
        .replace("{memoryStrategyId}", strategy_id)
    )


def _add_record(mem: Memory, text: str, strategy_id: str, namespace: str, dedupe: bool) -> None:
    import numpy as np

    vec = _embed([text])[0]
    if dedupe:
        for r in mem.records.values():
            if r.namespace == namespace and r.strategy_id == strategy_id and r.vector is not None:
                if float(np.dot(vec, r.vector)) >= DUPLICATE_COSINE:
                    return
    rid = "mem-" + secrets.token_hex(12)
    mem.records[rid] = Record(rid, text, strategy_id, namespace, store.now(), vec)


def _extract(mem: Memory, event: dict[str, Any]) -> None:
    import numpy as np

    turns = [
        (
            str(p["conversational"].get("role", "")),
            str(p["conversational"]["content"].get("text", "")),
        )
        for p in event["payload"]
        if "conversational" in p
    ]
    if not turns:
        return
    actor, session = event["actorId"], event["sessionId"]
    for strat in mem.strategies:
        for template in strat["namespaces"]:
            ns = _namespace(template, actor, session, strat["strategyId"])
            if strat["type"] == "SEMANTIC":
                for role, text in turns:
                    for s in sentences(text):
                        if (
                            not s.endswith("?")
                            and len(s.split()) >= 4
                            and role in ("USER", "ASSISTANT")
                        ):
                            _add_record(mem, s, strat["strategyId"], ns, dedupe=True)
            elif strat["type"] == "USER_PREFERENCE":
                for role, text in turns:
                    if role != "USER":
                        continue
                    for s in sentences(text):
                        if _PREFERENCE.search(s) and not s.endswith("?"):
                            _add_record(mem, s, strat["strategyId"], ns, dedupe=True)
            elif strat["type"] == "SUMMARIZATION":
                texts = [
                    s
                    for e in mem.events
                    if e["actorId"] == actor and e["sessionId"] == session
                    for p in e["payload"]
                    if "conversational" in p
                    for s in sentences(p["conversational"]["content"].get("text", ""))
                ]
                if not texts:
                    continue
                vecs = _embed(texts)
                centre = vecs.mean(axis=0)
                order = np.argsort(-(vecs @ centre))[:3]
                summary = " ".join(texts[i] for i in sorted(order))
                for rid in [
                    r.id
                    for r in mem.records.values()
                    if r.namespace == ns and r.strategy_id == strat["strategyId"]
                ]:
                    mem.records.pop(rid)
                _add_record(mem, summary, strat["strategyId"], ns, dedupe=False)


# --------------------------------------------------------------------------- data plane


def _event_view(e: dict[str, Any], payloads: bool = True) -> dict[str, Any]:
    out = {k: v for k, v in e.items() if k not in ("payload", "_t")}
    out["eventTimestamp"] = store.clock_dt(e["_t"])
    out["payload"] = e["payload"] if payloads else []
    return out


def _live(mem: Memory) -> list[dict[str, Any]]:
    horizon = store.now() - mem.expiry_days * 86400
    mem.events = [e for e in mem.events if e["_recorded"] >= horizon]
    return mem.events


@handles(DATA, "CreateEvent")
def create_event(call: OfflineCall) -> dict[str, Any]:
    """Store one short-term event; the strategies extract long-term records from it."""
    mem = _memory(call)
    p = call.params
    ts: Any = p.get("eventTimestamp")
    t = float(ts.timestamp()) if hasattr(ts, "timestamp") else float(ts or store.now())
    event = {
        "memoryId": mem.id,
        "actorId": str(p["actorId"]),
        "sessionId": str(p.get("sessionId") or uuid.uuid4()),
        "eventId": f"{int(t * 1000)}#{secrets.token_hex(4)}",
        "payload": list(p.get("payload") or []),
        "_t": t,
        "_recorded": store.now(),
    }
    if p.get("branch"):
        event["branch"] = p["branch"]
    if p.get("metadata"):
        event["metadata"] = p["metadata"]
    with _LOCK:
        mem.events.append(event)
        if p.get("extractionMode") != "SKIP":
            _extract(mem, event)
    return {"event": _event_view(event)}


@handles(DATA, "ListEvents")
def list_events(call: OfflineCall) -> dict[str, Any]:
    """A session's events of one actor, oldest first (expired ones are gone)."""
    mem = _memory(call)
    p = call.params
    with _LOCK:
        events = [
            e
            for e in _live(mem)
            if e["actorId"] == p.get("actorId") and e["sessionId"] == p.get("sessionId")
        ]
    branch = ((p.get("filter") or {}).get("branch") or {}).get("name")
    if branch:
        events = [e for e in events if (e.get("branch") or {}).get("name") == branch]
    n = int(p.get("maxResults") or 20)
    return {"events": [_event_view(e, p.get("includePayloads", True)) for e in events[:n]]}


def _find_event(mem: Memory, call: OfflineCall) -> dict[str, Any]:
    eid = call.params.get("eventId")
    for e in _live(mem):
        if e["eventId"] == eid:
            return e
    raise AwsError("ResourceNotFoundException", f"Event {eid} not found", 404)


@handles(DATA, "GetEvent")
def get_event(call: OfflineCall) -> dict[str, Any]:
    """One event."""
    mem = _memory(call)
    return {"event": _event_view(_find_event(mem, call))}


@handles(DATA, "DeleteEvent")
def delete_event(call: OfflineCall) -> dict[str, Any]:
    """Delete one event (records already extracted stay)."""
    mem = _memory(call)
    e = _find_event(mem, call)
    with _LOCK:
        mem.events.remove(e)
    return {"eventId": e["eventId"]}


@handles(DATA, "ListSessions")
def list_sessions(call: OfflineCall) -> dict[str, Any]:
    """The sessions of an actor that have events."""
    mem = _memory(call)
    seen: dict[str, float] = {}
    for e in _live(mem):
        if e["actorId"] == call.params.get("actorId"):
            seen.setdefault(e["sessionId"], e["_t"])
    return {
        "sessionSummaries": [
            {"sessionId": s, "actorId": call.params.get("actorId"), "createdAt": store.clock_dt(t)}
            for s, t in seen.items()
        ]
    }


@handles(DATA, "ListActors")
def list_actors(call: OfflineCall) -> dict[str, Any]:
    """The actors that have events."""
    mem = _memory(call)
    actors = sorted({e["actorId"] for e in _live(mem)})
    return {"actorSummaries": [{"actorId": a} for a in actors]}


def _in_namespace(r: Record, namespace: str | None) -> bool:
    if not namespace:
        return True
    return r.namespace == namespace or r.namespace.startswith(namespace.rstrip("/") + "/")


@handles(DATA, "RetrieveMemoryRecords")
def retrieve_memory_records(call: OfflineCall) -> dict[str, Any]:
    """Records of a namespace ranked by meaning against ``searchQuery`` (cosine ``score``)."""
    import numpy as np

    mem = _memory(call)
    p = call.params
    crit = p.get("searchCriteria") or {}
    query = str(crit.get("searchQuery") or "")
    namespace = p.get("namespace") or p.get("namespacePath")
    with _LOCK:
        pool = [
            r
            for r in mem.records.values()
            if _in_namespace(r, namespace)
            and (not crit.get("memoryStrategyId") or r.strategy_id == crit["memoryStrategyId"])
        ]
    if not pool:
        return {"memoryRecordSummaries": []}
    q = _embed([query])[0]
    scored = sorted(((float(np.dot(q, r.vector)), r) for r in pool), key=lambda t: -t[0])
    k = int(crit.get("topK") or 10)
    return {"memoryRecordSummaries": [r.summary(s) for s, r in scored[:k]]}


@handles(DATA, "ListMemoryRecords")
def list_memory_records(call: OfflineCall) -> dict[str, Any]:
    """Records of a namespace, newest first."""
    mem = _memory(call)
    p = call.params
    with _LOCK:
        pool = [
            r
            for r in mem.records.values()
            if _in_namespace(r, p.get("namespace") or p.get("namespacePath"))
            and (not p.get("memoryStrategyId") or r.strategy_id == p["memoryStrategyId"])
        ]
    pool.sort(key=lambda r: -r.created)
    return {"memoryRecordSummaries": [r.summary() for r in pool[: int(p.get("maxResults") or 100)]]}


def _record(mem: Memory, call: OfflineCall) -> Record:
    rid = str(call.params.get("memoryRecordId", ""))
    r = mem.records.get(rid)
    if r is None:
        raise AwsError("ResourceNotFoundException", f"Memory record {rid} not found", 404)
    return r


@handles(DATA, "GetMemoryRecord")
def get_memory_record(call: OfflineCall) -> dict[str, Any]:
    """One record."""
    return {"memoryRecord": _record(_memory(call), call).summary()}


@handles(DATA, "DeleteMemoryRecord")
def delete_memory_record(call: OfflineCall) -> dict[str, Any]:
    """Delete one record."""
    mem = _memory(call)
    r = _record(mem, call)
    with _LOCK:
        mem.records.pop(r.id, None)
    return {"memoryRecordId": r.id}


@handles(DATA, "BatchCreateMemoryRecords")
def batch_create_memory_records(call: OfflineCall) -> dict[str, Any]:
    """Store records written by the caller (self-managed long-term memory)."""
    mem = _memory(call)
    ok = []
    with _LOCK:
        for item in call.params.get("records") or []:
            before = set(mem.records)
            ns = (item.get("namespaces") or ["/"])[0]
            _add_record(
                mem, str((item.get("content") or {}).get("text", "")),
                str(item.get("memoryStrategyId") or "self-managed"), ns, dedupe=False,
            )  # fmt: skip
            (rid,) = set(mem.records) - before
            ok.append(
                {
                    "memoryRecordId": rid,
                    "status": "SUCCEEDED",
                    "requestIdentifier": item.get("requestIdentifier", ""),
                }
            )
    return {"successfulRecords": ok, "failedRecords": []}
