"""The cost ledger: one SQLite row per allowed billable request (introduced in lab 00).

The ledger lives at ``$MLLAB_HOME/ledger.sqlite`` and survives kernel restarts. It is
safe with several kernels writing at once (WAL journal, a busy timeout, one short
transaction per write). The budget is reserved atomically: :meth:`Ledger.reserve` checks
every budget that applies and writes the estimate as a *pending* row in one ``BEGIN
IMMEDIATE`` transaction, so two concurrent requests cannot both see the same remaining
budget; the row is settled after AWS accepted the request and dropped if it failed. Settled
rows are never deleted by mllab.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created      REAL    NOT NULL,
    lab          TEXT    NOT NULL,
    run          TEXT    NOT NULL,
    backend      TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    operation    TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    arn          TEXT,
    estimate_usd REAL    NOT NULL,
    hourly_usd   REAL,
    actual_usd   REAL,
    ended        REAL,
    detail       TEXT,
    pending      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS charges_run ON charges(run);
CREATE INDEX IF NOT EXISTS charges_resource ON charges(resource);
"""


@dataclass
class Charge:
    """One ledger row."""

    id: int
    created: float
    lab: str
    run: str
    backend: str
    region: str
    service: str
    operation: str
    resource: str
    arn: str | None
    estimate_usd: float
    hourly_usd: float | None
    actual_usd: float | None
    ended: float | None
    detail: dict[str, Any]
    pending: int = 0

    @property
    def charged_usd(self) -> float:
        """Actual use when known, else the worst-case estimate."""
        return self.actual_usd if self.actual_usd is not None else self.estimate_usd


class Ledger:
    """Access to the ledger file.

    Args:
        path: the SQLite file; created with its schema when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)
            cols = {r[1] for r in db.execute("PRAGMA table_info(charges)").fetchall()}
            if "pending" not in cols:  # a ledger written before reservations existed
                db.execute("ALTER TABLE charges ADD COLUMN pending INTEGER NOT NULL DEFAULT 0")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed row
            # survives a crashed or killed kernel (only a power cut can lose the last ones),
            # and a Bedrock call's reserve/settle no longer waits on three fsyncs (4 ms each here).
            db.execute("PRAGMA synchronous = NORMAL")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    def record(
        self,
        *,
        lab: str,
        run: str,
        backend: str,
        region: str,
        service: str,
        operation: str,
        resource: str,
        estimate_usd: float,
        arn: str | None = None,
        hourly_usd: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Append a row for an allowed request and return its id."""
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO charges (created, lab, run, backend, region, service, operation,"
                " resource, arn, estimate_usd, hourly_usd, detail)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    time.time(),
                    lab,
                    run,
                    backend,
                    region,
                    service,
                    operation,
                    resource,
                    arn,
                    float(estimate_usd),
                    hourly_usd,
                    json.dumps(detail or {}, default=str),
                ),
            )
            return int(cur.lastrowid or 0)

    def reserve(
        self,
        budgets: list[tuple[float, list[str]]],
        *,
        lab: str,
        run: str,
        backend: str,
        region: str,
        service: str,
        operation: str,
        resource: str,
        estimate_usd: float,
        hourly_usd: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> tuple[int | None, float]:
        """Check every budget and write a pending row, in one transaction.

        Args:
            budgets: ``(budget_usd, runs)`` pairs: each budget covers the spending of those
                runs (a lab's own run and the runs of labs nested in it).
            estimate_usd: the request's worst case.

        Returns:
            ``(row id, remaining)``: the id of the pending row, or None when a budget would be
            exceeded (nothing written); ``remaining`` is the smallest remaining budget before
            this request. Costs nothing.
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                remaining = math.inf
                for budget, runs in budgets:
                    marks = ",".join("?" * len(runs))
                    spent = db.execute(
                        "SELECT COALESCE(SUM(COALESCE(actual_usd, estimate_usd)), 0) FROM charges"
                        f" WHERE run IN ({marks})",
                        list(runs),
                    ).fetchone()[0]
                    remaining = min(remaining, float(budget) - float(spent))
                if float(estimate_usd) > remaining + 1e-12:
                    db.execute("ROLLBACK")
                    return None, remaining
                cur = db.execute(
                    "INSERT INTO charges (created, lab, run, backend, region, service, operation,"
                    " resource, arn, estimate_usd, hourly_usd, detail, pending)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1)",
                    (
                        time.time(),
                        lab,
                        run,
                        backend,
                        region,
                        service,
                        operation,
                        resource,
                        None,
                        float(estimate_usd),
                        hourly_usd,
                        json.dumps(detail or {}, default=str),
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return int(cur.lastrowid or 0), remaining

    def settle(
        self, charge_id: int, *, resource: str, arn: str | None, detail: dict[str, Any]
    ) -> None:
        """Turn a pending row into a charge once AWS accepted the request."""
        with self._connect() as db:
            db.execute(
                "UPDATE charges SET pending = 0, resource = ?, arn = ?, detail = ? WHERE id = ?",
                (resource, arn, json.dumps(detail, default=str), charge_id),
            )

    def drop(self, charge_id: int) -> None:
        """Drop a pending row: the request failed or was never sent (settled rows stay)."""
        with self._connect() as db:
            db.execute("DELETE FROM charges WHERE id = ? AND pending = 1", (charge_id,))

    def spent_by(self, runs: list[str]) -> float:
        """Dollars charged to several runs, pending reservations included."""
        if not runs:
            return 0.0
        marks = ",".join("?" * len(runs))
        with self._connect() as db:
            value = db.execute(
                "SELECT COALESCE(SUM(COALESCE(actual_usd, estimate_usd)), 0) FROM charges"
                f" WHERE run IN ({marks})",
                list(runs),
            ).fetchone()[0]
        return float(value)

    def set_actual(self, charge_id: int, actual_usd: float, ended: float | None = None) -> None:
        """Record the actual use of a row (e.g. BillableTimeInSeconds x price)."""
        with self._connect() as db:
            db.execute(
                "UPDATE charges SET actual_usd = ?, ended = ? WHERE id = ?",
                (float(actual_usd), ended if ended is not None else time.time(), charge_id),
            )

    def rows(
        self, *, lab: str | None = None, run: str | None = None, open_only: bool = False
    ) -> list[Charge]:
        """Return rows, oldest first, filtered by lab and/or run."""
        sql = "SELECT * FROM charges WHERE 1=1"
        args: list[Any] = []
        if lab is not None:
            sql += " AND lab = ?"
            args.append(lab)
        if run is not None:
            sql += " AND run = ?"
            args.append(run)
        if open_only:
            sql += " AND ended IS NULL"
        with self._connect() as db:
            found = db.execute(sql + " ORDER BY id", args).fetchall()
        return [
            Charge(**{k: r[k] for k in r.keys() if k != "detail"}, detail=json.loads(r["detail"]))
            for r in found
        ]

    def latest_for(self, resource: str, run: str | None = None) -> Charge | None:
        """Return the newest row for a resource name (optionally within one run)."""
        matches = [r for r in self.rows(run=run) if r.resource == resource]
        return matches[-1] if matches else None

    def spent(self, run: str) -> float:
        """Dollars charged to a run: actual where known, else the estimate."""
        return sum(r.charged_usd for r in self.rows(run=run))
