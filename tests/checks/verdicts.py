"""Run a lab check in a unit test and read its verdict: ``"PASS"`` or the MISS message.

Shared by the lab check tests (tests/checks/test_labNN_checks.py), which give each check
prepared wrong states (must MISS) and valid alternatives (must PASS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mllab.checks.core import CheckFailed, Requirement


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Call ``fn(*args, **kwargs)``; return ``"PASS"``, or the message of the CheckFailed it raised."""
    try:
        fn(*args, **kwargs)
    except CheckFailed as err:
        return str(err.message)
    return "PASS"


def verdict(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """:func:`outcome` of a check that takes an open :class:`Requirement` first (not recorded)."""
    return outcome(fn, Requirement(lab="t", key="t", record=False), *args, **kwargs)
