"""Offline ``bedrock-runtime``: Converse, ConverseStream, InvokeModel(+stream), CountTokens.

Every call is answered here (moto never sees it) by the models of :mod:`mllab.models`: the
extractive stand-in foundation model (:mod:`mllab.models.foundation` -- read its docstring
for what it is and how it differs from an LLM) and wordllama embeddings. What AWS does that
a learner can observe is done too:

* **Model ids.** Base model ids, inference-profile ids (``us.amazon.nova-micro-v1:0``) and
  their ARNs. An unknown id is ``ValidationException: The provided model identifier is
  invalid.``; a model offered only through inference profiles called by its base id gets
  AWS's "Invocation of model ID ... with on-demand throughput isn't supported. Retry your
  request with the ID or ARN of an inference profile that contains this model."; an
  embedding model on Converse "This action doesn't support the model that you provided."
* **Native bodies** of ``InvokeModel``: Amazon Nova (``messages-v1``), Anthropic Messages
  (``anthropic_version``, ``max_tokens``), Meta Llama (``prompt`` in the Llama 3 chat format,
  ``max_gen_len``), Amazon Titan Text (``inputText``, ``textGenerationConfig``), Titan Text
  Embeddings V2 (``inputText``, ``dimensions``, ``normalize``, ``embeddingTypes``) and Cohere
  Embed v3 (``texts``, ``input_type``, ``truncate``, ``embedding_types``). A body that does
  not parse or misses a required key is "Malformed input request: ...".
* **Streaming.** ``ConverseStream`` answers ``{"stream": ...}`` whose iteration yields
  ``messageStart``, ``contentBlockStart`` (tool use), ``contentBlockDelta``,
  ``contentBlockStop``, ``messageStop`` and ``metadata`` (usage, ``metrics.latencyMs``), as
  botocore's event stream does; ``InvokeModelWithResponseStream`` yields ``{"chunk":
  {"bytes": ...}}`` in each family's native chunk format, the last with
  ``amazon-bedrock-invocationMetrics``. The stream also has ``close()``.
* **Usage** is counted with a real tokenizer (:mod:`mllab.models.tokens`; Bedrock's models
  each use their own, so counts are close, not equal). ``metrics.latencyMs`` is the measured
  local compute time plus the catalogue's modelled service latency (time to first token +
  output tokens / speed), so slower models report slower calls; no real sleep happens.
* **Guardrails** (``guardrailConfig`` on Converse/ConverseStream; ``guardrailIdentifier`` /
  ``guardrailVersion`` / ``trace`` on InvokeModel) are applied to the input and to the output
  with :func:`mllab.offline.bedrock.guardrails.assess`: an intervention answers the
  guardrail's blocked message with ``stopReason: guardrail_intervened`` and, with trace
  enabled, AWS's trace shape.
* **Prompt Management**: a prompt ARN as Converse ``modelId`` with ``promptVariables`` runs
  the prompt (:func:`mllab.offline.bedrock.prompts.resolve`).
* **Quotas and access** (:mod:`mllab.offline.bedrock.quotas`), **invocation logs and
  metrics** (:mod:`mllab.offline.bedrock.invocation_logging`).
* The response headers carry ``x-amzn-bedrock-input-token-count`` and
  ``x-amzn-bedrock-output-token-count`` (as AWS's InvokeModel does), which the cost guard
  settles the call's charge from.

Introduced in lab 05 (a grounded generative AI application).
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from mllab.offline.bedrock import invocation_logging, quotas
from mllab.offline.registry import AwsError, OfflineCall, body_bytes, handles

ANTHROPIC_VERSION = "bedrock-2023-05-31"
TITAN_EMBED_MAX_CHARS = 50_000
COHERE_MAX_TEXTS = 96
COHERE_MAX_CHARS = 2048


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def _malformed(detail: str) -> AwsError:
    return _validation(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


class EventStream:
    """What a short-circuited streaming answer holds: iterable events, and ``close()``.

    botocore's ``EventStream`` yields one dict per event; boto3 users, strands-agents and
    LangChain iterate it (``for event in response["stream"]``) and may ``close()`` it.
    """

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = events
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for ev in self._events:
            if self._closed:
                return
            yield ev

    def close(self) -> None:
        """Stop the iteration (nothing to release offline)."""
        self._closed = True


def _streaming_body(data: bytes) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


def _body_json(body: Any) -> dict[str, Any]:
    raw = body_bytes(body)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _validation(
            "Malformed input request, please reformat your input and try again."
        ) from None
    if not isinstance(value, dict):
        raise _malformed("#: expected type: JSONObject, found: " + type(value).__name__)
    return value


# --------------------------------------------------------------------------- model resolution


def resolve_model(call: OfflineCall, model_id: str, *, text: bool | None = None) -> Any:
    """The catalogue profile for ``model_id``, or the AWS error a call to it gets.

    Args:
        call: the intercepted call (region and account).
        model_id: the request's ``modelId``.
        text: True for a text-generation operation, False for embeddings, None for any.

    Returns:
        The :class:`mllab.models.catalog.Profile`.
    """
    from mllab.models import catalog

    prof = catalog.profile(model_id)
    if prof is None:
        raise _validation("The provided model identifier is invalid.")
    if prof.is_inference_profile and call.region not in prof.profile_regions:
        raise _validation("The provided model identifier is invalid.")
    if not prof.on_demand:
        raise _validation(
            f"Invocation of model ID {prof.base_model_id} with on-demand throughput isn't "
            "supported. Retry your request with the ID or ARN of an inference profile that "
            "contains this model."
        )
    if text is True and prof.is_embedding:
        raise _validation(
            "This action doesn't support the model that you provided. Try again with a "
            "supported text or chat model."
        )
    quotas.check_access(call.account_id, prof.model_id)
    return prof


def _model_error(err: Exception) -> AwsError:
    return _validation(str(err))


# --------------------------------------------------------------------------- guardrails


def _guardrails() -> Any:
    try:
        from mllab.offline.bedrock import guardrails
    except ModuleNotFoundError:  # pragma: no cover - the guardrails module ships with this one
        raise AwsError(
            "InternalServerException",
            "Guardrails are not available offline in this installation "
            "(mllab.offline.bedrock.guardrails is missing).",
            500,
        ) from None
    return guardrails


def _guard_blocks(messages: list[dict[str, Any]], system: list[dict[str, Any]] | None
                  ) -> tuple[list[dict[str, Any]], str | None, str | None]:  # fmt: skip
    """Content the input guardrail judges, and the grounding source / query qualifiers.

    As on AWS: ``guardContent`` blocks when the request has any, else every text block of
    every message (the system prompt is judged only through ``guardContent``).
    """
    guarded: list[dict[str, Any]] = []
    plain: list[dict[str, Any]] = []
    grounding: list[str] = []
    queries: list[str] = []
    for block in system or []:
        if "guardContent" in block:
            guarded.append(block["guardContent"])
    for msg in messages:
        for block in msg.get("content", []):
            if "guardContent" in block:
                gc = block["guardContent"]
                text = (gc.get("text") or {}).get("text", "")
                quals = (gc.get("text") or {}).get("qualifiers") or []
                if "grounding_source" in quals:
                    grounding.append(text)
                if "query" in quals:
                    queries.append(text)
                guarded.append(gc)
            elif "text" in block and msg.get("role") == "user":
                plain.append({"text": {"text": str(block["text"])}})
    content = guarded or plain
    return (
        content,
        "\n".join(grounding) if grounding else None,
        "\n".join(queries) if queries else None,
    )


def _blocked_text(assessment: dict[str, Any], fallback: str) -> str:
    outs = assessment.get("outputs") or []
    return str(outs[0].get("text", fallback)) if outs else fallback


# --------------------------------------------------------------------------- the pipeline


def _run(
    call: OfflineCall,
    *,
    operation: str,
    model_id: str,
    messages: list[dict[str, Any]],
    system: list[dict[str, Any]] | None,
    inference_config: dict[str, Any] | None,
    tool_config: dict[str, Any] | None,
    guardrail: dict[str, Any] | None,
) -> tuple[dict[str, Any], Any]:
    """Serve one text-generation call: checks, quota, guardrails, the stand-in, accounting.

    Returns:
        (Converse-shaped result with ``metrics`` and maybe ``trace``, the model profile).
    """
    from mllab.models import foundation

    started = time.perf_counter()
    prof = resolve_model(call, model_id, text=True)
    if operation in {"ConverseStream", "InvokeModelWithResponseStream"} and not prof.streaming:
        raise _validation("The model is unsupported for streaming.")
    input_tokens = foundation.count_input_tokens(messages, system, tool_config)
    quotas.admit(call.account_id, call.region, prof.model_id, input_tokens)
    trace_on = guardrail is not None and str(guardrail.get("trace", "disabled")).lower() in {
        "enabled",
        "enabled_full",
    }
    trace: dict[str, Any] = {}
    result: dict[str, Any] | None = None
    if guardrail:
        g = _guardrails()
        gid = str(guardrail.get("guardrailIdentifier", ""))
        gver = str(guardrail.get("guardrailVersion", "DRAFT"))
        content, grounding, query = _guard_blocks(messages, system)
        ia = g.assess(call.account_id, call.region, gid, gver, "INPUT", content)
        key = gid.rsplit("/", 1)[-1]
        if trace_on:
            trace["inputAssessment"] = {key: (ia.get("assessments") or [{}])[0]}
        if ia.get("action") == "GUARDRAIL_INTERVENED":
            text = _blocked_text(ia, "Sorry, the model cannot answer this question.")
            result = {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "guardrail_intervened",
                "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
            }
            if trace_on:
                trace["actionReason"] = str(ia.get("actionReason", "Guardrail blocked."))
    if result is None:
        try:
            result = foundation.generate(
                prof.model_id, messages, system, inference_config, tool_config,
                input_tokens=input_tokens,
            )  # fmt: skip
        except foundation.ModelInputError as err:
            raise _model_error(err) from None
        if guardrail:
            g = _guardrails()
            gid = str(guardrail.get("guardrailIdentifier", ""))
            gver = str(guardrail.get("guardrailVersion", "DRAFT"))
            key = gid.rsplit("/", 1)[-1]
            texts = [b["text"] for b in result["output"]["message"]["content"] if "text" in b]
            if texts:
                _, grounding, query = _guard_blocks(messages, system)
                if query is None:
                    from mllab.models.foundation import parse_request

                    query = parse_request(messages, system).question or None
                oa = g.assess(
                    call.account_id, call.region, gid, gver, "OUTPUT",
                    [{"text": {"text": t}} for t in texts],
                    query=query, grounding_source=grounding,
                )  # fmt: skip
                if trace_on:
                    trace["outputAssessments"] = {key: oa.get("assessments") or []}
                    trace["modelOutput"] = list(texts)
                if oa.get("action") == "GUARDRAIL_INTERVENED":
                    text = _blocked_text(oa, "Sorry, the model cannot answer this question.")
                    result["output"]["message"]["content"] = [{"text": text}]
                    result["stopReason"] = "guardrail_intervened"
                    if trace_on:
                        trace["actionReason"] = str(oa.get("actionReason", "Guardrail blocked."))
    usage = result["usage"]
    measured_ms = (time.perf_counter() - started) * 1000.0
    latency = int(
        round(
            measured_ms + (prof.latency_ms(usage["outputTokens"]) if usage["totalTokens"] else 0.0)
        )
    )
    result["metrics"] = {"latencyMs": latency}
    if trace_on:
        result["trace"] = {"guardrail": trace}
    quotas.consume(call.account_id, call.region, prof.model_id, usage["totalTokens"])
    invocation_logging.put_metrics(
        call.account_id, call.region, model_id,
        {"Invocations": 1, "InvocationLatency": latency,
         "InputTokenCount": usage["inputTokens"], "OutputTokenCount": usage["outputTokens"]},
    )  # fmt: skip
    return result, prof


def _serve(call: OfflineCall, work: Callable[[OfflineCall, str], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` with the request id; count client errors and throttles as AWS does."""
    request_id = str(uuid.uuid4())
    model_id = str(call.params.get("modelId", ""))
    try:
        answer = work(call, request_id)
    except AwsError as err:
        name = "InvocationThrottles" if err.code == "ThrottlingException" else (
            "InvocationClientErrors" if err.status < 500 else "InvocationServerErrors"
        )  # fmt: skip
        invocation_logging.put_metrics(call.account_id, call.region, model_id, {name: 1})
        raise
    return answer


