"""The checks of lab 01 (data engineering), as functions the notebook's check cells call.

Each function takes the open :class:`~mllab.checks.core.Requirement` (``req``), the lab and
what the requirement names, reads the real state through the lab session (documented boto3
calls only) and calls ``req.expect``; a miss raises :class:`~mllab.checks.core.CheckFailed`.
They derive the truth from the account (the stream's records, the recorded responses, the
query's plan and bytes, object times against job runs, IAM evaluation), never from a
learner's answer variable, so a result typed by hand does not pass. Kept apart from the
notebook so ``tests/checks/test_lab01_checks.py`` can give each one prepared wrong and
alternative states. Every call is read-only and free, except where a docstring says the
check runs an Athena query (lab 01's requirement 8, a ``LIMIT 3`` query).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from mllab.checks.core import Requirement
from mllab.checks.inspect import athena_query, delivery_stream, glue_table, s3_objects, stream

#: A provisioned shard's write limits (Kinesis quotas).
SHARD_BYTES_PER_SECOND = 1_000_000
SHARD_RECORDS_PER_SECOND = 1_000


def shards_for(records_per_second: float, bytes_per_second: float) -> int:
    """The provisioned shards a write peak needs: by bytes and by records, the larger.

    Args:
        records_per_second: records written per second at peak.
        bytes_per_second: bytes written per second at peak.

    Returns:
        The shard count (at least 1). Costs nothing.
    """
    return max(
        1,
        math.ceil(bytes_per_second / SHARD_BYTES_PER_SECOND),
        math.ceil(records_per_second / SHARD_RECORDS_PER_SECOND),
    )


# --------------------------------------------------------------------------- requirement 1
def check_stream(
    req: Requirement,
    lab: Any,
    name: str,
    traffic: dict[str, tuple[float, float]],
    consumers: Sequence[str],
    sizing: Callable[[float, float], int] | None = None,
) -> None:
    """Requirement 1: a provisioned stream sized from the peak, 7 days, two EFO consumers.

    Args:
        req: the open requirement.
        lab: the open lab.
        name: the stream name.
        traffic: per producer, ``(records per second, bytes per record)`` at peak.
        consumers: the enhanced fan-out consumers that must be ACTIVE.
        sizing: the learner's ``shards_for(records_per_second, bytes_per_second)``, tried on
            a peak where bytes decide and one where records decide (None: not asked).
    """
    records = sum(r for r, _ in traffic.values())
    nbytes = sum(r * b for r, b in traffic.values())
    by_bytes = math.ceil(nbytes / SHARD_BYTES_PER_SECOND)
    by_records = math.ceil(records / SHARD_RECORDS_PER_SECOND)
    need = max(by_bytes, by_records)
    if sizing is not None:
        for recs, byts in ((1_000, 3_500_000), (4_400, 2_500_000)):
            want = shards_for(recs, byts)
            got = sizing(recs, byts)
            req.expect(
                got == want,
                f"shards_for({recs:,}, {byts:,}) is {got}: {byts / 1e6:.1f} MB/s needs "
                f"{math.ceil(byts / 1e6)} shard(s) and {recs:,} records/s needs "
                f"{math.ceil(recs / 1000)}; keep the larger, rounded up",
            )
    s = stream(lab, name)
    req.expect(
        s.mode == "PROVISIONED",
        f"the stream is {s.mode}; this requirement sizes provisioned shards",
    )
    req.expect(
        s.shard_count >= need,
        f"{s.shard_count} shard(s) take {s.shard_count} MB/s and {s.shard_count * 1000:,} "
        f"records/s; the peak is {nbytes / 1e6:.1f} MB/s ({by_bytes} shard(s) by bytes) and "
        f"{records:,.0f} records/s ({by_records} by records)",
    )
    req.expect(
        s.shard_count <= need,
        f"{s.shard_count} shards: {need} cover the peak; every shard-hour is billed",
    )
    req.expect(
        s.retention_hours >= 168, f"retention is {s.retention_hours} h; a 7-day replay needs 168 h"
    )
    kinesis = lab.client("kinesis")
    listed = kinesis.list_stream_consumers(StreamARN=s.arn)["Consumers"]
    status = {c["ConsumerName"]: c["ConsumerStatus"] for c in listed}
    for consumer in consumers:
        req.expect(
            status.get(consumer) == "ACTIVE",
            f"consumer {consumer!r} is {status.get(consumer, 'not registered')}; register it "
            "with register_stream_consumer and wait for ACTIVE",
        )
    req.note(
        f"{s.shard_count} shards ({by_bytes} by bytes, {by_records} by records), "
        f"{s.retention_hours} h retention, enhanced fan-out: {sorted(status)}"
    )


# --------------------------------------------------------------------------- requirement 2
def read_stream(lab: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    """Every record on every shard, from the oldest (GetRecords from TRIM_HORIZON; free offline).

    Args:
        lab: the open lab.
        name: the stream.

    Returns:
        Records per shard id.
    """
    kinesis = lab.client("kinesis")
    found: dict[str, list[dict[str, Any]]] = {}
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found[shard["ShardId"]] = []
        while it:
            out = kinesis.get_records(ShardIterator=it, Limit=10_000)
            found[shard["ShardId"]] += out["Records"]
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                break
            it = out.get("NextShardIterator")
    return found


def md5_shard(key: str, shards: Iterable[dict[str, Any]]) -> str:
    """The shard whose HashKeyRange holds MD5(key) as a 128-bit integer (Kinesis's mapping)."""
    h = int(hashlib.md5(key.encode()).hexdigest(), 16)
    return next(
        s["ShardId"]
        for s in shards
        if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"])
    )


def _event_id(data: bytes) -> str | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value.get("event_id") if isinstance(value, dict) else None


def check_producer(
    req: Requirement,
    lab: Any,
    name: str,
    event_ids: Iterable[str],
    user_ids: Iterable[str],
    hot_key: str,
    hot_responses: Sequence[dict[str, Any]],
    hot_failed: Any,
    hot_codes: Any,
    hot_shard: Any,
) -> None:
    """Requirement 2: every click on the stream, spread evenly; the hot-key drill read right.

    The drill's truth comes from the stream and the recorded ``PutRecords`` responses: the
    failures are counted from ``hot_responses``, whose accepted entries must be on the stream
    under the sequence numbers they name (so responses made up by hand do not count), and
    the hot shard is where the heartbeats really are.
    """
    on_shards = read_stream(lab, name)
    wanted = set(event_ids)
    per_shard = {
        sid: sum(_event_id(r["Data"]) in wanted for r in recs) for sid, recs in on_shards.items()
    }
    arrived = {_event_id(r["Data"]) for recs in on_shards.values() for r in recs} & wanted
    req.expect(
        len(arrived) == len(wanted),
        f"{len(wanted) - len(arrived)} of the {len(wanted)} clicks are not on the stream: resend "
        "the records whose PutRecords entry has an ErrorCode",
    )
    share = max(per_shard.values()) / max(1, sum(per_shard.values()))
    even = 1 / max(1, len(per_shard))
    req.expect(
        share <= even * 1.35,
        f"one shard holds {share:.0%} of the clicks ({per_shard}); choose a partition key that "
        "spreads them",
    )
    kinesis = lab.client("kinesis")
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    truth = md5_shard(hot_key, shards)
    entries = [e for r in hot_responses for e in r.get("Records", [])]
    accepted = [e for e in entries if "SequenceNumber" in e]
    failed_truth = sum(int(r.get("FailedRecordCount", 0)) for r in hot_responses)
    codes_truth = {e["ErrorCode"] for e in entries if "ErrorCode" in e}
    heartbeats = {
        r["SequenceNumber"] for r in on_shards.get(truth, []) if r["PartitionKey"] == hot_key
    }
    req.expect(
        bool(accepted) and {e.get("ShardId") for e in accepted} == {truth},
        f"hot_responses do not come from the stream: their accepted records name shards "
        f"{sorted({str(e.get('ShardId')) for e in accepted})}; rerun the hammer cell",
    )
    unseen = [e["SequenceNumber"] for e in accepted if e["SequenceNumber"] not in heartbeats]
    req.expect(
        not unseen,
        f"{len(unseen)} accepted record(s) of hot_responses are not on {truth}: the responses were "
        "not returned by this stream; rerun the hammer cell",
    )
    req.expect(
        failed_truth > 0,
        "no call of the hammer cell reported a failure: rerun it (it sends until one does)",
    )
    req.expect(
        hot_failed == failed_truth,
        f"hot_failed is {hot_failed!r}; the responses report FailedRecordCount totalling "
        f"{failed_truth}: sum it over hot_responses",
    )
    req.expect(
        set(hot_codes or ()) == codes_truth,
        f"hot_codes is {hot_codes!r}; the failed entries carry {codes_truth}: collect each "
        "failed record's ErrorCode",
    )
    req.expect(
        hot_shard == truth,
        f"hot_shard is {hot_shard!r}, but MD5({hot_key!r}) falls in {truth}'s hash key range",
    )
    holders = {
        sid for sid, recs in on_shards.items() if any(r["PartitionKey"] == hot_key for r in recs)
    }
    req.expect(holders == {truth}, f"the heartbeats are on {holders}; expected only {truth}")
    users = list(user_ids)
    by_user = max(
        (sum(md5_shard(u, shards) == s["ShardId"] for u in users) for s in shards), default=0
    ) / max(1, len(users))
    req.note(
        f"clicks per shard {per_shard} (user_id as the key would have put {by_user:.0%} on one "
        f"shard); the hot key throttled {failed_truth} records on {truth}"
    )


# --------------------------------------------------------------------------- requirement 3
def _rule_prefix(rule: dict[str, Any]) -> str | None:
    """The key prefix a lifecycle rule applies to ("" = the whole bucket; None = by tags only)."""
    if "Filter" not in rule:
        return str(rule.get("Prefix", ""))
    f = rule.get("Filter") or {}
    if "Prefix" in f:
        return str(f["Prefix"])
    if "And" in f:
        return str((f["And"] or {}).get("Prefix", ""))
    if "Tag" in f:
        return None
    return ""


def check_s3_security(req: Requirement, lab: Any, raw_prefix: str, root: str) -> None:
    """Requirement 3: SSE-KMS with a Bucket Key; the raw prefix ages 30/90/365 days.

    The lifecycle may be one rule or several (one per transition or expiry) on this lab's
    prefix; every enabled rule that covers the raw files counts, and one that covers more
    than this lab's prefix misses.
    """
    s3 = lab.client("s3")
    try:
        rules = s3.get_bucket_encryption(Bucket=lab.bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
    except ClientError:
        rules = []
    enc = rules[0] if rules else {}
    algo = (enc.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
    req.expect(
        algo == "aws:kms",
        f"default encryption is {algo}; set SSE-KMS (aws:kms) with put_bucket_encryption",
    )
    req.expect(
        enc.get("BucketKeyEnabled") is True,
        "BucketKeyEnabled is not true: each object would cost a KMS request",
    )
    try:
        life = s3.get_bucket_lifecycle_configuration(Bucket=lab.bucket)["Rules"]
    except ClientError:
        life = []
    covering = [
        r
        for r in life
        if r.get("Status") == "Enabled"
        and (p := _rule_prefix(r)) is not None
        and raw_prefix.startswith(p)
    ]
    req.expect(
        covering,
        f"no enabled lifecycle rule covers s3://{lab.bucket}/{raw_prefix} (rules: "
        f"{[r.get('ID') for r in life]})",
    )
    broad = [r.get("ID") for r in covering if not str(_rule_prefix(r)).startswith(f"{root}/")]
    req.expect(
        not broad,
        f"rule(s) {broad} cover more than {root}/: limit them to this lab's raw prefix, not the "
        "whole shared bucket",
    )
    steps: dict[str, set[int]] = {}
    expiry: set[int] = set()
    for r in covering:
        for t in r.get("Transitions", []):
            steps.setdefault(t["StorageClass"], set()).add(int(t.get("Days", -1)))
        if (r.get("Expiration") or {}).get("Days") is not None:
            expiry.add(int(r["Expiration"]["Days"]))
    req.expect(
        steps.get("STANDARD_IA") == {30},
        f"transitions are {steps}; move to STANDARD_IA after 30 days",
    )
    req.expect(
        steps.get("GLACIER_IR") == {90},
        f"transitions are {steps}; move to GLACIER_IR after 90 days",
    )
    others = sorted(set(steps) - {"STANDARD_IA", "GLACIER_IR"})
    req.expect(not others, f"transitions to {others} are not asked for")
    req.expect(expiry == {365}, f"expirations are {sorted(expiry)} days; expire after 365 days")
    req.note(
        f"SSE-KMS with a Bucket Key; {raw_prefix}: {len(covering)} rule(s), IA 30, GLACIER_IR 90, "
        f"expire 365; {len(life)} rule(s) on the bucket"
    )


# --------------------------------------------------------------------------- requirement 4
def check_firehose(
    req: Requirement,
    lab: Any,
    name: str,
    stream_name: str,
    raw_prefix: str,
    event_ids: Iterable[str],
    raw_bytes: int,
) -> None:
    """Requirement 4: Firehose from the stream to dated GZIP files, every click landed."""
    d = delivery_stream(lab, name)
    source_arn = stream(lab, stream_name).arn
    req.expect(
        d.source == "KinesisStreamAsSource" and d.source_stream_arn == source_arn,
        f"the source is {d.source} {d.source_stream_arn}; read the Kinesis stream {stream_name}",
    )
    req.expect(
        d.bucket == lab.bucket and d.prefix.startswith(raw_prefix),
        f"the destination is s3://{d.bucket}/{d.prefix}; write under s3://{lab.bucket}/{raw_prefix}",
    )
    req.expect(
        "!{timestamp:" in d.prefix,
        f"the prefix {d.prefix!r} has no date partition (!{{timestamp:...}})",
    )
    req.expect(
        bool(d.error_prefix) and not d.error_prefix.startswith(raw_prefix),
        f"ErrorOutputPrefix {d.error_prefix!r}: set one outside {raw_prefix} (the crawler would "
        "read errors as clicks)",
    )
    req.expect(
        d.compression == "GZIP", f"CompressionFormat is {d.compression}; the lake keeps GZIP files"
    )
    req.expect(
        d.buffer_seconds is not None and d.buffer_seconds <= 300,
        f"IntervalInSeconds is {d.buffer_seconds}: records could wait longer than 5 minutes",
    )
    landed = s3_objects(lab, raw_prefix)
    req.expect(
        len(landed) > 0,
        f"nothing has landed under s3://{lab.bucket}/{raw_prefix}: a delivery stream reads its "
        "Kinesis source from the latest position, so the clicks sent before it existed never "
        "reach it. Did you resend them after creating the delivery stream (and let the buffer "
        "interval pass)?",
    )
    req.expect(
        all(k.endswith(".gz") for k in landed.keys),
        f"objects without .gz: {[k for k in landed.keys if not k.endswith('.gz')][:3]}",
    )
    req.expect(
        all(re.search(r"/dt=\d{4}-\d{2}-\d{2}/", k) for k in landed.keys),
        f"keys without a dt=YYYY-MM-DD/ folder: {landed.keys[:3]}",
    )
    s3 = lab.client("s3")
    ids: set[str] = set()
    for key in landed.keys:
        body = gzip.decompress(s3.get_object(Bucket=lab.bucket, Key=key)["Body"].read())
        ids |= {
            json.loads(line).get("event_id") for line in body.decode().splitlines() if line.strip()
        }
    wanted = set(event_ids)
    missing = wanted - ids
    req.expect(
        not missing,
        f"{len(missing)} of the {len(wanted)} clicks have not landed; did you resend them after "
        "creating the delivery stream?",
    )
    req.note(
        f"{len(landed.keys)} GZIP object(s), {landed.total_bytes:,} bytes for {raw_bytes:,} bytes "
        f"of JSON ({raw_bytes / max(1, landed.total_bytes):.1f}x smaller); buffer {d.buffer_mb} MB "
        f"/ {d.buffer_seconds} s"
    )


# --------------------------------------------------------------------------- requirement 5
def check_crawler(req: Requirement, lab: Any, database: str, raw_prefix: str) -> None:
    """Requirement 5: the crawler made a JSON table ``clicks`` partitioned by ``dt``."""
    t = glue_table(lab, database, "clicks")
    req.expect(
        t.classification == "json",
        f"the table's classification is {t.classification!r}; expected json",
    )
    req.expect(
        t.location.rstrip("/").endswith(raw_prefix.rstrip("/")),
        f"the table reads {t.location}; crawl s3://{lab.bucket}/{raw_prefix}",
    )
    req.expect(
        list(t.partition_keys) == ["dt"],
        f"partition keys are {t.partition_keys}; the dt=YYYY-MM-DD/ folders should give one key, dt",
    )
    req.expect(
        len(t.partitions) >= 1,
        "no partitions registered: was the crawler run after the files landed?",
    )
    expected = {
        "event_id": "string",
        "country": "string",
        "purchase_amount": "double",
        "dwell_ms": "bigint",
        "email": "string",
    }
    wrong = {c: t.columns.get(c) for c, typ in expected.items() if t.columns.get(c) != typ}
    req.expect(not wrong, f"columns with an unexpected type (or missing): {wrong}")
    req.note(f"{database}.clicks: {len(t.columns)} columns, partitions {t.partitions}")


# --------------------------------------------------------------------------- requirements 6, 7
def query_tables(sql: str) -> tuple[set[str], bool]:
    """The tables a query reads and whether it holds a ``VALUES`` literal (sqlglot, Trino dialect).

    Returns:
        ``(table names lowercased, has_values)``; CTE names are not tables.
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except sqlglot.errors.ParseError:
        return set(), False
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    tables = {t.name.lower() for t in tree.find_all(exp.Table) if t.name} - ctes
    return tables, tree.find(exp.Values) is not None


def _filter_columns(sql: str) -> set[str]:
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except sqlglot.errors.ParseError:
        return set()
    where = tree.find(exp.Where)
    return {c.name.lower() for c in where.find_all(exp.Column)} if where else set()


def _compare(
    req: Requirement,
    q: Any,
    what: str,
    truth: dict[str, tuple[int, float]],
    partition_hint: str,
) -> None:
    req.expect(q.state == "SUCCEEDED", f"{what} is {q.state}: {q.reason}")
    req.expect(
        q.columns == ["country", "purchases", "revenue"],
        f"{what} returns {q.columns}; name them country, purchases, revenue",
    )
    got = {row[0]: (int(row[1]), float(row[2])) for row in q.rows}
    if not got and "dt" in _filter_columns(q.query):
        req.expect(
            False,
            f"{what} returns no rows: it filters on dt, the partition Firehose names after the "
            f"day it *received* the clicks, not the day they happened; {partition_hint}",
        )
    req.expect(
        set(got) == set(truth),
        f"{what}: countries {sorted(got)} differ from {sorted(truth)}"
        + ("" if got else f" (no rows: check the WHERE clause; {partition_hint})"),
    )
    bad = [
        c
        for c in truth
        if c in got and (got[c][0] != truth[c][0] or abs(got[c][1] - truth[c][1]) > 0.011)
    ]
    req.expect(not bad, f"{what}: wrong counts or revenue for {bad}")
    revenues = [float(r[2]) for r in q.rows]
    req.expect(
        revenues == sorted(revenues, reverse=True),
        f"{what}: order the rows by revenue, largest first",
    )


def _reads_table(req: Requirement, q: Any, what: str, table: str, min_bytes: int) -> None:
    tables, literal = query_tables(q.query)
    req.expect(
        table in tables and not literal,
        f"{what} reads {sorted(tables) or 'no table'}"
        + (" and a VALUES literal" if literal else "")
        + f": the answer must come from the table {table}, not from numbers computed elsewhere",
    )
    hint = ""
    if "dt" in _filter_columns(q.query):
        hint = (
            ": it filters on dt, the partition Firehose names after the day it *received* the "
            "clicks, not the day they happened; filter on the event time ts"
        )
    req.expect(
        q.bytes_scanned >= min_bytes,
        f"{what} scanned {q.bytes_scanned:,} bytes; reading {table} for that day scans at least "
        f"{min_bytes:,}{hint}",
    )


def _workgroup(req: Requirement, lab: Any, workgroup: str) -> None:
    wg = lab.client("athena").get_work_group(WorkGroup=workgroup)["WorkGroup"]["Configuration"]
    cutoff = wg.get("BytesScannedCutoffPerQuery")
    req.expect(
        cutoff is not None and cutoff / 1e12 * 5 <= 0.01,
        f"BytesScannedCutoffPerQuery is {cutoff}; cap queries at 2 GB (USD 0.01)",
    )
    req.expect(
        wg.get("EnforceWorkGroupConfiguration") is True,
        "enforce the workgroup configuration, so no client can override the results location or the cap",
    )
    out = (wg.get("ResultConfiguration") or {}).get("OutputLocation", "")
    req.expect(
        out.startswith(f"s3://{lab.bucket}/"),
        f"the results location is {out!r}; keep results in s3://{lab.bucket}/lab01/athena-results/",
    )


def purchases_by_country(events: Any, day: str) -> dict[str, tuple[int, float]]:
    """The answer to requirement 6's question, from the generated events (pandas)."""
    rows = events[(events.ts.str[:10] == day) & (events.purchase_amount > 0)]
    agg = rows.groupby("country").purchase_amount.agg(["count", "sum"])
    return {str(c): (int(r["count"]), float(r["sum"])) for c, r in agg.iterrows()}


def check_athena(
    req: Requirement,
    lab: Any,
    workgroup: str,
    query_id: str,
    events: Any,
    raw_prefix: str,
    day: str = "2025-03-02",
) -> Any:
    """Requirement 6: the workgroup caps and enforces; the raw query reads ``clicks`` and answers.

    Returns:
        The query's :class:`~mllab.checks.inspect.AthenaQueryFacts`.
    """
    _workgroup(req, lab, workgroup)
    q = athena_query(lab, query_id)
    req.expect(q.workgroup == workgroup, f"the query ran in {q.workgroup}; run it in {workgroup}")
    raw = s3_objects(lab, raw_prefix)
    # ts is not a partition: every file of the table is read
    _reads_table(req, q, "the raw query", "clicks", int(raw.total_bytes * 0.9))
    _compare(
        req, q, "the raw query", purchases_by_country(events, day), "filter on the event time ts"
    )
    req.note(f"{len(q.rows)} countries, top {q.rows[0]}; scanned {q.bytes_scanned:,} bytes")
    return q


def check_ctas(
    req: Requirement,
    lab: Any,
    database: str,
    root: str,
    raw_query_id: str,
    parquet_query_id: str,
    events: Any,
    day: str = "2025-03-02",
) -> None:
    """Requirement 7: Parquet/Snappy partitioned by event_date, the same answer for far fewer bytes."""
    import pyarrow.parquet as pq

    t = glue_table(lab, database, "clicks_parquet")
    req.expect(
        t.classification == "parquet" or "parquet" in t.serde.lower(),
        f"clicks_parquet is {t.classification or t.serde}; write it as PARQUET",
    )
    req.expect(
        list(t.partition_keys) == ["event_date"],
        f"partition keys are {t.partition_keys}; partition by event_date",
    )
    left_in = [c for c in ("ip", "user_agent", "properties") if c in t.columns]
    req.expect(not left_in, f"leave {left_in} out of the analysts' table")
    files = s3_objects(lab, f"{root}/curated/clicks_parquet/", at_least=1)
    one = pq.ParquetFile(io.BytesIO(files.read(lab, files.keys[0])))
    codec = one.metadata.row_group(0).column(0).compression
    req.expect(
        codec == "SNAPPY",
        f"the Parquet files are compressed with {codec}; use write_compression = 'SNAPPY'",
    )
    raw_q, pq_q = athena_query(lab, raw_query_id), athena_query(lab, parquet_query_id)
    _reads_table(req, pq_q, "the Parquet query", "clicks_parquet", 1)
    _compare(
        req,
        pq_q,
        "the Parquet query",
        purchases_by_country(events, day),
        "filter on the partition column event_date",
    )
    req.expect(
        "event_date" in _filter_columns(pq_q.query),
        "filter the Parquet query on the partition column event_date",
    )
    ratio = raw_q.bytes_scanned / max(1, pq_q.bytes_scanned)
    req.expect(
        ratio >= 5,
        f"the Parquet query scanned {pq_q.bytes_scanned:,} bytes against {raw_q.bytes_scanned:,}: "
        "expected much less",
    )

    def usd(b: float) -> float:
        return b / 1e12 * 5

    req.note(
        f"raw JSON/GZIP {raw_q.bytes_scanned:,} B = USD {usd(raw_q.bytes_scanned):.8f}; Parquet "
        f"{pq_q.bytes_scanned:,} B = USD {usd(pq_q.bytes_scanned):.8f} at USD 5/TB: {ratio:.0f}x "
        f"less (both billed at Athena's 10 MB minimum at this size; at 2 TB of raw clicks: USD "
        f"{usd(2e12):.2f} vs USD {usd(2e12 / ratio):.2f})"
    )


# --------------------------------------------------------------------------- requirement 8
def lf_permissions(lab: Any) -> list[dict[str, Any]]:
    """Every Lake Formation grant of the account (ListPermissions, all pages; free)."""
    lf = lab.client("lakeformation")
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = lf.list_permissions(**kwargs)
        found += page["PrincipalResourcePermissions"]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def _on_table(p: dict[str, Any]) -> tuple[str | None, str | None]:
    r = p["Resource"].get("Table") or p["Resource"].get("TableWithColumns") or {}
    return r.get("DatabaseName"), r.get("Name")


def visible_columns(grants: Iterable[dict[str, Any]], columns: Iterable[str]) -> set[str]:
    """The columns a set of SELECT grants lets the principal read (Lake Formation's rules).

    A ``Table`` grant or a ``TableWildcard`` shows every column; ``TableWithColumns`` shows
    its ``ColumnNames``, or with ``ColumnWildcard`` every column but ``ExcludedColumnNames``.
    """
    cols = {c.lower() for c in columns}
    seen: set[str] = set()
    for p in grants:
        if not {"SELECT", "ALL"} & set(p.get("Permissions", [])):
            continue
        res = p["Resource"]
        if "Table" in res:
            seen |= cols
        twc = res.get("TableWithColumns")
        if twc:
            if "ColumnWildcard" in twc:
                excluded = {
                    c.lower() for c in (twc["ColumnWildcard"] or {}).get("ExcludedColumnNames", [])
                }
                seen |= cols - excluded
            seen |= {c.lower() for c in twc.get("ColumnNames", [])}
    return seen


def check_lakeformation(
    req: Requirement,
    lab: Any,
    database: str,
    table: str,
    role_name: str,
    workgroup: str,
    analyst_email_id: str,
    lake_prefixes: Sequence[str],
) -> None:
    """Requirement 8: Lake Formation hides ``email`` from the analyst, and IAM cannot go around it.

    The grant may exclude ``email`` or list every other column. The role's own policies are
    evaluated (``iam:SimulatePrincipalPolicy``) against reading the lake's objects directly,
    which must be denied. The check then asks as the analyst (STS, one ``LIMIT 3`` Athena
    query: on AWS, a fraction of a cent).
    """
    import boto3

    iam = lab.client("iam")
    role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    on_table = [p for p in lf_permissions(lab) if _on_table(p) == (database, table)]
    open_to_iam = [
        p
        for p in on_table
        if p["Principal"]["DataLakePrincipalIdentifier"] == "IAM_ALLOWED_PRINCIPALS"
    ]
    req.expect(
        not open_to_iam,
        f"IAM_ALLOWED_PRINCIPALS still has a grant on {table}: revoke it, or IAM alone decides",
    )
    grants = [p for p in on_table if p["Principal"]["DataLakePrincipalIdentifier"] == role_arn]
    req.expect(grants, f"no Lake Formation grant on {database}.{table} for {role_arn}")
    req.expect(
        all(set(p["Permissions"]) == {"SELECT"} for p in grants),
        f"grant SELECT only (found {[p['Permissions'] for p in grants]})",
    )
    columns = glue_table(lab, database, table).columns
    seen = visible_columns(grants, list(columns))
    hidden = sorted({c.lower() for c in columns} - seen - {"email"})
    req.expect("email" not in seen, "the grants let the analyst read email: exclude it")
    req.expect(not hidden, f"the grants also hide {hidden}: analysts read every column but email")
    probes = [
        f"arn:aws:s3:::{lab.bucket}/{p.rstrip('/')}/part-00000.parquet" for p in lake_prefixes
    ]
    sim = iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["s3:GetObject"], ResourceArns=probes
    )["EvaluationResults"]
    around = [r["EvalResourceName"] for r in sim if r["EvalDecision"] == "allowed"]
    req.expect(
        not around,
        f"{role_name} may s3:GetObject {around[:2]} directly: it could read the files, emails "
        "included, around Lake Formation; give it no S3 access to the lake (only the Athena "
        "results prefix)",
    )
    c = lab.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="check")["Credentials"]
    mine = boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=lab.region,
    ).client("athena")
    qid = mine.start_query_execution(
        QueryString=f"SELECT * FROM {table} LIMIT 3",
        WorkGroup=workgroup,
        QueryExecutionContext={"Database": database},
    )["QueryExecutionId"]
    star = athena_query(lab, qid)
    req.expect(star.state == "SUCCEEDED", f"the analyst's SELECT * failed: {star.reason}")
    req.expect(
        "email" not in star.columns and "country" in star.columns,
        f"the analyst sees {star.columns}",
    )
    yours = athena_query(lab, analyst_email_id)
    req.expect(
        "email" in yours.query.lower() and yours.state == "FAILED",
        f"analyst_email_id should be the analyst's failed email query; it is {yours.state}: "
        f"{yours.query[:60]}",
    )
    req.note(
        f"analyst sees {len(star.columns)} columns without email, cannot read the lake's objects; "
        f"asking for email: {yours.reason[:90]}"
    )


