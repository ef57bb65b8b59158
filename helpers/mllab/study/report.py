"""Question error reports (``mllab bank report ID`` and the widget's "Report an error" button).

A report names the question, says what is wrong and gives the authoritative AWS source that
shows it (required: a report without a source cannot be checked). It is written as a small
Markdown file with a YAML front block under ``$MLLAB_HOME/reports/`` for the learner to attach
to a GitHub issue made with ``.github/ISSUE_TEMPLATE/question-error.yml`` (same fields).
Writing a report creates one file; nothing is sent anywhere and nothing is deleted.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import yaml

from mllab import config
from mllab.study.bank import Bank
from mllab.study.store import utcnow

#: What can be wrong with a question (the issue form offers the same list).
KINDS = (
    "wrong key",
    "outdated (service or feature changed)",
    "ambiguous stem or options",
    "wrong explanation",
    "wrong tag (task or skill)",
    "broken reference",
    "other",
)

_AWS_SOURCE = re.compile(r"^https://(docs\.aws\.amazon\.com|aws\.amazon\.com)/\S+$")


class ReportError(ValueError):
    """A report is missing something it needs (the message says what and how to fix it)."""


def reports_dir() -> Path:
    """Return ``$MLLAB_HOME/reports`` (created on first write)."""
    return config.home() / "reports"


def build_report(
    bank: Bank,
    qid: str,
    what: str,
    source: str,
    kind: str = "other",
    now: datetime | None = None,
) -> dict[str, str]:
    """Check and assemble a report.

    Args:
        bank: the bank (the id must be in it).
        qid: the question id, e.g. ``d1-001``.
        what: what is wrong, in the learner's words (at least 20 characters).
        source: the AWS documentation (or aws.amazon.com) URL that shows it.
        kind: one of :data:`KINDS`.
        now: the clock.

    Returns:
        The report fields.

    Raises:
        ReportError: unknown id, too short a description, a missing or non-AWS source, or an
            unknown kind.
    """
    if qid not in bank:
        raise ReportError(f"no question {qid!r} in the bank; the id is shown above every question")
    what = " ".join(what.split())
    if len(what) < 20:
        raise ReportError("say what is wrong in a sentence or two (at least 20 characters)")
    source = source.strip()
    if not _AWS_SOURCE.match(source):
        raise ReportError(
            "a report needs the authoritative AWS source: a https://docs.aws.amazon.com/... "
            "(or https://aws.amazon.com/...) page that shows what is right"
        )
    if kind not in KINDS:
        raise ReportError(f"kind {kind!r} is not one of: {', '.join(KINDS)}")
    q = bank.get(qid)
    return {
        "question_id": qid,
        "file": q.file,
        "kind": kind,
        "what_is_wrong": what,
        "aws_source": source,
        "keyed_answer": "".join(q.answer),
        "question_refs": ", ".join(q.refs),
        "reported": (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_report(report: dict[str, str], folder: Path | None = None) -> Path:
    """Write a report as Markdown with a YAML front block.

    Args:
        report: from :func:`build_report`.
        folder: where (default :func:`reports_dir`).

    Returns:
        The file written (one new file per report).
    """
    out = folder or reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    stamp = report["reported"].replace(":", "").replace("-", "")
    path = out / f"question-{report['question_id']}-{stamp}.md"
    front = yaml.safe_dump(report, sort_keys=False, allow_unicode=True)
    body = (
        f"---\n{front}---\n\n"
        f"# Question error: {report['question_id']}\n\n"
        f"**What is wrong ({report['kind']}):** {report['what_is_wrong']}\n\n"
        f"**AWS source:** {report['aws_source']}\n\n"
        "Open an issue with the 'Question error' form and attach this file.\n"
    )
    path.write_text(body, encoding="utf-8")
    return path


def read_report(path: Path | str) -> dict[str, str]:
    """Read a report file back (maintainers checking it).

    Args:
        path: the file.

    Returns:
        The fields of its front block.
    """
    text = Path(path).read_text(encoding="utf-8")
    _, front, _ = text.split("---\n", 2)
    data = yaml.safe_load(front)
    return {str(k): str(v) for k, v in data.items()}
