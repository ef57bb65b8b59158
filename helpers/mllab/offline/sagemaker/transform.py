"""Offline batch transform: CreateTransformJob reads S3, runs the model, writes ``.out`` objects.

Introduced in lab 04. A transform job loads its model like an endpoint does
(:func:`mllab.offline.sagemaker.hosting.load_container`) and, in a background thread:

1. lists every object under ``TransformInput.DataSource.S3DataSource.S3Uri`` (``S3Prefix``) or
   in the manifest (``ManifestFile``), un-gzipping when ``CompressionType`` is ``Gzip``;
2. splits each object into records by ``SplitType`` (``Line``, ``RecordIO``, ``None`` = the
   whole object);
3. applies ``DataProcessing.InputFilter`` (a JSONPath, see :func:`jsonpath`) to each record;
4. sends the records in mini-batches (``BatchStrategy`` ``MultiRecord``: as many as fit in
   ``MaxPayloadInMB``, default 6; ``SingleRecord``: one each) with the input ``ContentType``
   and the output ``Accept``;
5. with ``JoinSource: Input`` joins each *original* input record with its prediction (CSV:
   the output columns are appended; JSON: the prediction goes under ``SageMakerOutput``),
   then applies ``OutputFilter``;
6. writes ``<S3OutputPath>/<object key below the input prefix>.out``, records separated by
   newlines when ``AssembleWith`` is ``Line`` and concatenated when ``None``.

Status moves ``InProgress`` -> ``Completed`` (or ``Failed`` with FailureReason, or ``Stopped``
after StopTransformJob); log lines go to ``/aws/sagemaker/TransformJobs``, stream
``<job>/<instance-id>`` and ``<job>/<instance-id>/data-log``. ``DescribeTransformJob`` waits up to
:data:`DESCRIBE_WAIT_SECONDS` for a running job so the ``transform_job_completed_or_stopped``
waiter (60 s between polls) usually returns on its first poll.

:func:`run_transform` is the runner; other modules (pipelines, monitoring) may call it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
import struct
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: How long DescribeTransformJob waits for a running job (seconds).
DESCRIBE_WAIT_SECONDS = 30.0

_RECORDIO_MAGIC = 0xCED7230A


class TransformFailure(Exception):
    """The job fails; the message is its FailureReason."""


@dataclass
class _Job:
    thread: threading.Thread
    done: threading.Event
    stop: threading.Event = field(default_factory=threading.Event)


_JOBS: dict[tuple[str, str, str], _Job] = {}


# --------------------------------------------------------------------------- JSONPath
def _parse_jsonpath(path: str) -> list[tuple[str, Any]]:
    """Parse the JSONPath subset SageMaker documents for batch transform filters."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with '$'")
    rest = path[1:]
    steps: list[tuple[str, Any]] = []
    while rest:
        if rest.startswith(".."):
            raise ValueError(f"JSONPath {path!r}: recursive descent ('..') is not supported")
        if rest.startswith("."):
            m = re.match(r"\.([A-Za-z_][\w-]*|\*)", rest)
            if not m:
                raise ValueError(f"JSONPath {path!r}: bad member name after '.'")
            steps.append(("all", None) if m.group(1) == "*" else ("keys", [m.group(1)]))
            rest = rest[m.end() :]
        elif rest.startswith("["):
            end, quote = 1, None
            while end < len(rest) and (quote or rest[end] != "]"):
                if rest[end] in "'\"":
                    quote = None if quote == rest[end] else (quote or rest[end])
                end += 1
            if end >= len(rest):
                raise ValueError(f"JSONPath {path!r}: missing ']'")
            inner, rest = rest[1:end].strip(), rest[end + 1 :]
            if inner == "*":
                steps.append(("all", None))
            elif inner[:1] in "'\"":
                keys = [k.strip().strip("'\"") for k in re.findall(r"'[^']*'|\"[^\"]*\"", inner)]
                steps.append(("keys", keys))
            elif ":" in inner:
                a, _, b = inner.partition(":")
                steps.append(
                    ("slice", (int(a) if a.strip() else None, int(b) if b.strip() else None))
                )
            else:
                steps.append(("index", [int(i) for i in inner.split(",")]))
        else:
            raise ValueError(f"JSONPath {path!r}: unexpected {rest[:1]!r}")
    return steps


