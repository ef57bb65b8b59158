"""Lab 01's checks (``mllab.checks.lab01``) on prepared states: wrong and faked ones MISS,
valid alternatives PASS.

Every state is built directly with boto3 against an offline lab (not by rerunning the
notebook): the builders below do what a learner's cell would, with the one change each test
is about. The cases named in issues 14 and 18 are here: bytes-only sizing, hand-typed hot-key
answers, a ``VALUES`` literal answer, a Glue job that does nothing while the notebook writes
its output, lifecycle rules split per transition, a column-list grant, an analyst role that
reads the lake's objects around Lake Formation, and a drill fixed without ``UpdateJob``.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import uuid
from typing import Any

import pytest

from mllab.checks import CheckFailed
from mllab.checks import lab01 as c
from tests.checks.verdicts import verdict

STREAM = "clicks"
CONSUMERS = ["fraud-scorer", "feature-builder"]
DELIVERY = "clicks-to-lake"
DB = "clicklake"
WORKGROUP = "clicks-analytics"
ROOT = "lab01"
RAW = f"{ROOT}/raw/clicks/"
TRAFFIC = {"clicks": (2_400, 1_000), "heartbeats": (2_000, 50)}
HOT_KEY = "web-frontend"
SESSIONS_KEY = f"{ROOT}/curated/daily_sessions/daily_sessions.csv"
PAGE_VIEWS_KEY = f"{ROOT}/curated/page_views/page_views.csv"


@pytest.fixture(scope="module")
def events() -> Any:
    import pandas as pd

    from mllab.datasets import clickstream

    return pd.concat(
        [
            clickstream(150, seed=1, start="2025-03-01T08:00:00Z"),
            clickstream(150, seed=2, start="2025-03-02T08:00:00Z"),
        ],
        ignore_index=True,
    )


def lines_of(events: Any) -> list[str]:
    from mllab.datasets import to_jsonlines

    return list(to_jsonlines(events).decode().splitlines())


# --------------------------------------------------------------------------- builders
def make_stream(
    lab: Any, shards: int = 5, retention: int = 168, consumers: list[str] | None = None
) -> str:
    k = lab.client("kinesis")
    k.create_stream(
        StreamName=STREAM, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"}
    )
    if retention != 24:
        k.increase_stream_retention_period(StreamName=STREAM, RetentionPeriodHours=retention)
    arn = str(k.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"])
    for name in CONSUMERS if consumers is None else consumers:
        k.register_stream_consumer(StreamARN=arn, ConsumerName=name)
        for _ in range(50):
            st = k.describe_stream_consumer(StreamARN=arn, ConsumerName=name)
            if st["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
    return arn


def put_events(lab: Any, records: list[dict[str, Any]]) -> None:
    k = lab.client("kinesis")
    pending = list(records)
    while pending:
        batch, pending = pending[:500], pending[500:]
        out = k.put_records(StreamName=STREAM, Records=batch)
        failed = [r for r, o in zip(batch, out["Records"], strict=True) if "ErrorCode" in o]
        if failed:
            time.sleep(0.3)
            pending = failed + pending


def click_records(events: Any, key: str = "event_id") -> list[dict[str, Any]]:
    return [
        {"Data": (line + "\n").encode(), "PartitionKey": str(k)}
        for line, k in zip(lines_of(events), events[key], strict=True)
    ]


def hammer(lab: Any) -> list[dict[str, Any]]:
    k = lab.client("kinesis")
    beats = [
        {"Data": json.dumps({"beat": i}).encode() + b"\n", "PartitionKey": HOT_KEY}
        for i in range(500)
    ]
    out = []
    for _ in range(20):
        out.append(k.put_records(StreamName=STREAM, Records=beats))
        if out[-1]["FailedRecordCount"]:
            break
    return out


def hot_answers(lab: Any, responses: list[dict[str, Any]]) -> tuple[int, set[str], str]:
    failed = sum(r["FailedRecordCount"] for r in responses)
    codes = {e["ErrorCode"] for r in responses for e in r["Records"] if "ErrorCode" in e}
    shards = lab.client("kinesis").list_shards(StreamName=STREAM)["Shards"]
    return failed, codes, c.md5_shard(HOT_KEY, shards)


# --------------------------------------------------------------------------- requirement 1
def test_shards_for_takes_the_larger_constraint() -> None:
    assert c.shards_for(4_400, 2_500_000) == 5  # records decide
    assert c.shards_for(1_000, 3_500_000) == 4  # bytes decide
    assert c.shards_for(1, 1) == 1


def test_stream_passes_and_alternative_sizing_passes(lab: Any) -> None:
    make_stream(lab)
    assert verdict(c.check_stream, lab, STREAM, TRAFFIC, CONSUMERS, c.shards_for) == "PASS"

    def integer_ceil(records: float, nbytes: float) -> int:  # written differently, same answer
        return int(max(-(-records // 1000), -(-nbytes // 1_000_000)))

    assert verdict(c.check_stream, lab, STREAM, TRAFFIC, CONSUMERS, integer_ceil) == "PASS"


def test_stream_sized_from_bytes_alone_misses(lab: Any) -> None:
    make_stream(lab, shards=3)  # 2.5 MB/s -> 3, but 4,400 records/s need 5
    msg = verdict(c.check_stream, lab, STREAM, TRAFFIC, CONSUMERS)
    assert "5 by records" in msg

    def bytes_only(records: float, nbytes: float) -> int:
        return -(-int(nbytes) // 1_000_000)

    msg = verdict(c.check_stream, lab, STREAM, TRAFFIC, CONSUMERS, bytes_only)
    assert msg.startswith("shards_for(4,400")


def test_stream_records_alone_sizing_function_misses(lab: Any) -> None:
    make_stream(lab)

    def records_only(records: float, nbytes: float) -> int:
        return -(-int(records) // 1000)

    assert verdict(c.check_stream, lab, STREAM, TRAFFIC, CONSUMERS, records_only).startswith(
        "shards_for(1,000"
    )


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"shards": 4}, "4 shard(s) take"),  # 4.4 floored
        ({"shards": 7}, "every shard-hour is billed"),
        ({"retention": 24}, "retention is 24 h"),
        ({"consumers": ["fraud-scorer"]}, "'feature-builder' is not registered"),
    ],
)
def test_stream_wrong_states_miss(lab: Any, kw: dict[str, Any], needle: str) -> None:
    make_stream(lab, **kw)
    assert needle in verdict(c.check_stream, lab, STREAM, TRAFFIC, CONSUMERS)


def test_on_demand_stream_misses(lab: Any) -> None:
    lab.client("kinesis").create_stream(
        StreamName=STREAM, StreamModeDetails={"StreamMode": "ON_DEMAND"}
    )
    assert "ON_DEMAND" in verdict(c.check_stream, lab, STREAM, TRAFFIC, [])


# --------------------------------------------------------------------------- requirement 2
def producer_verdict(lab: Any, events: Any, responses: Any, answers: Any) -> str:
    return verdict(
        c.check_producer, lab, STREAM, events.event_id, events.user_id, HOT_KEY, responses, *answers
    )


def test_producer_passes(lab: Any, events: Any) -> None:
    make_stream(lab)
    put_events(lab, click_records(events))
    responses = hammer(lab)
    assert producer_verdict(lab, events, responses, hot_answers(lab, responses)) == "PASS"


def test_producer_alternative_random_keys_and_answers_written_differently(
    lab: Any, events: Any
) -> None:
    from mllab.offline.kinesis import shard_for_partition_key

    make_stream(lab)
    records = [
        {"Data": (line + "\n").encode(), "PartitionKey": uuid.uuid4().hex}
        for line in lines_of(events)
    ]
    put_events(lab, records)
    responses = hammer(lab)
    failed = 0
    for r in responses:
        failed += len([e for e in r["Records"] if e.get("ErrorCode")])
    codes = sorted({e["ErrorCode"] for r in responses for e in r["Records"] if e.get("ErrorCode")})
    shard = shard_for_partition_key(lab.client("kinesis").list_shards(StreamName=STREAM), HOT_KEY)[
        "ShardId"
    ]
    assert producer_verdict(lab, events, responses, (failed, codes, shard)) == "PASS"


def test_producer_hand_typed_hot_answers_miss(lab: Any, events: Any) -> None:
    make_stream(lab)
    put_events(lab, click_records(events))
    responses = hammer(lab)
    _, _, shard = hot_answers(lab, responses)
    typed = (1, {"ProvisionedThroughputExceededException"}, shard)
    assert "hot_failed is 1" in producer_verdict(lab, events, responses, typed)


def test_producer_fabricated_responses_miss(lab: Any, events: Any) -> None:
    make_stream(lab)
    put_events(lab, click_records(events))
    _, _, shard = hot_answers(lab, [])
    fake = [
        {
            "FailedRecordCount": 3,
            "Records": [{"ErrorCode": "ProvisionedThroughputExceededException"}] * 3
            + [
                {
                    "SequenceNumber": "49600000000000000000000000000000000000000000000000000001",
                    "ShardId": shard,
                }
            ],
        }
    ]
    answers = (3, {"ProvisionedThroughputExceededException"}, shard)
    assert "not returned by this stream" in producer_verdict(lab, events, fake, answers)


def test_producer_skewed_key_misses(lab: Any, events: Any) -> None:
    make_stream(lab)
    put_events(lab, click_records(events, key="user_id"))
    responses = hammer(lab)
    msg = producer_verdict(lab, events, responses, hot_answers(lab, responses))
    assert "choose a partition key that spreads them" in msg


def test_producer_lost_records_miss(lab: Any, events: Any) -> None:
    make_stream(lab)
    put_events(lab, click_records(events)[:200])  # a producer that drops what failed
    responses = hammer(lab)
    msg = producer_verdict(lab, events, responses, hot_answers(lab, responses))
    assert "100 of the 300 clicks are not on the stream" in msg


def test_producer_wrong_hot_shard_misses(lab: Any, events: Any) -> None:
    make_stream(lab)
    put_events(lab, click_records(events))
    responses = hammer(lab)
    failed, codes, shard = hot_answers(lab, responses)
    other = "shardId-000000000004" if shard != "shardId-000000000004" else "shardId-000000000001"
    assert "hash key range" in producer_verdict(lab, events, responses, (failed, codes, other))


# --------------------------------------------------------------------------- requirement 3
def encrypt(lab: Any, algo: str = "aws:kms", bucket_key: bool = True) -> None:
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algo}}
    rule["BucketKeyEnabled"] = bucket_key
    lab.client("s3").put_bucket_encryption(
        Bucket=lab.bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
    )


def lifecycle(lab: Any, rules: list[dict[str, Any]]) -> None:
    lab.client("s3").put_bucket_lifecycle_configuration(
        Bucket=lab.bucket, LifecycleConfiguration={"Rules": rules}
    )


ONE_RULE = {
    "ID": "lab01-raw-clicks",
    "Status": "Enabled",
    "Filter": {"Prefix": f"{ROOT}/raw/"},
    "Transitions": [
        {"Days": 30, "StorageClass": "STANDARD_IA"},
        {"Days": 90, "StorageClass": "GLACIER_IR"},
    ],
    "Expiration": {"Days": 365},
}
OTHER_LAB = {
    "ID": "lab02-tmp",
    "Status": "Enabled",
    "Filter": {"Prefix": "lab02/tmp/"},
    "Expiration": {"Days": 7},
}


def test_s3_security_passes(lab: Any) -> None:
    encrypt(lab)
    lifecycle(lab, [OTHER_LAB, ONE_RULE])
    assert verdict(c.check_s3_security, lab, RAW, ROOT) == "PASS"


def test_s3_security_separate_rules_per_step_pass(lab: Any) -> None:
    encrypt(lab)
    prefix = {"Prefix": f"{ROOT}/raw/"}
    lifecycle(
        lab,
        [
            OTHER_LAB,
            {
                "ID": "ia",
                "Status": "Enabled",
                "Filter": prefix,
                "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
            },
            {
                "ID": "glacier-ir",
                "Status": "Enabled",
                "Filter": prefix,
                "Transitions": [{"Days": 90, "StorageClass": "GLACIER_IR"}],
            },
            {"ID": "expire", "Status": "Enabled", "Filter": prefix, "Expiration": {"Days": 365}},
        ],
    )
    assert verdict(c.check_s3_security, lab, RAW, ROOT) == "PASS"


@pytest.mark.parametrize(
    ("enc", "rules", "needle"),
    [
        ({"algo": "AES256"}, [ONE_RULE], "default encryption is AES256"),
        ({"bucket_key": False}, [ONE_RULE], "BucketKeyEnabled is not true"),
        ({}, [{**ONE_RULE, "Filter": {"Prefix": ""}}], "cover more than lab01/"),
        ({}, [{**ONE_RULE, "Filter": {"Prefix": f"{ROOT}/curated/"}}], "no enabled lifecycle rule"),
        (
            {},
            [{**ONE_RULE, "Transitions": [{"Days": 60, "StorageClass": "STANDARD_IA"}]}],
            "move to STANDARD_IA after 30 days",
        ),
        ({}, [{k: v for k, v in ONE_RULE.items() if k != "Expiration"}], "expire after 365"),
        ({}, [{**ONE_RULE, "Status": "Disabled"}], "no enabled lifecycle rule"),
    ],
)
def test_s3_security_wrong_states_miss(
    lab: Any, enc: dict[str, Any], rules: list[dict[str, Any]], needle: str
) -> None:
    encrypt(lab, **enc)
    lifecycle(lab, rules)
    assert needle in verdict(c.check_s3_security, lab, RAW, ROOT)


def test_s3_security_conflicting_split_rules_miss(lab: Any) -> None:
    encrypt(lab)
    prefix = {"Prefix": f"{ROOT}/raw/"}
    lifecycle(
        lab,
        [
            ONE_RULE,
            {
                "ID": "ia-again",
                "Status": "Enabled",
                "Filter": prefix,
                "Transitions": [{"Days": 45, "StorageClass": "STANDARD_IA"}],
            },
        ],
    )
    assert "STANDARD_IA after 30 days" in verdict(c.check_s3_security, lab, RAW, ROOT)


# --------------------------------------------------------------------------- requirement 4
def firehose_role(lab: Any, stream_arn: str) -> str:
    iam = lab.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "firehose.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName="lab01-firehose", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kinesis:*", "Resource": stream_arn},
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{lab.bucket}", f"arn:aws:s3:::{lab.bucket}/*"],
            },
        ],
    }
    iam.put_role_policy(
        RoleName="lab01-firehose", PolicyName="p", PolicyDocument=json.dumps(policy)
    )
    return str(arn)


def make_delivery(lab: Any, stream_arn: str, **dest: Any) -> None:
    role = firehose_role(lab, stream_arn)
    config = {
        "RoleARN": role,
        "BucketARN": f"arn:aws:s3:::{lab.bucket}",
        "Prefix": RAW + "dt=!{timestamp:yyyy-MM-dd}/",
        "ErrorOutputPrefix": f"{ROOT}/raw/errors/!{{firehose:error-output-type}}/",
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 240},
        "CompressionFormat": "GZIP",
    }
    config.update(dest)
    fh = lab.client("firehose")
    fh.create_delivery_stream(
        DeliveryStreamName=DELIVERY,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
        ExtendedS3DestinationConfiguration=config,
    )
    for _ in range(100):
        st = fh.describe_delivery_stream(DeliveryStreamName=DELIVERY)
        if st["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)


def land(lab: Any, events: Any, seconds: int = 900) -> None:
    from mllab.offline import clock

    put_events(lab, click_records(events))
    clock.advance(seconds)


def firehose_verdict(lab: Any, events: Any) -> str:
    raw_bytes = sum(len(line) + 1 for line in lines_of(events))
    return verdict(c.check_firehose, lab, DELIVERY, STREAM, RAW, events.event_id, raw_bytes)


def test_firehose_passes(lab: Any, events: Any) -> None:
    make_delivery(lab, make_stream(lab))
    land(lab, events)
    assert firehose_verdict(lab, events) == "PASS"


def test_firehose_alternative_buffering_and_error_prefix_pass(lab: Any, events: Any) -> None:
    make_delivery(
        lab,
        make_stream(lab),
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
        ErrorOutputPrefix=f"{ROOT}/firehose-errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy}}/",
    )
    land(lab, events)
    assert firehose_verdict(lab, events) == "PASS"


def test_firehose_without_resend_names_the_likely_cause(lab: Any, events: Any) -> None:
    arn = make_stream(lab)
    put_events(lab, click_records(events))  # sent before the delivery stream existed
    make_delivery(lab, arn)
    from mllab.offline import clock

    clock.advance(900)
    msg = firehose_verdict(lab, events)
    assert "Did you resend them after creating the delivery stream" in msg
    assert "found 0 object" not in msg


@pytest.mark.parametrize(
    ("dest", "needle"),
    [
        ({"CompressionFormat": "UNCOMPRESSED"}, "CompressionFormat is UNCOMPRESSED"),
        (
            {"BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900}},
            "IntervalInSeconds is 900",
        ),
        ({"ErrorOutputPrefix": RAW + "errors/!{firehose:error-output-type}/"}, "ErrorOutputPrefix"),
        ({"Prefix": RAW, "ErrorOutputPrefix": f"{ROOT}/errors/"}, "has no date partition"),
    ],
)
def test_firehose_wrong_configurations_miss(
    lab: Any, events: Any, dest: dict[str, Any], needle: str
) -> None:
    make_delivery(lab, make_stream(lab), **dest)
    assert needle in firehose_verdict(lab, events)


# --------------------------------------------------------------------------- requirements 5-7
def put_raw(lab: Any, events: Any, folders: dict[str, Any] | None = None) -> None:
    """Land the clicks as Firehose would: GZIP JSON lines under dt= folders."""
    s3 = lab.client("s3")
    for folder, part in (folders or {"dt=2026-12-02/": events}).items():
        body = gzip.compress(("\n".join(lines_of(part)) + "\n").encode())
        s3.put_object(
            Bucket=lab.bucket, Key=f"{RAW}{folder}clicks-{uuid.uuid4().hex[:6]}.gz", Body=body
        )


def crawl(lab: Any, path: str = RAW) -> None:
    iam, glue = lab.client("iam"), lab.client("glue")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "glue.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role = iam.create_role(RoleName="lab01-glue", AssumeRolePolicyDocument=json.dumps(trust))
        arn = role["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName="lab01-glue")["Role"]["Arn"]
    try:
        glue.create_database(DatabaseInput={"Name": DB})
    except glue.exceptions.AlreadyExistsException:
        pass
    glue.create_crawler(
        Name="clicks-raw",
        Role=arn,
        DatabaseName=DB,
        Targets={"S3Targets": [{"Path": f"s3://{lab.bucket}/{path}"}]},
    )
    glue.start_crawler(Name="clicks-raw")
    for _ in range(600):  # until the crawl has run and reported (LastCrawl)
        crawler = glue.get_crawler(Name="clicks-raw")["Crawler"]
        if crawler["State"] == "READY" and crawler.get("LastCrawl"):
            return
        time.sleep(0.1)
    raise AssertionError(f"the crawler did not finish: {crawler}")


def test_crawler_passes_with_one_or_two_partitions(lab: Any, events: Any) -> None:
    day1, day2 = events.iloc[:150], events.iloc[150:]
    put_raw(lab, events, {"dt=2026-12-01/": day1, "dt=2026-12-02/": day2})
    crawl(lab)
    assert verdict(c.check_crawler, lab, DB, RAW) == "PASS"


def test_crawler_without_date_folders_misses(lab: Any, events: Any) -> None:
    put_raw(lab, events, {"": events})
    crawl(lab)
    assert "partition keys are" in verdict(c.check_crawler, lab, DB, RAW)


def test_crawler_not_run_misses(lab: Any, events: Any) -> None:
    put_raw(lab, events)
    lab.client("glue").create_database(DatabaseInput={"Name": DB})
    assert "clicks" in verdict(c.check_crawler, lab, DB, RAW)


def test_crawler_over_the_wrong_folder_misses(lab: Any, events: Any) -> None:
    s3 = lab.client("s3")
    body = gzip.compress(("\n".join(lines_of(events)) + "\n").encode())
    s3.put_object(Bucket=lab.bucket, Key=f"{ROOT}/raw/other/clicks/dt=2026-12-02/a.gz", Body=body)
    crawl(lab, f"{ROOT}/raw/other/clicks/")
    assert "the table reads" in verdict(c.check_crawler, lab, DB, RAW)


def workgroup(lab: Any, cutoff: int | None = 2_000_000_000, enforce: bool = True) -> None:
    conf: dict[str, Any] = {
        "ResultConfiguration": {"OutputLocation": f"s3://{lab.bucket}/{ROOT}/athena-results/"},
        "EnforceWorkGroupConfiguration": enforce,
    }
    if cutoff is not None:
        conf["BytesScannedCutoffPerQuery"] = cutoff
    lab.client("athena").create_work_group(Name=WORKGROUP, Configuration=conf)


def run_query(lab: Any, sql: str, client: Any = None) -> str:
    athena = client or lab.client("athena")
    qid = athena.start_query_execution(
        QueryString=sql, WorkGroup=WORKGROUP, QueryExecutionContext={"Database": DB}
    )["QueryExecutionId"]
    for _ in range(600):
        state = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"][
            "State"
        ]
        if state not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.05)
    return str(qid)


RAW_SQL = """
SELECT country, count(*) AS purchases, round(sum(purchase_amount), 2) AS revenue
FROM clicks WHERE substr(ts, 1, 10) = '2025-03-02' AND purchase_amount > 0
GROUP BY country ORDER BY revenue DESC
"""


@pytest.fixture
def lake(lab: Any, events: Any) -> Any:
    """Raw clicks landed, crawled into clicklake.clicks, and the analysts' workgroup."""
    put_raw(lab, events)
    crawl(lab)
    workgroup(lab)
    return lab


