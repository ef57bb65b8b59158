"""Offline Glue crawler: classification, schema, partitions, schema-change policy, states."""

from __future__ import annotations

import gzip
import io
import json
import time
from typing import Any

import pytest

from tests.hang import HANG_GUARD_S


def _wait_crawler(glue: Any, name: str, timeout: float = HANG_GUARD_S) -> dict[str, Any]:
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = glue.get_crawler(Name=name)["Crawler"]
        if not seen or seen[-1] != c["State"]:
            seen.append(c["State"])
        if c["State"] == "READY" and "LastCrawl" in c:
            c["_seen"] = seen
            return c
        time.sleep(0.05)
    raise AssertionError(f"crawler {name} did not finish: states {seen}")


def _crawler(lab: Any, name: str, path: str, **kw: Any) -> Any:
    glue = lab.client("glue")
    glue.create_crawler(
        Name=name,
        Role=lab.role_arn,
        DatabaseName=kw.pop("db", "lake"),
        Targets={"S3Targets": [{"Path": path}]},
        **kw,
    )
    return glue


def _csv_bytes(rows: list[list[Any]], header: list[str] | None) -> bytes:
    lines = ([",".join(header)] if header else []) + [",".join(str(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def s3(lab: Any) -> Any:
    return lab.client("s3")


def test_csv_with_header_and_hive_partitions(lab: Any, s3: Any) -> None:
    for day in ("2024-01-01", "2024-01-02"):
        body = _csv_bytes(
            [[i, f"n{i}", i * 1.5, "true", "2024-01-01 10:00:00"] for i in range(5)],
            ["id", "name", "price", "flag", "ts"],
        )
        s3.put_object(Bucket=lab.bucket, Key=f"raw/sales/dt={day}/part-0.csv", Body=body)
    glue = _crawler(lab, "c1", f"s3://{lab.bucket}/raw/sales/", TablePrefix="raw_")
    glue.start_crawler(Name="c1")
    assert glue.get_crawler(Name="c1")["Crawler"]["State"] in {"RUNNING", "STOPPING", "READY"}
    c = _wait_crawler(glue, "c1")
    assert c["LastCrawl"]["Status"] == "SUCCEEDED", c["LastCrawl"]
    assert c["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers"
    t = glue.get_table(DatabaseName="lake", Name="raw_sales")["Table"]
    cols = [(x["Name"], x["Type"]) for x in t["StorageDescriptor"]["Columns"]]
    assert cols == [
        ("id", "bigint"),
        ("name", "string"),
        ("price", "double"),
        ("flag", "boolean"),
        ("ts", "timestamp"),
    ]
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    sd = t["StorageDescriptor"]
    assert sd["Location"] == f"s3://{lab.bucket}/raw/sales/"
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("LazySimpleSerDe")
    assert sd["SerdeInfo"]["Parameters"]["field.delim"] == ","
    assert sd["SerdeInfo"]["Parameters"]["skip.header.line.count"] == "1"
    p = t["Parameters"]
    assert p["classification"] == "csv" and p["recordCount"] == "10" and p["objectCount"] == "2"
    parts = glue.get_partitions(DatabaseName="lake", TableName="raw_sales")["Partitions"]
    assert sorted(x["Values"][0] for x in parts) == ["2024-01-01", "2024-01-02"]
    loc = {x["Values"][0]: x["StorageDescriptor"]["Location"] for x in parts}
    assert loc["2024-01-02"] == f"s3://{lab.bucket}/raw/sales/dt=2024-01-02/"
    m = glue.get_crawler_metrics(CrawlerNameList=["c1"])["CrawlerMetricsList"][0]
    assert m["TablesCreated"] == 1 and m["TablesUpdated"] == 0
    logs = lab.client("logs").get_log_events(logGroupName="/aws-glue/crawlers", logStreamName="c1")
    assert any("Created table raw_sales" in e["message"] for e in logs["events"])


def test_csv_without_header_all_strings(lab: Any, s3: Any) -> None:
    s3.put_object(Bucket=lab.bucket, Key="names/a.csv", Body=b"alice,paris\nbob,rome\n")
    glue = _crawler(lab, "c2", f"s3://{lab.bucket}/names/")
    glue.start_crawler(Name="c2")
    _wait_crawler(glue, "c2")
    t = glue.get_table(DatabaseName="lake", Name="names")["Table"]
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["col0", "col1"]
    assert "skip.header.line.count" not in t["StorageDescriptor"]["SerdeInfo"]["Parameters"]


def test_json_nested_gzip_and_parquet_tables(lab: Any, s3: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = [
        {"id": i, "user": {"name": f"u{i}", "age": 20 + i}, "tags": ["a", "b"], "score": 0.5}
        for i in range(4)
    ]
    body = gzip.compress(("\n".join(json.dumps(r) for r in recs) + "\n").encode())
    s3.put_object(Bucket=lab.bucket, Key="lake/events/2024/01/e.json.gz", Body=body)
    buf = io.BytesIO()
    pq.write_table(pa.table({"k": [1, 2, 3], "v": ["x", "y", "z"]}), buf)
    s3.put_object(Bucket=lab.bucket, Key="lake/metrics/m.parquet", Body=buf.getvalue())
    glue = _crawler(lab, "c3", f"s3://{lab.bucket}/lake/")
    glue.start_crawler(Name="c3")
    _wait_crawler(glue, "c3")
    ev = glue.get_table(DatabaseName="lake", Name="events")["Table"]
    cols = {c["Name"]: c["Type"] for c in ev["StorageDescriptor"]["Columns"]}
    assert cols == {
        "id": "bigint",
        "user": "struct<name:string,age:bigint>",
        "tags": "array<string>",
        "score": "double",
    }
    assert [k["Name"] for k in ev["PartitionKeys"]] == ["partition_0", "partition_1"]
    assert ev["Parameters"]["compressionType"] == "gzip"
    assert (
        ev["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        == "org.openx.data.jsonserde.JsonSerDe"
    )
    parts = glue.get_partitions(DatabaseName="lake", TableName="events")["Partitions"]
    assert parts[0]["Values"] == ["2024", "01"]
    mt = glue.get_table(DatabaseName="lake", Name="metrics")["Table"]
    assert mt["Parameters"]["classification"] == "parquet"
    assert {c["Name"]: c["Type"] for c in mt["StorageDescriptor"]["Columns"]} == {
        "k": "bigint",
        "v": "string",
    }
    assert "Parquet" in mt["StorageDescriptor"]["InputFormat"]


def test_schema_change_policies(lab: Any, s3: Any) -> None:
    s3.put_object(Bucket=lab.bucket, Key="t/a.csv", Body=_csv_bytes([[1, 2]], ["a", "b"]))
    glue = _crawler(
        lab,
        "c4",
        f"s3://{lab.bucket}/t/",
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    glue.start_crawler(Name="c4")
    _wait_crawler(glue, "c4")
    s3.put_object(Bucket=lab.bucket, Key="t/a.csv", Body=_csv_bytes([[1, 2, 3]], ["a", "b", "c"]))
    glue.start_crawler(Name="c4")
    _wait_crawler(glue, "c4")
    t = glue.get_table(DatabaseName="lake", Name="t")["Table"]
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["a", "b"]  # LOG: kept
    glue.update_crawler(
        Name="c4",
        SchemaChangePolicy={
            "UpdateBehavior": "UPDATE_IN_DATABASE",
            "DeleteBehavior": "DELETE_FROM_DATABASE",
        },
    )
    glue.start_crawler(Name="c4")
    _wait_crawler(glue, "c4")
    t = glue.get_table(DatabaseName="lake", Name="t")["Table"]
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["a", "b", "c"]
    assert (
        glue.get_crawler_metrics(CrawlerNameList=["c4"])["CrawlerMetricsList"][0]["TablesUpdated"]
        == 1
    )
    s3.delete_object(Bucket=lab.bucket, Key="t/a.csv")
    glue.start_crawler(Name="c4")
    _wait_crawler(glue, "c4")
    assert glue.get_tables(DatabaseName="lake")["TableList"] == []
    assert (
        glue.get_crawler_metrics(CrawlerNameList=["c4"])["CrawlerMetricsList"][0]["TablesDeleted"]
        == 1
    )


def test_deprecate_and_failed_crawl(lab: Any, s3: Any) -> None:
    s3.put_object(Bucket=lab.bucket, Key="d/x.csv", Body=_csv_bytes([[1, 2]], ["a", "b"]))
    glue = _crawler(lab, "c5", f"s3://{lab.bucket}/d/")
    glue.start_crawler(Name="c5")
    _wait_crawler(glue, "c5")
    s3.delete_object(Bucket=lab.bucket, Key="d/x.csv")
    glue.start_crawler(Name="c5")
    _wait_crawler(glue, "c5")
    t = glue.get_table(DatabaseName="lake", Name="d")["Table"]
    assert "DEPRECATED_BY_CRAWLER" in t["Parameters"]
    glue.create_crawler(
        Name="bad",
        Role=lab.role_arn,
        DatabaseName="lake",
        Targets={"S3Targets": [{"Path": "s3://no-such-bucket-x/p/"}]},
    )
    glue.start_crawler(Name="bad")
    c = _wait_crawler(glue, "bad")
    assert c["LastCrawl"]["Status"] == "FAILED"
    assert "bucket does not exist" in c["LastCrawl"]["ErrorMessage"]


def test_crawler_already_running(lab: Any, s3: Any) -> None:
    from botocore.exceptions import ClientError

    import mllab.offline.glue as g

    s3.put_object(Bucket=lab.bucket, Key="r/x.csv", Body=_csv_bytes([[1, 2]], ["a", "b"]))
    glue = _crawler(lab, "c6", f"s3://{lab.bucket}/r/")
    old = g.STOPPING_SECONDS
    g.STOPPING_SECONDS = 0.5
    try:
        glue.start_crawler(Name="c6")
        with pytest.raises(ClientError) as e:
            glue.start_crawler(Name="c6")
        assert e.value.response["Error"]["Code"] == "CrawlerRunningException"
        c = _wait_crawler(glue, "c6")
        assert "STOPPING" in c["_seen"]
    finally:
        g.STOPPING_SECONDS = old


def test_recrawl_new_folders_only(lab: Any, s3: Any) -> None:
    s3.put_object(Bucket=lab.bucket, Key="n/dt=1/a.csv", Body=_csv_bytes([[1, 2]], ["a", "b"]))
    glue = _crawler(
        lab,
        "c7",
        f"s3://{lab.bucket}/n/",
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    glue.start_crawler(Name="c7")
    _wait_crawler(glue, "c7")
    s3.put_object(
        Bucket=lab.bucket, Key="n/dt=2/a.csv", Body=_csv_bytes([[1, 2, 3]], ["a", "b", "c"])
    )
    glue.start_crawler(Name="c7")
    _wait_crawler(glue, "c7")
    t = glue.get_table(DatabaseName="lake", Name="n")["Table"]
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["a", "b"]
    parts = glue.get_partitions(DatabaseName="lake", TableName="n")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["1", "2"]
