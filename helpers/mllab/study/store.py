"""The study record: attempts, spaced repetition, exams, audits and lab results (lab 00).

Everything lives in one SQLite file, ``$MLLAB_HOME/study.sqlite``. The database runs in WAL
mode with a busy timeout, and every write is one short ``BEGIN IMMEDIATE`` transaction, so a
notebook kernel and a terminal can record at the same time and a killed process loses at most
the answer it was writing.

Spaced repetition is a Leitner schedule: boxes 1-5 with intervals of 1, 3, 7, 14 and 30 days.
A miss (anywhere: quiz, exam, widget) puts the question in box 1, due the next day. A right
answer on a *due* review moves it up one box; a right answer before it is due changes nothing.
A right answer on a due review in the last box retires the question (by then it has been
answered right at least :data:`RETIRE_STREAK` times in a row, since reaching box 5 takes four
right reviews). Due dates fall at the start of a day in the clock's time zone, so "due in one
day" means "tomorrow", whatever the hour.

Every function takes ``now`` (an aware ``datetime``) so tests can run a fake clock.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mllab import config

INTERVALS = (1, 3, 7, 14, 30)
RETIRE_STREAK = 3
CAUSES = ("concept", "misread", "unknown service")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    qid TEXT NOT NULL,
    chosen TEXT NOT NULL,
    correct INTEGER NOT NULL,
    source TEXT NOT NULL,
    session TEXT,
    mls TEXT NOT NULL DEFAULT '[]',
    mla TEXT NOT NULL DEFAULT '[]',
    seconds REAL
);
CREATE INDEX IF NOT EXISTS attempts_qid ON attempts (qid);
CREATE TABLE IF NOT EXISTS srs (
    qid TEXT PRIMARY KEY,
    box INTEGER NOT NULL,
    due REAL NOT NULL,
    streak INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS srs_retired (
    qid TEXT PRIMARY KEY,
    ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS exams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    exam TEXT NOT NULL,
    seed INTEGER,
    minutes REAL NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    report TEXT
);
CREATE TABLE IF NOT EXISTS miss_causes (
    exam_id INTEGER NOT NULL,
    qid TEXT NOT NULL,
    cause TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (exam_id, qid)
);
CREATE TABLE IF NOT EXISTS audits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    exam TEXT NOT NULL,
    ratings TEXT NOT NULL,
    diagnostic TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS lab_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    lab TEXT NOT NULL,
    requirement TEXT NOT NULL,
    mls TEXT NOT NULL,
    mla TEXT NOT NULL,
    passed INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""


def utcnow() -> datetime:
    """Return the real current time, aware, in the local time zone."""
    return datetime.now().astimezone()


def _ts(now: datetime | None) -> float:
    return (now or utcnow()).timestamp()


def start_of_day_after(now: datetime, days: int) -> datetime:
    """Return the start of the day ``days`` days after ``now`` (in ``now``'s time zone).

    Args:
        now: an aware datetime.
        days: days to add.

    Returns:
        Midnight at the start of that day.
    """
    day = (now + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    return day


@dataclass(frozen=True)
class Card:
    """A question's place in the Leitner schedule."""

    qid: str
    box: int
    due: float
    streak: int


def next_card(card: Card | None, qid: str, correct: bool, now: datetime) -> Card | None:
    """Apply one answer to a question's schedule (pure function).

    Args:
        card: the current card, or None when the question is not scheduled.
        qid: the question id.
        correct: whether the answer was right.
        now: when it was answered.

    Returns:
        The new card, or None when the question is (or leaves) out of the schedule.
    """
    if not correct:
        return Card(qid, 1, start_of_day_after(now, INTERVALS[0]).timestamp(), 0)
    if card is None:
        return None
    if now.timestamp() < card.due:
        return card
    streak = card.streak + 1
    if card.box >= len(INTERVALS) and streak >= RETIRE_STREAK:
        return None
    box = min(card.box + 1, len(INTERVALS))
    return Card(qid, box, start_of_day_after(now, INTERVALS[box - 1]).timestamp(), streak)


def default_path() -> Path:
    """Return ``$MLLAB_HOME/study.sqlite``."""
    return config.home() / "study.sqlite"


class Store:
    """The study database (one connection; cheap to open, safe across processes)."""

    def __init__(self, path: Path | str | None = None):
        """Open (and create) the database.

        Args:
            path: the SQLite file (default ``$MLLAB_HOME/study.sqlite``).
        """
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        with self.tx():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self._migrate()

    def _migrate(self) -> None:
        """Add the columns later versions need to an older database (backwards compatible).

        Version 2 (MLA-C02): ``attempts.mla2`` and ``lab_results.mla2`` (JSON lists of skill
        ids, ``'[]'`` on old rows, which then count through the C01 -> C02 task mapping).
        Nothing is deleted.
        """
        for table in ("attempts", "lab_results"):
            cols = {r["name"] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if "mla2" not in cols:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN mla2 TEXT NOT NULL DEFAULT '[]'")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction (``BEGIN IMMEDIATE``: takes the write lock up front)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- attempts and spaced repetition ---------------------------------------------------

    def card(self, qid: str) -> Card | None:
        """Return a question's schedule card, or None when not scheduled.

        Args:
            qid: question id.

        Returns:
            The card.
        """
        row = self.conn.execute("SELECT * FROM srs WHERE qid = ?", (qid,)).fetchone()
        return Card(row["qid"], row["box"], row["due"], row["streak"]) if row else None

    def record_attempt(
        self,
        qid: str,
        chosen: str,
        correct: bool,
        source: str,
        mls: list[str] | tuple[str, ...] = (),
        mla: list[str] | tuple[str, ...] = (),
        session: str | None = None,
        seconds: float | None = None,
        now: datetime | None = None,
        mla2: list[str] | tuple[str, ...] = (),
    ) -> Card | None:
        """Store one answer and update the question's spaced-repetition card.

        Args:
            qid: question id.
            chosen: the letters chosen ("" when unanswered).
            correct: whether it was right.
            source: ``quiz``, ``review``, ``exam``, ``widget`` or ``audit``.
            mls: the question's MLS-C01 task statements (kept so progress survives bank edits).
            mla: the question's MLA-C01 task statements.
            mla2: the question's MLA-C02 skills (e.g. ``["2.3.8"]``).
            session: a session label (e.g. ``exam:3``).
            seconds: time spent, when known.
            now: the clock (default: real time).

        Returns:
            The new card (None when not scheduled).
        """
        now = now or utcnow()
        with self.tx() as c:
            c.execute(
                "INSERT INTO attempts"
                " (ts, qid, chosen, correct, source, session, mls, mla, seconds, mla2)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now.timestamp(),
                    qid,
                    chosen,
                    int(correct),
                    source,
                    session,
                    json.dumps(list(mls)),
                    json.dumps(list(mla)),
                    seconds,
                    json.dumps(list(mla2)),
                ),
            )
            row = c.execute("SELECT * FROM srs WHERE qid = ?", (qid,)).fetchone()
            old = Card(row["qid"], row["box"], row["due"], row["streak"]) if row else None
            new = next_card(old, qid, correct, now)
            if new is None:
                if old is not None:
                    c.execute("DELETE FROM srs WHERE qid = ?", (qid,))
                    c.execute(
                        "INSERT OR REPLACE INTO srs_retired (qid, ts) VALUES (?, ?)",
                        (qid, now.timestamp()),
                    )
            elif new != old:
                c.execute(
                    "INSERT OR REPLACE INTO srs (qid, box, due, streak, updated)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (qid, new.box, new.due, new.streak, now.timestamp()),
                )
                c.execute("DELETE FROM srs_retired WHERE qid = ?", (qid,))
        return new

    def due(self, now: datetime | None = None) -> list[str]:
        """Return the ids of questions due for review, most overdue first.

        Args:
            now: the clock.

        Returns:
            Question ids.
        """
        rows = self.conn.execute(
            "SELECT qid FROM srs WHERE due <= ? ORDER BY due, box, qid", (_ts(now),)
        ).fetchall()
        return [r["qid"] for r in rows]

    def due_by(self, until: datetime) -> int:
        """Count cards due on or before ``until`` (for planning review days).

        Args:
            until: a future (or past) moment.

        Returns:
            The number of cards.
        """
        row = self.conn.execute(
            "SELECT COUNT(*) AS n FROM srs WHERE due <= ?", (until.timestamp(),)
        ).fetchone()
        return int(row["n"])

    def cards(self) -> list[Card]:
        """Return every scheduled card."""
        rows = self.conn.execute("SELECT * FROM srs ORDER BY due").fetchall()
        return [Card(r["qid"], r["box"], r["due"], r["streak"]) for r in rows]

    def retired(self) -> list[str]:
        """Return the ids of questions that left the schedule."""
        return [r["qid"] for r in self.conn.execute("SELECT qid FROM srs_retired ORDER BY ts")]

    def attempts(self, source: str | None = None) -> list[dict[str, Any]]:
        """Return stored attempts, oldest first.

        Args:
            source: only this source (``quiz``, ``exam``...).

        Returns:
            Rows as dicts with ``mls``/``mla`` decoded to lists.
        """
        sql = "SELECT * FROM attempts"
        args: tuple[Any, ...] = ()
        if source:
            sql += " WHERE source = ?"
            args = (source,)
        rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["mls"] = json.loads(d["mls"])
            d["mla"] = json.loads(d["mla"])
            d["mla2"] = json.loads(d.get("mla2") or "[]")
            d["correct"] = bool(d["correct"])
            out.append(d)
        return out

    # -- exams ----------------------------------------------------------------------------

    def create_exam(
        self, exam: str, seed: int | None, minutes: float, state: dict[str, Any], now: datetime
    ) -> int:
        """Create an open practice exam.

        Args:
            exam: exam code.
            seed: the draw's seed.
            minutes: time allowed.
            state: the initial session state (JSON-serialisable).
            now: the clock.

        Returns:
            The exam id.
        """
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO exams (exam, seed, minutes, started, updated, status, state)"
                " VALUES (?, ?, ?, ?, ?, 'open', ?)",
                (exam, seed, minutes, now.timestamp(), now.timestamp(), json.dumps(state)),
            )
            return int(cur.lastrowid or 0)

    def save_exam_state(self, exam_id: int, state: dict[str, Any], now: datetime) -> None:
        """Save an open exam's state (called after every answer and command).

        Args:
            exam_id: the exam.
            state: the session state.
            now: the clock.
        """
        with self.tx() as c:
            c.execute(
                "UPDATE exams SET state = ?, updated = ? WHERE id = ?",
                (json.dumps(state), now.timestamp(), exam_id),
            )

    def finish_exam(
        self, exam_id: int, state: dict[str, Any], report: dict[str, Any], now: datetime
    ) -> None:
        """Mark an exam finished and save its report.

        Args:
            exam_id: the exam.
            state: the final state.
            report: the report data.
            now: the clock.
        """
        with self.tx() as c:
            c.execute(
                "UPDATE exams SET state = ?, report = ?, status = 'finished', finished = ?,"
                " updated = ? WHERE id = ?",
                (json.dumps(state), json.dumps(report), now.timestamp(), now.timestamp(), exam_id),
            )

    def exam(self, exam_id: int) -> dict[str, Any] | None:
        """Return one exam row with ``state`` and ``report`` decoded.

        Args:
            exam_id: the exam.

        Returns:
            The row, or None.
        """
        row = self.conn.execute("SELECT * FROM exams WHERE id = ?", (exam_id,)).fetchone()
        return self._exam_row(row) if row else None

    @staticmethod
    def _exam_row(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["state"] = json.loads(d["state"])
        d["report"] = json.loads(d["report"]) if d["report"] else None
        return d

    def latest_open_exam(self, exam: str | None = None) -> dict[str, Any] | None:
        """Return the most recent unfinished exam.

        Args:
            exam: only this exam code.

        Returns:
            The exam row, or None.
        """
        sql = "SELECT * FROM exams WHERE status = 'open'"
        args: tuple[Any, ...] = ()
        if exam:
            sql += " AND exam = ?"
            args = (exam,)
        row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._exam_row(row) if row else None

    def exams(self) -> list[dict[str, Any]]:
        """Return every exam, oldest first."""
        rows = self.conn.execute("SELECT * FROM exams ORDER BY id").fetchall()
        return [self._exam_row(r) for r in rows]

    def set_cause(self, exam_id: int, qid: str, cause: str, now: datetime | None = None) -> None:
        """Classify why a question was missed.

        Args:
            exam_id: the exam.
            qid: the question.
            cause: one of :data:`CAUSES`.
            now: the clock.

        Raises:
            ValueError: an unknown cause.
        """
        if cause not in CAUSES:
            raise ValueError(f"cause must be one of {', '.join(CAUSES)}")
        with self.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO miss_causes (exam_id, qid, cause, ts) VALUES (?, ?, ?, ?)",
                (exam_id, qid, cause, _ts(now)),
            )

    def causes(self, exam_id: int | None = None) -> dict[str, str]:
        """Return miss causes ``{qid: cause}`` (of one exam, or all, latest winning).

        Args:
            exam_id: the exam, or None for all.

        Returns:
            The causes.
        """
        if exam_id is None:
            rows = self.conn.execute("SELECT qid, cause FROM miss_causes ORDER BY ts").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT qid, cause FROM miss_causes WHERE exam_id = ? ORDER BY ts", (exam_id,)
            ).fetchall()
        return {r["qid"]: r["cause"] for r in rows}

    # -- audits ---------------------------------------------------------------------------

    def save_audit(
        self,
        exam: str,
        ratings: dict[str, int | None],
        diagnostic: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Save a knowledge audit.

        Args:
            exam: exam code.
            ratings: ``{task: 1-5 or None}``.
            diagnostic: optional ``{task: [right, asked]}`` from the diagnostic quiz.
            now: the clock.

        Returns:
            The audit id.
        """
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO audits (ts, exam, ratings, diagnostic) VALUES (?, ?, ?, ?)",
                (_ts(now), exam, json.dumps(ratings), json.dumps(diagnostic or {})),
            )
            return int(cur.lastrowid or 0)

    def latest_audit(self, exam: str) -> dict[str, Any] | None:
        """Return the latest audit of an exam.

        Args:
            exam: exam code.

        Returns:
            ``{"id", "ts", "exam", "ratings", "diagnostic"}`` or None.
        """
        row = self.conn.execute(
            "SELECT * FROM audits WHERE exam = ? ORDER BY id DESC LIMIT 1", (exam,)
        ).fetchone()
        if not row:
            return None
        d = dict(row)
        d["ratings"] = json.loads(d["ratings"])
        d["diagnostic"] = json.loads(d["diagnostic"])
        return d

    # -- lab results ----------------------------------------------------------------------

    def record_lab_result(
        self,
        lab: str,
        requirement: str,
        mls: list[str],
        mla: list[str],
        passed: bool,
        detail: str = "",
        now: datetime | None = None,
        mla2: list[str] | None = None,
    ) -> None:
        """Record one lab check (see the module-level :func:`record_lab_result`).

        Args:
            lab: lab name, e.g. ``01-data-engineering``.
            requirement: requirement key, e.g. ``stream``.
            mls: MLS-C01 task statements it practises.
            mla: MLA-C01 task statements it practises.
            passed: whether the check passed.
            detail: the check's message.
            now: the clock.
            mla2: MLA-C02 skills it practises (e.g. ``["1.2.7"]``).
        """
        with self.tx() as c:
            c.execute(
                "INSERT INTO lab_results (ts, lab, requirement, mls, mla, passed, detail, mla2)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _ts(now),
                    lab,
                    requirement,
                    json.dumps(mls),
                    json.dumps(mla),
                    int(passed),
                    detail,
                    json.dumps(list(mla2 or [])),
                ),
            )

    def lab_results(self) -> list[dict[str, Any]]:
        """Return the latest result of every (lab, requirement), sorted by lab.

        Returns:
            Rows with ``mls``/``mla`` decoded and ``passed`` as bool.
        """
        rows = self.conn.execute(
            "SELECT * FROM lab_results WHERE id IN"
            " (SELECT MAX(id) FROM lab_results GROUP BY lab, requirement)"
            " ORDER BY lab, requirement"
        ).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["mls"] = json.loads(d["mls"])
            d["mla"] = json.loads(d["mla"])
            d["mla2"] = json.loads(d.get("mla2") or "[]")
            d["passed"] = bool(d["passed"])
            out.append(d)
        return out


def record_lab_result(
    lab: str,
    requirement: str,
    mls: list[str],
    mla: list[str],
    passed: bool,
    detail: str = "",
    mla2: list[str] | None = None,
) -> None:
    """Record a lab check's outcome in ``$MLLAB_HOME/study.sqlite`` (every lab's check cells).

    ``mllab progress`` counts the latest result of each requirement.

    Args:
        lab: lab name, e.g. ``"01-data-engineering"``.
        requirement: requirement key within the lab, e.g. ``"stream"``.
        mls: MLS-C01 task statements the requirement practises, e.g. ``["1.2"]``.
        mla: MLA-C01 task statements, e.g. ``["1.1"]``.
        passed: whether the check passed.
        detail: what the check found (shown in progress).
        mla2: MLA-C02 skills, e.g. ``["1.1.4"]`` (optional, so older callers keep working).
    """
    with Store() as store:
        store.record_lab_result(
            lab, requirement, list(mls), list(mla), bool(passed), detail, mla2=list(mla2 or [])
        )
