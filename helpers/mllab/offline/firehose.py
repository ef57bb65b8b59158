"""Offline Amazon Data Firehose: buffering, delivery to S3, transforms and conversion (lab 01).

moto keeps the delivery streams (the control plane); this module does what Firehose runs:

* ``PutRecord`` / ``PutRecordBatch`` (DirectPut) and Kinesis-stream sources
  (``KinesisStreamSourceConfiguration``: records put into the Kinesis stream from the
  moment the delivery stream exists, as Firehose reads from LATEST) fill a buffer.
* The buffer is delivered to S3 when its size reaches ``BufferingHints.SizeInMBs`` or its
  oldest record is ``IntervalInSeconds`` old on the lab clock (:mod:`mllab.offline.clock`);
  a zero interval delivers at each put. Nothing is ever delivered earlier. Time passes by
  :func:`mllab.offline.clock.advance` (the learner skips ahead) or by real time (a
  background timer that stops when the last offline lab closes).
* One S3 object per flush (per partition with dynamic partitioning), named as Firehose
  names it: ``<evaluated prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><ext>``, with
  the default ``YYYY/MM/dd/HH/`` (UTC) time prefix or the ``!{timestamp:...}``,
  ``!{firehose:random-string}``, ``!{partitionKeyFromQuery:k}`` and
  ``!{partitionKeyFromLambda:k}`` expressions; timestamps are the approximate arrival time
  of the oldest record in the object.
* Processors: ``Lambda`` (the function deployed with ``lambda:CreateFunction``, run for real
  by :mod:`mllab.offline.lambda_`; or a local Python function bound with
  :func:`register_transform`, which wins), ``MetadataExtraction`` (JQ-1.6 queries of the simple
  object form ``{key: .field, other: .a.b}``; other JQ is refused at create) and
  ``AppendDelimiterToRecord``. ``RecordDeAggregation``, ``Decompression`` and
  ``CloudWatchLogProcessing`` are refused at create (not emulated).
* ``DataFormatConversionConfiguration``: JSON (OpenXJsonSerDe or HiveJsonSerDe) to Parquet
  with the column types of the Glue table in ``SchemaConfiguration`` (moto's catalog);
  ORC output is refused at create (not emulated).
* ``CompressionFormat`` UNCOMPRESSED, GZIP (``.gz``) and ZIP (``.zip``); Snappy and
  HADOOP_SNAPPY are refused at create (not emulated).
* Records that fail a transform or the conversion are written under ``ErrorOutputPrefix``
  (``!{firehose:error-output-type}`` evaluates to ``processing-failed`` or
  ``format-conversion-failed``), one JSON document per line in AWS's layout.
* Limits: records up to 1,000 KiB; PutRecordBatch up to 500 records and 4 MiB; the
  per-stream throughput quota (us-east-1, us-west-2, eu-west-1: 5 MiB/s, 500,000 records/s,
  2,000 requests/s; other regions 1 MiB/s, 100,000 records/s, 1,000 requests/s) measured
  on the lab clock over one second, answered per record with ``ServiceUnavailableException``
  ("Slow down.") as AWS does.

Simplifications (said plainly): one buffer per delivery stream; with dynamic partitioning
a flush writes one object per partition key value (AWS keeps a buffer per partition); the
Lambda transform runs at flush time on the whole buffer (AWS buffers its own invocations);
failed S3 writes (a missing bucket) keep the records buffered and are retried at the next
flush check, and the error is listed by :func:`delivery_errors` and written to the
CloudWatch Logs stream of ``CloudWatchLoggingOptions`` when enabled.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import inspect
import io
import json
import re
import secrets
import threading
import uuid
import weakref
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

MIB = 1024 * 1024
#: The largest record Firehose accepts: 1,000 KiB (before base64 encoding).
MAX_RECORD_BYTES = 1_024_000
#: PutRecordBatch limits (cannot be raised on AWS).
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * MIB
#: Regions with the larger default Direct PUT quota.
_BIG_QUOTA_REGIONS = {"us-east-1", "us-west-2", "eu-west-1"}
#: How often the background timer looks for due buffers (wall-clock seconds).
TIMER_TICK_SECONDS = 0.5

_LOCK = threading.RLock()
_TRANSFORMS: dict[str, Callable[..., Any]] = {}


# --------------------------------------------------------------------------- state
@dataclass
class _Record:
    data: bytes
    arrival: float  # lab-clock POSIX seconds
    record_id: str
    kinesis: dict[str, Any] | None = None


@dataclass
class _State:
    account_id: str
    region: str
    records: list[_Record] = field(default_factory=list)
    size: int = 0
    window: deque[tuple[float, int, int]] = field(default_factory=deque)  # (t, bytes, records)
    requests: deque[float] = field(default_factory=deque)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()


def _backends() -> Any:
    from moto.firehose.models import firehose_backends

    return firehose_backends


def _find(account_id: str, region: str, name: str) -> Any:
    """Return moto's delivery stream, or raise AWS's ResourceNotFoundException."""
    ds = _backends()[account_id][region].delivery_streams.get(name)
    if ds is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Firehose {name} under account {account_id} not found.",
        )
    return ds


def _state(ds: Any, account_id: str, region: str) -> _State:
    with _LOCK:
        st = _STATES.get(ds)
        if st is None:
            st = _STATES[ds] = _State(account_id=account_id, region=region)
        return st


def _all_streams() -> list[tuple[Any, _State]]:
    with _LOCK:
        return list(_STATES.items())


def _destination(ds: Any) -> dict[str, Any] | None:
    dest = ds.destinations[0]
    return dest.get("ExtendedS3") or dest.get("S3")


def _buffering(conf: dict[str, Any]) -> tuple[int, int]:
    hints = conf.get("BufferingHints") or {}
    default_size = 128 if _conversion_enabled(conf) else 5
    return int(hints.get("SizeInMBs", default_size)), int(hints.get("IntervalInSeconds", 300))


def _conversion_enabled(conf: dict[str, Any]) -> bool:
    dfc = conf.get("DataFormatConversionConfiguration") or {}
    return bool(dfc) and dfc.get("Enabled", True) is not False


def _dynamic_partitioning(conf: dict[str, Any]) -> bool:
    return bool((conf.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))


def _processors(conf: dict[str, Any]) -> list[dict[str, Any]]:
    pc = conf.get("ProcessingConfiguration") or {}
    if not pc.get("Enabled"):
        return []
    return list(pc.get("Processors") or [])


def _param(processor: dict[str, Any], name: str, default: str | None = None) -> str | None:
    for p in processor.get("Parameters") or []:
        if p.get("ParameterName") == name:
            return str(p.get("ParameterValue"))
    return default


# --------------------------------------------------------------------------- public API
def register_transform(function_arn: str, python_callable: Callable[..., Any]) -> None:
    """Bind a local Python function to a Lambda ARN used in a Firehose ``ProcessingConfiguration``.

    Offline there is no Lambda service; Firehose calls this function instead, with the
    event AWS sends (``{"invocationId", "deliveryStreamArn", "region", "records": [{"recordId",
    "approximateArrivalTimestamp", "data" (base64)}]}``) and a context object. It must
    return ``{"records": [{"recordId", "result": "Ok" | "Dropped" | "ProcessingFailed",
    "data" (base64), "metadata": {"partitionKeys": {...}}}]}`` as a Lambda would.

    Args:
        function_arn: the ARN in the processor's ``LambdaArn`` parameter (a ``:$LATEST`` or
            version suffix is matched too).
        python_callable: ``handler(event, context)`` (or ``handler(event)``).

    Returns:
        None. Costs nothing; offline only (on AWS, deploy the function to Lambda).
        Introduced in lab 01.
    """
    if not callable(python_callable):
        raise TypeError("register_transform(function_arn, fn): fn must be callable")
    with _LOCK:
        _TRANSFORMS[function_arn] = python_callable


def unregister_transform(function_arn: str) -> None:
    """Forget the function bound to ``function_arn`` (deletes nothing on AWS)."""
    with _LOCK:
        _TRANSFORMS.pop(function_arn, None)


def _lookup_transform(arn: str) -> Callable[..., Any] | None:
    with _LOCK:
        if arn in _TRANSFORMS:
            return _TRANSFORMS[arn]
        base = re.sub(r":(\$LATEST|\d+)$", "", arn)
        return _TRANSFORMS.get(base)


def flush_due() -> int:
    """Deliver every buffer whose size or interval condition is met on the lab clock.

    Never delivers a buffer early; the lab clock's :func:`~mllab.offline.clock.advance` and
    the background timer call this for you.

    Returns:
        How many S3 objects were written. Costs nothing offline (on AWS, Firehose bills per
        GB ingested). Introduced in lab 01.
    """
    written = 0
    for ds, st in _all_streams():
        conf = _destination(ds)
        if conf is None:
            continue
        with _LOCK:
            if not st.records:
                continue
            _, interval = _buffering(conf)
            if clock.now() - st.records[0].arrival < interval:
                continue
            written += _flush(ds, st, conf, reason="interval")
    return written


def pending(delivery_stream_name: str, *, region: str | None = None) -> dict[str, Any]:
    """Describe what a delivery stream holds in its buffer, not yet delivered.

    Args:
        delivery_stream_name: the delivery stream.
        region: default the active lab's region.

    Returns:
        ``{"records", "bytes", "oldest_age_seconds", "due_in_seconds", "size_threshold_bytes"}``.
        Costs nothing. Introduced in lab 01.
    """
    account, reg = _where(region)
    ds = _find(account, reg, delivery_stream_name)
    st = _state(ds, account, reg)
    conf = _destination(ds) or {}
    size_mb, interval = _buffering(conf)
    with _LOCK:
        age = clock.now() - st.records[0].arrival if st.records else 0.0
        return {
            "records": len(st.records),
            "bytes": st.size,
            "oldest_age_seconds": age,
            "due_in_seconds": max(0.0, interval - age) if st.records else None,
            "size_threshold_bytes": size_mb * MIB,
        }


def deliveries(delivery_stream_name: str, *, region: str | None = None) -> list[dict[str, Any]]:
    """List the S3 objects a delivery stream wrote, oldest first.

    Returns:
        One ``{"bucket", "key", "records", "bytes", "reason", "time", "kind"}`` per object
        (``kind`` is ``"data"`` or the error output type). Costs nothing. Lab 01.
    """
    account, reg = _where(region)
    st = _state(_find(account, reg, delivery_stream_name), account, reg)
    with _LOCK:
        return [dict(d) for d in st.deliveries]


def delivery_errors(delivery_stream_name: str, *, region: str | None = None) -> list[str]:
    """List why records of a delivery stream failed (transform, conversion, S3 write).

    Returns:
        Messages, oldest first. Costs nothing. Introduced in lab 01.
    """
    account, reg = _where(region)
    st = _state(_find(account, reg, delivery_stream_name), account, reg)
    with _LOCK:
        return list(st.errors)


def _where(region: str | None) -> tuple[str, str]:
    from mllab import hooks
    from mllab.backends.offline import OFFLINE_ACCOUNT_ID

    lab = hooks.active()
    return (
        getattr(lab, "account_id", OFFLINE_ACCOUNT_ID),
        region or getattr(lab, "region", None) or "us-east-1",
    )


# --------------------------------------------------------------------------- validation
_EXPR = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_JQ_OBJECT = re.compile(r"^\{(.*)\}$", re.S)
_JQ_PAIR = re.compile(
    r"^\s*\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*:\s*(\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$"
)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message)


def _java_format(pattern: str, when: dt.datetime) -> str:
    """Format ``when`` with a Java DateTimeFormatter pattern (the subset Firehose prefixes use)."""
    out = []
    for m in re.finditer(r"'([^']*)'|([A-Za-z])\2*|[^A-Za-z']+", pattern):
        quoted, letter = m.group(1), m.group(2)
        text = m.group(0)
        if quoted is not None:
            out.append(quoted)
        elif letter is None:
            out.append(text)
        else:
            n = len(text)
            if letter in "yu":
                out.append(f"{when.year % 100:02d}" if n == 2 else f"{when.year:0{max(n, 4)}d}")
            elif letter == "M":
                out.append(
                    f"{when.month:0{n}d}" if n <= 2 else when.strftime("%b" if n == 3 else "%B")
                )
            elif letter == "d":
                out.append(f"{when.day:0{n}d}")
            elif letter == "H":
                out.append(f"{when.hour:0{n}d}")
            elif letter == "m":
                out.append(f"{when.minute:0{n}d}")
            elif letter == "s":
                out.append(f"{when.second:0{n}d}")
            elif letter == "S":
                out.append(f"{when.microsecond:06d}"[:n])
            elif letter == "D":
                out.append(f"{when.timetuple().tm_yday:0{n}d}")
            else:
                raise ValueError(f"unsupported DateTimeFormatter letter {letter!r}")
    return "".join(out)


def _validate_prefixes(conf: dict[str, Any], dynamic: bool, name: str) -> None:
    prefix = conf.get("Prefix") or ""
    error_prefix = conf.get("ErrorOutputPrefix") or ""
    for which, text in (("Prefix", prefix), ("ErrorOutputPrefix", error_prefix)):
        for ns, value in _EXPR.findall(text):
            if ns == "timestamp":
                try:
                    _java_format(value, dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
                except ValueError as err:
                    raise _invalid(
                        f"The {which} expression !{{timestamp:{value}}} is not a valid DateTimeFormatter pattern ({err})."
                    ) from err
            elif ns == "firehose":
                if value not in {"random-string", "error-output-type"}:
                    raise _invalid(
                        f"Invalid namespace value '{value}' in !{{firehose:{value}}}; use random-string or error-output-type."
                    )
                if value == "error-output-type" and which == "Prefix":
                    raise _invalid(
                        "The expression !{firehose:error-output-type} can be used only in ErrorOutputPrefix, not in Prefix."
                    )
            elif ns in {"partitionKeyFromQuery", "partitionKeyFromLambda"}:
                if which == "ErrorOutputPrefix":
                    raise _invalid(
                        f"ErrorOutputPrefix cannot contain !{{{ns}:{value}}}; partition keys apply to Prefix only."
                    )
                if not dynamic:
                    raise _invalid(
                        f"Prefix uses !{{{ns}:{value}}} but dynamic partitioning is not enabled (DynamicPartitioningConfiguration.Enabled=true)."
                    )
            else:
                raise _invalid(
                    f"Unknown namespace '{ns}' in {which}; use timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda."
                )
    if _EXPR.search(prefix) and not error_prefix:
        raise _invalid(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions."
        )
    if _EXPR.search(error_prefix) and "!{firehose:error-output-type}" not in error_prefix:
        raise _invalid(
            "ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions."
        )
    if dynamic and not re.search(r"!\{partitionKeyFrom(Query|Lambda):", prefix):
        raise _invalid(
            f"Dynamic partitioning is enabled for {name}, so Prefix must contain at least one !{{partitionKeyFromQuery:key}} or !{{partitionKeyFromLambda:key}} expression."
        )
    if dynamic and not error_prefix:
        raise _invalid("ErrorOutputPrefix is required when dynamic partitioning is enabled.")


def _parse_jq(query: str) -> dict[str, list[str]]:
    """Parse the simple JQ object form ``{key: .a.b, other: .c}`` into key -> path."""
    m = _JQ_OBJECT.match(query.strip())
    if not m:
        raise ValueError(query)
    out: dict[str, list[str]] = {}
    for part in [p for p in m.group(1).split(",") if p.strip()]:
        pm = _JQ_PAIR.match(part)
        if not pm:
            raise ValueError(part)
        out[pm.group(1)] = pm.group(2)[1:].split(".")
    if not out:
        raise ValueError(query)
    return out


def _validate_destination(conf: dict[str, Any], name: str, extended: bool) -> None:
    if not conf.get("BucketARN", "").startswith("arn:aws:s3:::"):
        raise _invalid("BucketARN must be an S3 bucket ARN, e.g. arn:aws:s3:::my-bucket.")
    hints = conf.get("BufferingHints") or {}
    size = hints.get("SizeInMBs")
    interval = hints.get("IntervalInSeconds")
    problems = []
    if size is not None and not 1 <= int(size) <= 128:
        problems.append(
            f"Value '{size}' at 'bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value {'greater than or equal to 1' if int(size) < 1 else 'less than or equal to 128'}"
        )
    if interval is not None and not 0 <= int(interval) <= 900:
        problems.append(
            f"Value '{interval}' at 'bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value {'greater than or equal to 0' if int(interval) < 0 else 'less than or equal to 900'}"
        )
    if problems:
        raise AwsError(
            "ValidationException",
            f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
            + "; ".join(problems),
        )
    compression = conf.get("CompressionFormat", "UNCOMPRESSED")
    if compression in {"Snappy", "HADOOP_SNAPPY"}:
        raise _invalid(
            f"CompressionFormat {compression} is valid on AWS but not emulated offline; use UNCOMPRESSED, GZIP or ZIP here."
        )
    dynamic = extended and _dynamic_partitioning(conf)
    conversion = extended and _conversion_enabled(conf)
    if conversion:
        dfc = conf["DataFormatConversionConfiguration"]
        if compression != "UNCOMPRESSED":
            raise _invalid(
                "CompressionFormat must be UNCOMPRESSED when data format conversion is enabled; set the compression in the ParquetSerDe instead."
            )
        out_serde = (dfc.get("OutputFormatConfiguration") or {}).get("Serializer") or {}
        in_serde = (dfc.get("InputFormatConfiguration") or {}).get("Deserializer") or {}
        schema = dfc.get("SchemaConfiguration") or {}
        if "ParquetSerDe" not in out_serde:
            raise _invalid(
                "Offline record format conversion writes Parquet only: give OutputFormatConfiguration.Serializer.ParquetSerDe (OrcSerDe is not emulated)."
            )
        if not ({"OpenXJsonSerDe", "HiveJsonSerDe"} & set(in_serde)):
            raise _invalid(
                "InputFormatConfiguration.Deserializer must be OpenXJsonSerDe or HiveJsonSerDe."
            )
        if not schema.get("DatabaseName") or not schema.get("TableName"):
            raise _invalid(
                "SchemaConfiguration needs DatabaseName and TableName of a Glue Data Catalog table."
            )
        if size is not None and int(size) < 64:
            raise _invalid(
                "BufferingHints.SizeInMBs must be at least 64 when data format conversion is enabled."
            )
    if dynamic and size is not None and int(size) < 64:
        raise _invalid(
            "BufferingHints.SizeInMBs must be at least 64 when dynamic partitioning is enabled."
        )
    for proc in _processors(conf):
        kind = proc.get("Type")
        if kind == "Lambda":
            if not _param(proc, "LambdaArn"):
                raise _invalid("A Lambda processor needs the LambdaArn parameter.")
        elif kind == "MetadataExtraction":
            if not dynamic:
                raise _invalid(
                    "The MetadataExtraction processor requires dynamic partitioning to be enabled."
                )
            query = _param(proc, "MetadataExtractionQuery") or ""
            try:
                _parse_jq(query)
            except ValueError as err:
                raise _invalid(
                    f"MetadataExtractionQuery {query!r}: offline supports the JQ object form {{key: .field, other: .a.b}} only."
                ) from err
        elif kind == "AppendDelimiterToRecord":
            pass
        else:
            raise _invalid(
                f"Processor type {kind} is valid on AWS but not emulated offline; use Lambda, MetadataExtraction or AppendDelimiterToRecord."
            )
    _validate_prefixes(conf, dynamic, name)


# --------------------------------------------------------------------------- handlers
@handles("firehose", "CreateDeliveryStream")
def _create(call: OfflineCall) -> None:
    p = call.params
    name = p.get("DeliveryStreamName", "")
    kind = p.get("DeliveryStreamType", "DirectPut")
    if kind == "KinesisStreamAsSource":
        src = p.get("KinesisStreamSourceConfiguration") or {}
        arn = src.get("KinesisStreamARN", "")
        if not arn:
            raise _invalid(
                "KinesisStreamSourceConfiguration.KinesisStreamARN is required for a KinesisStreamAsSource delivery stream."
            )
        from moto.kinesis.models import kinesis_backends

        parts = arn.split(":")
        region = parts[3] if len(parts) > 5 else call.region
        stream_name = arn.split("/")[-1]
        if stream_name not in kinesis_backends[call.account_id][region].streams:
            raise _invalid(
                f"Stream {stream_name} under account {call.account_id} not found. Create the Kinesis stream before the delivery stream."
            )
    if p.get("ExtendedS3DestinationConfiguration"):
        _validate_destination(p["ExtendedS3DestinationConfiguration"], name, extended=True)
    elif p.get("S3DestinationConfiguration"):
        _validate_destination(p["S3DestinationConfiguration"], name, extended=False)
    return None


@handles("firehose", "CreateDeliveryStream", "after")
def _created(call: OfflineCall) -> None:
    ds = _find(call.account_id, call.region, call.params["DeliveryStreamName"])
    ds.create_timestamp = clock.now_dt().replace(tzinfo=None)
    _state(ds, call.account_id, call.region)
    _ensure_timer()


@handles("firehose", "DescribeDeliveryStream", "after")
def _describe(call: OfflineCall) -> None:
    """Fill in the defaults AWS reports (buffering hints, compression, encryption)."""
    desc = (call.response or {}).get("DeliveryStreamDescription") or {}
    for dest in desc.get("Destinations") or []:
        for key in ("ExtendedS3DestinationDescription", "S3DestinationDescription"):
            d = dest.get(key)
            if not isinstance(d, dict):
                continue
            conversion = _conversion_enabled(d)
            d.setdefault("BufferingHints", {})
            d["BufferingHints"].setdefault("SizeInMBs", 128 if conversion else 5)
            d["BufferingHints"].setdefault("IntervalInSeconds", 300)
            d.setdefault("CompressionFormat", "UNCOMPRESSED")
            d.setdefault("EncryptionConfiguration", {"NoEncryptionConfig": "NoEncryption"})
            d.setdefault("Prefix", "")


def _check_throughput(st: _State, nbytes: list[int]) -> list[bool]:
    """Per record: True when accepted under the stream's per-second quota (lab clock)."""
    big = st.region in _BIG_QUOTA_REGIONS
    max_bytes, max_records, max_requests = (
        (5 * MIB, 500_000, 2_000) if big else (MIB, 100_000, 1_000)
    )
    now = clock.now()
    while st.window and st.window[0][0] <= now - 1.0:
        st.window.popleft()
    while st.requests and st.requests[0] <= now - 1.0:
        st.requests.popleft()
    if len(st.requests) >= max_requests:
        return [False] * len(nbytes)
    st.requests.append(now)
    used_bytes = sum(b for _, b, _ in st.window)
    used_records = sum(r for _, _, r in st.window)
    ok = []
    for n in nbytes:
        if used_bytes + n > max_bytes or used_records + 1 > max_records:
            ok.append(False)
            continue
        used_bytes += n
        used_records += 1
        st.window.append((now, n, 1))
        ok.append(True)
    return ok


