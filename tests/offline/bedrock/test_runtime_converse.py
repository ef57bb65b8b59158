"""Offline bedrock-runtime Converse / ConverseStream through boto3: answers, usage, errors, quotas,
guardrails and prompts, as AWS shapes them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.models import foundation, tokens

MICRO = "us.amazon.nova-micro-v1:0"
CONTEXT = (
    "Tents carry a two year warranty. Sleeping bags are guaranteed for five years. "
    "Shipping to Canada takes seven business days."
)


def msg(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def rag(question: str) -> list[dict[str, Any]]:
    return msg(f"<context>{CONTEXT}</context>\n\nQuestion: {question}")


def text_of(resp: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in resp["output"]["message"]["content"])


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    e = err.value.response["Error"]
    return e["Code"], e["Message"]


def test_converse_answers_from_the_request_with_usage_and_latency(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    resp = rt.converse(modelId=MICRO, messages=rag("How long is the tent warranty?"))
    assert text_of(resp) == "Tents carry a two year warranty."
    assert resp["stopReason"] == "end_turn"
    prompt = rag("How long is the tent warranty?")[0]["content"][0]["text"]
    assert resp["usage"]["inputTokens"] == tokens.count(prompt)
    assert resp["usage"]["outputTokens"] == tokens.count(text_of(resp))
    # the modelled service latency is part of latencyMs (Nova Micro: 280 ms to first token)
    assert resp["metrics"]["latencyMs"] >= 280
    # the same as calling the stand-in directly
    direct = foundation.generate(MICRO, rag("How long is the tent warranty?"))
    assert direct["output"] == resp["output"] and direct["usage"] == resp["usage"]
    bare = rt.converse(modelId=MICRO, messages=msg("How long is the tent warranty?"))
    assert text_of(bare) == foundation.CANNOT_ANSWER


def test_slower_model_reports_more_latency(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    q = rag("How long is the tent warranty?")
    fast = rt.converse(modelId=MICRO, messages=q)["metrics"]["latencyMs"]
    slow = rt.converse(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=q)
    assert slow["metrics"]["latencyMs"] > fast


def test_converse_stream_events(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    full = rt.converse(modelId=MICRO, messages=rag("How long are sleeping bags guaranteed?"))
    resp = rt.converse_stream(modelId=MICRO, messages=rag("How long are sleeping bags guaranteed?"))
    events = list(resp["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert "contentBlockStop" in kinds
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == text_of(full)
    meta = events[-1]["metadata"]
    assert meta["usage"] == full["usage"] and meta["metrics"]["latencyMs"] > 0
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    # a tool call streams contentBlockStart with the tool and the input as a JSON delta
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Get the weather for a city",
             "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]}  # fmt: skip
    s = list(
        rt.converse_stream(
            modelId=MICRO, messages=msg("What's the weather in Oslo?"), toolConfig=tools
        )["stream"]
    )
    start = next(e["contentBlockStart"] for e in s if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    delta = next(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in s if "contentBlockDelta" in e
    )
    assert json.loads(delta) == {"city": "Oslo"}
    assert next(e["messageStop"]["stopReason"] for e in s if "messageStop" in e) == "tool_use"
    closed = rt.converse_stream(modelId=MICRO, messages=rag("How long is the tent warranty?"))[
        "stream"
    ]
    it = iter(closed)
    next(it)
    closed.close()
    assert list(it) == []


def test_inference_config_limits(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    resp = rt.converse(
        modelId=MICRO,
        messages=rag("How long is the tent warranty?"),
        inferenceConfig={"maxTokens": 3},
    )
    assert resp["stopReason"] == "max_tokens" and resp["usage"]["outputTokens"] == 3
    with pytest.raises(ClientError) as err:
        rt.converse(modelId=MICRO, messages=msg("hi"), inferenceConfig={"maxTokens": 50000})
    assert code(err) == ("ValidationException",
                         "The maximum tokens you requested exceeds the model limit of 10000. Try again with a maximum tokens value that is lower than 10000.")  # fmt: skip


MODEL_ERRORS = [
    ("amazon.nova-nano-v9:0", "The provided model identifier is invalid."),
    ("eu.amazon.nova-micro-v1:0", "The provided model identifier is invalid."),  # not routed from us-east-1
    ("anthropic.claude-haiku-4-5-20251001-v1:0",
     "Invocation of model ID anthropic.claude-haiku-4-5-20251001-v1:0 with on-demand throughput isn't supported. "
     "Retry your request with the ID or ARN of an inference profile that contains this model."),
    ("amazon.titan-embed-text-v2:0", "This action doesn't support the model that you provided."),
]  # fmt: skip


def test_model_errors_in_aws_words(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    for model_id, message in MODEL_ERRORS:
        with pytest.raises(ClientError) as err:
            rt.converse(modelId=model_id, messages=msg("hi"))
        c, m = code(err)
        assert c == "ValidationException" and m.startswith(message), (model_id, m)


def test_inference_profile_works_where_base_id_does_not(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    resp = rt.converse(
        modelId="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        messages=rag("How long is the tent warranty?"),
    )
    assert text_of(resp) == "Tents carry a two year warranty."
    arn = f"arn:aws:bedrock:us-east-1:{lab.account_id}:inference-profile/us.amazon.nova-micro-v1:0"
    assert rt.converse(modelId=arn, messages=msg("hi"))["stopReason"] == "end_turn"


def test_context_window_and_unsupported_features(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    with pytest.raises(ClientError) as err:
        rt.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=msg("word " * 9000))
    assert code(err)[1].startswith("Input is too long for requested model.")
    with pytest.raises(ClientError) as err:
        rt.converse(
            modelId="amazon.titan-text-express-v1",
            messages=msg("hi"),
            system=[{"text": "Be brief."}],
        )
    assert "doesn't support system messages" in code(err)[1]


def test_throttling_on_the_lab_clock_and_quota_helper(lab: Any) -> None:
    from mllab.offline import clock
    from mllab.offline.bedrock import quotas

    rt = lab.client("bedrock-runtime")
    assert quotas.quota(MICRO, region=lab.region).requests_per_minute > 2
    quotas.set_quota(MICRO, requests_per_minute=2, region=lab.region)
    rt.converse(modelId=MICRO, messages=msg("hi"))
    rt.converse(modelId=MICRO, messages=msg("hi"))
    with pytest.raises(ClientError) as err:
        rt.converse(modelId=MICRO, messages=msg("hi"))
    assert code(err) == (
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    row = next(r for r in quotas.show(region=lab.region) if r["modelId"] == MICRO)
    assert row["requestsLastMinute"] == 2 and row["requestsPerMinute"] == 2
    clock.advance(61)
    assert rt.converse(modelId=MICRO, messages=msg("hi"))["stopReason"] == "end_turn"
    quotas.set_quota(MICRO, requests_per_minute=100, tokens_per_minute=50, region=lab.region)
    clock.advance(61)
    with pytest.raises(ClientError) as err:
        rt.converse(modelId=MICRO, messages=msg("word " * 60))
    assert code(err) == ("ThrottlingException", "Too many tokens, please wait before trying again.")
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    points = lab.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Bedrock", MetricName="InvocationThrottles",
        Dimensions=[{"Name": "ModelId", "Value": MICRO}], StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1), Period=60, Statistics=["Sum"])["Datapoints"]  # fmt: skip
    assert sum(p["Sum"] for p in points) == 2


def test_revoked_model_access(lab: Any) -> None:
    from mllab.offline.bedrock import quotas

    rt = lab.client("bedrock-runtime")
    quotas.revoke_access("amazon.nova-micro-v1:0")
    with pytest.raises(ClientError) as err:
        rt.converse(modelId=MICRO, messages=msg("hi"))  # its inference profile too
    assert code(err) == (
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    )
    assert (
        rt.converse(modelId="us.amazon.nova-lite-v1:0", messages=msg("hi"))["stopReason"]
        == "end_turn"
    )
    quotas.grant_access("amazon.nova-micro-v1:0")
    assert rt.converse(modelId=MICRO, messages=msg("hi"))["stopReason"] == "end_turn"


def _guardrail(lab: Any, name: str, **policy: Any) -> str:
    made = lab.client("bedrock").create_guardrail(
        name=name, blockedInputMessaging="Sorry, I can't discuss that.",
        blockedOutputsMessaging="Sorry, I can't answer with that.", **policy,
    )  # fmt: skip
    return str(made["guardrailId"])


def test_guardrail_blocks_input_and_output_with_trace(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    gid = _guardrail(lab, "in", wordPolicyConfig={"wordsConfig": [{"text": "competitor"}]})
    cfg = {"guardrailIdentifier": gid, "guardrailVersion": "DRAFT", "trace": "enabled"}
    blocked = rt.converse(
        modelId=MICRO, messages=msg("Tell me about the competitor pricing"), guardrailConfig=cfg
    )
    assert blocked["stopReason"] == "guardrail_intervened"
    assert text_of(blocked) == "Sorry, I can't discuss that."
    assert blocked["usage"]["outputTokens"] == 0
    assessment = blocked["trace"]["guardrail"]["inputAssessment"][gid]
    assert assessment["wordPolicy"]["customWords"][0]["match"] == "competitor"
    ok = rt.converse(
        modelId=MICRO, messages=rag("How long is the tent warranty?"), guardrailConfig=cfg
    )
    assert ok["stopReason"] == "end_turn" and text_of(ok) == "Tents carry a two year warranty."
    assert gid in ok["trace"]["guardrail"]["outputAssessments"]
    # the answer itself trips the output check: it says "warranty"; the guarded input does not
    out_gid = _guardrail(lab, "out", wordPolicyConfig={"wordsConfig": [{"text": "warranty"}]})
    out_cfg = {"guardrailIdentifier": out_gid, "guardrailVersion": "DRAFT"}
    msgs = [{"role": "user", "content": [{"guardContent": {"text": {"text": "How long is it guaranteed?"}}},
                                         {"text": f"<context>{CONTEXT}</context> Question: How long is the tent warranty?"}]}]  # fmt: skip
    out = rt.converse(modelId=MICRO, messages=msgs, guardrailConfig=out_cfg)
    assert (
        out["stopReason"] == "guardrail_intervened"
        and text_of(out) == "Sorry, I can't answer with that."
    )
    assert "trace" not in out  # trace disabled


def test_converse_with_a_prompt_arn_and_variables(lab: Any) -> None:
    ag = lab.client("bedrock-agent")
    made = ag.create_prompt(name="faq", variants=[{
        "name": "main", "templateType": "TEXT", "modelId": "amazon.nova-micro-v1:0",
        "templateConfiguration": {"text": {"text": "<context>{{context}}</context>\nQuestion: {{question}}",
                                           "inputVariables": [{"name": "context"}, {"name": "question"}]}},
        "inferenceConfiguration": {"text": {"maxTokens": 200}}}])  # fmt: skip
    rt = lab.client("bedrock-runtime")
    resp = rt.converse(modelId=made["arn"], promptVariables={
        "context": {"text": CONTEXT}, "question": {"text": "How long does shipping to Canada take?"}})  # fmt: skip
    assert text_of(resp) == "Shipping to Canada takes seven business days."
    with pytest.raises(ClientError) as err:
        rt.converse(modelId=made["arn"], promptVariables={"context": {"text": "x"}, "question": {"text": "y"}},
                    system=[{"text": "no"}])  # fmt: skip
    assert code(err)[0] == "ValidationException" and "system" in code(err)[1]


def test_count_tokens_matches_converse_usage(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    m = rag("How long is the tent warranty?")
    n = rt.count_tokens(modelId=MICRO, input={"converse": {"messages": m}})["inputTokens"]
    assert n == rt.converse(modelId=MICRO, messages=m)["usage"]["inputTokens"]


def test_guard_prices_worst_case_and_settles_from_usage(lab: Any) -> None:
    from mllab.models import catalog

    rt = lab.client("bedrock-runtime")
    m = rag("How long is the tent warranty?")
    resp = rt.converse(modelId=MICRO, messages=m, inferenceConfig={"maxTokens": 500})
    rows = [r for r in lab.guard.ledger.rows() if r.operation == "Converse"]
    assert rows, "the Converse call is in the ledger"
    row = rows[-1]
    prof = catalog.profile(MICRO)
    assert prof is not None
    worst = prof.cost_usd(resp["usage"]["inputTokens"], 500)
    assert row.estimate_usd == pytest.approx(worst)
    assert row.detail["input_tokens"] == resp["usage"]["inputTokens"]
    actual = prof.cost_usd(resp["usage"]["inputTokens"], resp["usage"]["outputTokens"])
    assert row.actual_usd == pytest.approx(actual)
    assert row.actual_usd < row.estimate_usd
