"""mllab doctor, cost and sweep."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from mllab.cli import main
from tests.guard.test_guard_refusals import training


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    for cmd in (
        "doctor",
        "cost",
        "sweep",
        "run",
        "quiz",
        "exam",
        "audit",
        "plan",
        "progress",
        "bank",
    ):
        assert cmd in out


def test_doctor_offline_ok() -> None:
    res = CliRunner().invoke(main, ["doctor"])
    assert res.exit_code == 0, res.output
    assert "backend      offline" in res.output
    assert "All good." in res.output


def test_doctor_aws_without_allow_list_fails_with_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLAB_BACKEND", "aws")
    res = CliRunner().invoke(main, ["doctor"])
    assert res.exit_code == 1
    assert "MLLAB_ALLOWED_ACCOUNTS" in res.output


def test_doctor_bad_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLAB_BUDGET_USD", "lots")
    res = CliRunner().invoke(main, ["doctor"])
    assert res.exit_code == 1
    assert "MLLAB_BUDGET_USD='lots' is not a number" in res.output


def test_cost_empty_then_shows_the_lab(lab: Any) -> None:
    assert "ledger is empty" in CliRunner().invoke(main, ["cost"]).output
    lab.client("sagemaker").create_training_job(**training())
    res = CliRunner().invoke(main, ["cost", "--detail"])
    assert res.exit_code == 0
    assert "test-lab" in res.output
    assert "CreateTrainingJob" in res.output
    assert "0.0192" in res.output  # 600 s of ml.m5.large


def test_sweep_offline_dry_run(lab: Any) -> None:
    res = CliRunner().invoke(main, ["sweep", "--older-than", "2h"])
    assert res.exit_code == 0
    assert "Offline backend" in res.output


def test_sweep_bad_duration() -> None:
    res = CliRunner().invoke(main, ["sweep", "--older-than", "soon"])
    assert res.exit_code != 0
    assert "30m, 2h, 1d" in res.output
