"""Troubleshooting drills: read a failed job's reason and logs like you would on AWS.

Every lab has one drill (introduced in lab 03): a provided broken configuration fails, the
learner reads ``FailureReason`` and the CloudWatch log stream, then fixes it. These helpers
make the reading easy; they call the documented APIs (``describe_*_job``,
``logs.describe_log_streams`` / ``get_log_events``), cost nothing and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mllab.checks.core import CheckFailed

#: Log group per job kind, as SageMaker names them.
LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "processing": "/aws/sagemaker/ProcessingJobs",
    "transform": "/aws/sagemaker/TransformJobs",
    "endpoint": "/aws/sagemaker/Endpoints/{name}",
}


@dataclass
class LogTail:
    """The last lines of one or more log streams.

    Attributes:
        group: the log group.
        streams: the streams read.
        lines: the messages, oldest first.
    """

    group: str
    streams: list[str]
    lines: list[str]

    def __str__(self) -> str:
        head = f"{self.group} ({', '.join(self.streams) or 'no streams'})"
        return head + "\n" + "\n".join(f"  {line}" for line in self.lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def contains(self, text: str) -> bool:
        """Whether any line contains ``text`` (case-insensitive)."""
        return any(text.lower() in line.lower() for line in self.lines)


def logs_tail(lab: Any, log_group: str, stream_prefix: str = "", n: int = 20) -> LogTail:
    """Return the last ``n`` lines of the log streams starting with ``stream_prefix``.

    Args:
        lab: the open lab.
        log_group: e.g. ``/aws/sagemaker/TrainingJobs`` (see :data:`LOG_GROUPS`).
        stream_prefix: e.g. the job name (streams are ``<job>/algo-1-<epoch>``).
        n: lines to return.

    Returns:
        :class:`LogTail` (print it).

    Raises:
        CheckFailed: the log group does not exist or no stream matches.
    """
    logs = lab.client("logs")
    try:
        kw: dict[str, Any] = {"logGroupName": log_group}
        if stream_prefix:
            kw["logStreamNamePrefix"] = stream_prefix
        streams = [
            s["logStreamName"] for s in logs.describe_log_streams(**kw).get("logStreams", [])
        ]
    except ClientError as err:
        raise CheckFailed(
            f"log group {log_group!r} was not found ({err.response.get('Error', {}).get('Code')}); "
            "list groups with logs.describe_log_groups()"
        ) from None
    if not streams:
        raise CheckFailed(
            f"no log stream in {log_group} starts with {stream_prefix!r}; "
            f"list them with logs.describe_log_streams(logGroupName={log_group!r})"
        )
    lines: list[str] = []
    for s in sorted(streams):
        events = logs.get_log_events(
            logGroupName=log_group, logStreamName=s, limit=max(n, 1), startFromHead=False
        ).get("events", [])
        lines.extend(str(e.get("message", "")).rstrip("\n") for e in events)
    return LogTail(log_group, sorted(streams), lines[-n:])


def failure_reason(lab: Any, job_name: str, kind: str = "training") -> str:
    """Return a job's ``FailureReason`` (empty string when it did not fail).

    Args:
        lab: the open lab.
        job_name: the job name.
        kind: ``training``, ``processing``, ``transform`` or ``tuning``.

    Returns:
        The reason, in AWS's words.

    Raises:
        CheckFailed: no such job.
    """
    sm = lab.client("sagemaker")
    ops = {
        "training": ("describe_training_job", "TrainingJobName"),
        "processing": ("describe_processing_job", "ProcessingJobName"),
        "transform": ("describe_transform_job", "TransformJobName"),
        "tuning": ("describe_hyper_parameter_tuning_job", "HyperParameterTuningJobName"),
    }
    if kind not in ops:
        raise ValueError(f"kind must be one of {sorted(ops)}")
    op, key = ops[kind]
    try:
        d = getattr(sm, op)(**{key: job_name})
    except ClientError as err:
        raise CheckFailed(
            f"{kind} job {job_name!r} was not found: {err.response.get('Error', {}).get('Message')}"
        ) from None
    return str(d.get("FailureReason", ""))


def job_logs(lab: Any, job_name: str, kind: str = "training", n: int = 20) -> LogTail:
    """Return the last log lines of a SageMaker job (its group, streams named after the job).

    Args:
        lab: the open lab.
        job_name: the job name.
        kind: ``training``, ``processing`` or ``transform``.
        n: lines to return.

    Returns:
        :class:`LogTail`.
    """
    return logs_tail(lab, LOG_GROUPS[kind], job_name + "/", n)