def _headers(request_id: str, usage: dict[str, Any], latency: int) -> dict[str, Any]:
    return {
        "HTTPStatusCode": 200,
        "RequestId": request_id,
        "HTTPHeaders": {
            "x-amzn-requestid": request_id,
            "content-type": "application/json",
            "x-amzn-bedrock-input-token-count": str(usage.get("inputTokens", 0)),
            "x-amzn-bedrock-output-token-count": str(usage.get("outputTokens", 0)),
            "x-amzn-bedrock-invocation-latency": str(latency),
        },
        "RetryAttempts": 0,
    }


def _public(result: dict[str, Any]) -> dict[str, Any]:
    """The Converse response members (no stand-in extras)."""
    keep = ("output", "stopReason", "usage", "metrics", "trace")
    return {k: result[k] for k in keep if k in result}


def _converse_inputs(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    model_id = str(p.get("modelId", ""))
    messages = list(p.get("messages") or [])
    system = p.get("system")
    icfg = p.get("inferenceConfig")
    tcfg = p.get("toolConfig")
    if ":prompt/" in model_id:
        from mllab.offline.bedrock import prompts

        prompts.check_converse_request(p)
        resolved = prompts.resolve(
            call.account_id, call.region, model_id, dict(p.get("promptVariables") or {})
        )
        model_id = str(resolved["modelId"])
        messages = list(resolved.get("messages") or []) + messages
        system = resolved.get("system")
        icfg = resolved.get("inferenceConfig") or None
        tcfg = resolved.get("toolConfig")
    elif p.get("promptVariables"):
        raise _validation(
            "promptVariables can only be used when modelId is the ARN of a prompt from Prompt "
            "Management."
        )
    if not messages:
        raise _validation(
            "The messages field is required: a conversation must start with a user message."
        )
    return {"model_id": model_id, "messages": messages, "system": system,
            "inference_config": icfg, "tool_config": tcfg}  # fmt: skip


def _log(call: OfflineCall, operation: str, request_id: str, model_id: str, body_in: Any,
         body_out: Any, usage: dict[str, Any], embedding: bool = False) -> None:  # fmt: skip
    invocation_logging.log_invocation(
        call.account_id, call.region, operation=operation, model_id=model_id,
        request_id=request_id, input_body=body_in, output_body=body_out,
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)), embedding=embedding,
    )  # fmt: skip


