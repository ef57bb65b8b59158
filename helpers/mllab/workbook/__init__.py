"""The workbook: lab sources, generated learner copies, and what a lab says about itself.

- :mod:`mllab.workbook.notebook`: solution markers and the learner copy.
- :mod:`mllab.workbook.generate`: ``make labs`` (``python -m mllab.workbook.generate``).
- :mod:`mllab.workbook.execute`: run a lab headless (``mllab run``, the notebook tests).

A lab states its cost on AWS twice, kept equal by a test: in its opening markdown as
``**Cost on AWS:** about $0.42`` and in notebook metadata ``mllab.cost_usd``. The figure is
the sum of the guard's ledger estimates (worst case: price x instances x max runtime or
time-to-live) of one run of the solution: :func:`measured_cost`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: ``**Cost on AWS:** about USD 0.42`` in a lab's opening markdown (the older ``$0.42`` /
#: ``\\$0.42`` too; JupyterLab reads text between two dollars as LaTeX math, escaped or not).
COST_MARKER = re.compile(
    r"\*\*Cost on AWS:\*\*\s*(?:about\s+)?(?:\\?\$|USD\s*)(?P<usd>\d+(?:\.\d+)?)"
)
#: ``**Time:** about 40 minutes`` in a lab's opening markdown.
TIME_MARKER = re.compile(r"\*\*Time:\*\*\s*(?:about\s+)?(?P<minutes>\d+)\s*min")
#: ``lab = Lab("01-data-engineering")`` in a lab's first code cell.
LAB_CALL = re.compile(r"""\bLab\(\s*["'](?P<name>[^"']+)["']""")
#: The exam task statements a lab's opening cells name.
TASK_MLS = re.compile(r"MLS-C01\s+(\d\.\d)")
TASK_MLA = re.compile(r"MLA-C01\s+(\d\.\d)")


def repo_root() -> Path:
    """Return the repository root (the folder holding ``solutions/`` and ``labs/``).

    Returns:
        The first parent of this package with a ``pyproject.toml``, else the working folder.
    """
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "helpers").is_dir():
            return parent
    return Path.cwd()


def find_lab(ref: str, folder: Path) -> Path:
    """Find a lab notebook by number prefix (``"01"``, ``"1"``) or name.

    Args:
        ref: ``"01"``, ``"01_data_engineering"``, ``"01-data-engineering"`` or a path.
        folder: ``labs/`` or ``solutions/``.

    Returns:
        The notebook path.

    Raises:
        LookupError: nothing or more than one lab matches (the message lists the labs).
    """
    from mllab.workbook.generate import lab_sources

    p = Path(ref)
    if p.suffix == ".ipynb" and p.exists():
        return p
    labs = lab_sources(folder)
    norm = ref.strip().lower().replace("-", "_").removesuffix(".ipynb")
    if norm.isdigit():
        norm = f"{int(norm):02d}"
    hits = [x for x in labs if x.stem.lower() == norm]
    if not hits:
        hits = [x for x in labs if x.stem.lower().startswith(norm + "_") or x.stem == norm]
    if not hits:
        hits = [x for x in labs if x.stem.lower().startswith(norm)]
    if len(hits) == 1:
        return hits[0]
    names = ", ".join(x.stem for x in labs) or "none yet"
    if not hits:
        raise LookupError(f"no lab matches {ref!r} in {folder}/ (labs: {names})")
    raise LookupError(f"{ref!r} matches several labs: {', '.join(h.stem for h in hits)}")


def lab_facts(nb: Any) -> dict[str, Any]:
    """Read what a lab notebook says about itself.

    Args:
        nb: the notebook (nbformat).

    Returns:
        ``lab`` (the name given to ``Lab(...)``), ``cost_usd_text`` (from the opening
        markdown's cost marker, or None), ``cost_usd_meta`` (``metadata.mllab.cost_usd`` or
        None), ``minutes``, ``mls`` and ``mla`` (task statements named in the opening
        markdown).
    """
    first_code = next((c.source for c in nb.cells if c.cell_type == "code"), "")
    m = LAB_CALL.search(first_code)
    opening = ""
    for c in nb.cells:
        if c.cell_type == "code":
            break
        opening += c.source + "\n"
    cost = COST_MARKER.search(opening)
    minutes = TIME_MARKER.search(opening)
    meta = dict(nb.metadata.get("mllab", {}))
    return {
        "lab": m.group("name") if m else None,
        "cost_usd_text": float(cost.group("usd")) if cost else None,
        "cost_usd_meta": (float(meta["cost_usd"]) if "cost_usd" in meta else None),
        "minutes": int(minutes.group("minutes")) if minutes else None,
        "mls": sorted(set(TASK_MLS.findall(opening))),
        "mla": sorted(set(TASK_MLA.findall(opening))),
    }


def measured_cost(lab: str, home: Path | str | None = None, run: str | None = None) -> float:
    """Sum the guard's ledger estimates of a lab's runs (what the lab would cost on AWS).

    Args:
        lab: the lab name (as given to ``Lab(...)``).
        home: the ``$MLLAB_HOME`` whose ledger to read (default: the current one).
        run: only this run id (``lab.run_id``); default: every run of the lab in that ledger
            (the notebook tests give each run a fresh home, so that is one run).

    Returns:
        Dollars: the worst-case estimates the guard charged, summed.
    """
    from mllab import config
    from mllab.guard.ledger import Ledger

    folder = Path(home) if home is not None else config.home()
    path = folder / "ledger.sqlite"
    if not path.exists():
        return 0.0
    return sum(r.estimate_usd for r in Ledger(path).rows(lab=lab, run=run))


def cost_matches(stated: float, measured: float, rel: float = 0.10, abs_usd: float = 0.01) -> bool:
    """Return whether a stated cost agrees with the measured one (10% or one cent).

    Args:
        stated: the lab's figure.
        measured: :func:`measured_cost`.
        rel: relative tolerance.
        abs_usd: absolute tolerance in dollars.

    Returns:
        True when ``|stated - measured| <= max(rel * measured, abs_usd)``.
    """
    return abs(stated - measured) <= max(rel * measured, abs_usd)


__all__ = [
    "COST_MARKER",
    "cost_matches",
    "find_lab",
    "lab_facts",
    "measured_cost",
    "repo_root",
]