# --------------------------------------------------------------------------- requirement 9
def _aware(t: Any) -> dt.datetime:
    if isinstance(t, dt.datetime):
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(t)).astimezone(dt.UTC)


#: Seconds of clock difference allowed between S3's LastModified and Glue's run times.
CLOCK_SLACK = 5.0


def written_by_run(lab: Any, key: str, run: dict[str, Any]) -> tuple[bool, str]:
    """Whether an object was last written while a job run ran (S3 LastModified in the run's window).

    Returns:
        ``(inside, description)``; ``description`` states both times.
    """
    head = lab.client("s3").head_object(Bucket=lab.bucket, Key=key)
    written = _aware(head["LastModified"])
    start = _aware(run["StartedOn"])
    end = _aware(run.get("CompletedOn") or run.get("LastModifiedOn") or run["StartedOn"])
    inside = (
        start - dt.timedelta(seconds=CLOCK_SLACK)
        <= written
        <= end + dt.timedelta(seconds=CLOCK_SLACK)
    )
    return inside, (
        f"s3://{lab.bucket}/{key} was last written at {written:%H:%M:%S}; run {run['Id'][:12]}... "
        f"ran {start:%H:%M:%S}-{end:%H:%M:%S}"
    )


def daily_sessions(events: Any) -> Any:
    """Requirement 9's file, from the generated events (pandas)."""
    return (
        events.assign(event_date=events.ts.str[:10])
        .groupby("event_date")
        .agg(
            sessions=("session_id", "nunique"),
            events=("event_id", "count"),
            revenue=("purchase_amount", "sum"),
        )
        .reset_index()
    )


