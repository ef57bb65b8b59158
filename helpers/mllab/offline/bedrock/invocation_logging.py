"""Offline model invocation logging and ``AWS/Bedrock`` metrics (introduced in lab 05).

**Logging.** ``PutModelInvocationLoggingConfiguration`` / ``Get...`` / ``Delete...`` are kept by
moto (its ``bedrock`` backend stores the ``loggingConfig``); this module checks the
configuration as AWS does (the log group and bucket must exist) and, after every offline
``Converse``, ``ConverseStream``, ``InvokeModel`` and ``InvokeModelWithResponseStream``, writes
one record in Bedrock's invocation-log schema (``schemaType: ModelInvocationLog``,
``schemaVersion: 1.0``, ``timestamp``, ``accountId``, ``identity``, ``region``, ``requestId``,
``operation``, ``modelId``, ``input``/``output`` with content type, body and token count):

* to CloudWatch Logs: the configured ``logGroupName``, stream ``aws/bedrock/modelinvocations``;
* to S3: ``s3://BUCKET/PREFIX/AWSLogs/ACCOUNT/BedrockModelInvocationLogs/REGION/YYYY/MM/DD/HH/``
  one gzip-compressed JSON-lines object per invocation (AWS batches several per object).

``textDataDeliveryEnabled`` / ``embeddingDataDeliveryEnabled`` false leave the bodies out (the
token counts stay). Offline difference: bodies over 100 KB are not moved to
``largeDataDeliveryS3Config``; they are logged inline.

**Metrics.** Every call publishes, in namespace ``AWS/Bedrock`` with dimension ``ModelId``:
``Invocations``, ``InvocationLatency`` (milliseconds), ``InputTokenCount``,
``OutputTokenCount``; a throttled call ``InvocationThrottles``; a rejected request
``InvocationClientErrors``. They are written into moto's CloudWatch (as the SageMaker
endpoint metrics are), so ``get_metric_statistics`` reads them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
import uuid
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

NAMESPACE = "AWS/Bedrock"
LOG_STREAM = "aws/bedrock/modelinvocations"
_LOCK = threading.RLock()


_PENDING: list[tuple[str, str, dict[str, Any]]] = []
#: Buffered data points that trigger a flush into moto's CloudWatch.
FLUSH_AT = 500


def put_metrics(account_id: str, region: str, model_id: str, values: dict[str, float]) -> None:
    """Publish ``AWS/Bedrock`` metric data points with dimension ``ModelId``.

    Points are buffered in memory and written into moto's CloudWatch before any CloudWatch
    read (GetMetricStatistics, GetMetricData, ListMetrics), so reads see every invocation and
    a call does not pay for moto's bookkeeping.

    Args:
        account_id: the offline account.
        region: the region.
        model_id: the model id the caller invoked.
        values: metric name -> value.

    Costs nothing offline (AWS publishes these itself).
    """
    units = {"InvocationLatency": "Milliseconds"}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # moto compares naive UTC
    with _LOCK:
        for name, v in values.items():
            _PENDING.append((account_id, region, {
                "MetricName": name, "Value": float(v), "Unit": units.get(name, "Count"),
                "Timestamp": now, "Dimensions": [{"Name": "ModelId", "Value": model_id}],
            }))  # fmt: skip
        full = len(_PENDING) >= FLUSH_AT
    if full:
        flush_metrics()


def flush_metrics() -> None:
    """Write the buffered ``AWS/Bedrock`` points into moto's CloudWatch. Costs nothing."""
    with _LOCK:
        pending = list(_PENDING)
        _PENDING.clear()
    if not pending:
        return
    batches: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for acct, region, point in pending:
        batches.setdefault((acct, region), []).append(point)
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        for (acct, region), data in batches.items():
            cloudwatch_backends[acct][region].put_metric_data(NAMESPACE, data)
    except Exception:  # noqa: BLE001 - moto stopped (lab closed): the metrics go with it
        pass


@on_reset
def _drop_pending() -> None:
    with _LOCK:
        _PENDING.clear()


@handles("cloudwatch", "GetMetricStatistics")
def _flush_before_get_metric_statistics(call: OfflineCall) -> None:
    flush_metrics()


@handles("cloudwatch", "GetMetricData")
def _flush_before_get_metric_data(call: OfflineCall) -> None:
    flush_metrics()


@handles("cloudwatch", "ListMetrics")
def _flush_before_list_metrics(call: OfflineCall) -> None:
    flush_metrics()


def _config(account_id: str, region: str) -> dict[str, Any]:
    try:
        from moto.bedrock.models import bedrock_backends

        cfg = bedrock_backends[account_id][region].get_model_invocation_logging_configuration()
    except Exception:  # noqa: BLE001 - moto stopped
        return {}
    return dict(cfg or {})