def _blob(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if hasattr(value, "read"):
        return bytes(value.read())
    raise _invalid("Record.Data must be bytes.")


def _direct_put_stream(call: OfflineCall) -> tuple[Any, _State]:
    name = call.params.get("DeliveryStreamName", "")
    ds = _find(call.account_id, call.region, name)
    if ds.delivery_stream_type != "DirectPut":
        raise _invalid(
            f"This operation is not permitted on KinesisStreamAsSource type DeliveryStream {name} "
            f"under account {call.account_id}. Put records into the source Kinesis stream instead."
        )
    return ds, _state(ds, call.account_id, call.region)


def _encrypted(ds: Any) -> bool:
    enc = getattr(ds, "delivery_stream_encryption_configuration", None) or {}
    return bool(enc) and enc.get("Status", "ENABLED") == "ENABLED"


@handles("firehose", "PutRecord")
def _put_record(call: OfflineCall) -> dict[str, Any]:
    ds, st = _direct_put_stream(call)
    data = _blob((call.params.get("Record") or {}).get("Data", b""))
    if len(data) > MAX_RECORD_BYTES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value at 'record.data' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_RECORD_BYTES}",
        )
    with _LOCK:
        if not _check_throughput(st, [len(data)])[0]:
            raise AwsError("ServiceUnavailableException", "Slow down.", 503)
        rec = _Record(data=data, arrival=clock.now(), record_id=_record_id())
        _ingest(ds, st, [rec])
    return {"RecordId": rec.record_id, "Encrypted": _encrypted(ds)}


