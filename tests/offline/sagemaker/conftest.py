"""Fixtures for the offline SageMaker tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest


@pytest.fixture
def fake_algorithm(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str, str], ModuleType]]:
    """Register a built-in algorithm emulation written by a test: ``fake_algorithm(repo, source)``.

    The module is written to a file (the job's child process imports it from there) and
    registered for images of repository ``repo``; it is unregistered after the test.
    """
    from mllab.offline.sagemaker import images

    registered: list[str] = []

    def register(repo: str, source: str) -> ModuleType:
        name = "mllab_" + repo.replace("-", "_")
        path = tmp_path_factory.mktemp("algo") / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        images.register_algorithm(repo, mod)
        registered.append(repo)
        return mod

    yield register
    for repo in registered:
        images.unregister_algorithm(repo)
