"""Execution environments of offline Lambda functions: start, reuse, limit, kill (lab 06).

An :class:`ExecutionEnvironment` is one :mod:`~mllab.offline.lambda_.worker` subprocess
serving one function version, as a Lambda execution environment is: its first invocation
pays the init phase (a *cold start*, ``Init Duration`` in the ``REPORT`` line), later ones
reuse it (*warm*: module-level state survives). One environment serves one invocation at a
time; concurrent invocations get more environments. Idle environments are kept for
:data:`IDLE_SECONDS` (AWS keeps them for minutes, unpublished), at most
:data:`MAX_IDLE` in all, and all are killed when the offline account is reset.

Limits, enforced by this (parent) process as the SageMaker job runner enforces
``MaxRuntimeInSeconds`` (:mod:`mllab.offline.sagemaker.jobproc`: the child gets the lab's
environment minus AWS settings, runs in its own process group, and is killed whole):

* **Timeout** on the lab clock (:mod:`mllab.offline.clock`): past ``Timeout`` seconds the
  environment is killed and the invocation fails with ``Sandbox.Timedout`` ("Task timed out
  after N.00 seconds"); ``clock.advance`` makes a long function time out at once.
* **Memory**: the child's resident set (``VmRSS``, polled; then its peak ``VmHWM``) against
  ``MemorySize``; past it the environment is killed and the invocation fails with
  ``Runtime.OutOfMemory``. As on AWS the figure includes the runtime itself (this Python
  and what the function imported). Not ``RLIMIT_AS``, which counts reserved address space
  and would refuse a 128 MB function its interpreter; a looser ``RLIMIT_AS``
  (``MemorySize`` + 2 GiB) only protects the machine.

Logs go to CloudWatch Logs group ``/aws/lambda/<function>``, one stream per environment
(``YYYY/MM/DD/[<version>]<id>``), in the runtime's text format (``START``, the function's
lines, ``END``, ``REPORT``).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline import clock

WORKER = Path(__file__).resolve().parent / "worker.py"
MARKER = "\x1emllab-lambda-phase-end"

#: Seconds an idle environment is kept for reuse.
IDLE_SECONDS = 300.0
#: Most idle environments kept across all functions (the machine is shared).
MAX_IDLE = 6
#: The init phase's own limit (AWS: 10 s for on-demand functions).
INIT_LIMIT_SECONDS = 10.0
#: How often the parent looks at a running invocation (timeout, memory), in seconds.
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment needs to know about one function version.

    Attributes:
        account_id: the account.
        region: the region.
        name: the function name.
        arn: the unqualified function ARN.
        version: ``$LATEST`` or a published version number.
        handler: ``module.function``.
        runtime: e.g. ``python3.12``.
        memory_mb: ``MemorySize``.
        timeout_s: ``Timeout``.
        variables: ``Environment.Variables``.
        code_sha: the code's SHA-256 (environments of other code are not reused).
        code_dir: the folder the code is extracted in.
        log_group: the CloudWatch Logs group.
    """

    account_id: str
    region: str
    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    variables: tuple[tuple[str, str], ...]
    code_sha: str
    code_dir: str
    log_group: str

    def key(self) -> tuple[Any, ...]:
        """Environments are reused only for the same function, version, code and configuration."""
        return (
            self.account_id,
            self.region,
            self.arn,
            self.version,
            self.code_sha,
            self.handler,
            self.memory_mb,
            self.timeout_s,
            self.variables,
        )


@dataclass
class Outcome:
    """How one invocation ended.

    Attributes:
        request_id: the request id.
        ok: the handler returned and its answer serialised.
        payload: the answer's JSON bytes (the error document when not ok).
        error_type: ``errorType`` when not ok (``Sandbox.Timedout``, ``ValueError``...).
        log_lines: the invocation's log lines (``START`` ... ``REPORT``).
        duration_ms: the handler's duration.
        billed_ms: billed duration (init included on a cold start, as AWS bills it since
            August 2025 for managed runtimes).
        max_memory_mb: the environment's peak memory.
        init_ms: the init phase's duration on a cold start, else None.
    """

    request_id: str
    ok: bool
    payload: bytes
    error_type: str | None
    log_lines: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    billed_ms: int = 0
    max_memory_mb: int = 0
    init_ms: float | None = None


