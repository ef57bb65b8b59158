"""mllab run's messages: a multi-line MISS printed whole, solution vs learner copy by what the
notebook holds, and an operation moto does not emulate told apart from a learner's stub."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell

from mllab.cli import main
from mllab.workbook.execute import not_emulated, result_blocks
from mllab.workbook.generate import generate
from tests.workbook.sample import write_sample


def test_result_blocks_keep_the_lines_of_a_miss() -> None:
    text = "noise\nMISS 01-x#teardown: 2 left:\n  - stream 'clicks'\n  - job 'j'\nPASS 01-x#b: ok\nafter\n"
    assert result_blocks(text) == [
        ("MISS", "01-x#teardown", "2 left:\n  - stream 'clicks'\n  - job 'j'"),
        ("PASS", "01-x#b", "ok"),
    ]


def test_not_emulated_names_service_and_operation() -> None:
    src = 'glue = lab.client("glue")\nglue.update_job(JobName="j", JobUpdate={})\n'
    msg = "The update_job action has not been implemented"
    assert not_emulated("NotImplementedError", msg, "", src) == "glue.update_job"
    assert not_emulated("ClientError", f"An error occurred (500): {msg}", "", "") == "update_job"
    assert not_emulated("NotImplementedError", "", "raise NotImplementedError()", src) is None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_sample(tmp_path / "solutions")
    generate(tmp_path / "solutions", tmp_path / "labs")
    return tmp_path


pytestmark = pytest.mark.notebook


def _edit(path: Path, cells: list[str]) -> None:
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[-1:-1] = [new_code_cell(s) for s in cells]
    for i, c in enumerate(nb.cells):
        c.id = f"cell-{i}"
    nbformat.write(nb, str(path))


def test_multi_line_miss_is_printed_whole(repo: Path) -> None:
    _edit(
        repo / "solutions" / "99_sample.ipynb",
        [
            "from mllab.checks import requirement\n"
            'with requirement(lab, "left") as req:\n'
            "    req.expect(False, \"2 leftovers:\\n  - stream 'clicks'\\n  - job 'j'\")"
        ],
    )
    res = CliRunner().invoke(main, ["run", "99", "--solution", "--root", str(repo)])
    assert res.exit_code == 1
    assert "MISS 99-sample#left: 2 leftovers:\n  - stream 'clicks'\n  - job 'j'" in res.output


def test_a_path_is_called_what_it_holds(repo: Path) -> None:
    sol = repo / "solutions" / "99_sample.ipynb"
    res = CliRunner().invoke(main, ["run", str(sol), "--root", str(repo)])
    assert "(solution)" in res.output and "learner copy" not in res.output
    res = CliRunner().invoke(
        main, ["run", str(repo / "labs" / "99_sample.ipynb"), "--root", str(repo)]
    )
    assert "(learner copy)" in res.output


def test_an_operation_moto_lacks_is_not_called_a_stub(repo: Path) -> None:
    _edit(
        repo / "solutions" / "99_sample.ipynb",
        ['glue = lab.client("glue")\nglue.get_job_bookmark(JobName="clicks-daily-sessions")'],
    )
    res = CliRunner().invoke(main, ["run", "99", "--solution", "--root", str(repo)])
    assert res.exit_code == 1
    if "CostGuardError" in res.output:  # a default-deny guard refuses it before moto sees it
        pytest.skip("the guard does not admit glue.GetJobBookmark")
    if "NOT EMULATED" not in res.output and "has not been implemented" not in res.output:
        pytest.skip("moto now emulates GetJobBookmark: nothing to tell apart")
    assert "not emulated offline: glue.get_job_bookmark" in res.output
    assert "a task is not done yet" not in res.output
