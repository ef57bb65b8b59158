"""Offline ``bedrock-agentcore`` ``InvokeAgentRuntime``: the agent really runs (lab 06).

Each ``runtimeSessionId`` gets its own process, as each AgentCore session gets its own
microVM: the session's copy of the code, its own memory, nothing shared with other sessions.
The process is started by :mod:`mllab.offline.agentcore.agent_boot` and must honour
AgentCore's HTTP runtime contract -- ``GET /ping`` answers ``{"status": "Healthy"}`` once it
is ready, ``POST /invocations`` takes the payload -- which an agent written with the
``bedrock-agentcore`` SDK's ``BedrockAgentCoreApp`` does unchanged; offline it listens on a
free local port instead of 8080 (see the boot module). The agent's AWS calls (strands'
``BedrockModel`` calling Converse, memory events, ...) cross the call bridge
(:mod:`mllab.offline.lambda_.bridge`) and are answered by the offline account through the cost
guard -- chosen over a local HTTP proxy endpoint because the guard and the offline handlers
hook botocore calls, not HTTP, and the bridge already carries streamed answers.

Sessions keep their state between invocations (module globals, the strands ``Agent``'s
conversation) until they are idle longer than ``lifecycleConfiguration
.idleRuntimeSessionTimeout`` (default 900 s) or older than ``maxLifetime`` (default 8 h), on the
lab clock: ``clock.advance(901)`` ends an idle session, and the next invocation with that id
starts a fresh one. ``StopRuntimeSession`` ends one at once. Streaming responses
(``text/event-stream`` from an async-generator entrypoint) come back as the ``response``
stream, read with ``iter_lines()`` as on AWS; a stream that ends without its final event (the
agent died mid-answer) is returned as far as it got and marked in the trace.

Metering, for the cost guard (:mod:`mllab.guard.declarations.agentcore`): each session
knows when it started, its last activity and, once it ended, when it ended on the lab clock
(idle timeout: ``last_active + idleRuntimeSessionTimeout``, not when the session was reaped;
``maxLifetime``; ``StopRuntimeSession``, the runtime's deletion and the lab's close: then),
and how much CPU its process consumed (user + system seconds from ``/proc``; where that
cannot be read, the seconds it spent starting and answering, at one vCPU). Every call links
its ledger row to the session (the guard's reservation, found in the request context); when
the session ends, the rows are settled to the session's measured consumption
(:func:`mllab.guard.declarations.agentcore.measured_usd`), each row to its share from its call
to the next one, the last absorbing the per-second rounding. A call that fails after its
session started keeps its charge (the session bills until it ends): its reservation, which the
guard drops for a failed request, is written again as a plain row first.

Errors as AgentCore reports them: an agent that answers 5xx gives ``RuntimeClientError``
(424) "Received error (500) from runtime. Please check your CloudWatch logs for more
information."; an agent that never becomes healthy, the same with the reason.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline import clock
from mllab.offline.agentcore import observability, store
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

BOOT = Path(__file__).resolve().parent / "agent_boot.py"
#: Seconds a session may take to answer GET /ping (imports of strands take seconds).
READY_SECONDS = float(os.environ.get("MLLAB_AGENT_READY_SECONDS", "180"))
#: Seconds one invocation may take (AgentCore: 15 minutes for a synchronous request).
REQUEST_SECONDS = 900.0

_LOCK = threading.RLock()
_SESSIONS: dict[tuple[str, str], Session] = {}
_BRIDGE: Any = None


@dataclass
class Session:
    """One running session: its process, port, folder and clocks."""

    runtime_arn: str
    runtime_id: str
    runtime_name: str
    endpoint: str
    version: str
    session_id: str
    proc: subprocess.Popen[bytes]
    port: int
    folder: str
    spans_path: str
    log_path: str
    started: float
    last_active: float
    idle_timeout: float
    max_lifetime: float
    invocations: int = 0
    log_offset: int = 0
    span_offset: int = 0
    busy: int = 0
    spans: list[dict[str, Any]] = field(default_factory=list)
    #: CPU seconds (user + system) the process consumed, as last read; None: never readable.
    cpu_read: float | None = None
    #: Wall seconds spent starting and answering (the CPU measure where /proc is unreadable).
    busy_seconds: float = 0.0
    #: The ledger rows of the calls made into this session, oldest first.
    charges: list[Charge] = field(default_factory=list)
    #: When the session ended (lab clock), once it did.
    ended: float | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def sample_cpu(self) -> float:
        """Read the process's CPU seconds now (kept when the process is gone); return the
        session's CPU measure."""
        read = _proc_cpu_seconds(self.proc.pid)
        if read is not None:
            self.cpu_read = max(self.cpu_read or 0.0, read)
        return self.cpu_seconds()

    def cpu_seconds(self) -> float:
        """CPU seconds consumed so far, as last sampled (see the module doc)."""
        return self.cpu_read if self.cpu_read is not None else self.busy_seconds

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def expired(self, now: float) -> bool:
        if self.busy:
            return False
        return now - self.last_active > self.idle_timeout or now - self.started > self.max_lifetime


