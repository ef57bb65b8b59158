"""Start, watch, limit and stop the child process of an offline job (introduced in lab 03).

:class:`JobProcess` runs :mod:`mllab.offline.sagemaker.runner` as a subprocess with the
instance type's limits, streams its output lines to a callback (the CloudWatch Logs
stream and the metric parser), enforces ``MaxRuntimeInSeconds`` as a hard limit (SIGTERM,
a short grace period, then SIGKILL: AWS gives 120 seconds of grace, offline it is
:data:`GRACE_SECONDS`) and stops the child when asked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNNER = Path(__file__).resolve().parent / "runner.py"

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
        self._timed_out = False
        self._stopped = False

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
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
        started = time.monotonic()
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
        failure_file = Path(self.spec["root"]) / "output" / "failure"
        failure = failure_file.read_text() if failure_file.is_file() else None
        return ProcResult(
            exit_code=code,
            failure=failure or None,
            timed_out=self._timed_out,
            stopped=self._stopped,
            seconds=time.monotonic() - started,
        )
