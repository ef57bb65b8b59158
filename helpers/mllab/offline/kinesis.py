"""Offline Kinesis Data Streams: shard limits, retention, fan-out and resharding (lab 01).

moto keeps streams, shards, sequence numbers and iterators. This module adds what the
exam asks about and moto does not do:

* **Write limits per shard**: 1 MiB/s (data plus partition key) or 1,000 records/s,
  measured on the lab clock (:mod:`mllab.offline.clock`) over the last second. A
  ``PutRecord`` over the limit fails with ``ProvisionedThroughputExceededException``
  ("Rate exceeded for shard shardId-000000000000 in stream X under account Y."); a
  ``PutRecords`` call succeeds and marks each throttled record with ``ErrorCode`` /
  ``ErrorMessage`` and counts them in ``FailedRecordCount``, as AWS does. On-demand
  streams have the same per-shard limits over their 4 initial shards (4 MiB/s, 4,000
  records/s, AWS's default on-demand capacity); offline they do not scale up by
  themselves (AWS takes up to 15 minutes to double capacity anyway).
* **Arrival times on the lab clock**, so ``GetRecords`` (and ``SubscribeToShard``) stop
  returning records older than the stream's retention period once the clock has moved
  past it (``IncreaseStreamRetentionPeriod``/``Decrease...`` are validated by moto:
  24-8,760 hours).
* **Resharding as AWS does it**: ``SplitShard``, ``MergeShards`` and ``UpdateShardCount``
  (``UNIFORM_SCALING``, at most double and at least half the open shards) close the
  parents, which keep their records, and open children with the documented hash key
  ranges; puts go to open shards only (moto's own versions move records and can pick a
  closed shard).
* **Enhanced fan-out**: at most 20 consumers per stream (``LimitExceededException``),
  unique names, ``DeregisterStreamConsumer`` by name, and ``SubscribeToShard`` answered
  with an iterable event stream holding the records available at the call (AWS keeps
  the subscription open for 5 minutes and pushes new records; offline it ends at once).
* **CloudWatch metrics** in namespace ``AWS/Kinesis`` put into moto's CloudWatch on the
  lab clock: stream-level ``IncomingBytes``, ``IncomingRecords`` and
  ``WriteProvisionedThroughputExceeded`` (dimension ``StreamName``), and the shard-level
  ones (dimensions ``StreamName``, ``ShardId``) only for the metrics enabled with
  ``EnableEnhancedMonitoring``, as on AWS. :func:`shard_write_counters` reads the
  per-shard totals directly.
* A record put is also handed to Firehose delivery streams that read the stream
  (:func:`mllab.offline.firehose.ingest_from_kinesis`).

Not emulated: read limits (2 MiB/s and 5 GetRecords calls per shard), Lambda event
source mappings on puts answered here, KMS encryption of the data.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: Per-shard write limits (AWS Kinesis Data Streams quotas).
SHARD_BYTES_PER_SECOND = 1024 * 1024
SHARD_RECORDS_PER_SECOND = 1000
#: The largest record payload (data blob, before base64).
MAX_RECORD_BYTES = 1024 * 1024
#: PutRecords limits.
MAX_PUT_RECORDS = 500
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
#: Enhanced fan-out consumers per stream.
MAX_CONSUMERS = 20
HASH_SPACE = 2**128

_LOCK = threading.RLock()


@dataclass
class _ShardState:
    window: deque[tuple[float, int]] = field(default_factory=deque)  # (lab time, bytes) per record
    records: int = 0
    bytes: int = 0
    throttled: int = 0
    expired_through: int = 0  # records with a sequence number up to this one have expired


_SHARDS: weakref.WeakKeyDictionary[Any, _ShardState] = weakref.WeakKeyDictionary()


@on_reset
def _reset() -> None:
    """The offline account is wiped: forget the shard counters."""
    with _LOCK:
        _SHARDS.clear()


def _shard_state(shard: Any) -> _ShardState:
    with _LOCK:
        st = _SHARDS.get(shard)
        if st is None:
            st = _SHARDS[shard] = _ShardState()
        return st


# --------------------------------------------------------------------------- public helpers
def hash_key(partition_key: str) -> int:
    """Return the 128-bit hash key Kinesis computes for a partition key (MD5, big-endian).

    Args:
        partition_key: the record's partition key.

    Returns:
        An int in ``[0, 2**128)``. Costs nothing. Introduced in lab 01 (hot-key drill).
    """
    return int(hashlib.md5(partition_key.encode("utf-8")).hexdigest(), 16)  # noqa: S324 - AWS's hash


def shard_for_partition_key(stream_description: dict[str, Any], key: str) -> dict[str, Any]:
    """Find the open shard whose ``HashKeyRange`` holds a partition key's MD5 hash.

    Args:
        stream_description: a ``DescribeStream`` response, its ``StreamDescription``, or a
            ``ListShards`` response (anything with ``Shards``).
        key: the partition key.

    Returns:
        The shard's entry (``ShardId``, ``HashKeyRange``, ...) plus ``"PartitionKeyHash"``
        (the hash as a decimal string). Raises ValueError when no open shard covers it.
        Costs nothing. Introduced in lab 01 (hot-key drill).
    """
    desc = stream_description.get("StreamDescription", stream_description)
    h = hash_key(key)
    for shard in desc.get("Shards", []):
        if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}):
            continue  # closed by a split or merge
        rng = shard["HashKeyRange"]
        if int(rng["StartingHashKey"]) <= h <= int(rng["EndingHashKey"]):
            return {**shard, "PartitionKeyHash": str(h)}
    raise ValueError(f"no open shard covers the hash {h} of partition key {key!r}")


def shard_write_counters(
    stream_name: str, *, region: str | None = None
) -> dict[str, dict[str, int]]:
    """Return what each shard of a stream accepted and refused since it was created.

    Args:
        stream_name: the stream.
        region: default the active lab's region.

    Returns:
        ``{shard_id: {"records", "bytes", "throttled"}}`` for every shard (open or closed).
        Costs nothing; offline only (on AWS, read the shard-level CloudWatch metrics).
        Introduced in lab 01.
    """
    account, reg = _where(region)
    stream = _stream(account, reg, stream_name, None)
    out = {}
    for sid, shard in stream.shards.items():
        st = _shard_state(shard)
        out[sid] = {"records": st.records, "bytes": st.bytes, "throttled": st.throttled}
    return out


def _where(region: str | None) -> tuple[str, str]:
    from mllab import hooks
    from mllab.backends.offline import OFFLINE_ACCOUNT_ID

    lab = hooks.active()
    return (
        getattr(lab, "account_id", OFFLINE_ACCOUNT_ID),
        region or getattr(lab, "region", None) or "us-east-1",
    )


# --------------------------------------------------------------------------- moto access
def _backend(account_id: str, region: str) -> Any:
    from moto.kinesis.models import kinesis_backends

    return kinesis_backends[account_id][region]


def _stream(account_id: str, region: str, name: str | None, arn: str | None) -> Any:
    backend = _backend(account_id, region)
    if name and name in backend.streams:
        return backend.streams[name]
    if arn:
        for s in backend.streams.values():
            if s.arn == arn:
                return s
        name = name or arn.split("/")[-1]
    raise AwsError(
        "ResourceNotFoundException", f"Stream {name} under account {account_id} not found."
    )


def _call_stream(call: OfflineCall) -> Any:
    p = call.params
    return _stream(call.account_id, call.region, p.get("StreamName"), p.get("StreamARN"))


def _open_shards(stream: Any) -> list[Any]:
    return sorted((s for s in stream.shards.values() if s.is_open), key=lambda s: s.starting_hash)


def _shard(stream: Any, shard_id: str, account_id: str) -> Any:
    shard = stream.shards.get(shard_id)
    if shard is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Could not find shard {shard_id} in stream {stream.stream_name} under account {account_id}.",
        )
    return shard


def _route(stream: Any, partition_key: Any, explicit: Any) -> Any:
    if not isinstance(partition_key, str) or not 1 <= len(partition_key) <= 256:
        raise AwsError(
            "ValidationException",
            "1 validation error detected: Value at 'partitionKey' failed to satisfy constraint: "
            "Member must have length between 1 and 256",
        )
    if explicit:
        try:
            h = int(explicit)
        except ValueError as err:
            raise AwsError(
                "InvalidArgumentException", f"ExplicitHashKey {explicit} is not a decimal integer."
            ) from err
        if not 0 <= h < HASH_SPACE:
            raise AwsError(
                "InvalidArgumentException",
                f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {explicit}",
            )
    else:
        h = hash_key(partition_key)
    for shard in _open_shards(stream):
        if shard.starting_hash <= h <= shard.ending_hash:
            return shard
    raise AwsError("InternalFailureException", f"No open shard covers hash key {h}.", 500)


def _blob(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if hasattr(value, "read"):
        return bytes(value.read())
    raise AwsError("ValidationException", "Data must be a blob (bytes).")


def _admit(shard: Any, size: int, now: float) -> bool:
    """Count a record against the shard's one-second window; False when over the limit."""
    st = _shard_state(shard)
    while st.window and st.window[0][0] <= now - 1.0:
        st.window.popleft()
    used = sum(b for _, b in st.window)
    if len(st.window) + 1 > SHARD_RECORDS_PER_SECOND or used + size > SHARD_BYTES_PER_SECOND:
        st.throttled += 1
        return False
    st.window.append((now, size))
    st.records += 1
    st.bytes += size
    return True


