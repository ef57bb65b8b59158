"""Terminal quiz (piped through CliRunner) and the notebook quiz widget."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, FakeClock

from mllab.study import quiz as notebook_quiz
from mllab.study.bank import load_bank
from mllab.study.cli import quiz as quiz_cmd
from mllab.study.quiz import parse_answer, select_questions
from mllab.study.store import Store


def test_parse_answer_is_case_space_comma_insensitive() -> None:
    letters = "ABCDE"
    assert parse_answer("b", letters) == ("B",)
    assert parse_answer(" a, c ", letters) == ("A", "C")
    assert parse_answer("CA", letters) == ("A", "C")
    assert parse_answer("a c", letters) == ("A", "C")
    assert parse_answer("F", letters) is None
    assert parse_answer("", letters) is None
    assert parse_answer("hello", letters) is None


def _questions(n: int = 4, seed: int = 7) -> list:
    return select_questions(load_bank(), n, exam="mls-c01", seed=seed)


def test_piped_quiz_grades_explains_and_records(gen_bank: Path) -> None:
    qs = _questions()
    # Q1 right (lower case, spaced, comma), Q2 wrong, Q3 invalid line, Q4 missing (input ends)
    right1 = ", ".join(qs[0].answer).lower()
    wrong2 = next(x for x in qs[1].options if x not in qs[1].answer)
    clock = FakeClock(T0)
    result = CliRunner().invoke(
        quiz_cmd,
        ["--no-shuffle", "-n", "4", "--exam", "mls-c01", "--seed", "7"],
        input=f"{right1}\n{wrong2}\nzz\n",
        obj={"clock": clock},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.rstrip().splitlines()[-1] == "Score: 1/4"
    assert out.count("Correct.") == 1
    assert f"Wrong: you answered {wrong2}; the answer is {''.join(qs[1].answer)}." in out
    assert "'zz' is not an answer" in out and "Counted as wrong." in out
    assert "No answer (input ended): counted as wrong." in out
    # every option's explanation is shown for every question
    for q in qs:
        for letter, text in q.explanations.items():
            assert text in out, (q.id, letter)
    attempts = Store().attempts()
    assert [(a["qid"], a["correct"]) for a in attempts] == [
        (qs[0].id, True),
        (qs[1].id, False),
        (qs[2].id, False),
        (qs[3].id, False),
    ]
    assert attempts[0]["mls"] == list(qs[0].mls)
    # the three misses are due for review tomorrow, not today
    st = Store()
    assert st.due(T0) == []
    assert sorted(st.due(T0 + timedelta(days=1))) == sorted(q.id for q in qs[1:])


def test_review_asks_due_questions_and_promotes(gen_bank: Path) -> None:
    qs = _questions(3, seed=3)
    wrong = "".join(next(x for x in q.options if x not in q.answer) for q in qs[:1])
    runner = CliRunner()
    runner.invoke(
        quiz_cmd,
        ["--no-shuffle", "-n", "3", "--exam", "mls-c01", "--seed", "3"],
        input=f"{wrong}\n{''.join(qs[1].answer)}\n{''.join(qs[2].answer)}\n",
        obj={"clock": FakeClock(T0)},
    )
    # same day: nothing due
    early = runner.invoke(quiz_cmd, ["--review"], input="", obj={"clock": FakeClock(T0)})
    assert "Nothing is due for review" in early.output
    later = FakeClock(T0 + timedelta(days=1, hours=1))
    res = runner.invoke(
        quiz_cmd,
        ["--no-shuffle", "--review"],
        input=f"{''.join(qs[0].answer)}\n",
        obj={"clock": later},
    )
    assert res.exit_code == 0, res.output
    assert f"[{qs[0].id}]" in res.output and "Question 1/1" in res.output
    assert res.output.rstrip().endswith("Score: 1/1")
    card = Store().card(qs[0].id)
    assert card is not None and card.box == 2
    assert Store().attempts("review")[0]["qid"] == qs[0].id


def test_filters_by_domain_and_task(gen_bank: Path) -> None:
    res = CliRunner().invoke(
        quiz_cmd,
        ["-n", "3", "--exam", "mla-c01", "--task", "2.3", "--seed", "1"],
        input="A\nA\nA\n",
    )
    assert res.exit_code == 0, res.output
    headers = [line for line in res.output.splitlines() if line.startswith("Question ")]
    assert len(headers) == 3 and all("MLA 2.3" in h for h in headers)
    res = CliRunner().invoke(
        quiz_cmd, ["-n", "2", "--exam", "mls-c01", "--domain", "4"], input="A\nA\n"
    )
    headers = [line for line in res.output.splitlines() if line.startswith("Question ")]
    assert len(headers) == 2 and all("MLS 4." in h for h in headers)
    bad = CliRunner().invoke(quiz_cmd, ["--exam", "mla-c01", "--task", "4.4"])
    assert bad.exit_code == 2 and "not a task statement" in bad.output


def test_notebook_quiz_widget_single_and_multi(gen_bank: Path) -> None:
    pytest.importorskip("ipywidgets")
    bank = load_bank()
    single = bank.get("d1-001")
    multi = bank.get("d1-005")
    assert not single.multi and multi.multi
    box = notebook_quiz(ids=[single.id, multi.id], now=FakeClock(T0), shuffle=False)
    import ipywidgets as w

    c1, c2 = box.cards
    assert isinstance(c1.choice, w.RadioButtons)
    assert all(isinstance(b, w.Checkbox) for b in c2.boxes) and len(c2.boxes) == 5
    # nothing picked: not graded, not recorded
    c1.button.click()
    assert "Pick an answer" in c1.feedback.value and Store().attempts() == []
    c1.choice.value = next(o for o in c1.choice.options if o.startswith(single.answer[0]))
    c1.button.click()
    assert "Correct." in c1.feedback.value
    for letter in single.options:
        assert single.explanations[letter] in c1.feedback.value
    # multi: tick only one of the two right letters -> wrong
    c2.boxes[list(multi.options).index(multi.answer[0])].value = True
    c2.button.click()
    assert "Wrong" in c2.feedback.value
    c2.boxes[list(multi.options).index(multi.answer[1])].value = True
    c2.button.click()  # a second check shows the verdict but is not recorded again
    assert "Correct." in c2.feedback.value
    attempts = Store().attempts("widget")
    assert [(a["qid"], a["correct"]) for a in attempts] == [(single.id, True), (multi.id, False)]
    assert "Score: 1/2" in box.children[-1].value
    assert Store().card(multi.id) is not None


def test_interactive_invalid_line_re_asks(gen_bank: Path) -> None:
    from mllab.study.quiz import run_quiz

    q = load_bank().get("d1-001")
    lines = iter(["", "Z", "maybe", q.answer[0].lower()])
    printed: list[str] = []
    res = run_quiz(
        [q],
        lambda: next(lines, None),
        printed.append,
        interactive=True,
        clock=FakeClock(T0),
        shuffle=False,
    )
    text = "\n".join(printed)
    assert text.count("Try again.") == 3
    assert res.correct == 1 and printed[-1] == "Score: 1/1"
    assert len(Store().attempts()) == 1
