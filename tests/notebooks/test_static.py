"""Fast notebook checks (no kernel): labs/ in sync, no outputs committed, no leaked solution,
and each lab source follows the anatomy in docs/lab-style.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mllab.workbook import lab_facts
from mllab.workbook.generate import lab_sources, plan
from mllab.workbook.notebook import BEGIN_CODE, END_CODE, learner_copy, read, solution_lines
from tests.notebooks.conftest import LABS, NO_LABS, ROOT, SOLUTIONS, lab_params


def _committed_notebooks() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.ipynb"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sorted(ROOT / line for line in out.splitlines() if line.strip())
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            p for p in ROOT.rglob("*.ipynb") if ".venv" not in p.parts and ".git" not in p.parts
        )


def test_labs_in_sync_with_solutions() -> None:
    if not lab_sources(SOLUTIONS) and not (LABS.is_dir() and any(LABS.glob("*.ipynb"))):
        pytest.skip(NO_LABS)
    _, changes = plan(SOLUTIONS, LABS)
    assert not changes, "labs/ is out of date; run `make labs`:\n" + "\n".join(
        f"  {c.action} {c.path.relative_to(ROOT)}" for c in changes
    )


def test_no_notebook_has_outputs_or_execution_counts() -> None:
    found = [p for p in _committed_notebooks() if p.exists()]
    if not found:
        pytest.skip("no notebooks in the repository yet")
    dirty = []
    for path in found:
        nb = read(path)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(f"{path.relative_to(ROOT)} cell {i + 1}")
    assert not dirty, (
        "notebooks are committed without outputs or execution counts; clear them "
        "(solutions: Edit > Clear Outputs of All Cells, then `make labs`):\n  " + "\n  ".join(dirty)
    )


def _outside_blocks(source_nb) -> set[str]:  # type: ignore[no-untyped-def]
    lines: set[str] = set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if BEGIN_CODE.match(line):
                inside = True
            elif END_CODE.match(line):
                inside = False
            elif not inside:
                lines.add(line.strip())
    return lines


@pytest.mark.parametrize("source", lab_params())
def test_no_solution_line_in_learner_copy(source: Path) -> None:
    solution = read(source)
    learner = learner_copy(solution, str(source))
    given = _outside_blocks(solution)
    learner_lines = {
        line.strip() for c in learner.cells for line in c.source.split("\n") if line.strip()
    }
    leaked = [s for s in solution_lines(solution) if s in learner_lines and s not in given]
    assert not leaked, f"{source.name}: solution lines leak into the learner copy: {leaked[:5]}"


@pytest.mark.parametrize("source", lab_params())
def test_lab_anatomy(source: Path) -> None:
    """The opening cells and sections of docs/lab-style.md are present."""
    nb = read(source)
    facts = lab_facts(nb)
    name = source.stem
    problems = []
    if not facts["lab"]:
        problems.append("the first code cell must be: lab = Lab('NN-name')")
    elif not facts["lab"].startswith(name[:2]):
        problems.append(f"Lab({facts['lab']!r}) should start with the file's number {name[:2]}")
    if facts["cost_usd_text"] is None:
        problems.append("opening markdown: '**Cost on AWS:** about $X.XX'")
    if facts["cost_usd_meta"] is None:
        problems.append("notebook metadata: mllab.cost_usd")
    if facts["minutes"] is None:
        problems.append("opening markdown: '**Time:** about N minutes'")
    if not facts["mls"] or not facts["mla"]:
        problems.append(
            "opening markdown: the task statements, e.g. 'MLS-C01 1.2' and 'MLA-C01 1.1'"
        )
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for needle, what in (
        (r"\brequirement\(", "check cells (mllab.checks.requirement)"),
        (r"\bquiz\(", "an exam angle section (mllab.study.quiz(ids=[...]))"),
        (r"\.diagram\(\)", "an architecture diagram (lab.diagram())"),
        (r"\bnothing_billable_left\(", "a cleanup check (mllab.checks.nothing_billable_left)"),
    ):
        if not re.search(needle, code):
            problems.append(what)
    if not re.search(r"(?i)troubleshooting", text):
        problems.append("a troubleshooting drill section (a markdown heading 'Troubleshooting')")
    if "docs.aws.amazon.com" not in text:
        problems.append("links to the AWS documentation in the requirements")
    assert not problems, f"{source.name} misses parts of the lab anatomy:\n  - " + "\n  - ".join(
        problems
    )