def check_glue_job(req: Requirement, lab: Any, job_name: str, output_key: str, events: Any) -> None:
    """Requirement 9: a bounded Python shell job whose latest run wrote the right file.

    The file must have been written during that run (its LastModified inside the run's
    start and end): a file the notebook wrote itself, next to a job that does nothing, misses.
    """
    import pandas as pd

    glue = lab.client("glue")
    try:
        job = glue.get_job(JobName=job_name)["Job"]
    except ClientError as err:
        req.expect(False, f"no Glue job {job_name!r}: {err.response['Error']['Message']}")
        return
    req.expect(
        job["Command"]["Name"] == "pythonshell",
        f"the job is a {job['Command']['Name']} job; use a Python shell job",
    )
    req.expect(
        job.get("MaxCapacity") == 0.0625,
        f"MaxCapacity is {job.get('MaxCapacity')}; 0.0625 DPU is enough for megabytes",
    )
    req.expect(
        job.get("Timeout", 2880) <= 60,
        f"Timeout is {job.get('Timeout', 2880)} minutes; bound it to 60 or less",
    )
    runs = glue.get_job_runs(JobName=job_name)["JobRuns"]
    req.expect(
        runs and runs[0]["JobRunState"] == "SUCCEEDED",
        f"the latest run is {runs[0]['JobRunState'] if runs else 'missing'}: "
        f"{runs[0].get('ErrorMessage', '') if runs else ''}",
    )
    run = runs[0]
    s3_objects(lab, output_key, at_least=1)
    inside, when = written_by_run(lab, output_key, run)
    req.expect(
        inside,
        f"{when}: the file was not written by the job's run. The job must compute and write it "
        "(the notebook must not); start a new run once the script writes it",
    )
    body = lab.client("s3").get_object(Bucket=lab.bucket, Key=output_key)["Body"].read()
    got = pd.read_csv(io.BytesIO(body))
    truth = daily_sessions(events)
    req.expect(
        list(got.columns) == ["event_date", "sessions", "events", "revenue"],
        f"the file's header is {list(got.columns)}",
    )
    req.expect(
        len(got) == len(truth),
        f"the file has {len(got)} rows; expected {len(truth)} (one per event date)",
    )
    same = (
        got[["event_date", "sessions", "events"]].astype(str).values
        == truth[["event_date", "sessions", "events"]].astype(str).values
    ).all()
    req.expect(
        same and ((got.revenue - truth.revenue).abs() < 0.011).all(),
        f"the file says\n{got}\nbut the events say\n{truth}",
    )
    req.note(
        f"run {run['Id'][:12]}... SUCCEEDED in {run.get('ExecutionTime', 0)} s and wrote "
        f"{got.to_dict('records')}"
    )


