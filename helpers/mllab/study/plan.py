"""Week-by-week study plan (``mllab plan``), introduced in lab 00 after the audit.

The plan follows the study story this project grew out of:

* weeks 1-2: the knowledge audit and baseline practice (a quiz per domain);
* focus weeks ordered and sized by weighted gap (weakest domain first; a domain's number of
  focus weeks is proportional to its weighted gap, at least one each when there is room);
* one review day every week, fed by the spaced-repetition queue (``mllab quiz --review``);
* practice exams from about the midpoint, every other week, each followed by a week aimed at
  what it exposed (the "study next" list of its report);
* a light final week (half the hours): consolidation and a final practice exam on day three.

Every week but the last adds up to exactly ``hours``. Sessions fall on fixed weekdays counted
from the start date: study on days 1, 2, 4 and 5, the review day on day 6 and the practice exam
on day 7. The iCalendar export is RFC 5545 text written here (no extra dependency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from mllab.study.audit import current_gaps, domain_gaps, weighted_gaps
from mllab.study.bank import DOMAINS, MINUTES, SKILLS, TASKS, WEIGHTS, Bank, domain_of
from mllab.study.exam import allocate
from mllab.study.labmap import lab_skills
from mllab.study.store import Store

MIN_WEEKS = 4
MIN_HOURS = 5.0
STUDY_DAYS = (0, 1, 3, 4)
REVIEW_DAY = 5
EXAM_DAY = 6
FINAL_EXAM_DAY = 2
RETIREMENT_DATE = date(2026, 3, 31)


@dataclass
class Session:
    """One study session."""

    day: date
    hours: float
    kind: str
    title: str
    tasks: list[str] = field(default_factory=list)


@dataclass
class Week:
    """One week of the plan."""

    number: int
    start: date
    kind: str
    focus: str
    domain: int | None = None
    sessions: list[Session] = field(default_factory=list)

    @property
    def hours(self) -> float:
        """Total hours of the week."""
        return round(sum(s.hours for s in self.sessions), 2)

    def count(self, kind: str) -> int:
        """Number of sessions of a kind."""
        return sum(1 for s in self.sessions if s.kind == kind)


@dataclass
class Plan:
    """A study plan."""

    exam: str
    hours: float
    start: date
    weeks: list[Week]
    notes: list[str]
    domain_order: list[int]

    def to_markdown(self) -> str:
        """Render the plan as Markdown.

        Returns:
            The document.
        """
        prefix = "C02" if self.exam == "mla-c02" else self.exam.split("-")[0].upper()
        lines = [
            f"# Study plan: {self.exam.upper()}, {len(self.weeks)} weeks, {self.hours:g} h/week",
            "",
            f"Starts {self.start.isoformat()}. Focus order (weakest domain first): "
            + ", ".join(f"D{d} {DOMAINS[self.exam][d]}" for d in self.domain_order)
            + ".",
            "",
        ]
        lines += [f"- {n}" for n in self.notes]
        for w in self.weeks:
            lines += [
                "",
                f"## Week {w.number} ({w.start.isoformat()}): {w.focus} ({w.hours:g} h)",
                "",
            ]
            lines += ["| Day | Hours | Kind | What |", "|---|---|---|---|"]
            for s in w.sessions:
                tasks = f" ({prefix} {', '.join(s.tasks)})" if s.tasks else ""
                what = (s.title + tasks).replace("|", "\\|")
                lines.append(
                    f"| {s.day.strftime('%a %Y-%m-%d')} | {s.hours:g} | {s.kind} | {what} |"
                )
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """Render the plan for the terminal.

        Returns:
            Plain text.
        """
        lines = [
            f"Study plan for {self.exam.upper()}: {len(self.weeks)} weeks from "
            f"{self.start.isoformat()}, {self.hours:g} h/week (final week lighter).",
            "Focus order (weakest first): "
            + ", ".join(f"D{d} {DOMAINS[self.exam][d]}" for d in self.domain_order),
        ]
        lines += [f"Note: {n}" for n in self.notes]
        for w in self.weeks:
            lines.append(
                f"Week {w.number:>2} {w.start.isoformat()} [{w.kind}] {w.focus} -- {w.hours:g} h"
            )
            for s in w.sessions:
                lines.append(
                    f"    {s.day.strftime('%a %m-%d')} {s.hours:>4g} h  {s.kind:<13} {s.title}"
                )
        return "\n".join(lines)

    def to_ics(self, now: datetime | None = None) -> str:
        """Render the plan as an RFC 5545 iCalendar (one event per session).

        Sessions start at 18:30 (practice exams and review days at 09:00), floating local
        time, with the session's duration.

        Args:
            now: the DTSTAMP (default: real time).

        Returns:
            The calendar text with CRLF line ends and folded lines.
        """
        stamp = (now or datetime.now(UTC)).astimezone(UTC)
        out = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//aws-ml-labs//mllab study plan//EN",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            f"X-WR-CALNAME:{_ics_escape(self.exam.upper() + ' study plan')}",
        ]
        for w in self.weeks:
            for i, s in enumerate(w.sessions, start=1):
                at = time(9, 0) if s.kind in ("practice-exam", "review", "audit") else time(18, 30)
                start = datetime.combine(s.day, at)
                minutes = int(round(s.hours * 60))
                out += [
                    "BEGIN:VEVENT",
                    f"UID:{self.exam}-{self.start.isoformat()}-w{w.number:02d}-s{i}@aws-ml-labs",
                    f"DTSTAMP:{stamp.strftime('%Y%m%dT%H%M%SZ')}",
                    f"DTSTART:{start.strftime('%Y%m%dT%H%M%S')}",
                    f"DURATION:PT{minutes // 60}H{minutes % 60}M",
                    f"SUMMARY:{_ics_escape(f'W{w.number} {s.kind}: {s.title}')}",
                    f"DESCRIPTION:{_ics_escape(f'Week {w.number}: {w.focus}. {s.title}')}",
                    f"CATEGORIES:{_ics_escape(s.kind)}",
                    "END:VEVENT",
                ]
        out.append("END:VCALENDAR")
        return "".join(_ics_fold(line) + "\r\n" for line in out)


def _ics_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never splitting a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts = []
    current = b""
    limit = 75
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > limit:
            parts.append(current.decode("utf-8"))
            current = b""
            limit = 74
        current += b
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def _split_hours(total: float, n: int) -> list[float]:
    """Split hours into ``n`` half-hour multiples that add up to ``total``."""
    if n <= 0:
        return []
    halves = int(round(total * 2))
    base, extra = divmod(halves, n)
    return [(base + (1 if i < extra else 0)) / 2 for i in range(n)]


def next_monday(today: date) -> date:
    """Return today if it is a Monday, else the next Monday."""
    return today + timedelta(days=(7 - today.weekday()) % 7)


def build_plan(
    exam: str = "mla-c02",
    weeks: int = 14,
    hours: float = 10.0,
    start: date | None = None,
    store: Store | None = None,
    bank: Bank | None = None,
    gaps: dict[str, float] | None = None,
    today: date | None = None,
) -> Plan:
    """Build a week-by-week plan from the latest audit and results (lab 00).

    Args:
        exam: exam code.
        weeks: number of weeks (>= 4).
        hours: hours per week (>= 5); the final week gets half.
        start: first day (default: next Monday).
        store: the study store (audit, results and review queue).
        bank: the question bank, for lab pointers (optional).
        gaps: ``{task: gap}`` to plan from instead of the store.
        today: today's date (for the default start).

    Returns:
        The plan.

    Raises:
        ValueError: too few weeks or hours.
    """
    if weeks < MIN_WEEKS:
        raise ValueError(f"a plan needs at least {MIN_WEEKS} weeks (got {weeks})")
    if hours < MIN_HOURS:
        raise ValueError(
            f"a plan needs at least {MIN_HOURS:g} hours a week (a practice exam alone takes "
            f"{MINUTES[exam] / 60:.1f} h); got {hours:g}"
        )
    hours = round(hours * 2) / 2
    st = store or Store()
    start = start or next_monday(today or date.today())
    notes: list[str] = []
    if gaps is None:
        gaps, note = current_gaps(exam, st)
        notes.append(note)
    wg = weighted_gaps(exam, gaps)
    dg = domain_gaps(exam, gaps)
    order = sorted(dg, key=lambda d: (-dg[d], -WEIGHTS[exam][d], d))
    prefix = "C02" if exam == "mla-c02" else exam.split("-")[0].upper()

    def tasks_of(d: int) -> list[str]:
        return sorted((t for t in TASKS[exam] if domain_of(t) == d), key=lambda t: (-wg[t], t))

    practise = lab_skills() if exam == "mla-c02" else {}

    def task_title(t: str) -> str:
        labs = bank.labs_for(exam, t) if bank is not None else []
        reqs = [ref for sk in SKILLS if sk.startswith(t + ".") for ref in practise.get(sk, [])]
        if reqs:
            labs = list(dict.fromkeys(reqs))[:2]
        lab = f"lab {', '.join(labs[:2])}" if labs else "the labs tagged with it"
        return (
            f"{prefix} {t} {TASKS[exam][t]}: {lab}, then mllab quiz --exam {exam} --task {t} -n 10"
        )

    mid = max(3, math.ceil(weeks / 2))
    exam_weeks = list(range(mid, weeks, 2))
    follow_up = {e + 1: n for n, e in enumerate(exam_weeks, start=1) if e + 1 < weeks}
    focus_weeks = [w for w in range(3, weeks) if w not in follow_up]
    if len(focus_weeks) >= len(order):
        raw = allocate(len(focus_weeks) - len(order), {d: max(int(dg[d] * 1000), 1) for d in order})
        sizes = {d: raw[d] + 1 for d in order}
    else:
        sizes = {d: (1 if i < len(focus_weeks) else 0) for i, d in enumerate(order)}
        skipped = [f"D{d}" for d in order if sizes[d] == 0]
        notes.append(
            f"Only {len(focus_weeks)} focus weeks: {', '.join(skipped)} get no focus week of "
            "their own; cover them on review days and in practice-exam follow-ups."
        )
    focus_domain: dict[int, int] = {}
    it = iter(focus_weeks)
    for d in order:
        for _ in range(sizes[d]):
            focus_domain[next(it)] = d
    weakest_all = sorted(wg, key=lambda t: (-wg[t], t))

    exam_hours = round(MINUTES[exam] / 60 * 2) / 2
    plan_weeks: list[Week] = []
    task_cursor: dict[int, int] = dict.fromkeys(order, 0)
    for n in range(1, weeks + 1):
        wstart = start + timedelta(days=7 * (n - 1))
        final = n == weeks
        budget = hours / 2 if final else hours
        review_h = max(1.0, round(budget * 0.15 * 2) / 2)
        if final:
            budget = max(round(hours / 2 * 2) / 2, exam_hours + review_h + 0.5)
        review_day = wstart + timedelta(days=REVIEW_DAY)
        due = st.due_by(datetime.combine(review_day, time(23, 59)).astimezone())
        review = Session(
            review_day,
            review_h,
            "review",
            f"Review day: mllab quiz --review ({due} due by then in your queue as of today, plus "
            "this week's misses)",
        )
        sessions: list[Session] = []
        items: list[tuple[str, str, list[str]]]
        if n in (1, 2):
            kind = "audit"
            if n == 1:
                focus = "Knowledge audit and baseline practice"
                items = [
                    (
                        "audit",
                        "Lab 00: set up, then the knowledge audit: mllab audit --exam "
                        f"{exam} --diagnostic 10",
                        [],
                    ),
                    (
                        "practice",
                        f"Baseline quiz D{order[0]}: mllab quiz --exam {exam} --domain {order[0]} -n 15",
                        [],
                    ),
                    (
                        "practice",
                        f"Baseline quiz D{order[1]}: mllab quiz --exam {exam} --domain {order[1]} -n 15",
                        [],
                    ),
                    (
                        "study",
                        "Read the exam guide; map your audit gaps to the labs (mllab plan)",
                        [],
                    ),
                ]
            else:
                focus = "Baseline practice and a first look at the weakest domain"
                items = [
                    (
                        "practice",
                        f"Baseline quiz D{order[2]}: mllab quiz --exam {exam} --domain {order[2]} -n 15",
                        [],
                    ),
                    (
                        "practice",
                        f"Baseline quiz D{order[3]}: mllab quiz --exam {exam} --domain {order[3]} -n 15",
                        [],
                    ),
                    (
                        "audit",
                        f"Re-rate after the baseline: mllab audit --exam {exam}; mllab plan",
                        [],
                    ),
                    ("study", task_title(tasks_of(order[0])[0]), [tasks_of(order[0])[0]]),
                ]
            study = [
                Session(wstart + timedelta(days=STUDY_DAYS[i]), 0, k, t, ts)
                for i, (k, t, ts) in enumerate(items)
            ]
            sessions = study
            domain = None
        elif final:
            kind = "final"
            focus = "Light final week: consolidate, final practice exam on day three"
            fe = Session(
                wstart + timedelta(days=FINAL_EXAM_DAY),
                exam_hours,
                "practice-exam",
                f"Final practice exam: mllab exam --exam {exam}",
            )
            sessions = [
                Session(
                    wstart,
                    0,
                    "study",
                    "Go over your notes and diagrams; no new material"
                    + (f"; follow up practice exam {follow_up[n]}" if n in follow_up else ""),
                    [],
                ),
                fe,
            ]
            domain = None
        elif n in follow_up:
            kind = "exam-follow-up"
            k = follow_up[n]
            focus = f"Aimed at what practice exam {k} exposed"
            tentative = [weakest_all[(3 * (k - 1) + i) % len(weakest_all)] for i in range(3)]
            items = [
                (
                    "study",
                    f"Go through practice exam {k}'s report: mllab exam --history, then "
                    "--report ID; classify every miss",
                    [],
                ),
            ] + [
                (
                    "study",
                    task_title(t) + " (tentative: replace with the report's study-next list)",
                    [t],
                )
                for t in tentative
            ]
            sessions = [
                Session(wstart + timedelta(days=STUDY_DAYS[i]), 0, kk, t, ts)
                for i, (kk, t, ts) in enumerate(items[: len(STUDY_DAYS)])
            ]
            domain = None
        else:
            kind = "focus"
            d = focus_domain[n]
            domain = d
            focus = f"Focus D{d} {DOMAINS[exam][d]} ({WEIGHTS[exam][d]}% of the exam)"
            tl = tasks_of(d)
            nslots = len(STUDY_DAYS) if n not in exam_weeks else 2
            chosen = []
            for _ in range(nslots):
                t = tl[task_cursor[d] % len(tl)]
                task_cursor[d] += 1
                chosen.append(t)
            sessions = [
                Session(wstart + timedelta(days=STUDY_DAYS[i]), 0, "study", task_title(t), [t])
                for i, t in enumerate(chosen)
            ]
        fixed = review_h
        if n in exam_weeks:
            num = exam_weeks.index(n) + 1
            sessions.append(
                Session(
                    wstart + timedelta(days=EXAM_DAY),
                    exam_hours,
                    "practice-exam",
                    f"Practice exam {num}: mllab exam --exam {exam} (then classify misses)",
                )
            )
            fixed += exam_hours
            if kind == "focus":
                focus += f"; practice exam {num} at the end"
        if final:
            fixed += exam_hours
        flexible = [s for s in sessions if s.kind != "practice-exam"]
        for s, h in zip(flexible, _split_hours(budget - fixed, len(flexible)), strict=True):
            s.hours = h
        sessions = [s for s in sessions if s.hours > 0]
        sessions.append(review)
        sessions.sort(key=lambda s: s.day)
        plan_weeks.append(Week(n, wstart, kind, focus, domain, sessions))
    if exam_weeks:
        notes.append(
            f"Practice exams at the end of week(s) {', '.join(map(str, exam_weeks))} and on day "
            f"three of week {weeks}; the week after each is aimed at what it exposed."
        )
    end = start + timedelta(days=7 * weeks - 1)
    if exam == "mla-c01":
        notes.append(
            "MLA-C01 ended in English on 2026-09-28 (Japanese, Korean and Simplified Chinese "
            "until MLA-C02's standard release); plan with --exam mla-c02 unless you sit it in one "
            "of those languages."
        )
    if exam == "mls-c01" and end >= RETIREMENT_DATE:
        notes.append(
            f"This plan ends {end.isoformat()}; MLS-C01 is reported retired on "
            f"{RETIREMENT_DATE.isoformat()} (third-party sources) and MLA-C01 is its successor: "
            "check you can still book it, or plan with --exam mla-c01."
        )
    return Plan(exam, hours, start, plan_weeks, notes, order)
