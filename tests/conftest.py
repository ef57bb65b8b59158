"""Shared fixtures: an isolated mllab home, fake credentials, and an open offline lab."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own $MLLAB_HOME and fake AWS credentials; no real config is read."""
    home = tmp_path_factory.mktemp("mllab-home")
    monkeypatch.setenv("MLLAB_HOME", str(home))
    monkeypatch.setenv("MLLAB_BACKEND", "offline")
    monkeypatch.delenv("MLLAB_BUDGET_USD", raising=False)
    monkeypatch.delenv("MLLAB_ALLOWED_ACCOUNTS", raising=False)
    monkeypatch.delenv("MLLAB_REGION", raising=False)
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return home


@pytest.fixture
def mllab_home(_isolated_home: Path) -> Path:
    """The test's $MLLAB_HOME."""
    return _isolated_home


@pytest.fixture
def lab() -> Iterator[object]:
    """An open offline lab (moto running, guard installed); closed after the test."""
    from mllab import Lab

    opened = Lab("test-lab", backend="offline")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def mock_aws_env() -> Iterator[None]:
    """moto's plain ``mock_aws`` with fake credentials, for module tests without a Lab."""
    from moto import mock_aws

    with mock_aws():
        yield
