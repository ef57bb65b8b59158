"""Firehose record transformation with a deployed (offline) Lambda function."""

from __future__ import annotations

import base64
import json
from typing import Any

from mllab.offline import clock
from mllab.offline.lambda_ import zip_source
from tests.offline.test_firehose import _body, _lambda_stream, _objects, frozen  # noqa: F401

TRANSFORM = """
import base64, json

def handler(event, context):
    out = []
    for r in event["records"]:
        doc = json.loads(base64.b64decode(r["data"]))
        if doc.get("drop"):
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
            continue
        doc["amount_cents"] = round(doc["amount"] * 100)
        data = (json.dumps(doc, sort_keys=True) + "\\n").encode()
        out.append({"recordId": r["recordId"], "result": "Ok",
                    "data": base64.b64encode(data).decode(),
                    "metadata": {"partitionKeys": {"fn": context.function_name}}})
    return {"records": out}
"""


def test_firehose_invokes_the_deployed_function(lab: Any, frozen: dict[str, float]) -> None:  # noqa: F811
    lam = lab.client("lambda")
    arn = lam.create_function(
        FunctionName="cents",
        Runtime="python3.12",
        Role=lab.role_arn,
        Handler="lambda_function.handler",
        Code={"ZipFile": zip_source(TRANSFORM)},
        Timeout=60,
    )["FunctionArn"]
    fh = _lambda_stream(lab, arn, name="pay")
    recs = [{"amount": 1.25}, {"amount": 2.5, "drop": True}, {"amount": 0.07}]
    fh.put_record_batch(
        DeliveryStreamName="pay", Records=[{"Data": json.dumps(r).encode()} for r in recs]
    )
    clock.advance(60)
    (ok,) = _objects(lab, "ok/")
    lines = [json.loads(x) for x in _body(lab, ok["Key"]).splitlines()]
    assert [d["amount_cents"] for d in lines] == [125, 7]
    # the function really ran: its START/REPORT lines are in its log group
    logs = lab.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/cents")["logStreams"]
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(
            logGroupName="/aws/lambda/cents", logStreamName=s["logStreamName"]
        )["events"]
    ]
    assert any(m.startswith("START RequestId: ") for m in messages)
    assert any(m.startswith("REPORT RequestId: ") for m in messages)


def test_firehose_reports_the_function_error(lab: Any, frozen: dict[str, float]) -> None:  # noqa: F811
    lam = lab.client("lambda")
    arn = lam.create_function(
        FunctionName="broken",
        Runtime="python3.12",
        Role=lab.role_arn,
        Handler="lambda_function.handler",
        Code={"ZipFile": zip_source("def handler(e, c):\n    raise KeyError('schema')\n")},
        Timeout=60,
    )["FunctionArn"]
    fh = _lambda_stream(lab, arn, name="pay2")
    fh.put_record(DeliveryStreamName="pay2", Record={"Data": b'{"amount": 1}'})
    clock.advance(60)
    assert _objects(lab, "ok/") == []
    (failed,) = _objects(lab, "failed/processing-failed/")
    (line,) = [json.loads(x) for x in _body(lab, failed["Key"]).splitlines()]
    assert line["errorCode"] == "Lambda.FunctionError"
    assert "KeyError" in line["errorMessage"]
    assert base64.b64decode(line["rawData"]) == b'{"amount": 1}'
