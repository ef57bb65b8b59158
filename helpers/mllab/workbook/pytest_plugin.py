"""pytest plugin for ``pytest --nbval-lax solutions/`` (enable with ``-p mllab.workbook.pytest_plugin``).

nbval starts each notebook's kernel from the pytest process's environment, before any
fixture runs. This plugin gives those kernels a fresh ``$MLLAB_HOME`` (a temporary folder per
pytest process, so the learner's own ledger and progress are never touched, and ``-n`` workers
do not share one), the offline backend and fake credentials; and it marks nbval's items
``notebook`` so ``-m "not notebook"`` skips them.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest


def _nbval_on(config: pytest.Config) -> bool:
    return bool(
        getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)
    )


def pytest_configure(config: pytest.Config) -> None:
    """Isolate notebook kernels when nbval is on."""
    config.addinivalue_line("markers", "notebook: executes a lab notebook")
    if not _nbval_on(config):
        return
    home = os.environ.get("MLLAB_NBVAL_HOME") or tempfile.mkdtemp(prefix="mllab-nbval-")
    os.environ["MLLAB_HOME"] = home
    os.environ.setdefault("MLLAB_BACKEND", "offline")
    if os.environ["MLLAB_BACKEND"] == "offline":
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(var, None)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ["AWS_CONFIG_FILE"] = os.devnull
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    """Mark nbval's notebook cells ``notebook``."""
    for item in items:
        if type(item).__module__.startswith("nbval"):
            item.add_marker(pytest.mark.notebook)
