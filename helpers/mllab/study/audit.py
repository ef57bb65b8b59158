"""Knowledge audit (``mllab audit`` and lab 00's widget form): where are your gaps?

You rate yourself 1-5 on every task statement of the chosen exam (1 = new to me, 5 = I could
teach it) and, optionally, take a short diagnostic quiz. A task's gap is between 0 and 1:

* self-rating gap = (5 - rating) / 4;
* result gap = 1 - accuracy on that task's questions (diagnostic quiz, or all quizzes and
  exams when planning);
* with both, the gap is their mean; with neither, 0.5 (an even gap).

Gaps are then weighted by the domain's exam weight (weighted gap = gap x weight / 100), so a
gap in MLS-C01 Modeling (36%) counts almost twice as much as one in Data Engineering (20%).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mllab.study.bank import (
    C02_FROM_C01,
    DOMAINS,
    SKILLS,
    TASKS,
    WEIGHTS,
    Bank,
    Question,
    attempt_tasks,
    domain_of,
)
from mllab.study.exam import allocate
from mllab.study.quiz import run_quiz
from mllab.study.store import Store, utcnow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EVEN_GAP = 0.5
RATING_HELP = (
    "1 = new to me, 2 = heard of it, 3 = could use it with docs, 4 = confident, 5 = could teach it"
)

Results = dict[str, tuple[int, int]]


def task_results(attempts: Sequence[dict[str, Any]], exam: str) -> Results:
    """Count right/asked per task statement from stored attempts.

    Args:
        attempts: rows from :meth:`Store.attempts`.
        exam: exam code (which tags to use).

    Returns:
        ``{task: (right, asked)}`` for tasks with at least one attempt.
    """
    out: dict[str, list[int]] = {}
    for a in attempts:
        for t in attempt_tasks(a, exam):
            cell = out.setdefault(t, [0, 0])
            cell[0] += int(a["correct"])
            cell[1] += 1
    return {t: (v[0], v[1]) for t, v in out.items()}


def skill_results(attempts: Sequence[dict[str, Any]]) -> Results:
    """Count right/asked per MLA-C02 skill (attempts stored with ``mla2`` tags only).

    Args:
        attempts: rows from :meth:`Store.attempts` (or dicts with ``mla2`` and ``correct``).

    Returns:
        ``{skill: (right, asked)}`` for skills with at least one attempt.
    """
    out: dict[str, list[int]] = {}
    for a in attempts:
        for sk in a.get("mla2") or []:
            if sk in SKILLS:
                cell = out.setdefault(sk, [0, 0])
                cell[0] += int(a["correct"])
                cell[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def task_gaps(
    exam: str,
    ratings: dict[str, int | None] | None = None,
    results: Results | None = None,
) -> dict[str, float]:
    """Compute every task statement's gap (0 = none, 1 = all gap).

    Args:
        exam: exam code.
        ratings: self-ratings ``{task: 1-5 or None}``.
        results: ``{task: (right, asked)}``.

    Returns:
        ``{task: gap}`` for every task statement of the exam.
    """
    gaps = {}
    for t in TASKS[exam]:
        parts = []
        r = (ratings or {}).get(t)
        if r is not None:
            parts.append((5 - int(r)) / 4)
        res = (results or {}).get(t)
        if res and res[1] > 0:
            parts.append(1 - res[0] / res[1])
        gaps[t] = sum(parts) / len(parts) if parts else EVEN_GAP
    return gaps


def weighted_gaps(exam: str, gaps: dict[str, float]) -> dict[str, float]:
    """Weight task gaps by their domain's exam weight.

    Args:
        exam: exam code.
        gaps: ``{task: gap}``.

    Returns:
        ``{task: gap x weight / 100}``.
    """
    return {t: g * WEIGHTS[exam][domain_of(t)] / 100 for t, g in gaps.items()}


def domain_gaps(exam: str, gaps: dict[str, float]) -> dict[int, float]:
    """Weighted gap per domain: mean task gap x domain weight / 100.

    Args:
        exam: exam code.
        gaps: ``{task: gap}``.

    Returns:
        ``{domain: weighted gap}``.
    """
    out = {}
    for d, w in WEIGHTS[exam].items():
        vals = [g for t, g in gaps.items() if domain_of(t) == d]
        out[d] = (sum(vals) / len(vals) if vals else EVEN_GAP) * w / 100
    return out


def current_gaps(
    exam: str, store: Store | None = None, use_results: bool = True
) -> tuple[dict[str, float], str]:
    """Gaps from the latest audit and (optionally) all stored results.

    Args:
        exam: exam code.
        store: the study store.
        use_results: also use quiz and exam accuracy.

    Returns:
        ``(gaps, note)`` where the note says what the gaps rest on.
    """
    st = store or Store()
    audit = st.latest_audit(exam)
    mapped = ""
    if audit is None and exam == "mla-c02":
        old = st.latest_audit("mla-c01")
        if old is not None:  # AWS maps C01 tasks one to one onto C02 tasks
            audit = {
                **old,
                "ratings": {
                    C02_FROM_C01[t]: r for t, r in old["ratings"].items() if t in C02_FROM_C01
                },
            }
            mapped = " (an MLA-C01 audit, read through AWS's one-to-one task mapping)"
    results = task_results(st.attempts(), exam) if use_results else {}
    if audit is None and not results:
        note = (
            "No audit found: every task statement gets the same gap, so the order follows the "
            "exam's domain weights. Run `mllab audit` to plan by your own gaps."
        )
        return task_gaps(exam), note
    ratings = audit["ratings"] if audit else None
    parts = []
    if audit:
        when = datetime.fromtimestamp(audit["ts"]).strftime("%Y-%m-%d")
        parts.append(f"audit #{audit['id']} of {when}{mapped}")
    else:
        parts.append("no audit (run `mllab audit`; until then unrated tasks get an even gap)")
    if results:
        parts.append(f"{sum(v[1] for v in results.values())} answered question tags")
    return task_gaps(exam, ratings, results), "Gaps from " + " and ".join(parts) + "."


def gap_chart(
    exam: str = "mla-c02",
    gaps: dict[str, float] | None = None,
    store: Store | None = None,
) -> Figure:
    """Bar chart of weighted gaps per task statement (lab 00).

    Args:
        exam: exam code.
        gaps: ``{task: gap}``; default: from the latest audit and results.
        store: the study store (when ``gaps`` is None).

    Returns:
        A matplotlib Figure (not shown; display it or ``savefig`` it).
    """
    from matplotlib.figure import Figure

    note = ""
    if gaps is None:
        gaps, note = current_gaps(exam, store)
    wg = weighted_gaps(exam, gaps)
    tasks = list(TASKS[exam])
    colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"]
    fig = Figure(figsize=(10, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(
        range(len(tasks)),
        [wg[t] for t in tasks],
        color=[colours[domain_of(t) - 1] for t in tasks],
    )
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels(tasks)
    ax.set_xlabel("task statement (colour = domain)")
    ax.set_ylabel("gap x domain weight")
    title = f"{exam.upper()} knowledge gaps, weighted by domain exam weight"
    ax.set_title(title + (f"\n{note}" if note and len(note) < 110 else ""), fontsize=10)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=colours[d - 1], label=f"D{d} {DOMAINS[exam][d]} ({w}%)")
            for d, w in WEIGHTS[exam].items()
        ],
        fontsize=7,
        loc="upper right",
    )
    fig.tight_layout()
    return fig


def diagnostic_questions(bank: Bank, exam: str, n: int, seed: int | None = None) -> list[Question]:
    """Draw a short diagnostic quiz spread over the domains by weight.

    Args:
        bank: the bank.
        exam: exam code.
        n: number of questions.
        seed: random seed.

    Returns:
        The questions.
    """
    import random

    rng = random.Random(seed)
    out: list[Question] = []
    for d, k in allocate(n, WEIGHTS[exam]).items():
        pool = bank.select(exam=exam, domain=d)
        pool = [q for q in pool if q.domain(exam) == d] or pool
        out += rng.sample(pool, min(k, len(pool)))
    rng.shuffle(out)
    return out


def gap_table(
    exam: str, gaps: dict[str, float], ratings: dict[str, int | None] | None = None
) -> str:
    """Render gaps as text, largest weighted gap first.

    Args:
        exam: exam code.
        gaps: ``{task: gap}``.
        ratings: self-ratings to show.

    Returns:
        Plain text.
    """
    wg = weighted_gaps(exam, gaps)
    prefix = "C02" if exam == "mla-c02" else exam.split("-")[0].upper()
    lines = ["Domain gaps (mean gap x exam weight), largest first:"]
    dg = domain_gaps(exam, gaps)
    for d in sorted(dg, key=lambda d: -dg[d]):
        lines.append(f"  D{d} {DOMAINS[exam][d]} ({WEIGHTS[exam][d]}%): {dg[d]:.3f}")
    lines.append("Task statements, largest weighted gap first:")
    for t in sorted(wg, key=lambda t: (-wg[t], t)):
        r = (ratings or {}).get(t)
        rated = f"rated {r}" if r is not None else "unrated"
        lines.append(
            f"  {prefix} {t} {TASKS[exam][t]}: gap {gaps[t]:.2f}, weighted {wg[t]:.3f} ({rated})"
        )
    return "\n".join(lines)


def skill_table(
    attempts: Sequence[dict[str, Any]],
    tasks: Sequence[str] | None = None,
    bank: Bank | None = None,
) -> str:
    """Render the MLA-C02 skill drill-down: per skill, answers so far and bank questions.

    Args:
        attempts: stored attempts (only those with ``mla2`` tags count per skill).
        tasks: only these task statements (default: all 12), e.g. the largest gaps.
        bank: the bank, to show how many questions practise each skill.

    Returns:
        Plain text; NEW marks skills new in MLA-C02.
    """
    res = skill_results(attempts)
    cov = bank.skill_coverage() if bank is not None else {}
    lines = ["Skill drill-down (C02 skills; answers right/asked; bank questions):"]
    for t in tasks or list(TASKS["mla-c02"]):
        lines.append(f"  {t} {TASKS['mla-c02'][t]}")
        for sk, info in SKILLS.items():
            if info.task != t:
                continue
            right, asked = res.get(sk, (0, 0))
            score = f"{right}/{asked}" if asked else "not practised"
            qs = f"; {cov.get(sk, 0)} questions" if bank is not None else ""
            new = " NEW" if info.new else ""
            lines.append(f"    {sk}{new} {info.text[:72]}: {score}{qs}")
    return "\n".join(lines)


def parse_rating(line: str) -> int | None:
    """Parse a 1-5 rating.

    Args:
        line: the reply.

    Returns:
        The rating, or None when not 1-5.
    """
    s = line.strip()
    return int(s) if s in {"1", "2", "3", "4", "5"} else None


def run_audit(
    exam: str,
    read_line: Callable[[], str | None],
    write: Callable[[str], None],
    interactive: bool,
    store: Store | None = None,
    bank: Bank | None = None,
    diagnostic: int = 0,
    seed: int | None = None,
    clock: Callable[[], datetime] = utcnow,
    skills: bool = False,
) -> dict[str, Any]:
    """Run the audit dialogue: a rating per task statement, then an optional diagnostic quiz.

    Piped input gives one line per task statement (blank = skip; an invalid line is skipped
    with a message), then one line per diagnostic question.

    Args:
        exam: exam code.
        read_line: next input line or None at end.
        write: prints text.
        interactive: re-ask invalid ratings when True.
        store: the study store.
        bank: the bank (needed for the diagnostic).
        diagnostic: number of diagnostic questions (0 = none).
        seed: seed for the diagnostic draw.
        clock: the clock.
        skills: MLA-C02 only: print the skill drill-down of the four largest gaps.

    Returns:
        ``{"id", "ratings", "diagnostic", "gaps"}``.
    """
    st = store or Store()
    prefix = "C02" if exam == "mla-c02" else exam.split("-")[0].upper()
    write(
        f"Knowledge audit for {exam.upper()}: rate each task statement ({RATING_HELP}); blank = skip."
    )
    ratings: dict[str, int | None] = {}
    ended = False
    for t, title in TASKS[exam].items():
        if ended:
            ratings[t] = None
            continue
        while True:
            write(f"{prefix} {t} {title} [1-5]:")
            line = read_line()
            if line is None:
                ended = True
                ratings[t] = None
                break
            r = parse_rating(line)
            if r is not None or not line.strip():
                ratings[t] = r
                break
            if interactive:
                write("Type a number from 1 to 5, or leave it blank.")
                continue
            write(f"{line.strip()!r} is not 1-5: {t} left unrated.")
            ratings[t] = None
            break
    results: Results = {}
    if diagnostic > 0 and bank is not None and not ended:
        qs = diagnostic_questions(bank, exam, diagnostic, seed)
        write("")
        write(f"Diagnostic quiz: {len(qs)} questions spread by domain weight.")
        res = run_quiz(qs, read_line, write, interactive, store=st, source="audit", clock=clock)
        diag_attempts = [
            {
                "mls": list(bank.get(qid).mls),
                "mla": list(bank.get(qid).mla),
                "mla2": list(bank.get(qid).mla2),
                "correct": ok,
            }
            for qid, _, ok in res.answers
        ]
        results = task_results(diag_attempts, exam)
    unrated = [t for t, r in ratings.items() if r is None]
    audit_id = st.save_audit(exam, ratings, {t: list(v) for t, v in results.items()}, now=clock())
    gaps = task_gaps(exam, ratings, results)
    write("")
    write(f"Audit #{audit_id} saved.")
    if unrated:
        write(
            f"Unrated ({len(unrated)}): {', '.join(unrated)} -- they get an even gap of {EVEN_GAP}."
        )
    write(gap_table(exam, gaps, ratings))
    if skills and exam == "mla-c02":
        wg = weighted_gaps(exam, gaps)
        top = sorted(wg, key=lambda t: (-wg[t], t))[:4]
        write("")
        write(skill_table(st.attempts(), top, bank))
    write("Next: mllab plan --exam " + exam + " (builds your week-by-week plan from this audit)")
    return {"id": audit_id, "ratings": ratings, "diagnostic": results, "gaps": gaps}
