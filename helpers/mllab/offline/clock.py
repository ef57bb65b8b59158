"""The lab clock: real time, plus time the learner skips ahead (introduced in lab 01).

Offline services that act on time (Firehose buffer intervals, Kinesis retention) read
:func:`now`. ``advance(seconds)`` moves the clock forward without waiting, so a lab can
show "after 60 seconds the buffer is delivered" in an instant; nothing is ever delivered
before the clock reaches the interval.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

_lock = threading.Lock()
_offset = 0.0
_listeners: list[Callable[[], None]] = []


def now() -> float:
    """Return the lab time as a POSIX timestamp (wall clock plus skipped seconds)."""
    return time.time() + _offset


def now_dt() -> dt.datetime:
    """Return the lab time as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(now(), tz=dt.UTC)


def advance(seconds: float) -> float:
    """Skip the lab clock ahead and let time-driven services catch up.

    Args:
        seconds: how far to move (must be >= 0).

    Returns:
        The new lab time. Costs nothing; offline only.
    """
    global _offset
    if seconds < 0:
        raise ValueError("the lab clock only moves forward: give seconds >= 0")
    with _lock:
        _offset += float(seconds)
        listeners = list(_listeners)
    for fn in listeners:
        fn()
    return now()


def on_advance(fn: Callable[[], None]) -> None:
    """Call ``fn`` after every :func:`advance` (services flush what became due)."""
    with _lock:
        if fn not in _listeners:
            _listeners.append(fn)


def reset() -> None:
    """Forget skipped time (tests)."""
    global _offset
    with _lock:
        _offset = 0.0
