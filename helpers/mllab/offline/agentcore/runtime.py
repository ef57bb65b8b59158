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

    def alive(self) -> bool:
        return self.proc.poll() is None

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


def _start(rt: store.AgentRuntime, endpoint: str, version: str, session_id: str) -> Session:
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
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if proc.poll() is not None:
            tail = _tail(log)
            session.kill()
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
            session.kill()
            raise AwsError(
                "RuntimeClientError",
                f"The agent did not answer GET /ping on its port within {READY_SECONDS:.0f} s: "
                "an AgentCore agent must serve /ping and /invocations (BedrockAgentCoreApp "
                "does).",
                424,
            )
        time.sleep(0.05)
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
        s.kill()
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
        s.kill()


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
        if session is not None and (session.version != version or session.endpoint != endpoint):
            _SESSIONS.pop(key)
            session.kill()
            session = None
    if session is None:
        session = _start(rt, endpoint, version, session_id)
        with _LOCK:
            _SESSIONS[key] = session
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
    if not session.alive():
        with _LOCK:
            _SESSIONS.pop(key, None)
        session.kill()
    if status >= 500 or (status >= 400 and status != 424):
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
    session.kill()
    return {"runtimeSessionId": sid, "statusCode": 200}


@on_reset
def _reset() -> None:
    global _BRIDGE
    stop_sessions(None)
    with _LOCK:
        if _BRIDGE is not None:
            _BRIDGE.close()
            _BRIDGE = None
