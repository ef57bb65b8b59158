"""Offline Firehose: buffering on the lab clock, object names, compression, transforms, Parquet."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline import clock, firehose

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _fresh_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Freeze the lab clock at a fixed instant; ``advance`` still moves it."""
    t = {"now": dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC).timestamp()}
    monkeypatch.setattr(clock, "now", lambda: t["now"] + clock._offset)
    monkeypatch.setattr(clock, "now_dt", lambda: dt.datetime.fromtimestamp(clock.now(), tz=dt.UTC))
    return t


def _stream(lab: Any, name: str = "clicks", **dest: Any) -> Any:
    fh = lab.client("firehose")
    conf = {"RoleARN": lab.role_arn, "BucketARN": f"arn:aws:s3:::{lab.bucket}"}
    conf.update(dest)
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=conf,
    )
    return fh


def _objects(lab: Any, prefix: str = "") -> list[dict[str, Any]]:
    s3 = lab.client("s3")
    out = s3.list_objects_v2(Bucket=lab.bucket, Prefix=prefix).get("Contents", [])
    return sorted(out, key=lambda o: o["Key"])


def _body(lab: Any, key: str) -> bytes:
    return lab.client("s3").get_object(Bucket=lab.bucket, Key=key)["Body"].read()


def test_interval_buffer_delivers_exactly_the_records_in_order_and_not_before(
    lab: Any, frozen: dict[str, float]
) -> None:
    fh = _stream(lab, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    records = [json.dumps({"i": i}).encode() + b"\n" for i in range(25)]
    for r in records[:10]:
        fh.put_record(DeliveryStreamName="clicks", Record={"Data": r})
    fh.put_record_batch(DeliveryStreamName="clicks", Records=[{"Data": r} for r in records[10:]])
    assert _objects(lab, "2025/") == []
    clock.advance(59.9)
    assert _objects(lab, "2025/") == []
    assert firehose.pending("clicks")["records"] == 25
    clock.advance(0.1)
    objs = _objects(lab, "2025/")
    assert len(objs) == 1
    assert _body(lab, objs[0]["Key"]) == b"".join(records)
    assert firehose.pending("clicks")["records"] == 0
    clock.advance(600)
    assert len(_objects(lab, "2025/")) == 1  # nothing more to deliver


def test_size_buffer_delivers_when_threshold_reached_not_before(
    lab: Any, frozen: dict[str, float]
) -> None:
    fh = _stream(lab, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900})
    chunk = b"x" * (256 * 1024 - 1) + b"\n"  # 256 KiB
    for _ in range(3):
        fh.put_record(DeliveryStreamName="clicks", Record={"Data": chunk})
    assert _objects(lab, "2025/") == []  # 768 KiB < 1 MiB
    fh.put_record(DeliveryStreamName="clicks", Record={"Data": chunk})  # reaches 1 MiB
    objs = _objects(lab, "2025/")
    assert len(objs) == 1
    assert _body(lab, objs[0]["Key"]) == chunk * 4
    fh.put_record(DeliveryStreamName="clicks", Record={"Data": b"tail\n"})
    assert len(_objects(lab, "2025/")) == 1
    assert firehose.deliveries("clicks")[0]["reason"] == "size"