def test_athena_passes(lake: Any, events: Any) -> None:
    qid = run_query(lake, RAW_SQL)
    assert verdict(c.check_athena, lake, WORKGROUP, qid, events, RAW) == "PASS"


def test_athena_alternative_query_passes(lake: Any, events: Any) -> None:
    qid = run_query(
        lake,
        """
        WITH day AS (SELECT country, purchase_amount FROM clicklake.clicks
                     WHERE ts LIKE '2025-03-02%' AND purchase_amount > 0)
        SELECT country, count(purchase_amount) AS purchases,
               round(sum(purchase_amount), 2) AS revenue
        FROM day GROUP BY 1 ORDER BY 3 DESC
        """,
    )
    assert verdict(c.check_athena, lake, WORKGROUP, qid, events, RAW) == "PASS"


def test_athena_values_literal_computed_in_pandas_misses(lake: Any, events: Any) -> None:
    truth = c.purchases_by_country(events, "2025-03-02")
    rows = sorted(truth.items(), key=lambda kv: -kv[1][1])
    values = ", ".join(f"('{k}', {n}, {round(v, 2)})" for k, (n, v) in rows)
    qid = run_query(
        lake,
        f"SELECT country, purchases, revenue FROM (VALUES {values}) AS t(country, purchases, revenue) "
        "ORDER BY revenue DESC",
    )
    assert "VALUES literal" in verdict(c.check_athena, lake, WORKGROUP, qid, events, RAW)


