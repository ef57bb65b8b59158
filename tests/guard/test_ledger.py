"""The ledger survives processes and takes writes from two processes at once."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import pytest

from mllab.guard.ledger import Ledger


def _write_many(path: str, who: str, n: int) -> None:
    ledger = Ledger(Path(path))
    for i in range(n):
        ledger.record(
            lab="lab",
            run=who,
            backend="offline",
            region="us-east-1",
            service="sagemaker",
            operation="CreateTrainingJob",
            resource=f"{who}-{i}",
            estimate_usd=0.01,
        )


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), who, 60)) for who in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ledger = Ledger(path)
    assert len(ledger.rows(run="a")) == 60
    assert len(ledger.rows(run="b")) == 60
    assert ledger.spent("a") == pytest.approx(0.6)


def test_rows_survive_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    code = (
        "from pathlib import Path; from mllab.guard.ledger import Ledger;"
        f"l = Ledger(Path({str(path)!r}));"
        "i = l.record(lab='x', run='r', backend='offline', region='us-east-1', service='kinesis',"
        " operation='CreateStream', resource='s', estimate_usd=0.03, hourly_usd=0.015);"
        "l.set_actual(i, 0.001)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    rows = Ledger(path).rows(lab="x")
    assert len(rows) == 1
    assert rows[0].actual_usd == pytest.approx(0.001)
    assert rows[0].charged_usd == pytest.approx(0.001)


def test_killed_process_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    code = (
        "import os, signal; from pathlib import Path; from mllab.guard.ledger import Ledger;"
        f"l = Ledger(Path({str(path)!r}));"
        "[l.record(lab='x', run='r', backend='offline', region='us-east-1', service='s',"
        " operation='o', resource=str(i), estimate_usd=1.0) for i in range(5)];"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode != 0
    assert [r.resource for r in Ledger(path).rows(run="r")] == ["0", "1", "2", "3", "4"]
