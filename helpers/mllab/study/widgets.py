"""Notebook forms: ``quiz(...)`` for every lab's "exam angle" section, ``audit_widget()`` for lab 00.

Single-answer questions use RadioButtons, multiple-response questions a group of Checkboxes;
a Check button grades, shows every option's explanation at once and records the attempt in the
same store as the terminal quiz (the first check of each question counts). Options are shuffled
per quiz (seeded; explanations and keys follow; attempts are stored in the bank's letters), a
row of strike toggles crosses options out as real exam interfaces allow, and "Report an error"
writes a structured report (question id, what is wrong, the AWS source) to attach to an issue.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from mllab.study.bank import DEFAULT_EXAM, DOMAINS, TASKS, WEIGHTS, Bank, Question, load_bank
from mllab.study.quiz import attempt_seed, select_questions, tag_line
from mllab.study.store import Store, utcnow


def _html_question(q: Question, index: int, total: int) -> str:
    need = f" <i>(Choose {len(q.answer)}.)</i>" if q.multi else ""
    return (
        f"<b>Question {index}/{total}</b> <code>{q.id}</code> <small>{html.escape(tag_line(q))}</small>"
        f"<p>{html.escape(q.stem)}{need}</p>"
    )


def _html_feedback(q: Question, chosen: Sequence[str]) -> str:
    right = q.is_correct(chosen)
    head = (
        "<b style='color:green'>Correct.</b>"
        if right
        else f"<b style='color:#c00'>Wrong: the answer is {''.join(q.answer)}.</b>"
    )
    items = []
    for letter, text in q.explanations.items():
        mark = "right" if letter in q.answer else "wrong"
        pick = " (your pick)" if letter in chosen else ""
        items.append(f"<li><b>{letter}</b> [{mark}]{pick}: {html.escape(text)}</li>")
    lab = f"<p>Practise it: lab <code>{html.escape(q.lab)}</code></p>" if q.lab else ""
    status = f"<p><b>Status:</b> {html.escape(q.status)}</p>" if q.status else ""
    return f"{head}<ul>{''.join(items)}</ul>{status}{lab}"


def strike_text(text: str) -> str:
    """Return ``text`` struck through with combining characters (plain widget labels)."""
    return "".join(ch + "\u0336" for ch in text)


class QuestionCard:
    """One question as widgets (RadioButtons or Checkboxes, a Check button, an output)."""

    def __init__(
        self,
        q: Question,
        index: int,
        total: int,
        store: Store,
        clock: Callable[[], datetime],
        on_graded: Callable[[bool], None] | None = None,
    ):
        """Build the widgets.

        Args:
            q: the question.
            index: 1-based position.
            total: number of questions.
            store: where attempts are recorded.
            clock: the clock.
            on_graded: called with the verdict of the first check.
        """
        import ipywidgets as w

        self.q = q
        self.store = store
        self.clock = clock
        self.on_graded = on_graded
        self.graded: bool | None = None
        self.struck: set[str] = set()
        labels = self._labels()
        self.choice: Any
        if q.multi:
            self.boxes = [
                w.Checkbox(
                    value=False, description=lab, indent=False, layout=w.Layout(width="auto")
                )
                for lab in labels
            ]
            self.choice = w.VBox(self.boxes)
        else:
            self.boxes = []
            self.choice = w.RadioButtons(options=labels, value=None, layout=w.Layout(width="auto"))
        self.button = w.Button(description="Check", button_style="primary")
        self.feedback = w.HTML()
        self.button.on_click(lambda _b: self.check())
        self.strikes = {
            k: w.ToggleButton(
                value=False,
                description=f"strike {k}",
                tooltip=f"Cross option {k} out (click again to restore)",
                layout=w.Layout(width="auto"),
            )
            for k in q.options
        }
        for k, tb in self.strikes.items():
            tb.observe(lambda change, k=k: self.strike(k, bool(change["new"])), names="value")
        self.report_what = w.Textarea(placeholder="What is wrong?", layout=w.Layout(width="95%"))
        self.report_source = w.Text(
            placeholder="Authoritative AWS source: https://docs.aws.amazon.com/...",
            layout=w.Layout(width="95%"),
        )
        self.report_button = w.Button(description="Write report")
        self.report_out = w.HTML()
        self.report_button.on_click(lambda _b: self.report())
        self.report_box = w.VBox(
            [self.report_what, self.report_source, self.report_button, self.report_out]
        )
        self.report_box.layout.display = "none"
        self.report_toggle = w.Button(description="Report an error", button_style="")
        self.report_toggle.on_click(lambda _b: self._show_report())
        self.widget = w.VBox(
            [
                w.HTML(_html_question(q, index, total)),
                self.choice,
                w.HBox(list(self.strikes.values())),
                self.button,
                self.feedback,
                self.report_toggle,
                self.report_box,
            ]
        )

    def _labels(self) -> list[str]:
        return [
            f"{k}) {strike_text(v) if k in self.struck else v}" for k, v in self.q.options.items()
        ]

    def strike(self, letter: str, on: bool) -> None:
        """Cross option ``letter`` out (or restore it); a selection stays as it was.

        Args:
            letter: the option letter as shown.
            on: True strikes, False restores.
        """
        if on:
            self.struck.add(letter)
        else:
            self.struck.discard(letter)
        labels = self._labels()
        if self.q.multi:
            for box, lab in zip(self.boxes, labels, strict=True):
                box.description = lab
        else:
            picked = self.chosen()
            self.choice.options = labels
            self.choice.value = labels[list(self.q.options).index(picked[0])] if picked else None

    def _show_report(self) -> None:
        self.report_box.layout.display = None

    def report(self) -> str | None:
        """Write an error report for this question from the two fields.

        Returns:
            The path written, or None (the reason is shown under the button).
        """
        from mllab.study.report import ReportError, build_report, write_report

        bank = Bank([self.q if not self.q.origin else _bank_question(self.q)])
        try:
            rep = build_report(
                bank, self.q.id, self.report_what.value, self.report_source.value, now=self.clock()
            )
        except ReportError as exc:
            self.report_out.value = f"<span style='color:#c00'>{html.escape(str(exc))}</span>"
            return None
        path = write_report(rep)
        self.report_out.value = (
            f"Report written to <code>{html.escape(str(path))}</code>: attach it to a new issue "
            "with the 'Question error' form."
        )
        return str(path)

    def chosen(self) -> tuple[str, ...]:
        """Return the selected letters."""
        if self.q.multi:
            return tuple(
                letter for letter, box in zip(self.q.options, self.boxes, strict=True) if box.value
            )
        value = self.choice.value
        return (list(self.q.options)[self._labels().index(value)],) if value else ()

    def check(self) -> bool | None:
        """Grade the current selection, show explanations and record the first attempt.

        Returns:
            The verdict, or None when nothing is selected.
        """
        chosen = self.chosen()
        if not chosen:
            self.feedback.value = "<i>Pick an answer first.</i>"
            return None
        right = self.q.is_correct(chosen)
        self.feedback.value = _html_feedback(self.q, chosen)
        if self.graded is None:
            self.graded = right
            self.store.record_attempt(
                self.q.id,
                self.q.to_bank_letters(chosen),
                right,
                "widget",
                self.q.mls,
                self.q.mla,
                now=self.clock(),
                mla2=self.q.mla2,
            )
            if self.on_graded:
                self.on_graded(right)
        return right


def quiz(
    n: int | None = 5,
    exam: str | None = None,
    domain: int | None = None,
    task: str | None = None,
    review: bool = False,
    seed: int | None = None,
    ids: Sequence[str] | None = None,
    bank: Bank | None = None,
    store: Store | None = None,
    now: Callable[[], datetime] | None = None,
    shuffle: bool = True,
    skill: str | None = None,
) -> Any:
    """A notebook quiz (used by every lab's "exam angle" section).

    Args:
        n: number of questions (None: all that match).
        exam: ``mla-c02``, ``mla-c01`` or ``mls-c01``.
        domain: domain number.
        task: task statement, e.g. ``"3.5"``.
        review: ask the questions due for review.
        seed: seed for the draw.
        ids: ask exactly these question ids.
        bank: the bank (default: :func:`load_bank`).
        store: the study store (default: ``$MLLAB_HOME/study.sqlite``).
        now: a clock function (tests).
        shuffle: False shows options in bank order (default: shuffled, seeded by ``seed``).
        skill: only questions on this MLA-C02 skill, e.g. ``"2.3.8"``.

    Returns:
        An ``ipywidgets.VBox``; its ``cards`` attribute lists the :class:`QuestionCard` objects.
    """
    import ipywidgets as w

    b = bank or load_bank()
    st = store or Store()
    clock = now or utcnow
    qs = select_questions(b, n, exam, domain, task, review, seed, ids, st, clock(), skill=skill)
    order = attempt_seed(seed)
    if shuffle:
        qs = [q.shuffled(f"{order}:{i}") for i, q in enumerate(qs, start=1)]
    score = w.HTML()
    cards: list[QuestionCard] = []
    tally = {"right": 0, "checked": 0}

    def update(right: bool | None = None) -> None:
        if right is not None:
            tally["checked"] += 1
            tally["right"] += int(right)
        score.value = f"<b>Score: {tally['right']}/{len(qs)}</b> ({tally['checked']} checked)"

    for i, q in enumerate(qs, start=1):
        cards.append(QuestionCard(q, i, len(qs), st, clock, on_graded=update))
    update()
    if not qs:
        score.value = "<i>No questions match (nothing due, or no question for these filters).</i>"
    box = w.VBox([c.widget for c in cards] + [score])
    box.cards = cards  # type: ignore[attr-defined]
    return box


def _bank_question(view: Question) -> Question:
    """Return the bank's version of a shuffled view (reports name the bank's letters)."""
    from dataclasses import replace

    inv = view.origin
    return replace(
        view,
        options={inv[s]: t for s, t in sorted(view.options.items(), key=lambda x: inv[x[0]])},
        explanations={inv[s]: t for s, t in view.explanations.items()},
        answer=tuple(sorted(inv[a] for a in view.answer)),
        origin={},
    )


def audit_widget(
    exam: str = DEFAULT_EXAM,
    store: Store | None = None,
    now: Callable[[], datetime] | None = None,
) -> Any:
    """The knowledge audit as a form (lab 00): a 1-5 slider per task statement and a Save button.

    Saving stores the audit and draws the weighted gap chart below the form; the "Diagnostic
    quiz" button opens an optional 10-question :func:`quiz` for the same exam (its answers
    feed the plan's gaps through the stored results).

    Args:
        exam: ``mls-c01`` or ``mla-c01``.
        store: the study store.
        now: a clock function (tests).

    Returns:
        An ``ipywidgets.VBox`` with ``sliders`` (``{task: IntSlider}``) and ``save`` attributes.
    """
    import ipywidgets as w

    from mllab.study.audit import gap_chart, gap_table, task_gaps

    st = store or Store()
    clock = now or utcnow
    prefix = "C02" if exam == "mla-c02" else exam.split("-")[0].upper()
    sliders: dict[str, Any] = {}
    rows: list[Any] = [
        w.HTML(f"<b>{exam.upper()} knowledge audit</b>: 1 = new to me ... 5 = I could teach it.")
    ]
    for d in DOMAINS[exam]:
        rows.append(w.HTML(f"<b>D{d} {DOMAINS[exam][d]}</b> ({WEIGHTS[exam][d]}% of the exam)"))
        for t, title in TASKS[exam].items():
            if int(t[0]) != d:
                continue
            s = w.IntSlider(
                value=3, min=1, max=5, description=f"{prefix} {t}", continuous_update=False
            )
            sliders[t] = s
            rows.append(w.HBox([s, w.Label(title)]))
    save = w.Button(description="Save audit", button_style="primary")
    out = w.Output()
    status = w.HTML()

    def on_save(_b: Any) -> None:
        ratings: dict[str, int | None] = {t: int(s.value) for t, s in sliders.items()}
        audit_id = st.save_audit(exam, ratings, now=clock())
        gaps = task_gaps(exam, ratings)
        status.value = f"Audit #{audit_id} saved. Next: <code>mllab plan --exam {exam}</code>"
        out.clear_output()
        with out:
            print(gap_table(exam, gaps, ratings))
            try:
                from IPython.display import display

                display(gap_chart(exam, gaps))
            except ImportError:  # pragma: no cover
                pass

    save.on_click(on_save)
    diag = w.Button(description="Diagnostic quiz (10)")
    diag_out = w.Output()

    def on_diag(_b: Any) -> None:
        diag_out.clear_output()
        with diag_out:
            try:
                from IPython.display import display

                display(quiz(10, exam=exam, store=st, now=clock))
            except ImportError:  # pragma: no cover
                pass

    diag.on_click(on_diag)
    box = w.VBox(rows + [w.HBox([save, diag]), status, out, diag_out])
    box.sliders = sliders  # type: ignore[attr-defined]
    box.save = save  # type: ignore[attr-defined]
    box.status = status  # type: ignore[attr-defined]
    return box
