"""Knowledge audit (piped and widget), gap chart, the study plan and its exports, progress."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, FakeClock

from mllab.study import audit_widget, gap_chart, progress_chart, record_lab_result
from mllab.study.audit import EVEN_GAP, domain_gaps, task_gaps
from mllab.study.bank import TASKS, load_bank
from mllab.study.cli import audit as audit_cmd
from mllab.study.cli import plan as plan_cmd
from mllab.study.cli import progress as progress_cmd
from mllab.study.plan import build_plan
from mllab.study.store import Store

PNG = b"\x89PNG\r\n\x1a\n"

# D1 rated 1 (weakest), D2 4, D3 5, D4 3
MLS_RATINGS = {"1": "1", "2": "4", "3": "5", "4": "3"}


def _ratings_lines(exam: str = "mls-c01") -> list[str]:
    return [MLS_RATINGS[t[0]] for t in TASKS[exam]]


# -- audit ------------------------------------------------------------------------------------


def test_piped_audit_saves_ratings_and_plots(tmp_path: Path) -> None:
    lines = _ratings_lines()
    lines[1] = "7"  # invalid: left unrated with a message
    lines[2] = ""  # blank: skipped
    png = tmp_path / "gaps.png"
    res = CliRunner().invoke(
        audit_cmd,
        ["--exam", "mls-c01", "--plot", str(png)],
        input="\n".join(lines) + "\n",
        obj={"clock": FakeClock(T0)},
    )
    assert res.exit_code == 0, res.output
    assert "'7' is not 1-5: 1.2 left unrated." in res.output
    assert "Unrated (2): 1.2, 1.3" in res.output
    assert "Audit #1 saved." in res.output
    domain_lines = [ln for ln in res.output.splitlines() if ln.startswith("  D")]
    assert domain_lines[0].startswith("  D1 Data Engineering")  # largest weighted gap first
    audit = Store().latest_audit("mls-c01")
    assert audit is not None
    assert (
        audit["ratings"]["1.1"] == 1
        and audit["ratings"]["1.2"] is None
        and audit["ratings"]["3.4"] == 5
    )
    assert png.read_bytes().startswith(PNG)


def test_audit_with_diagnostic_quiz(gen_bank: Path) -> None:
    lines = _ratings_lines("mla-c01") + ["A"] * 4
    res = CliRunner().invoke(
        audit_cmd,
        ["--exam", "mla-c01", "--diagnostic", "4", "--seed", "1"],
        input="\n".join(lines) + "\n",
        obj={"clock": FakeClock(T0)},
    )
    assert res.exit_code == 0, res.output
    assert "Diagnostic quiz: 4 questions" in res.output and "Score: " in res.output
    audit = Store().latest_audit("mla-c01")
    assert audit is not None and sum(v[1] for v in audit["diagnostic"].values()) == 4
    assert len(Store().attempts("audit")) == 4


def test_gap_model_and_chart() -> None:
    exam = "mls-c01"
    assert set(task_gaps(exam).values()) == {EVEN_GAP}
    g = task_gaps(exam, {"1.1": 1, "3.1": 5}, {"3.1": (0, 4)})
    assert g["1.1"] == 1.0 and g["3.1"] == 0.5 and g["2.1"] == EVEN_GAP
    even = domain_gaps(exam, task_gaps(exam))
    assert max(even, key=even.get) == 3  # even gaps: Modeling (36%) weighs most  # type: ignore[arg-type]
    fig = gap_chart(exam, g)
    ax = fig.axes[0]
    assert len(ax.patches) == 15
    assert [t.get_text() for t in ax.get_xticklabels()] == list(TASKS[exam])
    assert ax.patches[0].get_height() == pytest.approx(1.0 * 0.20)


def test_audit_widget_saves(mllab_home: Path) -> None:
    pytest.importorskip("ipywidgets")
    form = audit_widget("mla-c01", now=FakeClock(T0))
    assert set(form.sliders) == set(TASKS["mla-c01"])
    form.sliders["3.2"].value = 1
    form.save.click()
    audit = Store().latest_audit("mla-c01")
    assert audit is not None and audit["ratings"]["3.2"] == 1 and audit["ratings"]["1.1"] == 3
    assert "Audit #1 saved" in form.status.value


# -- plan -------------------------------------------------------------------------------------


def _audit_weak_d1(exam: str = "mls-c01") -> None:
    ratings = {t: int(MLS_RATINGS[t[0]]) for t in TASKS[exam]}
    Store().save_audit(exam, ratings, now=T0)


@pytest.mark.parametrize(("weeks", "hours"), [(14, 10), (8, 6), (4, 5), (20, 12.5)])
def test_plan_properties(mllab_home: Path, weeks: int, hours: float) -> None:
    _audit_weak_d1()
    start = date(2026, 1, 5)
    p = build_plan("mls-c01", weeks, hours, start)
    assert len(p.weeks) == weeks
    assert [w.number for w in p.weeks] == list(range(1, weeks + 1))
    for w in p.weeks:
        assert w.start == start + timedelta(days=7 * (w.number - 1))
        assert all(w.start <= s.day < w.start + timedelta(days=7) for s in w.sessions)
        assert w.count("review") == 1, w  # one review day a week
        assert all(s.hours > 0 and (s.hours * 2).is_integer() for s in w.sessions)
    for w in p.weeks[:-1]:
        assert w.hours == hours
    assert p.weeks[-1].hours < hours and p.weeks[-1].kind == "final"  # a light final week
    # audit weeks first
    assert [w.kind for w in p.weeks[:2]] == ["audit", "audit"]
    assert any("mllab audit" in s.title for s in p.weeks[0].sessions)
    # practice exams from about the midpoint, each followed by a week aimed at it
    exam_weeks = [w.number for w in p.weeks if w.count("practice-exam")]
    assert exam_weeks and min(exam_weeks) >= weeks / 2
    assert p.weeks[-1].count("practice-exam") == 1
    final_exam = next(s for s in p.weeks[-1].sessions if s.kind == "practice-exam")
    assert final_exam.day == p.weeks[-1].start + timedelta(days=2)  # day three
    for n in exam_weeks[:-1]:
        after = p.weeks[n]  # week n + 1
        assert after.kind in ("exam-follow-up", "final")
        assert "practice exam" in after.focus.lower() or after.kind == "final"
    # weakest domain first: D1 rated 1 everywhere
    assert p.domain_order[0] == 1
    focus = [w for w in p.weeks if w.kind == "focus"]
    assert focus[0].domain == 1 and focus[0].number == 3
    assert "Gaps from audit #1" in " ".join(p.notes)


def test_plan_sizes_focus_by_weighted_gap(mllab_home: Path) -> None:
    _audit_weak_d1()
    p = build_plan("mls-c01", 20, 10, date(2026, 1, 5))
    sizes = {d: sum(1 for w in p.weeks if w.kind == "focus" and w.domain == d) for d in range(1, 5)}
    # weighted gaps: D1 1.0*20 = 0.20, D4 0.5*20 = 0.10, D2 0.25*24 = 0.06, D3 0*36 = 0
    assert p.domain_order == [1, 4, 2, 3]
    assert sizes[1] > sizes[4] >= sizes[2] >= sizes[3] >= 1
    # focus weeks run in order: all D1 weeks before D4's
    seq = [w.domain for w in p.weeks if w.kind == "focus"]
    assert seq == sorted(seq, key=p.domain_order.index)


def test_plan_without_audit_says_so_and_uses_even_gaps(mllab_home: Path) -> None:
    p = build_plan("mla-c01", 14, 10, date(2026, 1, 5))
    assert any("No audit found" in n for n in p.notes)
    assert p.domain_order == [1, 2, 4, 3]  # by MLA weights 28, 26, 24, 22


def test_plan_review_day_counts_the_queue(mllab_home: Path) -> None:
    st = Store()
    st.record_attempt("q1", "A", False, "quiz", now=T0)
    st.record_attempt("q2", "A", False, "quiz", now=T0)
    p = build_plan("mls-c01", 6, 8, date(2026, 1, 5))
    review = next(s for s in p.weeks[0].sessions if s.kind == "review")
    assert review.day == date(2026, 1, 10) and "2 due by then" in review.title


def test_plan_cli_exports_ics_and_markdown(mllab_home: Path, tmp_path: Path) -> None:
    _audit_weak_d1()
    ics = tmp_path / "plan.ics"
    md = tmp_path / "plan.md"
    res = CliRunner().invoke(
        plan_cmd,
        [
            "--exam",
            "mls-c01",
            "--weeks",
            "10",
            "--hours",
            "8",
            "--start",
            "2026-02-02",
            "--ics",
            str(ics),
            "--markdown",
            str(md),
        ],
        obj={"clock": FakeClock(T0)},
    )
    assert res.exit_code == 0, res.output
    assert "Week  1 2026-02-02 [audit]" in res.output and "Week 10" in res.output
    raw = ics.read_bytes()
    text = raw.decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert text.endswith("END:VCALENDAR\r\n")
    lines = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    unfolded = text.replace("\r\n ", "").split("\r\n")
    begins = sum(1 for ln in unfolded if ln == "BEGIN:VEVENT")
    assert begins == sum(1 for ln in unfolded if ln == "END:VEVENT") > 0
    p = build_plan("mls-c01", 10, 8, date(2026, 2, 2))
    assert begins == sum(len(w.sessions) for w in p.weeks)
    assert "DTSTART:20260202T090000" in unfolded and "DTSTART:20260203T183000" in unfolded
    assert any(ln.startswith("SUMMARY:W1 ") for ln in unfolded)
    assert len({ln for ln in unfolded if ln.startswith("UID:")}) == begins
    assert "DTSTAMP:20260105T090000Z" in unfolded
    doc = md.read_text()
    assert doc.startswith("# Study plan: MLS-C01, 10 weeks, 8 h/week")
    assert doc.count("\n## Week ") == 10 and "| Day | Hours | Kind | What |" in doc
    bad = CliRunner().invoke(plan_cmd, ["--hours", "3"])
    assert bad.exit_code == 2


# -- progress ---------------------------------------------------------------------------------


def test_progress_cli_and_chart(gen_bank: Path, tmp_path: Path) -> None:
    bank = load_bank()
    record_lab_result("01-data-engineering", "stream", ["1.2"], ["1.1"], True)
    record_lab_result("01-data-engineering", "lake", ["1.1"], ["1.1"], False, "no crawler ran")
    st = Store()
    for q in bank.select(exam="mls-c01", domain=1)[:10]:
        st.record_attempt(q.id, "A", q.answer == ("A",), "quiz", q.mls, q.mla, now=T0)
    png = tmp_path / "progress.png"
    res = CliRunner().invoke(
        progress_cmd, ["--exam", "mls-c01", "--plot", str(png)], obj={"clock": FakeClock(T0)}
    )
    assert res.exit_code == 0, res.output
    out = res.output
    assert "Lab requirements passed: 1/2" in out
    assert "FAIL 01-data-engineering#lake -- no crawler ran" in out
    right = sum(1 for q in bank.select(exam="mls-c01", domain=1)[:10] if q.answer == ("A",))
    assert f"D1 Data Engineering (20%): {right}/10" in out
    assert "D2 Exploratory Data Analysis (24%): 0/0 (-)" in out
    assert "MLS 1.2 Identify and implement a data ingestion solution" in out and "labs 1/1" in out
    assert f"Reviews due now: 0 (scheduled {10 - right}" in out
    assert "Not enough evidence yet" in out and "ESTIMATE" in out
    assert png.read_bytes().startswith(PNG)
    fig = progress_chart("mls-c01", now=T0 + timedelta(days=2))
    assert len(fig.axes) == 2 and len(fig.axes[1].patches) == 15
    assert f"reviews due {10 - right}" in fig.axes[1].get_title()