def _status_kb(pid: int, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class ExecutionEnvironment:
    """One worker subprocess for one function version (see the module docstring).

    Args:
        spec: the function version.
        bridge_env: the variables that connect the child to the lab's call bridge.
    """

    def __init__(self, spec: FunctionSpec, bridge_env: dict[str, str]) -> None:
        from mllab.offline.sagemaker.cwlogs import LogStream
        from mllab.offline.sagemaker.jobproc import child_env

        self.spec = spec
        self.id = uuid.uuid4().hex
        day = time.strftime("%Y/%m/%d", time.gmtime(clock.now()))
        self.log_stream = f"{day}/[{spec.version}]{self.id}"
        self.log = LogStream(spec.account_id, spec.region, spec.log_group, self.log_stream)
        self.last_used = time.monotonic()
        self.dead = False
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._phase_end = threading.Event()
        parent_sock, child_sock = socket.socketpair()
        from multiprocessing.connection import Connection

        self._conn = Connection(os.dup(parent_sock.fileno()))
        parent_sock.close()
        env = child_env(
            max(1, math.ceil(spec.memory_mb / 1769)),
            {
                **dict(spec.variables),
                **bridge_env,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "LAMBDA_TASK_ROOT": spec.code_dir,
                "LAMBDA_RUNTIME_DIR": str(WORKER.parent),
                "_HANDLER": spec.handler,
                "TZ": ":UTC",
                "MLLAB_LAMBDA_FD": str(child_sock.fileno()),
            },
        )
        # the lab's own PYTHONPATH would let the function import mllab: Lambda has none of it
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(  # noqa: S603 - our own worker, by path
            [_python(), str(WORKER)],
            cwd=spec.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(child_sock.fileno(),),
            start_new_session=True,
        )
        child_sock.close()
        with contextlib.suppress(Exception):
            import resource

            cap = (spec.memory_mb + 2048) * 1024 * 1024
            resource.prlimit(self.proc.pid, resource.RLIMIT_AS, (cap, cap))
        threading.Thread(target=self._read, daemon=True, name="mllab-lambda-out").start()

    # ------------------------------------------------------------------ output
    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line == MARKER:
                self._phase_end.set()
                continue
            with self._lines_lock:
                self._lines.append(line)
        self._phase_end.set()

    def _take_lines(self, wait: bool) -> list[str]:
        if wait:
            self._phase_end.wait(timeout=5.0)
        with self._lines_lock:
            lines, self._lines = self._lines, []
        self._phase_end.clear()
        return lines

    def _write(self, lines: list[str]) -> None:
        for line in lines:
            self.log.write(line)
        self.log.flush()

    # ------------------------------------------------------------------ lifecycle
    def kill(self) -> None:
        """Kill the environment's process group (idempotent)."""
        self.dead = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
        with contextlib.suppress(Exception):
            self._conn.close()

    def _wait(self, limit_s: float, request_id: str) -> tuple[str, dict[str, Any] | None, int]:
        """Wait for the child's next message under the time and memory limits.

        Returns:
            (``"ok"`` | ``"timeout"`` | ``"oom"`` | ``"crash"``, the message, peak MB).
        """
        start = clock.now()
        limit_kb = self.spec.memory_mb * 1024
        peak_kb = 0
        while True:
            try:
                if self._conn.poll(POLL_SECONDS):
                    kind, msg = self._conn.recv()
                    return "ok", msg, int(msg.get("max_memory_mb") or 0)
            except (EOFError, OSError):
                return "crash", None, peak_kb // 1024
            rss = _status_kb(self.proc.pid, "VmRSS") or 0
            hwm = _status_kb(self.proc.pid, "VmHWM") or rss
            peak_kb = max(peak_kb, hwm)
            if peak_kb > limit_kb:
                self.kill()
                return "oom", None, self.spec.memory_mb
            if self.proc.poll() is not None:
                return "crash", None, peak_kb // 1024
            if clock.now() - start >= limit_s:
                self.kill()
                return "timeout", None, peak_kb // 1024

    def init(self) -> tuple[bool, float, dict[str, Any] | None, list[str]]:
        """Wait for the init phase; return (ok, init ms, error document, log lines)."""
        lines = [
            f"INIT_START Runtime Version: {self.spec.runtime}.mllab-offline\t"
            f"Runtime Version ARN: arn:aws:lambda:{self.spec.region}::runtime:mllab-offline"
        ]
        state, msg, _ = self._wait(max(INIT_LIMIT_SECONDS, float(self.spec.timeout_s)), "")
        lines += self._take_lines(wait=state == "ok")
        if state == "ok" and msg is not None:
            if msg.get("ok"):
                return True, float(msg.get("init_ms") or 0.0), None, lines
            if msg.get("log"):
                lines.append(str(msg["log"]))
            return False, float(msg.get("init_ms") or 0.0), msg.get("error"), lines
        self.kill()
        text = {
            "timeout": "Init phase timed out",
            "oom": "Runtime exited with error: signal: killed",
            "crash": f"Runtime exited with error: exit status {self.proc.returncode}",
        }[state]
        err = {
            "errorMessage": f"Error: {text}",
            "errorType": "Runtime.OutOfMemory" if state == "oom" else "Runtime.ExitError",
        }
        return False, 0.0, err, lines

    def invoke(self, request: dict[str, Any], init_ms: float | None, started_cold: bool) -> Outcome:
        """Run one invocation; the environment is killed when it times out or runs out of memory."""
        rid = request["request_id"]
        spec = self.spec
        t0 = time.perf_counter()
        self._conn.send(("invoke", request))
        state, msg, peak = self._wait(float(spec.timeout_s), rid)
        duration = (time.perf_counter() - t0) * 1000.0
        if state == "timeout":
            duration = max(duration, spec.timeout_s * 1000.0)
        lines = self._take_lines(wait=state == "ok")
        payload: bytes
        ok = False
        error_type: str | None = None
        if state == "ok" and msg is not None:
            if msg.get("ok"):
                ok = True
                payload = msg["payload"]
            else:
                err = msg["error"]
                error_type = err.get("errorType")
                payload = _json(err)
                if msg.get("log"):
                    lines.append(str(msg["log"]))
                if msg.get("exit"):
                    self.kill()
        elif state == "timeout":
            stamp = clock.now_dt().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            lines.append(f"{stamp} {rid} Task timed out after {spec.timeout_s:.2f} seconds")
            error_type = "Sandbox.Timedout"
            payload = _json(
                {
                    "errorMessage": f"RequestId: {rid} Error: Task timed out after "
                    f"{spec.timeout_s:.2f} seconds",
                    "errorType": error_type,
                }
            )
        elif state == "oom":
            error_type = "Runtime.OutOfMemory"
            text = f"RequestId: {rid} Error: Runtime exited with error: signal: killed"
            lines.append(text)
            payload = _json({"errorMessage": text, "errorType": error_type})
        else:
            self.kill()
            code = self.proc.returncode
            error_type = "Runtime.ExitError"
            text = f"RequestId: {rid} Error: Runtime exited with error: exit status {code}"
            lines.append(text)
            payload = _json({"errorMessage": text, "errorType": error_type})
        billed = math.ceil(duration + (init_ms or 0.0)) if started_cold else math.ceil(duration)
        report = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: "
            f"{billed} ms\tMemory Size: {spec.memory_mb} MB\tMax Memory Used: "
            f"{min(peak, spec.memory_mb) if state == 'oom' else peak} MB"
        )
        if started_cold and init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if state == "timeout":
            report += "\tStatus: timeout"
        all_lines = [
            f"START RequestId: {rid} Version: {spec.version}",
            *lines,
            f"END RequestId: {rid}",
            report,
        ]
        self.last_used = time.monotonic()
        return Outcome(
            request_id=rid,
            ok=ok,
            payload=payload,
            error_type=error_type,
            log_lines=all_lines,
            duration_ms=duration,
            billed_ms=billed,
            max_memory_mb=peak,
            init_ms=init_ms if started_cold else None,
        )