def _rate_message(shard: Any, stream: Any, account_id: str) -> str:
    return f"Rate exceeded for shard {shard.shard_id} in stream {stream.stream_name} under account {account_id}."


def _store(shard: Any, partition_key: str, data: bytes, explicit: str | None, now: float) -> str:
    seq = shard.put_record(partition_key, base64.b64encode(data).decode("ascii"), explicit or "")
    rec = shard.records[int(seq)]
    rec.created_at = now
    rec.created_at_datetime = dt.datetime.fromtimestamp(now, tz=dt.UTC).replace(tzinfo=None)
    return str(seq)


def _emit_metrics(call: OfflineCall, stream: Any, per_shard: dict[str, list[int]]) -> None:
    """Put AWS/Kinesis metrics for one put call: per_shard maps shard id to [bytes, records, throttled]."""
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        cw = cloudwatch_backends[call.account_id][call.region]
    except Exception:  # noqa: BLE001 - metrics are best effort
        return
    when = clock.now_dt().replace(tzinfo=None)
    totals = [sum(v[i] for v in per_shard.values()) for i in range(3)]
    dims = [{"Name": "StreamName", "Value": stream.stream_name}]
    data = [
        {
            "MetricName": "IncomingBytes",
            "Value": totals[0],
            "Unit": "Bytes",
            "Dimensions": dims,
            "Timestamp": when,
        },
        {
            "MetricName": "IncomingRecords",
            "Value": totals[1],
            "Unit": "Count",
            "Dimensions": dims,
            "Timestamp": when,
        },
        {
            "MetricName": "WriteProvisionedThroughputExceeded",
            "Value": totals[2],
            "Unit": "Count",
            "Dimensions": dims,
            "Timestamp": when,
        },
    ]
    enabled = set(stream.shard_level_metrics or [])
    names = (
        ("IncomingBytes", 0, "Bytes"),
        ("IncomingRecords", 1, "Count"),
        ("WriteProvisionedThroughputExceeded", 2, "Count"),
    )
    for shard_id, values in per_shard.items():
        sdims = [*dims, {"Name": "ShardId", "Value": shard_id}]
        for metric, i, unit in names:
            if "ALL" in enabled or metric in enabled:
                data.append(
                    {
                        "MetricName": metric,
                        "Value": values[i],
                        "Unit": unit,
                        "Dimensions": sdims,
                        "Timestamp": when,
                    }
                )
    try:
        cw.put_metric_data(namespace="AWS/Kinesis", metric_data=data)
    except Exception:  # noqa: BLE001
        pass


