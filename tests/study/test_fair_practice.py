"""Fairer practice and MLA-C02 views: shuffled options, strikes, error reports, the exam
catalogue and forms, the store migration, and C02 audit/plan/progress/exam reports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, FakeClock

from mllab.study.audit import skill_results, skill_table, task_results
from mllab.study.bank import SKILLS, attempt_tasks, load_bank
from mllab.study.catalogue import exam_list_lines, load_catalogue
from mllab.study.cli import bank as bank_cmd
from mllab.study.cli import exam as exam_cmd
from mllab.study.exam import ExamSession
from mllab.study.labmap import lab_skills
from mllab.study.progress import progress_data, render_progress
from mllab.study.quiz import run_quiz
from mllab.study.report import read_report
from mllab.study.store import Store

# -- shuffling ---------------------------------------------------------------------------------


def test_shuffled_view_keeps_keys_and_explanations_with_their_options(gen_bank: Path) -> None:
    bank = load_bank()
    moved = 0
    for q in bank:
        v = q.shuffled(17)
        assert v.options == q.shuffled(17).options and v.answer == q.shuffled(17).answer  # seeded
        assert sorted(v.options.values()) == sorted(q.options.values())
        assert list(v.options) == list(q.options)  # letters still run A, B, C...
        for shown, text in v.options.items():
            b = v.origin[shown]
            assert q.options[b] == text and q.explanations[b] == v.explanations[shown]
        assert {v.options[a] for a in v.answer} == {q.options[a] for a in q.answer}
        assert v.to_bank_letters(v.answer) == "".join(q.answer)
        assert v.from_bank_letters(q.answer) == "".join(v.answer)
        moved += v.answer != q.answer
    # the key's letter moves on most questions (a letter-memoriser would fail)
    assert moved > len(bank) / 2
    assert q.shuffled(None) is q


def test_quiz_shuffles_per_attempt_and_stores_bank_letters(gen_bank: Path) -> None:
    bank = load_bank()
    q = next(x for x in bank if x.shuffled("5:1").answer != x.answer and not x.multi)
    view = q.shuffled("5:1")
    printed: list[str] = []
    # the bank's letter is now wrong; the shown letter is right
    lines = iter(["".join(q.answer)])
    res = run_quiz([q], lambda: next(lines, None), printed.append, False, shuffle_seed=5)
    assert res.correct == 0
    lines = iter(["".join(view.answer)])
    res = run_quiz([q], lambda: next(lines, None), printed.append, False, shuffle_seed=5)
    assert res.correct == 1
    stored = Store().attempts()
    assert [a["chosen"] for a in stored] == [
        "".join(view.to_bank_letters(q.answer)),
        "".join(q.answer),
    ]
    assert stored[1]["mla2"] == list(q.mla2)


def test_strike_in_the_terminal_toggles_and_is_not_an_answer(gen_bank: Path) -> None:
    q = load_bank().get("d1-001")
    wrong = next(x for x in q.options if x not in q.answer)
    printed: list[str] = []
    lines = iter([f"-{wrong.lower()}", f"- {wrong}", f"-{wrong}", "".join(q.answer)])
    res = run_quiz([q], lambda: next(lines, None), printed.append, False, shuffle=False)
    text = "\n".join(printed)
    assert f"{wrong} struck out." in text and f"{wrong} restored." in text
    assert f"  {wrong}) [struck] " in text
    assert res.correct == 1 and len(Store().attempts()) == 1


def test_exam_shuffles_resumes_same_order_and_grades_in_bank_letters(gen_bank: Path) -> None:
    bank = load_bank()
    st = Store()
    s = ExamSession.start(bank, "mla-c01", st, T0, seed=3, shuffle_seed=99)
    views = [s.question(i) for i in range(s.total)]
    assert any(v.answer != bank.get(v.id).answer for v in views)
    # strike, then answer every question with its shown key
    msgs, outcome = s.handle("-A", T0)
    assert outcome == "show" and "A struck out." in msgs[0] and "[struck]" in s.screen(T0)
    row = st.latest_open_exam("mla-c01")
    assert row is not None
    again = ExamSession.resume(row, bank, st, T0)
    assert [again.question(i).options for i in range(3)] == [v.options for v in views[:3]]
    for i, v in enumerate(views):
        s.state["answers"][str(i)] = "".join(v.answer)
    report = s.grade(T0)
    assert report["correct"] == s.total
    assert [a["chosen"] for a in st.attempts("exam")] == [
        "".join(bank.get(v.id).answer) for v in views
    ]
    # a second exam on the same draw gets a new order
    s2 = ExamSession.start(bank, "mla-c01", st, T0, seed=3)
    assert [s2.question(i).options for i in range(s2.total)] != [v.options for v in views]


def test_widget_shuffles_strikes_and_reports(gen_bank: Path, mllab_home: Path) -> None:
    pytest.importorskip("ipywidgets")
    from mllab.study.widgets import quiz as notebook_quiz

    bank = load_bank()
    box = notebook_quiz(ids=["d1-001", "d1-005"], seed=4, now=FakeClock(T0))
    c1, c2 = box.cards
    assert c1.q.origin  # a shuffled view
    right = c1.q.answer[0]
    c1.choice.value = c1.choice.options[list(c1.q.options).index(right)]
    # striking another option keeps the selection and crosses the label out
    other = next(x for x in c1.q.options if x != right)
    c1.strikes[other].value = True
    assert "\u0336" in c1.choice.options[list(c1.q.options).index(other)]
    assert c1.chosen() == (right,)
    c1.strikes[other].value = False
    assert "\u0336" not in "".join(c1.choice.options)
    c1.button.click()
    assert "Correct." in c1.feedback.value
    assert Store().attempts("widget")[0]["chosen"] == "".join(bank.get("d1-001").answer)
    # report: a source is required, then a file with the fields is written
    c2.report_toggle.click()
    c2.report_what.value = "The explanation of option B names the wrong shard limit."
    c2.report_source.value = "not a url"
    assert c2.report() is None and "authoritative AWS source" in c2.report_out.value
    c2.report_source.value = (
        "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
    )
    path = c2.report()
    assert path is not None
    fields = read_report(path)
    assert fields["question_id"] == "d1-005"
    assert fields["keyed_answer"] == "".join(bank.get("d1-005").answer)
    assert fields["aws_source"].startswith("https://docs.aws.amazon.com/")


# -- bank report -------------------------------------------------------------------------------


def test_bank_report_cli_requires_an_aws_source(gen_bank: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    bad = CliRunner().invoke(
        bank_cmd,
        [
            "report",
            "d1-001",
            "--what",
            "The key should be C, see the limits page.",
            "--source",
            "https://example.com/blog",
            "--out",
            str(out),
        ],
    )
    assert bad.exit_code == 1 and "authoritative AWS source" in bad.output
    unknown = CliRunner().invoke(
        bank_cmd,
        ["report", "zz-001", "--what", "x" * 30, "--source", "https://docs.aws.amazon.com/a"],
    )
    assert unknown.exit_code == 1 and "no question 'zz-001'" in unknown.output
    ok = CliRunner().invoke(
        bank_cmd,
        ["report", "d1-001", "--kind", "wrong key", "--out", str(out)],
        input="The key should be C, see the limits page.\n"
        "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html\n",
        obj={"clock": FakeClock(T0)},
    )
    assert ok.exit_code == 0, ok.output
    files = list(out.glob("question-d1-001-*.md"))
    assert len(files) == 1
    fields = read_report(files[0])
    assert fields["kind"] == "wrong key" and fields["reported"] == "2026-01-05T09:00:00Z"
    assert "limits page" in fields["what_is_wrong"]


# -- catalogue and forms -----------------------------------------------------------------------


def test_catalogue_has_c02_default_forms_and_legacy_status() -> None:
    cat = load_catalogue()
    assert list(cat)[0] == "mla-c02"
    c02 = cat["mla-c02"]
    assert c02.weights == {1: 28, 2: 24, 3: 24, 4: 24}
    assert len(c02.tasks) == 12 and len(c02.skills) == 107
    assert sum(s.new for s in c02.skills.values()) == 45
    assert [sum(1 for s in c02.skills if s.startswith(f"{d}.")) for d in range(1, 5)] == [
        25,
        27,
        30,
        25,
    ]
    beta, std = c02.form("beta"), c02.form("standard")
    assert (beta.questions, beta.minutes, beta.assumed) == (85, 170, False)
    assert (std.questions, std.minutes, std.assumed) == (65, 130, True)
    with pytest.raises(ValueError, match="no form"):
        c02.form("gold")
    assert cat["mla-c01"].status == "legacy" and cat["mls-c01"].status == "retired"
    text = "\n".join(exam_list_lines())
    assert "2026-09-28" in text and "2026-03-31" in text and "(time assumed)" in text
    assert c02.maps_from == {t: t for t in c02.tasks}


def test_exam_cli_list_and_c02_forms(gen_bank: Path) -> None:
    res = CliRunner().invoke(exam_cmd, ["--list"])
    assert res.exit_code == 0 and "mla-c02" in res.output and "[retired]" in res.output
    beta = CliRunner().invoke(exam_cmd, ["--seed", "1"], input="q\n", obj={"clock": FakeClock(T0)})
    assert beta.exit_code == 0, beta.output
    assert "(MLA-C02), 85 questions, 170 minutes (form beta" in beta.output
    std = CliRunner().invoke(
        exam_cmd, ["--form", "standard", "--seed", "1"], input="q\n", obj={"clock": FakeClock(T0)}
    )
    assert "65 questions, 130 minutes (form standard" in std.output
    assert "130 minutes is an assumption" in std.output


# -- store migration and C02 views -------------------------------------------------------------


def test_old_store_migrates_and_old_results_count_for_c02(mllab_home: Path) -> None:
    mllab_home.mkdir(parents=True, exist_ok=True)
    db = mllab_home / "study.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        """
        CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
          qid TEXT NOT NULL, chosen TEXT NOT NULL, correct INTEGER NOT NULL, source TEXT NOT NULL,
          session TEXT, mls TEXT NOT NULL DEFAULT '[]', mla TEXT NOT NULL DEFAULT '[]', seconds REAL);
        CREATE TABLE lab_results (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
          lab TEXT NOT NULL, requirement TEXT NOT NULL, mls TEXT NOT NULL, mla TEXT NOT NULL,
          passed INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '');
        INSERT INTO attempts (ts, qid, chosen, correct, source, mls, mla)
          VALUES (1.0, 'd1-001', 'B', 1, 'quiz', '["1.2"]', '["1.1"]');
        INSERT INTO lab_results (ts, lab, requirement, mls, mla, passed)
          VALUES (1.0, '01-data-engineering', 'stream', '["1.2"]', '["1.1"]', 1);
        """
    )
    con.commit()
    con.close()
    st = Store()
    old = st.attempts()[0]
    assert old["mla2"] == [] and attempt_tasks(old, "mla-c02") == ["1.1"]
    assert task_results(st.attempts(), "mla-c02") == {"1.1": (1, 1)}
    st.record_attempt("d2-001", "A", False, "quiz", ["2.1"], ["1.2"], mla2=["1.3.7"], now=T0)
    new = st.attempts()[1]
    assert new["mla2"] == ["1.3.7"] and attempt_tasks(new, "mla-c02") == ["1.3"]
    assert attempt_tasks(new, "mla-c01") == ["1.2"]
    st.record_lab_result("01-data-engineering", "firehose", ["1.2"], ["1.1"], True, mla2=["1.1.5"])
    labs = {r["requirement"]: r for r in st.lab_results()}
    assert labs["stream"]["mla2"] == [] and labs["firehose"]["mla2"] == ["1.1.5"]
    assert skill_results(st.attempts()) == {"1.3.7": (0, 1)}


def test_checks_requirement_records_mla2(mllab_home: Path) -> None:
    from mllab.checks.core import Requirement

    req = Requirement(lab="01-data-engineering", key="k", mls=["1.2"], mla=["1.1"], mla2=["1.1.4"])
    req._record(True, "ok")
    assert Store().lab_results()[0]["mla2"] == ["1.1.4"]


def test_progress_and_audit_on_c02_by_skill_with_study_next(gen_bank: Path) -> None:
    st = Store()
    practise = lab_skills()
    skill = next((s for s in ("1.1.4", "2.3.6", "1.2.1") if practise.get(s)), None)
    if skill is None:
        pytest.skip("no solution notebook carries mla2 tags yet")
    for ok in (False, False, True):
        st.record_attempt("d1-001", "A", ok, "quiz", ["1.2"], ["1.1"], mla2=[skill], now=T0)
    data = progress_data("mla-c02", st, T0)
    assert [k["skill"] for k in data["skills"]] == [skill]
    assert data["study_next"][0]["skill"] == skill
    assert data["study_next"][0]["labs"] and set(data["study_next"][0]["labs"]) <= set(
        practise[skill]
    )
    text = render_progress(data)
    assert f"  {skill} " in text and "Study next (weakest skills" in text
    assert f"mllab quiz --skill {skill}" in text
    table = skill_table(st.attempts(), [skill[:3]], load_bank())
    assert f"{skill}" in table and "1/3" in table
    assert all(s in table for s in SKILLS if s.startswith(skill[:3] + "."))


def test_c02_exam_report_breaks_down_by_domain_task_and_skill(gen_bank: Path) -> None:
    bank = load_bank()
    st = Store()
    s = ExamSession.start(bank, "mla-c02", st, T0, seed=2, form="standard")
    assert s.total == 65 and s.state["minutes"] == 130
    for i in range(s.total):  # right on even positions only
        v = s.question(i)
        wrong = next(x for x in v.options if x not in v.answer)
        s.state["answers"][str(i)] = "".join(v.answer) if i % 2 == 0 else wrong * len(v.answer)
    report = s.grade(T0)
    assert report["correct"] == 33 and report["form"] == "standard"
    assert {d["domain"] for d in report["domains"]} == {1, 2, 3, 4}
    assert sum(t["asked"] for t in report["tasks"]) >= 65
    assert report["skills"] and all(k["skill"] in SKILLS for k in report["skills"])
    asked = sum(k["asked"] for k in report["skills"])
    assert asked == sum(len(bank.get(q).mla2) for q in s.state["qids"])
    assert report["study_next"] and all("skills" in e for e in report["study_next"])
    json.dumps(report)  # stored as JSON


def test_report_kinds_are_one_list_in_the_cli_and_the_issue_form() -> None:
    """The CLI offers report.KINDS, and the GitHub issue form offers the same kinds."""
    from pathlib import Path

    import yaml

    from mllab.study import report

    form = Path(__file__).resolve().parents[2] / ".github" / "ISSUE_TEMPLATE" / "question-error.yml"
    body = yaml.safe_load(form.read_text())["body"]
    options = next(
        item["attributes"]["options"]
        for item in body
        if item.get("type") == "dropdown" and "kind" in item["attributes"]["label"].lower()
    )
    assert tuple(options) == report.KINDS
