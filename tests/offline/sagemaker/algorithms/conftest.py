"""Helpers for the built-in algorithm tests: a TrainingEnv under tmp_path with channel data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mllab.offline.sagemaker.contract import TrainingEnv


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., TrainingEnv]:
    """Build a job tree: ``make_env(hps, {"train": ("text/csv", b"..." or str)})``."""

    def _make(
        hyperparameters: dict[str, object],
        channels: dict[str, tuple[str | None, bytes | str | dict[str, bytes | str]]],
        input_mode: str = "File",
    ) -> TrainingEnv:
        cfg = {}
        for name, (ct, _) in channels.items():
            entry: dict[str, object] = {"InputMode": input_mode}
            if ct is not None:
                entry["ContentType"] = ct
            cfg[name] = entry
        env = TrainingEnv(
            root=tmp_path / "opt_ml",
            hyperparameters={k: str(v) for k, v in hyperparameters.items()},
            channels=cfg,
        )
        env.make_dirs()
        for name, (_, payload) in channels.items():
            files = payload if isinstance(payload, dict) else {"data": payload}
            for fname, content in files.items():
                p = env.channel_dir(name) / fname
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(content.encode() if isinstance(content, str) else content)
        return env

    return _make
