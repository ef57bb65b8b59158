"""Timed practice exams (``mllab exam``), introduced in lab 00 and used from the midpoint of a plan.

An exam draws its form's questions by the exam's domain weights (MLA-C02 28/24/24/24, beta
form 85 questions in 170 minutes, standard form 65 questions in an assumed 130 minutes;
legacy MLA-C01 28/26/22/24 and MLS-C01 20/24/36/20; a question's domain is that of its first
tag for the exam), shuffles every question's options (seeded per exam and saved, so a resumed
exam shows the same order and a new exam a new one), lets the learner strike options out
(``-B``), runs a timer (configurable) and a pace coach: a
question on screen for more than three minutes is pointed out and the learner is offered to flag
it, and the projected finish time is shown from the pace so far. The state is saved after every
command, so an interrupted exam continues with ``--resume`` (time spent away does not count).

Clock contract (for tests): the clock is read once when a session starts or resumes and once
after every input line. The pace coach's offer reads one extra line: ``y`` flags, blank or
``n`` declines, anything else declines and runs as the next command.

The scaled score is an ESTIMATE. AWS scores 50 of the 65 questions on a 100-1000 scale with
unpublished equating; here percent correct over all questions is mapped linearly in two pieces:
0% -> 100, :data:`ANCHOR_PERCENT` (72%) -> the pass mark (750 MLS-C01, 720 MLA-C01),
100% -> 1000.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mllab.study.bank import (
    DOMAINS,
    EXAM_NAMES,
    PASS_MARK,
    QUESTIONS_PER_EXAM,
    RETIREMENT_NOTE,
    SKILLS,
    TASKS,
    WEIGHTS,
    Bank,
    Question,
    domain_of,
)
from mllab.study.catalogue import load_catalogue
from mllab.study.labmap import lab_skills
from mllab.study.quiz import (
    format_feedback,
    format_question,
    parse_answer,
    parse_strike,
    toggle,
)
from mllab.study.store import CAUSES, Store

ANCHOR_PERCENT = 72.0
COACH_SECONDS = 180.0

METHOD = (
    "ESTIMATE, not an AWS score: percent correct over all questions mapped linearly in two "
    f"pieces, 0% -> 100, {ANCHOR_PERCENT:g}% -> the pass mark, 100% -> 1000. AWS scores 50 of 65 "
    "questions with unpublished equating, so treat +/-50 points as noise."
)

HELP = (
    "Commands: letters (e.g. B or AC) answer and move on | -B strike out / restore B | n next | p previous | g N go to "
    "question N | f flag/unflag | r review flagged questions | l list status | "
    "q save and quit (resume with --resume) | s submit and see the report"
)

Clock = Callable[[], datetime]
ReadLine = Callable[[], "str | None"]
Write = Callable[[str], None]


def estimate_scaled(percent: float, exam: str) -> int:
    """Estimate a scaled score (100-1000) from percent correct.

    Args:
        percent: percent correct, 0-100.
        exam: exam code (sets the pass mark).

    Returns:
        The estimate, clamped to 100..1000 (see :data:`METHOD`).
    """
    p = min(max(percent, 0.0), 100.0)
    mark = PASS_MARK[exam]
    if p <= ANCHOR_PERCENT:
        value = 100 + (mark - 100) * p / ANCHOR_PERCENT
    else:
        value = mark + (1000 - mark) * (p - ANCHOR_PERCENT) / (100 - ANCHOR_PERCENT)
    return int(round(min(max(value, 100.0), 1000.0)))


def allocate(total: int, weights: dict[int, int]) -> dict[int, int]:
    """Split ``total`` across domains by weight (largest remainder).

    Args:
        total: number of questions.
        weights: ``{domain: weight}``.

    Returns:
        ``{domain: count}`` summing to ``total``.
    """
    wsum = sum(weights.values())
    raw = {d: total * w / wsum for d, w in weights.items()}
    out = {d: int(v) for d, v in raw.items()}
    rest = total - sum(out.values())
    for d in sorted(raw, key=lambda d: (raw[d] - out[d], weights[d]), reverse=True)[:rest]:
        out[d] += 1
    return out


def draw_exam(
    bank: Bank, exam: str, seed: int | None = None, n: int = QUESTIONS_PER_EXAM
) -> tuple[list[Question], str]:
    """Draw an exam's questions by domain weight.

    Args:
        bank: the bank.
        exam: exam code.
        seed: random seed.
        n: number of questions (65).

    Returns:
        The shuffled questions and a note ("" unless a domain ran short or the bank is small).

    Raises:
        ValueError: the bank has no question for this exam.
    """
    rng = random.Random(seed)
    pools: dict[int, list[Question]] = {d: [] for d in WEIGHTS[exam]}
    for q in bank:
        d = q.domain(exam)
        if d in pools:
            pools[d].append(q)
    available = sum(len(p) for p in pools.values())
    if available == 0:
        raise ValueError(f"the bank has no {exam.upper()} questions")
    notes = []
    if available < n:
        notes.append(
            f"the bank has only {available} {exam.upper()} questions; the exam has {available}"
        )
        n = available
    want = allocate(n, WEIGHTS[exam])
    chosen: list[Question] = []
    short = 0
    for d, k in want.items():
        take = min(k, len(pools[d]))
        if take < k:
            notes.append(f"domain {d} has {len(pools[d])} questions, {k} wanted")
            short += k - take
        chosen += rng.sample(pools[d], take)
    if short:
        left = [q for d in pools for q in pools[d] if q not in chosen]
        chosen += rng.sample(left, min(short, len(left)))
    rng.shuffle(chosen)
    return chosen, "; ".join(notes)


def mmss(seconds: float) -> str:
    """Format seconds as ``M:SS``."""
    s = max(int(seconds), 0)
    return f"{s // 60}:{s % 60:02d}"


@dataclass
class ExamSession:
    """A running practice exam: its state is a JSON-serialisable dict saved in the store."""

    exam_id: int
    state: dict[str, Any]
    bank: Bank
    store: Store

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        bank: Bank,
        exam: str,
        store: Store,
        now: datetime,
        seed: int | None = None,
        minutes: float | None = None,
        form: str | None = None,
        shuffle_seed: int | None = None,
        shuffle: bool = True,
    ) -> ExamSession:
        """Draw and save a new exam.

        Args:
            bank: the bank.
            exam: exam code.
            store: the study store.
            now: the clock.
            seed: draw seed (default: random, saved).
            minutes: time allowed (default: the form's).
            form: ``beta`` or ``standard`` (default: the exam's default form).
            shuffle_seed: seed of the option order (default: a fresh random one, saved, so
                retaking the same draw shows new letters).
            shuffle: False shows every question's options in bank order.

        Returns:
            The session, on question 1.

        Raises:
            ValueError: an unknown form, or no question for this exam.
        """
        spec = load_catalogue()[exam].form(form)
        if seed is None:
            seed = random.SystemRandom().randrange(1_000_000)
        if shuffle_seed is None and shuffle:
            shuffle_seed = random.SystemRandom().randrange(1 << 30)
        if not shuffle:
            shuffle_seed = None
        questions, note = draw_exam(bank, exam, seed, n=spec.questions)
        state: dict[str, Any] = {
            "exam": exam,
            "form": spec.name,
            "form_note": spec.note,
            "seed": seed,
            "shuffle_seed": shuffle_seed,
            "struck": {},
            "minutes": float(minutes or spec.minutes),
            "qids": [q.id for q in questions],
            "answers": {},
            "flags": [],
            "current": 0,
            "elapsed": 0.0,
            "last_tick": now.timestamp(),
            "shown_at": now.timestamp(),
            "on_screen": {},
            "warned": [],
            "review": False,
            "note": note,
            "time_up": False,
        }
        exam_id = store.create_exam(exam, seed, state["minutes"], state, now)
        return cls(exam_id, state, bank, store)

    @classmethod
    def resume(cls, row: dict[str, Any], bank: Bank, store: Store, now: datetime) -> ExamSession:
        """Continue a saved exam; the time away is not counted.

        Args:
            row: the exam row from :meth:`Store.latest_open_exam`.
            bank: the bank (must still hold the exam's questions).
            store: the study store.
            now: the clock.

        Returns:
            The session on the question it was left at.

        Raises:
            KeyError: a question of the exam is no longer in the bank.
        """
        state = row["state"]
        for qid in state["qids"]:
            bank.get(qid)
        state["last_tick"] = now.timestamp()
        state["shown_at"] = now.timestamp()
        session = cls(int(row["id"]), state, bank, store)
        session.save(now)
        return session

    # -- state helpers --------------------------------------------------------------------

    @property
    def exam(self) -> str:
        """Exam code."""
        return str(self.state["exam"])

    @property
    def total(self) -> int:
        """Number of questions."""
        return len(self.state["qids"])

    @property
    def current(self) -> int:
        """0-based index of the question on screen."""
        return int(self.state["current"])

    def question(self, idx: int | None = None) -> Question:
        """Return the question at ``idx`` (default: on screen), in this exam's option order.

        Exams saved before options were shuffled (no ``shuffle_seed``) keep the bank order.
        """
        i = self.current if idx is None else idx
        q = self.bank.get(self.state["qids"][i])
        sseed = self.state.get("shuffle_seed")
        return q.shuffled(f"{sseed}:{i}") if sseed is not None else q

    def struck(self, idx: int) -> set[str]:
        """Return the letters struck out on question ``idx``."""
        return set(self.state.setdefault("struck", {}).get(str(idx), ""))

    def answer_of(self, idx: int) -> str:
        """Return the stored letters for question ``idx`` ("" when unanswered)."""
        return str(self.state["answers"].get(str(idx), ""))

    @property
    def flags(self) -> list[int]:
        """Flagged question indexes."""
        return sorted(int(i) for i in self.state["flags"])

    def answered(self) -> int:
        """Number of answered questions."""
        return len(self.state["answers"])

    def limit_seconds(self) -> float:
        """Time allowed in seconds."""
        return float(self.state["minutes"]) * 60

    def remaining(self) -> float:
        """Seconds left."""
        return self.limit_seconds() - float(self.state["elapsed"])

    def tick(self, now: datetime) -> None:
        """Advance the exam timer to ``now``."""
        delta = max(now.timestamp() - float(self.state["last_tick"]), 0.0)
        self.state["elapsed"] = float(self.state["elapsed"]) + delta
        key = str(self.current)
        self.state["on_screen"][key] = float(self.state["on_screen"].get(key, 0.0)) + delta
        self.state["last_tick"] = now.timestamp()

    def on_screen(self, now: datetime) -> float:
        """Seconds the current question has been on screen in this visit."""
        return now.timestamp() - float(self.state["shown_at"])

    def overdue(self, now: datetime) -> bool:
        """True when the pace coach should speak about the current question."""
        return self.on_screen(now) > COACH_SECONDS and self.current not in self.state["warned"]

    def save(self, now: datetime) -> None:
        """Save the state in the store."""
        self.store.save_exam_state(self.exam_id, self.state, now)

    def goto(self, idx: int, now: datetime) -> None:
        """Put question ``idx`` on screen."""
        self.state["current"] = max(0, min(idx, self.total - 1))
        self.state["shown_at"] = now.timestamp()

    def toggle_flag(self, idx: int) -> bool:
        """Flag or unflag a question; returns True when now flagged."""
        flags = set(self.flags)
        if idx in flags:
            flags.discard(idx)
        else:
            flags.add(idx)
        self.state["flags"] = sorted(flags)
        return idx in flags

    def pace_line(self) -> str:
        """Elapsed, left, and projected finish from the pace so far."""
        elapsed = float(self.state["elapsed"])
        done = self.answered()
        line = (
            f"{mmss(elapsed)} elapsed, {mmss(self.remaining())} left, {done}/{self.total} answered"
        )
        if done:
            projected = elapsed / done * self.total
            line += (
                f"; pace {mmss(elapsed / done)}/question -> projected finish at "
                f"{projected / 60:.0f} of {self.state['minutes']:.0f} min"
            )
            if projected > self.limit_seconds():
                target = self.remaining() / max(self.total - done, 1)
                line += f" (too slow: aim for {mmss(target)} per remaining question)"
        return line

    def screen(self, now: datetime) -> str:
        """Render the current question with status."""
        idx = self.current
        q = self.question()
        flag = " [flagged]" if idx in self.flags else ""
        mode = " [review pass]" if self.state["review"] else ""
        out = [f"=== Q{idx + 1}/{self.total}{flag}{mode} | {self.pace_line()} ==="]
        out.append(format_question(q, idx + 1, self.total, struck=self.struck(idx)))
        if self.answer_of(idx):
            out.append(f"Your answer: {self.answer_of(idx)}")
        return "\n".join(out)

    def status(self) -> str:
        """List answered / flagged / open questions."""
        cells = []
        for i in range(self.total):
            a = self.answer_of(i) or "."
            f = "*" if i in self.flags else ""
            cells.append(f"{i + 1}:{a}{f}")
        rows = [" ".join(cells[i : i + 10]) for i in range(0, len(cells), 10)]
        return "Status (n:answer, * = flagged, . = open)\n" + "\n".join(rows)

    def next_index(self) -> int | None:
        """Return where ``n`` goes: the next flagged question in a review pass, else the next."""
        idx = self.current
        if self.state["review"]:
            later = [f for f in self.flags if f > idx]
            return later[0] if later else None
        return idx + 1 if idx + 1 < self.total else None

    # -- commands -------------------------------------------------------------------------

    def handle(self, line: str, now: datetime) -> tuple[list[str], str]:
        """Apply one command.

        Args:
            line: what was typed.
            now: the clock (already ticked).

        Returns:
            ``(messages, outcome)`` where outcome is ``"show"`` (redraw), ``"stay"``,
            ``"submit"`` or ``"quit"``.
        """
        cmd = line.strip()
        low = cmd.lower()
        idx = self.current
        if not cmd:
            return ["(empty line) " + HELP], "stay"
        if low in ("h", "?", "help"):
            return [HELP], "stay"
        if low in ("s", "submit"):
            return [], "submit"
        if low in ("q", "quit"):
            return [], "quit"
        if low == "l":
            return [self.status()], "stay"
        if low in ("n", "next"):
            nxt = self.next_index()
            if nxt is None:
                msg = (
                    "No more flagged questions."
                    if self.state["review"]
                    else "This is the last question."
                )
                return [
                    msg + " Type s to submit, r to review flagged, g N to go to a question."
                ], "stay"
            self.goto(nxt, now)
            return [], "show"
        if low in ("p", "prev"):
            if idx == 0:
                return ["This is the first question."], "stay"
            self.goto(idx - 1, now)
            return [], "show"
        if low.startswith("g"):
            arg = low[1:].strip()
            if arg.startswith("oto"):
                arg = arg[3:].strip()
            if arg.isdigit() and 1 <= int(arg) <= self.total:
                self.goto(int(arg) - 1, now)
                return [], "show"
            return [f"Use g N with N from 1 to {self.total}."], "stay"
        if low in ("f", "flag"):
            on = self.toggle_flag(idx)
            return [f"Question {idx + 1} {'flagged' if on else 'unflagged'}."], "stay"
        if low in ("r", "review"):
            if not self.flags:
                return ["No flagged questions."], "stay"
            self.state["review"] = True
            self.goto(self.flags[0], now)
            return [
                f"Review pass over flagged questions: {', '.join(str(f + 1) for f in self.flags)}."
            ], "show"
        q = self.question()
        strike = parse_strike(cmd, q.options)
        if strike is not None:
            gone = self.struck(idx)
            on = toggle(gone, strike)
            self.state["struck"][str(idx)] = "".join(sorted(gone))
            return [f"{strike} {'struck out' if on else 'restored'}."], "show"
        chosen = parse_answer(cmd, q.options)
        if chosen is None:
            return [f"{cmd!r} is not a command or an answer. {HELP}"], "stay"
        if len(chosen) != len(q.answer):
            want = len(q.answer)
            return [f"Choose {want} letter{'s' if want > 1 else ''} for this question."], "stay"
        self.state["answers"][str(idx)] = "".join(chosen)
        msgs = [f"Saved {''.join(chosen)} for question {idx + 1}."]
        nxt = self.next_index()
        if nxt is None:
            if self.state["review"]:
                msgs.append("End of the review pass. Type s to submit, or g N to revisit.")
            else:
                open_ = [str(i + 1) for i in range(self.total) if not self.answer_of(i)]
                msgs.append(
                    "That was the last question. "
                    + (f"Unanswered: {', '.join(open_)}. " if open_ else "All answered. ")
                    + (
                        f"Flagged: {', '.join(str(f + 1) for f in self.flags)}; type r to review them. "
                        if self.flags
                        else ""
                    )
                    + "Type s to submit."
                )
            return msgs, "stay"
        self.goto(nxt, now)
        return msgs, "show"

    # -- grading --------------------------------------------------------------------------

    def grade(self, now: datetime) -> dict[str, Any]:
        """Grade, record every attempt (misses enter spaced repetition) and build the report.

        Args:
            now: the clock.

        Returns:
            The report data (also saved with the exam).
        """
        exam = self.exam
        session = f"exam:{self.exam_id}"
        rows = []
        for i, qid in enumerate(self.state["qids"]):
            view = self.question(i)
            shown = self.answer_of(i)
            correct = bool(shown) and view.is_correct(shown)
            chosen = view.to_bank_letters(shown)  # reports and the store use bank letters
            q = self.bank.get(qid)
            rows.append((i, q, chosen, correct))
            self.store.record_attempt(
                qid,
                chosen,
                correct,
                "exam",
                q.mls,
                q.mla,
                session=session,
                seconds=float(self.state["on_screen"].get(str(i), 0.0)),
                now=now,
                mla2=q.mla2,
            )
        report = build_report(self.exam_id, exam, rows, self.state, self.bank)
        self.store.finish_exam(self.exam_id, self.state, report, now)
        return report


def build_report(
    exam_id: int,
    exam: str,
    rows: Sequence[tuple[int, Question, str, bool]],
    state: dict[str, Any],
    bank: Bank,
) -> dict[str, Any]:
    """Build the report data of a graded exam.

    Args:
        exam_id: the exam id.
        exam: exam code.
        rows: ``(index, question, chosen, correct)`` per question.
        state: the final session state.
        bank: the bank (for labs).

    Returns:
        A JSON-serialisable report.
    """
    total = len(rows)
    correct = sum(r[3] for r in rows)
    percent = 100.0 * correct / total if total else 0.0
    scaled = estimate_scaled(percent, exam)
    domains: list[dict[str, Any]] = []
    for d, w in WEIGHTS[exam].items():
        asked = [r for r in rows if r[1].domain(exam) == d]
        domains.append(
            {
                "domain": d,
                "name": DOMAINS[exam][d],
                "weight": w,
                "asked": len(asked),
                "correct": sum(r[3] for r in asked),
            }
        )
    tasks: list[dict[str, Any]] = []
    for t, title in TASKS[exam].items():
        asked = [r for r in rows if t in r[1].tasks(exam)]
        if asked:
            tasks.append(
                {
                    "task": t,
                    "title": title,
                    "asked": len(asked),
                    "correct": sum(r[3] for r in asked),
                }
            )
    skills: list[dict[str, Any]] = []
    if exam == "mla-c02":
        for sk, info in SKILLS.items():
            asked = [r for r in rows if sk in r[1].mla2]
            if asked:
                skills.append(
                    {
                        "skill": sk,
                        "text": info.text,
                        "new": info.new,
                        "asked": len(asked),
                        "correct": sum(r[3] for r in asked),
                    }
                )
    missed = [
        {"index": r[0] + 1, "qid": r[1].id, "chosen": r[2], "answer": "".join(r[1].answer)}
        for r in rows
        if not r[3]
    ]
    weak = [t for t in tasks if t["correct"] < t["asked"]]
    weak.sort(
        key=lambda t: (t["correct"] / t["asked"], -WEIGHTS[exam][domain_of(t["task"])], -t["asked"])
    )
    missed_labs: dict[str, list[str]] = {}
    for r in rows:
        if not r[3] and r[1].lab:
            for t in r[1].tasks(exam):
                missed_labs.setdefault(t, [])
                if r[1].lab not in missed_labs[t]:
                    missed_labs[t].append(r[1].lab)
    study_next: list[dict[str, Any]] = []
    weak_skills = sorted(
        (k for k in skills if k["correct"] < k["asked"]),
        key=lambda k: (k["correct"] / k["asked"], -k["asked"], k["skill"]),
    )
    for entry in weak[:5]:
        labs = list(missed_labs.get(entry["task"], []))
        task_skills = [k for k in weak_skills if k["skill"].startswith(entry["task"] + ".")]
        practise = lab_skills()
        for k in task_skills:  # lab requirements that practise the weakest skills first
            labs += [ref for ref in practise.get(k["skill"], []) if ref not in labs]
        labs += [lab for lab in bank.labs_for(exam, entry["task"]) if lab not in labs]
        study_next.append(
            {
                **entry,
                "skills": [k["skill"] for k in task_skills][:4],
                "labs": labs[:4],
                "quiz": f"mllab quiz --exam {exam} --task {entry['task']}",
            }
        )
    return {
        "exam_id": exam_id,
        "exam": exam,
        "name": EXAM_NAMES[exam],
        "seed": state.get("seed"),
        "minutes": state.get("minutes"),
        "elapsed_minutes": round(float(state.get("elapsed", 0.0)) / 60, 1),
        "time_up": bool(state.get("time_up")),
        "total": total,
        "correct": correct,
        "percent": round(percent, 1),
        "scaled_estimate": scaled,
        "pass_mark": PASS_MARK[exam],
        "method": METHOD,
        "retirement": RETIREMENT_NOTE,
        "note": state.get("note", ""),
        "domains": domains,
        "tasks": tasks,
        "skills": skills,
        "form": state.get("form", ""),
        "missed": missed,
        "flags": [f + 1 for f in state.get("flags", [])],
        "study_next": study_next,
    }


def render_report_head(report: dict[str, Any]) -> str:
    """Render the score, per-domain and per-task results.

    Args:
        report: the report data.

    Returns:
        Plain text.
    """
    exam = report["exam"]
    verdict = "at or above" if report["scaled_estimate"] >= report["pass_mark"] else "below"
    lines = [
        f"Practice exam #{report['exam_id']}: {report['name']}",
        f"Note: {report['retirement']}",
        f"Correct: {report['correct']}/{report['total']} ({report['percent']:.1f}%) in "
        f"{report['elapsed_minutes']:.1f} of {report['minutes']:.0f} minutes"
        + (" (time ran out)" if report.get("time_up") else ""),
        f"Estimated scaled score (ESTIMATE): {report['scaled_estimate']} / 1000 -- {verdict} "
        f"the pass mark of {report['pass_mark']}",
        f"Method: {report['method']}",
    ]
    if report.get("note"):
        lines.append(f"Draw note: {report['note']}")
    lines.append("")
    lines.append("By domain (exam weight):")
    for d in report["domains"]:
        pct = 100.0 * d["correct"] / d["asked"] if d["asked"] else 0.0
        lines.append(
            f"  D{d['domain']} {d['name']} ({d['weight']}%): {d['correct']}/{d['asked']} ({pct:.0f}%)"
        )
    lines.append("By task statement:")
    for t in report["tasks"]:
        pct = 100.0 * t["correct"] / t["asked"]
        lines.append(
            f"  {_prefix(exam)} {t['task']} {t['title']}: {t['correct']}/{t['asked']} ({pct:.0f}%)"
        )
    if report.get("skills"):
        lines.append("By skill (missed at least once; the rest were all right):")
        missed_any = [k for k in report["skills"] if k["correct"] < k["asked"]]
        for k in missed_any:
            new = " NEW" if k["new"] else ""
            lines.append(f"  {k['skill']}{new} {k['text'][:70]}: {k['correct']}/{k['asked']}")
        if not missed_any:
            lines.append("  none missed")
    return "\n".join(lines)


def _prefix(exam: str) -> str:
    # mla-c02 -> C02 (tags carry skills), mla-c01 -> MLA, mls-c01 -> MLS
    return "C02" if exam == "mla-c02" else exam.split("-")[0].upper()


def render_study_next(report: dict[str, Any]) -> str:
    """Render the "study next" list.

    Args:
        report: the report data.

    Returns:
        Plain text.
    """
    prefix = _prefix(report["exam"])
    if not report["study_next"]:
        return "Study next: nothing missed. Keep the review queue going: mllab quiz --review"
    lines = ["Study next (weakest task statements first):"]
    for i, s in enumerate(report["study_next"], start=1):
        labs = (
            ", ".join(s["labs"])
            if s["labs"]
            else "no lab yet: read the refs of the missed questions"
        )
        skills = f" skills {', '.join(s['skills'])};" if s.get("skills") else ""
        lines.append(
            f"  {i}. {prefix} {s['task']} {s['title']} ({s['correct']}/{s['asked']}):{skills} "
            f"labs {labs}; then {s['quiz']}"
        )
    return "\n".join(lines)


def render_missed(
    report: dict[str, Any], bank: Bank, causes: dict[str, str] | None = None
) -> list[str]:
    """Render each missed question with its explanations.

    Args:
        report: the report data.
        bank: the bank.
        causes: known miss causes ``{qid: cause}``.

    Returns:
        One text block per miss.
    """
    blocks = []
    for m in report["missed"]:
        if m["qid"] in bank:
            q = bank.get(m["qid"])
            text = (
                format_question(q, m["index"], report["total"])
                + "\n"
                + format_feedback(q, tuple(m["chosen"]) or None)
            )
        else:
            text = (
                f"Question {m['index']} [{m['qid']}] (no longer in the bank): answer {m['answer']}"
            )
        if causes and m["qid"] in causes:
            text += f"\n  Cause: {causes[m['qid']]}"
        blocks.append(text)
    return blocks


def parse_cause(line: str) -> str | None:
    """Parse a miss-cause reply: ``c``/``concept``, ``m``/``misread``, ``u``/``unknown``.

    Args:
        line: the reply.

    Returns:
        A cause from :data:`mllab.study.store.CAUSES`, or None (skip).
    """
    low = line.strip().lower()
    if not low:
        return None
    for cause in CAUSES:
        if cause.startswith(low) or low == cause[0]:
            return cause
    if low.startswith("u") or low.startswith("s"):
        return "unknown service"
    return None


def run_exam(
    session: ExamSession,
    read_line: ReadLine,
    write: Write,
    clock: Clock,
    wait_for_input: Callable[[float], bool] | None = None,
) -> str:
    """Drive an exam session from line input until it is submitted, paused or input ends.

    Args:
        session: a started or resumed session.
        read_line: returns the next line, or None at end of input.
        write: prints a block of text.
        clock: the clock (read once after every line).
        wait_for_input: for a live terminal: waits up to N seconds and returns False when no
            input arrived (the pace coach then speaks at the three-minute mark).

    Returns:
        ``"submitted"``, ``"quit"`` or ``"eof"``.
    """
    now = datetime.fromtimestamp(float(session.state["last_tick"])).astimezone()
    write(HELP)
    write(session.screen(now))
    pending: str | None = None
    while True:
        if pending is not None:
            line: str | None = pending
            pending = None
        else:
            if wait_for_input is not None and session.current not in session.state["warned"]:
                left = COACH_SECONDS - session.on_screen(clock())
                if left > 0 and not wait_for_input(left):
                    session.state["warned"].append(session.current)
                    write(
                        f"Pace coach: question {session.current + 1} has been on screen three "
                        "minutes. Type f to flag it and n to move on (flagged questions come back "
                        "with r)."
                    )
            line = read_line()
            now = clock()
            session.tick(now)
        if line is None:
            session.save(now)
            write(f"Input ended: exam #{session.exam_id} saved. Continue with: mllab exam --resume")
            return "eof"
        if session.remaining() <= 0:
            session.state["time_up"] = True
            session.save(now)
            write("Time is up: the exam is submitted with the answers given so far.")
            return "submitted"
        if session.overdue(now):
            idx = session.current
            session.state["warned"].append(idx)
            write(
                f"Pace coach: question {idx + 1} was on screen {mmss(session.on_screen(now))}, past "
                "the three-minute rule. Flag it for review and come back later? [y/N]"
            )
            reply = read_line()
            now = clock()
            session.tick(now)
            if reply is None:
                session.save(now)
                write(
                    f"Input ended: exam #{session.exam_id} saved. Continue with: mllab exam --resume"
                )
                return "eof"
            answer = reply.strip().lower()
            if answer in ("y", "yes"):
                if idx not in session.flags:
                    session.toggle_flag(idx)
                write(f"Question {idx + 1} flagged.")
                if line.strip().lower() in ("f", "flag"):
                    session.save(now)
                    continue
            elif answer not in ("", "n", "no"):
                pending = reply  # not a reply to the offer: run it as the next command
        msgs, outcome = session.handle(line, now)
        session.save(now)
        for m in msgs:
            write(m)
        if outcome in ("submit", "quit"):
            if outcome == "quit":
                write(f"Exam #{session.exam_id} saved. Continue with: mllab exam --resume")
            return "submitted" if outcome == "submit" else "quit"
        if outcome == "show":
            write(session.screen(now))


def finish_exam(
    session: ExamSession,
    read_line: ReadLine,
    write: Write,
    clock: Clock,
) -> dict[str, Any]:
    """Grade a submitted exam, print the report and ask the cause of each miss.

    Args:
        session: the submitted session.
        read_line: reads one line per miss (blank or end of input = skip).
        write: prints text.
        clock: the clock.

    Returns:
        The report data.
    """
    now = datetime.fromtimestamp(float(session.state["last_tick"])).astimezone()
    answered = session.answered()
    if answered < session.total:
        write(f"{session.total - answered} unanswered question(s) count as wrong.")
    report = session.grade(now)
    write("")
    write(render_report_head(report))
    if report["missed"]:
        write("")
        write(
            f"Missed questions ({len(report['missed'])}). For each, classify the cause: "
            "c = concept, m = misread, u = unknown service, blank = skip."
        )
    ended = False
    blocks = render_missed(report, session.bank)
    for m, block in zip(report["missed"], blocks, strict=True):
        write("")
        write(block)
        if ended:
            continue
        write(f"Cause of the miss on {m['qid']}? [c/m/u, blank = skip]")
        line = read_line()
        if line is None:
            ended = True
            continue
        cause = parse_cause(line)
        if cause:
            session.store.set_cause(session.exam_id, m["qid"], cause, now)
        elif line.strip():
            write(f"{line.strip()!r} is not c, m or u: skipped.")
    causes = session.store.causes(session.exam_id)
    if causes:
        counts = {c: list(causes.values()).count(c) for c in CAUSES}
        write("")
        write("Causes of misses: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    write("")
    write(render_study_next(report))
    write("")
    write(
        textwrap.fill(
            f"Saved as exam #{report['exam_id']}: see it again with mllab exam --report "
            f"{report['exam_id']}; missed questions are in your review queue (mllab quiz --review).",
            96,
        )
    )
    return report


def render_full_report(report: dict[str, Any], bank: Bank, causes: dict[str, str]) -> str:
    """Render a saved report (``--report ID``).

    Args:
        report: the report data.
        bank: the bank.
        causes: miss causes of this exam.

    Returns:
        Plain text.
    """
    parts = [render_report_head(report)]
    if report["missed"]:
        parts.append(f"Missed questions ({len(report['missed'])}):")
        parts += render_missed(report, bank, causes)
    parts.append(render_study_next(report))
    return "\n\n".join(parts)


def history_lines(store: Store) -> list[str]:
    """List saved exams, one line each.

    Args:
        store: the study store.

    Returns:
        Lines (a header first).
    """
    lines = ["id  exam     started           status    score (ESTIMATE)  correct"]
    for row in store.exams():
        started = datetime.fromtimestamp(row["started"]).strftime("%Y-%m-%d %H:%M")
        rep = row["report"]
        if rep:
            score = f"{rep['scaled_estimate']:>4} (pass {rep['pass_mark']})"
            correct = f"{rep['correct']}/{rep['total']} ({rep['percent']:.0f}%)"
        else:
            score = "-"
            answered = len(row["state"].get("answers", {}))
            correct = f"{answered}/{len(row['state']['qids'])} answered"
        lines.append(
            f"{row['id']:<3} {row['exam']:<8} {started:<17} {row['status']:<9} {score:<17} {correct}"
        )
    return lines