@dataclass
class Charge:
    """One call's ledger row, linked to the session it ran in.

    Attributes:
        ledger: the ledger of the lab that made the call.
        row: the row id (the guard's reservation, or a row written again if the call failed).
        usd: what the row reserved (its estimate).
        at: when the call came (lab clock; the session's start for the call that started it).
        cpu: the session's CPU seconds then.
        pending: the row is the guard's reservation, which the guard settles or drops.
        guard: the guard that reserved it (to write a failed call's row again).
    """

    ledger: Any
    row: int
    usd: float
    at: float
    cpu: float
    pending: bool = True
    guard: Any = None
    detail: dict[str, Any] = field(default_factory=dict)


def _proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (and its waited-for children), from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        return ticks / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def _charge_of(call: OfflineCall, at: float, cpu: float) -> Charge | None:
    """The guard's reservation for this call (from the request context), if it made one."""
    info = (call.context or {}).get("mllab") or {}
    est, guard = info.get("estimate"), info.get("guard")
    if est is None or guard is None or not getattr(est, "reservation", None):
        return None
    return Charge(
        ledger=guard.ledger,
        row=int(est.reservation),
        usd=float(est.usd),
        at=at,
        cpu=cpu,
        guard=guard,
        detail=dict(est.detail),
    )


def _keep(session: Session) -> None:
    """The call failed after its session started: write its reservation again as a plain row
    (the guard drops the reservation of a failed request, but the session bills until it ends)."""
    for c in session.charges:
        if not c.pending or c.guard is None:
            continue
        g = c.guard
        with contextlib.suppress(Exception):  # metering must not hide the call's own error
            c.row = g.ledger.record(
                lab=g.lab,
                run=g.run,
                backend=g.backend,
                region=g.region,
                service="bedrock-agentcore",
                operation="InvokeAgentRuntime",
                resource=session.runtime_arn,
                estimate_usd=c.usd,
                detail={
                    **c.detail,
                    "failed": True,
                    "note": "the call failed after its session started; the session bills "
                    "until it ends",
                },
            )
        c.pending = False


def _confirm(session: Session) -> None:
    """The call succeeded: the guard settles its reservation (the row id stays)."""
    for c in session.charges:
        c.pending = False


def usage_usd(session: Session) -> float:
    """What the session cost as measured (lifetime so far or until it ended, CPU consumed)."""
    from mllab.guard.declarations.agentcore import measured_usd

    end = session.ended if session.ended is not None else clock.now()
    return measured_usd(end - session.started, session.cpu_seconds())


def _settle(session: Session) -> None:
    """Set the actual of each of the session's rows to its share of the measured use."""
    from mllab.guard.declarations.agentcore import measured_usd, session_rates

    charges = list(session.charges)
    if not charges or session.ended is None:
        return
    memory, cpu = session_rates()
    total_cpu = session.cpu_seconds()
    total = measured_usd(session.ended - session.started, total_cpu)
    shares: list[float] = []
    for i, c in enumerate(charges[:-1]):
        nxt = charges[i + 1]
        seconds = max(0.0, min(nxt.at, session.ended) - max(c.at, session.started))
        shares.append(memory * seconds + cpu * max(0.0, nxt.cpu - c.cpu))
    shares.append(max(0.0, total - sum(shares)))
    for c, usd in zip(charges, shares, strict=True):
        with contextlib.suppress(Exception):  # a closed ledger must not fail a teardown
            c.ledger.set_actual(c.row, usd)


def _end(session: Session, at: float | None = None) -> None:
    """End a session: when (see the module doc), kill its process, settle its rows."""
    if session.ended is not None:
        session.kill()
        return
    now = clock.now() if at is None else at
    natural = min(
        session.last_active + session.idle_timeout, session.started + session.max_lifetime
    )
    session.ended = now if session.busy else max(session.last_active, min(now, natural))
    session.sample_cpu()
    session.kill()
    _settle(session)


