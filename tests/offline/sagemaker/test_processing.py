"""Offline processing jobs: the learner's script on the scikit-learn image, and in-process work."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from tests.hang import wait_for_job

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

PREPROCESS = textwrap.dedent(
    """
    import argparse, os, csv
    p = argparse.ArgumentParser()
    p.add_argument("--train-ratio", type=float, default=0.5)
    p.add_argument("--out", default="/opt/ml/processing/train")
    a = p.parse_args()
    rows = list(csv.reader(open("/opt/ml/processing/input/data/raw.csv")))   # hard-coded container path
    header, rows = rows[0], rows[1:]
    cut = int(len(rows) * a.train_ratio)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "train.csv"), "w") as f:
        f.writelines(",".join(r) + "\\n" for r in rows[:cut])
    with open("/opt/ml/processing/test/test.csv", "w") as f:
        f.writelines(",".join(r) + "\\n" for r in rows[cut:])
    print(f"wrote {cut} train rows and {len(rows) - cut} test rows; header dropped: {header}")
    """
)


def _wait(sm: Any, name: str) -> dict[str, Any]:
    return wait_for_job(sm, "processing", name)


def _request(
    lab: Any, name: str, script: str, args: list[str] | None = None, **kw: Any
) -> dict[str, Any]:
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key=f"proc/{name}/code/preprocess.py", Body=script.encode())
    s3.put_object(
        Bucket=lab.bucket,
        Key="proc/raw/raw.csv",
        Body=b"y,a\n" + b"".join(f"{i % 2},{i}\n".encode() for i in range(10)),
    )
    req: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{lab.bucket}/proc/{name}/code/preprocess.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{lab.bucket}/proc/raw/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": f"s3://{lab.bucket}/proc/{name}/train",
                        "LocalPath": "/opt/ml/processing/train",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "test",
                    "S3Output": {
                        "S3Uri": f"s3://{lab.bucket}/proc/{name}/test",
                        "LocalPath": "/opt/ml/processing/test",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
        },
        "RoleArn": lab.role_arn,
    }
    if args:
        req["AppSpecification"]["ContainerArguments"] = args
    req.update(kw)
    return req


def test_sklearn_processing_script(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_processing_job(
        **_request(
            lab,
            "prep-ok",
            PREPROCESS,
            ["--train-ratio", "0.8", "--out", "/opt/ml/processing/train"],
        )
    )
    d = _wait(sm, "prep-ok")
    assert d["ProcessingJobStatus"] == "Completed", d
    assert d["ProcessingStartTime"] <= d["ProcessingEndTime"]
    s3 = lab.client("s3")
    train = (
        s3.get_object(Bucket=lab.bucket, Key="proc/prep-ok/train/train.csv")["Body"].read().decode()
    )
    test = (
        s3.get_object(Bucket=lab.bucket, Key="proc/prep-ok/test/test.csv")["Body"].read().decode()
    )
    assert len(train.splitlines()) == 8 and len(test.splitlines()) == 2
    logs = lab.client("logs")
    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix="prep-ok/"
    )["logStreams"][0]
    text = "\n".join(
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"]
        )["events"]
    )
    assert "wrote 8 train rows and 2 test rows" in text
    assert "prep-ok" in [
        j["ProcessingJobName"]
        for j in sm.list_processing_jobs(StatusEquals="Completed")["ProcessingJobSummaries"]
    ]


def test_processing_script_failure(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_processing_job(**_request(lab, "prep-err", "import os\nraise KeyError('label')\n"))
    d = _wait(sm, "prep-err")
    assert d["ProcessingJobStatus"] == "Failed"
    assert d["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert "KeyError" in d["ExitMessage"]


def test_processing_validation_and_runtime(lab: Any) -> None:
    from botocore.exceptions import ClientError

    sm = lab.client("sagemaker")
    bad = _request(lab, "prep-bad", PREPROCESS)
    bad["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/tmp/code"
    with pytest.raises(ClientError, match="/opt/ml/processing"):
        sm.create_processing_job(**bad)
    slow = _request(
        lab,
        "prep-slow",
        "import time\ntime.sleep(60)\n",
        StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    sm.create_processing_job(**slow)
    d = _wait(sm, "prep-slow")
    assert d["ProcessingJobStatus"] == "Stopped"


def test_run_processing_job_with_callable(lab: Any) -> None:
    from mllab.offline.sagemaker import processing
    from mllab.offline.sagemaker.contract import ClientError

    seen: dict[str, Any] = {}

    def analyse(env: processing.ProcessingEnv) -> dict[str, int]:
        rows = (env.inputs["raw"] / "raw.csv").read_text().splitlines()
        (env.outputs["train"] / "stats.json").write_text(f'{{"rows": {len(rows) - 1}}}')
        env.log("analysed")
        seen["args"] = env.arguments
        return {"rows": len(rows) - 1}

    req = _request(lab, "mon-ok", "", ["--x", "/opt/ml/processing/train"])
    run = processing.run_processing_job(req, analyse, account_id=lab.account_id, region=lab.region)
    assert run.done.wait(30)
    d = lab.client("sagemaker").describe_processing_job(ProcessingJobName="mon-ok")
    assert d["ProcessingJobStatus"] == "Completed" and run.result == {"rows": 10}
    body = (
        lab.client("s3")
        .get_object(Bucket=lab.bucket, Key="proc/mon-ok/train/stats.json")["Body"]
        .read()
    )
    assert body == b'{"rows": 10}'
    assert seen["args"][1].endswith("/ml/processing/train") and not seen["args"][1].startswith(
        "/opt/ml"
    )

    def broken(env: processing.ProcessingEnv) -> None:
        raise ClientError("Baseline constraints file has no features")

    run = processing.run_processing_job(
        _request(lab, "mon-bad", ""), broken, account_id=lab.account_id, region=lab.region
    )
    assert run.done.wait(30)
    d = lab.client("sagemaker").describe_processing_job(ProcessingJobName="mon-bad")
    assert d["ProcessingJobStatus"] == "Failed"
    assert d["FailureReason"] == "ClientError: Baseline constraints file has no features"