def test_athena_literal_beside_a_table_read_misses(lake: Any, events: Any) -> None:
    truth = c.purchases_by_country(events, "2025-03-02")
    rows = sorted(truth.items(), key=lambda kv: -kv[1][1])
    values = ", ".join(f"('{k}', {n}, {round(v, 2)})" for k, (n, v) in rows)
    qid = run_query(
        lake,
        f"SELECT t.country, t.purchases, t.revenue FROM (VALUES {values}) AS t(country, purchases, revenue) "
        "CROSS JOIN (SELECT count(*) AS n FROM clicks) ORDER BY revenue DESC",
    )
    assert "VALUES literal" in verdict(c.check_athena, lake, WORKGROUP, qid, events, RAW)


def test_athena_filter_on_the_arrival_partition_names_it(lake: Any, events: Any) -> None:
    qid = run_query(lake, RAW_SQL.replace("substr(ts, 1, 10)", "dt"))
    msg = verdict(c.check_athena, lake, WORKGROUP, qid, events, RAW)
    assert "filters on dt" in msg and "received" in msg


def test_athena_counting_every_event_misses(lake: Any, events: Any) -> None:
    qid = run_query(lake, RAW_SQL.replace(" AND purchase_amount > 0", ""))
    msg = verdict(c.check_athena, lake, WORKGROUP, qid, events, RAW)
    assert "differ from" in msg or "wrong counts or revenue" in msg


