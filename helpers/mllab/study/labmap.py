"""Which lab requirements practise which MLA-C02 skills (``mllab bank --coverage``, study next).

Two sources, read as text (nothing is executed):

- the solution notebooks' ``requirement(lab, "key", ..., mla2=["1.1.4", ...])`` calls;
- the drills' answer key (``mllab/checks/choices.json``): an entry with ``mla2`` tags counts for
  the lab whose notebook calls ``checks.choice("<id>", ...)`` (requirement ``choice-<id>``).

Reading costs one pass over the notebooks (cached per process); nothing is created or deleted.
Introduced with lab 00's study tools.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

_REQ = re.compile(r"requirement\(\s*lab\s*,\s*([\"'])([^\"']+)\1(?P<rest>[^)]*)\)")
_MLA2 = re.compile(r"mla2\s*=\s*(\[[^\]]*\])")
_CHOICE = re.compile(r"choice\(\s*([\"'])([^\"']+)\1")


def solutions_dir() -> Path:
    """Return the repository's ``solutions/`` folder (may not exist in an installed package)."""
    return Path(__file__).resolve().parents[3] / "solutions"


def _lab_name(notebook: Path) -> str:
    # 01_data_engineering.ipynb -> 01-data-engineering (the name checks record).
    return notebook.stem.replace("_", "-")


def _source(notebook: Path) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(c.get("source", [])) if isinstance(c.get("source"), list) else str(c["source"])
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    )


def _skills(text: str) -> list[str]:
    m = _MLA2.search(text)
    if not m:
        return []
    try:
        value = ast.literal_eval(m.group(1))
    except (ValueError, SyntaxError):
        return []  # e.g. mla2=[...] in prose
    return [str(s) for s in value if isinstance(s, str)]


@cache
def lab_skills(folder: str | None = None) -> dict[str, list[str]]:
    """Map every MLA-C02 skill to the lab requirements that practise it.

    Args:
        folder: the notebooks folder (default: the repository's ``solutions/``).

    Returns:
        ``{"1.1.4": ["01-data-engineering#stream", ...]}``; empty when no notebook is found.
    """
    base = Path(folder) if folder else solutions_dir()
    out: dict[str, list[str]] = {}
    if not base.is_dir():
        return out
    try:
        from mllab.checks.choices import KEY_FILE

        key = json.loads(Path(KEY_FILE).read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):
        key = {}
    for nb in sorted(base.glob("*.ipynb")):
        try:
            src = _source(nb)
        except (OSError, ValueError):
            continue
        lab = _lab_name(nb)
        for m in _REQ.finditer(src):
            for sk in _skills(m.group("rest")):
                ref = f"{lab}#{m.group(2)}"
                if ref not in out.setdefault(sk, []):
                    out[sk].append(ref)
        for m in _CHOICE.finditer(src):
            entry = key.get(m.group(2))
            if isinstance(entry, dict):
                for sk in entry.get("mla2") or []:
                    ref = f"{lab}#choice-{m.group(2)}"
                    if ref not in out.setdefault(str(sk), []):
                        out[str(sk)].append(ref)
    return out
