"""Shared fixtures for the study-system tests.

Every test runs with a temporary ``MLLAB_HOME``; tests that need questions use a generated
fixture bank (``MLLAB_QUESTION_BANK``) so they do not depend on the real bank being finished.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
try:  # the package may not be installed in the venv yet
    import mllab  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(ROOT / "helpers"))

from mllab.study.bank import SKILLS, TASKS  # noqa: E402

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

MLS_TASKS = list(TASKS["mls-c01"])
MLA_TASKS = list(TASKS["mla-c01"])
FILES = {
    1: "d1-data-engineering.yaml",
    2: "d2-eda.yaml",
    3: "d3-modeling.yaml",
    4: "d4-ml-ops.yaml",
}


class FakeClock:
    """A clock that returns ``start``, then advances after every call.

    The advance is the next entry of ``steps`` (seconds) while there is one, then ``step``.
    The exam reads the clock once at start and once after every input line, so the steps
    are the seconds "spent" before each line.
    """

    def __init__(self, start: datetime = T0, step: float = 0.0, steps: list[float] | None = None):
        self.t = start
        self.step = step
        self.steps = list(steps or [])
        self.calls = 0

    def __call__(self) -> datetime:
        now = self.t
        delta = self.steps.pop(0) if self.steps else self.step
        self.t = self.t + timedelta(seconds=delta)
        self.calls += 1
        return now


def skill_for(task: str, k: int) -> str:
    """An MLA-C02 skill of the C02 task that ``task`` (an MLA-C01 task) maps to, round-robin."""
    skills = [s for s in SKILLS if s.startswith(task + ".")]
    return skills[k % len(skills)]


def make_records(per_task: int = 8) -> dict[int, list[dict]]:
    """Generate valid questions: ``per_task`` per MLS task, MLA tags round-robin.

    Question k (0-based overall) has answer ``"ABCD"[k % 4]``; every fifth is multiple-response
    with answer ``[that letter, the next]`` and five options.
    """
    out: dict[int, list[dict]] = {1: [], 2: [], 3: [], 4: []}
    k = 0
    for task in MLS_TASKS:
        d = int(task[0])
        for j in range(per_task):
            multi = k % 5 == 4
            letters = "ABCDE" if multi else "ABCD"
            first = "ABCD"[k % 4]
            answer = [first, letters[letters.index(first) + 1]] if multi else [first]
            stem = (
                f"Scenario {k}: a retail team working on task statement {task} (variant {j}) "
                "has a requirement about its machine-learning pipeline on AWS and must pick the "
                "best approach. What should the team do?" + (" Choose TWO." if multi else "")
            )
            n = len(out[d]) + 1
            out[d].append(
                {
                    "id": f"d{d}-{n:03d}",
                    "stem": stem,
                    "options": {x: f"Option {x} for scenario {k}" for x in letters},
                    "answer": answer,
                    "explanations": {
                        x: f"{'Right' if x in answer else 'Wrong'}: reason {x} for scenario {k}."
                        for x in letters
                    },
                    "mls": [task],
                    "mla": [MLA_TASKS[k % len(MLA_TASKS)]],
                    "mla2": [skill_for(MLA_TASKS[k % len(MLA_TASKS)], k)],
                    "services": ["Amazon SageMaker"],
                    "lab": f"0{d}-lab#req{j % 3}",
                    "refs": ["https://docs.aws.amazon.com/sagemaker/latest/dg/whatis.html"],
                }
            )
            k += 1
    return out


def write_bank(folder: Path, records: dict[int, list[dict]] | None = None) -> Path:
    """Write a bank folder (one YAML file per domain)."""
    folder.mkdir(parents=True, exist_ok=True)
    for d, recs in (records or make_records()).items():
        (folder / FILES[d]).write_text(yaml.safe_dump(recs, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def mllab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MLLAB_HOME for every test (and the Agg backend for charts)."""
    home = tmp_path / "home"
    monkeypatch.setenv("MLLAB_HOME", str(home))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return home


@pytest.fixture
def gen_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A generated valid bank (120 questions) installed as MLLAB_QUESTION_BANK."""
    folder = write_bank(tmp_path / "bank")
    monkeypatch.setenv("MLLAB_QUESTION_BANK", str(folder))
    return folder