@pytest.mark.parametrize(
    ("kw", "needle"),
    [({"cutoff": None}, "BytesScannedCutoffPerQuery is None"), ({"enforce": False}, "enforce")],
)
def test_athena_workgroup_without_cap_or_enforcement_misses(
    lab: Any, events: Any, kw: dict[str, Any], needle: str
) -> None:
    put_raw(lab, events)
    crawl(lab)
    workgroup(lab, **kw)
    qid = run_query(lab, RAW_SQL)
    assert needle in verdict(c.check_athena, lab, WORKGROUP, qid, events, RAW)


CTAS = """
CREATE TABLE clicks_parquet
WITH (format = 'PARQUET', write_compression = '{codec}',
      external_location = 's3://{bucket}/lab01/curated/clicks_parquet/',
      partitioned_by = ARRAY['event_date'])
AS SELECT event_id, user_id, session_id, ts, page, referrer, device, country, email,
          dwell_ms, purchase_amount, substr(ts, 1, 10) AS event_date
FROM clicks
"""
PQ_SQL = """
SELECT country, count(*) AS purchases, round(sum(purchase_amount), 2) AS revenue
FROM clicks_parquet WHERE event_date = '2025-03-02' AND purchase_amount > 0
GROUP BY country ORDER BY revenue DESC
"""


