"""mllab run: headless lab runs from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mllab.cli import main
from mllab.workbook.generate import generate
from tests.workbook.sample import write_sample

pytestmark = pytest.mark.notebook


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_sample(tmp_path / "solutions")
    generate(tmp_path / "solutions", tmp_path / "labs")
    return tmp_path


def test_run_solution_passes(repo: Path) -> None:
    res = CliRunner().invoke(main, ["run", "99", "--solution", "--root", str(repo)])
    assert res.exit_code == 0, res.output
    assert "PASS 99-sample#two-objects: 2 objects" in res.output
    assert "1 passed, 0 missed" in res.output


def test_run_learner_copy_stops_at_stub(repo: Path) -> None:
    res = CliRunner().invoke(main, ["run", "99_sample", "--root", str(repo)])
    assert res.exit_code == 1
    assert "STOPPED at code cell" in res.output and "0 passed" in res.output


def test_unknown_lab(repo: Path) -> None:
    res = CliRunner().invoke(main, ["run", "42", "--root", str(repo)])
    assert res.exit_code != 0 and "no lab matches '42'" in res.output
