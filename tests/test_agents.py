"""mllab.agents: failure detection on spans, both ways, and an agent loop stopped by the guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab import agents


def _span(
    trace: str, op: str, *, status: str = "OK", seconds: float = 0.1, **attrs: Any
) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": "0" * 16,
        "name": op,
        "startTimeUnixNano": 0,
        "durationNano": int(seconds * 1e9),
        "attributes": {"gen_ai.operation.name": op, **attrs},
        "status": {"code": status, "message": ""},
    }


def _healthy(trace: str = "t1") -> list[dict[str, Any]]:
    return [
        _span(trace, "invoke_agent", seconds=2.0),
        _span(
            trace, "chat", **{"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}
        ),
        _span(
            trace, "execute_tool", **{"gen_ai.tool.name": "lookup", "gen_ai.tool.status": "success"}
        ),
        _span(
            trace, "chat", **{"gen_ai.usage.input_tokens": 150, "gen_ai.usage.output_tokens": 40}
        ),
    ]


def test_a_healthy_run_has_no_findings() -> None:
    found = agents.diagnose(_healthy(), loop_threshold=3, max_seconds=10, max_tokens=1000)
    assert found.findings == []
    assert found.input_tokens == 250 and found.output_tokens == 60
    assert found.tool_calls == {"lookup": 1}
    assert str(found) == "no agent failures found"


def test_tool_errors_are_found() -> None:
    spans = _healthy() + [
        _span(
            "t1",
            "execute_tool",
            status="ERROR",
            **{"gen_ai.tool.name": "lookup", "gen_ai.tool.status": "error"},
        )
    ]
    assert agents.diagnose(spans).kinds() == {"tool_error"}


def test_loops_at_the_threshold_but_not_below() -> None:
    call = {
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.status": "success",
        "gen_ai.tool.call.arguments": '{"id": 1}',
    }
    two = _healthy() + [_span("t1", "execute_tool", **call)]  # lookup twice in all
    assert "loop" not in agents.diagnose(two, loop_threshold=3).kinds()
    three = two + [_span("t1", "execute_tool", **call), _span("t1", "execute_tool", **call)]
    assert "loop" in agents.diagnose(three, loop_threshold=3).kinds()
    # the same tool with different inputs is not a loop
    varied = _healthy() + [
        _span("t1", "execute_tool", **{**call, "gen_ai.tool.call.arguments": f'{{"id": {i}}}'})
        for i in range(5)
    ]
    assert "loop" not in agents.diagnose(varied, loop_threshold=3).kinds()


def test_loops_across_the_calls_of_one_session() -> None:
    spans = []
    for i in range(4):
        spans.append(
            _span(f"t{i}", "execute_tool", **{"gen_ai.tool.name": "lookup", "session.id": "s"})
        )
    assert "loop" in agents.diagnose(spans, loop_threshold=3).kinds()
    other = [
        _span(f"t{i}", "execute_tool", **{"gen_ai.tool.name": "lookup", "session.id": f"s{i}"})
        for i in range(4)
    ]
    assert "loop" not in agents.diagnose(other, loop_threshold=3).kinds()


def test_truncated_streams_and_budgets() -> None:
    cut = _healthy() + [_span("t1", "POST /invocations", **{"mllab.stream.complete": False})]
    assert agents.diagnose(cut).kinds() == {"truncated_stream"}
    whole = _healthy() + [_span("t1", "POST /invocations", **{"mllab.stream.complete": True})]
    assert agents.diagnose(whole).kinds() == set()
    limit = (
        "Model stopped generating due to maximum token limit. The partial message has been "
        "added to the conversation history."
    )
    stopped = _healthy() + [_span("t1", "invoke_agent", status="ERROR")]
    stopped[-1]["status"]["message"] = limit
    assert agents.diagnose(stopped).kinds() == {"truncated_stream"}
    other = _healthy() + [_span("t1", "invoke_agent", status="ERROR")]
    other[-1]["status"]["message"] = "the model was throttled"
    assert agents.diagnose(other).kinds() == set()
    assert agents.diagnose(_healthy(), max_tokens=300).kinds() == {"token_budget"}
    assert agents.diagnose(_healthy(), max_tokens=310).kinds() == set()
    assert agents.diagnose(_healthy(), max_seconds=1.5).kinds() == {"time_budget"}
    assert agents.diagnose(_healthy(), max_seconds=2.5).kinds() == set()


@pytest.fixture
def small_lab() -> Any:
    from mllab import Lab

    opened = Lab("test-agent-loop", backend="offline", budget_usd=0.04)
    try:
        yield opened
    finally:
        opened.close()


def test_an_agent_loop_is_refused_when_the_budget_runs_out(small_lab: Any, tmp_path: Path) -> None:
    """The agent's tool never satisfies it; each Converse call is priced; the guard stops it."""
    from tests.offline.agentcore.agent_code import LOOPING, image_runtime

    lab = small_lab
    rt = image_runtime(lab, tmp_path, "looping", LOOPING)
    dp = lab.client("bedrock-agentcore")
    session = "loop-session-" + "x" * 30
    with pytest.raises(ClientError) as err:
        dp.invoke_agent_runtime(
            agentRuntimeArn=rt["agentRuntimeArn"],
            runtimeSessionId=session,
            payload=json.dumps({"prompt": "What is the status of order A-77?"}).encode(),
        )
    assert err.value.response["Error"]["Code"] == "RuntimeClientError"
    cost = lab.cost()
    print(f"\nagent loop: spent {cost['spent_usd']:.5f} of {cost['budget_usd']:.2f} USD")
    assert cost["spent_usd"] <= cost["budget_usd"] + 1e-9
    # the refusal is in the agent's log, in the guard's words
    logs = lab.client("logs")
    group = f"/aws/bedrock-agentcore/runtimes/{rt['agentRuntimeId']}-DEFAULT"
    text = "\n".join(e["message"] for e in logs.filter_log_events(logGroupName=group)["events"])
    assert "CostGuardError" in text
    rounds = [ln for ln in text.splitlines() if ln.startswith("round ")]
    assert 1 < len(rounds) < 200  # it looped, and the guard (not the safety cap) ended it
    found = agents.diagnose(agents.spans(lab.session, session_id=session), loop_threshold=3)
    print(found)
    assert "loop" in found.kinds()
    assert "tool_error" in found.kinds()
