"""The checks of lab 00 (orientation), as functions the notebook's check cells call.

Each ``verify_<key>(lab, ...)`` reads the real state through the lab (the S3 object, the
Kinesis stream and its tags, the training jobs, this run's ledger rows, the guard's own
frame in a refusal's traceback) and returns the note of the PASS line, or raises
:class:`~mllab.checks.core.CheckFailed` saying what is missing and how to find out. Kept
apart from the notebook so ``tests/checks/test_lab00_checks.py`` can give each check
prepared wrong, alternative and faked states. Every call is read-only and free.

The guard records no refusal (nothing is sent, nothing reaches the ledger), so ``refusal``
is confirmed from the exception itself: a CostGuardError the guard raised carries a
traceback whose innermost frame is :meth:`mllab.guard.core.Guard.check` of *this lab's*
guard, reached through botocore's client, with the refused request's parameters in that
frame. One constructed (or raised) by hand has no such frame.
"""

from __future__ import annotations

import io
import math
import numbers
import traceback
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from mllab.checks.core import need as _need
from mllab.checks.inspect import s3_objects, stream, training_job

PLEDGE = b"I will tear down what I create."


# --------------------------------------------------------------------------- requirement 1
def verify_bucket_note(lab: Any, key: str = "notes/pledge.txt", text: bytes = PLEDGE) -> str:
    """Requirement 1: ``key`` in the lab bucket holds exactly ``text`` (ListObjectsV2, GetObject)."""
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    found = s3_objects(lab, folder)
    _need(
        key in found.keys,
        f"no object {key} in s3://{lab.bucket}/{folder} (found: {found.keys}); list the "
        f"bucket with s3.list_objects_v2(Bucket=lab.bucket, Prefix={folder!r})",
    )
    body = found.read(lab, key)
    _need(
        body == text,
        f"s3://{lab.bucket}/{key} holds {body[:80]!r}; store exactly {text.decode()!r} "
        "(read it back with s3.get_object(...)['Body'].read())",
    )
    return f"{len(body)} bytes in s3://{lab.bucket}/{key}"


# --------------------------------------------------------------------------- requirement 2
def _guard_frame(err: BaseException) -> tuple[Any, bool]:
    """The frame of ``Guard.check`` that raised ``err`` (innermost), and whether the call
    came through botocore's client (``_make_api_call``)."""
    frames = [f for f, _ in traceback.walk_tb(err.__traceback__)]
    via_client = any(
        f.f_code.co_name == "_make_api_call" and "botocore" in f.f_code.co_filename for f in frames
    )
    last = frames[-1] if frames else None
    if last is None or last.f_code.co_name != "check" or "mllab" not in last.f_code.co_filename:
        return None, via_client
    return last, via_client


def verify_refusal(
    lab: Any,
    refusal: Any,
    job_name: str = "colleague-gpu-job",
    operation: str = "sagemaker:CreateTrainingJob",
) -> str:
    """Requirement 2: the guard refused CreateTrainingJob for ``job_name`` and nothing was sent.

    ``refusal`` must be a CostGuardError raised by this lab's guard (read from its traceback:
    the guard's ``check`` frame, its ``self`` and the request it refused), the account must
    have no training job of that name (ListTrainingJobs) and the ledger no row for it.
    """
    from mllab.guard.errors import CostGuardError

    _need(
        isinstance(refusal, CostGuardError),
        f"`refusal` is {type(refusal).__name__}, not the CostGuardError raised by "
        "sm.create_training_job(**risky_request): catch it with "
        "`except CostGuardError as err: refusal = err`",
    )
    frame, via_client = _guard_frame(refusal)
    _need(
        frame is not None and via_client,
        "`refusal` was not raised by the cost guard in front of a client call (its "
        "__traceback__ does not end in the guard's check, reached from botocore's "
        "_make_api_call): send risky_request with sm.create_training_job and keep the error "
        "the guard raises",
    )
    _need(
        frame.f_locals.get("self") is lab.guard,
        "`refusal` was raised by another lab's guard: send the request while this lab is open",
    )
    label = f"{frame.f_locals.get('service')}:{frame.f_locals.get('operation')}"
    _need(
        label == operation and refusal.operation == operation,
        f"the guard refused {label}, not {operation}: send risky_request with "
        "sm.create_training_job",
    )
    params = frame.f_locals.get("params") or {}
    _need(
        params.get("TrainingJobName") == job_name,
        f"the guard refused a training job named {params.get('TrainingJobName')!r}, not "
        f"{job_name!r}: send risky_request unchanged",
    )
    sm = lab.client("sagemaker")
    names = [
        j["TrainingJobName"]
        for j in sm.list_training_jobs(NameContains=job_name)["TrainingJobSummaries"]
    ]
    _need(
        job_name not in names,
        f"the training job {job_name} exists in the account (list_training_jobs): the request "
        "was sent; it should have been refused",
    )
    _need(
        lab.ledger.latest_for(job_name, run=lab.run_id) is None,
        f"the ledger has a row for {job_name} (lab.ledger.rows(run=lab.run_id)): the guard "
        "allowed it",
    )
    return f"refused before sending: {refusal.reason}"


