"""Multiple-choice framing cells: ``choice("01-hot-shard", "B")`` (introduced in lab 01).

The answer key lives in ``choices.json`` beside this module, hashed: each entry stores a salt
and ``sha256(salt|id|letters)`` of the right letters, and every option's explanation
compressed and base64-encoded. That keeps the answer off the learner's screen when they open
the file (it is obfuscation, not security: anyone can try the four letters).

Lab authors add an entry with::

    python -m mllab.checks.choices add 01-hot-shard --answer B \\
        --why "A=..." --why "B=..." --why "C=..." --why "D=..." --mls 1.2 --mla 1.1

A question id of the study bank works too (``choice("d1-017", "C")``); its explanations come
from the bank.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import zlib
from pathlib import Path
from typing import Any

from mllab.checks.core import CheckFailed, Requirement

KEY_FILE = Path(__file__).with_name("choices.json")


def _digest(salt: str, qid: str, letters: str) -> str:
    return hashlib.sha256(f"{salt}|{qid}|{letters}".encode()).hexdigest()


def _norm(answer: str | list[str] | tuple[str, ...]) -> str:
    letters = answer if isinstance(answer, str) else "".join(answer)
    return "".join(sorted({c for c in letters.upper() if c.isalpha()}))


def _pack(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def _unpack(blob: str) -> str:
    return zlib.decompress(base64.b64decode(blob)).decode("utf-8")


def encode_choice(
    qid: str,
    answer: str,
    why: dict[str, str],
    mls: list[str] | None = None,
    mla: list[str] | None = None,
    salt: str | None = None,
    mla2: list[str] | None = None,
) -> dict[str, Any]:
    """Build an answer-key entry (for lab authors).

    Args:
        qid: the question id, e.g. ``"01-hot-shard"``.
        answer: the right letter(s), e.g. ``"B"`` or ``"AC"``.
        why: an explanation per option letter (why it is right or wrong).
        mls: MLS-C01 task statements.
        mla: MLA-C01 task statements.
        salt: fixed salt (tests); default random.
        mla2: MLA-C02 skills, e.g. ``["1.1.4"]``.

    Returns:
        The entry to store under ``qid`` in ``choices.json``.
    """
    letters = _norm(answer)
    if not letters or any(c not in why for c in letters):
        raise ValueError(f"answer {answer!r} must be among the explained options {sorted(why)}")
    salt = salt or secrets.token_hex(8)
    return {
        "salt": salt,
        "digest": _digest(salt, qid, letters),
        "options": sorted(why),
        "why": {k.upper(): _pack(v) for k, v in sorted(why.items())},
        "mls": list(mls or []),
        "mla": list(mla or []),
        "mla2": list(mla2 or []),
    }


def load_key(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Load the answer key (empty when the file does not exist)."""
    p = path or KEY_FILE
    if not p.exists():
        return {}
    return dict(json.loads(p.read_text(encoding="utf-8")))


def _grade(qid: str, spec: dict[str, Any], letters: str) -> tuple[bool, dict[str, str]]:
    ok = _digest(spec["salt"], qid, letters) == spec["digest"]
    return ok, {k: _unpack(v) for k, v in spec.get("why", {}).items()}


def choice(
    question: str | dict[str, Any],
    answer: str | list[str],
    lab: Any = None,
    *,
    key_file: Path | None = None,
) -> str:
    """Check a multiple-choice answer; explain a wrong pick (lab framing cells).

    Args:
        question: a question id in the answer key (or the study bank), or an entry made by
            :func:`encode_choice` with an ``"id"`` key.
        answer: the learner's letter(s), e.g. ``"B"``.
        lab: the open lab: records the outcome for progress (requirement ``choice-<id>``).
        key_file: another answer key (tests).

    Returns:
        The explanation of the right answer (also shown on the PASS line).

    Raises:
        CheckFailed: the answer is wrong (the message explains the picked options), empty, or
            names a letter that is not an option; or the question id is unknown.
    """
    spec: dict[str, Any] | None
    if isinstance(question, dict):
        qid, spec = str(question.get("id", "question")), question
    else:
        qid, spec = str(question), load_key(key_file).get(str(question))
    letters = _norm(answer) if answer is not None else ""
    mls: list[str] = []
    mla: list[str] = []
    mla2: list[str] = []
    if spec is not None:
        options = spec.get("options", [])
        mls, mla = list(spec.get("mls", [])), list(spec.get("mla", []))
        mla2 = list(spec.get("mla2", []))
        grade = lambda: _grade(qid, spec, letters)  # noqa: E731
    else:
        from mllab.study.bank import load_bank

        bank = load_bank()
        if qid not in bank:
            raise CheckFailed(f"unknown question id {qid!r}: not in the lab answer key or the bank")
        q = bank.get(qid)
        options = list(q.options)
        mls, mla = list(q.tasks("mls-c01")), list(q.tasks("mla-c01"))
        grade = lambda: (q.is_correct(list(letters)), dict(q.explanations))  # noqa: E731
    req = Requirement(
        lab=lab if lab is not None else "choice", key=f"choice-{qid}", mls=mls, mla=mla, mla2=mla2
    )
    req.record = lab is not None
    with req:
        if not letters:
            raise CheckFailed(
                f"answer with a letter ({', '.join(options)}), e.g. choice({qid!r}, 'B')"
            )
        bad = [c for c in letters if c not in options]
        if bad:
            raise CheckFailed(f"{', '.join(bad)} is not an option; pick from {', '.join(options)}")
        ok, why = grade()
        if not ok:
            detail = " ".join(f"{c}: {why.get(c, 'not the best fit.')}" for c in letters)
            raise CheckFailed(f"{letters} is not right. {detail} Think again and rerun this cell.")
        right = " ".join(why.get(c, "") for c in letters).strip()
        req.note(right)
    return right


def main(argv: list[str] | None = None) -> int:
    """``python -m mllab.checks.choices add ID --answer B --why A=... ...`` (lab authors)."""
    parser = argparse.ArgumentParser(prog="python -m mllab.checks.choices")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="add or replace a question in the answer key")
    add.add_argument("qid")
    add.add_argument("--answer", required=True)
    add.add_argument("--why", action="append", required=True, help="LETTER=explanation")
    add.add_argument("--mls", action="append", default=[])
    add.add_argument("--mla", action="append", default=[])
    add.add_argument("--mla2", action="append", default=[])
    add.add_argument("--key-file", type=Path, default=KEY_FILE)
    args = parser.parse_args(argv)
    why = {}
    for item in args.why:
        letter, _, text = item.partition("=")
        why[letter.strip().upper()] = text.strip()
    key = load_key(args.key_file)
    key[args.qid] = encode_choice(args.qid, args.answer, why, args.mls, args.mla, mla2=args.mla2)
    args.key_file.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.qid}: stored in {args.key_file}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