def _to_firehose(call: OfflineCall, stream: Any, accepted: list[dict[str, Any]]) -> None:
    if not accepted:
        return
    from mllab.offline import firehose

    firehose.ingest_from_kinesis(call.account_id, call.region, stream.arn, accepted)


# --------------------------------------------------------------------------- puts
@handles("kinesis", "PutRecord")
def _put_record(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    stream = _call_stream(call)
    data = _blob(p.get("Data", b""))
    if len(data) > MAX_RECORD_BYTES:
        raise AwsError(
            "ValidationException",
            "1 validation error detected: Value at 'data' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_RECORD_BYTES}",
        )
    shard = _route(stream, p.get("PartitionKey"), p.get("ExplicitHashKey"))
    pk = str(p["PartitionKey"])  # validated by _route
    size = len(data) + len(pk.encode("utf-8"))
    with _LOCK:
        now = clock.now()
        if not _admit(shard, size, now):
            _emit_metrics(call, stream, {shard.shard_id: [0, 0, 1]})
            raise AwsError(
                "ProvisionedThroughputExceededException",
                _rate_message(shard, stream, call.account_id),
            )
        seq = _store(shard, pk, data, p.get("ExplicitHashKey"), now)
    _emit_metrics(call, stream, {shard.shard_id: [size, 1, 0]})
    _to_firehose(
        call,
        stream,
        [
            {
                "data": data,
                "arrival": now,
                "partition_key": pk,
                "sequence_number": seq,
                "shard_id": shard.shard_id,
            }
        ],
    )
    return {
        "ShardId": shard.shard_id,
        "SequenceNumber": seq,
        "EncryptionType": stream.encryption_type,
    }


@handles("kinesis", "PutRecords")
def _put_records(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    stream = _call_stream(call)
    entries = p.get("Records") or []
    if len(entries) > MAX_PUT_RECORDS:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{len(entries)}' at 'records' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PUT_RECORDS}",
        )
    blobs = [_blob(e.get("Data", b"")) for e in entries]
    for i, b in enumerate(blobs):
        if len(b) > MAX_RECORD_BYTES:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value at 'records.{i + 1}.member.data' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}",
            )
    sizes = [
        len(b) + len(str(e.get("PartitionKey", "")).encode("utf-8"))
        for b, e in zip(blobs, entries, strict=True)
    ]
    if sum(sizes) > MAX_PUT_RECORDS_BYTES:
        raise AwsError(
            "InvalidArgumentException",
            f"Records size exceeds 5 MB limit: the request holds {sum(sizes)} bytes (data plus partition keys).",
        )
    shards = [_route(stream, e.get("PartitionKey"), e.get("ExplicitHashKey")) for e in entries]
    results: list[dict[str, str]] = []
    per_shard: dict[str, list[int]] = {}
    accepted: list[dict[str, Any]] = []
    with _LOCK:
        now = clock.now()
        for e, b, size, shard in zip(entries, blobs, sizes, shards, strict=True):
            counts = per_shard.setdefault(shard.shard_id, [0, 0, 0])
            if _admit(shard, size, now):
                seq = _store(shard, e["PartitionKey"], b, e.get("ExplicitHashKey"), now)
                counts[0] += size
                counts[1] += 1
                results.append({"SequenceNumber": seq, "ShardId": shard.shard_id})
                accepted.append(
                    {
                        "data": b,
                        "arrival": now,
                        "partition_key": e["PartitionKey"],
                        "sequence_number": seq,
                        "shard_id": shard.shard_id,
                    }
                )
            else:
                counts[2] += 1
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": _rate_message(shard, stream, call.account_id),
                    }
                )
    _emit_metrics(call, stream, per_shard)
    _to_firehose(call, stream, accepted)
    return {
        "FailedRecordCount": sum(1 for r in results if "ErrorCode" in r),
        "Records": results,
        "EncryptionType": stream.encryption_type,
    }


