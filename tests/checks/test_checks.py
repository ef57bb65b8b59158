"""Check cells on real offline state: verdict lines, progress records, inspectors, cleanup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mllab import checks
from mllab.checks import CheckFailed, requirement
from mllab.study.store import Store


def _results() -> list[dict[str, Any]]:
    with Store() as s:
        return s.lab_results()


def test_pass_prints_line_and_records(lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with requirement(lab, "01-x#bucket", mls=["1.1"], mla=["1.2"]) as req:
        req.expect(True, "never shown")
        req.note("bucket exists")
    assert capsys.readouterr().out.strip() == "PASS test-lab#bucket: bucket exists"
    (row,) = _results()
    assert (row["lab"], row["requirement"], row["passed"]) == ("test-lab", "bucket", True)
    assert row["mls"] == ["1.1"] and row["mla"] == ["1.2"]
    assert req.passed is True


def test_miss_raises_checkfailed_with_message(lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CheckFailed) as info:
        with requirement(lab, "shards") as req:
            req.expect(False, "the stream has 1 shard; it needs 2 (kinesis.update_shard_count)")
    assert isinstance(info.value, AssertionError)
    assert str(info.value).startswith("test-lab#shards: the stream has 1 shard")
    out = capsys.readouterr().out
    assert out.startswith("MISS test-lab#shards: the stream has 1 shard")
    assert checks.parse_results(out)[0][:2] == ("MISS", "test-lab#shards")
    assert _results()[0]["passed"] is False


def test_plain_assert_and_other_errors_become_checkfailed(lab: Any) -> None:
    with pytest.raises(CheckFailed, match="x must be 2"):
        with requirement(lab, "a"):
            raise AssertionError("x must be 2")
    with pytest.raises(CheckFailed, match="KeyError"):
        with requirement(lab, "b"):
            raise KeyError("Contents")


def test_not_implemented_propagates_unchanged(lab: Any) -> None:
    with pytest.raises(NotImplementedError):
        with requirement(lab, "todo"):
            raise NotImplementedError()
    assert _results()[0]["detail"].startswith("not attempted")


def test_decorator_form_runs_at_once(lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    @requirement(lab, "deco")
    def check() -> int:
        return 3

    assert check == 3
    assert "PASS test-lab#deco" in capsys.readouterr().out


def test_bad_key_is_refused(lab: Any) -> None:
    with pytest.raises(ValueError):
        requirement(lab, "two words")


def test_stream_and_cleanup(lab: Any) -> None:
    with pytest.raises(CheckFailed, match="Kinesis stream 'clicks' was not found"):
        checks.stream(lab, "clicks")
    k = lab.client("kinesis")
    k.create_stream(StreamName="clicks", ShardCount=2)
    k.increase_stream_retention_period(StreamName="clicks", RetentionPeriodHours=48)
    s = checks.stream(lab, "clicks")
    assert (s.shard_count, s.retention_hours, s.mode) == (2, 48, "PROVISIONED")
    left = checks.billable_leftovers(lab)
    assert [(r.kind, r.name) for r in left] == [("stream", "clicks")]
    with pytest.raises(CheckFailed, match="kinesis.delete_stream"):
        checks.nothing_billable_left(lab)
    k.delete_stream(StreamName="clicks")
    assert checks.nothing_billable_left(lab) == "nothing billable left by this lab run"


def test_delivery_stream_and_s3_objects(lab: Any) -> None:
    fh = lab.client("firehose")
    fh.create_delivery_stream(
        DeliveryStreamName="clicks-to-s3",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": lab.role_arn,
            "BucketARN": f"arn:aws:s3:::{lab.bucket}",
            "Prefix": "raw/clicks/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60},
            "CompressionFormat": "GZIP",
        },
    )
    d = checks.delivery_stream(lab, "clicks-to-s3")
    assert (d.bucket, d.prefix, d.compression) == (lab.bucket, "raw/clicks/", "GZIP")
    assert (d.buffer_mb, d.buffer_seconds, d.source) == (5, 60, "DirectPut")
    assert d.format_conversion is None
    with pytest.raises(CheckFailed, match="delete_delivery_stream"):
        checks.nothing_billable_left(lab)
    fh.delete_delivery_stream(DeliveryStreamName="clicks-to-s3")
    checks.nothing_billable_left(lab)
    s3 = lab.client("s3")
    for i in range(3):
        s3.put_object(Bucket=lab.bucket, Key=f"raw/x/{i}.json", Body=b"{}\n")
    objs = checks.s3_objects(lab, "raw/x/", at_least=3)
    assert len(objs) == 3 and objs.total_bytes == 9
    assert objs.read(lab, "raw/x/0.json") == b"{}\n"
    with pytest.raises(CheckFailed, match="at least 4"):
        checks.s3_objects(lab, "raw/x/", at_least=4)


def test_glue_table(lab: Any) -> None:
    glue = lab.client("glue")
    glue.create_database(DatabaseInput={"Name": "clicks_db"})
    glue.create_table(
        DatabaseName="clicks_db",
        TableInput={
            "Name": "events",
            "StorageDescriptor": {
                "Columns": [{"Name": "user_id", "Type": "string"}],
                "Location": f"s3://{lab.bucket}/raw/",
            },
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "Parameters": {"classification": "json"},
        },
    )
    glue.create_partition(
        DatabaseName="clicks_db",
        TableName="events",
        PartitionInput={"Values": ["2025-03-01"], "StorageDescriptor": {"Columns": []}},
    )
    t = checks.glue_table(lab, "clicks_db", "events")
    assert t.columns == {"user_id": "string"} and t.partition_keys == {"dt": "string"}
    assert t.partitions == [["2025-03-01"]] and t.classification == "json"
    with pytest.raises(CheckFailed, match="clicks_db.nope"):
        checks.glue_table(lab, "clicks_db", "nope")


def test_iam_policy_of_the_lab_role(lab: Any) -> None:
    facts = checks.iam_policy(lab, lab.role_arn)
    assert facts.allows("s3:GetObject") and not facts.allows("s3:DeleteBucket")
    assert "sagemaker.amazonaws.com" in facts.trusted
    assert any(r.startswith("MetricsAndImagePulls") for r in facts.wildcard_resources)
    assert facts.wildcard_actions == []
    lab.client("iam").put_role_policy(
        RoleName=facts.role,
        PolicyName="too-broad",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    assert checks.iam_policy(lab, facts.role).wildcard_actions == ["s3:*"]


def test_missing_sagemaker_resources_say_how_to_find_out(lab: Any) -> None:
    with pytest.raises(CheckFailed, match="list_training_jobs"):
        checks.training_job(lab, "nope", wait=0)
    with pytest.raises(CheckFailed, match="list_endpoints"):
        checks.endpoint(lab, "nope", wait=0)
    with pytest.raises(CheckFailed, match="create_model_package_group"):
        checks.model_package(lab, "nope")


def test_logs_tail(lab: Any) -> None:
    import time

    now = int(time.time() * 1000)  # CloudWatch rejects events older than 14 days
    logs = lab.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="job-1/algo-1-1700000000")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="job-1/algo-1-1700000000",
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(30)],
    )
    tail = checks.job_logs(lab, "job-1", n=5)
    assert tail.lines == [f"line {i}" for i in range(25, 30)]
    assert tail.contains("LINE 29") and "job-1/algo-1" in str(tail)
    with pytest.raises(CheckFailed, match="no log stream"):
        checks.logs_tail(lab, group, "job-2/")


def test_choice_hashed_key(tmp_path: Path, lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "choices.json"
    from mllab.checks.choices import main

    assert (
        main(
            [
                "add",
                "01-hot-shard",
                "--answer",
                "B",
                "--why",
                "A=More retention does not spread load.",
                "--why",
                "B=A random partition key spreads records over shards.",
                "--why",
                "C=Consumers do not change how records are placed.",
                "--mls",
                "1.2",
                "--mla",
                "1.1",
                "--key-file",
                str(key),
            ]
        )
        == 0
    )
    text = key.read_text()
    assert "random partition key" not in text and '"B"' in text  # options listed, answer hidden
    with pytest.raises(CheckFailed, match="A is not right. A: More retention"):
        checks.choice("01-hot-shard", "a", lab, key_file=key)
    with pytest.raises(CheckFailed, match="not an option"):
        checks.choice("01-hot-shard", "E", lab, key_file=key)
    assert "random partition key" in checks.choice("01-hot-shard", "B", lab, key_file=key)
    assert "PASS test-lab#choice-01-hot-shard" in capsys.readouterr().out
    rows = {r["requirement"]: r for r in _results()}
    assert rows["choice-01-hot-shard"]["passed"] is True
    assert rows["choice-01-hot-shard"]["mls"] == ["1.2"]
    with pytest.raises(CheckFailed, match="unknown question"):
        checks.choice("no-such-question", "A", key_file=key)