def test_zero_interval_delivers_each_put_at_once(lab: Any, frozen: dict[str, float]) -> None:
    fh = _stream(lab, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    fh.put_record(DeliveryStreamName="clicks", Record={"Data": b"a\n"})
    assert [_body(lab, o["Key"]) for o in _objects(lab, "2025/")] == [b"a\n"]
    fh.put_record_batch(DeliveryStreamName="clicks", Records=[{"Data": b"b\n"}, {"Data": b"c\n"}])
    bodies = sorted(_body(lab, o["Key"]) for o in _objects(lab, "2025/"))
    assert bodies == [b"a\n", b"b\nc\n"]


def test_default_prefix_and_object_name_follow_firehose_format(
    lab: Any, frozen: dict[str, float]
) -> None:
    fh = _stream(lab, Prefix="raw/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    fh.put_record(DeliveryStreamName="clicks", Record={"Data": b"a"})
    clock.advance(60)
    (obj,) = _objects(lab, "raw/")
    pattern = (
        r"^raw/2025/03/04/05/clicks-1-2025-03-04-05-06-07-"
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )
    assert re.match(pattern, obj["Key"]), obj["Key"]


def test_custom_timestamp_prefix_and_gzip(lab: Any, frozen: dict[str, float]) -> None:
    fh = _stream(
        lab,
        Prefix="events/dt=!{timestamp:yyyy-MM-dd}/h=!{timestamp:HH}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
        CompressionFormat="GZIP",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
    )
    fh.put_record_batch(
        DeliveryStreamName="clicks", Records=[{"Data": b"one\n"}, {"Data": b"two\n"}]
    )
    clock.advance(60)
    (obj,) = _objects(lab, "events/")
    assert obj["Key"].startswith("events/dt=2025-03-04/h=05/clicks-1-2025-03-04-05-06-07-")
    assert obj["Key"].endswith(".gz")
    assert gzip.decompress(_body(lab, obj["Key"])) == b"one\ntwo\n"


def test_buffering_hints_validated_as_aws(lab: Any) -> None:
    fh = lab.client("firehose")
    base = {"RoleARN": lab.role_arn, "BucketARN": f"arn:aws:s3:::{lab.bucket}"}
    with pytest.raises(ClientError) as err:
        fh.create_delivery_stream(
            DeliveryStreamName="bad",
            ExtendedS3DestinationConfiguration={
                **base,
                "BufferingHints": {"SizeInMBs": 129, "IntervalInSeconds": 60},
            },
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 128" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        fh.create_delivery_stream(
            DeliveryStreamName="bad",
            ExtendedS3DestinationConfiguration={
                **base,
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 901},
            },
        )
    assert "less than or equal to 900" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        fh.create_delivery_stream(
            DeliveryStreamName="bad",
            ExtendedS3DestinationConfiguration={**base, "Prefix": "x/!{timestamp:yyyy}/"},
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert "ErrorOutputPrefix" in err.value.response["Error"]["Message"]


def test_describe_reports_aws_defaults(lab: Any) -> None:
    fh = _stream(lab)
    desc = fh.describe_delivery_stream(DeliveryStreamName="clicks")["DeliveryStreamDescription"]
    ext = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert ext["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert ext["CompressionFormat"] == "UNCOMPRESSED"


def test_record_and_batch_limits(lab: Any, frozen: dict[str, float]) -> None:
    fh = _stream(lab, BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900})
    with pytest.raises(ClientError) as err:
        fh.put_record(DeliveryStreamName="clicks", Record={"Data": b"x" * 1_024_001})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    fh.put_record(DeliveryStreamName="clicks", Record={"Data": b"x" * 1_024_000})
    with pytest.raises(ClientError) as err:
        fh.put_record_batch(DeliveryStreamName="clicks", Records=[{"Data": b"x"}] * 501)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        fh.put_record_batch(DeliveryStreamName="clicks", Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_throughput_quota_fails_records_individually(lab: Any, frozen: dict[str, float]) -> None:
    fh = _stream(lab, BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900})
    big = [{"Data": b"x" * 1_000_000}] * 4  # 4,000,000 bytes per call
    first = fh.put_record_batch(DeliveryStreamName="clicks", Records=big)
    assert first["FailedPutCount"] == 0
    second = fh.put_record_batch(DeliveryStreamName="clicks", Records=big)
    # 5 MiB/s in us-east-1: one more 1 MB record fits, the other three are throttled
    assert second["FailedPutCount"] == 3
    failed = [r for r in second["RequestResponses"] if "ErrorCode" in r]
    assert {r["ErrorCode"] for r in failed} == {"ServiceUnavailableException"}
    assert failed[0]["ErrorMessage"] == "Slow down."
    clock.advance(1.0)
    third = fh.put_record_batch(DeliveryStreamName="clicks", Records=big)
    assert third["FailedPutCount"] == 0


def _lambda_stream(lab: Any, arn: str, name: str = "tx") -> Any:
    return _stream(
        lab,
        name=name,
        Prefix="ok/",
        ErrorOutputPrefix="failed/",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60},
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [
                {
                    "Type": "Lambda",
                    "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": arn}],
                }
            ],
        },
    )