# --------------------------------------------------------------------------- reads and retention
def _expire(stream: Any) -> None:
    """Mark the records whose age reached the retention period (lab clock) as gone for good."""
    cutoff = clock.now() - stream.retention_period_hours * 3600
    with _LOCK:
        for shard in stream.shards.values():
            st = _shard_state(shard)
            for seq, rec in shard.records.items():
                if seq <= st.expired_through:
                    continue
                if rec.created_at > cutoff:
                    break
                st.expired_through = seq


def _visible(shard: Any, seq: int) -> bool:
    return seq > _shard_state(shard).expired_through


@handles("kinesis", "IncreaseStreamRetentionPeriod")
@handles("kinesis", "DecreaseStreamRetentionPeriod")
def _retention_change(call: OfflineCall) -> None:
    """Expire what the old period expired before the new period applies (then moto validates and stores)."""
    try:
        _expire(_call_stream(call))
    except AwsError:
        pass
    return None


@handles("kinesis", "GetRecords", "after")
def _get_records(call: OfflineCall) -> None:
    """Hide records whose age reached the retention period on the lab clock."""
    from moto.kinesis.utils import decompose_shard_iterator

    try:
        stream_name, shard_id, _ = decompose_shard_iterator(call.params["ShardIterator"])
        stream = _stream(call.account_id, call.region, stream_name, call.params.get("StreamARN"))
        shard = stream.shards[shard_id]
    except Exception:  # noqa: BLE001 - moto already answered; leave it
        return
    _expire(stream)
    if call.response is not None:
        records = call.response.get("Records") or []
        call.response["Records"] = [r for r in records if _visible(shard, int(r["SequenceNumber"]))]


