"""Generate the learner notebooks in ``labs/`` from ``solutions/`` (``make labs``).

Usage::

    python -m mllab.workbook.generate solutions labs          # write labs/
    python -m mllab.workbook.generate solutions labs --check  # exit 1 if labs/ is stale

Every ``solutions/NN_name.ipynb`` gives ``labs/NN_name.ipynb`` (see
:func:`mllab.workbook.notebook.learner_copy`); learner notebooks whose solution is gone are
deleted. The output is byte-identical on every run, so ``--check`` compares bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mllab.workbook.notebook import dumps, learner_copy, read

#: What a lab's file name looks like: two digits, an underscore, a name.
LAB_FILE = re.compile(r"^\d{2}_[A-Za-z0-9_\-]+\.ipynb$")


@dataclass(frozen=True)
class Change:
    """One learner file that differs from what generation gives."""

    path: Path
    action: str  # "create", "update" or "delete"


def lab_sources(solutions: Path) -> list[Path]:
    """Return the lab sources in a folder, sorted (``NN_name.ipynb`` only).

    Args:
        solutions: the ``solutions/`` folder (may be missing).

    Returns:
        The notebooks.
    """
    if not solutions.is_dir():
        return []
    return sorted(p for p in solutions.iterdir() if LAB_FILE.match(p.name))


def render(source: Path) -> str:
    """Return the learner copy of one solution notebook as the text written to ``labs/``.

    Args:
        source: the solution notebook.

    Returns:
        The JSON text.
    """
    return dumps(learner_copy(read(source), where=str(source)))


def plan(solutions: Path, labs: Path) -> tuple[dict[Path, str], list[Change]]:
    """Compute the learner files and how ``labs/`` differs from them.

    Args:
        solutions: the sources folder.
        labs: the learner folder.

    Returns:
        The wanted text per learner path, and the changes needed.
    """
    wanted = {labs / src.name: render(src) for src in lab_sources(solutions)}
    changes: list[Change] = []
    for path, text in wanted.items():
        if not path.exists():
            changes.append(Change(path, "create"))
        elif path.read_text(encoding="utf-8") != text:
            changes.append(Change(path, "update"))
    if labs.is_dir():
        for path in sorted(labs.iterdir()):
            if LAB_FILE.match(path.name) and path not in wanted:
                changes.append(Change(path, "delete"))
    return wanted, changes


def generate(solutions: Path, labs: Path) -> list[Change]:
    """Write ``labs/`` from ``solutions/``.

    Args:
        solutions: the sources folder.
        labs: the learner folder (created when missing).

    Returns:
        The changes made (empty when everything was up to date).
    """
    wanted, changes = plan(solutions, labs)
    labs.mkdir(parents=True, exist_ok=True)
    for ch in changes:
        if ch.action == "delete":
            ch.path.unlink()
        else:
            ch.path.write_text(wanted[ch.path], encoding="utf-8", newline="\n")
    return changes


def main(argv: list[str] | None = None) -> int:
    """Command line entry point.

    Args:
        argv: arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 1 when ``--check`` finds ``labs/`` out of date (or markers are bad).
    """
    parser = argparse.ArgumentParser(
        prog="python -m mllab.workbook.generate",
        description="Generate the learner notebooks (labs/) from the lab sources (solutions/).",
    )
    parser.add_argument("solutions", type=Path, nargs="?", default=Path("solutions"))
    parser.add_argument("labs", type=Path, nargs="?", default=Path("labs"))
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if labs/ is out of date"
    )
    args = parser.parse_args(argv)
    from mllab.workbook.notebook import MarkerError

    try:
        if args.check:
            _, changes = plan(args.solutions, args.labs)
            if changes:
                print(f"{args.labs}/ is out of date with {args.solutions}/; run `make labs`:")
                for ch in changes:
                    print(f"  {ch.action:<7} {ch.path}")
                return 1
            print(f"{args.labs}/ is up to date ({len(lab_sources(args.solutions))} labs).")
            return 0
        changes = generate(args.solutions, args.labs)
    except MarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for ch in changes:
        print(f"{ch.action:<7} {ch.path}")
    n = len(lab_sources(args.solutions))
    print(f"{n} lab(s); {len(changes)} file(s) changed.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
