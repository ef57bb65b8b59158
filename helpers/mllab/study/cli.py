"""Click commands of the study system: ``quiz``, ``exam``, ``audit``, ``plan``, ``progress``, ``bank``.

The project CLI (``mllab.cli``) adds each command in :data:`COMMANDS`. They also run
standalone: ``python -m mllab.study.cli quiz -n 5``.

Input is read line by line from stdin, so every command works piped (one line per question or
rating). Output is plain text; colour appears only on a terminal.

Tests inject a clock through the click context object: ``obj={"clock": fake}`` where ``fake()``
returns an aware ``datetime`` (an object with a ``clock`` attribute works too).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from mllab.study import bank as bank_mod
from mllab.study import report as report_mod
from mllab.study.bank import DEFAULT_EXAM, EXAMS, BankError, load_bank
from mllab.study.store import Store, utcnow

EXAM_CHOICE = click.Choice(list(EXAMS), case_sensitive=False)


def _clock(ctx: click.Context) -> Callable[[], datetime]:
    obj = ctx.find_root().obj if ctx.find_root().obj is not None else ctx.obj
    if isinstance(obj, dict) and callable(obj.get("clock")):
        return obj["clock"]  # type: ignore[no-any-return]
    if obj is not None and callable(getattr(obj, "clock", None)):
        return obj.clock  # type: ignore[no-any-return]
    return utcnow


def _read_line() -> str | None:
    line = sys.stdin.readline()
    if line == "":
        return None
    return line.rstrip("\r\n")


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _write(text: str) -> None:
    click.echo(text)


def _wait_for_input(seconds: float) -> bool:
    """Wait for terminal input up to ``seconds``; False on timeout (POSIX terminals only)."""
    try:
        import select

        ready, _, _ = select.select([sys.stdin], [], [], seconds)
        return bool(ready)
    except (OSError, ValueError, ImportError):
        return True


def _load_bank() -> bank_mod.Bank:
    try:
        return load_bank()
    except BankError as exc:
        raise click.ClickException(str(exc)) from None


def _save_figure(fig: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    fig.savefig(path, dpi=110)
    click.echo(f"Chart written to {path}")


# ----------------------------------------------------------------------------------------


@click.command("quiz")
@click.option(
    "-n",
    "n",
    type=click.IntRange(1),
    default=None,
    help="Number of questions (default 10; --review: all due).",
)
@click.option("--exam", type=EXAM_CHOICE, default=None, help="Only questions tagged for this exam.")
@click.option("--domain", type=click.IntRange(1, 4), default=None, help="Only this domain (1-4).")
@click.option("--task", default=None, help="Only this task statement, e.g. 1.2.")
@click.option("--skill", default=None, help="Only this MLA-C02 skill, e.g. 2.3.8.")
@click.option("--review", is_flag=True, help="Ask the questions due for spaced-repetition review.")
@click.option("--seed", type=int, default=None, help="Seed for the draw and the option order.")
@click.option("--no-shuffle", is_flag=True, help="Show options in bank order (default: shuffled).")
@click.pass_context
def quiz(
    ctx: click.Context,
    n: int | None,
    exam: str | None,
    domain: int | None,
    task: str | None,
    skill: str | None,
    review: bool,
    seed: int | None,
    no_shuffle: bool,
) -> None:
    """Quiz yourself; answers are letters (B, AC, "a, c"); -B strikes option B out."""
    from mllab.study.quiz import describe_filters, run_quiz, select_questions

    clock = _clock(ctx)
    exam = exam.lower() if exam else None
    if task is not None:
        valid = set(bank_mod.TASKS[exam]) if exam else {t for e in EXAMS for t in bank_mod.TASKS[e]}
        if task not in valid:
            raise click.BadParameter(f"{task!r} is not a task statement", param_hint="--task")
    if skill is not None and skill not in bank_mod.SKILLS:
        raise click.BadParameter(
            f"{skill!r} is not an MLA-C02 skill (1.1.1 .. 4.3.9; see mllab bank --coverage)",
            param_hint="--skill",
        )
    bank = _load_bank()
    with Store() as store:
        count = n if n is not None else (None if review else 10)
        qs = select_questions(
            bank,
            count,
            exam,
            domain,
            task,
            review=review,
            seed=seed,
            store=store,
            now=clock(),
            skill=skill,
        )
        if not qs:
            if review:
                click.echo("Nothing is due for review. Score: 0/0")
            else:
                click.echo(f"No questions match {describe_filters(exam, domain, task)}. Score: 0/0")
            return
        run_quiz(
            qs,
            _read_line,
            _write,
            _interactive(),
            store=store,
            source="review" if review else "quiz",
            clock=clock,
            style=click.style,
            shuffle_seed=seed,
            shuffle=not no_shuffle,
        )


@click.command("exam")
@click.option(
    "--exam",
    "exam_code",
    type=EXAM_CHOICE,
    default=None,
    help=f"Exam (default {DEFAULT_EXAM}; legacy: mla-c01, mls-c01; see --list).",
)
@click.option(
    "--form",
    type=click.Choice(["beta", "standard"], case_sensitive=False),
    default=None,
    help="MLA-C02 form: beta (85 questions, 170 min; default) or standard (65; 130 min assumed).",
)
@click.option(
    "--list", "list_exams", is_flag=True, help="List exams, their status, dates and forms."
)
@click.option("--seed", type=int, default=None, help="Seed for the draw (saved with the exam).")
@click.option(
    "--minutes",
    type=click.FloatRange(min=1),
    default=None,
    help="Time allowed (default: the form's; MLA-C02 beta 170, standard 130 assumed).",
)
@click.option(
    "--no-shuffle", is_flag=True, help="Show options in bank order (default: shuffled per exam)."
)
@click.option("--resume", is_flag=True, help="Continue the latest unfinished exam.")
@click.option("--history", is_flag=True, help="List saved exams.")
@click.option("--report", "report_id", type=int, default=None, help="Show the report of exam ID.")
@click.pass_context
def exam(
    ctx: click.Context,
    exam_code: str | None,
    form: str | None,
    list_exams: bool,
    seed: int | None,
    minutes: float | None,
    no_shuffle: bool,
    resume: bool,
    history: bool,
    report_id: int | None,
) -> None:
    """Timed practice exam (shuffled options, -B strikes), pace coach, resumable, report."""
    from mllab.study.catalogue import exam_list_lines
    from mllab.study.exam import (
        ExamSession,
        finish_exam,
        history_lines,
        render_full_report,
        run_exam,
    )

    if list_exams:
        for line in exam_list_lines():
            click.echo(line)
        return
    clock = _clock(ctx)
    code = exam_code.lower() if exam_code else None
    with Store() as store:
        if history:
            for line in history_lines(store):
                click.echo(line)
            return
        if report_id is not None:
            row = store.exam(report_id)
            if row is None:
                raise click.ClickException(f"no exam #{report_id}; see mllab exam --history")
            if not row["report"]:
                raise click.ClickException(
                    f"exam #{report_id} is not finished; continue it with mllab exam --resume"
                )
            bank = load_bank(strict=False)
            click.echo(render_full_report(row["report"], bank, store.causes(report_id)))
            return
        bank = _load_bank()
        if resume:
            row = store.latest_open_exam(code)
            if row is None:
                raise click.ClickException("no unfinished exam to resume; start one with --exam")
            try:
                session = ExamSession.resume(row, bank, store, clock())
            except KeyError as exc:
                raise click.ClickException(f"cannot resume exam #{row['id']}: {exc}") from None
            click.echo(
                f"Resuming exam #{session.exam_id} ({session.exam.upper()}): "
                f"{session.answered()}/{session.total} answered, time paused while away."
            )
        else:
            code = code or DEFAULT_EXAM
            open_row = store.latest_open_exam(code)
            if open_row is not None:
                click.echo(
                    f"(Exam #{open_row['id']} is unfinished; mllab exam --resume continues it.)"
                )
            try:
                session = ExamSession.start(
                    bank,
                    code,
                    store,
                    clock(),
                    seed=seed,
                    minutes=minutes,
                    form=form,
                    shuffle=not no_shuffle,
                )
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(
                f"Practice exam #{session.exam_id}: {bank_mod.EXAM_NAMES[code]}, "
                f"{session.total} questions, {session.state['minutes']:g} minutes "
                f"(form {session.state['form']}, seed {session.state['seed']})."
            )
            if session.state.get("form_note"):
                click.echo(f"Form: {session.state['form_note']}")
            click.echo(f"Note: {bank_mod.RETIREMENT_NOTE}")
            if session.state.get("note"):
                click.echo(f"Draw note: {session.state['note']}")
        interactive = _interactive()
        outcome = run_exam(
            session,
            _read_line,
            _write,
            clock,
            wait_for_input=_wait_for_input if interactive and clock is utcnow else None,
        )
        if outcome == "submitted":
            finish_exam(session, _read_line, _write, clock)


@click.command("audit")
@click.option("--exam", "exam_code", type=EXAM_CHOICE, default=DEFAULT_EXAM, show_default=True)
@click.option(
    "--diagnostic",
    type=click.IntRange(0, 65),
    default=None,
    help="Questions in the diagnostic quiz (0 = none; asked when interactive).",
)
@click.option("--seed", type=int, default=None, help="Seed for the diagnostic draw.")
@click.option(
    "--plot", type=click.Path(dir_okay=False), default=None, help="Save the gap chart (PNG)."
)
@click.option(
    "--skills", is_flag=True, help="MLA-C02: drill down into the skills of the largest gaps."
)
@click.pass_context
def audit(
    ctx: click.Context,
    exam_code: str,
    diagnostic: int | None,
    seed: int | None,
    plot: str | None,
    skills: bool,
) -> None:
    """Knowledge audit: rate yourself 1-5 per task statement; see gaps by exam weight."""
    from mllab.study.audit import gap_chart, run_audit

    clock = _clock(ctx)
    code = exam_code.lower()
    interactive = _interactive()
    if diagnostic is None:
        diagnostic = 0
        if interactive and click.confirm(
            "Take a 10-question diagnostic quiz after rating?", default=False
        ):
            diagnostic = 10
    bank = _load_bank() if diagnostic or skills else None
    with Store() as store:
        result = run_audit(
            code,
            _read_line,
            _write,
            interactive,
            store=store,
            bank=bank,
            diagnostic=diagnostic,
            seed=seed,
            clock=clock,
            skills=skills,
        )
        if plot:
            _save_figure(gap_chart(code, result["gaps"]), plot)


@click.command("plan")
@click.option("--weeks", type=click.IntRange(4, 52), default=14, show_default=True)
@click.option(
    "--hours", type=click.FloatRange(5, 80), default=10.0, show_default=True, help="Hours per week."
)
@click.option(
    "--start", "start", default=None, help="First day, YYYY-MM-DD (default: next Monday)."
)
@click.option("--exam", "exam_code", type=EXAM_CHOICE, default=DEFAULT_EXAM, show_default=True)
@click.option(
    "--ics", type=click.Path(dir_okay=False), default=None, help="Write an iCalendar file."
)
@click.option(
    "--markdown", type=click.Path(dir_okay=False), default=None, help="Write a Markdown file."
)
@click.pass_context
def plan(
    ctx: click.Context,
    weeks: int,
    hours: float,
    start: str | None,
    exam_code: str,
    ics: str | None,
    markdown: str | None,
) -> None:
    """Week-by-week study plan from your latest audit and results."""
    from mllab.study.plan import build_plan

    clock = _clock(ctx)
    try:
        start_day = date.fromisoformat(start) if start else None
    except ValueError:
        raise click.BadParameter(
            f"{start!r} is not a date like 2026-01-05", param_hint="--start"
        ) from None
    bank = load_bank(strict=False)
    with Store() as store:
        p = build_plan(
            exam_code.lower(), weeks, hours, start_day, store=store, bank=bank, today=clock().date()
        )
    click.echo(p.to_text())
    if ics:
        Path(ics).write_text(p.to_ics(now=clock()), encoding="utf-8", newline="")
        click.echo(f"iCalendar written to {ics}")
    if markdown:
        Path(markdown).write_text(p.to_markdown(), encoding="utf-8")
        click.echo(f"Markdown written to {markdown}")


@click.command("progress")
@click.option("--exam", "exam_code", type=EXAM_CHOICE, default=DEFAULT_EXAM, show_default=True)
@click.option(
    "--plot", type=click.Path(dir_okay=False), default=None, help="Save a progress chart (PNG)."
)
@click.pass_context
def progress(ctx: click.Context, exam_code: str, plot: str | None) -> None:
    """Labs passed, accuracy by domain and task, reviews due, readiness."""
    from mllab.study.progress import progress_chart, progress_data, render_progress

    clock = _clock(ctx)
    code = exam_code.lower()
    with Store() as store:
        click.echo(render_progress(progress_data(code, store, clock())))
        if plot:
            _save_figure(progress_chart(code, store, clock()), plot)


def _coverage_lines(b: bank_mod.Bank) -> list[str]:
    from mllab.study.labmap import lab_skills

    practise = lab_skills()
    cov = b.coverage()
    scov = b.skill_coverage()
    lines = ["MLA-C02 coverage by task (target >= 20) and skill (target >= 3); labs practising it:"]
    for t, title in bank_mod.TASKS["mla-c02"].items():
        n = cov["mla-c02"][t]
        multi = sum(1 for q in b if t in q.tasks("mla-c02") and q.multi)
        low = "  <-- below 20" if n < bank_mod.TARGET_PER_TASK else ""
        lines.append(f"  {t:<5} {n:>4} questions ({multi} multi)  {title}{low}")
        for sk, info in bank_mod.SKILLS.items():
            if info.task != t:
                continue
            k = scov[sk]
            new = "NEW" if info.new else "   "
            flag = " <--" if k < bank_mod.TARGET_PER_SKILL else "    "
            labs = ", ".join(practise.get(sk, [])[:3]) or "-"
            lines.append(f"    {sk:<7}{new} {k:>3}{flag} {info.text[:60]:<60} labs: {labs}")
    lines.append("")
    lines.append("Legacy views (tags kept on the original questions):")
    lines.append(f"{'exam':<8} {'task':<5} {'questions':>9} {'multi':>5}  title")
    for exam_code, task, title, count, nmulti in bank_mod.coverage_rows(b):
        if exam_code == "mla-c02":
            continue
        lines.append(f"{exam_code:<8} {task:<5} {count:>9} {nmulti:>5}  {title}")
    from mllab.study.labmap import practice

    lines.append("")
    lines.extend(practice(b).lines())
    gaps = b.target_gaps()
    lines.append("")
    lines.append(
        f"Targets (400 questions, >= 3 per skill, >= 20 per task, >= 10% multi): "
        f"{'met' if not gaps else f'{len(gaps)} gap(s)'}"
    )
    return lines


@click.group("bank", invoke_without_command=True)
@click.option("--coverage", is_flag=True, help="Coverage per C02 task and skill, labs, legacy.")
@click.option("--check", is_flag=True, help="Fail unless the bank meets the project's minimums.")
@click.pass_context
def bank(ctx: click.Context, coverage: bool, check: bool) -> None:
    """Validate the question bank; --coverage prints coverage; `bank report ID` reports an error."""
    if ctx.invoked_subcommand is not None:
        return
    b = _load_bank()
    multi = sum(q.multi for q in b)
    click.echo(
        f"Question bank: {len(b)} questions in {len(b.files)} file(s) "
        f"({', '.join(b.files) or 'none'}); {multi} multiple-response. Valid."
    )
    if coverage:
        click.echo("")
        for line in _coverage_lines(b):
            click.echo(line)
    if check:
        problems = b.requirement_problems()
        if problems:
            raise click.ClickException("bank below the minimums:\n  " + "\n  ".join(problems))
        click.echo("Bank meets the minimums.")


@bank.command("report")
@click.argument("qid")
@click.option("--what", prompt="What is wrong", help="What is wrong, in a sentence or two.")
@click.option(
    "--source",
    prompt="Authoritative AWS source URL",
    help="The docs.aws.amazon.com page that shows what is right (required).",
)
@click.option(
    "--kind",
    type=click.Choice(list(report_mod.KINDS)),
    default="other",
    show_default=True,
    help="What kind of error.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder (default MLLAB_HOME/reports).",
)
@click.pass_context
def bank_report(
    ctx: click.Context, qid: str, what: str, source: str, kind: str, out: str | None
) -> None:
    """Write a structured error report for question QID, to attach to a GitHub issue."""
    from mllab.study.report import ReportError, build_report, write_report

    b = load_bank(strict=False)
    try:
        rep = build_report(b, qid, what, source, kind, now=_clock(ctx)())
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    path = write_report(rep, Path(out) if out else None)
    click.echo(f"Report written to {path}")
    click.echo(
        "Attach it to a new issue with the 'Question error' form (.github/ISSUE_TEMPLATE/"
        "question-error.yml); CONTRIBUTING.md says how it is checked."
    )


COMMANDS: list[click.Command] = [quiz, exam, audit, plan, progress, bank]


@click.group("study")
def study_cli() -> None:
    """Study commands (standalone entry point; the project CLI adds the same commands)."""


for _cmd in COMMANDS:
    study_cli.add_command(_cmd)


if __name__ == "__main__":
    study_cli()