@handles("kinesis", "DescribeStream", "after")
def _describe_stream(call: OfflineCall) -> None:
    """Report ``StreamModeDetails`` as AWS's DescribeStream does."""
    desc = (call.response or {}).get("StreamDescription")
    if not isinstance(desc, dict):
        return
    try:
        stream = _call_stream(call)
    except AwsError:
        return
    desc["StreamModeDetails"] = dict(stream.stream_mode)


# --------------------------------------------------------------------------- resharding
def _next_id(stream: Any) -> int:
    return max(s._shard_id for s in stream.shards.values()) + 1


def _new_shard(
    stream: Any, start: int, end: int, parent: str | None, adjacent: str | None = None
) -> Any:
    from moto.kinesis.models import Shard

    shard = Shard(_next_id(stream), start, end, parent=parent, adjacent_parent=adjacent)
    stream.shards[shard.shard_id] = shard
    return shard


def _require_provisioned(stream: Any, account_id: str) -> None:
    if stream.stream_mode.get("StreamMode") == "ON_DEMAND":
        raise AwsError(
            "ValidationException",
            f"Request is invalid. Stream {stream.stream_name} under account {account_id} is in On-Demand mode.",
        )


def _require_open(shard: Any, stream: Any, account_id: str) -> None:
    if not shard.is_open:
        raise AwsError(
            "InvalidArgumentException",
            f"Shard {shard.shard_id} in stream {stream.stream_name} under account {account_id} has already been "
            "merged or split, and thus is not eligible for merging or splitting.",
        )


