"""Allowed requests are tagged and recorded; actual use is recorded when known."""

from __future__ import annotations

from typing import Any

import pytest

from tests.guard.test_guard_refusals import training


def test_training_job_tagged_and_recorded(lab: Any) -> None:
    sm = lab.client("sagemaker")
    arn = sm.create_training_job(**training())["TrainingJobArn"]
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["mllab:lab"] == "test-lab"
    assert tags["mllab:run"] == lab.run_id
    assert "mllab:created" in tags
    rows = lab.ledger.rows(run=lab.run_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row.service, row.operation, row.resource, row.arn) == (
        "sagemaker",
        "CreateTrainingJob",
        "guarded",
        arn,
    )
    assert row.estimate_usd == pytest.approx(0.115 * 600 / 3600)
    assert row.backend == "offline"


def test_learner_tags_are_kept_beside_ours(lab: Any) -> None:
    sm = lab.client("sagemaker")
    req = training()
    req["Tags"] = [{"Key": "team", "Value": "fraud"}]
    arn = sm.create_training_job(**req)["TrainingJobArn"]
    keys = {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert {"team", "mllab:lab", "mllab:run", "mllab:created"} <= keys


def test_map_shaped_tags_injected_for_kinesis(lab: Any) -> None:
    kinesis = lab.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    tags = {t["Key"]: t["Value"] for t in kinesis.list_tags_for_stream(StreamName="clicks")["Tags"]}
    assert tags["mllab:run"] == lab.run_id
    row = lab.ledger.latest_for("clicks", run=lab.run_id)
    assert row is not None
    assert row.estimate_usd == pytest.approx(2 * 0.015 * 1.0)


def test_stream_deletion_records_actual_use(lab: Any) -> None:
    kinesis = lab.client("kinesis")
    kinesis.create_stream(StreamName="short", ShardCount=1)
    kinesis.delete_stream(StreamName="short")
    row = lab.ledger.latest_for("short", run=lab.run_id)
    assert row is not None and row.actual_usd is not None
    assert 0 <= row.actual_usd < row.estimate_usd


def test_spent_and_remaining(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_training_job(**training())
    cost = lab.cost()
    assert cost["spent_usd"] == pytest.approx(0.115 * 600 / 3600)
    assert cost["remaining_usd"] == pytest.approx(5 - cost["spent_usd"])


def test_extended_retention_is_priced_per_shard_hour(lab: Any) -> None:
    kinesis = lab.client("kinesis")
    kinesis.create_stream(StreamName="replay", ShardCount=3)
    kinesis.increase_stream_retention_period(StreamName="replay", RetentionPeriodHours=168)
    row = lab.ledger.latest_for("replay#retention", run=lab.run_id)
    assert row is not None
    assert row.estimate_usd == pytest.approx(3 * 0.02 * 1.0)
