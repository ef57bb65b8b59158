"""Progress and readiness (``mllab progress``; ``progress_chart()`` in any lab notebook).

Progress brings together the lab requirements passed (the latest result of each requirement,
written by the labs' check cells through :func:`mllab.study.store.record_lab_result`), quiz and
exam accuracy per domain and task statement against the exam weights, the reviews due, and a
readiness view: weighted accuracy (each domain's accuracy times its exam weight), the scaled
score it maps to (an ESTIMATE, same method as the practice exam report) and the latest
practice exams.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from mllab.study.audit import skill_results, task_results
from mllab.study.bank import (
    DOMAINS,
    PASS_MARK,
    RETIREMENT_NOTE,
    SKILLS,
    TASKS,
    WEIGHTS,
    attempt_tasks,
    domain_of,
)
from mllab.study.exam import ANCHOR_PERCENT, estimate_scaled
from mllab.study.labmap import lab_skills
from mllab.study.store import Store, utcnow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MIN_ATTEMPTS_PER_TASK = 5
MIN_ANSWERS = 50


def progress_data(
    exam: str = "mla-c02", store: Store | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Collect progress figures.

    Args:
        exam: exam code.
        store: the study store.
        now: the clock (for due reviews).

    Returns:
        A dict with ``labs``, ``domains``, ``tasks``, ``due``, ``scheduled``, ``retired``,
        ``exams`` and ``readiness``.
    """
    st = store or Store()
    now = now or utcnow()
    labs = st.lab_results()
    attempts = st.attempts()
    results = task_results(attempts, exam)
    tasks: list[dict[str, Any]] = []
    for t, title in TASKS[exam].items():
        right, asked = results.get(t, (0, 0))
        reqs = [r for r in labs if t in attempt_tasks(r, exam)]
        tasks.append(
            {
                "task": t,
                "title": title,
                "right": right,
                "asked": asked,
                "accuracy": right / asked if asked else None,
                "labs_passed": sum(r["passed"] for r in reqs),
                "labs_total": len(reqs),
            }
        )
    domains: list[dict[str, Any]] = []
    for d, w in WEIGHTS[exam].items():
        right = asked = 0
        for a in attempts:
            ds = {domain_of(t) for t in attempt_tasks(a, exam)}
            if d in ds:
                asked += 1
                right += int(a["correct"])
        domains.append(
            {
                "domain": d,
                "name": DOMAINS[exam][d],
                "weight": w,
                "right": right,
                "asked": asked,
                "accuracy": right / asked if asked else None,
            }
        )
    with_data = [d for d in domains if d["asked"]]
    weighted = (
        sum(d["accuracy"] * d["weight"] for d in with_data) / sum(d["weight"] for d in with_data)
        if with_data
        else None
    )
    covered = sum(1 for t in tasks if t["asked"] >= MIN_ATTEMPTS_PER_TASK)
    exams = [
        r["report"]
        for r in st.exams()
        if r["status"] == "finished" and r["report"] and r["exam"] == exam
    ]
    estimate = estimate_scaled(100 * weighted, exam) if weighted is not None else None
    total_answers = sum(d["asked"] for d in domains)
    if weighted is None or total_answers < MIN_ANSWERS or covered < len(tasks) / 2:
        verdict = (
            f"Not enough evidence yet: {total_answers} answers, {covered}/{len(tasks)} task "
            f"statements with >= {MIN_ATTEMPTS_PER_TASK} answers. Keep quizzing."
        )
    elif (
        estimate is not None
        and estimate >= PASS_MARK[exam]
        and exams
        and exams[-1]["scaled_estimate"] >= PASS_MARK[exam]
    ):
        verdict = (
            "On track: weighted accuracy and the latest practice exam are above the pass mark."
        )
    elif estimate is not None and estimate >= PASS_MARK[exam]:
        verdict = "Promising: take a timed practice exam to confirm (mllab exam)."
    else:
        weakest = min(with_data, key=lambda d: (d["accuracy"], -d["weight"]))
        verdict = (
            f"Not yet: weighted accuracy is below the {ANCHOR_PERCENT:g}% anchor; weakest "
            f"domain D{weakest['domain']} {weakest['name']}."
        )
    skills: list[dict[str, Any]] = []
    study_next: list[dict[str, Any]] = []
    if exam == "mla-c02":
        sres = skill_results(attempts)
        lab_passed = {(r["lab"], r["requirement"]): r["passed"] for r in labs}
        practise = lab_skills()
        for sk, (right, asked) in sorted(sres.items()):
            skills.append(
                {
                    "skill": sk,
                    "text": SKILLS[sk].text,
                    "right": right,
                    "asked": asked,
                    "accuracy": right / asked,
                }
            )
        weak = sorted(
            (k for k in skills if k["right"] < k["asked"]),
            key=lambda k: (k["accuracy"], -WEIGHTS[exam][domain_of(k["skill"])], -k["asked"]),
        )
        for k in weak[:5]:
            refs = practise.get(k["skill"], [])
            # open requirements first: the ones not yet passed
            refs = sorted(
                refs,
                key=lambda ref: lab_passed.get((ref.split("#")[0], ref.split("#", 1)[-1]), False),
            )
            study_next.append({**k, "labs": refs[:3]})
    return {
        "exam": exam,
        "skills": skills,
        "study_next": study_next,
        "labs": labs,
        "labs_passed": sum(r["passed"] for r in labs),
        "tasks": tasks,
        "domains": domains,
        "due": len(st.due(now)),
        "scheduled": len(st.cards()),
        "retired": len(st.retired()),
        "exams": exams,
        "readiness": {
            "weighted_accuracy": weighted,
            "estimate": estimate,
            "pass_mark": PASS_MARK[exam],
            "covered_tasks": covered,
            "verdict": verdict,
        },
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def render_progress(data: dict[str, Any]) -> str:
    """Render progress as plain text.

    Args:
        data: from :func:`progress_data`.

    Returns:
        The text.
    """
    exam = data["exam"]
    prefix = "C02" if exam == "mla-c02" else exam.split("-")[0].upper()
    lines = [f"Progress for {exam.upper()}", f"Note: {RETIREMENT_NOTE}", ""]
    lines.append(f"Lab requirements passed: {data['labs_passed']}/{len(data['labs'])}")
    for r in data["labs"]:
        mark = "PASS" if r["passed"] else "FAIL"
        detail = f" -- {r['detail']}" if r["detail"] and not r["passed"] else ""
        lines.append(f"  {mark} {r['lab']}#{r['requirement']}{detail}")
    lines.append("")
    lines.append("Accuracy by domain (quizzes and exams) against exam weight:")
    for d in data["domains"]:
        lines.append(
            f"  D{d['domain']} {d['name']} ({d['weight']}%): {d['right']}/{d['asked']} "
            f"({_pct(d['accuracy'])})"
        )
    lines.append("By task statement (answers; lab requirements passed):")
    for t in data["tasks"]:
        lines.append(
            f"  {prefix} {t['task']} {t['title']}: {t['right']}/{t['asked']} ({_pct(t['accuracy'])}); "
            f"labs {t['labs_passed']}/{t['labs_total']}"
        )
    if data.get("skills"):
        lines.append("By skill (answers recorded with C02 skill tags):")
        for k in data["skills"]:
            lines.append(f"  {k['skill']} {k['text'][:70]}: {k['right']}/{k['asked']}")
    if data.get("study_next"):
        lines.append("Study next (weakest skills; lab requirements that practise them):")
        for k in data["study_next"]:
            labs = ", ".join(k["labs"]) or "no lab practises it yet"
            lines.append(
                f"  {k['skill']} ({k['right']}/{k['asked']}): {labs}; "
                f"then mllab quiz --skill {k['skill']}"
            )
    lines.append("")
    lines.append(
        f"Reviews due now: {data['due']} (scheduled {data['scheduled']}, retired {data['retired']})"
        + (" -- mllab quiz --review" if data["due"] else "")
    )
    if data["exams"]:
        lines.append("Practice exams (ESTIMATED scaled score):")
        for r in data["exams"][-5:]:
            lines.append(
                f"  #{r['exam_id']}: {r['scaled_estimate']} (pass {r['pass_mark']}), "
                f"{r['correct']}/{r['total']}"
            )
    rd = data["readiness"]
    lines.append("")
    lines.append(
        f"Readiness: weighted accuracy {_pct(rd['weighted_accuracy'])}; estimated scaled score "
        f"{rd['estimate'] if rd['estimate'] is not None else '-'} (ESTIMATE) vs pass mark "
        f"{rd['pass_mark']}"
    )
    lines.append(f"  {rd['verdict']}")
    return "\n".join(lines)


def progress_chart(
    exam: str = "mla-c02", store: Store | None = None, now: datetime | None = None
) -> Figure:
    """Chart accuracy per domain and task statement against the target (any lab notebook).

    Args:
        exam: exam code.
        store: the study store.
        now: the clock.

    Returns:
        A matplotlib Figure with two panels (domains, with their weights; task statements).
    """
    from matplotlib.figure import Figure

    data = progress_data(exam, store, now)
    fig = Figure(figsize=(11, 4.5))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.2]})
    doms = data["domains"]
    ax1.bar(
        [f"D{d['domain']}\n{d['weight']}%" for d in doms],
        [100 * (d["accuracy"] or 0) for d in doms],
        color="#4e79a7",
    )
    ax1.axhline(
        ANCHOR_PERCENT, color="#e15759", linestyle="--", label=f"{ANCHOR_PERCENT:g}% anchor"
    )
    ax1.set_ylim(0, 100)
    ax1.set_ylabel("accuracy %")
    ax1.set_title("By domain (label: exam weight)", fontsize=10)
    ax1.legend(fontsize=7)
    tasks = data["tasks"]
    ax2.bar(
        [t["task"] for t in tasks],
        [100 * (t["accuracy"] or 0) for t in tasks],
        color=[
            "#59a14f" if (t["accuracy"] or 0) * 100 >= ANCHOR_PERCENT else "#f28e2b" for t in tasks
        ],
    )
    ax2.axhline(ANCHOR_PERCENT, color="#e15759", linestyle="--")
    ax2.set_ylim(0, 100)
    ax2.set_title(
        f"By task statement; labs passed {data['labs_passed']}/{len(data['labs'])}, "
        f"reviews due {data['due']}",
        fontsize=10,
    )
    fig.suptitle(f"{exam.upper()} progress: {data['readiness']['verdict'][:90]}", fontsize=10)
    fig.tight_layout()
    return fig
