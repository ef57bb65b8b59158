"""Offline InvokeModel / InvokeModelWithResponseStream with each family's native body, and embeddings."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from mllab.models import embeddings, tokens

SYSTEM = "Tents carry a two year warranty. Shipping to Canada takes seven business days."
QUESTION = "How long is the tent warranty?"


def invoke(rt: Any, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = rt.invoke_model(modelId=model_id, body=json.dumps(body), contentType="application/json")
    assert resp["contentType"] == "application/json"
    return dict(json.loads(resp["body"].read()))


def err_of(rt: Any, model_id: str, body: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        rt.invoke_model(modelId=model_id, body=body if isinstance(body, str) else json.dumps(body))
    e = err.value.response["Error"]
    return e["Code"], e["Message"]


def test_native_text_bodies(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    nova = invoke(rt, "amazon.nova-lite-v1:0", {
        "schemaVersion": "messages-v1", "system": [{"text": SYSTEM}],
        "messages": [{"role": "user", "content": [{"text": QUESTION}]}],
        "inferenceConfig": {"max_new_tokens": 100}})  # fmt: skip
    assert nova["output"]["message"]["content"][0]["text"] == "Tents carry a two year warranty."
    assert nova["stopReason"] == "end_turn" and nova["usage"]["totalTokens"] > 0

    claude = invoke(rt, "anthropic.claude-3-haiku-20240307-v1:0", {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 4, "system": SYSTEM,
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]})  # fmt: skip
    assert claude["type"] == "message" and claude["role"] == "assistant"
    assert claude["stop_reason"] == "max_tokens" and claude["usage"]["output_tokens"] == 4
    assert "Tents carry a two year warranty.".startswith(claude["content"][0]["text"])

    llama_prompt = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" + SYSTEM +
                    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" + QUESTION +
                    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")  # fmt: skip
    llama = invoke(rt, "meta.llama3-8b-instruct-v1:0", {"prompt": llama_prompt, "max_gen_len": 64})
    assert (
        llama["generation"] == "Tents carry a two year warranty." and llama["stop_reason"] == "stop"
    )
    assert llama["generation_token_count"] == tokens.count(llama["generation"])

    titan = invoke(rt, "amazon.titan-text-express-v1", {
        "inputText": f"User: {SYSTEM} {QUESTION}\nBot:", "textGenerationConfig": {"maxTokenCount": 50}})  # fmt: skip
    assert titan["results"][0]["outputText"] == "Tents carry a two year warranty."
    assert titan["results"][0]["completionReason"] == "FINISH"


def test_anthropic_tool_use_native(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    out = invoke(rt, "anthropic.claude-3-haiku-20240307-v1:0", {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
        "tools": [{"name": "track_parcel", "description": "Track a parcel by its tracking number",
                   "input_schema": {"type": "object", "properties": {"tracking_number": {"type": "string"}},
                                    "required": ["tracking_number"]}}],
        "messages": [{"role": "user", "content": "Where is my parcel? The tracking number is ZX-99812."}]})  # fmt: skip
    assert out["stop_reason"] == "tool_use"
    assert out["content"][0]["type"] == "tool_use" and out["content"][0]["input"] == {
        "tracking_number": "ZX-99812"
    }


def test_malformed_bodies_in_aws_words(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    assert err_of(rt, "amazon.nova-micro-v1:0", "{not json") == (
        "ValidationException",
        "Malformed input request, please reformat your input and try again.",
    )
    c, m = err_of(rt, "anthropic.claude-3-haiku-20240307-v1:0", {"max_tokens": 5, "messages": []})
    assert c == "ValidationException" and "required key [anthropic_version] not found" in m
    c, m = err_of(rt, "meta.llama3-8b-instruct-v1:0", {"inputText": "hi"})
    assert "required key [prompt] not found" in m


def test_titan_embeddings(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    text = "Retrieval-augmented generation grounds answers in documents."
    for dims in (256, 512, 1024):
        out = invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": text, "dimensions": dims})
        vec = np.array(out["embedding"])
        assert vec.shape == (dims,) and np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)
        assert np.allclose(vec, embeddings.embed([text], dimensions=dims)[0], atol=1e-6)
        assert out["inputTextTokenCount"] == tokens.count(text)
    default = invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": text})
    assert len(default["embedding"]) == 1024  # AWS's default
    raw = invoke(
        rt,
        "amazon.titan-embed-text-v2:0",
        {"inputText": text, "normalize": False, "dimensions": 256},
    )
    assert not np.isclose(np.linalg.norm(raw["embedding"]), 1.0)
    both = invoke(rt, "amazon.titan-embed-text-v2:0",
                  {"inputText": text, "dimensions": 256, "embeddingTypes": ["float", "binary"]})  # fmt: skip
    bits = np.array(both["embeddingsByType"]["binary"])
    assert set(bits.tolist()) <= {0, 1} and np.array_equal(
        bits, (np.array(both["embeddingsByType"]["float"]) > 0).astype(int)
    )
    c, m = err_of(rt, "amazon.titan-embed-text-v2:0", {"inputText": text, "dimensions": 300})
    assert c == "ValidationException" and "dimensions" in m
    many = "antidisestablishmentarianism " * 1000  # under 50,000 characters, over 8,192 tokens
    assert len(many) < 50_000 and tokens.count(many) > 8192
    c, m = err_of(rt, "amazon.titan-embed-text-v2:0", {"inputText": many})
    assert "Too many input tokens. Max input tokens: 8192" in m
    c, m = err_of(rt, "amazon.titan-embed-text-v2:0", {"inputText": "x" * 50_001})
    assert "expected maxLength: 50000" in m


def test_cohere_embeddings(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    texts = ["How do I reset my password?", "Steps to change the password of your account",
             "Quarterly revenue grew five percent in Europe"]  # fmt: skip
    out = invoke(rt, "cohere.embed-english-v3", {"texts": texts, "input_type": "search_document"})
    vecs = np.array(out["embeddings"])
    assert vecs.shape == (3, 1024) and out["response_type"] == "embeddings_floats"
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    typed = invoke(rt, "cohere.embed-english-v3", {"texts": texts[:1], "input_type": "search_query",
                                                   "embedding_types": ["int8", "float"]})  # fmt: skip
    assert typed["response_type"] == "embeddings_by_type"
    q = np.array(typed["embeddings"]["int8"][0])
    assert q.min() >= -127 and q.max() <= 127
    assert np.corrcoef(q, typed["embeddings"]["float"][0])[0, 1] > 0.99
    c, m = err_of(rt, "cohere.embed-english-v3", {"texts": texts})
    assert "required key [input_type] not found" in m
    long = "zq7 " * 500  # 2,000 characters, over 512 tokens
    c, m = err_of(
        rt,
        "cohere.embed-english-v3",
        {"texts": [long], "input_type": "search_document", "truncate": "NONE"},
    )
    assert c == "ValidationException" and "512 tokens" in m
    cut = invoke(rt, "cohere.embed-english-v3", {"texts": [long], "input_type": "search_document"})
    assert len(cut["embeddings"][0]) == 1024


def test_response_streams(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "system": SYSTEM,
            "messages": [{"role": "user", "content": QUESTION}]}  # fmt: skip
    resp = rt.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(body)
    )
    chunks = [json.loads(e["chunk"]["bytes"]) for e in resp["body"]]
    assert [c["type"] for c in chunks][:2] == ["message_start", "content_block_start"]
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    assert text == "Tents carry a two year warranty."
    assert chunks[-1]["type"] == "message_stop"
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == tokens.count(text) and metrics["inputTokenCount"] > 0
    nova = rt.invoke_model_with_response_stream(modelId="amazon.nova-micro-v1:0", body=json.dumps({
        "system": [{"text": SYSTEM}], "messages": [{"role": "user", "content": [{"text": QUESTION}]}]}))  # fmt: skip
    parts = [json.loads(e["chunk"]["bytes"]) for e in nova["body"]]
    assert (
        "".join(p["contentBlockDelta"]["delta"]["text"] for p in parts if "contentBlockDelta" in p)
        == text
    )
    with pytest.raises(ClientError) as err:
        rt.invoke_model_with_response_stream(
            modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "x"})
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_count_tokens_for_native_body_and_ledger_settles_embeddings(lab: Any) -> None:
    rt = lab.client("bedrock-runtime")
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "system": SYSTEM,
            "messages": [{"role": "user", "content": QUESTION}]}  # fmt: skip
    n = rt.count_tokens(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                        input={"invokeModel": {"body": json.dumps(body)}})["inputTokens"]  # fmt: skip
    out = invoke(rt, "anthropic.claude-3-haiku-20240307-v1:0", body)
    assert n == out["usage"]["input_tokens"]
    invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": "price me per input token"})
    row = [r for r in lab.guard.ledger.rows() if r.operation == "InvokeModel"][-1]
    assert row.actual_usd == pytest.approx(
        tokens.count("price me per input token") * 0.00002 / 1000
    )
