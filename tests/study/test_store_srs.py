"""The study store: Leitner intervals, retirement, WAL, two writers, lab results."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from conftest import ROOT, T0

from mllab.study.store import INTERVALS, Store, next_card, record_lab_result, start_of_day_after


def _days(d: float) -> timedelta:
    return timedelta(days=d)


def test_intervals_are_1_3_7_14_30_days() -> None:
    assert INTERVALS == (1, 3, 7, 14, 30)


def test_leitner_schedule_up_the_boxes_and_out(mllab_home: Path) -> None:
    st = Store()
    # answered right without being scheduled: nothing to review
    assert st.record_attempt("q1", "A", True, "quiz", now=T0) is None
    assert st.due(T0 + _days(60)) == []
    # a miss: box 1, due at the start of the next day
    card = st.record_attempt("q1", "B", False, "quiz", now=T0)
    assert card is not None and card.box == 1
    assert datetime.fromtimestamp(card.due, T0.tzinfo) == start_of_day_after(T0, 1)
    assert st.due(T0 + _days(0.5)) == []  # same day (T0 is 09:00, +12h): not yet due
    assert st.due(T0 + _days(1)) == ["q1"]
    # a right answer before it is due changes nothing
    assert st.record_attempt("q1", "A", True, "quiz", now=T0 + _days(0.3)) == card
    # right answers on due reviews: boxes 2..5 with intervals 3, 7, 14, 30 days
    t = T0 + _days(1)
    for box, interval in zip([2, 3, 4, 5], [3, 7, 14, 30], strict=True):
        card = st.record_attempt("q1", "A", True, "review", now=t)
        assert card is not None and card.box == box
        assert datetime.fromtimestamp(card.due, T0.tzinfo) == start_of_day_after(t, interval)
        assert st.due(t + _days(interval - 1)) == []
        t = t + _days(interval)
        assert st.due(t) == ["q1"]
    assert card.streak == 4
    # right in the last box: leaves the schedule
    assert st.record_attempt("q1", "A", True, "review", now=t) is None
    assert st.cards() == [] and st.retired() == ["q1"]
    assert st.due(t + _days(400)) == []
    assert len(st.attempts()) == 8


def test_a_miss_sends_back_to_box_1(mllab_home: Path) -> None:
    st = Store()
    st.record_attempt("q2", "B", False, "exam", now=T0)
    st.record_attempt("q2", "A", True, "review", now=T0 + _days(1))  # box 2
    st.record_attempt("q2", "A", True, "review", now=T0 + _days(4))  # box 3
    assert st.card("q2").box == 3  # type: ignore[union-attr]
    card = st.record_attempt("q2", "C", False, "quiz", now=T0 + _days(5))  # not due, but missed
    assert card is not None and card.box == 1 and card.streak == 0
    assert st.due(T0 + _days(6)) == ["q2"]


def test_pure_schedule_function() -> None:
    c = next_card(None, "x", False, T0)
    assert c is not None and c.box == 1
    assert next_card(None, "x", True, T0) is None


def test_wal_mode_and_busy_timeout(mllab_home: Path) -> None:
    st = Store()
    assert st.path == mllab_home / "study.sqlite"
    assert st.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert st.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


WRITER = """
import sys
from mllab.study.store import Store
st = Store()
for i in range(150):
    st.record_attempt(f"{sys.argv[1]}-{i}", "A", i % 2 == 0, "quiz")
"""


def test_two_processes_write_at_once(mllab_home: Path) -> None:
    env = {"PYTHONPATH": str(ROOT / "helpers"), "MLLAB_HOME": str(mllab_home), "PATH": ""}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, name], env=env, stderr=subprocess.PIPE)
        for name in ("p1", "p2")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    con = sqlite3.connect(mllab_home / "study.sqlite")
    assert con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 300
    assert con.execute("SELECT COUNT(*) FROM srs").fetchone()[0] == 150  # the misses


def test_record_lab_result_keeps_latest_per_requirement(mllab_home: Path) -> None:
    record_lab_result("01-data-engineering", "stream", ["1.2"], ["1.1"], False, "no stream")
    record_lab_result("01-data-engineering", "stream", ["1.2"], ["1.1"], True)
    record_lab_result("01-data-engineering", "lake", ["1.1"], ["1.1"], False, "no crawler")
    rows = Store().lab_results()
    assert [(r["requirement"], r["passed"]) for r in rows] == [("lake", False), ("stream", True)]
    assert rows[1]["mls"] == ["1.2"] and rows[0]["detail"] == "no crawler"