def session_usage(runtime_arn: str, session_id: str, endpoint: str) -> dict[str, float] | None:
    """What a running session a call would reuse has used and reserved (for the cost guard).

    Returns:
        ``{"age_seconds", "cpu_seconds", "reserved_usd", "idle_timeout", "max_lifetime"}``,
        or None when the call would start a new session. Costs nothing.
    """
    now = clock.now()
    with _LOCK:
        found = [
            s
            for (arn, sid), s in _SESSIONS.items()
            if sid == session_id
            and (runtime_arn in (arn, s.runtime_id) or runtime_arn.startswith(arn + "/"))
        ]
    if not found:
        return None
    s = found[0]
    if s.expired(now) or not s.alive() or s.endpoint != endpoint:
        return None
    with contextlib.suppress(Exception):
        rt = next(r for r in store.STATE.runtimes.values() if r.arn == s.runtime_arn)
        ep = rt.endpoints.get(endpoint)
        if ep is None or ep.live_version != s.version:
            return None
    with _LOCK:
        reserved = sum(c.usd for c in s.charges)
    return {
        "age_seconds": max(0.0, now - s.started),
        "cpu_seconds": s.sample_cpu(),
        "reserved_usd": reserved,
        "idle_timeout": s.idle_timeout,
        "max_lifetime": s.max_lifetime,
    }


def _bridge(region: str) -> Any:
    global _BRIDGE
    from mllab.offline.lambda_.bridge import Bridge

    with _LOCK:
        if _BRIDGE is None:
            _BRIDGE = Bridge(None, region)
        return _BRIDGE


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(method: str, port: int, path: str, body: bytes | None, headers: dict[str, str],
          timeout: float) -> tuple[int, dict[str, str], bytes, bool]:  # fmt: skip
    """One HTTP request to the session; returns (status, headers, body, complete)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        chunks: list[bytes] = []
        complete = True
        try:
            while True:
                chunk = resp.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (http.client.IncompleteRead, ConnectionError) as err:
            partial = getattr(err, "partial", b"")
            if partial:
                chunks.append(partial)
            complete = False
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, b"".join(chunks), complete
    finally:
        conn.close()


def _start(
    rt: store.AgentRuntime,
    endpoint: str,
    version: str,
    session_id: str,
    call: OfflineCall | None = None,
) -> Session:
    from mllab.offline.agentcore import images
    from mllab.offline.sagemaker.jobproc import child_env

    cfg = rt.versions[version].config
    resolved = images.resolve(rt.account_id, rt.region, cfg.get("agentRuntimeArtifact") or {})
    folder = tempfile.mkdtemp(prefix="mllab-agent-session-")
    code = os.path.join(folder, "app")
    shutil.copytree(resolved.code_dir, code)
    port = _free_port()
    spans = os.path.join(folder, "spans.jsonl")
    log = os.path.join(folder, "output.log")
    Path(spans).touch()
    endpoint_arn = f"{rt.arn}/runtime-endpoint/{endpoint}"
    env = child_env(
        2,
        {
            **{str(k): str(v) for k, v in (cfg.get("environmentVariables") or {}).items()},
            **_bridge(rt.region).child_env(),
            "PORT": str(port),
            "MLLAB_AGENT_SPANS": spans,
            "MLLAB_AGENT_NAME": rt.name,
            "MLLAB_AGENT_ENTRY": json.dumps(
                {"module": resolved.module, "script": resolved.script, "args": list(resolved.args)}
            ),
            "OTEL_RESOURCE_ATTRIBUTES": f"cloud.resource_id={endpoint_arn},service.name={rt.name}",
            "AWS_EXECUTION_ENV": "AWS_BedrockAgentCore",
        },
    )
    env.pop("PYTHONPATH", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own boot module, by path
            [sys.executable, str(BOOT)],
            cwd=code,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    life = cfg.get("lifecycleConfiguration") or {}
    now = clock.now()
    session = Session(
        runtime_arn=rt.arn,
        runtime_id=rt.id,
        runtime_name=rt.name,
        endpoint=endpoint,
        version=version,
        session_id=session_id,
        proc=proc,
        port=port,
        folder=folder,
        spans_path=spans,
        log_path=log,
        started=now,
        last_active=now,
        idle_timeout=float(life.get("idleRuntimeSessionTimeout") or 900),
        max_lifetime=float(life.get("maxLifetime") or 28800),
    )
    charge = _charge_of(call, now, 0.0) if call is not None else None
    if charge is not None:
        session.charges.append(charge)
    t0 = time.monotonic()
    deadline = t0 + READY_SECONDS
    while True:
        session.busy_seconds = time.monotonic() - t0
        if proc.poll() is not None:
            tail = _tail(log)
            _keep(session)
            _end(session)
            raise AwsError(
                "RuntimeClientError",
                "The agent exited before it answered GET /ping "
                f"(exit status {proc.returncode}). Please check your CloudWatch logs for more "
                f"information. Last output: {tail}",
                424,
            )
        try:
            status, _, body, _ = _http("GET", port, "/ping", None, {}, timeout=2.0)
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            _keep(session)
            _end(session)
            raise AwsError(
                "RuntimeClientError",
                f"The agent did not answer GET /ping on its port within {READY_SECONDS:.0f} s: "
                "an AgentCore agent must serve /ping and /invocations (BedrockAgentCoreApp "
                "does).",
                424,
            )
        session.sample_cpu()
        time.sleep(0.05)
    session.busy_seconds = time.monotonic() - t0
    session.sample_cpu()
    return session


def _tail(path: str, n: int = 8) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def _collect(session: Session, account_id: str, region: str) -> list[dict[str, Any]]:
    """Move the session's new output lines and spans into CloudWatch; return the new spans."""
    try:
        with open(session.log_path, "rb") as fh:
            fh.seek(session.log_offset)
            data = fh.read()
            session.log_offset += len(data)
        lines = data.decode("utf-8", errors="replace").splitlines()
        observability.write_runtime_logs(
            account_id, region, session.runtime_id, session.endpoint, session.session_id, lines
        )
    except OSError:
        pass
    new: list[dict[str, Any]] = []
    try:
        with open(session.spans_path, "rb") as fh:
            fh.seek(session.span_offset)
            data = fh.read()
        # only whole lines: a span being written now is read next time
        cut = data.rfind(b"\n") + 1
        session.span_offset += cut
        for line in data[:cut].splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                doc.setdefault("attributes", {})["session.id"] = session.session_id
                new.append(doc)
    except OSError:
        pass
    return new


