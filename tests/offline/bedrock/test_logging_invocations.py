"""Model invocation logging (CloudWatch Logs and S3, AWS's record schema) and AWS/Bedrock metrics."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

MICRO = "amazon.nova-micro-v1:0"


def test_invocation_logs_and_metrics(lab: Any) -> None:
    bc, rt = lab.client("bedrock"), lab.client("bedrock-runtime")
    logs, s3, cw = lab.client("logs"), lab.client("s3"), lab.client("cloudwatch")
    role = f"arn:aws:iam::{lab.account_id}:role/bedrock-logging"
    with pytest.raises(ClientError) as err:
        bc.put_model_invocation_logging_configuration(loggingConfig={
            "cloudWatchConfig": {"logGroupName": "/bedrock/missing", "roleArn": role}})  # fmt: skip
    assert err.value.response["Error"]["Code"] == "ValidationException"
    logs.create_log_group(logGroupName="/bedrock/invocations")
    s3.create_bucket(Bucket="bedrock-logs-test")
    bc.put_model_invocation_logging_configuration(loggingConfig={
        "cloudWatchConfig": {"logGroupName": "/bedrock/invocations", "roleArn": role},
        "s3Config": {"bucketName": "bedrock-logs-test", "keyPrefix": "invocations"},
        "textDataDeliveryEnabled": True})  # fmt: skip
    cfg = bc.get_model_invocation_logging_configuration()["loggingConfig"]
    assert cfg["cloudWatchConfig"]["logGroupName"] == "/bedrock/invocations"

    messages = [
        {
            "role": "user",
            "content": [
                {"text": "Context: The lab costs nothing offline.\n\nWhat does the lab cost?"}
            ],
        }
    ]
    resp = rt.converse(modelId=MICRO, messages=messages)
    rt.invoke_model(
        modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "log me"})
    )

    events = logs.get_log_events(logGroupName="/bedrock/invocations",
                                 logStreamName="aws/bedrock/modelinvocations")["events"]  # fmt: skip
    records = [json.loads(e["message"]) for e in events]
    conv = next(r for r in records if r["operation"] == "Converse")
    assert conv["schemaType"] == "ModelInvocationLog" and conv["schemaVersion"] == "1.0"
    assert (
        conv["modelId"] == MICRO
        and conv["accountId"] == lab.account_id
        and conv["region"] == lab.region
    )
    assert conv["input"]["inputTokenCount"] == resp["usage"]["inputTokens"]
    assert conv["output"]["outputTokenCount"] == resp["usage"]["outputTokens"]
    assert conv["input"]["inputBodyJson"]["messages"] == messages
    assert conv["output"]["outputBodyJson"]["output"] == resp["output"]
    assert any(
        r["operation"] == "InvokeModel" and r["modelId"] == "amazon.titan-embed-text-v2:0"
        for r in records
    )

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bedrock-logs-test")["Contents"]]
    prefix = f"invocations/AWSLogs/{lab.account_id}/BedrockModelInvocationLogs/{lab.region}/"
    assert len(keys) == 2 and all(k.startswith(prefix) and k.endswith(".json.gz") for k in keys)
    line = gzip.decompress(
        s3.get_object(Bucket="bedrock-logs-test", Key=sorted(keys)[0])["Body"].read()
    )
    assert json.loads(line)["schemaType"] == "ModelInvocationLog"

    # without text delivery, the bodies stay out and the token counts stay in
    bc.put_model_invocation_logging_configuration(loggingConfig={
        "cloudWatchConfig": {"logGroupName": "/bedrock/invocations", "roleArn": role},
        "textDataDeliveryEnabled": False})  # fmt: skip
    rt.converse(modelId=MICRO, messages=messages)
    last = json.loads(logs.get_log_events(logGroupName="/bedrock/invocations",
                                          logStreamName="aws/bedrock/modelinvocations")["events"][-1]["message"])  # fmt: skip
    assert "inputBodyJson" not in last["input"] and last["input"]["inputTokenCount"] > 0

    with pytest.raises(ClientError):
        rt.converse(modelId=MICRO, messages=messages, inferenceConfig={"maxTokens": 99999})
    now = dt.datetime.now(dt.UTC)

    def total(name: str, model: str = MICRO) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Bedrock", MetricName=name, Dimensions=[{"Name": "ModelId", "Value": model}],
            StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
            Period=60, Statistics=["Sum"])["Datapoints"]  # fmt: skip
        return sum(p["Sum"] for p in points)

    assert total("Invocations") == 2
    assert total("InputTokenCount") == 2 * resp["usage"]["inputTokens"]
    assert total("OutputTokenCount") == 2 * resp["usage"]["outputTokens"]
    assert total("InvocationClientErrors") == 1
    assert total("InvocationLatency") > 0
    assert total("Invocations", "amazon.titan-embed-text-v2:0") == 1
    bc.delete_model_invocation_logging_configuration()
