"""Offline Lambda: functions really run, with the runtime's event, context, logs, errors and limits."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline.lambda_ import zip_source
from tests.hang import wait_for

CODE = """
import json, logging, os
import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
CALLS = {"n": 0}


def handler(event, context):
    CALLS["n"] += 1
    print("event", json.dumps(event, sort_keys=True))
    logger.info("total %s", sum(event.get("values", [])))
    if "fail" in event:
        raise ValueError("cannot process " + event["fail"])
    if "sleep" in event:
        import time
        time.sleep(event["sleep"])
    if "megabytes" in event:
        block = bytearray(event["megabytes"] * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
    if "write" in event:
        boto3.client("s3").put_object(
            Bucket=os.environ["BUCKET"], Key=event["write"], Body=json.dumps(event).encode()
        )
    if "unserialisable" in event:
        return {"when": object()}
    return {
        "total": sum(event.get("values", [])),
        "calls": CALLS["n"],
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "log_group": context.log_group_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "stage": os.environ.get("STAGE"),
        "region": os.environ.get("AWS_REGION"),
    }
"""


def _create(lab: Any, name: str = "calc", code: str = CODE, **kw: Any) -> Any:
    lam = lab.client("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=lab.role_arn,
        Handler=kw.pop("Handler", "lambda_function.handler"),
        Code=kw.pop("Code", {"ZipFile": zip_source(code)}),
        Environment={"Variables": {"STAGE": "test", "BUCKET": lab.bucket}},
        Timeout=kw.pop("Timeout", 30),
        MemorySize=kw.pop("MemorySize", 256),
        **kw,
    )
    return lam


def _invoke(lam: Any, event: Any, name: str = "calc", **kw: Any) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kw)
    body = resp["Payload"].read()
    return resp, json.loads(body) if body else None


def test_handler_runs_with_event_context_and_environment(lab: Any) -> None:
    lam = _create(lab)
    resp, out = _invoke(lam, {"values": [1, 2, 3.5]})
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    assert out["total"] == 6.5
    assert out["function_name"] == "calc"
    assert out["memory"] == "256"  # a string, as in the Python runtime
    assert out["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:calc"
    assert out["log_group"] == "/aws/lambda/calc"
    assert 0 < out["remaining_ms"] <= 30_000
    assert out["stage"] == "test" and out["region"] == "us-east-1"
    # a second call reuses the warm environment: module state survives, a new request id
    _, again = _invoke(lam, {"values": [10]})
    assert again["total"] == 10
    assert again["calls"] == 2
    assert again["request_id"] != out["request_id"]


def test_logs_in_lambda_format_and_tail(lab: Any) -> None:
    lam = _create(lab)
    resp, out = _invoke(lam, {"values": [4]}, LogType="Tail")
    tail = base64.b64decode(resp["LogResult"]).decode()
    rid = out["request_id"]
    lines = tail.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("START"))
    assert lines[start] == f"START RequestId: {rid} Version: $LATEST"
    assert 'event {"values": [4]}' in lines
    assert any(ln.startswith("[INFO]\t") and ln.endswith(f"\t{rid}\ttotal 4") for ln in lines)
    assert f"END RequestId: {rid}" in lines
    report = lines[-1]
    assert report.startswith(f"REPORT RequestId: {rid}\tDuration: ")
    for field in (
        "Billed Duration: ",
        "Memory Size: 256 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ):
        assert field in report
    # the second (warm) invocation has no init duration
    resp2, out2 = _invoke(lam, {"values": [5]}, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(resp2["LogResult"]).decode()
    # the same lines are in CloudWatch Logs
    logs = lab.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/calc")["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]
    events = logs.get_log_events(
        logGroupName="/aws/lambda/calc", logStreamName=streams[0]["logStreamName"]
    )["events"]
    messages = [e["message"] for e in events]
    assert messages[0].startswith("INIT_START")
    assert f"START RequestId: {out2['request_id']} Version: $LATEST" in messages


def test_unhandled_error_as_lambda_reports_it(lab: Any) -> None:
    lam = _create(lab)
    resp, out = _invoke(lam, {"fail": "order 7"}, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "cannot process order 7"
    assert out["stackTrace"] and "in handler" in out["stackTrace"][-1]
    assert "raise ValueError" in out["stackTrace"][-1]
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "[ERROR] ValueError: cannot process order 7\nTraceback (most recent call last):" in tail
    # the environment survives a handled-by-runtime exception
    _, ok = _invoke(lam, {"values": [1]})
    assert ok["calls"] == 2


def test_marshal_error(lab: Any) -> None:
    lam = _create(lab)
    resp, out = _invoke(lam, {"unserialisable": True})
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.MarshalError"
    assert out["errorMessage"].startswith("Unable to marshal response:")


def test_timeout_kills_the_environment(lab: Any) -> None:
    lam = _create(lab, Timeout=1)
    resp, out = _invoke(lam, {"sleep": 30}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Sandbox.Timedout"
    assert out["errorMessage"].endswith("Task timed out after 1.00 seconds")
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in tail
    # the next invocation is a cold start in a fresh environment (module state is gone)
    resp2, out2 = _invoke(lam, {"values": [2]}, LogType="Tail")
    assert out2["calls"] == 1
    assert "Init Duration" in base64.b64decode(resp2["LogResult"]).decode()


def test_memory_limit(lab: Any) -> None:
    lam = _create(lab, MemorySize=128)
    resp, out = _invoke(lam, {"megabytes": 400}, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.OutOfMemory"
    assert "Max Memory Used: 128 MB" in base64.b64decode(resp["LogResult"]).decode()
    # the same allocation fits a larger function (the limit is MemorySize, not a constant)
    lam.update_function_configuration(FunctionName="calc", MemorySize=1024)
    resp2, out2 = _invoke(lam, {"megabytes": 400})
    assert "FunctionError" not in resp2, out2
    assert out2["memory"] == "1024"


def test_function_boto3_calls_reach_the_offline_account(lab: Any) -> None:
    lam = _create(lab)
    _invoke(lam, {"write": "from-lambda/doc.json", "values": [3]})
    body = lab.client("s3").get_object(Bucket=lab.bucket, Key="from-lambda/doc.json")["Body"]
    assert json.loads(body.read())["values"] == [3]


def test_function_boto3_calls_pass_the_guard(lab: Any) -> None:
    code = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    try:\n"
        "        boto3.client('sagemaker').create_training_job(TrainingJobName='x', "
        "RoleArn='arn:aws:iam::123456789012:role/r', AlgorithmSpecification={'TrainingImage': "
        "'i', 'TrainingInputMode': 'File'}, OutputDataConfig={'S3OutputPath': 's3://b/o'}, "
        "ResourceConfig={'InstanceType': 'ml.p4d.24xlarge', 'InstanceCount': 1, "
        "'VolumeSizeInGB': 1}, StoppingCondition={'MaxRuntimeInSeconds': 60})\n"
        "        return 'sent'\n"
        "    except Exception as err:\n"
        "        return type(err).__name__ + ': ' + str(err)\n"
    )
    lam = _create(lab, name="sneaky", code=code)
    _, out = _invoke(lam, {}, name="sneaky")
    assert out != "sent"
    assert "CostGuardError" in out and "ml.p4d.24xlarge" in out


def test_event_invocation_runs_in_the_background(lab: Any) -> None:
    lam = _create(lab)
    resp = lam.invoke(
        FunctionName="calc",
        InvocationType="Event",
        Payload=json.dumps({"write": "async/out.json", "values": [9]}).encode(),
    )
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    s3 = lab.client("s3")

    def listed() -> list[str]:
        return [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=lab.bucket, Prefix="async/").get("Contents", [])
        ]

    assert wait_for(listed, lambda keys: keys == ["async/out.json"], "the Event invocation's write")


def test_dry_run_and_request_errors(lab: Any) -> None:
    lam = _create(lab)
    assert lam.invoke(FunctionName="calc", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as bad:
        lam.invoke(FunctionName="calc", Payload=b"{not json")
    assert bad.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as missing:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "function:nope" in missing.value.response["Error"]["Message"]


def test_init_errors_in_the_runtime_words(lab: Any) -> None:
    lam = _create(lab, name="nomod", Handler="missing_module.handler")
    resp, out = _invoke(lam, {}, name="nomod")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert (
        out["errorMessage"]
        == "Unable to import module 'missing_module': No module named 'missing_module'"
    )
    lam = _create(lab, name="nofunc", Handler="lambda_function.nothere")
    _, out = _invoke(lam, {}, name="nofunc")
    assert out["errorType"] == "Runtime.HandlerNotFound"
    assert out["errorMessage"] == "Handler 'nothere' missing on module 'lambda_function'"


def test_code_from_s3_with_a_package_and_versions(lab: Any) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/rules.py", "RATE = 0.2\n")
        zf.writestr(
            "app.py", "from pkg.rules import RATE\ndef main(e, c):\n    return e['x'] * RATE\n"
        )
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="code/v1.zip", Body=buf.getvalue())
    lam = _create(
        lab, name="tax", Handler="app.main", Code={"S3Bucket": lab.bucket, "S3Key": "code/v1.zip"}
    )
    v1 = lam.publish_version(FunctionName="tax")["Version"]
    lam.update_function_code(
        FunctionName="tax",
        ZipFile=zip_source("def main(e, c):\n    return e['x'] * 0.5\n", "app.py"),
    )
    _, latest = _invoke(lam, {"x": 10}, name="tax")
    resp, old = _invoke(lam, {"x": 10}, name="tax", Qualifier=v1)
    assert latest == 5.0
    assert old == 2.0
    assert resp["ExecutedVersion"] == v1


def test_non_python_runtime_is_refused_clearly(lab: Any) -> None:
    lam = lab.client("lambda")
    lam.create_function(
        FunctionName="js",
        Runtime="nodejs20.x",
        Role=lab.role_arn,
        Handler="index.handler",
        Code={"ZipFile": zip_source("exports.handler = async () => 1;", "index.js")},
    )
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="js", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert "python3" in err.value.response["Error"]["Message"]
