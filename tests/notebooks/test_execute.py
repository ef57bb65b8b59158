"""Every lab both ways: the solution passes every check (at its stated cost), the learner copy
stops at a stub and never passes a check it has not earned."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mllab.workbook import cost_matches, lab_facts, measured_cost
from mllab.workbook.execute import execute
from mllab.workbook.notebook import has_solution, learner_copy, read
from tests.notebooks.conftest import CELL_TIMEOUT, lab_params, report_timing

pytestmark = pytest.mark.notebook


def _nbval_results(lab: str | None) -> tuple[Path, list[dict[str, object]]] | None:
    """The results of this lab's run under ``pytest --nbval-lax solutions/``, when there was one.

    ``make test`` first executes every solution under nbval with ``MLLAB_NBVAL_HOME`` as the
    kernels' ``$MLLAB_HOME``, then runs this suite with the same variable: the solution test
    then checks that run's recorded results and ledger instead of executing the lab again.
    """
    home = os.environ.get("MLLAB_NBVAL_HOME")
    if not home or not lab or not (Path(home) / "study.sqlite").exists():
        return None
    from mllab.study.store import Store

    with Store(Path(home) / "study.sqlite") as store:
        rows = [r for r in store.lab_results() if r["lab"] == lab]
    return (Path(home), rows) if rows else None


@pytest.mark.parametrize("source", lab_params())
def test_solution_passes_every_check_at_its_stated_cost(source: Path, tmp_path: Path) -> None:
    nb = read(source)
    facts = lab_facts(nb)
    assert facts["lab"], (
        f"{source.name}: the first code cell must open the lab: lab = Lab('NN-name')"
    )
    earlier = _nbval_results(facts["lab"])
    if earlier is not None:
        home, rows = earlier
        misses = [(r["requirement"], r["detail"]) for r in rows if not r["passed"]]
        assert not misses, (
            f"{source.name}: checks missed in the nbval run of the solution: {misses}"
        )
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        expected = set(re.findall(r"requirement\(\s*lab\s*,\s*[\"']([^\"']+)[\"']", code))
        missing = sorted(expected - {str(r["requirement"]) for r in rows})
        assert not missing, (
            f"{source.name}: the nbval run recorded no result for {missing}: it stopped early"
        )
    else:
        home = tmp_path / "home"
        run = execute(source, home=home, cwd=tmp_path, timeout=CELL_TIMEOUT, nb=nb)
        report_timing(run, "solution")
        assert run.error is None, run.describe_error()
        misses_ = [r for r in run.results if r[0] == "MISS"]
        assert not misses_, f"{source.name}: checks missed in the solution: {misses_}"
        passes = [r for r in run.results if r[0] == "PASS"]
        assert passes, (
            f"{source.name}: the solution ran but no check printed a PASS line; every "
            "requirement needs a check cell (mllab.checks.requirement)"
        )
    measured = measured_cost(facts["lab"], home=home)
    stated = facts["cost_usd_text"]
    assert stated is not None, (
        f"{source.name}: the opening markdown must state '**Cost on AWS:** about $X.XX'; "
        f"this run measured ${measured:.2f}"
    )
    assert facts["cost_usd_meta"] == stated, (
        f"{source.name}: notebook metadata mllab.cost_usd ({facts['cost_usd_meta']}) differs "
        f"from the opening markdown's ${stated}"
    )
    assert cost_matches(stated, measured), (
        f"{source.name}: states '**Cost on AWS:** about ${stated:.2f}' but running the solution "
        f"measured ${measured:.4f} (sum of the guard's ledger estimates); update both the "
        f"markdown and metadata mllab.cost_usd to {measured:.2f}"
    )


@pytest.mark.parametrize("source", lab_params())
def test_learner_copy_stops_at_a_stub(source: Path, tmp_path: Path) -> None:
    solution = read(source)
    assert any(has_solution(c.source) for c in solution.cells if c.cell_type == "code"), (
        f"{source.name}: no ### BEGIN SOLUTION block: a lab needs at least one learner task"
    )
    nb = learner_copy(solution, str(source))
    target = tmp_path / source.name
    run = execute(target, home=tmp_path / "home", cwd=tmp_path, timeout=CELL_TIMEOUT, nb=nb)
    report_timing(run, "learner")
    err = run.error
    assert err is not None, f"{source.name}: the learner copy ran to the end without an error"
    assert err.error is not None
    assert err.error[0] == "NotImplementedError", (
        "the first error in the learner copy must be the NotImplementedError of a stub; got\n"
        + run.describe_error()
    )
    stub_seen = False
    for cell in run.cells:
        if cell.stub:
            stub_seen = True
        passed = [key for verdict, key, _ in cell.results if verdict == "PASS"]
        assert not (stub_seen and passed), (
            f"{source.name}: code cell {cell.index + 1} printed PASS for {passed} after a stub "
            "ran: the check accepts state the learner has not created"
        )
    assert stub_seen, (
        f"{source.name}: NotImplementedError came from a cell that is not a stub:\n"
        + run.describe_error()
    )
