"""AgentCore Observability offline: spans, runtime logs and metrics in CloudWatch (lab 06).

Where AgentCore writes them (so the same queries work on AWS once Transaction Search is on):

* **Spans** -- log group ``aws/spans``, one JSON document per span (trace id, span id, parent,
  name, kind, start/end in Unix nanoseconds, attributes, status, resource). Agent spans come
  from the agent itself: strands emits them under the OpenTelemetry GenAI semantic
  conventions (``invoke_agent``, ``chat`` with ``gen_ai.operation.name``,
  ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``/``output_tokens``;
  ``execute_tool`` with ``gen_ai.tool.name`` and ``gen_ai.tool.status``). The runtime adds one
  server span per ``InvokeAgentRuntime`` (``POST /invocations``, with the session id, HTTP
  status and whether the response stream ended cleanly).
* **Runtime logs** -- ``/aws/bedrock-agentcore/runtimes/<runtimeId>-<endpoint>``, stream
  ``<yyyy/mm/dd>/[runtime-logs]<session id>``: the agent's stdout and stderr.
* **Metrics** -- namespace ``AWS/Bedrock-AgentCore``, dimensions ``Resource`` (the runtime
  ARN) and ``Name`` (``<runtime name>::<endpoint>``): ``Invocations``, ``Latency`` (ms),
  ``SystemErrors``, ``UserErrors``, ``Throttles``, ``SessionCount``.

Written straight into moto's backends (no request through the guard: on AWS the service
writes them). Costs nothing offline; on AWS, CloudWatch Logs ingestion and Transaction Search
spans are billed by CloudWatch.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Any

SPANS_GROUP = "aws/spans"
METRICS_NAMESPACE = "AWS/Bedrock-AgentCore"


def runtime_log_group(runtime_id: str, endpoint: str) -> str:
    """The runtime's log group, as AgentCore names it."""
    return f"/aws/bedrock-agentcore/runtimes/{runtime_id}-{endpoint}"


def _logs(account_id: str, region: str, group: str, stream: str) -> Any:
    from mllab.offline.sagemaker.cwlogs import LogStream

    return LogStream(account_id, region, group, stream)


def write_spans(account_id: str, region: str, spans: list[dict[str, Any]]) -> None:
    """Append span documents to ``aws/spans`` (stream ``default``, as AgentCore uses)."""
    if not spans:
        return
    out = _logs(account_id, region, SPANS_GROUP, "default")
    for s in spans:
        out.write(json.dumps(s, default=str, sort_keys=True))
    out.flush()


def write_runtime_logs(
    account_id: str, region: str, runtime_id: str, endpoint: str, session: str, lines: list[str]
) -> None:
    """Append the agent's output lines to the runtime's log group."""
    if not lines:
        return
    day = time.strftime("%Y/%m/%d", time.gmtime())
    out = _logs(
        account_id,
        region,
        runtime_log_group(runtime_id, endpoint),
        f"{day}/[runtime-logs]{session}",
    )
    for line in lines:
        out.write(line)
    out.flush()


def server_span(
    *,
    trace_id: str,
    runtime_arn: str,
    runtime_name: str,
    endpoint: str,
    version: str,
    session_id: str,
    start_ns: int,
    end_ns: int,
    status_code: int,
    error: str | None,
    stream_complete: bool,
    agent_spans: list[dict[str, Any]],
) -> dict[str, Any]:
    """The runtime's span of one invocation (the root the agent's spans hang under)."""
    tokens_in = sum(
        int(s.get("attributes", {}).get("gen_ai.usage.input_tokens") or 0)
        for s in agent_spans
        if s.get("attributes", {}).get("gen_ai.operation.name") == "chat"
    )
    tokens_out = sum(
        int(s.get("attributes", {}).get("gen_ai.usage.output_tokens") or 0)
        for s in agent_spans
        if s.get("attributes", {}).get("gen_ai.operation.name") == "chat"
    )
    return {
        "traceId": trace_id,
        "spanId": secrets.token_hex(8),
        "parentSpanId": "",
        "name": "POST /invocations",
        "kind": "SERVER",
        "startTimeUnixNano": start_ns,
        "endTimeUnixNano": end_ns,
        "durationNano": end_ns - start_ns,
        "attributes": {
            "aws.agentcore.runtime.arn": runtime_arn,
            "aws.agentcore.runtime.endpoint": endpoint,
            "aws.agentcore.runtime.version": version,
            "session.id": session_id,
            "http.response.status_code": status_code,
            "gen_ai.agent.name": runtime_name,
            "mllab.stream.complete": stream_complete,
            "mllab.session.input_tokens": tokens_in,
            "mllab.session.output_tokens": tokens_out,
        },
        "status": {"code": "ERROR" if error else "OK", "message": error or ""},
        "resource": {
            "attributes": {"cloud.resource_id": runtime_arn, "service.name": runtime_name}
        },
        "scope": {"name": "mllab.offline.agentcore"},
    }


def put_metrics(
    account_id: str,
    region: str,
    runtime_arn: str,
    name: str,
    values: dict[str, float],
) -> None:
    """Publish one data point per metric with AgentCore's dimensions."""
    if not values:
        return
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        data = [
            {
                "MetricName": metric,
                "Value": float(value),
                "Timestamp": now,
                "Unit": "Milliseconds" if metric == "Latency" else "Count",
                "Dimensions": [
                    {"Name": "Resource", "Value": runtime_arn},
                    {"Name": "Name", "Value": name},
                ],
            }
            for metric, value in values.items()
        ]
        cloudwatch_backends[account_id][region].put_metric_data(METRICS_NAMESPACE, data)
    except Exception:  # noqa: BLE001 - metrics never fail an invocation
        pass
