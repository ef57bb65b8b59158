"""Start, watch, limit and stop the child process of an offline job (introduced in lab 03).

:class:`JobProcess` runs :mod:`mllab.offline.sagemaker.runner` as a subprocess with the
instance type's limits, streams its output lines to a callback (the CloudWatch Logs
stream and the metric parser), enforces ``MaxRuntimeInSeconds`` as a hard limit (SIGTERM,
a short grace period, then SIGKILL: AWS gives 120 seconds of grace, offline it is
:data:`GRACE_SECONDS`) and stops the child when asked.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.offline.registry import on_open

RUNNER = Path(__file__).resolve().parent / "runner.py"
ZYGOTE = Path(__file__).resolve().parent / "zygote.py"

#: Seconds between SIGTERM and SIGKILL when a job is stopped or runs out of time.
GRACE_SECONDS = 2.0

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)

#: Variables not handed to the child: credentials of the lab process, and settings that
#: would point a script at a real AWS endpoint.
_DROPPED_PREFIXES = ("AWS_", "MOTO_", "MLLAB_BUDGET")


@dataclass
class ProcResult:
    """How the child ended.

    Attributes:
        exit_code: the process's exit code (negative: killed by that signal).
        failure: the text the child wrote to ``output/failure`` (None when none).
        timed_out: ``MaxRuntimeInSeconds`` was reached.
        stopped: a stop was requested (StopTrainingJob / StopProcessingJob).
        seconds: wall-clock seconds the child ran.
    """

    exit_code: int | None
    failure: str | None
    timed_out: bool
    stopped: bool
    seconds: float


def host_cpus() -> int:
    """This machine's usable CPUs."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def child_env(vcpus: int, extra: dict[str, str]) -> dict[str, str]:
    """The child's environment: this process's, minus AWS settings, plus limits and ``extra``.

    Args:
        vcpus: the instance type's vCPUs; thread-count variables get
            ``min(vcpus, this machine's CPUs)``.
        extra: the ``SM_*`` variables and the like.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    threads = str(max(1, min(vcpus, host_cpus())))
    for var in _THREAD_VARS:
        env[var] = threads
    env["PYTHONUNBUFFERED"] = "1"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


class _Zygote:
    """The client of one pre-warmed job parent (:mod:`mllab.offline.sagemaker.zygote`).

    Started on the first job; it forks each job's process instead of starting a new
    interpreter, which saves the import of numpy, pandas, scikit-learn and xgboost per job.
    """

    def __init__(self) -> None:
        env = child_env(host_cpus(), {})
        self._proc = subprocess.Popen(  # noqa: S603 - our own server, by path
            [sys.executable, str(ZYGOTE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._started: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._ended = threading.Condition()
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if not first or not json.loads(first).get("ready"):
            raise RuntimeError("the job zygote did not start")
        threading.Thread(target=self._read, daemon=True, name="mllab-zygote").start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            msg = json.loads(line)
            if "started" in msg:
                self._started.put(int(msg["started"]))
            elif "exit" in msg:
                with self._ended:
                    self._exits[int(msg["exit"])] = int(msg["code"])
                    self._ended.notify_all()
        with self._ended:  # the server is gone: nothing else will end
            self._exits.setdefault(-1, -1)
            self._ended.notify_all()

    def alive(self) -> bool:
        return self._proc.poll() is None

    def spawn(self, jobdir: Path, env: dict[str, str], log: Path) -> int:
        """Fork a job process; return its pid (also its process group id)."""
        req = {"jobdir": str(jobdir), "env": env, "cwd": str(jobdir), "log": str(log)}
        with self._lock:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(req) + "\n")
            self._proc.stdin.flush()
            return self._started.get(timeout=60)

    def exit_code(self, pid: int, timeout: float | None = None) -> int | None:
        """Wait for a job process to end and return its exit code (None on timeout)."""
        with self._ended:
            ok = self._ended.wait_for(
                lambda: pid in self._exits or not self.alive(), timeout=timeout
            )
            if not ok:
                return None
            return self._exits.get(pid, -signal.SIGKILL)

    def ended(self, pid: int) -> bool:
        with self._ended:
            return pid in self._exits or not self.alive()

    def close(self) -> None:
        if self.alive():
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                self._proc.kill()


_ZYGOTE: _Zygote | None = None
_ZYGOTE_LOCK = threading.Lock()


def zygote() -> _Zygote | None:
    """The shared job parent, started on first use; None when disabled or unavailable.

    ``MLLAB_ZYGOTE=0`` disables it (each job then starts a new interpreter).
    """
    global _ZYGOTE
    if os.environ.get("MLLAB_ZYGOTE", "1") == "0" or not hasattr(os, "fork"):
        return None
    with _ZYGOTE_LOCK:
        if _ZYGOTE is None or not _ZYGOTE.alive():
            try:
                _ZYGOTE = _Zygote()
            except Exception:  # noqa: BLE001 - fall back to a new interpreter per job
                _ZYGOTE = None
        return _ZYGOTE


@on_open
def prewarm() -> None:
    """Start the job parent in the background when the offline account opens (lab 03).

    The parent's imports (numpy, pandas, scikit-learn, xgboost: about 3 s) then overlap with
    what the learner does before the first job (making and uploading data) instead of
    being paid by that job. Returns at once; opening a lab does not wait. Costs one idle
    process (its memory is shared with the jobs it forks); ``MLLAB_ZYGOTE=0`` disables it.
    """
    if os.environ.get("MLLAB_ZYGOTE", "1") == "0" or not hasattr(os, "fork"):
        return
    threading.Thread(target=zygote, daemon=True, name="mllab-zygote-prewarm").start()


@atexit.register
def _close_zygote() -> None:
    if _ZYGOTE is not None:
        _ZYGOTE.close()


class JobProcess:
    """One run of the runner subprocess.

    Args:
        jobdir: the job folder (``job.json`` is written there).
        spec: the runner's job description (see :mod:`mllab.offline.sagemaker.runner`).
        env: the child's environment (see :func:`child_env`).
        on_line: called with each output line (stdout and stderr, merged).
        max_runtime: seconds before the child is stopped as ``MaxRuntimeExceeded``.
        stop: set it to stop the child.
    """

    def __init__(
        self,
        jobdir: Path,
        spec: dict[str, Any],
        env: dict[str, str],
        on_line: Callable[[str], None],
        max_runtime: float | None,
        stop: threading.Event,
    ) -> None:
        self.jobdir = jobdir
        self.spec = spec
        self.env = env
        self.on_line = on_line
        self.max_runtime = max_runtime
        self.stop = stop
        self._proc: subprocess.Popen[str] | None = None
        self._pid: int | None = None
        self._zygote: _Zygote | None = None
        self._timed_out = False
        self._stopped = False

    def _running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        if self._pid is not None and self._zygote is not None:
            return not self._zygote.ended(self._pid)
        return False

    def _terminate(self) -> None:
        pid = self._proc.pid if self._proc is not None else self._pid
        if pid is None or not self._running():
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and self._running():
            time.sleep(0.02)
        if self._running():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _watch(self, done: threading.Event) -> None:
        started = time.monotonic()
        while not done.is_set():
            remaining = (
                None
                if self.max_runtime is None
                else self.max_runtime - (time.monotonic() - started)
            )
            if remaining is not None and remaining <= 0:
                self._timed_out = True
                self._terminate()
                return
            wait = 0.05 if remaining is None else min(0.05, remaining)
            if self.stop.wait(wait):
                self._stopped = True
                self._terminate()
                return

    def run(self) -> ProcResult:
        """Run the child to its end; returns how it ended. Blocks; call from a job thread."""
        (self.jobdir / "job.json").write_text(json.dumps(self.spec))
        zyg = zygote()  # the first job waits for the parent's imports; that time is not billed
        started = time.monotonic()
        if zyg is not None:
            code = self._run_forked(zyg)
        else:
            code = self._run_interpreter()
        failure_file = Path(self.spec["root"]) / "output" / "failure"
        failure = failure_file.read_text() if failure_file.is_file() else None
        return ProcResult(
            exit_code=code,
            failure=failure or None,
            timed_out=self._timed_out,
            stopped=self._stopped,
            seconds=time.monotonic() - started,
        )

    def _run_forked(self, zyg: _Zygote) -> int:
        """Run the child forked from the pre-warmed parent, tailing its output file."""
        log = self.jobdir / "process.log"
        log.write_bytes(b"")
        self._zygote = zyg
        self._pid = zyg.spawn(self.jobdir, self.env, log)
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        code: int | None = None
        with open(log, encoding="utf-8", errors="replace") as fh:
            partial = ""
            while True:
                chunk = fh.read()
                if chunk:
                    partial += chunk
                    *lines, partial = partial.split("\n")
                    for line in lines:
                        self.on_line(line + "\n")
                    continue
                if code is not None:
                    break
                code = zyg.exit_code(self._pid, timeout=0.05)
            if partial:
                self.on_line(partial)
        done.set()
        watcher.join(timeout=GRACE_SECONDS + 1)
        return code

    def _run_interpreter(self) -> int:
        """Run the child as a new interpreter (no pre-warmed parent available)."""
        self._proc = subprocess.Popen(  # noqa: S603 - our own runner, by path
            [sys.executable, str(RUNNER), str(self.jobdir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            text=True,
            bufsize=1,
            errors="replace",
            start_new_session=True,
        )
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        assert self._proc.stdout is not None
        try:
            for line in self._proc.stdout:
                self.on_line(line)
        finally:
            code = self._proc.wait()
            done.set()
            watcher.join(timeout=GRACE_SECONDS + 1)
        return code