def jsonpath(value: Any, path: str) -> Any:
    """Select from ``value`` with a batch-transform JSONPath (introduced in lab 04).

    Supports what the SageMaker docs use: ``$``, ``$[1:]``, ``$[0,-1]``, ``$[2]``, ``$.key``,
    ``$['a','b']``, ``$.features[0:3]``, ``$.SageMakerOutput['predicted_label']``. Several keys
    give an object with those keys; several indexes or a slice give an array.

    Raises:
        ValueError: the path is not valid or does not match the value.
    """
    for kind, arg in _parse_jsonpath(path):
        try:
            if kind == "all":
                value = list(value.values()) if isinstance(value, dict) else list(value)
            elif kind == "keys":
                if not isinstance(value, dict):
                    raise ValueError(
                        f"JSONPath {path!r}: {arg} selects object members but the record is not an object"
                    )
                value = value[arg[0]] if len(arg) == 1 else {k: value[k] for k in arg if k in value}
            elif kind == "index":
                if not isinstance(value, list):
                    raise ValueError(f"JSONPath {path!r}: an index needs an array")
                value = value[arg[0]] if len(arg) == 1 else [value[i] for i in arg]
            else:
                if not isinstance(value, list):
                    raise ValueError(f"JSONPath {path!r}: a slice needs an array")
                value = value[arg[0] : arg[1]]
        except (KeyError, IndexError) as err:
            raise ValueError(f"JSONPath {path!r} does not match the record: {err}") from None
    return value


# --------------------------------------------------------------------------- records
def _base(ct: str | None) -> str:
    return (ct or "").split(";")[0].strip().lower()


def _is_csv(ct: str | None) -> bool:
    return _base(ct) in ("text/csv", "csv")


def _is_json(ct: str | None) -> bool:
    return _base(ct) in (
        "application/json",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/jsonl",
    )


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """Split an object's bytes into records as SageMaker does for ``SplitType``."""
    if split_type == "Line":
        return [ln for ln in data.splitlines() if ln.strip()]
    if split_type == "RecordIO":
        out, pos = [], 0
        while pos + 8 <= len(data):
            magic, lrec = struct.unpack_from("<II", data, pos)
            if magic != _RECORDIO_MAGIC:
                raise TransformFailure(
                    "ClientError: the input is not in RecordIO format (bad magic number)."
                )
            length = lrec & ((1 << 29) - 1)
            padded = (length + 3) // 4 * 4
            out.append(data[pos : pos + 8 + padded])
            pos += 8 + padded
        return out
    if split_type in ("None", "", None):
        return [data] if data else []
    raise TransformFailure(
        f"ClientError: SplitType {split_type} is not supported offline (use Line, RecordIO or None)."
    )


def _record_value(record: bytes, ct: str | None) -> Any:
    text = record.decode("utf-8")
    if _is_csv(ct):
        import csv

        return next(csv.reader([text]), [])
    if _is_json(ct):
        return json.loads(text)
    return text


