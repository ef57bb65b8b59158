"""docs/lab-template.ipynb is a working lab: it passes the same tests as every lab source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mllab.workbook.notebook import dumps, read
from tests.notebooks import test_execute, test_static
from tests.notebooks.conftest import ROOT

TEMPLATE = ROOT / "docs" / "lab-template.ipynb"


@pytest.fixture
def template_source(tmp_path: Path) -> Path:
    if not TEMPLATE.exists():
        pytest.skip("docs/lab-template.ipynb is missing")
    target = tmp_path / "solutions" / "99_template.ipynb"
    target.parent.mkdir()
    shutil.copy(TEMPLATE, target)
    return target


def test_template_is_clean_and_stable() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert dumps(read(TEMPLATE)) == text, "save the template with mllab.workbook.notebook.dumps"


def test_template_anatomy(template_source: Path) -> None:
    test_static.test_lab_anatomy(template_source)
    test_static.test_no_solution_line_in_learner_copy(template_source)


@pytest.mark.notebook
def test_template_solution(template_source: Path, tmp_path: Path) -> None:
    test_execute.test_solution_passes_every_check_at_its_stated_cost(template_source, tmp_path)


@pytest.mark.notebook
def test_template_learner_copy(template_source: Path, tmp_path: Path) -> None:
    test_execute.test_learner_copy_stops_at_a_stub(template_source, tmp_path)
