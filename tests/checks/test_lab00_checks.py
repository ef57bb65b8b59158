"""Lab 00's checks (``mllab.checks.lab00``) on prepared states: wrong and faked ones MISS,
valid alternatives PASS.

States are built with boto3 against an offline lab (cheap calls; the drill trains tiny
XGBoost jobs on 400 rows), not by rerunning the notebook. The fakes of issue 14 are here: a
CostGuardError constructed or raised by hand, a rounded ``spent``, a stream whose ledger row
or run tag is missing, a stream whose tags were stripped before teardown.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from mllab.checks import lab00 as c
from tests.checks.verdicts import outcome

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NOTE = "notes/pledge.txt"
STREAM = "orientation-clicks"


def put(lab: Any, key: str, body: bytes, bucket: str | None = None) -> None:
    lab.client("s3").put_object(Bucket=bucket or lab.bucket, Key=key, Body=body)


# --------------------------------------------------------------------------- requirement 1
def test_bucket_note_states(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # wrong: nothing stored
    assert "no object notes/pledge.txt" in outcome(c.verify_bucket_note, lab)
    # wrong: the right sentence under another key
    put(lab, "notes/pledge", c.PLEDGE)
    put(lab, "pledge.txt", c.PLEDGE)
    assert "no object notes/pledge.txt" in outcome(c.verify_bucket_note, lab)
    # wrong: another bucket
    lab.client("s3").create_bucket(Bucket="someone-elses-bucket")
    put(lab, NOTE, c.PLEDGE, bucket="someone-elses-bucket")
    assert "no object notes/pledge.txt" in outcome(c.verify_bucket_note, lab)
    # fake: a local file of that name is not the bucket
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / NOTE).write_bytes(c.PLEDGE)
    assert "no object notes/pledge.txt" in outcome(c.verify_bucket_note, lab)
    # wrong: another sentence, a trailing newline, an empty object
    for body in (b"I will tear down what I create", c.PLEDGE + b"\n", b""):
        put(lab, NOTE, body)
        assert "store exactly" in outcome(c.verify_bucket_note, lab)
    # alternative: upload_fileobj with a content type (the sentence exactly)
    lab.client("s3").upload_fileobj(
        io.BytesIO(c.PLEDGE), lab.bucket, NOTE, ExtraArgs={"ContentType": "text/plain"}
    )
    assert outcome(c.verify_bucket_note, lab) == "PASS"


# --------------------------------------------------------------------------- requirement 2
def risky(lab: Any, **change: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": "colleague-gpu-job",
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "TrainingInputMode": "File",
        },
        "RoleArn": lab.role_arn,
        "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/orientation/output"},
        "ResourceConfig": {
            "InstanceType": "ml.p3.2xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 5 * 24 * 3600},
        "HyperParameters": {"num_round": "5", "objective": "binary:logistic"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{lab.bucket}/orientation/train/",
                    }
                },
            }
        ],
        **change,
    }


def refused(client: Any, request: dict[str, Any]) -> Any:
    from mllab import CostGuardError

    try:
        client.create_training_job(**request)
    except CostGuardError as err:
        return err
    return None


def test_refusal_states(lab: Any) -> None:
    import boto3

    from mllab import CostGuardError

    real = refused(boto3.client("sagemaker"), risky(lab))
    assert real is not None
    assert outcome(c.verify_refusal, lab, real) == "PASS"
    # alternative: through lab.client, the GPU refused with a bounded runtime (another reason)
    alt = refused(
        lab.client("sagemaker"), risky(lab, StoppingCondition={"MaxRuntimeInSeconds": 600})
    )
    assert alt is not None and alt.reason != real.reason
    assert outcome(c.verify_refusal, lab, alt) == "PASS"
    # wrong: nothing caught, another exception
    assert "`refusal` is NoneType" in outcome(c.verify_refusal, lab, None)
    assert "`refusal` is ValueError" in outcome(c.verify_refusal, lab, ValueError("no"))
    # wrong: the guard refused another job name / another operation
    other = refused(lab.client("sagemaker"), risky(lab, TrainingJobName="my-own-job"))
    assert "not 'colleague-gpu-job'" in outcome(c.verify_refusal, lab, other)
    try:
        lab.client("sagemaker").create_endpoint_config(
            EndpointConfigName="gpu",
            ProductionVariants=[
                {
                    "VariantName": "a",
                    "ModelName": "m",
                    "InstanceType": "ml.p3.2xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        raise AssertionError("the guard should refuse a GPU endpoint config")
    except CostGuardError as err:
        assert "not sagemaker:CreateTrainingJob" in outcome(c.verify_refusal, lab, err)
    # fake: a CostGuardError constructed by hand, and one raised by hand
    hand = CostGuardError("sagemaker:CreateTrainingJob", real.reason, real.fix)
    assert "not raised by the cost guard" in outcome(c.verify_refusal, lab, hand)
    try:
        raise CostGuardError("sagemaker:CreateTrainingJob", real.reason, real.fix)
    except CostGuardError as err:
        assert "not raised by the cost guard" in outcome(c.verify_refusal, lab, err)
    # wrong: refused once, then sent under that name after all (the job exists)
    lab.client("sagemaker").create_training_job(
        **risky(
            lab,
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    )
    assert "exists in the account" in outcome(c.verify_refusal, lab, real)


# --------------------------------------------------------------------------- requirement 3
def create_stream(lab: Any, name: str = STREAM, **kw: Any) -> None:
    k = lab.client("kinesis")
    k.create_stream(StreamName=name, **kw)
    k.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})


def test_stream_states(lab: Any) -> None:
    k = lab.client("kinesis")
    # wrong: no stream
    assert "Kinesis stream 'orientation-clicks'" in outcome(c.verify_stream, lab)
    # wrong: on-demand, two shards
    create_stream(lab, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert "create it in PROVISIONED mode" in outcome(c.verify_stream, lab)
    k.delete_stream(StreamName=STREAM)
    create_stream(lab, ShardCount=2, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert "2 open shards" in outcome(c.verify_stream, lab)
    k.delete_stream(StreamName=STREAM)
    # alternative: one shard, provisioned by default (no StreamModeDetails)
    create_stream(lab, ShardCount=1)
    assert outcome(c.verify_stream, lab) == "PASS"
    # fake: another run's tag written over the guard's
    k.add_tags_to_stream(StreamName=STREAM, Tags={"mllab:run": "20260101T000000-abcdef"})
    assert "is not tagged mllab:lab" in outcome(c.verify_stream, lab)
    k.add_tags_to_stream(StreamName=STREAM, Tags={"mllab:run": lab.run_id})
    assert outcome(c.verify_stream, lab) == "PASS"
    # fake: tagged by hand but never priced in this run (its ledger rows moved to another run)
    with lab.ledger._connect() as db:
        db.execute(
            "UPDATE charges SET run = ? WHERE resource = ? AND run = ?",
            ("20260101T000000-abcdef", STREAM, lab.run_id),
        )
    assert "no CreateStream row" in outcome(c.verify_stream, lab)


# --------------------------------------------------------------------------- requirement 4
def churn() -> Any:
    from mllab.datasets import telecom_customers

    df = telecom_customers(400, seed=0)[
        ["churned", "tenure_months", "monthly_spend", "support_calls"]
    ].dropna()
    df["churned"] = df["churned"].astype(int)
    return df


def csv(df: Any, **kw: Any) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, **kw)
    return buf.getvalue().encode()


def drill_request(lab: Any, name: str, prefix: str = "orientation/train/") -> dict[str, Any]:
    from sagemaker.core import image_uris

    image = image_uris.retrieve("xgboost", region=lab.region, version="1.7-1")
    channel = {
        "ChannelName": "train",
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{lab.bucket}/{prefix}"}
        },
    }
    return risky(
        lab,
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        InputDataConfig=[channel],
    )


def run(lab: Any, request: dict[str, Any]) -> str:
    from botocore.exceptions import WaiterError

    sm = lab.client("sagemaker")
    sm.create_training_job(**request)
    try:
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=request["TrainingJobName"],
            WaiterConfig={"Delay": 1, "MaxAttempts": 300},
        )
    except WaiterError:
        pass  # a failed job is a state under test
    return str(request["TrainingJobName"])


def test_drill_states(lab: Any) -> None:
    df = churn()
    key = "orientation/train/data.csv"
    put(lab, key, csv(df))  # pandas' defaults: a header row and the index
    broken = run(lab, drill_request(lab, lab.job_name("orientation-drill")))

    def judge(name: str, data: Any = df) -> str:
        return outcome(c.verify_drill, lab, broken, name, data, "churned")

    def fixed(name: str, **change: Any) -> str:
        return run(lab, {**drill_request(lab, lab.job_name(name)), **change})

    # wrong: the fix not run yet
    assert lab.job_name("not-run") in judge(lab.job_name("not-run"))
    put(lab, key, csv(df, header=False, index=False))
    good = fixed("fixed")
    assert judge(good) == "PASS"
    # alternative: label moved first explicitly, floats written with a format
    other = df[["tenure_months", "churned", "monthly_spend", "support_calls"]]
    first = other[["churned", *(col for col in other.columns if col != "churned")]]
    put(lab, key, csv(first, header=False, index=False, float_format="%.6f"))
    assert judge(fixed("fixed-alt")) == "PASS"
    # wrong: other hyperparameters (the job completes)
    got = judge(
        fixed("fixed-hp", HyperParameters={"num_round": "3", "objective": "binary:logistic"})
    )
    assert "differs from" in got and "the hyperparameters" in got
    # wrong: a bigger instance
    got = judge(
        fixed(
            "fixed-big",
            ResourceConfig={
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
        )
    )
    assert "in ResourceConfig" in got
    # fake: good data under another prefix, the drill's data never repaired
    put(lab, key, csv(df))
    put(lab, "orientation/elsewhere/data.csv", csv(df, header=False, index=False))
    got = judge(
        run(lab, drill_request(lab, lab.job_name("fixed-elsewhere"), "orientation/elsewhere/"))
    )
    assert "in the channels" in got
    # wrong: the header dropped but the index kept (completes on one column too many)
    put(lab, key, csv(df, header=False))
    got = judge(fixed("fixed-index"))
    assert "is Failed" in got or "no index column" in got
    # wrong: the data rewritten after the fixed job ran
    put(lab, key, csv(df, header=False, index=False))
    assert "was created" in judge(good)


# --------------------------------------------------------------------------- requirement 5
def test_ledger_states(lab: Any) -> None:
    import numpy as np

    create_stream(lab, ShardCount=1)
    early = lab.cost()["spent_usd"]
    sm = lab.client("sagemaker")
    first = lab.job_name("orientation-drill")
    # wrong: the spend read before the jobs (their rows come later)
    run(lab, drill_request(lab, first))  # no data: fails at once
    assert "the ledger should show the stream and 2 training jobs" in outcome(
        c.verify_ledger, lab, lab.cost()["spent_usd"]
    )
    run(lab, drill_request(lab, lab.job_name("orientation-drill-fixed")))
    sm.describe_training_job(TrainingJobName=first)
    spent = lab.cost()["spent_usd"]
    assert outcome(c.verify_ledger, lab, spent) == "PASS"
    # alternatives: summed from the rows, a numpy float
    total = sum(r.charged_usd for r in lab.ledger.rows(run=lab.run_id))
    assert outcome(c.verify_ledger, lab, total) == "PASS"
    assert outcome(c.verify_ledger, lab, np.float64(spent)) == "PASS"
    # wrong: the earlier figure, a string, a bool
    assert "this run's ledger charged" in outcome(c.verify_ledger, lab, early)
    assert "keep the dollars as a number" in outcome(c.verify_ledger, lab, f"${spent:.4f}")
    assert "keep the dollars as a number" in outcome(c.verify_ledger, lab, True)
    # fake: the printed figure typed back by hand
    assert "this run's ledger charged" in outcome(c.verify_ledger, lab, float(f"{spent:.4f}"))
    assert "this run's ledger charged" in outcome(c.verify_ledger, lab, 0.0)
    # wrong: the stream's row is missing (a stream created outside this run)
    assert "no row for ['other-stream']" in outcome(c.verify_ledger, lab, spent, ["other-stream"])


# --------------------------------------------------------------------------- requirement 6
def test_teardown_states(lab: Any) -> None:
    k = lab.client("kinesis")
    # wrong: the stream left
    create_stream(lab, ShardCount=1)
    assert "orientation-clicks" in outcome(c.verify_teardown, lab)
    # fake: its tags stripped, so a tag search misses it (the guard's record does not)
    k.remove_tags_from_stream(StreamName=STREAM, TagKeys=["mllab:lab", "mllab:run"])
    assert "orientation-clicks" in outcome(c.verify_teardown, lab)
    lab.teardown()
    assert outcome(c.verify_teardown, lab) == "PASS"
    # wrong: a stream created again after the teardown
    create_stream(lab, "orientation-clicks-2", ShardCount=1)
    assert "orientation-clicks-2" in outcome(c.verify_teardown, lab)
    # alternative: deleted by hand
    k.delete_stream(StreamName="orientation-clicks-2")
    assert outcome(c.verify_teardown, lab) == "PASS"
    # wrong: a Firehose delivery stream left
    lab.client("firehose").create_delivery_stream(
        DeliveryStreamName="orientation-delivery",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": lab.role_arn,
            "BucketARN": f"arn:aws:s3:::{lab.bucket}",
            "Prefix": "orientation/firehose/",
        },
    )
    assert "orientation-delivery" in outcome(c.verify_teardown, lab)