@handles("firehose", "PutRecordBatch")
def _put_record_batch(call: OfflineCall) -> dict[str, Any]:
    ds, st = _direct_put_stream(call)
    records = call.params.get("Records") or []
    if len(records) > MAX_BATCH_RECORDS:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{len(records)}' at 'records' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_BATCH_RECORDS}",
        )
    blobs = [_blob(r.get("Data", b"")) for r in records]
    for i, b in enumerate(blobs, start=1):
        if len(b) > MAX_RECORD_BYTES:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value at 'records.{i}.member.data' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}",
            )
    if sum(len(b) for b in blobs) > MAX_BATCH_BYTES:
        raise _invalid(
            f"Records size exceeds 4 MB limit: the batch holds {sum(len(b) for b in blobs)} bytes; "
            "send at most 4 MiB per PutRecordBatch."
        )
    responses: list[dict[str, str]] = []
    with _LOCK:
        accepted = _check_throughput(st, [len(b) for b in blobs])
        now = clock.now()
        new = []
        for b, ok in zip(blobs, accepted, strict=True):
            if ok:
                rec = _Record(data=b, arrival=now, record_id=_record_id())
                new.append(rec)
                responses.append({"RecordId": rec.record_id})
            else:
                responses.append(
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                )
        if new:
            _ingest(ds, st, new)
    return {
        "FailedPutCount": sum(1 for ok in accepted if not ok),
        "Encrypted": _encrypted(ds),
        "RequestResponses": responses,
    }


