"""Lambda Invoke is priced at its worst case before it is sent and settled to the REPORT
line's Billed Duration x Memory Size after the answer; InvokeAgentRuntime reserves one window
for a new session and only the increment for a running one, and the session's rows are settled
to its measured use (memory for its life on the lab clock, the CPU its process consumed) when
it ends."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.guard.declarations import agentcore, lambda_
from mllab.guard.errors import CostGuardError
from mllab.guard.estimate import Policy
from mllab.offline import clock
from mllab.offline.agentcore import runtime
from mllab.offline.lambda_ import zip_source
from tests.offline.agentcore.agent_code import PLAIN, image_runtime

CODE = "def h(event, context):\n    return {'ok': True}\n"


def _usd(memory_mb: float, billed_ms: int) -> float:
    snap = lambda_.prices()["lambda"]
    return snap["usd_per_request"] + memory_mb / 1024 * billed_ms / 1000 * snap["usd_per_gb_second"]


def test_settle_reads_an_aws_log_tail() -> None:
    report = (
        "REPORT RequestId: 3f1c\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 40 MB\tInit Duration: 150.00 ms"
    )
    tail = base64.b64encode(f"START RequestId: 3f1c\nEND RequestId: 3f1c\n{report}\n".encode())
    parsed = {"LogResult": tail.decode(), "ResponseMetadata": {"RequestId": "3f1c"}}
    actual = lambda_.settle_invoke({"FunctionName": "f"}, parsed)
    assert actual is not None and abs(actual - _usd(512, 13)) < 1e-15
    # no tail and no offline record (AWS without LogType=Tail): the estimate stands
    assert lambda_.settle_invoke({"FunctionName": "f"}, {"ResponseMetadata": {}}) is None
    # Event invocations run (and retry) after the answer
    assert lambda_.settle_invoke({"InvocationType": "Event"}, parsed) is None


def test_invoke_settles_to_billed_duration_offline(lab: Any) -> None:
    lam = lab.client("lambda")
    lam.create_function(
        FunctionName="settled", Runtime="python3.12", Role=lab.role_arn, Handler="lambda_function.h",
        Code={"ZipFile": zip_source(CODE)}, MemorySize=256, Timeout=30,
    )  # fmt: skip
    tail = lam.invoke(FunctionName="settled", LogType="Tail")
    text = base64.b64decode(tail["LogResult"]).decode()
    billed = [int(m) for m in re.findall(r"Billed Duration: (\d+) ms", text)]
    lam.invoke(FunctionName="settled", Payload=b"{}")  # no tail: read from the offline plane
    lam.invoke(FunctionName="settled", InvocationType="Event")
    rows = [r for r in lab.ledger.rows(run=lab.run_id) if r.operation == "Invoke"]
    assert len(rows) == 3
    worst = _usd(256, 30_000)
    assert all(abs(r.estimate_usd - worst) < 1e-12 for r in rows[:2])
    assert (
        rows[0].actual_usd is not None and abs(rows[0].actual_usd - _usd(256, billed[-1])) < 1e-15
    )
    assert rows[1].actual_usd is not None and 0 < rows[1].actual_usd < worst
    assert rows[2].actual_usd is None  # Event: the worst case (with two retries) stands
    spent = sum(r.actual_usd if r.actual_usd is not None else r.estimate_usd for r in rows)
    assert abs(lab.cost()["spent_usd"] - spent) < 1e-12


# --------------------------------------------------------------------------- AgentCore Runtime
IDLE, LIFE = 60, 3600
WINDOW = agentcore.window(IDLE, LIFE)["usd"]


def _agent(lab: Any, tmp: Path, name: str) -> str:
    rt = image_runtime(
        lab, tmp, name, PLAIN,
        lifecycleConfiguration={"idleRuntimeSessionTimeout": IDLE, "maxLifetime": LIFE},
    )  # fmt: skip
    return str(rt["agentRuntimeArn"])


def _call(lab: Any, arn: str, session: str, **payload: Any) -> Any:
    return lab.client("bedrock-agentcore").invoke_agent_runtime(
        agentRuntimeArn=arn, runtimeSessionId=session, payload=json.dumps(payload).encode()
    )


def _rows(lab: Any) -> list[Any]:
    return [r for r in lab.ledger.rows(run=lab.run_id) if r.operation == "InvokeAgentRuntime"]


def _spent_follows(lab: Any) -> None:
    charged = sum(r.charged_usd for r in lab.ledger.rows(run=lab.run_id))
    assert abs(lab.cost()["spent_usd"] - charged) < 1e-12


def test_a_new_session_is_priced_at_one_window() -> None:
    """What AWS sees too: no offline session to ask, so one window (request + idle timeout),
    with the idle timeout of the version the endpoint serves, looked up; an unknown runtime
    is priced at the longest idle timeout AgentCore allows (fail closed)."""
    snap = lambda_.prices()["agentcore"]
    cpu, gb = snap["runtime_usd_per_vcpu_hour"] / 3600, 2 * snap["runtime_usd_per_gb_hour"] / 3600
    asked: list[tuple[str, str]] = []

    def lookup(found: dict[str, Any] | None) -> Policy:
        return Policy(lookup=lambda kind, name: asked.append((kind, name)) or found)

    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/support-AbC123"
    request = {"agentRuntimeArn": arn, "qualifier": "prod", "runtimeSessionId": "s" * 40}
    est = agentcore.invoke_agent_runtime(request, lookup({}))  # fields left out: the defaults
    assert asked == [("agent_runtime", f"{arn}|prod")]
    assert abs(est.usd - (cpu * 900 + gb * (900 + 900))) < 1e-12
    longer = {"lifecycleConfiguration": {"idleRuntimeSessionTimeout": 7200, "maxLifetime": 28800}}
    est = agentcore.invoke_agent_runtime(request, lookup(longer))
    assert abs(est.usd - (cpu * 900 + gb * (900 + 7200))) < 1e-12
    unknown = agentcore.invoke_agent_runtime({"agentRuntimeArn": "arn:unknown"}, Policy())
    assert abs(unknown.usd - (cpu * 900 + gb * 28800)) < 1e-12
    assert abs(agentcore.window(60, 3600)["usd"] - (cpu * 900 + gb * 960)) < 1e-12
    assert abs(agentcore.window(60, 930, age=0)["usd"] - (cpu * 900 + gb * 930)) < 1e-12
    assert abs(agentcore.measured_usd(0.2, 0.5) - (gb * 1 + cpu * 0.5)) < 1e-15  # 1 s minimum
    assert abs(agentcore.measured_usd(10.5, 0.0) - gb * 11) < 1e-15  # whole seconds


def test_one_session_settles_to_its_measured_use_at_stop(lab: Any, tmp_path: Path) -> None:
    arn = _agent(lab, tmp_path, "settled_agent")
    sid = "settle-one-session-" + "a" * 20
    for note in range(3):
        _call(lab, arn, sid, note=note)
        clock.advance(5)
    with pytest.raises(ClientError):  # the agent fails: the session still bills
        _call(lab, arn, sid, fail=True)
    rows = _rows(lab)
    assert len(rows) == 4 and all(r.pending == 0 and r.actual_usd is None for r in rows)
    assert abs(rows[0].estimate_usd - WINDOW) < 1e-12
    # later calls reserve only the increment; the session's total stays at least what it has
    # used so far plus one window from the call being sent (fail-closed)
    for k in range(1, 4):
        assert rows[k].estimate_usd < WINDOW / 10
        reserved = sum(r.estimate_usd for r in rows[: k + 1])
        assert reserved >= rows[k].detail["used_usd"] + WINDOW - 1e-12
    assert sum(r.estimate_usd for r in rows) < 1.1 * WINDOW  # not 4 windows
    _spent_follows(lab)

    session = runtime.find_session(arn, sid)
    assert session is not None
    lab.client("bedrock-agentcore").stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=sid)
    assert session.ended is not None and session.ended <= clock.now()
    assert session.ended < session.last_active + IDLE  # at the stop, not at the idle timeout
    lived = session.ended - session.started
    assert lived >= 15  # the lab clock skipped 15 s within the session
    measured = agentcore.measured_usd(lived, session.cpu_seconds())
    assert abs(runtime.usage_usd(session) - measured) < 1e-15
    rows = _rows(lab)
    assert all(r.actual_usd is not None and r.actual_usd >= 0 for r in rows)
    assert abs(sum(r.actual_usd or 0.0 for r in rows) - measured) < 1e-12
    assert measured < WINDOW
    _spent_follows(lab)
    # the same id again: a new session, a new window
    _call(lab, arn, sid, note="again")
    assert abs(_rows(lab)[-1].estimate_usd - WINDOW) < 1e-12


def test_an_idle_session_settles_at_its_timeout_on_the_lab_clock(lab: Any, tmp_path: Path) -> None:
    arn = _agent(lab, tmp_path, "idle_agent")
    sid = "settle-idle-session-" + "b" * 20
    _call(lab, arn, sid, note=1)
    clock.advance(20)
    _call(lab, arn, sid, note=2)
    session = runtime.find_session(arn, sid)
    assert session is not None
    clock.advance(IDLE + 200)  # idle past the timeout: reaped, billed until the timeout only
    assert runtime.find_session(arn, sid) is None
    assert session.ended == session.last_active + IDLE
    lived = session.ended - session.started
    assert lived >= 20 + IDLE
    rows = _rows(lab)
    assert len(rows) == 2
    measured = agentcore.measured_usd(lived, session.cpu_seconds())
    assert abs(sum(r.actual_usd or 0.0 for r in rows) - measured) < 1e-12
    # each call's share: the first from the session's start to the second call
    memory, _ = agentcore.session_rates()
    assert rows[0].actual_usd is not None and rows[0].actual_usd >= memory * 20
    assert rows[1].actual_usd is not None and rows[1].actual_usd >= memory * IDLE
    _spent_follows(lab)


def test_the_budget_still_refuses_a_session_it_cannot_cover(tmp_path: Path) -> None:
    from mllab import Lab

    lab = Lab("test-agent-settle-budget", backend="offline", budget_usd=1.5 * WINDOW)
    try:
        arn = _agent(lab, tmp_path, "budget_agent")
        first, second = "budget-first-" + "c" * 30, "budget-second-" + "d" * 30
        _call(lab, arn, first, note=1)
        _call(lab, arn, first, note=2)  # the increment fits
        with pytest.raises(CostGuardError, match="exceeds the lab's remaining budget"):
            _call(lab, arn, second, note=1)  # a second window does not
        assert runtime.sessions(arn) == [first]  # refused before it was sent
        _spent_follows(lab)
        lab.client("bedrock-agentcore").stop_runtime_session(
            agentRuntimeArn=arn, runtimeSessionId=first
        )
        assert lab.cost()["spent_usd"] < 0.5 * WINDOW  # settled: the budget is back
        _call(lab, arn, second, note=1)
        _spent_follows(lab)
    finally:
        lab.close()
    rows = _rows(lab)
    assert len(rows) == 3 and all(r.actual_usd is not None for r in rows)  # closed: settled
