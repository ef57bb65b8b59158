"""Offline Glue Python shell jobs: the script really runs, its boto3 calls reach the lab."""

from __future__ import annotations

import time
from typing import Any

from tests.hang import HANG_GUARD_S

SCRIPT = b"""
import sys, csv, io, json
import boto3
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "bucket", "src", "dst"])
s3 = boto3.client("s3")
body = s3.get_object(Bucket=args["bucket"], Key=args["src"])["Body"].read().decode()
rows = list(csv.DictReader(io.StringIO(body)))
total = sum(float(r["amount"]) for r in rows)
s3.put_object(Bucket=args["bucket"], Key=args["dst"], Body=json.dumps({"job": args["JOB_NAME"], "n": len(rows), "total": total}).encode())
print("processed", len(rows), "rows")
"""


def _wait(glue: Any, job: str, run_id: str, timeout: float = HANG_GUARD_S) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if r["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING"):
            return r
        time.sleep(0.1)
    raise AssertionError("job run did not finish")


def _job(lab: Any, name: str, script: bytes, kind: str = "pythonshell", **kw: Any) -> Any:
    s3, glue = lab.client("s3"), lab.client("glue")
    s3.put_object(Bucket=lab.bucket, Key=f"scripts/{name}.py", Body=script)
    glue.create_job(
        Name=name,
        Role=lab.role_arn,
        Command={
            "Name": kind,
            "ScriptLocation": f"s3://{lab.bucket}/scripts/{name}.py",
            "PythonVersion": "3.9",
        },
        MaxCapacity=0.0625 if kind == "pythonshell" else 2.0,
        Timeout=kw.pop("Timeout", 5),
        **kw,
    )
    return glue


def test_python_shell_job_runs_and_writes_to_s3(lab: Any) -> None:
    import json

    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="in/sales.csv", Body=b"id,amount\n1,2.5\n2,4.0\n3,1.5\n")
    glue = _job(
        lab,
        "etl",
        SCRIPT,
        DefaultArguments={"--bucket": lab.bucket, "--src": "in/sales.csv", "--dst": "x"},
    )
    run_id = glue.start_job_run(JobName="etl", Arguments={"--dst": "out/summary.json"})["JobRunId"]
    run = _wait(glue, "etl", run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    out = json.loads(s3.get_object(Bucket=lab.bucket, Key="out/summary.json")["Body"].read())
    assert out == {"job": "etl", "n": 3, "total": 8.0}
    logs = lab.client("logs").get_log_events(
        logGroupName="/aws-glue/python-jobs/output", logStreamName=run_id
    )
    assert any("processed 3 rows" in e["message"] for e in logs["events"])
    assert run["LogGroupName"] == "/aws-glue/python-jobs"


def test_failing_script_reports_error(lab: Any) -> None:
    glue = _job(
        lab,
        "bad",
        b"from awsglue.utils import getResolvedOptions\nimport sys\ngetResolvedOptions(sys.argv, ['missing'])\n",
    )
    run = _wait(glue, "bad", glue.start_job_run(JobName="bad")["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert "the following arguments are required: --missing" in run["ErrorMessage"]
    err = lab.client("logs").get_log_events(
        logGroupName="/aws-glue/python-jobs/error", logStreamName=run["Id"]
    )
    assert any("GlueArgumentError" in e["message"] for e in err["events"])


def test_aws_error_inside_job_is_a_client_error(lab: Any) -> None:
    script = b"import boto3\nboto3.client('s3').get_object(Bucket='no-such-bucket-zz', Key='k')\n"
    glue = _job(lab, "nob", script)
    run = _wait(glue, "nob", glue.start_job_run(JobName="nob")["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert "NoSuchBucket" in run["ErrorMessage"]


def test_timeout_on_lab_clock(lab: Any) -> None:
    from mllab.offline import clock

    glue = _job(lab, "slow", b"import time\ntime.sleep(60)\n", Timeout=1)
    rid = glue.start_job_run(JobName="slow")["JobRunId"]
    for _ in range(100):
        if glue.get_job_run(JobName="slow", RunId=rid)["JobRun"]["JobRunState"] == "RUNNING":
            break
        time.sleep(0.05)
    try:
        clock.advance(61)
        run = _wait(glue, "slow", rid)
    finally:
        clock.reset()
    assert run["JobRunState"] == "TIMEOUT"
    assert "Timeout" in run["ErrorMessage"]


def test_spark_job_fails_with_reason(lab: Any) -> None:
    glue = _job(lab, "spark", b"print(1)\n", kind="glueetl")
    run = _wait(glue, "spark", glue.start_job_run(JobName="spark")["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert "Spark" in run["ErrorMessage"] and "pythonshell" in run["ErrorMessage"]