def log_invocation(
    account_id: str,
    region: str,
    *,
    operation: str,
    model_id: str,
    request_id: str,
    input_body: Any,
    output_body: Any,
    input_tokens: int,
    output_tokens: int,
    identity_arn: str | None = None,
    embedding: bool = False,
) -> dict[str, Any] | None:
    """Write one invocation-log record where the logging configuration says.

    Args:
        account_id: the offline account.
        region: the region.
        operation: ``Converse``, ``ConverseStream``, ``InvokeModel``, ...
        model_id: the id the caller invoked.
        request_id: the request id.
        input_body: the request (JSON-able), or a function returning it (called only when
            the configuration delivers bodies).
        output_body: the response, or a function returning it.
        input_tokens: counted input tokens.
        output_tokens: counted output tokens.
        identity_arn: the caller's ARN.
        embedding: the output is an embedding (``embeddingDataDeliveryEnabled`` governs it).

    Returns:
        The record written, or None when logging is not configured. Costs nothing offline.
    """
    cfg = _config(account_id, region)
    if not cfg or not (cfg.get("cloudWatchConfig") or cfg.get("s3Config")):
        return None
    text_ok = bool(cfg.get("textDataDeliveryEnabled", True))
    emb_ok = bool(cfg.get("embeddingDataDeliveryEnabled", True))
    now = dt.datetime.now(dt.UTC)
    inp: dict[str, Any] = {"inputContentType": "application/json", "inputTokenCount": input_tokens}
    out: dict[str, Any] = {
        "outputContentType": "application/json",
        "outputTokenCount": output_tokens,
    }
    if text_ok:
        inp["inputBodyJson"] = input_body() if callable(input_body) else input_body
    if emb_ok if embedding else text_ok:
        out["outputBodyJson"] = output_body() if callable(output_body) else output_body
    record = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": account_id,
        "identity": {"arn": identity_arn or f"arn:aws:iam::{account_id}:user/mllab"},
        "region": region,
        "requestId": request_id,
        "operation": operation,
        "modelId": model_id,
        "input": inp,
        "output": out,
        "inferenceRegion": region,
    }
    line = json.dumps(record, default=_jsonable)
    cw = cfg.get("cloudWatchConfig") or {}
    if cw.get("logGroupName"):
        _to_logs(account_id, region, str(cw["logGroupName"]), line, now)
    s3 = cfg.get("s3Config") or {}
    if s3.get("bucketName"):
        _to_s3(account_id, region, s3, line, now)
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _to_logs(account_id: str, region: str, group: str, line: str, now: dt.datetime) -> None:
    try:
        from moto.logs.models import logs_backends

        be = logs_backends[account_id][region]
        with _LOCK:
            if group not in be.groups:
                return  # AWS checks the group exists when logging is configured
            if LOG_STREAM not in be.groups[group].streams:
                be.create_log_stream(group, LOG_STREAM)
            be.put_log_events(
                group, LOG_STREAM, [{"timestamp": int(now.timestamp() * 1000), "message": line}]
            )
    except Exception:  # noqa: BLE001 - logging must never fail a call
        pass


def _to_s3(account_id: str, region: str, s3: dict[str, Any], line: str, now: dt.datetime) -> None:
    prefix = str(s3.get("keyPrefix") or "").strip("/")
    key = (
        f"{prefix + '/' if prefix else ''}AWSLogs/{account_id}/BedrockModelInvocationLogs/"
        f"{region}/{now:%Y/%m/%d/%H}/{now:%Y%m%dT%H%M%S}Z_{uuid.uuid4().hex[:16]}.json.gz"
    )
    try:
        from moto.s3.models import s3_backends

        with _LOCK:
            s3_backends[account_id]["global"].put_object(
                str(s3["bucketName"]), key, gzip.compress((line + "\n").encode())
            )
    except Exception:  # noqa: BLE001 - logging must never fail a call
        pass


@handles("bedrock", "PutModelInvocationLoggingConfiguration")
def _check_logging_config(call: OfflineCall) -> None:
    """Validate the destinations as AWS does; moto then stores the configuration."""
    cfg = call.params.get("loggingConfig") or {}
    cw = cfg.get("cloudWatchConfig")
    s3 = cfg.get("s3Config")
    if not cw and not s3:
        raise AwsError(
            "ValidationException",
            "At least one of cloudWatchConfig or s3Config must be provided in loggingConfig.",
        )
    if cw:
        from moto.logs.models import logs_backends

        if cw.get("logGroupName") not in logs_backends[call.account_id][call.region].groups:
            raise AwsError(
                "ValidationException",
                f"Failed to validate permissions for log group: {cw.get('logGroupName')}, with "
                "role: " + str(cw.get("roleArn")) + ". Verify the log group exists and the IAM "
                "role has the required permissions.",
            )
    if s3:
        from moto.s3.models import s3_backends

        if s3.get("bucketName") not in s3_backends[call.account_id]["global"].buckets:
            raise AwsError(
                "ValidationException",
                f"Failed to validate permissions for S3 bucket: {s3.get('bucketName')}. Verify the "
                "bucket exists and its bucket policy lets bedrock.amazonaws.com write to it.",
            )
    return None
