"""make labs: stubs at the block's indentation, clean, deterministic, --check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllab.workbook import cost_matches, find_lab, lab_facts
from mllab.workbook.generate import main
from mllab.workbook.notebook import (
    MarkerError,
    learner_copy,
    read,
    solution_blocks,
    solution_lines,
    strip_markdown,
    stub_code,
)
from tests.workbook.sample import sample_notebook, write_sample


def test_stub_keeps_indentation_and_surrounding_code() -> None:
    src = "a = 1\ndef f():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\nf()"
    assert stub_code(src) == (
        "a = 1\ndef f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\nf()"
    )


def test_several_blocks_and_no_block() -> None:
    src = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\ny = 2\n  ### BEGIN SOLUTION\n  z\n  ### END SOLUTION"
    out = stub_code(src)
    assert out.count("raise NotImplementedError()") == 2
    assert "  # YOUR CODE HERE" in out and "y = 2" in out and "x = 1" not in out
    assert stub_code("plain = 1") == "plain = 1"


@pytest.mark.parametrize(
    "src",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_errors(src: str) -> None:
    with pytest.raises(MarkerError):
        solution_blocks(src, "lab cell 3")


def test_markdown_solution_regions_are_removed() -> None:
    md = "Intro\n<!-- BEGIN SOLUTION -->\nAnswer: B\n<!-- END SOLUTION -->\nOutro"
    assert strip_markdown(md) == "Intro\n\nOutro"
    with pytest.raises(MarkerError):
        strip_markdown("a <!-- BEGIN SOLUTION --> b")


def test_learner_copy_is_clean() -> None:
    nb = learner_copy(sample_notebook(with_outputs=True))
    assert set(nb.metadata) == {"kernelspec", "language_info", "mllab"}
    assert nb.metadata.kernelspec.name == "python3"
    assert [c.id for c in nb.cells] == [f"cell-{i}" for i in range(6)]
    for c in nb.cells:
        assert "collapsed" not in c.metadata
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None
    text = json.dumps(nb)
    assert "s3.put_object" not in text and "Use put_object twice" not in text
    assert "raise NotImplementedError()" in nb.cells[3].source


def test_generate_is_byte_identical_and_check_detects_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sols, labs = tmp_path / "solutions", tmp_path / "labs"
    write_sample(sols, with_outputs=True)
    assert main([str(sols), str(labs), "--check"]) == 1
    assert "create" in capsys.readouterr().out
    assert main([str(sols), str(labs)]) == 0
    first = (labs / "99_sample.ipynb").read_bytes()
    assert main([str(sols), str(labs)]) == 0
    assert (labs / "99_sample.ipynb").read_bytes() == first
    assert main([str(sols), str(labs), "--check"]) == 0
    (labs / "99_sample.ipynb").write_text(first.decode().replace("YOUR CODE", "MY CODE"))
    (labs / "42_stale.ipynb").write_text("{}")
    assert main([str(sols), str(labs), "--check"]) == 1
    out = capsys.readouterr().out
    assert "update  " in out and "99_sample" in out and "delete  " in out and "42_stale" in out
    assert main([str(sols), str(labs)]) == 0
    assert not (labs / "42_stale.ipynb").exists()
    assert (labs / "99_sample.ipynb").read_bytes() == first


def test_cell_ids_are_derived_when_missing(tmp_path: Path) -> None:
    nb = sample_notebook()
    for c in nb.cells:
        c.id = "dup"
    a = learner_copy(nb)
    b = learner_copy(nb)
    assert [c.id for c in a.cells] == [c.id for c in b.cells]
    assert len({c.id for c in a.cells}) == len(a.cells)


def test_solution_lines_skip_trivial_lines() -> None:
    lines = solution_lines(sample_notebook())
    assert any("s3.put_object" in line for line in lines)
    assert all(not line.startswith("#") for line in lines)


def test_lab_facts_and_cost_tolerance(tmp_path: Path) -> None:
    facts = lab_facts(read(write_sample(tmp_path)))
    assert facts["lab"] == "99-sample"
    assert facts["cost_usd_text"] == 0.0 and facts["cost_usd_meta"] == 0.0
    assert facts["minutes"] == 5 and facts["mls"] == ["1.1"] and facts["mla"] == ["1.1"]
    assert cost_matches(0.42, 0.45) and cost_matches(0.0, 0.009)
    assert not cost_matches(0.42, 0.60)


def test_find_lab_by_number_or_name(tmp_path: Path) -> None:
    write_sample(tmp_path, "01_data_engineering.ipynb")
    write_sample(tmp_path, "02_eda.ipynb")
    assert find_lab("01", tmp_path).name == "01_data_engineering.ipynb"
    assert find_lab("1", tmp_path).name == "01_data_engineering.ipynb"
    assert find_lab("01-data-engineering", tmp_path).name == "01_data_engineering.ipynb"
    assert find_lab("02_eda", tmp_path).name == "02_eda.ipynb"
    with pytest.raises(LookupError, match="01_data_engineering, 02_eda"):
        find_lab("07", tmp_path)