def test_lambda_transform_ok_dropped_failed(lab: Any, frozen: dict[str, float]) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:clean"

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        out = []
        for r in event["records"]:
            doc = json.loads(base64.b64decode(r["data"]))
            if doc["kind"] == "drop":
                out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
            elif doc["kind"] == "bad":
                out.append(
                    {"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]}
                )
            else:
                data = json.dumps({"v": doc["v"] * 2}).encode() + b"\n"
                out.append(
                    {
                        "recordId": r["recordId"],
                        "result": "Ok",
                        "data": base64.b64encode(data).decode(),
                    }
                )
        return {"records": out}

    firehose.register_transform(arn, handler)
    try:
        fh = _lambda_stream(lab, arn)
        recs = [
            {"kind": "ok", "v": 1},
            {"kind": "drop", "v": 2},
            {"kind": "bad", "v": 3},
            {"kind": "ok", "v": 4},
        ]
        fh.put_record_batch(
            DeliveryStreamName="tx", Records=[{"Data": json.dumps(r).encode()} for r in recs]
        )
        assert _objects(lab, "ok/") == []
        clock.advance(60)
        (ok,) = _objects(lab, "ok/")
        assert _body(lab, ok["Key"]) == b'{"v": 2}\n{"v": 8}\n'
        (failed,) = _objects(lab, "failed/")
        assert failed["Key"].startswith("failed/processing-failed/2025/03/04/05/tx-1-")
        lines = [json.loads(x) for x in _body(lab, failed["Key"]).splitlines()]
        assert len(lines) == 1
        assert lines[0]["errorCode"] == "Lambda.ProcessingFailedStatus"
        assert json.loads(base64.b64decode(lines[0]["rawData"])) == recs[2]
        assert lines[0]["lambdaArn"] == arn
    finally:
        firehose.unregister_transform(arn)


def test_unregistered_lambda_fails_records_to_error_prefix(
    lab: Any, frozen: dict[str, float]
) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:missing"
    fh = _lambda_stream(lab, arn, name="tx2")
    fh.put_record(DeliveryStreamName="tx2", Record={"Data": b'{"a": 1}'})
    clock.advance(60)
    assert _objects(lab, "ok/") == []
    (failed,) = _objects(lab, "failed/processing-failed/")
    (line,) = [json.loads(x) for x in _body(lab, failed["Key"]).splitlines()]
    assert "register_transform" in line["errorMessage"]
    assert base64.b64decode(line["rawData"]) == b'{"a": 1}'
    assert any("register_transform" in e for e in firehose.delivery_errors("tx2"))


def test_dynamic_partitioning_with_jq_keys(lab: Any, frozen: dict[str, float]) -> None:
    fh = _stream(
        lab,
        name="dp",
        Prefix="by/customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/",
        ErrorOutputPrefix="err/!{firehose:error-output-type}/",
        BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 60},
        DynamicPartitioningConfiguration={"Enabled": True},
        ProcessingConfiguration={
            "Enabled": True,
            "Processors": [
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [
                        {
                            "ParameterName": "MetadataExtractionQuery",
                            "ParameterValue": "{customer: .customer.id}",
                        },
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    ],
                },
                {"Type": "AppendDelimiterToRecord", "Parameters": []},
            ],
        },
    )
    recs = [{"customer": {"id": c}, "n": i} for i, c in enumerate(["a", "b", "a"])] + [{"n": 9}]
    fh.put_record_batch(
        DeliveryStreamName="dp", Records=[{"Data": json.dumps(r).encode()} for r in recs]
    )
    clock.advance(60)
    a = _objects(lab, "by/customer=a/2025/")
    b = _objects(lab, "by/customer=b/2025/")
    assert len(a) == 1 and len(b) == 1
    assert _body(lab, a[0]["Key"]).splitlines() == [
        json.dumps(recs[0]).encode(),
        json.dumps(recs[2]).encode(),
    ]
    (err,) = _objects(lab, "err/processing-failed/")
    assert json.loads(base64.b64decode(json.loads(_body(lab, err["Key"]))["rawData"])) == {"n": 9}


def _glue_table(lab: Any) -> list[dict[str, str]]:
    cols = [
        {"Name": "user_id", "Type": "bigint"},
        {"Name": "name", "Type": "string"},
        {"Name": "amount", "Type": "double"},
        {"Name": "ok", "Type": "boolean"},
        {"Name": "ts", "Type": "timestamp"},
        {"Name": "tags", "Type": "array<string>"},
    ]
    glue = lab.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(
        DatabaseName="lake",
        TableInput={"Name": "events", "StorageDescriptor": {"Columns": cols}, "PartitionKeys": []},
    )
    return cols


