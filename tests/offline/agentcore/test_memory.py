"""AgentCore Memory offline: short-term events per session, long-term records by strategy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline import clock


def _memory(lab: Any) -> tuple[Any, Any, dict[str, Any]]:
    ctl = lab.client("bedrock-agentcore-control")
    mem = ctl.create_memory(
        name="support_memory",
        eventExpiryDuration=7,
        memoryStrategies=[
            {"semanticMemoryStrategy": {"name": "facts", "namespaces": ["/facts/{actorId}"]}},
            {"userPreferenceMemoryStrategy": {"name": "prefs", "namespaces": ["/prefs/{actorId}"]}},
            {
                "summaryMemoryStrategy": {
                    "name": "summary",
                    "namespaces": ["/summaries/{actorId}/{sessionId}"],
                }
            },
        ],
    )["memory"]
    return ctl, lab.client("bedrock-agentcore"), mem


def _say(
    dp: Any, mem: dict[str, Any], session: str, role: str, text: str, actor: str = "alice"
) -> None:
    dp.create_event(
        memoryId=mem["id"],
        actorId=actor,
        sessionId=session,
        eventTimestamp=dt.datetime.now(dt.UTC),
        payload=[{"conversational": {"content": {"text": text}, "role": role}}],
    )


def test_events_are_kept_per_session_and_expire(lab: Any) -> None:
    _, dp, mem = _memory(lab)
    _say(dp, mem, "s1", "USER", "Hello, my order is late.")
    _say(dp, mem, "s1", "ASSISTANT", "Sorry to hear that, let me check.")
    _say(dp, mem, "s2", "USER", "Another conversation.")
    events = dp.list_events(memoryId=mem["id"], actorId="alice", sessionId="s1")["events"]
    assert [e["payload"][0]["conversational"]["role"] for e in events] == ["USER", "ASSISTANT"]
    assert dp.list_events(memoryId=mem["id"], actorId="bob", sessionId="s1")["events"] == []
    clock.advance(8 * 86400)  # past eventExpiryDuration (7 days)
    assert dp.list_events(memoryId=mem["id"], actorId="alice", sessionId="s1")["events"] == []


def test_long_term_records_by_strategy_and_retrieval_by_meaning(lab: Any) -> None:
    _, dp, mem = _memory(lab)
    _say(
        dp,
        mem,
        "s1",
        "USER",
        "I prefer email over phone calls. My laptop model is the X13 with 32 GB of memory.",
    )
    _say(dp, mem, "s1", "ASSISTANT", "Noted. Your warranty on the X13 ends in March 2027.")
    _say(dp, mem, "s2", "USER", "Do you ship to Norway?")
    prefs = dp.list_memory_records(memoryId=mem["id"], namespace="/prefs/alice")[
        "memoryRecordSummaries"
    ]
    assert [r["content"]["text"] for r in prefs] == ["I prefer email over phone calls."]
    facts = dp.retrieve_memory_records(
        memoryId=mem["id"],
        namespace="/facts/alice",
        searchCriteria={"searchQuery": "when does the warranty expire", "topK": 2},
    )["memoryRecordSummaries"]
    assert "warranty" in facts[0]["content"]["text"]
    assert facts[0]["score"] >= facts[-1]["score"]
    # a question is not a fact
    assert all("Norway" not in r["content"]["text"] for r in facts)
    summary = dp.list_memory_records(memoryId=mem["id"], namespace="/summaries/alice/s1")
    (only,) = summary["memoryRecordSummaries"]
    assert "X13" in only["content"]["text"]
    # another actor's namespace is empty
    assert (
        dp.list_memory_records(memoryId=mem["id"], namespace="/facts/bob")["memoryRecordSummaries"]
        == []
    )


def test_duplicate_facts_are_consolidated(lab: Any) -> None:
    _, dp, mem = _memory(lab)
    _say(dp, mem, "s1", "USER", "My laptop model is the X13 with 32 GB of memory.")
    _say(dp, mem, "s2", "USER", "My laptop model is the X13 with 32 GB of memory.")
    facts = dp.list_memory_records(memoryId=mem["id"], namespace="/facts/alice")[
        "memoryRecordSummaries"
    ]
    assert len(facts) == 1


def test_memory_validation_and_delete(lab: Any) -> None:
    ctl, dp, mem = _memory(lab)
    with pytest.raises(ClientError) as bad:
        ctl.create_memory(name="bad-name", eventExpiryDuration=7)
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    assert [m["id"] for m in ctl.list_memories()["memories"]] == [mem["id"]]
    ctl.delete_memory(memoryId=mem["id"])
    with pytest.raises(ClientError) as gone:
        dp.list_events(memoryId=mem["id"], actorId="alice", sessionId="s1")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
