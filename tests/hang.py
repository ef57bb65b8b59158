"""Hang guards for tests: generous deadlines that fail with a diagnostic, never speed checks.

Speed is measured in ``benchmarks/``; a test only needs to know that something *happens*. A
deadline here exists so that a real hang ends the run with the last state seen instead of
blocking CI. ``MLLAB_TEST_HANG_GUARD`` (seconds, default 600) changes it for every test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

HANG_GUARD_S = float(os.environ.get("MLLAB_TEST_HANG_GUARD", "600"))


def wait_for(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    what: str,
    poll_s: float = 0.05,
    guard_s: float | None = None,
) -> T:
    """Poll ``fetch()`` until ``done(value)``; return that value.

    Args:
        fetch: reads the current state (e.g. a describe call).
        done: True once the state is the one waited for.
        what: what is awaited, for the diagnostic.
        poll_s: pause between polls.
        guard_s: the hang guard (default :data:`HANG_GUARD_S`).

    Returns:
        The first state for which ``done`` is true.

    Raises:
        AssertionError: the hang guard ran out; the message names ``what`` and the last state.
    """
    limit = HANG_GUARD_S if guard_s is None else guard_s
    deadline = time.monotonic() + limit
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"hang guard: {what} did not happen within {limit:.0f} s "
                f"(set MLLAB_TEST_HANG_GUARD to change); last state: {value!r}"[:4000]
            )
        time.sleep(poll_s)


#: SageMaker job kinds: (describe method, its name parameter, the status field).
_JOBS = {
    "training": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "processing": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "tuning": (
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
}


def wait_for_job(sm: Any, kind: str, name: str) -> dict[str, Any]:
    """Describe a SageMaker job until it ends (Completed, Failed or Stopped); return that answer.

    Args:
        sm: a SageMaker client.
        kind: ``"training"``, ``"processing"`` or ``"tuning"``.
        name: the job's name.

    Returns:
        The last Describe answer. Raises AssertionError (with that answer) at the hang guard.
    """
    method, key, status = _JOBS[kind]
    return wait_for(
        lambda: getattr(sm, method)(**{key: name}),
        lambda d: d[status] in {"Completed", "Failed", "Stopped"},
        f"{kind} job {name} to end",
    )