# --------------------------------------------------------------------------- requirement 3
def verify_stream(lab: Any, name: str = "orientation-clicks") -> str:
    """Requirement 3: a provisioned one-shard stream, tagged by the guard for this run and
    priced in the ledger (DescribeStreamSummary, ListTagsForStream, the ledger)."""
    s = stream(lab, name)
    _need(
        s.mode == "PROVISIONED",
        f"the stream is {s.mode} (StreamModeDetails.StreamMode of describe_stream_summary); "
        "create it in PROVISIONED mode",
    )
    _need(
        s.shard_count == 1,
        f"the stream has {s.shard_count} open shards (OpenShardCount); 800 x 1 KB/s fits in one",
    )
    tags = {
        t["Key"]: t["Value"]
        for t in lab.client("kinesis").list_tags_for_stream(StreamName=name)["Tags"]
    }
    _need(
        tags.get("mllab:lab") == lab.name and tags.get("mllab:run") == lab.run_id,
        f"the stream is not tagged mllab:lab={lab.name}, mllab:run={lab.run_id} (tags from "
        f"kinesis.list_tags_for_stream: {tags}); create it while this lab is open, the guard "
        "tags it",
    )
    row = lab.ledger.latest_for(name, run=lab.run_id)
    _need(
        row is not None and row.operation == "CreateStream" and row.estimate_usd > 0,
        f"the ledger has no CreateStream row for {name} in this run "
        "(lab.ledger.rows(run=lab.run_id)): was it created while the lab was open?",
    )
    return (
        f"{s.shard_count} shard, {s.retention_hours} h retention, estimated "
        f"${row.estimate_usd:.3f} for the lab's hour"
    )


# --------------------------------------------------------------------------- requirement 4
def _aware(t: Any) -> Any:
    import datetime as dt

    if isinstance(t, dt.datetime):
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(t)).astimezone(dt.UTC)


