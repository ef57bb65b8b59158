"""Offline Kinesis: shard write limits, retention, enhanced fan-out, resharding, hot keys, metrics."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline import clock, kinesis


@pytest.fixture(autouse=True)
def _fresh_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freeze the lab clock (a burst happens within one instant); ``advance`` still moves it."""
    t0 = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC).timestamp()
    monkeypatch.setattr(clock, "now", lambda: t0 + clock._offset)
    monkeypatch.setattr(clock, "now_dt", lambda: dt.datetime.fromtimestamp(clock.now(), tz=dt.UTC))


def _make(lab: Any, name: str = "events", shards: int = 1) -> Any:
    kin = lab.client("kinesis")
    kin.create_stream(StreamName=name, ShardCount=shards)
    return kin


def test_put_records_burst_over_1000_records_per_second_is_throttled_per_record(
    lab: Any, frozen: None
) -> None:
    kin = _make(lab)
    batch = [{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(500)]
    assert kin.put_records(StreamName="events", Records=batch)["FailedRecordCount"] == 0
    assert kin.put_records(StreamName="events", Records=batch)["FailedRecordCount"] == 0
    third = kin.put_records(StreamName="events", Records=batch[:10])
    assert third["FailedRecordCount"] == 10
    assert third["Records"][0] == {
        "ErrorCode": "ProvisionedThroughputExceededException",
        "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream events under account 123456789012.",
    }
    with pytest.raises(ClientError) as err:
        kin.put_record(StreamName="events", Data=b"x", PartitionKey="k")
    assert err.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert err.value.response["Error"]["Message"] == (
        "Rate exceeded for shard shardId-000000000000 in stream events under account 123456789012."
    )
    clock.advance(1.0)  # a new second: the shard accepts again
    assert kin.put_records(StreamName="events", Records=batch[:10])["FailedRecordCount"] == 0
    counters = kinesis.shard_write_counters("events")["shardId-000000000000"]
    assert counters == {
        "records": 1010,
        "bytes": sum(1 + len(f"k{i}") for i in range(500)) * 2
        + sum(1 + len(f"k{i}") for i in range(10)),
        "throttled": 11,
    }


def test_bytes_limit_one_mib_per_second(lab: Any, frozen: None) -> None:
    kin = _make(lab)
    payload = b"x" * (256 * 1024 - 1)  # + 1-byte key = 256 KiB
    for _ in range(4):
        kin.put_record(StreamName="events", Data=payload, PartitionKey="k")
    with pytest.raises(ClientError) as err:
        kin.put_record(StreamName="events", Data=b"y", PartitionKey="k")
    assert err.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"


def test_below_limit_is_not_throttled(lab: Any, frozen: None) -> None:
    kin = _make(lab, shards=2)
    batch = [{"Data": b"x" * 100, "PartitionKey": f"user-{i}"} for i in range(500)]
    # 1,000 records spread over 2 shards in one second: each shard is under its 1,000 records/s
    for _ in range(2):
        assert kin.put_records(StreamName="events", Records=batch)["FailedRecordCount"] == 0


def test_retention_hides_old_records_and_is_validated(lab: Any, frozen: None) -> None:
    kin = _make(lab)
    kin.put_record(StreamName="events", Data=b"old", PartitionKey="k")
    clock.advance(23 * 3600)
    kin.put_record(StreamName="events", Data=b"new", PartitionKey="k")

    def read() -> list[bytes]:
        it = kin.get_shard_iterator(
            StreamName="events", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )
        return [r["Data"] for r in kin.get_records(ShardIterator=it["ShardIterator"])["Records"]]

    assert read() == [b"old", b"new"]
    clock.advance(3600)  # 'old' is now 24 h old
    assert read() == [b"new"]
    kin.increase_stream_retention_period(StreamName="events", RetentionPeriodHours=168)
    with pytest.raises(ClientError) as err:
        kin.increase_stream_retention_period(StreamName="events", RetentionPeriodHours=8761)
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert "8760" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        kin.decrease_stream_retention_period(StreamName="events", RetentionPeriodHours=23)
    assert "24 hours" in err.value.response["Error"]["Message"]
    assert read() == [b"new"]  # a longer retention does not bring an expired record back
    clock.advance(48 * 3600)
    assert read() == [b"new"]  # 'new' is 49 h old, within the 168 h now kept


def test_enhanced_fan_out_limit_and_subscribe(lab: Any, frozen: None) -> None:
    kin = _make(lab)
    arn = kin.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamARN"]
    for i in range(20):
        kin.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i}")
    with pytest.raises(ClientError) as err:
        kin.register_stream_consumer(StreamARN=arn, ConsumerName="c20")
    assert err.value.response["Error"]["Code"] == "LimitExceededException"
    with pytest.raises(ClientError) as err:
        kin.register_stream_consumer(StreamARN=arn, ConsumerName="c3")
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    kin.deregister_stream_consumer(StreamARN=arn, ConsumerName="c0")
    names = {c["ConsumerName"] for c in kin.list_stream_consumers(StreamARN=arn)["Consumers"]}
    assert names == {f"c{i}" for i in range(1, 20)}
    consumer = kin.describe_stream_consumer(StreamARN=arn, ConsumerName="c1")["ConsumerDescription"]
    kin.put_records(
        StreamName="events",
        Records=[{"Data": b"a", "PartitionKey": "k"}, {"Data": b"b", "PartitionKey": "k"}],
    )
    resp = kin.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "TRIM_HORIZON"},
    )
    got = [r["Data"] for ev in resp["EventStream"] for r in ev["SubscribeToShardEvent"]["Records"]]
    assert got == [b"a", b"b"]


