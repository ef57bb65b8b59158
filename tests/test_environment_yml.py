"""environment.yml (conda-forge) lists the same dependencies as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {
    "xgboost-cpu": "py-xgboost-cpu",
    "duckdb": "python-duckdb",
    "matplotlib": "matplotlib-base",
    "types-PyYAML": "types-pyyaml",
}
#: Taken from PyPI through the pip section.
PIP_ONLY = {
    "sagemaker",
    "wordllama",
    "sacrebleu",
    "rouge-score",
    "strands-agents",
    "bedrock-agentcore",
    "mcp",
    "opensearch-py",
    "mlflow",
    "pypdf",
    "langchain-aws",
}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req.strip())
    assert m, req
    return m.group(1), m.group(3).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"]) + list(
        data["project"]["optional-dependencies"]["dev"]
    )
    return dict(_split(r) for r in reqs)


def _environment() -> tuple[dict[str, str], dict[str, str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda: dict[str, str] = {}
    pip: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for p in dep["pip"]:
                if not p.startswith("-"):
                    name, spec = _split(p)
                    pip[name] = spec
        else:
            name, spec = _split(dep)
            conda[name] = spec
    return conda, pip


def test_channels_are_conda_forge_only() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]


def test_every_pyproject_dependency_is_in_environment_yml_with_the_same_bounds() -> None:
    conda, pip = _environment()
    missing, differing = [], []
    for name, spec in _pyproject().items():
        if name in PIP_ONLY:
            where, key = pip, name
        else:
            where, key = conda, CONDA_NAME.get(name, name).lower()
        if key not in where:
            missing.append(f"{name} (as {key})")
        elif where[key] != spec:
            differing.append(f"{name}: pyproject {spec!r} vs environment.yml {where[key]!r}")
    assert not missing, f"missing from environment.yml: {missing}"
    assert not differing, f"version bounds differ: {differing}"


def test_environment_yml_has_nothing_pyproject_lacks() -> None:
    conda, pip = _environment()
    known = {CONDA_NAME.get(n, n).lower() for n in _pyproject()} | {"python", "pip"}
    extra = sorted(set(conda) - known) + sorted(set(pip) - set(_pyproject()))
    assert not extra, f"environment.yml lists packages pyproject.toml does not: {extra}"