def _json(doc: dict[str, Any]) -> bytes:
    import json

    return json.dumps(doc).encode()


def _python() -> str:
    import sys

    return sys.executable


# --------------------------------------------------------------------------- the pool


class Pool:
    """Idle environments by function version, and the count of busy ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[Any, ...], list[ExecutionEnvironment]] = {}
        self._busy: dict[str, int] = {}
        self._all: set[ExecutionEnvironment] = set()

    def busy(self, arn: str) -> int:
        """Invocations of a function running now."""
        with self._lock:
            return self._busy.get(arn, 0)

    def acquire(
        self, spec: FunctionSpec, bridge_env: dict[str, str]
    ) -> tuple[ExecutionEnvironment, bool]:
        """Return a warm environment of ``spec`` or start one; and whether it is new (cold)."""
        self.reap()
        with self._lock:
            self._busy[spec.arn] = self._busy.get(spec.arn, 0) + 1
            idle = self._idle.get(spec.key(), [])
            while idle:
                env = idle.pop()
                if not env.dead and env.proc.poll() is None:
                    return env, False
        env = ExecutionEnvironment(spec, bridge_env)
        with self._lock:
            self._all.add(env)
        return env, True

    def release(self, env: ExecutionEnvironment) -> None:
        """Give an environment back after an invocation (kept warm unless it died)."""
        with self._lock:
            arn = env.spec.arn
            self._busy[arn] = max(0, self._busy.get(arn, 0) - 1)
            if env.dead or env.proc.poll() is not None:
                self._all.discard(env)
                return
            self._idle.setdefault(env.spec.key(), []).append(env)
        self.reap()

    def reap(self) -> None:
        """Kill environments idle too long, or beyond :data:`MAX_IDLE`."""
        now = time.monotonic()
        doomed: list[ExecutionEnvironment] = []
        with self._lock:
            idle = [(e.last_used, k, e) for k, envs in self._idle.items() for e in envs]
            idle.sort(key=lambda t: t[0])
            keep = max(0, len(idle) - MAX_IDLE)
            for i, (used, key, env) in enumerate(idle):
                if i < keep or now - used > IDLE_SECONDS:
                    self._idle[key].remove(env)
                    doomed.append(env)
        for env in doomed:
            env.kill()
            with self._lock:
                self._all.discard(env)

    def drop(self, arn: str | None = None) -> None:
        """Kill the idle environments of one function (its code or configuration changed), or all."""
        doomed: list[ExecutionEnvironment] = []
        with self._lock:
            for key in list(self._idle):
                if arn is None or key[2] == arn:
                    doomed += self._idle.pop(key)
            if arn is None:
                doomed += list(self._all)
                self._all.clear()
                self._busy.clear()
        for env in doomed:
            env.kill()


POOL = Pool()
