"""Quizzes in the terminal (``mllab quiz``); every lab's "exam angle" section uses them.

A quiz asks questions one at a time, reads letters (``B``, ``AC``, ``a, c``), says right or
wrong, shows every option's explanation and ends with ``Score: k/N``. Every attempt is stored,
and misses enter the spaced-repetition schedule (see :mod:`mllab.study.store`).

Options are shuffled per attempt (seeded; explanations and multi-answer keys follow), so a
retake cannot be answered by letter. Typing ``-B`` strikes option B out (typing it again
restores it), as real exam interfaces allow; a strike is not an answer.

Input rules: when stdin is a terminal an invalid line re-asks; when it is piped (one line per
question) an invalid line counts as wrong with a message, so later lines stay aligned with their
questions, and a question left when input runs out counts as wrong with a message.
"""

from __future__ import annotations

import random
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mllab.study.bank import Bank, Question, domain_of
from mllab.study.store import Store, utcnow

Clock = Callable[[], datetime]
ReadLine = Callable[[], "str | None"]
Write = Callable[[str], None]

_COUNT = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR"}


def parse_answer(text: str, letters: Iterable[str]) -> tuple[str, ...] | None:
    """Parse an answer line: case-, space- and comma-insensitive letters.

    Args:
        text: what the learner typed, e.g. ``"b"``, ``"AC"``, ``"a, c"``.
        letters: the question's option letters.

    Returns:
        The sorted distinct letters, or None when the line is empty or names a letter that is
        not an option.
    """
    valid = {x.upper() for x in letters}
    cleaned = re.sub(r"[\s,;/+&]+", "", text.strip().upper())
    if cleaned.endswith("."):
        cleaned = cleaned[:-1]
    if not cleaned or any(ch not in valid for ch in cleaned):
        return None
    return tuple(sorted(set(cleaned)))


def select_questions(
    bank: Bank,
    n: int | None = 10,
    exam: str | None = None,
    domain: int | None = None,
    task: str | None = None,
    review: bool = False,
    seed: int | None = None,
    ids: Sequence[str] | None = None,
    store: Store | None = None,
    now: datetime | None = None,
    skill: str | None = None,
) -> list[Question]:
    """Choose the questions of a quiz.

    Args:
        bank: the question bank.
        n: how many (None: all that match; for ``review``, all that are due).
        exam: ``mla-c02`` / ``mla-c01`` / ``mls-c01``; filters by that exam's tags.
        domain: a domain number (of ``exam``, or of either exam).
        task: a task statement such as ``"1.2"``.
        review: ask the questions due for review (most overdue first).
        seed: random seed for the draw.
        ids: ask exactly these questions, in this order (other filters ignored).
        store: the study store (needed for ``review``).
        now: the clock.
        skill: an MLA-C02 skill such as ``"2.3.8"``.

    Returns:
        The questions.

    Raises:
        KeyError: an id in ``ids`` is not in the bank.
    """
    if ids:
        return [bank.get(i) for i in ids]
    pool = bank.select(exam=exam, domain=domain, task=task, skill=skill)
    if review:
        st = store or Store()
        wanted = {q.id: q for q in pool}
        due = [wanted[qid] for qid in st.due(now) if qid in wanted]
        return due if n is None else due[:n]
    rng = random.Random(seed)
    if n is None or n >= len(pool):
        chosen = list(pool)
        rng.shuffle(chosen)
        return chosen
    return rng.sample(pool, n)


STRIKE = re.compile(r"^\s*-\s*([A-Fa-f])\s*$")


def parse_strike(text: str, letters: Iterable[str]) -> str | None:
    """Parse an elimination command such as ``-B``.

    Args:
        text: the typed line.
        letters: the question's option letters.

    Returns:
        The letter to strike or restore, or None when the line is not a strike of an option.
    """
    m = STRIKE.match(text)
    if not m or m.group(1).upper() not in {x.upper() for x in letters}:
        return None
    return m.group(1).upper()


def toggle(struck: set[str], letter: str) -> bool:
    """Strike ``letter`` out, or restore it when already struck.

    Args:
        struck: the struck letters (changed in place).
        letter: the option letter.

    Returns:
        True when the letter is now struck.
    """
    if letter in struck:
        struck.discard(letter)
        return False
    struck.add(letter)
    return True


def attempt_seed(seed: int | None) -> int:
    """Return the seed of one attempt's option order: ``seed``, or a fresh random one."""
    return seed if seed is not None else random.SystemRandom().randrange(1 << 30)


def tag_line(q: Question) -> str:
    """Return ``"C02 1.1.4 | MLS 1.2 | MLA 1.1"`` style tags."""
    parts = []
    if q.mla2:
        parts.append("C02 " + ", ".join(q.mla2))
    if q.mls:
        parts.append("MLS " + ", ".join(q.mls))
    if q.mla:
        parts.append("MLA " + ", ".join(q.mla))
    return " | ".join(parts)