def test_hot_key_maps_to_shard_by_md5_hash_range(lab: Any) -> None:
    kin = _make(lab, shards=4)
    desc = kin.describe_stream(StreamName="events")
    assert desc["StreamDescription"]["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    for key in ["user-1", "user-2", "hot", "zzz"]:
        expected_hash = int(hashlib.md5(key.encode()).hexdigest(), 16)
        shard = kinesis.shard_for_partition_key(desc, key)
        lo, hi = (
            int(shard["HashKeyRange"]["StartingHashKey"]),
            int(shard["HashKeyRange"]["EndingHashKey"]),
        )
        assert lo <= expected_hash <= hi
        assert (
            kin.put_record(StreamName="events", Data=b"x", PartitionKey=key)["ShardId"]
            == shard["ShardId"]
        )


def test_split_merge_and_update_shard_count(lab: Any) -> None:
    kin = _make(lab, shards=1)
    kin.put_record(StreamName="events", Data=b"before", PartitionKey="k")
    half = str(2**127)
    kin.split_shard(
        StreamName="events", ShardToSplit="shardId-000000000000", NewStartingHashKey=half
    )
    shards = {s["ShardId"]: s for s in kin.list_shards(StreamName="events")["Shards"]}
    assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
    assert shards["shardId-000000000001"]["HashKeyRange"] == {
        "StartingHashKey": "0",
        "EndingHashKey": str(2**127 - 1),
    }
    assert shards["shardId-000000000002"]["HashKeyRange"] == {
        "StartingHashKey": half,
        "EndingHashKey": str(2**128 - 1),
    }
    assert shards["shardId-000000000001"]["ParentShardId"] == "shardId-000000000000"
    # the parent keeps its records; new puts go to a child
    it = kin.get_shard_iterator(
        StreamName="events", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )
    assert [r["Data"] for r in kin.get_records(ShardIterator=it["ShardIterator"])["Records"]] == [
        b"before"
    ]
    assert kin.put_record(StreamName="events", Data=b"after", PartitionKey="k")["ShardId"] in {
        "shardId-000000000001",
        "shardId-000000000002",
    }
    with pytest.raises(ClientError) as err:
        kin.split_shard(
            StreamName="events", ShardToSplit="shardId-000000000000", NewStartingHashKey=half
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    kin.merge_shards(
        StreamName="events",
        ShardToMerge="shardId-000000000001",
        AdjacentShardToMerge="shardId-000000000002",
    )
    summary = kin.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 1
    resp = kin.update_shard_count(
        StreamName="events", TargetShardCount=2, ScalingType="UNIFORM_SCALING"
    )
    assert (resp["CurrentShardCount"], resp["TargetShardCount"]) == (1, 2)
    with pytest.raises(ClientError) as err:
        kin.update_shard_count(
            StreamName="events", TargetShardCount=5, ScalingType="UNIFORM_SCALING"
        )
    assert err.value.response["Error"]["Code"] == "LimitExceededException"
    desc = kin.describe_stream(StreamName="events")
    open_ranges = sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in desc["StreamDescription"]["Shards"]
        if "EndingSequenceNumber" not in s["SequenceNumberRange"]
    )
    assert open_ranges == [(0, 2**127 - 1), (2**127, 2**128 - 1)]


def test_on_demand_mode_and_update_stream_mode(lab: Any) -> None:
    kin = lab.client("kinesis")
    kin.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kin.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4
    with pytest.raises(ClientError) as err:
        kin.update_shard_count(StreamName="od", TargetShardCount=8, ScalingType="UNIFORM_SCALING")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    kin.update_stream_mode(
        StreamARN=summary["StreamARN"], StreamModeDetails={"StreamMode": "PROVISIONED"}
    )
    assert kin.describe_stream(StreamName="od")["StreamDescription"]["StreamModeDetails"] == {
        "StreamMode": "PROVISIONED"
    }


def test_cloudwatch_metrics_stream_and_shard_level(lab: Any, frozen: None) -> None:
    kin = _make(lab)
    cw = lab.client("cloudwatch")
    start, end = clock.now_dt() - dt.timedelta(minutes=5), clock.now_dt() + dt.timedelta(minutes=5)

    def total(metric: str, dims: list[dict[str, str]]) -> float:
        stats = cw.get_metric_statistics(
            Namespace="AWS/Kinesis",
            MetricName=metric,
            Dimensions=dims,
            StartTime=start,
            EndTime=end,
            Period=300,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(d["Sum"] for d in stats)

    stream_dims = [{"Name": "StreamName", "Value": "events"}]
    shard_dims = [*stream_dims, {"Name": "ShardId", "Value": "shardId-000000000000"}]
    batch = [{"Data": b"abc", "PartitionKey": "k"} for _ in range(500)]
    kin.put_records(StreamName="events", Records=batch)
    kin.put_records(StreamName="events", Records=batch[:499])
    kin.put_records(StreamName="events", Records=batch[:3])  # 1 accepted, 2 throttled
    assert total("IncomingRecords", stream_dims) == 1000
    assert total("IncomingBytes", stream_dims) == 1000 * 4  # data plus partition key
    assert total("WriteProvisionedThroughputExceeded", stream_dims) == 2
    assert total("IncomingRecords", shard_dims) == 0  # shard-level metrics are off by default
    kin.enable_enhanced_monitoring(
        StreamName="events",
        ShardLevelMetrics=["IncomingRecords", "WriteProvisionedThroughputExceeded"],
    )
    kin.put_records(StreamName="events", Records=batch[:7])  # all 7 throttled (same second)
    clock.advance(1.0)
    kin.put_records(StreamName="events", Records=batch[:5])
    assert total("WriteProvisionedThroughputExceeded", shard_dims) == 7
    assert total("IncomingRecords", shard_dims) == 5
    assert total("IncomingBytes", shard_dims) == 0  # not enabled at shard level