def _record_id() -> str:
    return secrets.token_urlsafe(42)


def ingest_from_kinesis(
    account_id: str, region: str, stream_arn: str, records: list[dict[str, Any]]
) -> None:
    """Feed records just put into a Kinesis stream to every delivery stream reading it.

    Called by :mod:`mllab.offline.kinesis` for each accepted put; each record is
    ``{"data": bytes, "arrival": float, "partition_key", "sequence_number", "shard_id"}``.

    Args:
        account_id: the account of the stream.
        region: the stream's region.
        stream_arn: the Kinesis stream ARN.
        records: the records accepted, in order.

    Returns:
        None. Costs nothing offline (on AWS, Firehose bills per GB ingested). Lab 01.
    """
    try:
        backend = _backends()[account_id][region]
    except Exception:  # noqa: BLE001 - moto not running
        return
    for ds in list(backend.delivery_streams.values()):
        if ds.delivery_stream_type != "KinesisStreamAsSource":
            continue
        src = ds.source or {}
        if src.get("KinesisStreamARN") != stream_arn:
            continue
        st = _state(ds, account_id, region)
        new = [
            _Record(
                data=r["data"],
                arrival=r["arrival"],
                record_id=_record_id(),
                kinesis={
                    "approximateArrivalTimestamp": int(r["arrival"] * 1000),
                    "partitionKey": r["partition_key"],
                    "sequenceNumber": r["sequence_number"],
                    "shardId": r["shard_id"],
                    "subsequenceNumber": 0,
                },
            )
            for r in records
        ]
        with _LOCK:
            _ingest(ds, st, new)


