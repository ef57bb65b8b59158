"""The exam catalogue: exams, forms, domains, weights, tasks and skills (introduced in lab 00).

The data lives in ``study/exams.yaml`` (one file, with its sources and the date it was checked).
MLA-C02 is the default exam; MLA-C01 and MLS-C01 stay as legacy exams so a learner's past
attempts, audits and exams remain readable. MLA-C02's task statements map one to one onto
MLA-C01's (AWS's own recategorisation), so a C01 task result counts for the C02 task with
the same number.

Reading the catalogue costs one small YAML parse at import; nothing is created or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_FILE = Path(__file__).with_name("exams.yaml")


@dataclass(frozen=True)
class Form:
    """One sittable form of an exam (e.g. MLA-C02's beta or standard form)."""

    name: str
    questions: int
    minutes: int
    assumed: bool = False
    note: str = ""


@dataclass(frozen=True)
class Skill:
    """One MLA-C02 skill (e.g. ``2.3.8``)."""

    id: str
    text: str
    new: bool

    @property
    def task(self) -> str:
        """The task statement: the first two numbers (``2.3.8`` -> ``2.3``)."""
        return task_of_skill(self.id)


@dataclass(frozen=True)
class Exam:
    """One exam of the catalogue."""

    code: str
    name: str
    status: str
    status_note: str
    dates: dict[str, date]
    source: str
    pass_mark: int
    default_form: str
    forms: dict[str, Form]
    domains: dict[int, str]
    weights: dict[int, int]
    tasks: dict[str, str]
    skills: dict[str, Skill] = field(default_factory=dict)
    maps_from: dict[str, str] = field(default_factory=dict)

    def form(self, name: str | None = None) -> Form:
        """Return a form by name (default: the exam's default form).

        Args:
            name: ``beta`` or ``standard`` (any case), or None.

        Returns:
            The form.

        Raises:
            ValueError: the exam has no such form (the message lists the forms it has).
        """
        key = (name or self.default_form).strip().lower()
        if key not in self.forms:
            raise ValueError(
                f"{self.code} has no form {name!r}; use one of {', '.join(self.forms)}"
            )
        return self.forms[key]


def task_of_skill(skill: str) -> str:
    """Return the task statement of a skill id (``"3.2.10"`` -> ``"3.2"``).

    Args:
        skill: a skill id.

    Returns:
        The first two numbers.
    """
    return ".".join(skill.split(".")[:2])


@cache
def load_catalogue(path: Path | str | None = None) -> dict[str, Exam]:
    """Parse ``exams.yaml`` (cached).

    Args:
        path: another catalogue file (tests); default the packaged one.

    Returns:
        ``{code: Exam}`` in catalogue order (the default exam first).
    """
    data: dict[str, Any] = yaml.safe_load(Path(path or CATALOGUE_FILE).read_text(encoding="utf-8"))
    out: dict[str, Exam] = {}
    for code, e in data["exams"].items():
        domains = {int(d): str(v["name"]) for d, v in e["domains"].items()}
        weights = {int(d): int(v["weight"]) for d, v in e["domains"].items()}
        forms = {
            str(n): Form(
                name=str(n),
                questions=int(f["questions"]),
                minutes=int(f["minutes"]),
                assumed=bool(f.get("assumed", False)),
                note=str(f.get("note", "")),
            )
            for n, f in e["forms"].items()
        }
        skills = {
            str(s): Skill(id=str(s), text=str(v["text"]), new=bool(v["new"]))
            for s, v in (e.get("skills") or {}).items()
        }
        out[code] = Exam(
            code=code,
            name=str(e["name"]),
            status=str(e["status"]),
            status_note=str(e["status_note"]),
            dates={str(k): v for k, v in (e.get("dates") or {}).items()},
            source=str(e["source"]),
            pass_mark=int(e["pass_mark"]),
            default_form=str(e["default_form"]),
            forms=forms,
            domains=domains,
            weights=weights,
            tasks={str(t): str(v) for t, v in e["tasks"].items()},
            skills=skills,
            maps_from={str(k): str(v) for k, v in (e.get("maps_from_mla_c01") or {}).items()},
        )
    default = str(data["default"])
    return {default: out[default], **{k: v for k, v in out.items() if k != default}}


def default_exam() -> str:
    """Return the default exam code (``mla-c02``)."""
    return next(iter(load_catalogue()))


def exam_list_lines() -> list[str]:
    """Return the lines ``mllab exam --list`` prints: every exam, its status, dates and forms.

    Returns:
        Plain-text lines.
    """
    lines = []
    for code, e in load_catalogue().items():
        lines.append(f"{code}  {e.name}  [{e.status}]")
        lines.append(f"    {e.status_note}")
        for name, f in e.forms.items():
            tag = " (time assumed)" if f.assumed else ""
            default = " (default)" if name == e.default_form else ""
            lines.append(
                f"    form {name}{default}: {f.questions} questions, {f.minutes} minutes{tag}"
            )
            if f.note:
                lines.append(f"      {f.note}")
        weights = "/".join(str(e.weights[d]) for d in sorted(e.weights))
        lines.append(
            f"    domains {weights}; {len(e.tasks)} task statements; pass mark {e.pass_mark}"
        )
        if e.skills:
            new = sum(s.new for s in e.skills.values())
            lines.append(f"    {len(e.skills)} skills ({new} new in this version)")
        lines.append(f"    source: {e.source}")
    return lines