def format_question(
    q: Question, index: int, total: int, width: int = 96, struck: Iterable[str] = ()
) -> str:
    """Render a question for the terminal.

    Args:
        q: the question (or its shuffled view).
        index: 1-based position.
        total: number of questions.
        width: wrap width.
        struck: letters the learner struck out (shown as ``[struck]``).

    Returns:
        The text (stem, options and how many letters to choose).
    """
    gone = set(struck)
    lines = [f"Question {index}/{total}  [{q.id}]  ({tag_line(q)})"]
    lines += textwrap.wrap(q.stem, width) or [q.stem]
    for letter, text in q.options.items():
        mark = "[struck] " if letter in gone else ""
        lines += textwrap.wrap(f"  {letter}) {mark}{text}", width, subsequent_indent="     ") or [
            f"  {letter})"
        ]
    if q.multi:
        lines.append(f"(Choose {_COUNT.get(len(q.answer), len(q.answer))}: type letters, e.g. AC)")
    return "\n".join(lines)


def format_feedback(q: Question, chosen: Sequence[str] | None, width: int = 96) -> str:
    """Render the verdict and every option's explanation.

    Args:
        q: the question.
        chosen: the letters given (None or empty when unanswered).
        width: wrap width.

    Returns:
        The text.
    """
    right = bool(chosen) and q.is_correct(chosen or ())
    answer = "".join(q.answer)
    given = "".join(chosen or ()) or "-"
    head = "Correct." if right else f"Wrong: you answered {given}; the answer is {answer}."
    lines = [head]
    for letter, text in q.explanations.items():
        mark = "right" if letter in q.answer else "wrong"
        picked = " (your pick)" if chosen and letter in chosen else ""
        lines += textwrap.wrap(
            f"  {letter} [{mark}]{picked}: {text}", width, subsequent_indent="      "
        )
    if q.status:
        lines += textwrap.wrap(f"  Status: {q.status}", width, subsequent_indent="      ")
    if q.lab:
        lines.append(f"  Practise it: lab {q.lab}")
    lines.append(f"  Wrong question? mllab bank report {q.id}")
    return "\n".join(lines)


@dataclass
class QuizResult:
    """The outcome of a quiz."""

    total: int
    correct: int
    answers: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def score_line(self) -> str:
        """``Score: k/N``."""
        return f"Score: {self.correct}/{self.total}"


def run_quiz(
    questions: Sequence[Question],
    read_line: ReadLine,
    write: Write,
    interactive: bool,
    store: Store | None = None,
    source: str = "quiz",
    clock: Clock = utcnow,
    style: Callable[..., str] | None = None,
    shuffle_seed: int | None = None,
    shuffle: bool = True,
) -> QuizResult:
    """Ask questions in a line-oriented terminal and record every attempt.

    Args:
        questions: what to ask.
        read_line: returns the next input line, or None at end of input.
        write: prints one block of text.
        interactive: True when a person is typing (invalid lines re-ask).
        store: the study store (default: ``$MLLAB_HOME/study.sqlite``).
        source: stored with each attempt (``quiz`` or ``review``).
        clock: returns the current time.
        style: optional ``click.style``-like function for colour.
        shuffle_seed: seed of the option order (default: a fresh one per quiz).
        shuffle: False asks the options in bank order.

    Returns:
        The result; its ``score_line`` was printed last. Answers are stored in the bank's
        letters, whatever order was shown.
    """
    st = store or Store()
    paint = style or (lambda text, **_: text)
    result = QuizResult(total=len(questions), correct=0)
    session = f"{source}:{clock().strftime('%Y%m%dT%H%M%S')}"
    order_seed = attempt_seed(shuffle_seed)
    for i, bank_q in enumerate(questions, start=1):
        q = bank_q.shuffled(f"{order_seed}:{i}") if shuffle else bank_q
        struck: set[str] = set()
        write("")
        write(format_question(q, i, len(questions)))
        chosen: tuple[str, ...] | None = None
        note = ""
        while True:
            line = read_line()
            if line is None:
                note = "No answer (input ended): counted as wrong."
                break
            strike = parse_strike(line, q.options)
            if strike is not None:
                on = toggle(struck, strike)
                write(f"{strike} {'struck out' if on else 'restored'}.")
                write(format_question(q, i, len(questions), struck=struck))
                continue
            chosen = parse_answer(line, q.options)
            if chosen is not None:
                break
            msg = f"{line.strip()!r} is not an answer: type letters from {', '.join(q.options)}."
            if interactive:
                write(msg + " Try again.")
                continue
            note = msg + " Counted as wrong."
            break
        if note:
            write(note)
        correct = chosen is not None and q.is_correct(chosen)
        result.correct += int(correct)
        result.answers.append((q.id, q.to_bank_letters(chosen or ()), correct))
        fb = format_feedback(q, chosen)
        first, _, rest = fb.partition("\n")
        write(
            paint(first, fg="green" if correct else "red", bold=True)
            + ("\n" + rest if rest else "")
        )
        st.record_attempt(
            q.id,
            q.to_bank_letters(chosen or ()),
            correct,
            source,
            q.mls,
            q.mla,
            session=session,
            now=clock(),
            mla2=q.mla2,
        )
    write("")
    write(result.score_line)
    return result


def describe_filters(exam: str | None, domain: int | None, task: str | None) -> str:
    """Describe quiz filters in words (for empty-result messages)."""
    parts = []
    if exam:
        parts.append(exam.upper())
    if domain is not None:
        parts.append(f"domain {domain}")
    if task:
        parts.append(f"task {task}")
        if domain is not None and domain_of(task) != domain:
            parts.append("(task outside that domain)")
    return " ".join(parts) or "the whole bank"
