"""The cost guard on Bedrock inference: worst-case token estimates, budget refusals, fail-closed ids."""

from __future__ import annotations

import json

import pytest

from mllab.guard.declarations import bedrock_runtime as decl
from mllab.guard.errors import CostGuardError
from mllab.guard.estimate import Policy, Refusal
from mllab.models import catalog, foundation, tokens

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def msgs(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_worst_case_estimates_without_a_lab() -> None:
    prof = catalog.profile(SONNET)
    assert prof is not None
    m = msgs("Summarize the quarterly report in three sentences.")
    est = decl.converse_cost(
        {"modelId": SONNET, "messages": m, "inferenceConfig": {"maxTokens": 300}}, Policy()
    )
    n = foundation.count_input_tokens(m)  # type: ignore[arg-type]
    assert est.usd == pytest.approx(prof.cost_usd(n, 300)) and est.detail["input_tokens"] == n
    # no maxTokens: the model's maximum output (64,000 for Sonnet 4.5) is the worst case
    est_max = decl.converse_cost({"modelId": SONNET, "messages": m}, Policy())
    assert est_max.detail["max_output_tokens"] == 64_000 and est_max.usd > est.usd
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello there"}],
    }
    inv = decl.invoke_model_cost(
        {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "body": json.dumps(body)}, Policy()
    )
    assert inv.detail["max_output_tokens"] == 50 and inv.detail["input_tokens"] == tokens.count(
        "user\nhello there"
    )
    emb = decl.invoke_model_cost(
        {"modelId": "amazon.titan-embed-text-v2:0", "body": json.dumps({"inputText": "a b c"})},
        Policy(),
    )
    assert emb.detail["max_output_tokens"] == 0 and emb.usd == pytest.approx(
        tokens.count("a b c") * 0.00002 / 1000
    )
    # outside an offline lab an id the snapshot does not know is refused (fail closed)
    with pytest.raises(Refusal, match="cannot price"):
        decl.converse_cost({"modelId": "anthropic.claude-opus-9", "messages": m}, Policy())


def test_budget_refuses_the_worst_case_and_settles_the_actual() -> None:
    from mllab import Lab

    lab = Lab("bedrock-budget", backend="offline", budget_usd=0.01)
    try:
        rt = lab.client("bedrock-runtime")
        with pytest.raises(CostGuardError) as refused:
            rt.converse(
                modelId=SONNET, messages=msgs("Write a long essay.")
            )  # 64,000 tokens worst case
        assert "worst-case estimate exceeds the lab's remaining budget" in str(refused.value)
        ok = rt.converse(modelId=SONNET, messages=msgs("Context: The budget is small.\n\nHow big is the budget?"),
                         inferenceConfig={"maxTokens": 100})  # fmt: skip
        assert ok["output"]["message"]["content"][0]["text"] == "The budget is small."
        row = [r for r in lab.guard.ledger.rows() if r.operation == "Converse"][-1]
        prof = catalog.profile(SONNET)
        assert prof is not None and row.resource == SONNET
        assert row.actual_usd == pytest.approx(
            prof.cost_usd(ok["usage"]["inputTokens"], ok["usage"]["outputTokens"])
        )
        # a guardrail adds its text units to the worst case
        gid = lab.client("bedrock").create_guardrail(
            name="g", blockedInputMessaging="no", blockedOutputsMessaging="no",
            contentPolicyConfig={"filtersConfig": [{"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}]},
        )["guardrailId"]  # fmt: skip
        est = decl.converse_cost({"modelId": SONNET, "messages": msgs("hi"), "inferenceConfig": {"maxTokens": 100},
                                  "guardrailConfig": {"guardrailIdentifier": gid, "guardrailVersion": "DRAFT"}}, Policy())  # fmt: skip
        assert est.detail["guardrail_usd"] > 0
        assert est.usd == pytest.approx(
            prof.cost_usd(est.detail["input_tokens"], 100) + est.detail["guardrail_usd"]
        )
    finally:
        lab.close()