def test_parquet_conversion_uses_glue_schema(lab: Any, frozen: dict[str, float]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = _glue_table(lab)
    fh = _stream(
        lab,
        name="pq",
        Prefix="parquet/",
        ErrorOutputPrefix="pqerr/",
        BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 60},
        DataFormatConversionConfiguration={
            "Enabled": True,
            "SchemaConfiguration": {
                "DatabaseName": "lake",
                "TableName": "events",
                "RoleARN": lab.role_arn,
            },
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {
                "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
            },
        },
    )
    good = [
        {
            "User_Id": 1,
            "name": "ann",
            "amount": 2.5,
            "ok": True,
            "ts": "2025-03-04T05:06:07Z",
            "tags": ["a"],
        },
        {"user_id": 2, "name": "bob", "amount": 3, "ok": False, "ts": 1741064767000, "tags": []},
    ]
    bad = {"user_id": "not-a-number", "name": "x"}
    fh.put_record_batch(
        DeliveryStreamName="pq", Records=[{"Data": json.dumps(r).encode()} for r in [*good, bad]]
    )
    clock.advance(60)
    (obj,) = _objects(lab, "parquet/")
    assert obj["Key"].endswith(".parquet")
    table = pq.read_table(io.BytesIO(_body(lab, obj["Key"])))
    expected = pa.schema(
        [
            ("user_id", pa.int64()),
            ("name", pa.string()),
            ("amount", pa.float64()),
            ("ok", pa.bool_()),
            ("ts", pa.timestamp("ms")),
            ("tags", pa.list_(pa.string())),
        ]
    )
    assert table.schema.remove_metadata().equals(expected)
    assert [c["Name"] for c in cols] == table.column_names
    assert table.column("user_id").to_pylist() == [1, 2]
    assert table.column("ts").to_pylist()[0] == dt.datetime(2025, 3, 4, 5, 6, 7)
    (err,) = _objects(lab, "pqerr/format-conversion-failed/")
    line = json.loads(_body(lab, err["Key"]))
    assert line["errorCode"] == "DataFormatConversion.MalformedData"
    assert line["dataCatalogTable"]["tableName"] == "events"


def test_conversion_requires_64_mib_buffer(lab: Any) -> None:
    fh = lab.client("firehose")
    with pytest.raises(ClientError) as err:
        fh.create_delivery_stream(
            DeliveryStreamName="pq",
            ExtendedS3DestinationConfiguration={
                "RoleARN": lab.role_arn,
                "BucketARN": f"arn:aws:s3:::{lab.bucket}",
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60},
                "DataFormatConversionConfiguration": {
                    "SchemaConfiguration": {"DatabaseName": "lake", "TableName": "events"},
                    "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                    "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
                },
            },
        )
    assert "64" in err.value.response["Error"]["Message"]


def test_kinesis_source_reads_records_as_they_are_put(lab: Any, frozen: dict[str, float]) -> None:
    kin = lab.client("kinesis")
    kin.create_stream(StreamName="src", ShardCount=1)
    arn = kin.describe_stream_summary(StreamName="src")["StreamDescriptionSummary"]["StreamARN"]
    kin.put_record(
        StreamName="src", Data=b"before\n", PartitionKey="k"
    )  # before the delivery stream: not read
    fh = lab.client("firehose")
    fh.create_delivery_stream(
        DeliveryStreamName="fromk",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": lab.role_arn},
        ExtendedS3DestinationConfiguration={
            "RoleARN": lab.role_arn,
            "BucketARN": f"arn:aws:s3:::{lab.bucket}",
            "Prefix": "fromk/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    kin.put_record(StreamName="src", Data=b"one\n", PartitionKey="k")
    kin.put_records(
        StreamName="src",
        Records=[
            {"Data": b"two\n", "PartitionKey": "k"},
            {"Data": b"three\n", "PartitionKey": "j"},
        ],
    )
    with pytest.raises(ClientError) as err:
        fh.put_record(DeliveryStreamName="fromk", Record={"Data": b"x"})
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    clock.advance(60)
    (obj,) = _objects(lab, "fromk/")
    assert _body(lab, obj["Key"]) == b"one\ntwo\nthree\n"


def test_background_timer_stops_when_lab_closes() -> None:
    from mllab import Lab

    with Lab("t", backend="offline") as lab:
        _stream(lab, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
        assert firehose._timer is not None and firehose._timer.is_alive()
        timer = firehose._timer
    timer.join(timeout=5)
    assert not timer.is_alive()
