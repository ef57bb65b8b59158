"""The question bank: loading, strict validation and coverage (introduced in lab 00).

The bank is one YAML file per MLS-C01 domain under ``mllab/study/questions/`` (the schema is
in ``study/SCHEMA.md``). Every file is validated strictly: an unknown or missing key, a bad
option letter, an answer letter that is not an option, an option without an explanation, a
task statement outside the exam guides, or a duplicate id or stem is an error that names the
file, the question id and the problem.

Set ``$MLLAB_QUESTION_BANK`` to a folder to load another bank (the tests use a small fixture
bank this way).
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from mllab.study.catalogue import Skill, load_catalogue, task_of_skill

# --------------------------------------------------------------------------------------------
# Exam blueprints: read from the catalogue, study/exams.yaml (sources and date in that file)
# --------------------------------------------------------------------------------------------

_CAT = load_catalogue()

#: Exam codes, the default (``mla-c02``) first, then the legacy exams.
EXAMS: tuple[str, ...] = tuple(_CAT)
DEFAULT_EXAM: str = EXAMS[0]

TASKS: dict[str, dict[str, str]] = {code: dict(e.tasks) for code, e in _CAT.items()}
DOMAINS: dict[str, dict[int, str]] = {code: dict(e.domains) for code, e in _CAT.items()}
#: Domain weights in percent of scored content.
WEIGHTS: dict[str, dict[int, int]] = {code: dict(e.weights) for code, e in _CAT.items()}
#: Exam time in minutes of each exam's default form (MLA-C02: the beta's 170).
MINUTES: dict[str, int] = {code: e.form().minutes for code, e in _CAT.items()}
#: Pass mark on the 100-1000 scaled score.
PASS_MARK: dict[str, int] = {code: e.pass_mark for code, e in _CAT.items()}
EXAM_NAMES: dict[str, str] = {code: e.name for code, e in _CAT.items()}
#: Status line of every exam (current / legacy / retired, with dates).
STATUS_NOTE: dict[str, str] = {code: e.status_note for code, e in _CAT.items()}
#: MLA-C02 skills: ``{"2.3.8": Skill(...)}``.
SKILLS: dict[str, Skill] = dict(_CAT["mla-c02"].skills)
#: MLA-C02 task -> MLA-C01 task (AWS's one-to-one mapping); used to read legacy results.
C02_FROM_C01: dict[str, str] = {v: k for k, v in _CAT["mla-c02"].maps_from.items()}

RETIREMENT_NOTE = (
    "MLA-C02 is the exam in English (beta since 2026-09-29, standard release early 2027); "
    "MLA-C01 ended in English on 2026-09-28; MLS-C01 retired on 2026-03-31."
)

QUESTIONS_PER_EXAM = 65

#: Minimums the real bank must meet.
MIN_QUESTIONS = 160
MIN_PER_TASK = 5
MIN_MULTI = 15

#: Targets of the MLA-C02 bank (issue 15): questions, per skill, per task, multiple-response share.
TARGET_QUESTIONS = 400
TARGET_PER_SKILL = 3
TARGET_PER_TASK = 20
TARGET_MULTI_SHARE = 0.10

KEYS = (
    "id",
    "stem",
    "options",
    "answer",
    "explanations",
    "mls",
    "mla",
    "mla2",
    "services",
    "lab",
    "refs",
)
#: Keys a question may carry.
OPTIONAL_KEYS = ("status",)
LETTERS = "ABCDEF"
MIN_STEM = 120
_COUNT_WORDS = {2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE"}


def domain_of(task: str) -> int:
    """Return the domain number of a task statement such as ``"3.2"``.

    Args:
        task: a task statement id.

    Returns:
        Its domain (the digit before the dot).
    """
    return int(task.split(".", 1)[0])


def check_exam(exam: str) -> str:
    """Normalise and check an exam code.

    Args:
        exam: ``mls-c01`` or ``mla-c01`` (any case).

    Returns:
        The lower-case code.

    Raises:
        ValueError: an unknown exam.
    """
    code = exam.strip().lower()
    if code not in EXAMS:
        raise ValueError(f"unknown exam {exam!r}; use one of {', '.join(EXAMS)}")
    return code


# --------------------------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One validated question of the bank."""

    id: str
    stem: str
    options: dict[str, str]
    answer: tuple[str, ...]
    explanations: dict[str, str]
    mls: tuple[str, ...]
    mla: tuple[str, ...]
    services: tuple[str, ...]
    lab: str | None
    refs: tuple[str, ...]
    mla2: tuple[str, ...] = ()
    status: str | None = None
    file: str = field(default="", compare=False)
    #: For a shuffled view: the bank letter behind each shown letter (``{"A": "C", ...}``);
    #: empty for the question as written in the bank.
    origin: dict[str, str] = field(default_factory=dict, compare=False)

    def shuffled(self, seed: int | str | None) -> Question:
        """Return a view with the options in a seeded random order (fairer practice).

        Options are re-lettered A, B, C...; explanations and the (multi-answer) key follow
        their options, so grading the view with the shown letters is right. ``seed=None``
        returns the question unchanged. The same seed always gives the same order.

        Args:
            seed: per-attempt seed (e.g. ``f"{quiz_seed}:{question_id}"``).

        Returns:
            The shuffled view (``origin`` maps shown letters to bank letters).
        """
        if seed is None:
            return self
        bank_letters = list(self.options)
        order = list(bank_letters)
        random.Random(f"{seed}|{self.id}").shuffle(order)
        shown = dict(zip(LETTERS[: len(order)], order, strict=True))
        back = {b: s for s, b in shown.items()}
        return replace(
            self,
            options={s: self.options[b] for s, b in shown.items()},
            explanations={s: self.explanations[b] for s, b in shown.items()},
            answer=tuple(sorted(back[a] for a in self.answer)),
            origin=shown,
        )

    def to_bank_letters(self, letters: Iterable[str]) -> str:
        """Translate letters shown in this view to the bank's letters (for storage).

        Args:
            letters: shown letters.

        Returns:
            The bank letters, sorted, as one string ("" for none).
        """
        if not self.origin:
            return "".join(sorted(letters))
        return "".join(sorted(self.origin[x] for x in letters))

    def from_bank_letters(self, letters: Iterable[str]) -> str:
        """Translate bank letters to the letters shown in this view.

        Args:
            letters: bank letters.

        Returns:
            The shown letters, sorted, as one string.
        """
        if not self.origin:
            return "".join(sorted(letters))
        back = {b: s for s, b in self.origin.items()}
        return "".join(sorted(back[x] for x in letters))

    @property
    def multi(self) -> bool:
        """True for a multiple-response question."""
        return len(self.answer) > 1

    def tasks(self, exam: str) -> tuple[str, ...]:
        """Return the task statements of ``exam`` this question is tagged with.

        For ``mla-c02`` the tasks are derived from the ``mla2`` skills (``2.3.8`` -> ``2.3``).

        Args:
            exam: ``mla-c02``, ``mla-c01`` or ``mls-c01``.

        Returns:
            The tags, in bank order (no repeats).
        """
        if exam == "mla-c02":
            return tuple(dict.fromkeys(task_of_skill(s) for s in self.mla2))
        return self.mls if exam == "mls-c01" else self.mla

    def domain(self, exam: str) -> int | None:
        """Return the exam domain: the first digit of the first tag for ``exam``.

        Args:
            exam: ``mls-c01`` or ``mla-c01``.

        Returns:
            The domain number, or None when the question has no tag for that exam.
        """
        tags = self.tasks(exam)
        return domain_of(tags[0]) if tags else None

    def is_correct(self, chosen: Iterable[str]) -> bool:
        """Grade a set of chosen letters (all and only the right letters).

        Args:
            chosen: the letters picked.

        Returns:
            True when the choice matches the answer exactly.
        """
        return set(chosen) == set(self.answer)

    def to_record(self) -> dict[str, Any]:
        """Return the question as a plain mapping (as in the YAML)."""
        return {
            "id": self.id,
            "stem": self.stem,
            "options": dict(self.options),
            "answer": list(self.answer),
            "explanations": dict(self.explanations),
            "mls": list(self.mls),
            "mla": list(self.mla),
            "mla2": list(self.mla2),
            "services": list(self.services),
            "lab": self.lab,
            "refs": list(self.refs),
            **({"status": self.status} if self.status else {}),
        }