def reap(now: float | None = None) -> int:
    """End sessions idle past their timeout or older than their lifetime (lab clock).

    Returns:
        How many sessions ended. Costs nothing (it stops what bills).
    """
    t = clock.now() if now is None else now
    with _LOCK:
        doomed = [k for k, s in _SESSIONS.items() if s.expired(t) or not s.alive()]
        ended = [_SESSIONS.pop(k) for k in doomed]
    for s in ended:
        _end(s, t)
    return len(ended)


def _reap_on_advance() -> None:
    reap()


clock.on_advance(_reap_on_advance)


def stop_sessions(runtime_arn: str | None = None) -> None:
    """Kill every session (of one runtime, or all)."""
    with _LOCK:
        keys = [
            k for k, s in _SESSIONS.items() if runtime_arn is None or s.runtime_arn == runtime_arn
        ]
        ended = [_SESSIONS.pop(k) for k in keys]
    for s in ended:
        _end(s)


def find_session(runtime_arn: str, session_id: str) -> Session | None:
    """The running session ``session_id`` of a runtime (by ARN), or None."""
    with _LOCK:
        return _SESSIONS.get((runtime_arn, session_id))


def sessions(runtime_arn: str | None = None) -> list[str]:
    """The ids of the running sessions (of one runtime, or all)."""
    with _LOCK:
        return [s.session_id for s in _SESSIONS.values() if runtime_arn in (None, s.runtime_arn)]


def _streaming(data: bytes) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