def verify_drill(lab: Any, broken_name: str, fixed_name: str, data: Any, label: str) -> str:
    """Requirement 4: the provided job failed; the same request, rerun on repaired data, completed.

    Compares the two ``DescribeTrainingJob`` answers (image, role, resources, stopping
    condition, hyperparameters, channels), then reads the channel's CSV from S3: no header,
    no index, ``label`` first, the rows of ``data``; written before the fixed job was created.
    """
    import numpy as np
    import pandas as pd

    broken = training_job(lab, broken_name)
    _need(
        broken.status == "Failed",
        f"the provided job {broken_name} is {broken.status}; it should have failed: rerun the "
        "cell that launches it",
    )
    fixed = training_job(lab, fixed_name)
    _need(
        fixed.status == "Completed",
        f"{fixed_name} is {fixed.status}: {fixed.failure_reason} (read it with "
        "failure_reason(lab, job) and job_logs(lab, job))",
    )
    differ = fixed.request_differences(broken)
    _need(
        not differ,
        f"{fixed_name} differs from {broken_name} in {', '.join(differ)} (describe_training_job "
        "of both): rerun the same request; only the data should change",
    )
    uri = fixed.channels.get("train", "")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    objs = s3_objects(lab, prefix, bucket, at_least=1)
    s3 = lab.client("s3")
    created = _aware(fixed.raw["CreationTime"])
    for key in objs.keys:
        written = _aware(s3.head_object(Bucket=bucket, Key=key)["LastModified"])
        _need(
            written <= created,
            f"s3://{bucket}/{key} was written at {written:%H:%M:%S}, after {fixed_name} was "
            f"created ({created:%H:%M:%S}): the job did not read it; upload, then run the job",
        )
    body = b"".join(objs.read(lab, k) for k in objs.keys)
    try:
        got = pd.read_csv(io.BytesIO(body), header=None).to_numpy(dtype=float)
    except ValueError:
        got = None
    _need(
        got is not None,
        f"the CSV under {uri} has a row that is not numbers (a header?): built-in XGBoost reads "
        "CSV without a header (to_csv(header=False, index=False))",
    )
    want = data[[label, *[c for c in data.columns if c != label]]].to_numpy(dtype=float)
    assert got is not None
    _need(
        got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-6, atol=1e-9)),
        f"the CSV under {uri} is {got.shape[0]} x {got.shape[1]}; it should hold the "
        f"{want.shape[0]} x {want.shape[1]} rows of the sample with {label!r} first and no "
        "index column (read it back with s3.get_object)",
    )
    return (
        f"was: {broken.failure_reason[:90]}...; now Completed with {fixed.metrics}, same request, "
        f"{want.shape[0]} headerless rows, {label} first"
    )


# --------------------------------------------------------------------------- requirement 5
def verify_ledger(
    lab: Any, spent: Any, resources: Iterable[str] = ("orientation-clicks",), jobs: int = 2
) -> str:
    """Requirement 5: ``spent`` is what the ledger charged this run, to the last digit.

    The ledger's total (``charged_usd`` of ``lab.ledger.rows(run=lab.run_id)``, the figure of
    ``lab.cost()['spent_usd']``) must equal ``spent`` within 1e-12: the rounded figure a
    print shows misses. A number typed with every digit of the ledger's total cannot be told
    apart from one read, but it can only be typed after reading the ledger.
    """
    _need(
        isinstance(spent, numbers.Real)
        and not isinstance(spent, bool)
        and math.isfinite(float(spent)),
        f"`spent` is {spent!r}; keep the dollars as a number: lab.cost()['spent_usd']",
    )
    rows = lab.ledger.rows(run=lab.run_id)
    total = sum(r.charged_usd for r in rows)
    _need(
        abs(float(spent) - total) < 1e-12 and abs(float(spent) - lab.cost()["spent_usd"]) < 1e-12,
        f"`spent` is {float(spent)!r}; this run's ledger charged {total!r}: read it with "
        "lab.cost()['spent_usd'] after the drill (not a rounded or earlier figure)",
    )
    missing = [r for r in resources if not any(row.resource == r for row in rows)]
    trainings = sum(1 for r in rows if r.operation == "CreateTrainingJob")
    _need(
        not missing and trainings >= jobs,
        f"the ledger should show the stream and {jobs} training jobs; it has no row for "
        f"{missing} and {trainings} CreateTrainingJob row(s) (lab.ledger.rows(run=lab.run_id))",
    )
    return f"${float(spent):.4f} across {len(rows)} billable requests"


# --------------------------------------------------------------------------- requirement 6
def verify_teardown(lab: Any, streams: Iterable[str] = ("orientation-clicks",)) -> str:
    """Requirement 6: nothing billable of this run is left (the guard's record and the run
    tag, :func:`mllab.checks.cleanup.nothing_billable_left`), and the named streams are gone
    (DescribeStreamSummary answers ResourceNotFoundException)."""
    from mllab.checks.cleanup import nothing_billable_left

    k = lab.client("kinesis")
    for name in streams:
        try:
            status = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
                "StreamStatus"
            ]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise
        _need(
            status == "DELETING",
            f"the stream {name} is {status} (describe_stream_summary): delete it with "
            f"kinesis.delete_stream(StreamName={name!r}) or lab.teardown()",
        )
    return nothing_billable_left(lab)
