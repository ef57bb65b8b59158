"""Run a lab notebook headless in a fresh kernel (``mllab run`` and the notebook tests).

:func:`execute` runs every cell with nbclient in a new ``python3`` kernel whose
``$MLLAB_HOME`` is the folder you give (so the ledger and study records of the run are
isolated), stops at the first error, and returns what each cell did: its time, its
``PASS``/``MISS`` lines, and the error if any.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from mllab.checks.core import parse_results
from mllab.workbook.notebook import is_stub_cell, read


@dataclass
class CellRun:
    """What one executed cell did.

    Attributes:
        index: position in the notebook (0-based).
        source: the cell's source.
        seconds: execution time (0 when it did not run).
        text: its text output (streams and ``text/plain`` of displays and results).
        results: ``(verdict, key, detail)`` per PASS/MISS line printed.
        error: ``(ename, evalue, traceback text)`` when it raised.
        stub: the cell holds a learner stub.
    """

    index: int
    source: str
    seconds: float = 0.0
    text: str = ""
    results: list[tuple[str, str, str]] = field(default_factory=list)
    error: tuple[str, str, str] | None = None
    stub: bool = False


@dataclass
class NotebookRun:
    """The outcome of :func:`execute`.

    Attributes:
        path: the notebook run.
        cells: the code cells that ran, in order (the last one is the failing one, if any).
        seconds: wall time of the whole run, kernel start included.
        nb: the executed notebook (with outputs).
        home: the ``$MLLAB_HOME`` of the run.
    """

    path: Path
    cells: list[CellRun]
    seconds: float
    nb: nbformat.NotebookNode
    home: Path

    @property
    def error(self) -> CellRun | None:
        """The first cell that raised, or None."""
        return next((c for c in self.cells if c.error), None)

    @property
    def results(self) -> list[tuple[str, str, str]]:
        """Every PASS/MISS line, in order (a MISS from the failing cell included)."""
        return [r for c in self.cells for r in c.results]

    def describe_error(self) -> str:
        """A readable account of the failing cell: its source and the error."""
        c = self.error
        if c is None:
            return "no error"
        assert c.error is not None
        ename, evalue, tb = c.error
        return (
            f"{self.path.name}: code cell {c.index + 1} raised {ename}: {evalue}\n"
            f"--- cell source ---\n{c.source}\n--- traceback ---\n{tb}"
        )


#: moto's words (and botocore's, through a server) for an action it does not emulate.
_NOT_EMULATED = re.compile(r"The (?P<op>\w+) action has not been implemented")


def not_emulated(ename: str, evalue: str, traceback: str = "", source: str = "") -> str | None:
    """Name the AWS operation the offline plane does not emulate, if that is what an error says.

    moto raises ``NotImplementedError("The update_job action has not been implemented")`` for
    an operation it lacks (a ``ClientError`` carries the same words through moto's server); a
    learner's stub raises a bare ``NotImplementedError()``. moto's words name the operation
    only: the service is read from the code that called it (``glue.update_job(`` and
    ``glue = lab.client("glue")``). Costs nothing.

    Args:
        ename: the error's class name.
        evalue: its message.
        traceback: its traceback text.
        source: the notebook's code (to find which client made the call).

    Returns:
        ``"<service>.<operation>"`` (``"glue.update_job"``), ``"<operation>"`` when the service
        cannot be told, or None when the error is not moto's.
    """
    del ename  # NotImplementedError or ClientError alike: moto's words decide
    m = _NOT_EMULATED.search(evalue) or _NOT_EMULATED.search(traceback)
    if m is None:
        return None
    op = m.group("op")
    text = f"{traceback}\n{source}"
    for var in re.findall(rf"(\w+)\.{op}\(", text):
        client = re.search(rf"\b{var}\s*=\s*[\w.]*client\(\s*[\"']([\w-]+)[\"']", text)
        if client:
            return f"{client.group(1)}.{op}"
    return op


def result_blocks(text: str) -> list[tuple[str, str, str]]:
    """Like :func:`mllab.checks.core.parse_results`, with a multi-line MISS kept whole.

    A MISS message may span lines (a teardown check lists every leftover): the lines after a
    result line, up to the next result line, belong to its detail.

    Args:
        text: a cell's text output.

    Returns:
        ``(verdict, key, detail)`` per result line; ``detail`` holds its continuation lines.
    """
    out: list[tuple[str, str, str]] = []
    extra: list[str] = []
    for line in text.splitlines():
        found = parse_results(line)
        if found:
            if out and extra:
                v, k, d = out[-1]
                out[-1] = (v, k, "\n".join([d, *extra]).strip("\n"))
            extra = []
            out.append(found[0])
        elif out and out[-1][0] == "MISS" and line.strip():
            extra.append(line.rstrip())
    if out and extra:
        v, k, d = out[-1]
        out[-1] = (v, k, "\n".join([d, *extra]).strip("\n"))
    return out


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _cell_text(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("display_data", "execute_result"):
            parts.append(str(out.get("data", {}).get("text/plain", "")) + "\n")
    return "".join(parts)


def _cell_error(cell: Any) -> tuple[str, str, str] | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = _strip_ansi("\n".join(out.get("traceback", [])))
            return str(out.get("ename", "")), str(out.get("evalue", "")), tb
    return None


def _seconds(cell: Any) -> float:
    ex = cell.get("metadata", {}).get("execution", {})
    a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    if not a or not b:
        return 0.0
    try:
        ta = dt.datetime.fromisoformat(a.replace("Z", "+00:00"))
        tb = dt.datetime.fromisoformat(b.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(0.0, (tb - ta).total_seconds())


def kernel_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a lab kernel: this one's, with ``$MLLAB_HOME`` set.

    The backend stays what ``$MLLAB_BACKEND`` says (offline unless set).

    Args:
        home: the run's ``$MLLAB_HOME``.
        extra: more variables.

    Returns:
        The environment.
    """
    env = dict(os.environ)
    env["MLLAB_HOME"] = str(home)
    env.setdefault("MLLAB_BACKEND", "offline")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("JPY_PARENT_PID", None)
    env.update(extra or {})
    return env


def execute(
    path: Path | str,
    *,
    home: Path | str,
    cwd: Path | str | None = None,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
    nb: nbformat.NotebookNode | None = None,
    on_cell: Any = None,
) -> NotebookRun:
    """Run a notebook top to bottom in a fresh kernel, stopping at the first error.

    Args:
        path: the notebook (used for its name, and read unless ``nb`` is given).
        home: ``$MLLAB_HOME`` for the kernel (the ledger of this run lands there).
        cwd: the kernel's working folder (default: ``home``).
        timeout: seconds allowed per cell.
        env: extra environment variables for the kernel.
        nb: the notebook, when already read or changed.
        on_cell: called as ``on_cell(index, cell)`` after each code cell ran (progress).

    Returns:
        The :class:`NotebookRun`. Costs what the lab's cells cost (nothing offline).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = Path(path)
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    work = Path(cwd) if cwd else home
    nb = nb if nb is not None else read(path)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(work)}},
    )
    if on_cell is not None:
        client.on_cell_executed = lambda cell, cell_index, **_: on_cell(cell_index, cell)
    started = time.monotonic()
    stopped: Exception | None = None
    try:
        client.execute(env=kernel_env(home, env), cwd=str(work))
    except (CellExecutionError, CellTimeoutError) as err:
        stopped = err
    seconds = time.monotonic() - started
    cells: list[CellRun] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        ran = cell.get("execution_count") is not None or bool(cell.get("outputs"))
        if not ran and "execution" not in cell.get("metadata", {}):
            continue
        text = _cell_text(cell)
        cell_err = _cell_error(cell)
        results = parse_results(text)
        cells.append(
            CellRun(
                i, cell.source, _seconds(cell), text, results, cell_err, is_stub_cell(cell.source)
            )
        )
        if cell_err:
            break
    if stopped is not None and not any(c.error for c in cells):
        # a timeout (or a dead kernel) leaves no error output: blame the last cell that started
        last = cells[-1] if cells else CellRun(-1, "")
        last.error = (type(stopped).__name__, str(stopped).splitlines()[0][:300], str(stopped))
        if not cells:
            cells.append(last)
    return NotebookRun(path, cells, seconds, nb, home)