def _ingest(ds: Any, st: _State, new: list[_Record]) -> None:
    """Append to the buffer, then deliver whatever the size or interval condition makes due."""
    conf = _destination(ds)
    if conf is None:
        return  # a destination this module does not deliver to (HTTP, Redshift, ...)
    size_mb, interval = _buffering(conf)
    threshold = size_mb * MIB
    if st.records and clock.now() - st.records[0].arrival >= interval:
        _flush(ds, st, conf, reason="interval")  # due before these records arrived
    for rec in new:
        st.records.append(rec)
        st.size += len(rec.data)
        if st.size >= threshold:
            _flush(ds, st, conf, reason="size")
    if st.records and clock.now() - st.records[0].arrival >= interval:
        _flush(ds, st, conf, reason="interval")


# --------------------------------------------------------------------------- delivery
@dataclass
class _Out:
    """A record on its way to S3: its current bytes and what it picked up on the way."""

    rec: _Record
    data: bytes
    partition: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    rec: _Record
    kind: str  # error output type
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def _flush(ds: Any, st: _State, conf: dict[str, Any], *, reason: str) -> int:
    """Deliver the whole buffer now (the caller checked the condition). Returns objects written."""
    batch = st.records
    if not batch:
        return 0
    st.records = []
    st.size = 0
    try:
        written = _deliver(ds, st, conf, batch, reason)
    except _DeliveryFailed as err:
        st.records = batch + st.records
        st.size = sum(len(r.data) for r in st.records)
        _note_error(ds, st, conf, str(err))
        return 0
    return written


class _DeliveryFailed(Exception):
    pass


def _deliver(ds: Any, st: _State, conf: dict[str, Any], batch: list[_Record], reason: str) -> int:
    outs = [_Out(rec=r, data=r.data) for r in batch]
    failures: list[_Failure] = []
    for proc in _processors(conf):
        kind = proc.get("Type")
        if kind == "Lambda":
            outs, failed = _run_lambda(ds, st, conf, proc, outs)
            failures += failed
        elif kind == "MetadataExtraction":
            outs, failed = _extract_metadata(proc, outs)
            failures += failed
        elif kind == "AppendDelimiterToRecord":
            delim = (
                (_param(proc, "Delimiter", "\\n") or "\\n")
                .encode()
                .decode("unicode_escape")
                .encode()
            )
            for o in outs:
                o.data = o.data + delim
    groups: dict[tuple[tuple[str, str], ...], list[_Out]] = {}
    for o in outs:
        groups.setdefault(tuple(sorted(o.partition.items())), []).append(o)
    written = 0
    for _, group in groups.items():
        body, ext, failed = _encode(ds, st, conf, group)
        failures += failed
        if body is None:
            continue
        failed_ids = {id(f.rec) for f in failed}
        kept = [o for o in group if id(o.rec) not in failed_ids]
        if not kept:
            continue
        key = _object_key(
            ds, conf, conf.get("Prefix") or "", kept[0].rec.arrival, kept[0].partition, None, ext
        )
        _put_s3(ds, st, conf, key, body, kind="data", records=len(kept), reason=reason)
        written += 1
    if failures:
        written += _write_failures(ds, st, conf, failures, reason)
    return written


def _lambda_context(arn: str) -> Any:
    class _Context:
        function_name = arn.split(":function:")[-1].split(":")[0]
        invoked_function_arn = arn
        aws_request_id = str(uuid.uuid4())
        memory_limit_in_mb = 128
        function_version = "$LATEST"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 60_000

    return _Context()


def _offline_lambda(arn: str, region: str) -> Callable[..., Any] | None:
    """A transform that invokes the deployed offline Lambda function, or None when there is none."""
    from mllab.offline.lambda_ import service as lambda_service

    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        return None
    account, fn_region = parts[4], parts[3] or region
    try:
        lambda_service.spec_of(account, fn_region, arn)
    except AwsError:
        return None

    def transform(event: dict[str, Any], context: Any = None) -> Any:
        out = lambda_service.run(account, fn_region, arn, event, invoked_arn=arn)
        if out.function_error:
            doc = out.json() or {}
            raise RuntimeError(f"{doc.get('errorType')}: {doc.get('errorMessage')}")
        return out.json()

    return transform


def _call_transform(fn: Callable[..., Any], event: dict[str, Any], arn: str) -> Any:
    try:
        n_params = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n_params = 2
    return fn(event, _lambda_context(arn)) if n_params >= 2 else fn(event)