# --------------------------------------------------------------------------- drill
def check_drill(
    req: Requirement,
    lab: Any,
    job_name: str,
    broken_run_id: str,
    fixed_run_id: str,
    raw_prefix: str,
    output_key: str,
    n_events: int,
) -> None:
    """The Glue drill: the failing job repaired with UpdateJob, then a run that succeeds.

    The job definition itself must read the right prefix (a nightly schedule starts it
    without any override), it must still be the job whose run failed (repaired, not deleted
    and created again), and the new run must have started after the repair and written the file.
    """
    import pandas as pd

    from mllab.checks.drills import logs_tail

    glue = lab.client("glue")
    try:
        broken = glue.get_job_run(JobName=job_name, RunId=broken_run_id)["JobRun"]
    except ClientError as err:
        req.expect(
            False,
            f"the failed run {broken_run_id[:12]}... is gone ({err.response['Error']['Code']}): "
            "was the job deleted and created again? Repair it in place with glue.update_job",
        )
        return
    req.expect(
        broken["JobRunState"] == "FAILED",
        f"the provided run is {broken['JobRunState']}; rerun the cell that starts it",
    )
    err_log = logs_tail(lab, "/aws-glue/python-jobs/error", broken_run_id)
    req.expect(
        err_log.contains("no input objects"),
        "the error log of the broken run does not say why; read it with checks.logs_tail",
    )
    job = glue.get_job(JobName=job_name)["Job"]
    prefix = (job.get("DefaultArguments") or {}).get("--raw_prefix")
    req.expect(
        prefix == raw_prefix,
        f"the job still reads --raw_prefix {prefix!r}; Firehose writes {raw_prefix}. Repair the "
        "job definition with glue.update_job: the nightly schedule starts it without your "
        "override",
    )
    req.expect(
        _aware(job["LastModifiedOn"]) >= _aware(broken["StartedOn"]),
        "the job definition was not changed after the failed run: repair it with glue.update_job",
    )
    fixed = glue.get_job_run(JobName=job_name, RunId=fixed_run_id)["JobRun"]
    req.expect(
        fixed["JobRunState"] == "SUCCEEDED",
        f"{fixed_run_id[:12]}... is {fixed['JobRunState']}: {fixed.get('ErrorMessage', '')}",
    )
    req.expect(
        _aware(fixed["StartedOn"]) >= _aware(job["LastModifiedOn"]) - dt.timedelta(seconds=1),
        "fixed_run_id started before the job was repaired: start a new run after update_job",
    )
    inside, when = written_by_run(lab, output_key, fixed)
    req.expect(inside, f"{when}: the repaired run did not write the file")
    body = lab.client("s3").get_object(Bucket=lab.bucket, Key=output_key)["Body"].read()
    out = pd.read_csv(io.BytesIO(body))
    req.expect(
        int(out.views.sum()) == n_events,
        f"page_views.csv counts {out.views.sum()} views; the lake holds {n_events} events",
    )
    req.note(
        f"was: {broken.get('ErrorMessage', '')[:120]}; the job now reads {prefix}, run "
        f"SUCCEEDED, {len(out)} rows"
    )