def test_ctas_passes_and_misses(lake: Any, events: Any) -> None:
    raw_id = run_query(lake, RAW_SQL)
    run_query(lake, CTAS.format(codec="SNAPPY", bucket=lake.bucket))
    pq_id = run_query(lake, PQ_SQL)
    assert verdict(c.check_ctas, lake, DB, ROOT, raw_id, pq_id, events) == "PASS"
    # alternative: the same question with a range predicate on the partition column
    alt = run_query(
        lake,
        PQ_SQL.replace(
            "event_date = '2025-03-02'", "event_date BETWEEN '2025-03-02' AND '2025-03-02'"
        ),
    )
    assert verdict(c.check_ctas, lake, DB, ROOT, raw_id, alt, events) == "PASS"
    # wrong: the "Parquet" answer asked of the raw table
    assert "reads ['clicks']" in verdict(c.check_ctas, lake, DB, ROOT, raw_id, raw_id, events)
    # wrong: filtered on ts instead of the partition column
    on_ts = run_query(
        lake, PQ_SQL.replace("event_date = '2025-03-02'", "substr(ts, 1, 10) = '2025-03-02'")
    )
    assert "partition column event_date" in verdict(
        c.check_ctas, lake, DB, ROOT, raw_id, on_ts, events
    )


def test_ctas_with_gzip_or_without_partitions_misses(lake: Any, events: Any) -> None:
    raw_id = run_query(lake, RAW_SQL)
    run_query(lake, CTAS.format(codec="GZIP", bucket=lake.bucket))
    pq_id = run_query(lake, PQ_SQL)
    assert "use write_compression = 'SNAPPY'" in verdict(
        c.check_ctas, lake, DB, ROOT, raw_id, pq_id, events
    )
    run_query(lake, "DROP TABLE clicks_parquet")
    s3 = lake.client("s3")
    for o in s3.list_objects_v2(Bucket=lake.bucket, Prefix=f"{ROOT}/curated/").get("Contents", []):
        s3.delete_object(Bucket=lake.bucket, Key=o["Key"])
    run_query(
        lake,
        CTAS.format(codec="SNAPPY", bucket=lake.bucket).replace(
            ",\n      partitioned_by = ARRAY['event_date']", ""
        ),
    )
    assert "partition by event_date" in verdict(c.check_ctas, lake, DB, ROOT, raw_id, pq_id, events)


# --------------------------------------------------------------------------- requirement 8
ANALYST = "lab01-analyst"


