"""Which labs practise which MLA-C02 skills: requirements, drills and exam-angle questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllab.study.bank import SKILLS, load_bank
from mllab.study.labmap import (
    TARGET_NEW_BY_REQUIREMENT,
    lab_quiz_ids,
    lab_skills,
    practice,
    solutions_dir,
)


def _notebook(path: Path, *cells: str) -> None:
    nb = {
        "cells": [{"cell_type": "code", "source": c.splitlines(keepends=True)} for c in cells]
        + [{"cell_type": "markdown", "source": ['requirement(lab, "prose", mla2=["9.9.9"])']}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _notebook(
        tmp_path / "07_sample_lab.ipynb",
        'with requirement(lab, "stream", mla2=["1.1.4", "4.2.4"], mla=["1.1"]) as req:\n    pass',
        "with requirement(\n    lab,\n    'agent',\n    mla2=['3.1.6'],\n) as req:\n    pass",
        'from mllab.study import quiz\nquiz(ids=["q-1", "q-2", "q-missing"])',
    )
    return tmp_path


class _Q:
    def __init__(self, qid: str, mla2: tuple[str, ...]) -> None:
        self.id, self.mla2 = qid, mla2


def test_requirements_quizzes_and_markdown_are_told_apart(folder: Path) -> None:
    lab_skills.cache_clear()
    lab_quiz_ids.cache_clear()
    reqs = lab_skills(str(folder))
    assert reqs["1.1.4"] == ["07-sample-lab#stream"]
    assert reqs["3.1.6"] == ["07-sample-lab#agent"]
    assert "9.9.9" not in reqs  # markdown is prose, not a requirement
    assert lab_quiz_ids(str(folder)) == {"07-sample-lab": ["q-1", "q-2", "q-missing"]}

    p = practice([_Q("q-1", ("2.3.7",)), _Q("q-2", ("3.1.6", "1.1.8"))], str(folder))
    assert p.requirements["3.1.6"] == ["07-sample-lab#agent"]
    assert p.quizzes == {
        "2.3.7": ["07-sample-lab#quiz-q-1"],
        "3.1.6": ["07-sample-lab#quiz-q-2"],
        "1.1.8": ["07-sample-lab#quiz-q-2"],
    }
    # 3.1.6 and 1.1.8 are new skills; only 3.1.6 has a requirement.
    assert p.new_by_requirement() == ["3.1.6"]
    assert set(p.touched()) == {"1.1.4", "4.2.4", "3.1.6", "2.3.7", "1.1.8"}
    text = "\n".join(p.lines())
    assert f"new skills practised by a lab requirement: 1 of {len(p.new)}" in text
    assert f"5 of {len(SKILLS)}" in text
    assert "new skills met only in drills or exam-angle questions: 1.1.8" in text
    assert "practised by no lab: 1.1.1, 1.1.2" in text


@pytest.mark.skipif(not solutions_dir().is_dir(), reason="needs the repository's solutions/")
def test_the_labs_practise_35_new_skills_by_requirement_and_touch_all_107() -> None:
    p = practice(load_bank())
    untouched = [s for s in p.skills if s not in set(p.touched())]
    assert len(p.new_by_requirement()) >= TARGET_NEW_BY_REQUIREMENT, "\n".join(p.lines())
    assert not untouched, "\n".join(p.lines())
