"""The notebook harness: which labs exist, and one cached headless run of each.

Every lab source ``solutions/NN_name.ipynb`` is a test parameter; with no lab yet, the
parameter list holds one skipped placeholder that says so. Runs happen in a fresh kernel with
its own ``$MLLAB_HOME`` under the test's tmp folder (safe under ``pytest -n``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mllab.workbook.generate import lab_sources

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
#: Seconds allowed per cell (the whole lab should take well under 90 s offline).
CELL_TIMEOUT = 300.0
#: The target run time of a lab offline on a 2-core machine (printed, not asserted).
TARGET_SECONDS = 90.0

NO_LABS = (
    "no lab sources yet: solutions/ has no NN_name.ipynb (the test picks them up as they appear)"
)


def lab_params() -> list[Any]:
    """One pytest param per lab source, or one skipped placeholder when there is none."""
    found = lab_sources(SOLUTIONS)
    if not found:
        return [pytest.param(None, id="no-labs", marks=pytest.mark.skip(reason=NO_LABS))]
    return [pytest.param(p, id=p.stem) for p in found]


def report_timing(run: Any, kind: str) -> None:
    """Print the run's time and its slowest cells (shown with ``pytest -rA`` or ``-s``)."""
    slow = sorted(run.cells, key=lambda c: c.seconds, reverse=True)[:3]
    cells = ", ".join(f"cell {c.index + 1} {c.seconds:.1f}s" for c in slow)
    flag = "" if run.seconds <= TARGET_SECONDS else f"  (over the {TARGET_SECONDS:.0f}s target)"
    print(f"[{kind}] {run.path.name}: {run.seconds:.1f}s{flag}; slowest: {cells}")