class BankError(ValueError):
    """The bank failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"question bank has {len(problems)} problem(s):\n{shown}{more}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys in a mapping."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        keys.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def default_dir() -> Path:
    """Return the bank folder: ``$MLLAB_QUESTION_BANK`` or the packaged ``questions/``.

    Returns:
        The folder holding ``*.yaml`` question files.
    """
    env = os.environ.get("MLLAB_QUESTION_BANK")
    if env:
        return Path(env).expanduser()
    return Path(__file__).with_name("questions")


def bank_files(path: Path | str | None = None) -> list[Path]:
    """List the question files of a bank folder.

    Args:
        path: the folder (default: :func:`default_dir`).

    Returns:
        The ``*.yaml`` / ``*.yml`` files, sorted by name.
    """
    folder = Path(path) if path is not None else default_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def id_prefix(file: str) -> str:
    """Return the id prefix a question file's ids must carry.

    ``d1-data-engineering.yaml`` -> ``d1`` (legacy files); ``c2-d3-deployment.yaml`` -> ``c2d3``
    (MLA-C02 files, one per C02 domain).

    Args:
        file: a file name.

    Returns:
        The prefix.
    """
    parts = Path(file).stem.split("-")
    if parts[0] == "c2" and len(parts) > 1:
        return "c2" + parts[1]
    return parts[0]


def _normalise_stem(stem: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", stem.lower()).strip()


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def validate_record(rec: Any, file: str, position: int) -> list[str]:
    """Validate one question mapping against the schema.

    Args:
        rec: the parsed YAML item.
        file: the file name, for messages.
        position: the 1-based position in the file, for messages when the id is unusable.

    Returns:
        A list of problems, each naming the file and question id; empty when valid.
    """
    if not isinstance(rec, dict):
        return [f"{file}: item #{position}: expected a mapping, got {type(rec).__name__}"]
    qid = rec.get("id")
    label = qid if isinstance(qid, str) and qid else f"item #{position}"
    problems: list[str] = []

    def bad(msg: str) -> None:
        problems.append(f"{file}: {label}: {msg}")

    unknown = sorted(str(k) for k in rec if k not in KEYS and k not in OPTIONAL_KEYS)
    missing = [k for k in KEYS if k not in rec]
    if unknown:
        bad(f"unknown key(s) {', '.join(unknown)}")
    if missing:
        bad(f"missing key(s) {', '.join(missing)}")

    prefix = id_prefix(file)
    if "id" in rec:
        if not isinstance(qid, str) or not re.fullmatch(rf"{re.escape(prefix)}-\d{{3,}}", qid):
            bad(f"id {qid!r} must look like '{prefix}-NNN' (the file prefix and a number)")
    stem = rec.get("stem")
    if "stem" in rec:
        if not isinstance(stem, str):
            bad("stem must be a string")
        elif len(stem.strip()) < MIN_STEM:
            bad(f"stem is {len(stem.strip())} characters; a scenario needs >= {MIN_STEM}")

    options = rec.get("options")
    letters: list[str] = []
    if "options" in rec:
        if not isinstance(options, dict):
            bad("options must be a mapping of letter -> text")
        else:
            letters = [str(k) for k in options]
            for k, v in options.items():
                if not (isinstance(k, str) and len(k) == 1 and k in LETTERS):
                    bad(f"bad option letter {k!r}; use A-F")
                if not isinstance(v, str) or not v.strip():
                    bad(f"option {k!r} has no text")
            if len(options) < 4:
                bad(f"{len(options)} options; at least four are needed")
            expected = list(LETTERS[: len(options)])
            if sorted(letters) != expected and all(k in LETTERS for k in letters):
                bad(f"option letters {''.join(sorted(letters))} must run from A without gaps")

    answer = rec.get("answer")
    if "answer" in rec:
        if not isinstance(answer, list) or not answer:
            bad("answer must be a non-empty list of letters")
        else:
            for a in answer:
                if not (isinstance(a, str) and len(a) == 1 and a in LETTERS):
                    bad(f"bad answer letter {a!r}; use A-F")
                elif letters and a not in letters:
                    bad(f"answer letter {a!r} is not an option ({', '.join(sorted(letters))})")
            if len(set(map(str, answer))) != len(answer):
                bad("answer repeats a letter")
            if letters and len(answer) >= len(letters):
                bad("every option is an answer")
            if isinstance(stem, str) and len(answer) > 1:
                word = _COUNT_WORDS.get(len(answer), str(len(answer)))
                if f"choose {word.lower()}" not in stem.lower():
                    bad(
                        f"multiple-response with {len(answer)} answers: stem must say 'Choose {word}.'"
                    )
            if (
                isinstance(stem, str)
                and len(answer) == 1
                and re.search(r"choose (two|three)", stem, re.I)
            ):
                bad("stem says 'Choose TWO/THREE' but the answer has one letter")

    expl = rec.get("explanations")
    if "explanations" in rec:
        if not isinstance(expl, dict):
            bad("explanations must be a mapping of letter -> text")
        else:
            for k in letters:
                text = expl.get(k)
                if not isinstance(text, str) or not text.strip():
                    bad(f"no explanation for option {k}")
            extra = sorted(str(k) for k in expl if str(k) not in letters)
            if extra and letters:
                bad(f"explanations for letters that are not options: {', '.join(extra)}")

    for exam_key, exam in (("mls", "mls-c01"), ("mla", "mla-c01")):
        if exam_key not in rec:
            continue
        tags = rec.get(exam_key)
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            bad(f"{exam_key} must be a list of task statements such as ['1.2'] (quote them)")
            continue
        for t in tags:
            if t not in TASKS[exam]:
                valid = ", ".join(TASKS[exam])
                bad(f"{exam_key} task statement {t!r} is not in {exam.upper()} ({valid})")
        if len(set(tags)) != len(tags):
            bad(f"{exam_key} repeats a task statement")
    if "mla" in rec and isinstance(rec.get("mla"), list) and not rec["mla"]:
        bad("mla is empty; tag the MLA-C01 task statement(s) (C02 tasks map one to one)")

    if "mla2" in rec:
        skills = rec["mla2"]
        if not _str_list(skills) or not skills:
            bad('mla2 must be a non-empty list of MLA-C02 skill ids, e.g. ["2.3.8"]')
        else:
            for sk in skills:
                if sk not in SKILLS:
                    bad(f"mla2 {sk!r} is not an MLA-C02 skill (ids run 1.1.1 .. 4.3.9)")
            if len(set(skills)) != len(skills):
                bad("mla2 repeats a skill")
    if "status" in rec:
        st = rec["status"]
        if not (isinstance(st, str) and len(st.strip()) >= 20):
            bad("status must be a sentence (>= 20 characters) saying what changed and when")

    if "services" in rec and not (isinstance(rec["services"], list) and _str_list(rec["services"])):
        bad("services must be a list of service names")
    if "lab" in rec:
        lab = rec["lab"]
        if lab is not None and not (isinstance(lab, str) and lab.strip()):
            bad("lab must be a string like '01-data-engineering#stream' or null")
    if "refs" in rec:
        refs = rec["refs"]
        if not _str_list(refs) or not refs:
            bad("refs must be a non-empty list of URLs")
        else:
            for r in refs:
                if not re.match(r"https?://\S+$", r.strip()):
                    bad(f"ref {r!r} is not a URL")
            if not any("docs.aws.amazon.com/" in r for r in refs):
                bad("refs need at least one AWS documentation URL (docs.aws.amazon.com/...)")
    return problems


def _to_question(rec: dict[str, Any], file: str) -> Question:
    return Question(
        id=rec["id"],
        stem=rec["stem"].strip(),
        options={k: str(v).strip() for k, v in sorted(rec["options"].items())},
        answer=tuple(sorted(rec["answer"])),
        explanations={k: str(rec["explanations"][k]).strip() for k in sorted(rec["options"])},
        mls=tuple(rec["mls"]),
        mla=tuple(rec["mla"]),
        services=tuple(rec["services"]),
        lab=rec["lab"],
        refs=tuple(rec["refs"]),
        mla2=tuple(rec["mla2"]),
        status=(str(rec["status"]).strip() if rec.get("status") else None),
        file=file,
    )


class Bank:
    """A validated, read-only collection of questions."""

    def __init__(self, questions: Iterable[Question], files: Iterable[str] = ()):
        """Wrap validated questions.

        Args:
            questions: the questions, in bank order.
            files: the names of the files they came from.
        """
        self.questions: list[Question] = list(questions)
        self.files: list[str] = list(files)
        self._by_id = {q.id: q for q in self.questions}

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def __contains__(self, qid: object) -> bool:
        return qid in self._by_id

    def get(self, qid: str) -> Question:
        """Return the question with id ``qid``.

        Args:
            qid: a question id such as ``d1-001``.

        Returns:
            The question.

        Raises:
            KeyError: no such id (the message lists nothing else, to stay short).
        """
        try:
            return self._by_id[qid]
        except KeyError:
            raise KeyError(f"no question {qid!r} in the bank") from None

    def select(
        self,
        exam: str | None = None,
        domain: int | None = None,
        task: str | None = None,
        skill: str | None = None,
    ) -> list[Question]:
        """Filter questions by exam, domain, task statement and MLA-C02 skill.

        Without ``exam``, ``domain`` and ``task`` match MLS-C01 or MLA-C01 tags.

        Args:
            exam: ``mls-c01`` or ``mla-c01``: only questions tagged for that exam.
            domain: a domain number 1-4 (the domain of any tag for the exam).
            task: a task statement such as ``"1.2"``.
            skill: an MLA-C02 skill such as ``"2.3.8"``.

        Returns:
            The matching questions in bank order.
        """
        exams = [exam] if exam else list(EXAMS)
        out = []
        for q in self.questions:
            tags = [t for e in exams for t in q.tasks(e)]
            if not tags:
                continue
            if domain is not None and domain not in {domain_of(t) for t in tags}:
                continue
            if task is not None and task not in tags:
                continue
            if skill is not None and skill not in q.mla2:
                continue
            out.append(q)
        return out

    def coverage(self) -> dict[str, dict[str, int]]:
        """Count questions per task statement of each exam.

        Returns:
            ``{exam: {task: count}}`` covering every task statement (zero when untagged).
        """
        cov = {exam: dict.fromkeys(TASKS[exam], 0) for exam in EXAMS}
        for q in self.questions:
            for exam in EXAMS:
                for t in q.tasks(exam):
                    if t in cov[exam]:
                        cov[exam][t] += 1
        return cov

    def skill_coverage(self) -> dict[str, int]:
        """Count questions per MLA-C02 skill.

        Returns:
            ``{skill: count}`` for all 107 skills (zero when untagged).
        """
        cov = dict.fromkeys(SKILLS, 0)
        for q in self.questions:
            for sk in q.mla2:
                if sk in cov:
                    cov[sk] += 1
        return cov

    def target_gaps(self) -> list[str]:
        """List where the bank falls short of the MLA-C02 targets (issue 15).

        Returns:
            Problems (empty when the bank has >= 400 questions, every skill on >= 3, every
            task on >= 20 and >= 10% multiple-response).
        """
        out = []
        if len(self) < TARGET_QUESTIONS:
            out.append(f"{len(self)} questions; the target is {TARGET_QUESTIONS}")
        for sk, n in self.skill_coverage().items():
            if n < TARGET_PER_SKILL:
                out.append(f"skill {sk} is on {n} question(s); target {TARGET_PER_SKILL}")
        for t, n in self.coverage()["mla-c02"].items():
            if n < TARGET_PER_TASK:
                out.append(f"task {t} is on {n} question(s); target {TARGET_PER_TASK}")
        multi = sum(q.multi for q in self.questions)
        if len(self) and multi / len(self) < TARGET_MULTI_SHARE:
            out.append(f"{multi}/{len(self)} multiple-response; target >= 10%")
        return out

    def requirement_problems(self) -> list[str]:
        """Check the bank against the project's minimums.

        Returns:
            Problems (empty when the bank has >= 160 questions, every task statement of
            both exams on >= 5 questions and >= 15 multiple-response questions).
        """
        problems = []
        if len(self) < MIN_QUESTIONS:
            problems.append(f"{len(self)} questions; the bank needs >= {MIN_QUESTIONS}")
        for exam, counts in self.coverage().items():
            if exam == "mls-c01":
                continue  # retired: its tags are kept, not required
            for task, n in counts.items():
                if n < MIN_PER_TASK:
                    problems.append(
                        f"{exam.upper()} {task} is on {n} question(s); needs >= {MIN_PER_TASK}"
                    )
        multi = sum(q.multi for q in self.questions)
        if multi < MIN_MULTI:
            problems.append(f"{multi} multiple-response questions; needs >= {MIN_MULTI}")
        return problems

    def labs_for(self, exam: str, task: str) -> list[str]:
        """Return the labs (``lab`` field) of questions on a task statement, most common first.

        Args:
            exam: ``mls-c01`` or ``mla-c01``.
            task: a task statement.

        Returns:
            Distinct lab references.
        """
        counts = Counter(q.lab for q in self.questions if task in q.tasks(exam) and q.lab)
        return [lab for lab, _ in counts.most_common()]


def validate_files(files: Iterable[Path]) -> tuple[list[Question], list[str]]:
    """Parse and validate question files.

    Args:
        files: YAML files.

    Returns:
        The valid questions and the list of problems across all files (duplicate ids and
        stems are checked across files).
    """
    questions: list[Question] = []
    problems: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_stems: dict[str, str] = {}
    for path in files:
        name = path.name
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
        except yaml.YAMLError as exc:
            problems.append(f"{name}: not valid YAML: {exc}")
            continue
        if data is None:
            data = []
        if not isinstance(data, list):
            problems.append(f"{name}: the file must be a YAML list of questions")
            continue
        for i, rec in enumerate(data, start=1):
            errs = validate_record(rec, name, i)
            if isinstance(rec, dict):
                qid = rec.get("id")
                if isinstance(qid, str):
                    if qid in seen_ids:
                        errs.append(f"{name}: {qid}: duplicate id (also in {seen_ids[qid]})")
                    else:
                        seen_ids[qid] = name
                stem = rec.get("stem")
                if isinstance(stem, str):
                    key = _normalise_stem(stem)
                    if key in seen_stems:
                        errs.append(f"{name}: {qid}: duplicate stem (same as {seen_stems[key]})")
                    else:
                        seen_stems[key] = f"{qid} in {name}"
            if errs:
                problems.extend(errs)
            else:
                questions.append(_to_question(rec, name))
    return questions, problems


def load_bank(path: Path | str | None = None, strict: bool = True) -> Bank:
    """Load and validate every question file (introduced in lab 00).

    Args:
        path: the bank folder (default ``$MLLAB_QUESTION_BANK`` or the packaged questions).
        strict: raise on any problem; when False, invalid questions are skipped.

    Returns:
        The bank.

    Raises:
        BankError: a problem was found (strict mode), listing each with file and id.
    """
    files = bank_files(path)
    questions, problems = validate_files(files)
    if problems and strict:
        raise BankError(problems)
    return Bank(questions, [f.name for f in files])


def coverage_rows(bank: Bank) -> list[tuple[str, str, str, int, int]]:
    """Return the coverage table rows.

    Args:
        bank: a loaded bank.

    Returns:
        ``(exam, task, title, questions, multiple-response questions)`` for every task
        statement of both exams.
    """
    rows = []
    cov = bank.coverage()
    for exam in EXAMS:
        for task, title in TASKS[exam].items():
            multi = sum(1 for q in bank if task in q.tasks(exam) and q.multi)
            rows.append((exam, task, title, cov[exam][task], multi))
    return rows


def attempt_tasks(record: dict[str, Any], exam: str) -> list[str]:
    """Return the task statements of ``exam`` a stored attempt or lab result counts for.

    A record stored before MLA-C02 existed has no ``mla2`` skills; its MLA-C01 tasks then
    count for the C02 tasks they map to (AWS's one-to-one task mapping), so past results
    stay readable.

    Args:
        record: a row of :meth:`Store.attempts` or :meth:`Store.lab_results` (``mls``, ``mla``
            and, when recorded, ``mla2`` decoded to lists).
        exam: the exam code.

    Returns:
        Task statements of that exam, without repeats.
    """
    if exam == "mla-c02":
        skills = record.get("mla2") or []
        if skills:
            return list(dict.fromkeys(task_of_skill(s) for s in skills))
        return list(
            dict.fromkeys(C02_FROM_C01[t] for t in record.get("mla") or [] if t in C02_FROM_C01)
        )
    key = "mls" if exam == "mls-c01" else "mla"
    return [t for t in record.get(key) or [] if t in TASKS[exam]]