@handles("bedrock-agentcore", "InvokeAgentRuntime")
def invoke_agent_runtime(call: OfflineCall) -> dict[str, Any]:
    """Run one invocation in the session's process (bills vCPU and GB while the session lives)."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeArn", "")))
    endpoint = str(p.get("qualifier") or "DEFAULT")
    ep = rt.endpoints.get(endpoint)
    if ep is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Endpoint {endpoint} not found for agent runtime {rt.id}",
            404,
        )
    version = ep.live_version
    failed = rt.versions[version]
    if failed.status != "READY":
        raise AwsError(
            "ValidationException",
            f"Agent runtime {rt.id} version {version} (endpoint {endpoint}) is "
            f"{failed.status}: {failed.failure_reason}",
        )
    session_id = str(p.get("runtimeSessionId") or uuid.uuid4())
    if len(session_id) < 33:
        raise AwsError(
            "ValidationException",
            "1 validation error detected: Value at 'runtimeSessionId' failed to satisfy "
            "constraint: Member must have length greater than or equal to 33",
        )
    payload = p.get("payload") or b""
    if hasattr(payload, "read"):
        payload = payload.read()
    if isinstance(payload, str):
        payload = payload.encode()
    reap()
    key = (rt.arn, session_id)
    with _LOCK:
        session = _SESSIONS.get(key)
        stale = session is not None and (session.version != version or session.endpoint != endpoint)
        if stale:
            _SESSIONS.pop(key)
    if stale and session is not None:
        _end(session)  # another version now serves the endpoint: a new session
        session = None
    if session is None:
        session = _start(rt, endpoint, version, session_id, call)
        with _LOCK:
            _SESSIONS[key] = session
    else:
        charge = _charge_of(call, clock.now(), session.sample_cpu())
        if charge is not None:
            with _LOCK:
                session.charges.append(charge)
    trace_id = secrets.token_hex(16)
    headers = {
        "Content-Type": str(p.get("contentType") or "application/json"),
        "Accept": str(p.get("accept") or "application/json, text/event-stream"),
        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session_id,
        "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id": str(uuid.uuid4()),
    }
    if p.get("runtimeUserId"):
        headers["X-Amzn-Bedrock-AgentCore-Runtime-User-Id"] = str(p["runtimeUserId"])
    start_ns = time.time_ns()
    t0 = time.perf_counter()
    session.busy += 1
    error: str | None = None
    try:
        status, resp_headers, body, complete = _http(
            "POST", session.port, "/invocations", bytes(payload), headers, REQUEST_SECONDS
        )
    except OSError as err:
        status, resp_headers, body, complete = 502, {}, b"", False
        error = f"the agent's connection failed: {err}"
    finally:
        session.busy -= 1
        session.last_active = clock.now()
        session.invocations += 1
        session.busy_seconds += time.perf_counter() - t0
        session.sample_cpu()
    latency_ms = (time.perf_counter() - t0) * 1000.0
    content_type = resp_headers.get("content-type", "application/json")
    if content_type.startswith("text/event-stream") and complete and body:
        complete = body.endswith(b"\n\n")  # every server-sent event ends with a blank line
    agent_spans = _collect(session, call.account_id, call.region)
    if status >= 400 and error is None:
        error = f"Received error ({status}) from runtime"
    if not session.alive():
        error = error or "the agent's process exited"
        complete = False
    root = observability.server_span(
        trace_id=trace_id,
        runtime_arn=rt.arn,
        runtime_name=rt.name,
        endpoint=endpoint,
        version=version,
        session_id=session_id,
        start_ns=start_ns,
        end_ns=time.time_ns(),
        status_code=status,
        error=error,
        stream_complete=complete,
        agent_spans=agent_spans,
    )
    observability.write_spans(call.account_id, call.region, [root, *agent_spans])
    observability.put_metrics(
        call.account_id,
        call.region,
        rt.arn,
        f"{rt.name}::{endpoint}",
        {
            "Invocations": 1,
            "Latency": latency_ms,
            "SystemErrors": 1.0 if status >= 500 else 0.0,
            "UserErrors": 1.0 if 400 <= status < 500 else 0.0,
            "SessionCount": float(len(sessions(rt.arn))),
        },
    )
    refused = status >= 500 or (status >= 400 and status != 424)
    if refused:
        _keep(session)  # the session started (or ran on): it bills until it ends
    else:
        _confirm(session)
    if not session.alive():
        with _LOCK:
            _SESSIONS.pop(key, None)
        _end(session)
    if refused:
        raise AwsError(
            "RuntimeClientError",
            f"Received error ({status}) from runtime. Please check your CloudWatch logs for more "
            "information.",
            424,
        )
    return {
        "runtimeSessionId": session_id,
        "contentType": content_type,
        "response": _streaming(body),
        "statusCode": status,
        "traceId": f"Root=1-{trace_id[:8]}-{trace_id[8:]}",
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
    }


@handles("bedrock-agentcore", "StopRuntimeSession")
def stop_runtime_session(call: OfflineCall) -> dict[str, Any]:
    """End a session now (its process is killed; the next invocation starts fresh)."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeArn", "")))
    sid = str(p.get("runtimeSessionId", ""))
    with _LOCK:
        session = _SESSIONS.pop((rt.arn, sid), None)
    if session is None:
        raise AwsError("ResourceNotFoundException", f"Session {sid} not found", 404)
    _collect(session, call.account_id, call.region)
    _end(session)  # its calls are settled to what it used until now
    return {"runtimeSessionId": sid, "statusCode": 200}


@on_reset
def _reset() -> None:
    global _BRIDGE
    stop_sessions(None)
    with _LOCK:
        if _BRIDGE is not None:
            _BRIDGE.close()
            _BRIDGE = None
