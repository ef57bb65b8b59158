"""Job processes: forked from the pre-warmed parent by default, a new interpreter without it."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from mllab.offline.sagemaker import jobproc


def _spec(tmp_path: Path, shell: str) -> dict[str, Any]:
    root = tmp_path / "ml"
    (root / "output").mkdir(parents=True)
    return {"mode": "command", "root": str(root), "command": {"shell": shell, "cwd": str(tmp_path)}}


def _run(
    tmp_path: Path, shell: str, max_runtime: float | None = None
) -> tuple[jobproc.ProcResult, list[str]]:
    lines: list[str] = []
    proc = jobproc.JobProcess(
        tmp_path,
        _spec(tmp_path, shell),
        jobproc.child_env(2, {"GREETING": "hello"}),
        lines.append,
        max_runtime,
        threading.Event(),
    )
    return proc.run(), lines


@pytest.mark.parametrize("forked", [True, False], ids=["zygote", "interpreter"])
def test_output_exit_code_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    monkeypatch.setenv("MLLAB_ZYGOTE", "1" if forked else "0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak")
    res, lines = _run(
        tmp_path, 'echo "$GREETING from $$"; echo "secret=${AWS_SECRET_ACCESS_KEY:-none}"; exit 3'
    )
    text = "".join(lines)
    assert "hello from" in text
    assert "secret=none" in text  # the lab's credentials never reach the job
    assert res.exit_code == 3
    assert res.failure and "ExitCode 3" in res.failure
    assert (jobproc.zygote() is not None) == forked


def test_forked_child_is_killed_at_max_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLLAB_ZYGOTE", "1")
    res, lines = _run(tmp_path, "echo started; sleep 30; echo reached-the-end", max_runtime=1.0)
    assert res.timed_out
    assert res.exit_code != 0
    text = "".join(lines)
    # killed, not waited for: the line after the sleep never ran
    assert "\nstarted\n" in text and "\nreached-the-end" not in text


def test_zygote_server_keeps_running_between_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLLAB_ZYGOTE", "1")
    first = jobproc.zygote()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _run(tmp_path / "a", "true")
    _run(tmp_path / "b", "true")
    assert jobproc.zygote() is first
    assert first is not None and first.alive()
    assert os.getpid() != first._proc.pid


@pytest.mark.parametrize("enabled", [True, False], ids=["prewarmed", "disabled"])
def test_job_parent_warms_in_the_background_when_a_lab_opens(
    monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """Opening an offline lab starts the job parent without waiting for it (issue 17)."""
    from mllab import Lab
    from tests.hang import wait_for

    jobproc._close_zygote()
    monkeypatch.setattr(jobproc, "_ZYGOTE", None)
    monkeypatch.setenv("MLLAB_ZYGOTE", "1" if enabled else "0")
    lab = Lab("prewarm-test")
    try:
        if enabled:
            wait_for(
                lambda: jobproc._ZYGOTE,
                lambda z: z is not None and z.alive(),
                "the job parent to start after Lab() opened",
            )
        else:
            assert jobproc._ZYGOTE is None
    finally:
        lab.close()