def _loggable_request(params: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in params.items() if k not in {"body"}}
    return json.loads(json.dumps(out, default=invocation_logging._jsonable))


@handles("bedrock-runtime", "Converse")
def _converse(call: OfflineCall) -> dict[str, Any]:
    def work(call: OfflineCall, request_id: str) -> dict[str, Any]:
        inputs = _converse_inputs(call)
        result, _ = _run(
            call, operation="Converse", guardrail=call.params.get("guardrailConfig"), **inputs
        )
        answer = _public(result)
        _log(call, "Converse", request_id, str(call.params.get("modelId")),
             lambda: _loggable_request(call.params), answer, result["usage"])  # fmt: skip
        answer["ResponseMetadata"] = _headers(
            request_id, result["usage"], result["metrics"]["latencyMs"]
        )
        return answer

    return _serve(call, work)


def _chunks(text: str, words: int = 3) -> list[str]:
    pieces = re.findall(r"\s*\S+", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)] or [""]


def converse_events(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The ConverseStream events of a Converse-shaped result."""
    events: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    for i, block in enumerate(result["output"]["message"]["content"]):
        if "toolUse" in block:
            use = block["toolUse"]
            events.append({"contentBlockStart": {"start": {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}, "contentBlockIndex": i}})  # fmt: skip
            events.append({"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(use["input"])}}, "contentBlockIndex": i}})  # fmt: skip
        else:
            for piece in _chunks(str(block.get("text", ""))):
                events.append(
                    {"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": i}}
                )
        events.append({"contentBlockStop": {"contentBlockIndex": i}})
    events.append({"messageStop": {"stopReason": result["stopReason"]}})
    meta: dict[str, Any] = {"usage": result["usage"], "metrics": result["metrics"]}
    if "trace" in result:
        meta["trace"] = result["trace"]
    events.append({"metadata": meta})
    return events


@handles("bedrock-runtime", "ConverseStream")
def _converse_stream(call: OfflineCall) -> dict[str, Any]:
    def work(call: OfflineCall, request_id: str) -> dict[str, Any]:
        inputs = _converse_inputs(call)
        result, _ = _run(
            call, operation="ConverseStream", guardrail=call.params.get("guardrailConfig"), **inputs
        )
        _log(call, "ConverseStream", request_id, str(call.params.get("modelId")),
             lambda: _loggable_request(call.params), _public(result), result["usage"])  # fmt: skip
        return {
            "stream": EventStream(converse_events(result)),
            "ResponseMetadata": _headers(
                request_id, result["usage"], result["metrics"]["latencyMs"]
            ),
        }

    return _serve(call, work)


# --------------------------------------------------------------------------- native bodies


def _b64(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    try:
        return base64.b64decode(str(data))
    except ValueError:
        raise _malformed("image bytes are not valid base64") from None


def _nova_in(body: dict[str, Any]) -> dict[str, Any]:
    if "messages" not in body:
        raise _malformed("required key [messages] not found")
    messages = []
    for m in body["messages"]:
        content = []
        for b in m.get("content") or []:
            if "image" in b:
                img = dict(b["image"])
                img["source"] = {"bytes": _b64((img.get("source") or {}).get("bytes", b""))}
                content.append({"image": img})
            else:
                content.append(b)
        messages.append({"role": m.get("role"), "content": content})
    ic = body.get("inferenceConfig") or {}
    cfg = {
        "maxTokens": ic.get("max_new_tokens", ic.get("maxTokens")),
        "temperature": ic.get("temperature"),
        "topP": ic.get("top_p", ic.get("topP")),
        "stopSequences": ic.get("stopSequences"),
    }
    return {"messages": messages, "system": body.get("system"),
            "inference_config": {k: v for k, v in cfg.items() if v is not None},
            "tool_config": body.get("toolConfig")}  # fmt: skip


def _nova_out(result: dict[str, Any]) -> dict[str, Any]:
    u = result["usage"]
    return {
        "output": result["output"],
        "stopReason": result["stopReason"],
        "usage": {"inputTokens": u["inputTokens"], "outputTokens": u["outputTokens"],
                  "totalTokens": u["totalTokens"], "cacheReadInputTokenCount": 0,
                  "cacheWriteInputTokenCount": 0},
    }  # fmt: skip


def _anthropic_in(body: dict[str, Any]) -> dict[str, Any]:
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise _malformed(f"#: required key [{key}] not found")
    if not str(body["anthropic_version"]).startswith("bedrock-"):
        raise _malformed(
            f"#/anthropic_version: {body['anthropic_version']} is not a valid enum value"
        )
    messages = []
    for m in body["messages"]:
        raw = m.get("content")
        blocks: list[dict[str, Any]] = (
            [{"type": "text", "text": raw}] if isinstance(raw, str) else list(raw or [])
        )
        content: list[dict[str, Any]] = []
        for b in blocks:
            t = b.get("type")
            if t == "text":
                content.append({"text": b.get("text", "")})
            elif t == "image":
                src = b.get("source") or {}
                fmt = str(src.get("media_type", "image/png")).split("/")[-1]
                content.append(
                    {"image": {"format": fmt, "source": {"bytes": _b64(src.get("data", ""))}}}
                )
            elif t == "tool_use":
                content.append({"toolUse": {"toolUseId": b.get("id"), "name": b.get("name"), "input": b.get("input") or {}}})  # fmt: skip
            elif t == "tool_result":
                inner = b.get("content")
                parts = [{"text": inner}] if isinstance(inner, str) else [
                    {"text": c.get("text", "")} for c in inner or [] if c.get("type") == "text"
                ]  # fmt: skip
                content.append({"toolResult": {"toolUseId": b.get("tool_use_id"), "content": parts,
                                               "status": "error" if b.get("is_error") else "success"}})  # fmt: skip
            else:
                raise _malformed(f"#/messages/content: unknown content type {t!r}")
        messages.append({"role": m.get("role"), "content": content})
    sys_raw = body.get("system")
    system = None
    if isinstance(sys_raw, str) and sys_raw:
        system = [{"text": sys_raw}]
    elif isinstance(sys_raw, list):
        system = [{"text": b.get("text", "")} for b in sys_raw if b.get("type") == "text"]
    tool_config = None
    if body.get("tools"):
        tools = [{"toolSpec": {"name": t["name"], "description": t.get("description", ""),
                               "inputSchema": {"json": t.get("input_schema") or {"type": "object"}}}}
                 for t in body["tools"]]  # fmt: skip
        choice_raw = body.get("tool_choice") or {"type": "auto"}
        kind = choice_raw.get("type", "auto")
        choice = {"tool": {"name": choice_raw.get("name")}} if kind == "tool" else {kind: {}}
        tool_config = {"tools": tools, "toolChoice": choice}
    cfg = {"maxTokens": body.get("max_tokens"), "temperature": body.get("temperature"),
           "topP": body.get("top_p"), "stopSequences": body.get("stop_sequences")}  # fmt: skip
    return {"messages": messages, "system": system,
            "inference_config": {k: v for k, v in cfg.items() if v is not None},
            "tool_config": tool_config}  # fmt: skip


_ANTHROPIC_STOP = {"end_turn": "end_turn", "max_tokens": "max_tokens",
                   "stop_sequence": "stop_sequence", "tool_use": "tool_use",
                   "guardrail_intervened": "end_turn"}  # fmt: skip


def _anthropic_out(result: dict[str, Any], prof: Any) -> dict[str, Any]:
    content = []
    for b in result["output"]["message"]["content"]:
        if "toolUse" in b:
            u = b["toolUse"]
            content.append(
                {"type": "tool_use", "id": u["toolUseId"], "name": u["name"], "input": u["input"]}
            )
        else:
            content.append({"type": "text", "text": b.get("text", "")})
    stop = result["stopReason"]
    return {
        "id": "msg_bdrk_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": prof.base_model_id.split(".", 1)[-1].rsplit("-v", 1)[0],
        "content": content,
        "stop_reason": _ANTHROPIC_STOP.get(stop, stop),
        "stop_sequence": (result.get("additionalModelResponseFields") or {}).get("stop_sequence"),
        "usage": {
            "input_tokens": result["usage"]["inputTokens"],
            "output_tokens": result["usage"]["outputTokens"],
        },
    }


_LLAMA3 = re.compile(
    r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\s*(.*?)(?:<\|eot_id\|>|$)", re.S
)
_LLAMA2 = re.compile(r"\[INST\](.*?)\[/INST\]([^\[]*)", re.S)


def _llama_in(body: dict[str, Any]) -> dict[str, Any]:
    if "prompt" not in body:
        raise _malformed("#: required key [prompt] not found")
    prompt = str(body["prompt"])
    system: list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] = []
    turns = _LLAMA3.findall(prompt)
    if turns:
        for role, text in turns:
            text = text.strip()
            if role == "system":
                system = [{"text": text}]
            elif text:
                messages.append(
                    {
                        "role": "assistant" if role == "assistant" else "user",
                        "content": [{"text": text}],
                    }
                )
    elif "[INST]" in prompt:
        for inst, answer in _LLAMA2.findall(prompt):
            m = re.search(r"<<SYS>>(.*?)<</SYS>>", inst, re.S)
            if m:
                system = [{"text": m.group(1).strip()}]
                inst = inst.replace(m.group(0), "")
            messages.append({"role": "user", "content": [{"text": inst.strip()}]})
            answer = answer.replace("</s>", "").replace("<s>", "").strip()
            if answer:
                messages.append({"role": "assistant", "content": [{"text": answer}]})
    else:
        messages = [
            {"role": "user", "content": [{"text": prompt.replace("<|begin_of_text|>", "").strip()}]}
        ]
    cfg = {"maxTokens": body.get("max_gen_len", 512), "temperature": body.get("temperature"),
           "topP": body.get("top_p")}  # fmt: skip
    return {"messages": messages, "system": system,
            "inference_config": {k: v for k, v in cfg.items() if v is not None}, "tool_config": None}  # fmt: skip


def _llama_out(result: dict[str, Any]) -> dict[str, Any]:
    text = "".join(b.get("text", "") for b in result["output"]["message"]["content"])
    return {
        "generation": text,
        "prompt_token_count": result["usage"]["inputTokens"],
        "generation_token_count": result["usage"]["outputTokens"],
        "stop_reason": "length" if result["stopReason"] == "max_tokens" else "stop",
    }


def _titan_text_in(body: dict[str, Any]) -> dict[str, Any]:
    if "inputText" not in body:
        raise _malformed("#: required key [inputText] not found")
    text = re.sub(r"\s*\n?Bot:\s*$", "", str(body["inputText"])).strip()
    text = re.sub(r"^User:\s*", "", text)
    tg = body.get("textGenerationConfig") or {}
    cfg = {"maxTokens": tg.get("maxTokenCount", 512), "temperature": tg.get("temperature"),
           "topP": tg.get("topP"), "stopSequences": tg.get("stopSequences")}  # fmt: skip
    return {"messages": [{"role": "user", "content": [{"text": text}]}], "system": None,
            "inference_config": {k: v for k, v in cfg.items() if v is not None}, "tool_config": None}  # fmt: skip


def _titan_text_out(result: dict[str, Any]) -> dict[str, Any]:
    text = "".join(b.get("text", "") for b in result["output"]["message"]["content"])
    reason = {"max_tokens": "LENGTH", "stop_sequence": "STOP_CRITERIA_MET",
              "guardrail_intervened": "CONTENT_FILTERED"}.get(result["stopReason"], "FINISH")  # fmt: skip
    return {"inputTextTokenCount": result["usage"]["inputTokens"],
            "results": [{"tokenCount": result["usage"]["outputTokens"], "outputText": text,
                         "completionReason": reason}]}  # fmt: skip


_TEXT_FAMILIES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], Callable[..., dict[str, Any]]]] = {
    "nova": (_nova_in, lambda r, p: _nova_out(r)),
    "anthropic": (_anthropic_in, _anthropic_out),
    "llama": (_llama_in, lambda r, p: _llama_out(r)),
    "titan-text": (_titan_text_in, lambda r, p: _titan_text_out(r)),
}  # fmt: skip


# --------------------------------------------------------------------------- embeddings


def titan_embed(body: dict[str, Any], prof: Any) -> tuple[dict[str, Any], int]:
    """Titan Text Embeddings V2: the response body and its input token count."""
    import numpy as np

    from mllab.models import embeddings, tokens

    if "inputText" not in body:
        raise _malformed("#: required key [inputText] not found")
    text = body["inputText"]
    if not isinstance(text, str):
        raise _malformed(f"#/inputText: expected type: String, found: {type(text).__name__}")
    if len(text) > TITAN_EMBED_MAX_CHARS:
        raise _malformed(f"expected maxLength: {TITAN_EMBED_MAX_CHARS}, actual: {len(text)}")
    n = tokens.count(text)
    if n > prof.context_window:
        raise _validation(
            f"400 Bad Request: Too many input tokens. Max input tokens: {prof.context_window}, "
            f"request input token count: {n} "
        )
    dims = body.get("dimensions", 1024)
    if dims not in prof.embedding_dimensions:
        raise _malformed(f"#/dimensions: {dims} is not a valid enum value")
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise _malformed("#/normalize: expected type: Boolean")
    types = body.get("embeddingTypes", ["float"])
    if not types or any(t not in ("float", "binary") for t in types):
        raise _malformed(f"#/embeddingTypes: {types} is not a valid enum value")
    vec = embeddings.embed([text], dimensions=int(dims), normalize=normalize)[0]
    floats = vec.astype(float).tolist()
    by_type: dict[str, Any] = {}
    if "float" in types:
        by_type["float"] = floats
    if "binary" in types:
        by_type["binary"] = [int(b) for b in (np.asarray(vec) > 0).astype(int)]
    out: dict[str, Any] = {"inputTextTokenCount": n, "embeddingsByType": by_type}
    if "float" in types:
        out = {"embedding": floats, **out}
    return out, n


def cohere_embed(body: dict[str, Any], prof: Any) -> tuple[dict[str, Any], int]:
    """Cohere Embed v3: the response body and its input token count."""
    import numpy as np

    from mllab.models import embeddings, tokens

    texts = body.get("texts")
    if texts is None:
        raise _malformed("#: required key [texts] not found")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise _malformed("#/texts: expected type: JSONArray of strings")
    if not 1 <= len(texts) <= COHERE_MAX_TEXTS:
        raise _malformed(
            f"#/texts: expected minimum item count: 1, maximum: {COHERE_MAX_TEXTS}, found: {len(texts)}"
        )
    if "input_type" not in body:
        raise _malformed("#: required key [input_type] not found")
    kinds = ("search_document", "search_query", "classification", "clustering")
    if body["input_type"] not in kinds:
        raise _malformed(f"#/input_type: {body['input_type']} is not a valid enum value")
    truncate = body.get("truncate", "END")
    if truncate not in ("NONE", "START", "END"):
        raise _malformed(f"#/truncate: {truncate} is not a valid enum value")
    limit = prof.context_window
    kept: list[str] = []
    total = 0
    for t in texts:
        if len(t) > COHERE_MAX_CHARS:
            raise _malformed(f"#/texts: expected maxLength: {COHERE_MAX_CHARS}, actual: {len(t)}")
        n = tokens.count(t)
        if n > limit:
            if truncate == "NONE":
                raise _validation(
                    f"Input text exceeds the model's maximum of {limit} tokens "
                    f"({n} tokens); set truncate to START or END, or shorten the text."
                )
            if truncate == "END":
                t = tokens.truncate(t, limit)
            else:
                spans = tokens.pieces(t)
                t = t[spans[n - limit][0] :]
            n = tokens.count(t)
        kept.append(t)
        total += n
    vecs = embeddings.embed(kept, dimensions=1024)
    types = body.get("embedding_types")
    out: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": texts}
    if not types:
        out.update(
            embeddings=[[float(x) for x in v] for v in vecs], response_type="embeddings_floats"
        )
        return out, total
    by: dict[str, Any] = {}
    for kind in types:
        if kind == "float":
            by["float"] = vecs.astype(float).tolist()
        elif kind in ("int8", "uint8"):
            scale = np.abs(vecs).max(axis=1, keepdims=True)
            q = np.round(vecs / np.where(scale > 0, scale, 1) * 127).astype(int)
            by[kind] = (q if kind == "int8" else q + 128).tolist()
        elif kind in ("binary", "ubinary"):
            packed = np.packbits((vecs > 0).astype(np.uint8), axis=1).astype(int)
            by[kind] = (packed - 128 if kind == "binary" else packed).tolist()
        else:
            raise _malformed(f"#/embedding_types: {kind} is not a valid enum value")
    out.update(embeddings=by, response_type="embeddings_by_type")
    return out, total


# --------------------------------------------------------------------------- InvokeModel


def _native(
    call: OfflineCall, operation: str, request_id: str
) -> tuple[Any, dict[str, Any], dict[str, Any], Any, int]:
    """Serve an InvokeModel body; returns (profile, body out, usage, converse result, latency)."""
    p = call.params
    model_id = str(p.get("modelId", ""))
    ctype = str(p.get("contentType") or "application/json")
    if not ctype.startswith("application/json"):
        raise _validation(
            f"The provided content type {ctype} is not supported. Use application/json."
        )
    from mllab.models import catalog

    pre = catalog.profile(model_id)
    if pre is not None and pre.is_embedding:
        started = time.perf_counter()
        prof = resolve_model(call, model_id, text=False)
        if operation == "InvokeModelWithResponseStream":
            raise _validation("The model is unsupported for streaming.")
        body = _body_json(p.get("body"))
        quotas.admit(call.account_id, call.region, prof.model_id, 0)
        out, n = (titan_embed if prof.family == "titan-embed" else cohere_embed)(body, prof)
        latency = int(round((time.perf_counter() - started) * 1000 + prof.ttft_ms))
        quotas.consume(call.account_id, call.region, prof.model_id, n)
        usage = {"inputTokens": n, "outputTokens": 0, "totalTokens": n}
        invocation_logging.put_metrics(call.account_id, call.region, model_id,
                                       {"Invocations": 1, "InvocationLatency": latency, "InputTokenCount": n})  # fmt: skip
        _log(call, operation, request_id, model_id, body, out, usage, embedding=True)
        return prof, out, usage, None, latency
    prof = resolve_model(call, model_id, text=True)
    body = _body_json(p.get("body"))
    to_in, to_out = _TEXT_FAMILIES[prof.family]
    inputs = to_in(body)
    guardrail = None
    if p.get("guardrailIdentifier"):
        guardrail = {"guardrailIdentifier": p["guardrailIdentifier"],
                     "guardrailVersion": p.get("guardrailVersion") or "DRAFT",
                     "trace": str(p.get("trace") or "DISABLED").lower()}  # fmt: skip
    result, prof = _run(call, operation=operation, model_id=model_id, guardrail=guardrail, **inputs)
    out = to_out(result, prof)
    if guardrail:
        out["amazon-bedrock-guardrailAction"] = (
            "INTERVENED" if result["stopReason"] == "guardrail_intervened" else "NONE"
        )
        if "trace" in result:
            out["amazon-bedrock-trace"] = result["trace"]
    _log(call, operation, request_id, model_id, body, out, result["usage"])
    return prof, out, result["usage"], result, result["metrics"]["latencyMs"]


@handles("bedrock-runtime", "InvokeModel")
def _invoke_model(call: OfflineCall) -> dict[str, Any]:
    def work(call: OfflineCall, request_id: str) -> dict[str, Any]:
        _, out, usage, _, latency = _native(call, "InvokeModel", request_id)
        data = json.dumps(out).encode()
        return {"body": _streaming_body(data), "contentType": "application/json",
                "ResponseMetadata": _headers(request_id, usage, latency)}  # fmt: skip

    return _serve(call, work)


def _native_chunks(
    prof: Any, result: dict[str, Any], out: dict[str, Any], latency: int
) -> list[dict[str, Any]]:
    usage = result["usage"]
    metrics = {"inputTokenCount": usage["inputTokens"], "outputTokenCount": usage["outputTokens"],
               "invocationLatency": latency, "firstByteLatency": int(prof.ttft_ms)}  # fmt: skip
    text = "".join(b.get("text", "") for b in result["output"]["message"]["content"])
    pieces = _chunks(text)
    chunks: list[dict[str, Any]]
    if prof.family == "anthropic":
        msg = {k: v for k, v in out.items() if k not in ("content", "stop_reason", "stop_sequence")}
        msg.update(content=[], stop_reason=None, stop_sequence=None,
                   usage={"input_tokens": usage["inputTokens"], "output_tokens": 1})  # fmt: skip
        chunks = [{"type": "message_start", "message": msg}]
        for i, block in enumerate(out["content"]):
            if block["type"] == "tool_use":
                chunks.append({"type": "content_block_start", "index": i,
                               "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})  # fmt: skip
                chunks.append({"type": "content_block_delta", "index": i,
                               "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}})  # fmt: skip
            else:
                chunks.append(
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
                for piece in _chunks(block["text"]):
                    chunks.append(
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "text_delta", "text": piece},
                        }
                    )
            chunks.append({"type": "content_block_stop", "index": i})
        chunks.append({"type": "message_delta", "delta": {"stop_reason": out["stop_reason"], "stop_sequence": out["stop_sequence"]},
                       "usage": {"output_tokens": usage["outputTokens"]}})  # fmt: skip
        chunks.append({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
    elif prof.family == "nova":
        chunks = [{"messageStart": {"role": "assistant"}}]
        for i, block in enumerate(result["output"]["message"]["content"]):
            if "toolUse" in block:
                u = block["toolUse"]
                chunks.append({"contentBlockStart": {"start": {"toolUse": {"toolUseId": u["toolUseId"], "name": u["name"]}}, "contentBlockIndex": i}})  # fmt: skip
                chunks.append({"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(u["input"])}}, "contentBlockIndex": i}})  # fmt: skip
            else:
                for piece in _chunks(block.get("text", "")):
                    chunks.append(
                        {"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": i}}
                    )
            chunks.append({"contentBlockStop": {"contentBlockIndex": i}})
        chunks.append({"messageStop": {"stopReason": result["stopReason"]}})
        chunks.append({"metadata": {"usage": {"inputTokens": usage["inputTokens"], "outputTokens": usage["outputTokens"]},
                                    "metrics": {}, "trace": {}}, "amazon-bedrock-invocationMetrics": metrics})  # fmt: skip
    elif prof.family == "llama":
        chunks = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            chunks.append({"generation": piece, "prompt_token_count": usage["inputTokens"] if i == 0 else None,
                           "generation_token_count": usage["outputTokens"] if last else i + 1,
                           "stop_reason": out["stop_reason"] if last else None})  # fmt: skip
        chunks[-1]["amazon-bedrock-invocationMetrics"] = metrics
    else:  # titan-text
        chunks = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            chunks.append({"outputText": piece, "index": 0,
                           "totalOutputTextTokenCount": usage["outputTokens"] if last else None,
                           "completionReason": out["results"][0]["completionReason"] if last else None,
                           "inputTextTokenCount": usage["inputTokens"] if i == 0 else None})  # fmt: skip
        chunks[-1]["amazon-bedrock-invocationMetrics"] = metrics
    return chunks


@handles("bedrock-runtime", "InvokeModelWithResponseStream")
def _invoke_stream(call: OfflineCall) -> dict[str, Any]:
    def work(call: OfflineCall, request_id: str) -> dict[str, Any]:
        prof, out, usage, result, latency = _native(
            call, "InvokeModelWithResponseStream", request_id
        )
        chunks = _native_chunks(prof, result, out, latency)
        events = [{"chunk": {"bytes": json.dumps(c).encode()}} for c in chunks]
        return {"body": EventStream(events), "contentType": "application/json",
                "ResponseMetadata": _headers(request_id, usage, latency)}  # fmt: skip

    return _serve(call, work)


# --------------------------------------------------------------------------- CountTokens


def count_request_tokens(call: OfflineCall, model_id: str, inp: dict[str, Any]) -> int:
    """Input tokens of a CountTokens ``input`` (``converse`` or ``invokeModel``)."""
    from mllab.models import foundation, tokens

    prof = resolve_model(call, model_id)
    if "converse" in inp:
        c = inp["converse"] or {}
        return foundation.count_input_tokens(
            list(c.get("messages") or []), c.get("system"), c.get("toolConfig")
        )
    if "invokeModel" in inp:
        body = _body_json((inp["invokeModel"] or {}).get("body"))
        if prof.is_embedding:
            texts = (
                [body.get("inputText", "")]
                if prof.family == "titan-embed"
                else list(body.get("texts") or [])
            )
            return sum(tokens.count(str(t)) for t in texts)
        inputs = _TEXT_FAMILIES[prof.family][0](body)
        return foundation.count_input_tokens(
            inputs["messages"], inputs["system"], inputs["tool_config"]
        )
    raise _validation("The input must contain either converse or invokeModel.")


@handles("bedrock-runtime", "CountTokens")
def _count_tokens(call: OfflineCall) -> dict[str, Any]:
    model_id = str(call.params.get("modelId", ""))
    return {"inputTokens": count_request_tokens(call, model_id, call.params.get("input") or {})}
