"""Question bank: strict schema validation, coverage, and the real bank's minimums."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import FILES, make_records, write_bank

from mllab.study import bank as bank_mod
from mllab.study.bank import BankError, load_bank
from mllab.study.cli import bank as bank_cmd

REAL_DIR = Path(bank_mod.__file__).with_name("questions")
REAL_FILES = sorted(REAL_DIR.glob("*.yaml"))


def test_generated_bank_loads_with_coverage(gen_bank: Path) -> None:
    b = load_bank()
    assert len(b) == 120
    assert sorted(b.files) == sorted(FILES.values())
    cov = b.coverage()
    assert set(cov["mls-c01"]) == set(bank_mod.TASKS["mls-c01"]) and len(cov["mls-c01"]) == 15
    assert len(cov["mla-c01"]) == 12
    assert all(n == 8 for n in cov["mls-c01"].values())
    assert all(n == 10 for n in cov["mla-c01"].values())
    q = b.get("d1-005")
    assert q.multi and q.answer == ("A", "B") and q.is_correct("BA") and not q.is_correct("A")
    # 120 < 160 questions: the minimums check names the shortfall
    problems = b.requirement_problems()
    assert any("120 questions" in p for p in problems)
    assert not any("multiple-response" in p for p in problems)


def _mutate(rec: dict, how: str) -> None:
    if how == "unknown key":
        rec["difficulty"] = "hard"
    elif how == "missing key":
        del rec["refs"]
    elif how == "bad letter":
        rec["options"]["G"] = "seventh"
    elif how == "answer not an option":
        rec["answer"] = ["E"]
    elif how == "missing explanation":
        del rec["explanations"]["C"]
    elif how == "mls task outside":
        rec["mls"] = ["3.6"]
    elif how == "mla task outside":
        rec["mla"] = ["4.4"]
    elif how == "unquoted task":
        rec["mls"] = [1.2]
    elif how == "short stem":
        rec["stem"] = "Too short?"
    elif how == "multi without choose":
        rec["answer"] = ["A", "B"]
    elif how == "no aws doc ref":
        rec["refs"] = ["https://example.com/blog"]
    elif how == "three options":
        rec["options"].pop("D")
        rec["explanations"].pop("D")
        rec["answer"] = ["A"]


EXPECTED = {
    "unknown key": "unknown key(s) difficulty",
    "missing key": "missing key(s) refs",
    "bad letter": "bad option letter 'G'",
    "answer not an option": "answer letter 'E' is not an option",
    "missing explanation": "no explanation for option C",
    "mls task outside": "mls task statement '3.6' is not in MLS-C01",
    "mla task outside": "mla task statement '4.4' is not in MLA-C01",
    "unquoted task": "mls must be a list of task statements",
    "short stem": "a scenario needs >= 120",
    "multi without choose": "stem must say 'Choose TWO.'",
    "no aws doc ref": "docs.aws.amazon.com",
    "three options": "at least four are needed",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_each_schema_violation_is_reported_with_file_and_id(tmp_path: Path, how: str) -> None:
    recs = make_records()
    rec = recs[2][1]  # d2-002, a single-answer question
    assert rec["id"] == "d2-002" and len(rec["answer"]) == 1
    _mutate(rec, how)
    folder = write_bank(tmp_path / "bank", recs)
    with pytest.raises(BankError) as info:
        load_bank(folder)
    problems = info.value.problems
    assert len(problems) >= 1
    assert all(p.startswith("d2-eda.yaml: d2-002: ") for p in problems), problems
    assert any(EXPECTED[how] in p for p in problems), problems
    # non-strict loading skips only the broken question
    assert len(load_bank(folder, strict=False)) == 119


def test_duplicate_ids_and_stems_across_files(tmp_path: Path) -> None:
    recs = make_records()
    dup = copy.deepcopy(recs[1][0])
    dup["id"] = "d3-999"
    recs[3].append(dup)  # same stem as d1-001
    clash = copy.deepcopy(recs[4][1])
    clash["stem"] += " Extra words make the stem different."
    clash["id"] = "d4-001"  # same id as the first d4 question
    recs[4].append(clash)
    folder = write_bank(tmp_path / "bank", recs)
    with pytest.raises(BankError) as info:
        load_bank(folder)
    text = "\n".join(info.value.problems)
    assert (
        "d3-modeling.yaml: d3-999: duplicate stem (same as d1-001 in d1-data-engineering.yaml)"
        in text
    )
    assert "d4-ml-ops.yaml: d4-001: duplicate id (also in d4-ml-ops.yaml)" in text


def test_wrong_id_prefix_and_duplicate_yaml_key(tmp_path: Path) -> None:
    recs = make_records()
    recs[1][0]["id"] = "d2-001"
    folder = write_bank(tmp_path / "bank", recs)
    with pytest.raises(
        BankError, match=r"d1-data-engineering.yaml: d2-001: id 'd2-001' must look like 'd1-NNN'"
    ):
        load_bank(folder)
    text = (folder / FILES[1]).read_text()
    (folder / FILES[1]).write_text(text.replace("  lab:", "  lab: x\n  lab:", 1))
    with pytest.raises(
        BankError, match=r"d1-data-engineering.yaml: not valid YAML: .*duplicate key 'lab'"
    ):
        load_bank(folder)


def test_bank_cli_prints_coverage_table(gen_bank: Path) -> None:
    result = CliRunner().invoke(bank_cmd, ["--coverage"])
    assert result.exit_code == 0, result.output
    assert "120 questions in 4 file(s)" in result.output
    rows = [
        line for line in result.output.splitlines() if line.startswith(("mls-c01 ", "mla-c01 "))
    ]
    assert len(rows) == 27
    assert any(r.split()[:3] == ["mls-c01", "3.5", "8"] for r in rows)
    check = CliRunner().invoke(bank_cmd, ["--check"])
    assert check.exit_code == 1 and "needs >= 160" in check.output


def test_bank_cli_reports_invalid_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = make_records()
    recs[3][2]["answer"] = ["F"]
    monkeypatch.setenv("MLLAB_QUESTION_BANK", str(write_bank(tmp_path / "bank", recs)))
    result = CliRunner().invoke(bank_cmd, [])
    assert result.exit_code == 1
    assert "d3-modeling.yaml: d3-003: answer letter 'F' is not an option" in result.output


# -- the real bank ----------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_FILES, reason="no question files in mllab/study/questions yet")
def test_real_bank_files_are_valid_yaml_lists() -> None:
    """Whatever files exist already must pass the strict schema."""
    for path in REAL_FILES:
        assert isinstance(yaml.safe_load(path.read_text(encoding="utf-8")) or [], list), path.name
    load_bank(REAL_DIR)


@pytest.mark.skipif(
    len(REAL_FILES) < 4,
    reason=f"the real bank has {len(REAL_FILES)} of 4 domain files; coverage is checked once all exist",
)
def test_real_bank_meets_minimums() -> None:
    b = load_bank(REAL_DIR)
    assert b.requirement_problems() == []
    assert len(b) >= 160
    assert sum(q.multi for q in b) >= 15
    for exam, counts in b.coverage().items():
        assert len(counts) == (15 if exam == "mls-c01" else 12)
        assert min(counts.values()) >= 5, (exam, counts)


@pytest.mark.skipif(len(REAL_FILES) < 4, reason="the real bank is not complete yet")
@pytest.mark.parametrize("exam", ["mls-c01", "mla-c01"])
def test_real_bank_supports_a_full_exam_draw(exam: str) -> None:
    from mllab.study.exam import allocate, draw_exam

    b = load_bank(REAL_DIR)
    qs, note = draw_exam(b, exam, seed=1)
    assert len(qs) == 65 and note == ""
    counts = {d: sum(1 for q in qs if q.domain(exam) == d) for d in range(1, 5)}
    assert counts == allocate(65, bank_mod.WEIGHTS[exam])
