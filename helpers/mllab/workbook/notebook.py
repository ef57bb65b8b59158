"""Solution markers and the learner copy of a lab notebook (used by ``make labs``).

A lab's only hand-edited form is ``solutions/NN_name.ipynb``. In code cells the solution sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines; in markdown cells between
``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``. :func:`learner_copy` turns a solution
notebook into the learner's: each code block becomes a stub at the block's indentation::

    # YOUR CODE HERE
    raise NotImplementedError()

markdown blocks are removed, outputs and execution counts cleared, metadata trimmed, and cell
ids kept from the solution (so a learner copy is byte-identical on every run).
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import nbformat

BEGIN_CODE = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\s*$")
END_CODE = re.compile(r"^[ \t]*###\s*END SOLUTION\s*$")
BEGIN_MD = "<!-- BEGIN SOLUTION -->"
END_MD = "<!-- END SOLUTION -->"
STUB_COMMENT = "# YOUR CODE HERE"
STUB_RAISE = "raise NotImplementedError()"

#: Cell metadata keys kept in committed notebooks (everything else is editor noise).
KEEP_CELL_METADATA = ("tags", "editable", "deletable", "mllab")
#: Notebook metadata keys kept in committed notebooks.
KEEP_NB_METADATA = ("kernelspec", "language_info", "mllab")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class MarkerError(ValueError):
    """A solution marker is unbalanced (a BEGIN without END, an END without BEGIN)."""


@dataclass(frozen=True)
class Block:
    """One solution block in a code cell.

    Attributes:
        start: index of the ``### BEGIN SOLUTION`` line.
        end: index of the ``### END SOLUTION`` line.
        indent: the BEGIN line's indentation (the stub's).
        lines: the solution lines between the markers.
    """

    start: int
    end: int
    indent: str
    lines: tuple[str, ...]


def solution_blocks(source: str, where: str = "cell") -> list[Block]:
    """Find the solution blocks of a code cell's source.

    Args:
        source: the cell's source.
        where: a label for error messages, e.g. ``"solutions/01_x.ipynb cell 7"``.

    Returns:
        The blocks, in order.

    Raises:
        MarkerError: a marker is unbalanced or nested.
    """
    lines = source.split("\n")
    blocks: list[Block] = []
    begin: tuple[int, str] | None = None
    for i, line in enumerate(lines):
        m = BEGIN_CODE.match(line)
        if m:
            if begin is not None:
                raise MarkerError(
                    f"{where}, line {i + 1}: BEGIN SOLUTION inside another solution block "
                    f"(opened on line {begin[0] + 1}); close it with ### END SOLUTION first"
                )
            begin = (i, m.group("indent"))
        elif END_CODE.match(line):
            if begin is None:
                raise MarkerError(f"{where}, line {i + 1}: END SOLUTION without BEGIN SOLUTION")
            blocks.append(Block(begin[0], i, begin[1], tuple(lines[begin[0] + 1 : i])))
            begin = None
    if begin is not None:
        raise MarkerError(
            f"{where}, line {begin[0] + 1}: BEGIN SOLUTION is never closed by ### END SOLUTION"
        )
    return blocks


def stub_code(source: str, where: str = "cell") -> str:
    """Replace every solution block of a code cell by the stub, at the block's indentation.

    Args:
        source: the cell's source.
        where: a label for error messages.

    Returns:
        The learner's source (unchanged when the cell has no block).
    """
    blocks = solution_blocks(source, where)
    if not blocks:
        return source
    lines = source.split("\n")
    out: list[str] = []
    pos = 0
    for b in blocks:
        out.extend(lines[pos : b.start])
        out.append(b.indent + STUB_COMMENT)
        out.append(b.indent + STUB_RAISE)
        pos = b.end + 1
    out.extend(lines[pos:])
    return "\n".join(out)


def strip_markdown(source: str, where: str = "cell") -> str:
    """Remove ``<!-- BEGIN SOLUTION -->...<!-- END SOLUTION -->`` regions of a markdown cell.

    Args:
        source: the cell's source.
        where: a label for error messages.

    Returns:
        The learner's markdown.

    Raises:
        MarkerError: a region is not closed.
    """
    out = []
    rest = source
    while True:
        b = rest.find(BEGIN_MD)
        e = rest.find(END_MD)
        if b < 0:
            if e >= 0:
                raise MarkerError(f"{where}: {END_MD} without {BEGIN_MD}")
            out.append(rest)
            break
        if e < b:
            raise MarkerError(f"{where}: {BEGIN_MD} is never closed by {END_MD}")
        out.append(rest[:b])
        rest = rest[e + len(END_MD) :]
    text = "".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def is_stub_cell(source: str) -> bool:
    """Return whether a (learner) code cell holds a stub."""
    return STUB_COMMENT in source and STUB_RAISE in source


def has_solution(source: str) -> bool:
    """Return whether a cell source contains a solution marker of either kind."""
    return bool(any(BEGIN_CODE.match(line) for line in source.split("\n")) or BEGIN_MD in source)


def solution_lines(nb: nbformat.NotebookNode) -> list[str]:
    """Return the non-trivial lines inside the solution blocks of a solution notebook.

    Trivial lines (blank, comments, lone brackets, ``pass``, ``else:``, ``return``...) are left
    out: they may legitimately appear in a learner copy.

    Args:
        nb: the solution notebook.

    Returns:
        The stripped lines.
    """
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for b in solution_blocks(cell.source, f"cell {i}"):
            for line in b.lines:
                s = line.strip()
                if _trivial(s):
                    continue
                found.append(s)
    return found


_TRIVIAL = re.compile(
    r"^(#.*|[\)\]\}]+[,:]?|pass|else:|try:|finally:|return|break|continue|\.\.\.|"
    r"except( Exception)?:|\"\"\"|''')?$"
)


def _trivial(line: str) -> bool:
    return len(line) < 8 or bool(_TRIVIAL.match(line))


def cell_id(nb_index: int, cell: dict[str, Any], seen: set[str]) -> str:
    """Return a stable id for a cell: its own when valid and unique, else one derived from it.

    Args:
        nb_index: the cell's position.
        cell: the cell.
        seen: ids already taken (updated).

    Returns:
        The id.
    """
    cid = str(cell.get("id") or "")
    if not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cid) or cid in seen:
        digest = hashlib.sha1(f"{nb_index}:{cell.get('source', '')}".encode()).hexdigest()
        cid = f"c{nb_index:03d}-{digest[:8]}"
    seen.add(cid)
    return cid


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy without outputs, execution counts or editor metadata; stable ids.

    Args:
        nb: a notebook.

    Returns:
        The cleaned copy (nbformat 4.5).
    """
    out = copy.deepcopy(nb)
    out.nbformat, out.nbformat_minor = 4, 5
    meta = {k: v for k, v in out.metadata.items() if k in KEEP_NB_METADATA}
    meta["kernelspec"] = dict(KERNELSPEC)
    meta["language_info"] = {"name": "python"}
    out.metadata = nbformat.from_dict(meta)
    seen: set[str] = set()
    for i, cell in enumerate(out.cells):
        cell["id"] = cell_id(i, cell, seen)
        cell["metadata"] = nbformat.from_dict(
            {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        )
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            if "attachments" in cell and not cell["attachments"]:
                del cell["attachments"]
    return out


def learner_copy(nb: nbformat.NotebookNode, where: str = "notebook") -> nbformat.NotebookNode:
    """Make the learner's copy of a solution notebook.

    Args:
        nb: the solution notebook.
        where: its path, for error messages.

    Returns:
        The learner notebook: stubs for code blocks, markdown solution regions removed,
        cleaned (see :func:`clean`).

    Raises:
        MarkerError: a marker is unbalanced.
    """
    out = clean(nb)
    for i, cell in enumerate(out.cells):
        label = f"{where} cell {i + 1}"
        if cell.cell_type == "code":
            cell.source = stub_code(cell.source, label)
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source, label)
    return out


def dumps(nb: nbformat.NotebookNode) -> str:
    """Serialise a notebook the way every committed notebook is written (sorted keys, newline).

    Args:
        nb: the notebook.

    Returns:
        The JSON text, ending in a newline.
    """
    return nbformat.writes(nb, version=4) + "\n"


def read(path: Any) -> nbformat.NotebookNode:
    """Read a notebook as nbformat 4 without validation side effects.

    Args:
        path: the ``.ipynb`` file.

    Returns:
        The notebook.
    """
    with open(path, encoding="utf-8") as f:
        return nbformat.read(f, as_version=4)
