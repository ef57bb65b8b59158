"""Check cells: one requirement, a verdict on the real state, a line that says so.

Every lab's check cells use :func:`requirement` (introduced in lab 00)::

    with requirement(lab, "stream", mls=["1.2"], mla=["1.1"]) as req:
        s = stream(lab, "clickstream")                  # the real state, via the lab session
        req.expect(s.shard_count == 2, f"the stream has {s.shard_count} shards; ...")
        req.note(f"{s.shard_count} shards, {s.retention_hours} h retention")

A pass shows a green line (HTML in Jupyter, ``PASS <lab>#<key>: <note>`` as text); a miss shows
a red ``MISS`` line and raises :class:`CheckFailed` (an ``AssertionError``) that says what is
missing and how to find out. Either way the outcome is recorded for ``mllab progress``
(:func:`mllab.study.record_lab_result`), per requirement and exam task statement.
"""

from __future__ import annotations

import html
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar

T = TypeVar("T")

#: A result line as printed (and parsed back by ``mllab run`` and the notebook tests).
RESULT_LINE = re.compile(r"^(?P<verdict>PASS|MISS) (?P<key>[^\s:]+)(?:: (?P<detail>.*))?$")


class CheckFailed(AssertionError):
    """A requirement is not met; the message says what is missing and how to find out.

    Attributes:
        requirement: ``<lab>#<key>`` when raised inside :func:`requirement`, else "".
    """

    def __init__(self, message: str, requirement: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.requirement = requirement

    def __str__(self) -> str:
        return f"{self.requirement}: {self.message}" if self.requirement else self.message


def _in_ipython() -> bool:
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    try:
        return ip.get_ipython() is not None  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return False


def show_line(verdict: str, key: str, detail: str = "") -> None:
    """Display a result line: green/red HTML in Jupyter, plain text elsewhere.

    Args:
        verdict: ``PASS`` or ``MISS``.
        key: ``<lab>#<requirement>``.
        detail: what was found.
    """
    text = f"{verdict} {key}" + (f": {detail}" if detail else "")
    if _in_ipython():
        from IPython.display import display

        color, mark = ("#1a7f37", "&#10004;") if verdict == "PASS" else ("#c62828", "&#10008;")
        body = f"<b>{mark} {verdict}</b> <code>{html.escape(key)}</code>"
        if detail:
            body += f" &mdash; {html.escape(detail)}"
        display(
            {
                "text/plain": text,
                "text/html": f"<div style='color:{color};font-family:sans-serif'>{body}</div>",
            },
            raw=True,
        )
    else:
        print(text, flush=True)


def _lab_name(lab: Any) -> str:
    name = getattr(lab, "name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(lab, str) and lab:
        return lab
    raise TypeError("requirement(lab, ...): pass the open Lab (the `lab` of the first cell)")


@dataclass
class Requirement:
    """One requirement being checked (made by :func:`requirement`).

    Attributes:
        lab: the lab (or its name).
        key: the requirement key within the lab, e.g. ``"stream"``.
        mls: MLS-C01 task statements, e.g. ``["1.2"]``.
        mla: MLA-C01 task statements, e.g. ``["1.1"]``.
        mla2: MLA-C02 skills, e.g. ``["1.2.7"]`` (the task is the first two numbers).
        notes: what the check found (joined into the PASS line).
        passed: the verdict once the check has run (None before).
    """

    lab: Any
    key: str
    mls: list[str] = field(default_factory=list)
    mla: list[str] = field(default_factory=list)
    mla2: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: bool | None = None
    record: bool = True
    _started: float = 0.0

    @property
    def label(self) -> str:
        """``<lab>#<key>``, as printed on the result line."""
        return f"{_lab_name(self.lab)}#{self.key}"

    def expect(self, condition: Any, message: str) -> None:
        """Fail the requirement with ``message`` unless ``condition`` is true.

        Args:
            condition: what must hold.
            message: what is missing and how to find out (shown to the learner).

        Raises:
            CheckFailed: the condition is false.
        """
        if not condition:
            raise CheckFailed(message, self.label)

    def note(self, text: str) -> None:
        """Add what was found to the PASS line (e.g. ``"2 shards, 48 h retention"``)."""
        self.notes.append(str(text))

    # context manager -----------------------------------------------------------------
    def __enter__(self) -> Requirement:
        self._started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc is None:
            self.passed = True
            detail = "; ".join(self.notes)
            show_line("PASS", self.label, detail)
            self._record(True, detail or "passed")
            return False
        self.passed = False
        if isinstance(exc, NotImplementedError):
            self._record(
                False, "not attempted: the code cell above still raises NotImplementedError"
            )
            return False
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            return False
        if isinstance(exc, CheckFailed):
            if not exc.requirement:
                exc.requirement = self.label
            message = exc.message
        elif isinstance(exc, AssertionError):
            message = str(exc) or "an assertion in the check failed"
        else:
            message = f"{type(exc).__name__}: {exc}"
        show_line("MISS", self.label, message)
        self._record(False, message)
        if isinstance(exc, CheckFailed):
            return False
        raise CheckFailed(message, self.label) from exc

    def __call__(self, fn: Callable[[], T]) -> T | None:
        """Use as a decorator: run ``fn`` now, inside the requirement, and return its result."""
        result: T | None = None
        with self:
            result = fn()
        return result

    def _record(self, passed: bool, detail: str) -> None:
        if not self.record:
            return
        try:
            from mllab.study.store import record_lab_result

            record_lab_result(
                _lab_name(self.lab),
                self.key,
                list(self.mls),
                list(self.mla),
                passed,
                detail[:500],
                mla2=list(self.mla2),
            )
        except Exception as err:  # noqa: BLE001 - progress must never hide the verdict
            print(f"(progress not recorded: {err})", file=sys.stderr)


def requirement(
    lab: Any,
    key: str,
    *,
    mls: Iterable[str] = (),
    mla: Iterable[str] = (),
    mla2: Iterable[str] = (),
    record: bool = True,
) -> Requirement:
    """Open a requirement check (a context manager, or a decorator that runs at once).

    Introduced in lab 00 and used by every check cell. Costs nothing.

    Args:
        lab: the open :class:`mllab.Lab`.
        key: the requirement key, e.g. ``"stream"``; ``"01-data-engineering#stream"`` is
            accepted too (the part after ``#`` is the key).
        mls: MLS-C01 task statements it practises, e.g. ``["1.2"]``.
        mla: MLA-C01 task statements, e.g. ``["1.1"]``.
        mla2: MLA-C02 skills it practises, e.g. ``["1.2.7", "2.3.10"]``.
        record: record the outcome in the study store (default yes).

    Returns:
        The :class:`Requirement`. On leaving it: PASS line and a passed record; or MISS line,
        a failed record and :class:`CheckFailed` (other errors are turned into CheckFailed,
        except ``NotImplementedError``, which propagates: the learner has not started).
    """
    key = str(key).split("#", 1)[-1].strip()
    if not key or any(c.isspace() for c in key) or ":" in key:
        raise ValueError(f"requirement key {key!r}: use a short slug like 'stream' (no spaces)")
    return Requirement(
        lab=lab, key=key, mls=list(mls), mla=list(mla), mla2=list(mla2), record=record
    )


def fail(message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` (for inspectors and custom checks).

    Raises:
        CheckFailed: always.
    """
    raise CheckFailed(message)


def need(ok: Any, message: str) -> None:
    """Fail with ``message`` unless ``ok`` (the check modules' one-line expectation).

    Raises:
        CheckFailed: when ``ok`` is falsy.
    """
    if not ok:
        fail(message)


def parse_results(text: str) -> list[tuple[str, str, str]]:
    """Find the result lines in captured output.

    Args:
        text: printed text (one output or many, joined).

    Returns:
        ``(verdict, key, detail)`` per ``PASS``/``MISS`` line, in order.
    """
    out = []
    for line in text.splitlines():
        m = RESULT_LINE.match(line.strip())
        if m:
            out.append((m.group("verdict"), m.group("key"), m.group("detail") or ""))
    return out