def _run_lambda(
    ds: Any, st: _State, conf: dict[str, Any], proc: dict[str, Any], outs: list[_Out]
) -> tuple[list[_Out], list[_Failure]]:
    arn = _param(proc, "LambdaArn") or ""
    if not outs:
        return outs, []

    def fail_all(code: str, message: str) -> tuple[list[_Out], list[_Failure]]:
        _note_error(ds, st, conf, f"{code}: {message}")
        return [], [
            _Failure(o.rec, "processing-failed", code, message, {"lambdaArn": arn}) for o in outs
        ]

    fn = _lookup_transform(arn) or _offline_lambda(arn, st.region)
    if fn is None:
        return fail_all(
            "Lambda.FunctionNotRegistered",
            f"No Lambda function {arn} exists offline, so Firehose cannot invoke it. Deploy it "
            "(lambda create_function) or call "
            f"mllab.offline.firehose.register_transform({arn!r}, handler) before putting records "
            "(on AWS: deploy the function and allow Firehose to invoke it).",
        )
    by_id = {}
    event_records = []
    for o in outs:
        rid = o.rec.record_id
        by_id[rid] = o
        item = {
            "recordId": rid,
            "approximateArrivalTimestamp": int(o.rec.arrival * 1000),
            "data": base64.b64encode(o.data).decode("ascii"),
        }
        if o.rec.kinesis:
            item["kinesisRecordMetadata"] = dict(o.rec.kinesis)
        event_records.append(item)
    event = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": ds.delivery_stream_arn,
        "region": st.region,
        "records": event_records,
    }
    if ds.delivery_stream_type == "KinesisStreamAsSource":
        event["sourceKinesisStreamArn"] = (ds.source or {}).get("KinesisStreamARN")
    try:
        result = _call_transform(fn, event, arn)
    except Exception as err:  # noqa: BLE001 - the function's own error, as Lambda reports it
        return fail_all(
            "Lambda.FunctionError", f"The Lambda function raised {type(err).__name__}: {err}"
        )
    if isinstance(result, str | bytes):
        try:
            result = json.loads(result)
        except ValueError:
            return fail_all(
                "Lambda.JsonProcessingException", "The Lambda function did not return valid JSON."
            )
    returned = (result or {}).get("records") if isinstance(result, dict) else None
    if not isinstance(returned, list):
        return fail_all(
            "Lambda.JsonProcessingException",
            "The Lambda function's response has no 'records' list.",
        )
    seen: set[Any] = set()
    for r in returned:
        returned_id = r.get("recordId") if isinstance(r, dict) else None
        if returned_id in seen:
            return fail_all(
                "Lambda.DuplicatedRecordId",
                f"The Lambda function returned recordId {returned_id} more than once.",
            )
        seen.add(returned_id)
    missing = set(by_id) - seen
    if missing or seen - set(by_id):
        return fail_all(
            "Lambda.MissingRecordId",
            f"The Lambda function must return every recordId it received, once: {len(missing)} missing, "
            f"{len(seen - set(by_id))} unknown.",
        )
    kept: list[_Out] = []
    failures: list[_Failure] = []
    for r in returned:
        o = by_id[r["recordId"]]
        status = r.get("result")
        if status == "Ok":
            try:
                o.data = base64.b64decode(r.get("data", ""), validate=True)
            except (ValueError, TypeError):
                failures.append(
                    _Failure(
                        o.rec,
                        "processing-failed",
                        "Lambda.InvalidData",
                        "The 'data' of an Ok record is not valid base64.",
                        {"lambdaArn": arn},
                    )
                )
                continue
            keys = ((r.get("metadata") or {}).get("partitionKeys")) or {}
            o.partition.update({str(k): str(v) for k, v in keys.items()})
            kept.append(o)
        elif status == "Dropped":
            continue
        elif status == "ProcessingFailed":
            failures.append(
                _Failure(
                    o.rec,
                    "processing-failed",
                    "Lambda.ProcessingFailedStatus",
                    "The Lambda function returned result ProcessingFailed for this record.",
                    {"lambdaArn": arn},
                )
            )
        else:
            failures.append(
                _Failure(
                    o.rec,
                    "processing-failed",
                    "Lambda.InvalidReturnedStatus",
                    f"Invalid result {status!r}: use Ok, Dropped or ProcessingFailed.",
                    {"lambdaArn": arn},
                )
            )
    if failures:
        _note_error(ds, st, conf, f"{len(failures)} record(s) failed the Lambda transform {arn}.")
    return kept, failures


