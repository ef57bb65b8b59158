"""``mllab run NN``: execute a lab headless and report each requirement (introduced in lab 00).

Runs the learner copy from ``labs/`` (or the solution with ``--solution``) in a fresh kernel,
prints one line per requirement check (``PASS``/``MISS``) and the time, and exits non-zero
when a check misses or a cell fails. A learner copy stops at its first unfinished task
(``NotImplementedError``): that is reported as "stopped at", exit status 1.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click


@click.command()
@click.argument("lab_ref", metavar="LAB")
@click.option("--solution", is_flag=True, help="Run the solution (solutions/) instead of labs/.")
@click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="Seconds allowed per cell."
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The repository root (default: this checkout, else the working folder).",
)
@click.option(
    "--keep-home",
    is_flag=True,
    help="Record into your $MLLAB_HOME (progress, ledger) instead of a temporary one.",
)
def run(lab_ref: str, solution: bool, timeout: float, root: Path | None, keep_home: bool) -> None:
    """Run a lab headless: LAB is its number ("01") or name; exit 1 on a miss or error."""
    from mllab import config
    from mllab.workbook import find_lab, repo_root
    from mllab.workbook.execute import _cell_text, execute, not_emulated, result_blocks
    from mllab.workbook.notebook import has_solution, read

    base = root or repo_root()
    folder = base / ("solutions" if solution else "labs")
    if not folder.is_dir() and (Path.cwd() / folder.name).is_dir():
        folder = Path.cwd() / folder.name
    try:
        path = find_lab(lab_ref, folder)
    except LookupError as missing:
        raise click.ClickException(str(missing)) from None
    try:  # what the path holds decides, not the flag: `mllab run solutions/01_x.ipynb` too
        is_solution = any(has_solution(c.source) for c in read(path).cells)
    except Exception:  # noqa: BLE001 - unreadable here: execute() words the error
        is_solution = solution
    click.echo(f"Running {path} ({'solution' if is_solution else 'learner copy'}) ...")
    started = time.monotonic()

    def progress(index: int, cell: Any) -> None:
        """Print each check's verdict as its cell finishes (a lab takes a while)."""
        for verdict, key, detail in result_blocks(_cell_text(cell)):
            color = "green" if verdict == "PASS" else "red"
            line = f"{click.style(verdict, fg=color)} {key}"
            click.echo(line + (f": {detail}" if detail else ""))  # every line of a MISS
        click.echo(f"  [cell {index + 1} done, {time.monotonic() - started:.0f}s]", err=True)

    with tempfile.TemporaryDirectory(prefix="mllab-run-") as tmp:
        home = config.home() if keep_home else Path(tmp) / "home"
        result = execute(path, home=home, cwd=Path(tmp), timeout=timeout, on_cell=progress)
    err = result.error
    status = 0
    if err is not None and err.error is not None:
        ename, evalue, tb = err.error
        missing_op = not_emulated(
            ename, evalue, tb, "\n".join(c.source for c in result.nb.cells if c.cell_type == "code")
        )
        if missing_op is not None:
            click.echo(
                f"NOT EMULATED in code cell {err.index + 1}: not emulated offline: {missing_op} "
                "(the offline plane lacks this AWS operation; your code may be right: "
                "report it, or run the lab on AWS)"
            )
        elif ename == "NotImplementedError":
            click.echo(
                f"STOPPED at code cell {err.index + 1}: a task is not done yet "
                "(# YOUR CODE HERE / raise NotImplementedError())"
            )
        elif ename != "CheckFailed":
            click.echo(f"ERROR in code cell {err.index + 1}: {ename}: {evalue}")
            src = err.source.strip().splitlines()
            for line in src[:8]:
                click.echo(f"    {line}")
        status = 1
    # (result.results keeps a MISS's first line; the progress lines above printed it whole)
    passes = sum(1 for v, _, _ in result.results if v == "PASS")
    misses = sum(1 for v, _, _ in result.results if v == "MISS")
    click.echo(
        f"{passes} passed, {misses} missed in {result.seconds:.1f}s"
        + ("" if status == 0 and not misses else " (not complete)")
    )
    sys.exit(1 if status or misses else 0)
