"""Which lab requirements practise which MLA-C02 skills (``mllab bank --coverage``, study next).

Three sources, read as text (nothing is executed):

- the solution notebooks' ``requirement(lab, "key", ..., mla2=["1.1.4", ...])`` calls (a check
  that reads the state the learner built);
- the drills' answer key (``mllab/checks/choices.json``): an entry with ``mla2`` tags counts for
  the lab whose notebook calls ``checks.choice("<id>", ...)`` (requirement ``choice-<id>``);
- the exam-angle cells' ``quiz(ids=[...])``: each question's ``mla2`` tags count for its lab
  (``quiz-<id>``), read with the bank (:func:`practice`).

Reading costs one pass over the notebooks (cached per process); nothing is created or deleted.
Introduced with lab 00's study tools.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_REQ = re.compile(r"requirement\(\s*lab\s*,\s*([\"'])([^\"']+)\1(?P<rest>[^)]*)\)")
_MLA2 = re.compile(r"mla2\s*=\s*(\[[^\]]*\])")
_CHOICE = re.compile(r"choice\(\s*([\"'])([^\"']+)\1")
_QUIZ = re.compile(r"quiz\(\s*ids\s*=\s*(\[[^\]]*\])")
#: The issue-14 target: new C02 skills practised by a lab requirement whose check reads state.
TARGET_NEW_BY_REQUIREMENT = 35


def solutions_dir() -> Path:
    """Return the repository's ``solutions/`` folder (may not exist in an installed package)."""
    return Path(__file__).resolve().parents[3] / "solutions"


def _lab_name(notebook: Path) -> str:
    # 01_data_engineering.ipynb -> 01-data-engineering (the name checks record).
    return notebook.stem.replace("_", "-")


def _source(notebook: Path) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(c.get("source", [])) if isinstance(c.get("source"), list) else str(c["source"])
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    )


def _skills(text: str) -> list[str]:
    m = _MLA2.search(text)
    if not m:
        return []
    try:
        value = ast.literal_eval(m.group(1))
    except (ValueError, SyntaxError):
        return []  # e.g. mla2=[...] in prose
    return [str(s) for s in value if isinstance(s, str)]


@cache
def lab_skills(folder: str | None = None) -> dict[str, list[str]]:
    """Map every MLA-C02 skill to the lab requirements that practise it.

    Args:
        folder: the notebooks folder (default: the repository's ``solutions/``).

    Returns:
        ``{"1.1.4": ["01-data-engineering#stream", ...]}``; empty when no notebook is found.
    """
    base = Path(folder) if folder else solutions_dir()
    out: dict[str, list[str]] = {}
    if not base.is_dir():
        return out
    try:
        from mllab.checks.choices import KEY_FILE

        key = json.loads(Path(KEY_FILE).read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):
        key = {}
    for nb in sorted(base.glob("*.ipynb")):
        try:
            src = _source(nb)
        except (OSError, ValueError):
            continue
        lab = _lab_name(nb)
        for m in _REQ.finditer(src):
            for sk in _skills(m.group("rest")):
                ref = f"{lab}#{m.group(2)}"
                if ref not in out.setdefault(sk, []):
                    out[sk].append(ref)
        for m in _CHOICE.finditer(src):
            entry = key.get(m.group(2))
            if isinstance(entry, dict):
                for sk in entry.get("mla2") or []:
                    ref = f"{lab}#choice-{m.group(2)}"
                    if ref not in out.setdefault(str(sk), []):
                        out[str(sk)].append(ref)
    return out


