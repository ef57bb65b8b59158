"""Checks for lab check cells: requirements, state inspectors, choices, drills, cleanup.

Introduced in lab 00. A check cell opens a :func:`requirement`, reads the real state through
the lab session with an inspector (:func:`stream`, :func:`training_job`, ...) and states what
must hold; a miss raises :class:`CheckFailed` saying what is missing and how to find out.
See ``docs/lab-style.md`` for the pattern. Every function here makes read-only calls: they
cost nothing and change nothing.
"""

from mllab.checks import genai  # noqa: E402  (lab 05's inspectors: mllab.checks.genai)
from mllab.checks.choices import choice, encode_choice
from mllab.checks.cleanup import Leftover, billable_leftovers, nothing_billable_left
from mllab.checks.core import CheckFailed, Requirement, fail, parse_results, requirement
from mllab.checks.drills import LogTail, failure_reason, job_logs, logs_tail
from mllab.checks.inspect import (
    athena_query,
    delivery_stream,
    endpoint,
    glue_table,
    iam_policy,
    model_package,
    s3_objects,
    stream,
    training_job,
    transform_job,
    tuning_job,
)

__all__ = [
    "CheckFailed",
    "Leftover",
    "LogTail",
    "Requirement",
    "athena_query",
    "billable_leftovers",
    "choice",
    "delivery_stream",
    "encode_choice",
    "endpoint",
    "fail",
    "genai",
    "failure_reason",
    "glue_table",
    "iam_policy",
    "job_logs",
    "logs_tail",
    "model_package",
    "nothing_billable_left",
    "parse_results",
    "requirement",
    "s3_objects",
    "stream",
    "training_job",
    "transform_job",
    "tuning_job",
]