def analyst(lab: Any, extra: list[dict[str, Any]] | None = None) -> str:
    iam = lab.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{lab.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=ANALYST, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    statements = [
        {"Effect": "Allow", "Action": "athena:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "lakeformation:GetDataAccess", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{lab.bucket}",
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{lab.bucket}/{ROOT}/athena-results/*",
        },
    ] + (extra or [])
    iam.put_role_policy(
        RoleName=ANALYST,
        PolicyName="athena",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return str(arn)


def lake_formation(
    lab: Any, role: str, resource: dict[str, Any], permissions: list[str], revoke: bool = True
) -> str:
    """Admin, register, revoke IAM_ALLOWED_PRINCIPALS, grant; returns the analyst's email query."""
    import boto3

    lf = lab.client("lakeformation")
    me = lab.client("sts").get_caller_identity()["Arn"]
    lf.put_data_lake_settings(
        DataLakeSettings={"DataLakeAdmins": [{"DataLakePrincipalIdentifier": me}]}
    )
    lf.register_resource(
        ResourceArn=f"arn:aws:s3:::{lab.bucket}/{ROOT}/curated/clicks_parquet",
        UseServiceLinkedRole=True,
    )
    table = {"DatabaseName": DB, "Name": "clicks_parquet"}
    if revoke:
        for p in c.lf_permissions(lab):
            if p["Principal"]["DataLakePrincipalIdentifier"] == "IAM_ALLOWED_PRINCIPALS" and (
                p["Resource"].get("Table", {}).get("Name") == "clicks_parquet"
            ):
                lf.revoke_permissions(
                    Principal=p["Principal"],
                    Resource={"Table": table},
                    Permissions=p["Permissions"],
                )
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": role}, Resource=resource, Permissions=permissions
    )
    creds = lab.client("sts").assume_role(RoleArn=role, RoleSessionName="analyst")["Credentials"]
    client = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=lab.region,
    ).client("athena")
    return run_query(lab, "SELECT email FROM clicks_parquet LIMIT 5", client=client)


COLUMNS = [
    "event_id",
    "user_id",
    "session_id",
    "ts",
    "page",
    "referrer",
    "device",
    "country",
    "dwell_ms",
    "purchase_amount",
    "event_date",
]
EXCLUDE = {
    "TableWithColumns": {
        "DatabaseName": DB,
        "Name": "clicks_parquet",
        "ColumnWildcard": {"ExcludedColumnNames": ["email"]},
    }
}
LISTED = {
    "TableWithColumns": {"DatabaseName": DB, "Name": "clicks_parquet", "ColumnNames": COLUMNS}
}
PROBES = [f"{ROOT}/curated/clicks_parquet/event_date=2025-03-02", RAW + "dt=2026-12-02"]


@pytest.fixture
def parquet(lake: Any) -> Any:
    run_query(lake, CTAS.format(codec="SNAPPY", bucket=lake.bucket))
    return lake


def lf_verdict(lab: Any, email_id: str) -> str:
    return verdict(
        c.check_lakeformation, lab, DB, "clicks_parquet", ANALYST, WORKGROUP, email_id, PROBES
    )


def test_lakeformation_column_exclusion_passes(parquet: Any) -> None:
    assert (
        lf_verdict(parquet, lake_formation(parquet, analyst(parquet), EXCLUDE, ["SELECT"]))
        == "PASS"
    )


def test_lakeformation_column_list_passes(parquet: Any) -> None:
    assert (
        lf_verdict(parquet, lake_formation(parquet, analyst(parquet), LISTED, ["SELECT"])) == "PASS"
    )


def test_lakeformation_role_reading_the_lake_directly_misses(parquet: Any) -> None:
    role = analyst(
        parquet,
        [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{parquet.bucket}/*",
            }
        ],
    )
    msg = lf_verdict(parquet, lake_formation(parquet, role, EXCLUDE, ["SELECT"]))
    assert "around Lake Formation" in msg


def test_lakeformation_iam_allowed_principals_left_misses(parquet: Any) -> None:
    msg = lf_verdict(
        parquet, lake_formation(parquet, analyst(parquet), EXCLUDE, ["SELECT"], revoke=False)
    )
    assert "IAM_ALLOWED_PRINCIPALS" in msg


def test_lakeformation_whole_table_grant_misses(parquet: Any) -> None:
    table = {"Table": {"DatabaseName": DB, "Name": "clicks_parquet"}}
    assert "read email" in lf_verdict(
        parquet, lake_formation(parquet, analyst(parquet), table, ["SELECT"])
    )


def test_lakeformation_list_that_hides_more_than_email_misses(parquet: Any) -> None:
    short = {"TableWithColumns": {**LISTED["TableWithColumns"], "ColumnNames": COLUMNS[:-3]}}
    msg = lf_verdict(parquet, lake_formation(parquet, analyst(parquet), short, ["SELECT"]))
    assert "also hide" in msg


def test_lakeformation_all_permissions_miss(parquet: Any) -> None:
    assert "grant SELECT only" in lf_verdict(
        parquet, lake_formation(parquet, analyst(parquet), EXCLUDE, ["SELECT", "ALTER"])
    )


def test_visible_columns_rules() -> None:
    cols = ["a", "b", "email"]
    ex = {
        "Permissions": ["SELECT"],
        "Resource": {"TableWithColumns": {"ColumnWildcard": {"ExcludedColumnNames": ["email"]}}},
    }
    listed = {"Permissions": ["SELECT"], "Resource": {"TableWithColumns": {"ColumnNames": ["a"]}}}
    whole = {"Permissions": ["SELECT"], "Resource": {"Table": {}}}
    assert c.visible_columns([ex], cols) == {"a", "b"}
    assert c.visible_columns([listed], cols) == {"a"}
    assert c.visible_columns([listed, whole], cols) == {"a", "b", "email"}


# --------------------------------------------------------------------------- requirement 9, drill
DAILY = """
import collections, csv, gzip, io, json, sys
import boto3
from awsglue.utils import getResolvedOptions
args = getResolvedOptions(sys.argv, ["bucket", "raw_prefix", "output_key"])
s3 = boto3.client("s3")
days = collections.defaultdict(lambda: {"s": set(), "n": 0, "r": 0.0})
for o in s3.list_objects_v2(Bucket=args["bucket"], Prefix=args["raw_prefix"]).get("Contents", []):
    for line in gzip.decompress(s3.get_object(Bucket=args["bucket"], Key=o["Key"])["Body"].read()).decode().splitlines():
        e = json.loads(line); d = days[e["ts"][:10]]
        d["s"].add(e["session_id"]); d["n"] += 1; d["r"] += e["purchase_amount"]
out = io.StringIO(); w = csv.writer(out)
w.writerow(["event_date", "sessions", "events", "revenue"])
for k, d in sorted(days.items()):
    w.writerow([k, len(d["s"]), d["n"], round(d["r"], 2)])
s3.put_object(Bucket=args["bucket"], Key=args["output_key"], Body=out.getvalue().encode())
"""
DAILY_PANDAS = """
import gzip, io, sys
import boto3, pandas as pd
from awsglue.utils import getResolvedOptions
args = getResolvedOptions(sys.argv, ["bucket", "raw_prefix", "output_key"])
s3 = boto3.client("s3")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=args["bucket"], Prefix=args["raw_prefix"])["Contents"]]
df = pd.concat(pd.read_json(io.BytesIO(gzip.decompress(s3.get_object(Bucket=args["bucket"], Key=k)["Body"].read())), lines=True, dtype={"ts": str}) for k in keys)
df["event_date"] = df.ts.str[:10]
out = df.groupby("event_date").agg(sessions=("session_id", "nunique"), events=("event_id", "count"), revenue=("purchase_amount", "sum")).reset_index()
out["revenue"] = out.revenue.round(2)
s3.put_object(Bucket=args["bucket"], Key=args["output_key"], Body=out.to_csv(index=False).encode())
"""
NOTHING = "print('the job does nothing')\n"


def glue_role(lab: Any) -> str:
    iam = lab.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "glue.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        return str(
            iam.create_role(RoleName="lab01-glue", AssumeRolePolicyDocument=json.dumps(trust))[
                "Role"
            ]["Arn"]
        )
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName="lab01-glue")["Role"]["Arn"])


def make_job(lab: Any, name: str, script: str, args: dict[str, str], **kw: Any) -> None:
    key = f"{ROOT}/scripts/{name}.py"
    lab.client("s3").put_object(Bucket=lab.bucket, Key=key, Body=script.encode())
    spec = {
        "Name": name,
        "Role": glue_role(lab),
        "Command": {
            "Name": "pythonshell",
            "ScriptLocation": f"s3://{lab.bucket}/{key}",
            "PythonVersion": "3.9",
        },
        "GlueVersion": "3.0",
        "MaxCapacity": 0.0625,
        "Timeout": 10,
        "DefaultArguments": args,
    }
    spec.update(kw)
    lab.client("glue").create_job(**spec)


def run_job(lab: Any, name: str, **kw: Any) -> str:
    glue = lab.client("glue")
    rid = str(glue.start_job_run(JobName=name, **kw)["JobRunId"])
    for _ in range(1200):
        state = glue.get_job_run(JobName=name, RunId=rid)["JobRun"]["JobRunState"]
        if state not in ("STARTING", "RUNNING", "STOPPING", "WAITING"):
            break
        time.sleep(0.1)
    return rid


def daily_args(lab: Any) -> dict[str, str]:
    return {"--bucket": lab.bucket, "--raw_prefix": RAW, "--output_key": SESSIONS_KEY}


def write_truth(lab: Any, events: Any) -> None:
    body = c.daily_sessions(events).round({"revenue": 2}).to_csv(index=False).encode()
    lab.client("s3").put_object(Bucket=lab.bucket, Key=SESSIONS_KEY, Body=body)


def test_glue_job_passes_and_alternative_script_passes(lab: Any, events: Any) -> None:
    put_raw(lab, events)
    make_job(lab, "clicks-daily-sessions", DAILY, daily_args(lab))
    run_job(lab, "clicks-daily-sessions")
    assert verdict(c.check_glue_job, lab, "clicks-daily-sessions", SESSIONS_KEY, events) == "PASS"
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key=f"{ROOT}/scripts/clicks-daily-sessions.py",
        Body=DAILY_PANDAS.encode(),
    )
    run_job(lab, "clicks-daily-sessions")
    assert verdict(c.check_glue_job, lab, "clicks-daily-sessions", SESSIONS_KEY, events) == "PASS"


def test_glue_job_that_does_nothing_while_the_notebook_writes_misses(lab: Any, events: Any) -> None:
    put_raw(lab, events)
    make_job(lab, "clicks-daily-sessions", NOTHING, daily_args(lab))
    write_truth(lab, events)  # before the run
    time.sleep(c.CLOCK_SLACK + 1)
    run_job(lab, "clicks-daily-sessions")
    msg = verdict(c.check_glue_job, lab, "clicks-daily-sessions", SESSIONS_KEY, events)
    assert "not written by the job's run" in msg


def test_glue_job_output_written_after_the_run_misses(lab: Any, events: Any) -> None:
    put_raw(lab, events)
    make_job(lab, "clicks-daily-sessions", NOTHING, daily_args(lab))
    run_job(lab, "clicks-daily-sessions")
    time.sleep(c.CLOCK_SLACK + 1)
    write_truth(lab, events)
    assert "not written by the job's run" in verdict(
        c.check_glue_job, lab, "clicks-daily-sessions", SESSIONS_KEY, events
    )


def test_glue_job_wrong_capacity_or_numbers_miss(lab: Any, events: Any) -> None:
    put_raw(lab, events)
    make_job(
        lab,
        "clicks-daily-sessions",
        DAILY.replace('d["n"] += 1', 'd["n"] += 2'),
        daily_args(lab),
        MaxCapacity=1.0,
    )
    run_job(lab, "clicks-daily-sessions")
    assert "MaxCapacity is 1.0" in verdict(
        c.check_glue_job, lab, "clicks-daily-sessions", SESSIONS_KEY, events
    )
    lab.client("glue").delete_job(JobName="clicks-daily-sessions")
    make_job(
        lab, "clicks-daily-sessions", DAILY.replace('d["n"] += 1', 'd["n"] += 2'), daily_args(lab)
    )
    run_job(lab, "clicks-daily-sessions")
    assert "but the events say" in verdict(
        c.check_glue_job, lab, "clicks-daily-sessions", SESSIONS_KEY, events
    )


PAGE_VIEWS = """
import collections, csv, gzip, io, json, sys
import boto3
from awsglue.utils import getResolvedOptions
args = getResolvedOptions(sys.argv, ["bucket", "raw_prefix", "output_key"])
s3 = boto3.client("s3")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=args["bucket"], Prefix=args["raw_prefix"]).get("Contents", [])]
if not keys:
    raise FileNotFoundError(f"no input objects under s3://{args['bucket']}/{args['raw_prefix']}")
views = collections.Counter()
for key in keys:
    for line in gzip.decompress(s3.get_object(Bucket=args["bucket"], Key=key)["Body"].read()).decode().splitlines():
        e = json.loads(line); views[(e["ts"][:10], "/" + e["page"].split("/")[1])] += 1
out = io.StringIO()
csv.writer(out).writerows([("event_date", "section", "views")] + [(d, s, n) for (d, s), n in sorted(views.items())])
s3.put_object(Bucket=args["bucket"], Key=args["output_key"], Body=out.getvalue().encode())
"""
DRILL = "clicks-page-views"


def broken_drill(lab: Any, events: Any) -> str:
    put_raw(lab, events)
    make_job(
        lab,
        DRILL,
        PAGE_VIEWS,
        {
            "--bucket": lab.bucket,
            "--raw_prefix": f"{ROOT}/raw/clickstream/",
            "--output_key": PAGE_VIEWS_KEY,
        },
    )
    return run_job(lab, DRILL)


def repair(lab: Any, **changes: Any) -> None:
    glue = lab.client("glue")
    job = glue.get_job(JobName=DRILL)["Job"]
    update = {
        k: v
        for k, v in job.items()
        if k not in ("Name", "CreatedOn", "LastModifiedOn", "AllocatedCapacity")
    }
    update["DefaultArguments"] = {**job["DefaultArguments"], "--raw_prefix": RAW}
    update.update(changes)
    time.sleep(0.05)
    glue.update_job(JobName=DRILL, JobUpdate=update)


def drill_verdict(lab: Any, events: Any, broken: str, fixed: str) -> str:
    return verdict(c.check_drill, lab, DRILL, broken, fixed, RAW, PAGE_VIEWS_KEY, len(events))


def test_drill_repaired_with_update_job_passes(lab: Any, events: Any) -> None:
    broken = broken_drill(lab, events)
    repair(lab)
    assert drill_verdict(lab, events, broken, run_job(lab, DRILL)) == "PASS"


def test_drill_repaired_and_run_with_the_same_override_passes(lab: Any, events: Any) -> None:
    broken = broken_drill(lab, events)
    repair(lab, Description="reads the Firehose prefix")
    fixed = run_job(lab, DRILL, Arguments={"--raw_prefix": RAW})
    assert drill_verdict(lab, events, broken, fixed) == "PASS"


def test_drill_fixed_by_a_run_override_only_misses(lab: Any, events: Any) -> None:
    broken = broken_drill(lab, events)
    fixed = run_job(lab, DRILL, Arguments={"--raw_prefix": RAW})
    assert "glue.update_job" in drill_verdict(lab, events, broken, fixed)


def test_drill_job_deleted_and_created_again_misses(lab: Any, events: Any) -> None:
    broken = broken_drill(lab, events)
    lab.client("glue").delete_job(JobName=DRILL)
    make_job(
        lab,
        DRILL,
        PAGE_VIEWS,
        {"--bucket": lab.bucket, "--raw_prefix": RAW, "--output_key": PAGE_VIEWS_KEY},
    )
    fixed = run_job(lab, DRILL)
    assert "is gone" in drill_verdict(lab, events, broken, fixed)


def test_drill_repaired_but_not_rerun_misses(lab: Any, events: Any) -> None:
    broken = broken_drill(lab, events)
    repair(lab)
    assert "is FAILED" in drill_verdict(lab, events, broken, broken)


def test_update_job_overwrites_the_whole_definition(lab: Any, events: Any) -> None:
    broken_drill(lab, events)
    glue = lab.client("glue")
    job = glue.get_job(JobName=DRILL)["Job"]
    glue.update_job(JobName=DRILL, JobUpdate={"Role": job["Role"], "Command": job["Command"]})
    after = glue.get_job(JobName=DRILL)["Job"]
    assert after.get("DefaultArguments", {}) == {} and after.get("Timeout") is None
    with pytest.raises(glue.exceptions.InvalidInputException, match="JobUpdate.Role is required"):
        glue.update_job(JobName=DRILL, JobUpdate={"Command": job["Command"]})
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.update_job(JobName="nope", JobUpdate={"Role": job["Role"], "Command": job["Command"]})


def test_written_by_run_reads_the_object_and_run_times(lab: Any) -> None:
    import datetime as dt

    lab.client("s3").put_object(Bucket=lab.bucket, Key="k", Body=b"x")
    now = dt.datetime.now(dt.UTC)
    inside, _ = c.written_by_run(
        lab,
        "k",
        {
            "Id": "jr_1",
            "StartedOn": now - dt.timedelta(seconds=2),
            "CompletedOn": now + dt.timedelta(seconds=2),
        },
    )
    outside, text = c.written_by_run(
        lab,
        "k",
        {
            "Id": "jr_2",
            "StartedOn": now + dt.timedelta(minutes=5),
            "CompletedOn": now + dt.timedelta(minutes=6),
        },
    )
    assert inside and not outside and "was last written" in text
    _ = io  # (io is used by the builders' pandas paths)


# --------------------------------------------------------------------------- teardown
def test_teardown_lists_every_billable_leftover_and_passes_after_teardown(lab: Any) -> None:
    from mllab.checks import nothing_billable_left

    make_delivery(lab, make_stream(lab))
    with pytest.raises(CheckFailed) as info:
        nothing_billable_left(lab)
    msg = str(info.value)
    assert "stream 'clicks'" in msg and "delivery-stream 'clicks-to-lake'" in msg
    assert msg.count("\n  - ") >= 2  # one line per leftover (mllab run prints them all)
    lab.teardown()
    assert nothing_billable_left(lab) == "nothing billable left by this lab run"


def test_teardown_by_hand_passes_and_a_forgotten_stream_misses(lab: Any) -> None:
    from mllab.checks import nothing_billable_left

    arn = make_stream(lab)
    k = lab.client("kinesis")
    for name in CONSUMERS:
        k.deregister_stream_consumer(StreamARN=arn, ConsumerName=name)
    with pytest.raises(CheckFailed, match="stream 'clicks' is ACTIVE"):
        nothing_billable_left(lab)
    k.delete_stream(StreamName=STREAM, EnforceConsumerDeletion=True)
    assert "nothing billable" in nothing_billable_left(lab)