@cache
def lab_quiz_ids(folder: str | None = None) -> dict[str, list[str]]:
    """Map every lab to the question ids its exam-angle cells quiz.

    Args:
        folder: the notebooks folder (default: the repository's ``solutions/``).

    Returns:
        ``{"03-modeling": ["d3-018", ...]}``; labs without a ``quiz(ids=[...])`` are left out.
    """
    base = Path(folder) if folder else solutions_dir()
    out: dict[str, list[str]] = {}
    if not base.is_dir():
        return out
    for nb in sorted(base.glob("*.ipynb")):
        try:
            src = _source(nb)
        except (OSError, ValueError):
            continue
        for m in _QUIZ.finditer(src):
            try:
                ids = ast.literal_eval(m.group(1))
            except (ValueError, SyntaxError):
                continue
            for qid in ids:
                if isinstance(qid, str) and qid not in out.setdefault(_lab_name(nb), []):
                    out[_lab_name(nb)].append(qid)
    return out


@dataclass(frozen=True)
class Practice:
    """How the labs practise the MLA-C02 skills (``mllab bank --coverage``'s last section)."""

    #: skill -> lab requirements whose check reads state (``lab#key``).
    requirements: dict[str, list[str]]
    #: skill -> drills answered by choice (``lab#choice-id``).
    drills: dict[str, list[str]]
    #: skill -> exam-angle questions (``lab#quiz-id``).
    quizzes: dict[str, list[str]]
    #: all skills and the new ones, from the catalogue.
    skills: tuple[str, ...]
    new: tuple[str, ...]

    def touched(self) -> list[str]:
        """Skills practised by a requirement, a drill or an exam-angle question."""
        return [
            s
            for s in self.skills
            if self.requirements.get(s) or self.drills.get(s) or self.quizzes.get(s)
        ]

    def new_by_requirement(self) -> list[str]:
        """New C02 skills practised by a lab requirement (target: ``TARGET_NEW_BY_REQUIREMENT``)."""
        return [s for s in self.new if self.requirements.get(s)]

    def lines(self) -> list[str]:
        """The report's text lines."""
        touched = set(self.touched())
        new_req = self.new_by_requirement()
        lines = [
            "Lab practice (requirement = a check that reads the state you built; drill; exam angle):",
            f"  new skills practised by a lab requirement: {len(new_req)} of {len(self.new)} "
            f"(target {TARGET_NEW_BY_REQUIREMENT})",
            f"  skills practised by a requirement, drill or exam-angle question: "
            f"{len(touched)} of {len(self.skills)} (target {len(self.skills)})",
        ]
        untouched = [s for s in self.skills if s not in touched]
        if untouched:
            lines.append(f"  practised by no lab: {', '.join(untouched)}")
        only_quiz = [s for s in self.new if s in touched and s not in new_req]
        if only_quiz:
            lines.append(
                f"  new skills met only in drills or exam-angle questions: {', '.join(only_quiz)}"
            )
        return lines


def practice(bank: Any, folder: str | None = None) -> Practice:
    """Collect how the solution notebooks practise each MLA-C02 skill.

    Args:
        bank: a loaded :class:`mllab.study.bank.Bank` (maps exam-angle question ids to skills).
        folder: the notebooks folder (default: the repository's ``solutions/``).

    Returns:
        A :class:`Practice` (reads notebooks as text; nothing is created or deleted).
    """
    from mllab.study.bank import SKILLS

    reqs: dict[str, list[str]] = {}
    drills: dict[str, list[str]] = {}
    for sk, refs in lab_skills(folder).items():
        for ref in refs:
            (drills if "#choice-" in ref else reqs).setdefault(sk, []).append(ref)
    quizzes: dict[str, list[str]] = {}
    by_id = {q.id: q for q in bank}
    for lab, ids in lab_quiz_ids(folder).items():
        for qid in ids:
            q = by_id.get(qid)
            for sk in q.mla2 if q is not None else ():
                quizzes.setdefault(sk, []).append(f"{lab}#quiz-{qid}")
    return Practice(
        requirements=reqs,
        drills=drills,
        quizzes=quizzes,
        skills=tuple(SKILLS),
        new=tuple(s for s, info in SKILLS.items() if info.new),
    )
