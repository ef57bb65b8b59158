"""Every benchmark is a script that accepts ``--quick`` (what ``make bench`` passes) and ``--help``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks() -> None:
    assert len(BENCHMARKS) >= 4


@pytest.mark.parametrize("script", BENCHMARKS, ids=[b.name for b in BENCHMARKS])
def test_benchmark_accepts_quick_and_help(script: Path) -> None:
    """``--quick --help`` prints a usage naming --quick and exits 0, without running anything."""
    res = subprocess.run(
        [sys.executable, str(script), "--quick", "--help"],
        capture_output=True,
        text=True,
        timeout=600,  # hang guard: argparse answers at once
    )
    assert res.returncode == 0, res.stderr
    assert "--quick" in res.stdout, res.stdout