def _render(value: Any, ct: str | None) -> bytes:
    if _is_csv(ct):
        if isinstance(value, list):
            return ",".join(_csv_field(v) for v in value).encode("utf-8")
        return _csv_field(value).encode("utf-8")
    if isinstance(value, str) and not _is_json(ct):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _csv_field(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _split_output(out: bytes, n: int, ct: str) -> list[bytes] | None:
    """Split a mini-batch's response into one output per record (None when it cannot)."""
    if n == 1:
        return [out.rstrip(b"\n")]
    if _is_json(ct) and _base(ct) == "application/json":
        try:
            value = json.loads(out)
        except ValueError:
            return None
        if isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
        if isinstance(value, list) and len(value) == n:
            return [json.dumps(v, separators=(",", ":")).encode("utf-8") for v in value]
        return None
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if len(lines) == n:
        return lines
    if _is_csv(ct) and len(lines) == 1 and lines[0].count(b",") == n - 1:
        return lines[0].split(b",")  # one row per request, as the real-time XGBoost answer
    return None


def _join(record: bytes, in_ct: str, output: bytes, out_ct: str) -> Any:
    """Join an input record with its prediction (JoinSource=Input)."""
    out_value: Any
    if _is_csv(out_ct):
        out_value = _record_value(output, out_ct)
    else:
        try:
            out_value = json.loads(output)
        except ValueError:
            out_value = output.decode("utf-8", errors="replace")
    if _is_csv(in_ct):
        fields = _record_value(record, in_ct)
        return fields + (out_value if isinstance(out_value, list) else [out_value])
    if _is_json(in_ct):
        value = json.loads(record)
        if isinstance(value, dict):
            value["SageMakerOutput"] = (
                out_value[0] if isinstance(out_value, list) and len(out_value) == 1 else out_value
            )
            return value
        if isinstance(value, list):
            return value + (out_value if isinstance(out_value, list) else [out_value])
    raise TransformFailure(
        f"ClientError: JoinSource=Input needs CSV or JSON input; the input ContentType is {in_ct!r}."
    )


# --------------------------------------------------------------------------- the runner
def _inputs(account_id: str, source: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(s3 uri, key below the prefix)`` of every input object."""
    from mllab.offline.sagemaker import s3io

    s3 = source.get("S3DataSource") or {}
    uri, kind = str(s3.get("S3Uri") or ""), s3.get("S3DataType", "S3Prefix")
    if kind == "ManifestFile":
        try:
            entries = json.loads(s3io.get_bytes(account_id, uri))
        except (s3io.S3Missing, ValueError) as err:
            raise TransformFailure(
                f"ClientError: Cannot read the manifest file {uri}: {err}"
            ) from None
        prefix = str(entries[0]["prefix"])
        return [(prefix + rel, rel) for rel in entries[1:]]
    if kind != "S3Prefix":
        raise TransformFailure(
            f"ClientError: S3DataType {kind} is not supported offline (S3Prefix, ManifestFile)."
        )
    bucket, prefix = s3io.split_uri(uri)
    out = []
    for key, _size in s3io.list_keys(account_id, uri):
        if key.endswith("/"):
            continue
        rel = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
        out.append((f"s3://{bucket}/{key}", rel))
    return out


def run_transform(
    account_id: str, region: str, params: dict[str, Any], stop: threading.Event | None = None
) -> None:
    """Run one transform job to its end (the background thread of CreateTransformJob).

    Args:
        account_id: the offline account.
        region: the job's region.
        params: the CreateTransformJob request.
        stop: set to stop the job between mini-batches (StopTransformJob).

    Writes the ``.out`` objects and the job's logs, and sets its final status in moto.
    Offline it costs nothing; on AWS the instances bill from start to end.
    """
    from mllab.offline.sagemaker import hosting, s3io
    from mllab.offline.sagemaker.contract import ClientError
    from mllab.offline.sagemaker.cwlogs import TRANSFORM_GROUP, LogStream

    name = params["TransformJobName"]
    instance = f"i-{uuid.uuid4().hex[:17]}"
    log = LogStream(account_id, region, TRANSFORM_GROUP, f"{name}/{instance}")
    data_log = LogStream(account_id, region, TRANSFORM_GROUP, f"{name}/{instance}/data-log")
    workdir = Path(tempfile.mkdtemp(prefix=f"mllab-transform-{name}-"))
    status, reason = "Completed", None
    served = None
    try:
        be = hosting.backend(account_id, region)
        model = be._models.get(params["ModelName"])
        if model is None:
            raise TransformFailure(f'ClientError: Could not find model "{params["ModelName"]}".')
        container = dict(hosting._primary(model))
        container["Environment"] = {
            **(container.get("Environment") or {}),
            **(params.get("Environment") or {}),
        }
        log.write(f"Starting the model server (image {container.get('Image')})")
        try:
            served = hosting.load_container(container, account_id, workdir)
        except hosting.LoadFailure as err:
            raise TransformFailure(f"ClientError: {err}") from None
        tin, tout = params["TransformInput"], params["TransformOutput"]
        dp = params.get("DataProcessing") or {}
        in_ct = str(tin.get("ContentType") or "application/octet-stream")
        accept = str(tout.get("Accept") or "*/*")
        split = str(tin.get("SplitType") or "None")
        strategy = str(params.get("BatchStrategy") or "MultiRecord")
        max_mb = int(params.get("MaxPayloadInMB", 6))
        max_bytes = max_mb * 1024 * 1024 if max_mb > 0 else None
        assemble = str(tout.get("AssembleWith") or "None")
        join = dp.get("JoinSource") == "Input"
        in_filter, out_filter = dp.get("InputFilter"), dp.get("OutputFilter")
        out_base = str(tout["S3OutputPath"]).rstrip("/")
        data_log.write(
            f"[sagemaker logs]: MaxConcurrentTransforms={params.get('MaxConcurrentTransforms', 1)}, "
            f"MaxPayloadInMB={max_mb}, BatchStrategy={strategy.upper()}"
        )
        objects = _inputs(account_id, tin["DataSource"])
        if not objects:
            uri = ((tin["DataSource"].get("S3DataSource") or {}).get("S3Uri")) or ""
            raise TransformFailure(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
                f"Please ensure that the bucket exists in the selected region ({region}), that objects "
                "exist under that S3 prefix, and that the role has s3:ListBucket permissions on the bucket."
            )
        for uri, rel in objects:
            if stop is not None and stop.is_set():
                status, reason = "Stopped", None
                break
            try:
                data = s3io.get_bytes(account_id, uri)
            except s3io.S3Missing as err:
                raise TransformFailure(f"ClientError: {err}") from None
            if tin.get("CompressionType") == "Gzip":
                data = gzip.decompress(data)
            records = split_records(data, split)
            sent = []
            for r in records:
                if in_filter and in_filter != "$":
                    try:
                        r = _render(jsonpath(_record_value(r, in_ct), in_filter), in_ct)
                    except ValueError as err:
                        raise TransformFailure(f"ClientError: InputFilter: {err}") from None
                if max_bytes is not None and len(r) > max_bytes:
                    raise TransformFailure(
                        f"ClientError: a record of {uri} is {len(r)} bytes, more than MaxPayloadInMB="
                        f"{max_mb}. Raise MaxPayloadInMB or split the records (SplitType)."
                    )
                sent.append(r)
            outputs = _predict_batches(
                served,
                sent,
                split,
                strategy,
                max_bytes,
                in_ct,
                accept,
                join or bool(out_filter),
                uri,
                data_log,
            )
            results: list[bytes] = []
            for i, out in enumerate(outputs):
                value: Any = None
                if join:
                    value = _join(records[i], in_ct, out[0], out[1])
                    ct = in_ct
                elif out_filter:
                    value = _record_value(out[0], out[1]) if _is_csv(out[1]) else json.loads(out[0])
                    ct = out[1]
                if out_filter and out_filter != "$":
                    try:
                        value = jsonpath(value, out_filter)
                    except ValueError as err:
                        raise TransformFailure(f"ClientError: OutputFilter: {err}") from None
                results.append(_render(value, ct) if value is not None else out[0])
            sep = b"\n" if assemble == "Line" else b""
            body = sep.join(results) + (sep if results and assemble == "Line" else b"")
            s3io.put_bytes(account_id, f"{out_base}/{rel}.out", body)
            data_log.write(f"[sagemaker logs]: {uri[5:]}: {len(records)} records transformed")
    except TransformFailure as err:
        status, reason = "Failed", str(err)
        log.write(f"ERROR: {reason}")
    except ClientError as err:
        status, reason = "Failed", "ClientError: See job logs for more information"
        log.write(f"ERROR: {err}")
    except Exception as err:  # noqa: BLE001 - the algorithm crashed
        status, reason = "Failed", "AlgorithmError: See job logs for more information"
        log.write(f"ERROR: {type(err).__name__}: {err}")
    finally:
        log.flush()
        data_log.flush()
        if served is not None:
            served.close()
        shutil.rmtree(workdir, ignore_errors=True)
    _finish(account_id, region, name, status, reason)


def _predict_batches(
    served: Any,
    records: list[bytes],
    split: str,
    strategy: str,
    max_bytes: int | None,
    in_ct: str,
    accept: str,
    per_record: bool,
    uri: str,
    data_log: Any,
) -> list[tuple[bytes, str]]:
    """Send the records in mini-batches; return one (output, content type) per record (or per batch)."""
    from mllab.offline.sagemaker.contract import ClientError

    sep = b"" if split == "RecordIO" else b"\n"
    batches: list[list[bytes]] = []
    if strategy == "SingleRecord" or split == "None":
        batches = [[r] for r in records]
    else:
        current: list[bytes] = []
        size = 0
        for r in records:
            extra = len(r) + (len(sep) if current else 0)
            if current and max_bytes is not None and size + extra > max_bytes:
                batches.append(current)
                current, size = [], 0
                extra = len(r)
            current.append(r)
            size += extra
        if current:
            batches.append(current)
    outputs: list[tuple[bytes, str]] = []
    for batch in batches:
        try:
            out, ct = served.predict(sep.join(batch), in_ct, accept)
        except ClientError as err:
            status = int(getattr(err, "status", 400) or 400)
            data_log.write(f"[sagemaker logs]: {uri[5:]}: ClientError: {status}")
            data_log.write(f"[sagemaker logs]: {uri[5:]}: Message: {err}")
            raise TransformFailure(
                f"ClientError: See job logs for more information. The model answered {status}: {err}"
            ) from None
        parts = _split_output(out, len(batch), ct)
        if parts is None:
            if per_record:
                raise TransformFailure(
                    f"ClientError: the model's {ct} answer to a mini-batch of {len(batch)} records "
                    "could not be split into one output per record, which JoinSource/OutputFilter "
                    "need. Use BatchStrategy=SingleRecord or an Accept type with one line per record."
                )
            outputs.append((out.rstrip(b"\n"), ct))
        else:
            outputs.extend((p, ct) for p in parts)
    return outputs


def _finish(account_id: str, region: str, name: str, status: str, reason: str | None) -> None:
    from mllab.offline.sagemaker import hosting

    try:
        job = hosting.backend(account_id, region).transform_jobs.get(name)
    except Exception:  # noqa: BLE001 - moto stopped (lab closed)
        return
    if job is None:
        return
    now = dt.datetime.now(dt.UTC)
    job.transform_job_status = status
    job.failure_reason = reason
    job.transform_end_time = now
    job.last_modified_time = now


# --------------------------------------------------------------------------- handlers
_SPLIT = ("None", "Line", "RecordIO", "TFRecord")
_STRATEGY = ("MultiRecord", "SingleRecord")
_ASSEMBLE = ("None", "Line")


def _enum_error(value: Any, where: str, allowed: tuple[str, ...]) -> AwsError:
    return AwsError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(allowed)}]",
    )


@handles("sagemaker", "CreateTransformJob")
def _create_check(call: OfflineCall) -> dict[str, Any] | None:
    from mllab.offline.sagemaker import hosting

    p = call.params
    be = hosting.backend(call.account_id, call.region)
    name = p.get("TransformJobName", "")
    if name in be.transform_jobs:
        raise AwsError(
            "ValidationException",
            "Job name must be unique within an AWS account and region, and a job with this name "
            f"already exists ({hosting._arn('transform-job', name, call.account_id, call.region)})",
        )
    if p.get("ModelName") not in be._models:
        raise AwsError(
            "ValidationException",
            f'Could not find model "{hosting._arn("model", str(p.get("ModelName")), call.account_id, call.region)}".',
        )
    tin, tout = p.get("TransformInput") or {}, p.get("TransformOutput") or {}
    if tin.get("SplitType", "None") not in _SPLIT:
        raise _enum_error(tin.get("SplitType"), "transformInput.splitType", _SPLIT)
    if p.get("BatchStrategy", "MultiRecord") not in _STRATEGY:
        raise _enum_error(p.get("BatchStrategy"), "batchStrategy", _STRATEGY)
    if tout.get("AssembleWith", "None") not in _ASSEMBLE:
        raise _enum_error(tout.get("AssembleWith"), "transformOutput.assembleWith", _ASSEMBLE)
    mb = p.get("MaxPayloadInMB", 6)
    if not isinstance(mb, int) or mb < 0 or mb > 100:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{mb}' at 'maxPayloadInMB' failed to satisfy "
            "constraint: Member must have value less than or equal to 100",
        )
    dp = p.get("DataProcessing") or {}
    if dp.get("JoinSource", "None") not in ("None", "Input"):
        raise _enum_error(dp.get("JoinSource"), "dataProcessing.joinSource", ("Input", "None"))
    for key in ("InputFilter", "OutputFilter"):
        if dp.get(key):
            try:
                _parse_jsonpath(str(dp[key]))
            except ValueError as err:
                raise AwsError("ValidationException", f"DataProcessing.{key}: {err}") from None
    uri = ((tin.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri", "")
    if not str(uri).startswith("s3://") or not str(tout.get("S3OutputPath", "")).startswith(
        "s3://"
    ):
        raise AwsError(
            "ValidationException",
            "TransformInput.DataSource.S3DataSource.S3Uri and TransformOutput.S3OutputPath must be S3 URIs (s3://bucket/prefix).",
        )
    return None


@handles("sagemaker", "CreateTransformJob", "after")
def _create_transform_job(call: OfflineCall) -> None:
    from mllab.offline.sagemaker import hosting

    acct, region = call.account_id, call.region
    params = dict(call.params)
    name = params["TransformJobName"]
    job = hosting.backend(acct, region).transform_jobs.get(name)
    if job is None:
        return
    now = dt.datetime.now(dt.UTC)
    job.transform_job_status = "InProgress"
    job.failure_reason = None
    job.transform_start_time = now
    job.transform_end_time = None
    done, stop = threading.Event(), threading.Event()

    def run() -> None:
        try:
            run_transform(acct, region, params, stop)
        finally:
            done.set()

    thread = threading.Thread(target=run, name=f"mllab-transform-{name}", daemon=True)
    _JOBS[(acct, region, name)] = _Job(thread, done, stop)
    thread.start()


@handles("sagemaker", "DescribeTransformJob")
def _describe_transform_job(call: OfflineCall) -> dict[str, Any] | None:
    job = _JOBS.get((call.account_id, call.region, str(call.params.get("TransformJobName", ""))))
    if job is not None:
        job.done.wait(DESCRIBE_WAIT_SECONDS)
    return None


@handles("sagemaker", "StopTransformJob")
def _stop_transform_job(call: OfflineCall) -> dict[str, Any]:
    from mllab.offline.sagemaker import hosting

    name = str(call.params.get("TransformJobName", ""))
    be = hosting.backend(call.account_id, call.region)
    job = be.transform_jobs.get(name)
    if job is None:
        raise AwsError(
            "ValidationException",
            f'Could not find transform job "{hosting._arn("transform-job", name, call.account_id, call.region)}".',
        )
    running = _JOBS.get((call.account_id, call.region, name))
    if job.transform_job_status == "InProgress" and running is not None:
        job.transform_job_status = "Stopping"
        running.stop.set()
        running.done.wait(DESCRIBE_WAIT_SECONDS)
        if job.transform_job_status in ("Stopping", "Completed"):
            _finish(call.account_id, call.region, name, "Stopped", None)
    return {}


def wait_jobs(timeout: float = 60.0) -> bool:
    """Wait for every running transform job to end (tests, labs). Returns True when all ended."""
    for job in list(_JOBS.values()):
        job.done.wait(timeout)
    return all(j.done.is_set() for j in _JOBS.values())


@on_reset
def _reset() -> None:
    """The offline account is wiped: stop running transform jobs and forget them."""
    for job in list(_JOBS.values()):
        job.stop.set()
    wait_jobs(timeout=10.0)
    _JOBS.clear()