@handles("kinesis", "SplitShard")
def _split_shard(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    stream = _call_stream(call)
    _require_provisioned(stream, call.account_id)
    shard = _shard(stream, p["ShardToSplit"], call.account_id)
    _require_open(shard, stream, call.account_id)
    key = int(p["NewStartingHashKey"])
    if not shard.starting_hash + 1 < key < shard.ending_hash:
        raise AwsError(
            "InvalidArgumentException",
            f"NewStartingHashKey {key} used in SplitShard() on shard {shard.shard_id} in stream {stream.stream_name} "
            f"under account {call.account_id} is not both greater than one plus the shard's StartingHashKey "
            f"{shard.starting_hash} and less than the shard's EndingHashKey {shard.ending_hash}.",
        )
    with _LOCK:
        shard.is_open = False
        _new_shard(stream, shard.starting_hash, key - 1, shard.shard_id)
        _new_shard(stream, key, shard.ending_hash, shard.shard_id)
        stream.shard_count = len(_open_shards(stream))
    return {}


@handles("kinesis", "MergeShards")
def _merge_shards(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    stream = _call_stream(call)
    _require_provisioned(stream, call.account_id)
    first = _shard(stream, p["ShardToMerge"], call.account_id)
    second = _shard(stream, p["AdjacentShardToMerge"], call.account_id)
    for s in (first, second):
        _require_open(s, stream, call.account_id)
    if (
        first.ending_hash + 1 != second.starting_hash
        and second.ending_hash + 1 != first.starting_hash
    ):
        raise AwsError(
            "InvalidArgumentException",
            f"Shards {first.shard_id} and {second.shard_id} in stream {stream.stream_name} under account "
            f"{call.account_id} are not an adjacent pair of shards eligible for merging",
        )
    with _LOCK:
        first.is_open = False
        second.is_open = False
        _new_shard(
            stream,
            min(first.starting_hash, second.starting_hash),
            max(first.ending_hash, second.ending_hash),
            first.shard_id,
            second.shard_id,
        )
        stream.shard_count = len(_open_shards(stream))
    return {}


@handles("kinesis", "UpdateShardCount")
def _update_shard_count(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    stream = _call_stream(call)
    _require_provisioned(stream, call.account_id)
    if p.get("ScalingType") != "UNIFORM_SCALING":
        raise AwsError("ValidationException", "ScalingType must be UNIFORM_SCALING.")
    target = int(p["TargetShardCount"])
    current = _open_shards(stream)
    n = len(current)
    if target > 2 * n:
        raise AwsError(
            "LimitExceededException",
            f"UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {n} Target shard count: {target}",
        )
    if target * 2 < n:
        raise AwsError(
            "LimitExceededException",
            f"UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {n} Target shard count: {target}",
        )
    if target != n:
        with _LOCK:
            for s in current:
                s.is_open = False
            step = HASH_SPACE // target
            for i in range(target):
                start = i * step
                end = HASH_SPACE - 1 if i == target - 1 else (i + 1) * step - 1
                parents = [
                    s.shard_id for s in current if s.starting_hash <= end and s.ending_hash >= start
                ]
                _new_shard(stream, start, end, parents[0], parents[1] if len(parents) > 1 else None)
            stream.shard_count = target
    return {
        "StreamName": stream.stream_name,
        "CurrentShardCount": n,
        "TargetShardCount": target,
        "StreamARN": stream.arn,
    }


# --------------------------------------------------------------------------- enhanced fan-out
def _consumers_stream(call: OfflineCall, arn: str | None) -> Any:
    if not arn:
        raise AwsError("InvalidArgumentException", "StreamARN is required.")
    return _stream(call.account_id, call.region, None, arn)


@handles("kinesis", "RegisterStreamConsumer")
def _register_consumer(call: OfflineCall) -> None:
    stream = _consumers_stream(call, call.params.get("StreamARN"))
    name = call.params.get("ConsumerName")
    if any(c.consumer_name == name for c in stream.consumers):
        raise AwsError(
            "ResourceInUseException",
            f"Consumer {name} under stream {stream.stream_name} under account {call.account_id} already exists.",
        )
    if len(stream.consumers) >= MAX_CONSUMERS:
        raise AwsError(
            "LimitExceededException",
            f"Stream {stream.stream_name} under account {call.account_id} already has {MAX_CONSUMERS} registered "
            "consumers, the maximum for enhanced fan-out. Deregister one or share a consumer.",
        )
    return None


@handles("kinesis", "DeregisterStreamConsumer")
def _deregister_consumer(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    backend = _backend(call.account_id, call.region)
    if p.get("ConsumerARN"):
        for s in backend.streams.values():
            if s.get_consumer_by_arn(p["ConsumerARN"]):
                s.delete_consumer(p["ConsumerARN"])
                return {}
        raise AwsError(
            "ResourceNotFoundException",
            f"Consumer {p['ConsumerARN']}, account {call.account_id} not found.",
        )
    stream = _consumers_stream(call, p.get("StreamARN"))
    name = p.get("ConsumerName")
    match = [c for c in stream.consumers if c.consumer_name == name]
    if not match:
        raise AwsError(
            "ResourceNotFoundException", f"Consumer {name}, account {call.account_id} not found."
        )
    stream.consumers = [c for c in stream.consumers if c.consumer_name != name]
    return {}


class SubscribeToShardEventStream:
    """The offline answer of ``SubscribeToShard``: iterate it like botocore's EventStream."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = events

    def __iter__(self) -> Any:
        return iter(self._events)

    def close(self) -> None:
        """Nothing to release offline."""


@handles("kinesis", "SubscribeToShard")
def _subscribe(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    backend = _backend(call.account_id, call.region)
    consumer = stream = None
    for s in backend.streams.values():
        consumer = s.get_consumer_by_arn(p.get("ConsumerARN", ""))
        if consumer:
            stream = s
            break
    if consumer is None or stream is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Consumer {p.get('ConsumerARN')}, account {call.account_id} not found.",
        )
    shard = _shard(stream, p["ShardId"], call.account_id)
    pos = p.get("StartingPosition") or {}
    kind = pos.get("Type")
    items = list(shard.records.items())
    if kind == "LATEST":
        items = []
    elif kind == "AT_SEQUENCE_NUMBER":
        items = [(s, r) for s, r in items if s >= int(pos["SequenceNumber"])]
    elif kind == "AFTER_SEQUENCE_NUMBER":
        items = [(s, r) for s, r in items if s > int(pos["SequenceNumber"])]
    elif kind == "AT_TIMESTAMP":
        ts = pos["Timestamp"]
        t = ts.timestamp() if isinstance(ts, dt.datetime) else float(ts)
        items = [(s, r) for s, r in items if r.created_at >= t]
    elif kind != "TRIM_HORIZON":
        raise AwsError("InvalidArgumentException", f"Invalid StartingPosition.Type {kind}.")
    _expire(stream)
    items = [(s, r) for s, r in items if _visible(shard, s)]
    records = [
        {
            "SequenceNumber": str(s),
            "ApproximateArrivalTimestamp": dt.datetime.fromtimestamp(r.created_at, tz=dt.UTC),
            "Data": base64.b64decode(r.data),
            "PartitionKey": r.partition_key,
            "EncryptionType": stream.encryption_type,
        }
        for s, r in items
    ]
    last = records[-1]["SequenceNumber"] if records else str(shard.get_max_sequence_number())
    events = []
    for i in range(0, max(len(records), 1), 1000):
        chunk = records[i : i + 1000]
        event: dict[str, Any] = {
            "Records": chunk,
            "ContinuationSequenceNumber": last,
            "MillisBehindLatest": 0,
        }
        if not shard.is_open:
            event["ChildShards"] = [
                {
                    "ShardId": c.shard_id,
                    "ParentShards": [x for x in (c.parent, c.adjacent_parent) if x],
                    "HashKeyRange": {
                        "StartingHashKey": str(c.starting_hash),
                        "EndingHashKey": str(c.ending_hash),
                    },
                }
                for c in stream.shards.values()
                if shard.shard_id in (c.parent, c.adjacent_parent)
            ]
        events.append({"SubscribeToShardEvent": event})
    return {"EventStream": SubscribeToShardEventStream(events)}