def _extract_metadata(proc: dict[str, Any], outs: list[_Out]) -> tuple[list[_Out], list[_Failure]]:
    spec = _parse_jq(_param(proc, "MetadataExtractionQuery") or "")
    kept, failures = [], []
    for o in outs:
        try:
            doc = json.loads(o.data)
        except ValueError:
            failures.append(
                _Failure(
                    o.rec,
                    "processing-failed",
                    "DynamicPartitioning.MetadataExtractionFailed",
                    "The record is not valid JSON, so the partition keys could not be extracted.",
                )
            )
            continue
        keys: dict[str, str] = {}
        problem = None
        for key, path in spec.items():
            value: Any = doc
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None or isinstance(value, dict | list):
                problem = f"The query for partition key '{key}' (.{'.'.join(path)}) returned {'null' if value is None else 'a non-scalar value'}."
                break
            keys[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if problem:
            failures.append(
                _Failure(
                    o.rec,
                    "processing-failed",
                    "DynamicPartitioning.MetadataExtractionFailed",
                    problem,
                )
            )
            continue
        o.partition.update(keys)
        kept.append(o)
    return kept, failures


def _encode(
    ds: Any, st: _State, conf: dict[str, Any], group: list[_Out]
) -> tuple[bytes | None, str, list[_Failure]]:
    """Return (object body, file extension, conversion failures) for one group of records."""
    custom_ext = conf.get("FileExtension")
    if _conversion_enabled(conf):
        body, failures = _to_parquet(st, conf, group)
        return body, custom_ext or ".parquet", failures
    raw = b"".join(o.data for o in group)
    body, ext = _compress(conf.get("CompressionFormat", "UNCOMPRESSED"), raw)
    return body, custom_ext or ext, []


def _compress(fmt: str, raw: bytes) -> tuple[bytes, str]:
    if fmt == "GZIP":
        return gzip.compress(raw), ".gz"
    if fmt == "ZIP":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("data", raw)
        return buf.getvalue(), ".zip"
    return raw, ""


def _object_key(
    ds: Any,
    conf: dict[str, Any],
    prefix: str,
    oldest: float,
    partition: dict[str, str],
    error_type: str | None,
    ext: str,
) -> str:
    when = dt.datetime.fromtimestamp(oldest, tz=dt.UTC)

    def evaluate(m: re.Match[str]) -> str:
        ns, value = m.group(1), m.group(2)
        if ns == "timestamp":
            return _java_format(value, when)
        if ns == "firehose":
            return error_type or "" if value == "error-output-type" else secrets.token_hex(6)[:11]
        return partition.get(value, "")

    if _EXPR.search(prefix):
        evaluated = _EXPR.sub(evaluate, prefix)
    else:
        evaluated = prefix + when.strftime("%Y/%m/%d/%H/")
    suffix = f"{ds.delivery_stream_name}-{ds.version_id}-{when.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"
    return f"{evaluated}{suffix}{ext}"


def _put_s3(
    ds: Any,
    st: _State,
    conf: dict[str, Any],
    key: str,
    body: bytes,
    *,
    kind: str,
    records: int,
    reason: str,
) -> None:
    from moto.s3.models import s3_backends

    bucket = conf["BucketARN"].split(":::")[-1]
    enc = conf.get("EncryptionConfiguration") or {}
    kms = (enc.get("KMSEncryptionConfig") or {}).get("AWSKMSKeyARN")
    try:
        s3 = s3_backends[st.account_id]["aws"]
        s3.get_bucket(bucket)
        s3.put_object(bucket, key, body, encryption="aws:kms" if kms else None, kms_key_id=kms)
    except Exception as err:  # noqa: BLE001 - S3 refused: Firehose keeps the data and retries
        raise _DeliveryFailed(
            f"S3.{type(err).__name__}: could not write s3://{bucket}/{key} ({err}); the records stay "
            "buffered and are retried at the next flush."
        ) from err
    st.deliveries.append(
        {
            "bucket": bucket,
            "key": key,
            "records": records,
            "bytes": len(body),
            "reason": reason,
            "time": clock.now_dt(),
            "kind": kind,
        }
    )


def _write_failures(
    ds: Any, st: _State, conf: dict[str, Any], failures: list[_Failure], reason: str
) -> int:
    by_type: dict[str, list[_Failure]] = {}
    for f in failures:
        by_type.setdefault(f.kind, []).append(f)
    written = 0
    now_ms = int(clock.now() * 1000)
    error_prefix = conf.get("ErrorOutputPrefix") or ""
    for kind, items in by_type.items():
        lines = []
        for f in items:
            doc: dict[str, Any] = {
                "attemptsMade": 1,
                "arrivalTimestamp": int(f.rec.arrival * 1000),
                "errorCode": f.code,
                "errorMessage": f.message,
                "attemptEndingTimestamp": now_ms,
                "rawData": base64.b64encode(f.rec.data).decode("ascii"),
            }
            doc.update(f.extra)
            lines.append(json.dumps(doc))
        raw = ("\n".join(lines) + "\n").encode()
        fmt = conf.get("CompressionFormat", "UNCOMPRESSED")
        body, ext = _compress(fmt, raw)
        if error_prefix:
            prefix = error_prefix
            if not _EXPR.search(prefix):
                prefix = prefix + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
        else:
            prefix = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
        oldest = min(f.rec.arrival for f in items)
        key = _object_key(ds, conf, prefix, oldest, {}, kind, ext)
        _put_s3(ds, st, conf, key, body, kind=kind, records=len(items), reason=reason)
        written += 1
    return written


def _note_error(ds: Any, st: _State, conf: dict[str, Any], message: str) -> None:
    stamp = clock.now_dt().strftime("%Y-%m-%dT%H:%M:%SZ")
    st.errors.append(f"{stamp} {message}")
    logging = conf.get("CloudWatchLoggingOptions") or {}
    if not logging.get("Enabled"):
        return
    group = logging.get("LogGroupName") or f"/aws/kinesisfirehose/{ds.delivery_stream_name}"
    stream = logging.get("LogStreamName") or "DestinationDelivery"
    try:
        from moto.logs.models import logs_backends

        logs = logs_backends[st.account_id][st.region]
        if group not in logs.groups:
            logs.create_log_group(group, {})
        logs.ensure_log_stream(group, stream)
        logs.put_log_events(
            group,
            stream,
            [
                {
                    "timestamp": int(clock.now() * 1000),
                    "message": json.dumps(
                        {"deliveryStreamARN": ds.delivery_stream_arn, "message": message}
                    ),
                }
            ],
        )
    except Exception:  # noqa: BLE001 - logging is best effort, as on AWS
        pass


# --------------------------------------------------------------------------- Parquet
def _glue_columns(st: _State, conf: dict[str, Any]) -> list[dict[str, Any]]:
    from moto.glue.models import glue_backends

    schema = conf["DataFormatConversionConfiguration"]["SchemaConfiguration"]
    region = schema.get("Region") or st.region
    account = schema.get("CatalogId") or st.account_id
    table = glue_backends[account][region].get_table(schema["DatabaseName"], schema["TableName"])
    version = schema.get("VersionId", "LATEST")
    tinput = table.get_version(
        str(table._current_version) if version in ("LATEST", None) else str(version)
    )
    return list((tinput.get("StorageDescriptor") or {}).get("Columns") or [])


def glue_type_to_arrow(type_string: str) -> Any:
    """Map a Glue / Hive column type (``bigint``, ``decimal(10,2)``, ``array<struct<a:int>>``) to pyarrow.

    Args:
        type_string: the Glue column ``Type``.

    Returns:
        A ``pyarrow.DataType``. Raises ValueError for a type it does not know. Lab 01.
    """
    import pyarrow as pa

    s = type_string.strip()
    low = s.lower()
    simple = {
        "string": pa.string(),
        "varchar": pa.string(),
        "char": pa.string(),
        "int": pa.int32(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "smallint": pa.int16(),
        "tinyint": pa.int8(),
        "double": pa.float64(),
        "float": pa.float32(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ms"),
        "date": pa.date32(),
        "binary": pa.binary(),
    }
    base = re.sub(r"\(.*\)$", "", low) if not low.startswith(("array", "map", "struct")) else low
    if base in simple:
        return simple[base]
    if low.startswith("decimal"):
        m = re.match(r"decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", low)
        return pa.decimal128(int(m.group(1)), int(m.group(2))) if m else pa.decimal128(10, 0)
    inner = s[s.index("<") + 1 : s.rindex(">")] if "<" in s else ""
    if low.startswith("array<"):
        return pa.list_(glue_type_to_arrow(inner))
    if low.startswith("map<"):
        k, v = _split_top(inner)
        return pa.map_(glue_type_to_arrow(k), glue_type_to_arrow(v))
    if low.startswith("struct<"):
        fields = []
        for part in _split_top(inner):
            fname, ftype = part.split(":", 1)
            fields.append(pa.field(fname.strip().lower(), glue_type_to_arrow(ftype)))
        return pa.struct(fields)
    raise ValueError(f"unsupported Glue column type {type_string!r}")


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def _coerce(value: Any, typ: Any) -> Any:
    """Convert one JSON value to what pyarrow expects for ``typ`` (raises on a mismatch)."""
    import decimal

    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_timestamp(typ):
        if isinstance(value, bool):
            raise ValueError("boolean for a timestamp")
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value / 1000.0, tz=dt.UTC).replace(tzinfo=None)
        text = str(value).strip().replace("Z", "+00:00")
        parsed = dt.datetime.fromisoformat(text)
        return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    if pa.types.is_date(typ):
        if isinstance(value, int):
            return dt.date(1970, 1, 1) + dt.timedelta(days=value)
        return dt.date.fromisoformat(str(value)[:10])
    if pa.types.is_decimal(typ):
        return decimal.Decimal(str(value))
    if pa.types.is_integer(typ):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if pa.types.is_floating(typ):
        if isinstance(value, bool):
            raise ValueError("boolean for a number")
        return float(value)
    if pa.types.is_boolean(typ):
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"true", "false"}:
            return str(value).lower() == "true"
        raise ValueError(f"{value!r} is not a boolean")
    if pa.types.is_string(typ):
        return value if isinstance(value, str) else json.dumps(value)
    if pa.types.is_list(typ):
        return [_coerce(v, typ.value_type) for v in value]
    if pa.types.is_struct(typ):
        low = {str(k).lower(): v for k, v in value.items()}
        return {f.name: _coerce(low.get(f.name), f.type) for f in typ}
    if pa.types.is_map(typ):
        return [(_coerce(k, typ.key_type), _coerce(v, typ.item_type)) for k, v in value.items()]
    return value


def _to_parquet(
    st: _State, conf: dict[str, Any], group: list[_Out]
) -> tuple[bytes | None, list[_Failure]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dfc = conf["DataFormatConversionConfiguration"]
    schema_conf = dfc["SchemaConfiguration"]
    deser = (dfc.get("InputFormatConfiguration") or {}).get("Deserializer") or {}
    openx = deser.get("OpenXJsonSerDe") or {}
    mappings = {k.lower(): v for k, v in (openx.get("ColumnToJsonKeyMappings") or {}).items()}
    dots = bool(openx.get("ConvertDotsInJsonKeysToUnderscores"))
    case_insensitive = openx.get("CaseInsensitive", True) is not False
    table_ref = f"{schema_conf.get('DatabaseName')}.{schema_conf.get('TableName')}"

    def fail_all(code: str, message: str) -> tuple[None, list[_Failure]]:
        return None, [
            _Failure(
                o.rec,
                "format-conversion-failed",
                code,
                message,
                {"dataCatalogTable": _catalog_ref(st, schema_conf)},
            )
            for o in group
        ]

    try:
        columns = _glue_columns(st, conf)
    except Exception as err:  # noqa: BLE001 - missing database/table
        return fail_all(
            "DataFormatConversion.InvalidSchema",
            f"The Glue table {table_ref} could not be read: {err}",
        )
    if not columns:
        return fail_all(
            "DataFormatConversion.InvalidSchema", f"The Glue table {table_ref} has no columns."
        )
    try:
        fields = [pa.field(c["Name"].lower(), glue_type_to_arrow(c["Type"])) for c in columns]
    except ValueError as err:
        return fail_all("DataFormatConversion.InvalidSchema", str(err))
    schema = pa.schema(fields)
    rows, failures = [], []
    for o in group:
        try:
            doc = json.loads(o.data)
            if not isinstance(doc, dict):
                raise ValueError("the record is not a JSON object")
            if dots:
                doc = {k.replace(".", "_"): v for k, v in doc.items()}
            lookup = {k.lower(): v for k, v in doc.items()} if case_insensitive else doc
            row = {}
            for f in fields:
                key = mappings.get(f.name, f.name)
                raw = lookup.get(key.lower() if case_insensitive else key)
                try:
                    row[f.name] = _coerce(raw, f.type)
                    pa.array([row[f.name]], type=f.type)
                except Exception as err:  # noqa: BLE001
                    raise ValueError(
                        f"column '{f.name}' ({f.type}): cannot convert {raw!r}: {err}"
                    ) from err
            rows.append(row)
        except ValueError as err:
            failures.append(
                _Failure(
                    o.rec,
                    "format-conversion-failed",
                    "DataFormatConversion.MalformedData",
                    f"The record could not be converted with the schema of {table_ref}: {err}",
                    {"dataCatalogTable": _catalog_ref(st, schema_conf)},
                )
            )
    if not rows:
        return None, failures
    serde = (dfc.get("OutputFormatConfiguration") or {}).get("Serializer", {}).get(
        "ParquetSerDe"
    ) or {}
    compression = (serde.get("Compression") or "SNAPPY").lower()
    if compression == "uncompressed":
        compression = "none"
    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=compression)
    return buf.getvalue(), failures


def _catalog_ref(st: _State, schema_conf: dict[str, Any]) -> dict[str, Any]:
    return {
        "catalogId": schema_conf.get("CatalogId") or st.account_id,
        "databaseName": schema_conf.get("DatabaseName"),
        "tableName": schema_conf.get("TableName"),
        "region": schema_conf.get("Region") or st.region,
        "versionId": schema_conf.get("VersionId", "LATEST"),
    }


# --------------------------------------------------------------------------- time
_timer: threading.Thread | None = None
_stop = threading.Event()


def _timer_loop(stop: threading.Event) -> None:
    from mllab.backends import offline

    while not stop.wait(TIMER_TICK_SECONDS):
        if not offline.is_running():
            return
        try:
            flush_due()
        except Exception:  # noqa: BLE001 - a failed tick must not kill the timer
            pass


def _ensure_timer() -> None:
    """Start the wall-clock flusher (it ends when the last offline lab closes)."""
    global _timer, _stop
    with _LOCK:
        if _timer is not None and _timer.is_alive() and not _stop.is_set():
            return
        _stop = threading.Event()
        _timer = threading.Thread(
            target=_timer_loop, args=(_stop,), name="mllab-firehose-timer", daemon=True
        )
        _timer.start()


@on_reset
def _reset() -> None:
    """The offline account is wiped: drop every buffer (undelivered data is lost, as on
    deleting a delivery stream) and stop the background timer."""
    _stop.set()
    with _LOCK:
        _STATES.clear()


def _on_advance() -> None:
    flush_due()


clock.on_advance(_on_advance)
