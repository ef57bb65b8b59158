"""The real question bank: schema with mla2, no answer cues per file, coverage of MLA-C02.

Prints a cue report and a coverage report (``pytest -s`` shows them). The issue-15 targets
(400 questions, >= 3 per skill, >= 20 per task, >= 10% multiple-response) are asserted in
``test_issue_15_targets``: a change that drops the bank below any of them fails.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from mllab.study.bank import (
    SKILLS,
    TARGET_MULTI_SHARE,
    TARGET_PER_SKILL,
    TARGET_PER_TASK,
    TARGET_QUESTIONS,
    TASKS,
    Bank,
    bank_files,
    load_bank,
    validate_record,
)

QDIR = Path(__file__).resolve().parents[2] / "helpers" / "mllab" / "study" / "questions"
MAX_LONGEST = 0.35
MAX_SHORTEST = 0.35
MAX_LETTER = 0.35
MIN_LETTER = 0.15

#: What the bank has now (floors: they may only go up). Raise them as questions land.
FLOOR_QUESTIONS = 294
FLOOR_SKILLS_COVERED = 106


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Bank:
    return load_bank(QDIR)


def _files() -> list[Path]:
    return bank_files(QDIR)


def cue_stats(records: list[dict]) -> dict[str, float]:
    """Share of single-answer questions whose key is the longest / shortest option, and the
    share of each keyed letter (ties count: a key tied for longest is a longest key)."""
    single = [r for r in records if len(r["answer"]) == 1]
    n = len(single) or 1
    longest = shortest = 0
    letters: Counter[str] = Counter()
    for r in single:
        lens = {k: len(str(v)) for k, v in r["options"].items()}
        a = r["answer"][0]
        longest += lens[a] == max(lens.values())
        shortest += lens[a] == min(lens.values())
        letters[a] += 1
    four = "ABCD"
    return {
        "single": len(single),
        "longest": longest / n,
        "shortest": shortest / n,
        **{f"letter_{x}": letters[x] / n for x in four},
    }


def test_bank_loads_and_every_question_has_valid_mla2(bank: Bank) -> None:
    assert len(bank) >= FLOOR_QUESTIONS
    for q in bank:
        assert q.mla2, q.id
        assert all(s in SKILLS for s in q.mla2), q.id
        assert q.mla, f"{q.id}: no MLA-C01 tag"
        assert q.tasks("mla-c02") and all(t in TASKS["mla-c02"] for t in q.tasks("mla-c02"))
    # questions fixed in issue 15
    for qid in ("d1-026", "d1-047"):
        q = bank.get(qid)
        assert q.mls == ("4.3",) and q.mla == ("4.3",) and q.tasks("mla-c02") == ("4.3",)
    d3042 = bank.get("d3-042")
    assert "Debugger" not in d3042.options[d3042.answer[0]]


def test_validator_requires_mla2_and_rejects_bad_skill_ids(bank: Bank) -> None:
    rec = bank.get("d1-001").to_record()
    assert validate_record(rec, "d1-data-engineering.yaml", 1) == []
    missing = {k: v for k, v in rec.items() if k != "mla2"}
    assert any("missing key(s) mla2" in p for p in validate_record(missing, "d1-x.yaml", 1))
    bad = {**rec, "mla2": ["1.1.99"]}
    assert any("not an MLA-C02 skill" in p for p in validate_record(bad, "d1-x.yaml", 1))
    empty = {**rec, "mla2": []}
    assert any("non-empty list" in p for p in validate_record(empty, "d1-x.yaml", 1))
    short_status = {**rec, "status": "closed"}
    assert any(
        "status must be a sentence" in p for p in validate_record(short_status, "d1-x.yaml", 1)
    )
    no_mla = {**rec, "mla": []}
    assert any("mla is empty" in p for p in validate_record(no_mla, "d1-x.yaml", 1))
    c2 = {**rec, "id": "c2d3-001"}
    assert validate_record(c2, "c2-d3-deployment.yaml", 1) == []
    assert validate_record(c2, "c2-d4-operations.yaml", 1)  # id prefix must match the file


def test_closed_services_carry_a_status_note_or_are_rewritten(bank: Bank) -> None:
    closed = (
        "Clarify",
        "Model Monitor",
        "Debugger",
        "Ground Truth",
        "Augmented AI",
        "Role Manager",
        "Kendra",
        "CodeGuru Reviewer",
        "Bedrock Agents",
    )
    for q in bank:
        keyed = " ".join(q.options[a] for a in q.answer) + " " + " ".join(q.services)
        hits = [s for s in closed if s in keyed]
        if hits:
            assert q.status, f"{q.id} keys {hits} (closed to new customers) without a status note"


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_no_answer_cues_per_file(path: Path) -> None:
    records = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    stats = cue_stats(records)
    print(
        f"\n{path.name}: {stats['single']} single-answer; key longest {stats['longest']:.0%}, "
        f"shortest {stats['shortest']:.0%}; letters "
        + " ".join(f"{x} {stats[f'letter_{x}']:.0%}" for x in "ABCD")
    )
    if stats["single"] < 8:
        pytest.skip("too few single-answer questions for shares to mean anything")
    assert stats["longest"] <= MAX_LONGEST, f"{path.name}: key is the longest option too often"
    assert stats["shortest"] <= MAX_SHORTEST, f"{path.name}: key is the shortest option too often"
    for x in "ABCD":
        share = stats[f"letter_{x}"]
        assert MIN_LETTER <= share <= MAX_LETTER, f"{path.name}: key letter {x} in {share:.0%}"


def test_cue_rule_catches_a_longest_key_bank() -> None:
    # the rule itself must fail a biased file (the review found 71% / 80% before the rewrite)
    recs = [
        {
            "answer": ["ABCD"[i % 4]],
            "options": {x: "x" * (90 if x == "ABCD"[i % 4] else 40) for x in "ABCD"},
        }
        for i in range(20)
    ]
    assert cue_stats(recs)["longest"] == 1.0 > MAX_LONGEST
    assert cue_stats(recs)["letter_A"] == 0.25


def test_coverage_report_and_floors(bank: Bank) -> None:
    skills = bank.skill_coverage()
    tasks = bank.coverage()["mla-c02"]
    multi = sum(q.multi for q in bank)
    print(f"\nMLA-C02 coverage: {len(bank)} questions, {multi} multiple-response")
    for t, n in tasks.items():
        row = " ".join(f"{s}:{skills[s]}" for s in SKILLS if s.startswith(t + "."))
        print(f"  {t} {n:>3}  {row}")
    covered = sum(1 for n in skills.values() if n > 0)
    new_covered = sum(1 for s, n in skills.items() if n > 0 and SKILLS[s].new)
    print(
        f"  skills with >= 1 question: {covered}/107 (new: {new_covered}/45); "
        f">= 3: {sum(1 for n in skills.values() if n >= 3)}/107"
    )
    assert len(bank) >= FLOOR_QUESTIONS
    assert covered >= FLOOR_SKILLS_COVERED
    assert all(n > 0 for n in tasks.values())


def test_issue_15_targets(bank: Bank) -> None:
    assert len(bank) >= TARGET_QUESTIONS
    assert all(n >= TARGET_PER_SKILL for n in bank.skill_coverage().values())
    assert all(n >= TARGET_PER_TASK for n in bank.coverage()["mla-c02"].values())
    assert sum(q.multi for q in bank) >= TARGET_MULTI_SHARE * len(bank)
    assert bank.target_gaps() == []
