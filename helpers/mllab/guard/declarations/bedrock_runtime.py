"""Admission of Amazon Bedrock inference (``bedrock-runtime``) and the model catalogue (``bedrock``).

Introduced in lab 05 (token costs). Bedrock bills on-demand inference per token: a text model
per input and output token, an embedding model per input token (prices:
``mllab/guard/bedrock_pricing.json``, dated, names its source). Before a call the guard prices
the **worst case** -- the request's input tokens (counted with :mod:`mllab.models.tokens`) plus
``maxTokens`` (or the model's maximum output when the request sets none) -- and, for a
``guardrailConfig``, the guardrail's text units for the input and that worst-case output.
After the call the charge is settled from what the answer reports: Converse's ``usage`` or
the ``x-amzn-bedrock-input-token-count`` / ``-output-token-count`` response headers of
InvokeModel (:func:`settle`). Streaming answers report usage at the end of the stream; they
are settled from the headers offline and stay at the worst-case estimate on AWS.

A model id the price snapshot does not know is refused on AWS (fail closed); offline it is let
through at zero so the learner sees AWS's own ``ValidationException``.

Refused until part 2 prices them: provisioned throughput (bought per model-unit hour, with
month-long commitments), marketplace model endpoints and custom model deployments / imported
models that bill per hour or minute of capacity.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mllab.guard import admission
from mllab.guard.estimate import Estimate, Policy, Refusal

RUNTIME = "bedrock-runtime"
CONTROL = "bedrock"


def _backend() -> str:
    from mllab import hooks

    lab = hooks.active()
    return lab.backend if lab is not None else "aws"


def _snapshot_label() -> str:
    from mllab.guard import pricing

    snap = pricing.bedrock_snapshot()
    return f"Bedrock price snapshot of {snap['snapshot_date']} ({snap['region']})"


def _profile_or_refuse(model_id: str, operation: str) -> Any:
    from mllab.models import catalog

    prof = catalog.profile(model_id)
    if prof is None and _backend() != "offline":
        raise Refusal(
            f"{model_id!r} is not in the {_snapshot_label()}, so the guard cannot price "
            f"{operation} on it",
            "use a catalogued model or inference profile (mllab.models.catalog.ids(), e.g. "
            "'us.amazon.nova-micro-v1:0' or 'amazon.nova-micro-v1:0')",
        )
    return prof


def _text_of(value: Any) -> str:
    """Every string inside a JSON-like value, joined (what the tokenizer counts)."""
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for k, sub in v.items():
                if k in {"bytes", "image", "video"}:
                    continue
                walk(sub)
        elif isinstance(v, list):
            for sub in v:
                walk(sub)

    walk(value)
    return "\n".join(out)


def _body(params: dict[str, Any]) -> dict[str, Any]:
    body: Any = params.get("body")
    if body is not None and hasattr(body, "read"):
        pos = body.tell() if hasattr(body, "tell") else None
        data = body.read()
        if pos is not None and hasattr(body, "seek"):
            body.seek(pos)
        body = data
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    try:
        value = json.loads(body) if isinstance(body, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _guardrail_usd(
    guardrail: dict[str, Any] | None, input_text: str, max_output_tokens: int
) -> tuple[float, dict[str, Any]]:
    if not guardrail or not guardrail.get("guardrailIdentifier"):
        return 0.0, {}
    from mllab.guard.declarations.bedrock_guardrails import apply_guardrail_cost

    # worst case: the input judged once, and an output of max tokens (6 characters a token)
    out_chars = "x" * (6 * max_output_tokens)
    probe = {
        "guardrailIdentifier": guardrail["guardrailIdentifier"],
        "guardrailVersion": guardrail.get("guardrailVersion") or "DRAFT",
        "content": [{"text": {"text": input_text}}, {"text": {"text": out_chars}}],
    }
    est = apply_guardrail_cost(probe, Policy())
    return est.usd, {"guardrail_usd": est.usd, "guardrail_text_units": est.detail.get("text_units")}


def _estimate(
    model_id: str,
    operation: str,
    input_tokens: int,
    max_tokens: int | None,
    guardrail: dict[str, Any] | None = None,
    input_text: str = "",
) -> Estimate:
    if re.search(r":(provisioned-model|custom-model-deployment)/", model_id):
        # tokens on bought capacity are not billed per token: the capacity was priced when it
        # was created (and is refused until part 2 prices it)
        return Estimate(0.0, model_id, detail={"model": model_id, "note": "billed as capacity"})
    prof = _profile_or_refuse(model_id, operation)
    if prof is None:  # offline, unknown id: AWS's ValidationException will answer
        return Estimate(0.0, model_id, detail={"model": model_id, "note": "unknown model id"})
    out_tokens = 0 if prof.is_embedding else int(max_tokens or prof.max_output_tokens)
    usd = prof.cost_usd(input_tokens, out_tokens)
    g_usd, g_detail = _guardrail_usd(guardrail, input_text, out_tokens)
    return Estimate(
        usd + g_usd,
        model_id,
        detail={
            "model": model_id,
            "input_tokens": input_tokens,
            "max_output_tokens": out_tokens,
            "usd_per_1k_input": prof.usd_per_1k_input,
            "usd_per_1k_output": prof.usd_per_1k_output,
            "basis": "counted input tokens + maxTokens (worst case), settled from usage",
            "snapshot": _snapshot_label(),
            **g_detail,
        },
    )


def _prompt_arn(model_id: str) -> bool:
    return ":prompt/" in model_id


def converse_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """Converse / ConverseStream: input tokens + maxTokens at the model's prices.

    A prompt ARN as ``modelId`` is resolved offline (its model and template are read from the
    offline store); on AWS it is priced with the most expensive catalogued text model,
    4,096 tokens of template and its maximum output.

    Args:
        params: the request.
        policy: the lab's policy (unused: nothing persists).

    Returns:
        The worst-case estimate; nothing persists, so there is nothing to delete.
    """
    from mllab.models import foundation, tokens

    model_id = str(params.get("modelId", ""))
    messages = list(params.get("messages") or [])
    system = params.get("system")
    tool_config = params.get("toolConfig")
    icfg = params.get("inferenceConfig") or {}
    if _prompt_arn(model_id):
        resolved = _resolve_prompt(model_id, params.get("promptVariables") or {})
        if resolved is None:
            from mllab.models import catalog

            text_models = [p for p in catalog.models() if not p.is_embedding]
            worst = max(text_models, key=lambda p: p.usd_per_1k_output)
            extra = tokens.count(_text_of(params.get("promptVariables") or {}))
            return _estimate(
                worst.model_id, "Converse", 4096 + extra + foundation.count_input_tokens(messages),
                None, params.get("guardrailConfig"),
            )  # fmt: skip
        model_id = str(resolved["modelId"])
        messages = list(resolved.get("messages") or []) + messages
        system = resolved.get("system")
        tool_config = resolved.get("toolConfig")
        icfg = resolved.get("inferenceConfig") or {}
    try:
        n = foundation.count_input_tokens(messages, system, tool_config)
    except (TypeError, AttributeError, KeyError):
        n = tokens.count(_text_of([messages, system, tool_config]))
    text = _text_of([messages, system])
    return _estimate(
        model_id, "Converse", n, icfg.get("maxTokens"), params.get("guardrailConfig"), text
    )


def _resolve_prompt(model_id: str, variables: dict[str, Any]) -> dict[str, Any] | None:
    if _backend() != "offline":
        return None
    try:
        from mllab import hooks
        from mllab.offline.bedrock import prompts

        lab = hooks.active()
        assert lab is not None
        region = model_id.split(":")[3] if model_id.startswith("arn:") else lab.region
        return dict(prompts.resolve(lab.account_id, region, model_id, dict(variables)))
    except Exception:  # noqa: BLE001 - an unknown prompt: the call will answer AWS's error
        return None


def _native_max_tokens(body: dict[str, Any]) -> int | None:
    for key in ("max_tokens", "max_gen_len"):
        if isinstance(body.get(key), int):
            return int(body[key])
    ic = body.get("inferenceConfig") or {}
    for key in ("max_new_tokens", "maxTokens"):
        if isinstance(ic.get(key), int):
            return int(ic[key])
    tg = body.get("textGenerationConfig") or {}
    if isinstance(tg.get("maxTokenCount"), int):
        return int(tg["maxTokenCount"])
    return None


def invoke_model_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """InvokeModel (+ response stream): the native body's tokens at the model's prices.

    Text models: every string of the body counted as input plus the body's maximum output
    (``max_tokens``, ``max_gen_len``, ``max_new_tokens``, ``maxTokenCount``; the model's
    maximum when absent). Embedding models: the input texts' tokens only.

    Args:
        params: the request.
        policy: the lab's policy (unused: nothing persists).

    Returns:
        The worst-case estimate; nothing persists, so there is nothing to delete.
    """
    from mllab.models import tokens

    model_id = str(params.get("modelId", ""))
    body = _body(params)
    text_fields = {k: v for k, v in body.items() if k not in {"anthropic_version"}}
    text = _text_of(text_fields)
    n = tokens.count(text)
    guardrail = None
    if params.get("guardrailIdentifier"):
        guardrail = {
            "guardrailIdentifier": params["guardrailIdentifier"],
            "guardrailVersion": params.get("guardrailVersion"),
        }
    return _estimate(model_id, "InvokeModel", n, _native_max_tokens(body), guardrail, text)


def settle(
    service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
) -> float | None:
    """The actual charge of an answered inference call, from the tokens it reports.

    Args:
        service: ``bedrock-runtime``.
        operation: the operation.
        params: the request.
        parsed: the parsed answer (``usage`` for Converse; response headers otherwise).

    Returns:
        Dollars at the snapshot's prices, or None when the answer does not report its tokens
        (an AWS stream: the usage arrives at its end; the estimate stands).
    """
    if service != RUNTIME or operation not in _INFERENCE:
        return None
    from mllab.models import catalog

    model_id = str(params.get("modelId", ""))
    usage = parsed.get("usage") if isinstance(parsed.get("usage"), dict) else None
    headers = (parsed.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    if usage is not None:
        n_in, n_out = int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))
    elif "x-amzn-bedrock-input-token-count" in headers:
        n_in = int(headers.get("x-amzn-bedrock-input-token-count") or 0)
        n_out = int(headers.get("x-amzn-bedrock-output-token-count") or 0)
    else:
        return None
    if _prompt_arn(model_id):
        resolved = _resolve_prompt(model_id, params.get("promptVariables") or {})
        model_id = str(resolved["modelId"]) if resolved else model_id
    prof = catalog.profile(model_id)
    if prof is None:
        return None
    return prof.cost_usd(n_in, n_out)


_INFERENCE = ("Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream")

# --------------------------------------------------------------------------- declarations

admission.billable(
    RUNTIME,
    "Converse",
    "ConverseStream",
    estimator=converse_cost,
    deleter=admission.NOTHING_PERSISTS,
    note="bills per input and output token (bedrock_pricing.json)",
)
admission.billable(
    RUNTIME,
    "InvokeModel",
    "InvokeModelWithResponseStream",
    estimator=invoke_model_cost,
    deleter=admission.NOTHING_PERSISTS,
    note="bills per input and output token; embedding models per input token",
)
admission.free(RUNTIME, "CountTokens", note="counting tokens is free")
admission.read(
    CONTROL,
    "ListFoundationModels",
    "GetFoundationModel",
    "ListInferenceProfiles",
    "GetInferenceProfile",
    "GetModelInvocationLoggingConfiguration",
)
admission.free(
    CONTROL,
    "PutModelInvocationLoggingConfiguration",
    "DeleteModelInvocationLoggingConfiguration",
    note="the logging configuration is free; the logs bill as CloudWatch Logs / S3 storage",
)
_PART2 = "until part 2 of the offline Bedrock work prices it, no lab may start it"
admission.refuse(
    CONTROL,
    "CreateProvisionedModelThroughput",
    note=(
        "provisioned throughput bills every model-unit hour (about USD 20 or more per hour, "
        "often with a one- or six-month commitment) whether or not it is used; "
        + _PART2
        + ". Fix: call the model on demand (Converse with the model or inference-profile id)"
    ),
)
admission.refuse(
    CONTROL,
    "UpdateProvisionedModelThroughput",
    note="provisioned throughput bills every model-unit hour; " + _PART2,
)
admission.refuse(
    CONTROL,
    "CreateMarketplaceModelEndpoint",
    note=(
        "a Bedrock Marketplace model endpoint runs on SageMaker instances that bill every hour "
        "until deleted; " + _PART2 + ". Fix: use a serverless catalogued model on demand"
    ),
)
admission.refuse(
    CONTROL,
    "CreateCustomModelDeployment",
    note=(
        "a custom model deployment bills for its capacity by the hour; "
        + _PART2
        + ". Fix: evaluate the base model on demand first"
    ),
)
admission.refuse(
    CONTROL,
    "CreateModelImportJob",
    note=("an imported model bills per custom-model-unit minute while it is active; " + _PART2),
)
