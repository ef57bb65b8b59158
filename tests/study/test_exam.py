"""Practice exams: the draw, piped sessions with a fake clock, the pace coach, the timer,
the report, history, and resuming (also after a killed process)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, T0, FakeClock

from mllab.study.bank import PASS_MARK, WEIGHTS, load_bank
from mllab.study.cli import exam as exam_cmd
from mllab.study.exam import ANCHOR_PERCENT, allocate, draw_exam, estimate_scaled
from mllab.study.store import Store
from tests.hang import HANG_GUARD_S


def _wrong(q) -> str:
    letters = [x for x in q.options if x not in q.answer]
    return "".join(letters[: len(q.answer)])


def _draw(exam: str, seed: int):
    qs, _ = draw_exam(load_bank(), exam, seed)
    return qs


# -- the draw and the score estimate ----------------------------------------------------------


@pytest.mark.parametrize(
    ("exam", "expected"),
    [("mls-c01", {1: 13, 2: 16, 3: 23, 4: 13}), ("mla-c01", {1: 18, 2: 17, 3: 14, 4: 16})],
)
def test_65_questions_by_domain_weight(gen_bank: Path, exam: str, expected: dict) -> None:
    assert allocate(65, WEIGHTS[exam]) == expected
    qs, note = draw_exam(load_bank(), exam, seed=5)
    assert len(qs) == 65 and note == "" and len({q.id for q in qs}) == 65
    counts = {d: sum(1 for q in qs if q.domain(exam) == d) for d in expected}
    assert counts == expected
    assert [q.id for q in draw_exam(load_bank(), exam, seed=5)[0]] == [q.id for q in qs]


def test_mla_domain_is_first_digit_of_first_mla_tag(gen_bank: Path) -> None:
    q = load_bank().get("d1-001")
    assert q.domain("mla-c01") == int(q.mla[0][0]) and q.domain("mls-c01") == 1


@pytest.mark.parametrize("exam", ["mls-c01", "mla-c01"])
def test_score_estimate_bounds_and_anchor(exam: str) -> None:
    values = [estimate_scaled(p, exam) for p in range(0, 101)]
    assert values[0] == 100 and values[-1] == 1000
    assert all(100 <= v <= 1000 for v in values)
    assert values == sorted(values)
    assert estimate_scaled(ANCHOR_PERCENT, exam) == PASS_MARK[exam]
    assert estimate_scaled(ANCHOR_PERCENT - 1, exam) < PASS_MARK[exam]
    assert estimate_scaled(-5, exam) == 100 and estimate_scaled(120, exam) == 1000


# -- a full piped exam ------------------------------------------------------------------------


def test_full_piped_exam_report_history(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 11)
    # right on the first 50, wrong on the rest; then submit; then causes for the 15 misses
    lines = ["".join(q.answer).lower() for q in qs[:50]] + [_wrong(q) for q in qs[50:]]
    causes = ["c", "m", "u", "", "concept"] + [""] * 10
    clock = FakeClock(T0, step=60)
    result = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mls-c01", "--seed", "11"],
        input="\n".join(lines + ["s"] + causes) + "\n",
        obj={"clock": clock},
    )
    out = result.output
    assert result.exit_code == 0, out
    assert "Practice exam #1" in out and "65 questions, 180 minutes" in out
    assert "MLS-C01 retired on 2026-03-31" in out
    assert "MLA-C02 is the exam in English" in out
    assert "Correct: 50/65 (76.9%)" in out
    expected = estimate_scaled(100 * 50 / 65, "mls-c01")
    assert (
        f"Estimated scaled score (ESTIMATE): {expected} / 1000 -- at or above the pass mark of 750"
        in out
    )
    assert "Method: ESTIMATE, not an AWS score" in out and "72% -> the pass mark" in out
    assert "projected finish at" in out
    for d in range(1, 5):
        assert f"  D{d} " in out
    assert "By task statement:" in out
    assert "Missed questions (15)" in out
    for q in qs[50:]:
        assert f"[{q.id}]" in out
        for text in q.explanations.values():
            assert text in out
    assert "Causes of misses: concept 2, misread 1, unknown service 1" in out
    assert "Study next (weakest task statements first):" in out
    study = out.split("Study next (weakest task statements first):")[1]
    missed_labs = {q.lab for q in qs[50:]}
    assert any(lab in study for lab in missed_labs)
    assert "mllab quiz --exam mls-c01 --task" in study
    # stored: exam finished, report saved, 65 attempts, misses scheduled
    st = Store()
    row = st.exam(1)
    assert row is not None and row["status"] == "finished"
    assert row["report"]["correct"] == 50 and row["report"]["scaled_estimate"] == expected
    assert len(st.attempts("exam")) == 65
    assert sorted(c.qid for c in st.cards()) == sorted(q.id for q in qs[50:])
    assert st.causes(1) == {
        qs[50].id: "concept",
        qs[51].id: "misread",
        qs[52].id: "unknown service",
        qs[54].id: "concept",
    }
    # elapsed: one minute per line, 65 answers + submit
    assert row["report"]["elapsed_minutes"] == 66.0
    hist = CliRunner().invoke(exam_cmd, ["--history"])
    assert hist.exit_code == 0
    assert any(
        line.startswith("1   mls-c01") and "finished" in line and f"{expected}" in line
        for line in hist.output.splitlines()
    )
    rep = CliRunner().invoke(exam_cmd, ["--report", "1"])
    assert rep.exit_code == 0 and "Correct: 50/65" in rep.output and "Cause: misread" in rep.output
    assert "ESTIMATE" in rep.output and "retired on 2026-03-31" in rep.output


def test_mla_exam_uses_130_minutes_and_720(gen_bank: Path) -> None:
    qs = _draw("mla-c01", 2)
    lines = ["".join(q.answer) for q in qs[:40]] + ["s"]
    res = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mla-c01", "--seed", "2"],
        input="\n".join(lines) + "\n",
        obj={"clock": FakeClock(T0, step=30)},
    )
    assert res.exit_code == 0, res.output
    assert "130 minutes" in res.output and "pass mark of 720" in res.output
    assert "25 unanswered question(s) count as wrong." in res.output
    assert "Correct: 40/65" in res.output


def test_navigation_flags_and_review_pass(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 4)
    cmds = [
        "".join(qs[0].answer),  # answer Q1 -> Q2
        "f",  # flag Q2
        "n",  # Q3
        "g 5",  # Q5
        "f",  # flag Q5
        "p",  # Q4
        "l",  # status
        "r",  # review pass: Q2
        "".join(qs[1].answer),  # answer Q2 -> next flagged: Q5
        "".join(qs[4].answer),  # answer Q5 -> end of review pass
        "g 99",
        "q",
    ]
    res = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mls-c01", "--seed", "4"],
        input="\n".join(cmds) + "\n",
        obj={"clock": FakeClock(T0, step=20)},
    )
    out = res.output
    assert res.exit_code == 0, out
    assert "Question 2 flagged." in out and "Question 5 flagged." in out
    assert "=== Q5/65 |" in out and "=== Q4/65 |" in out
    assert "Status (n:answer, * = flagged, . = open)" in out and "2:.*" in out
    assert "Review pass over flagged questions: 2, 5." in out
    assert "=== Q5/65 [flagged] [review pass]" in out
    assert "End of the review pass." in out
    assert "Use g N with N from 1 to 65." in out
    assert "Exam #1 saved. Continue with: mllab exam --resume" in out
    state = Store().latest_open_exam()["state"]  # type: ignore[index]
    assert state["answers"] == {
        "0": "".join(qs[0].answer),
        "1": "".join(qs[1].answer),
        "4": "".join(qs[4].answer),
    }
    assert state["flags"] == [1, 4]


def test_multi_response_needs_the_right_number_of_letters(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 8)
    first_multi = next(i for i, q in enumerate(qs) if q.multi)
    cmds = [f"g {first_multi + 1}", "A", "q"]
    res = CliRunner().invoke(
        exam_cmd, ["--no-shuffle", "--exam", "mls-c01", "--seed", "8"], input="\n".join(cmds) + "\n"
    )
    assert "Choose 2 letters for this question." in res.output


def test_pace_coach_three_minute_rule(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 6)
    # Q1 answered after 60 s; Q2 answered after 200 s -> the coach speaks, the learner says y
    clock = FakeClock(T0, steps=[60, 200, 5, 30])
    cmds = ["".join(qs[0].answer), "".join(qs[1].answer), "y", "q"]
    res = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mls-c01", "--seed", "6"],
        input="\n".join(cmds) + "\n",
        obj={"clock": clock},
    )
    out = res.output
    assert res.exit_code == 0, out
    assert out.count("Pace coach:") == 1
    assert (
        "Pace coach: question 2 was on screen 3:20, past the three-minute rule. Flag it for review"
        in out
    )
    assert "Question 2 flagged." in out
    state = Store().latest_open_exam()["state"]  # type: ignore[index]
    assert state["flags"] == [1] and state["answers"]["1"] == "".join(qs[1].answer)
    # pace: 2 answered in 265 s -> 2:12 per question -> 65 * 132.5 s = 143.5 min projected
    assert "pace 2:12/question -> projected finish at 144 of 180 min" in out


def test_slow_pace_warning_and_time_up(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 9)
    cmds = ["".join(q.answer) for q in qs[:10]]
    # 200 s per line: every answer triggers the coach, whose offer the next line declines;
    # a question therefore takes 400 s and a 30-minute exam runs out during question 5
    lines = []
    for c in cmds:
        lines += [c, "n"]
    res = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mls-c01", "--seed", "9", "--minutes", "30"],
        input="\n".join(lines) + "\n",
        obj={"clock": FakeClock(T0, step=200)},
    )
    out = res.output
    assert res.exit_code == 0, out
    assert "too slow: aim for" in out
    assert "Time is up: the exam is submitted with the answers given so far." in out
    row = Store().exam(1)
    assert row is not None and row["status"] == "finished" and row["report"]["time_up"] is True
    assert "(time ran out)" in out
    assert row["report"]["correct"] == len(row["state"]["answers"]) == 4
    assert out.count("Pace coach:") == 4


def test_resume_after_input_ends(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 12)
    first = ["".join(q.answer) for q in qs[:30]]
    res1 = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mls-c01", "--seed", "12"],
        input="\n".join(first) + "\n",
        obj={"clock": FakeClock(T0, step=60)},
    )
    assert "Input ended: exam #1 saved. Continue with: mllab exam --resume" in res1.output
    row = Store().latest_open_exam("mls-c01")
    assert row is not None and len(row["state"]["answers"]) == 30
    assert row["state"]["current"] == 30 and row["state"]["elapsed"] == pytest.approx(30 * 60 + 60)
    # resume a day later: time away is not counted
    later = FakeClock(T0.replace(day=6), step=60)
    rest = ["".join(q.answer) for q in qs[30:]] + ["s"]
    res2 = CliRunner().invoke(
        exam_cmd, ["--resume"], input="\n".join(rest) + "\n", obj={"clock": later}
    )
    assert res2.exit_code == 0, res2.output
    assert "Resuming exam #1 (MLS-C01): 30/65 answered" in res2.output
    assert "=== Q31/65 |" in res2.output
    assert "Correct: 65/65 (100.0%)" in res2.output
    assert "Study next: nothing missed" in res2.output
    rep = Store().exam(1)["report"]  # type: ignore[index]
    assert rep["elapsed_minutes"] == pytest.approx((30 * 60 + 60 + 36 * 60) / 60, abs=0.1)
    none = CliRunner().invoke(exam_cmd, ["--resume"])
    assert none.exit_code == 1 and "no unfinished exam" in none.output


def test_killed_process_then_resume(gen_bank: Path, mllab_home: Path) -> None:
    """A real subprocess is killed (SIGKILL) mid-exam; --resume continues with its answers."""
    qs = _draw("mls-c01", 21)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "helpers"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mllab.study.cli",
            "exam",
            "--no-shuffle",
            "--exam",
            "mls-c01",
            "--seed",
            "21",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    for q in qs[:12]:
        proc.stdin.write(("".join(q.answer) + "\n").encode())
    proc.stdin.flush()  # stdin stays open: the process waits for question 13
    db = mllab_home / "study.sqlite"
    deadline = time.time() + HANG_GUARD_S
    answered = 0
    while time.time() < deadline:
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=5)
                row = con.execute(
                    "SELECT json_array_length(json_extract(state, '$.qids')),"
                    " (SELECT COUNT(*) FROM json_each(json_extract(state, '$.answers')))"
                    " FROM exams WHERE id = 1"
                ).fetchone()
                con.close()
                if row and row[1] == 12:
                    answered = 12
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert answered == 12
    row = Store().latest_open_exam("mls-c01")
    assert row is not None and row["status"] == "open"
    rest = [_wrong(q) for q in qs[12:]] + ["s"]
    res = CliRunner().invoke(exam_cmd, ["--resume"], input="\n".join(rest) + "\n")
    assert res.exit_code == 0, res.output
    assert "Resuming exam #1 (MLS-C01): 12/65 answered" in res.output
    assert "Correct: 12/65" in res.output


def test_coach_offer_passes_other_commands_through(gen_bank: Path) -> None:
    qs = _draw("mls-c01", 6)
    # Q1 answered after 200 s -> offer; the next line is Q2's answer, not y/n: it still counts
    cmds = ["".join(qs[0].answer), "".join(qs[1].answer), "q"]
    res = CliRunner().invoke(
        exam_cmd,
        ["--no-shuffle", "--exam", "mls-c01", "--seed", "6"],
        input="\n".join(cmds) + "\n",
        obj={"clock": FakeClock(T0, steps=[200, 10, 10])},
    )
    assert res.exit_code == 0, res.output
    assert "Pace coach: question 1 was on screen 3:20" in res.output
    state = Store().latest_open_exam()["state"]  # type: ignore[index]
    assert state["flags"] == []
    assert state["answers"] == {"0": "".join(qs[0].answer), "1": "".join(qs[1].answer)}
