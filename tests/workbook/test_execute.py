"""Headless runs of the sample lab: the solution passes, the learner copy stops at the stub."""

from __future__ import annotations

from pathlib import Path

import pytest

from mllab.workbook import measured_cost
from mllab.workbook.execute import execute
from mllab.workbook.notebook import learner_copy
from tests.workbook.sample import sample_notebook, write_sample

pytestmark = pytest.mark.notebook


def test_solution_run_reports_passes_and_records_progress(tmp_path: Path) -> None:
    src = write_sample(tmp_path / "solutions")
    run = execute(src, home=tmp_path / "home", timeout=120)
    assert run.error is None, run.describe_error()
    assert run.results == [("PASS", "99-sample#two-objects", "2 objects")]
    assert run.seconds > 0 and all(c.seconds >= 0 for c in run.cells)
    assert measured_cost("99-sample", home=tmp_path / "home") == 0.0
    import sqlite3

    db = sqlite3.connect(tmp_path / "home" / "study.sqlite")
    rows = db.execute("SELECT lab, requirement, passed, mls FROM lab_results").fetchall()
    assert rows == [("99-sample", "two-objects", 1, '["1.1"]')]


def test_learner_run_stops_at_the_stub(tmp_path: Path) -> None:
    nb = learner_copy(sample_notebook())
    run = execute(tmp_path / "99_sample.ipynb", home=tmp_path / "home", nb=nb, timeout=120)
    err = run.error
    assert err is not None and err.stub
    assert err.error is not None and err.error[0] == "NotImplementedError"
    assert run.results == []
    assert "raise NotImplementedError()" in run.describe_error()


def test_a_failing_check_reports_a_miss(tmp_path: Path) -> None:
    nb = sample_notebook()
    nb.cells[3].source = nb.cells[3].source.replace(
        '("data/a.txt", "data/b.txt")', '("data/a.txt",)'
    )
    run = execute(tmp_path / "x.ipynb", home=tmp_path / "home", nb=nb, timeout=120)
    assert run.error is not None and run.error.error is not None
    assert run.error.error[0] == "CheckFailed"
    assert run.results == [
        ("MISS", "99-sample#two-objects", "found 1 objects under data/; put two")
    ]
