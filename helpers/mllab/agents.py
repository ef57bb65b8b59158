"""Read an agent's traces back and catch its failures (introduced in lab 06).

AgentCore Observability writes spans to the CloudWatch Logs group ``aws/spans`` (one JSON
document per span, OpenTelemetry GenAI semantic conventions: ``gen_ai.operation.name`` =
``invoke_agent`` / ``chat`` / ``execute_tool``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens`` / ``output_tokens``, ``gen_ai.tool.name``, ``gen_ai.tool.status``),
offline and on AWS alike. :func:`spans` reads them with documented ``logs`` calls,
:func:`traces` groups them per trace, and :func:`diagnose` names the failure modes the exam
asks about (MLA-C02 4.1.5, 4.2.2, 4.2.8):

* **tool errors** -- ``execute_tool`` spans whose status is ERROR or whose
  ``gen_ai.tool.status`` is not ``success``;
* **loops** -- the same tool called with the same arguments ``loop_threshold`` times or more
  in one trace, or in one runtime session (an agent that keeps asking a tool that never
  satisfies it, whether inside one agent call or across the calls of a retry loop);
* **truncated streams** -- a runtime span whose response stream did not end cleanly
  (``mllab.stream.complete`` false), a model call that stopped at ``max_tokens``, or an agent
  call that strands ended with ``MaxTokensReachedException`` (the ``invoke_agent`` span's
  ERROR status says "maximum token limit": the answer streamed so far was cut off);
* **budget overruns** -- a trace longer than ``max_seconds`` or spending more than
  ``max_tokens`` tokens (input + output of its ``chat`` spans);
* **model errors and retries** -- ``chat`` spans with ERROR status (throttling, a refused call),
  and how many model calls a trace needed.

Costs nothing offline; on AWS, ``FilterLogEvents`` is free and CloudWatch bills the spans'
ingestion and storage.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

SPANS_GROUP = "aws/spans"


def spans(
    session: Any, region: str | None = None, *, session_id: str | None = None
) -> list[dict[str, Any]]:
    """Every span in ``aws/spans`` (optionally of one runtime session), oldest first.

    Args:
        session: a boto3 session (``lab.session``).
        region: the region (default: the session's).
        session_id: keep only spans of this ``runtimeSessionId``.

    Returns:
        The span documents. Costs nothing (reads only).
    """
    logs = session.client("logs", region_name=region)
    out: list[dict[str, Any]] = []
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=SPANS_GROUP)
        for page in pages:
            for event in page.get("events", []):
                try:
                    doc = json.loads(event["message"])
                except ValueError:
                    continue
                out.append(doc)
    except logs.exceptions.ResourceNotFoundException:
        return []
    if session_id is not None:
        out = [s for s in out if (s.get("attributes") or {}).get("session.id") == session_id]
    out.sort(key=lambda s: int(s.get("startTimeUnixNano") or 0))
    return out


def traces(span_docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Spans grouped by trace id, each group oldest first."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in span_docs:
        grouped[str(s.get("traceId", ""))].append(s)
    return dict(grouped)


def _op(s: dict[str, Any]) -> str:
    return str((s.get("attributes") or {}).get("gen_ai.operation.name", ""))


@dataclass
class Finding:
    """One failure found in the traces.

    Attributes:
        kind: ``tool_error``, ``loop``, ``truncated_stream``, ``time_budget``,
            ``token_budget`` or ``model_error``.
        trace_id: the trace it was found in.
        detail: what was seen, in words.
    """

    kind: str
    trace_id: str
    detail: str


@dataclass
class Diagnosis:
    """What :func:`diagnose` found.

    Attributes:
        findings: the failures.
        model_calls: ``chat`` spans per trace.
        tool_calls: tool name -> number of calls.
        input_tokens: total input tokens of the ``chat`` spans.
        output_tokens: total output tokens.
    """

    findings: list[Finding] = field(default_factory=list)
    model_calls: dict[str, int] = field(default_factory=dict)
    tool_calls: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0

    def kinds(self) -> set[str]:
        """The kinds of failure found."""
        return {f.kind for f in self.findings}

    def __str__(self) -> str:
        if not self.findings:
            return "no agent failures found"
        return "\n".join(f"{f.kind}: {f.detail} (trace {f.trace_id[:8]})" for f in self.findings)


def diagnose(
    span_docs: list[dict[str, Any]],
    *,
    loop_threshold: int = 3,
    max_seconds: float | None = None,
    max_tokens: int | None = None,
) -> Diagnosis:
    """Find tool errors, loops, truncated streams and budget overruns in spans (lab 06).

    Args:
        span_docs: spans from :func:`spans`.
        loop_threshold: calls of one tool with the same arguments in one trace that make a loop.
        max_seconds: a trace's time budget (its longest span), or None.
        max_tokens: a trace's token budget (input + output of its model calls), or None.

    Returns:
        The :class:`Diagnosis`. Costs nothing.
    """
    out = Diagnosis()
    tool_counter: Counter[str] = Counter()
    per_session: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for trace_id, group in traces(span_docs).items():
        repeats: Counter[tuple[str, str]] = Counter()
        tokens = 0
        chats = 0
        longest = 0.0
        for s in group:
            attrs = s.get("attributes") or {}
            status = (s.get("status") or {}).get("code", "UNSET")
            longest = max(longest, int(s.get("durationNano") or 0) / 1e9)
            op = _op(s)
            if op == "chat":
                chats += 1
                i = int(attrs.get("gen_ai.usage.input_tokens") or 0)
                o = int(attrs.get("gen_ai.usage.output_tokens") or 0)
                tokens += i + o
                out.input_tokens += i
                out.output_tokens += o
                if status == "ERROR":
                    out.findings.append(
                        Finding(
                            "model_error",
                            trace_id,
                            (s.get("status") or {}).get("message") or "a model call failed",
                        )
                    )
                reasons = str(attrs.get("gen_ai.response.finish_reasons", ""))
                if "max_tokens" in reasons:
                    out.findings.append(
                        Finding(
                            "truncated_stream", trace_id, "a model answer stopped at max_tokens"
                        )
                    )
            elif op == "invoke_agent":
                message = str((s.get("status") or {}).get("message") or "")
                if status == "ERROR" and "maximum token limit" in message.lower():
                    out.findings.append(
                        Finding(
                            "truncated_stream",
                            trace_id,
                            "the agent's answer was cut off: the model stopped at maxTokens "
                            "(MaxTokensReachedException)",
                        )
                    )
            elif op == "execute_tool":
                name = str(attrs.get("gen_ai.tool.name", "?"))
                tool_counter[name] += 1
                args = str(attrs.get("gen_ai.tool.call.arguments", ""))
                repeats[(name, args)] += 1
                if attrs.get("session.id"):
                    per_session[str(attrs["session.id"])][(name, args)] += 1
                tool_status = str(attrs.get("gen_ai.tool.status", "success"))
                if status == "ERROR" or tool_status not in ("success", ""):
                    out.findings.append(
                        Finding(
                            "tool_error",
                            trace_id,
                            f"tool {name} failed (status {tool_status or status})",
                        )
                    )
            if attrs.get("mllab.stream.complete") is False:
                out.findings.append(
                    Finding(
                        "truncated_stream",
                        trace_id,
                        "the response stream ended before its last event",
                    )
                )
        for (name, _args), n in repeats.items():
            if n >= loop_threshold:
                out.findings.append(
                    Finding(
                        "loop", trace_id, f"tool {name} was called {n} times with the same input"
                    )
                )
        out.model_calls[trace_id] = chats
        if max_seconds is not None and longest > max_seconds:
            out.findings.append(
                Finding("time_budget", trace_id, f"ran {longest:.1f} s, budget {max_seconds:.1f} s")
            )
        if max_tokens is not None and tokens > max_tokens:
            out.findings.append(
                Finding("token_budget", trace_id, f"spent {tokens} tokens, budget {max_tokens}")
            )
    for sid, counter in per_session.items():
        for (name, _args), n in counter.items():
            if n >= loop_threshold:
                out.findings.append(
                    Finding(
                        "loop",
                        sid,
                        f"tool {name} was called {n} times with the same input "
                        "across the session's agent calls",
                    )
                )
    out.tool_calls = dict(tool_counter)
    return out
