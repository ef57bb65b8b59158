"""Settings read from the environment (introduced in lab 00).

Every setting has an ``MLLAB_*`` environment variable; nothing is read at import
time, so a test or a notebook can change the environment before opening a lab.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_BUDGET_USD = 5.0
BACKENDS = ("offline", "aws")


def home() -> Path:
    """Return the mllab home folder (``$MLLAB_HOME``, default ``~/.mllab``), creating it.

    Returns:
        The folder that holds the cost ledger, study records and lab progress.
        Nothing in it is ever deleted by mllab.
    """
    path = Path(os.environ.get("MLLAB_HOME") or Path.home() / ".mllab").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def backend() -> str:
    """Return the backend named by ``$MLLAB_BACKEND`` (default ``offline``).

    Raises:
        ValueError: the variable names an unknown backend.
    """
    value = (os.environ.get("MLLAB_BACKEND") or "offline").strip().lower()
    if value not in BACKENDS:
        raise ValueError(
            f"MLLAB_BACKEND={value!r} is not a backend; set it to 'offline' (default, free) "
            "or 'aws' (a real sandbox account)."
        )
    return value


def region() -> str:
    """Return ``$MLLAB_REGION`` (default ``us-east-1``)."""
    return (os.environ.get("MLLAB_REGION") or DEFAULT_REGION).strip()


def budget_usd() -> float:
    """Return ``$MLLAB_BUDGET_USD`` (default 5).

    Raises:
        ValueError: the value is not a non-negative number.
    """
    raw = os.environ.get("MLLAB_BUDGET_USD")
    if raw is None or raw.strip() == "":
        return DEFAULT_BUDGET_USD
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"MLLAB_BUDGET_USD={raw!r} is not a number; set it to dollars, e.g. 5"
        ) from None
    if value < 0:
        raise ValueError(f"MLLAB_BUDGET_USD={raw!r} is negative; set it to dollars, e.g. 5")
    return value


def allowed_accounts() -> list[str]:
    """Return the sandbox account ids in ``$MLLAB_ALLOWED_ACCOUNTS`` (comma-separated)."""
    raw = os.environ.get("MLLAB_ALLOWED_ACCOUNTS") or ""
    return [a.strip() for a in raw.split(",") if a.strip()]
