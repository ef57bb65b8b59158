"""The model catalogue: real ids, profiles that differ as the real models do, prices from the snapshot."""

from __future__ import annotations

import pytest

from mllab.guard import pricing
from mllab.models import catalog


def test_required_families_and_profiles_are_catalogued() -> None:
    ids = set(catalog.ids())
    for mid in (
        "amazon.nova-micro-v1:0",
        "amazon.nova-lite-v1:0",
        "amazon.nova-pro-v1:0",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "meta.llama3-8b-instruct-v1:0",
        "amazon.titan-embed-text-v2:0",
        "cohere.embed-english-v3",
        "us.amazon.nova-micro-v1:0",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    ):
        assert mid in ids, mid


def test_profiles_differ_in_what_a_learner_weighs() -> None:
    micro = catalog.profile("amazon.nova-micro-v1:0")
    pro = catalog.profile("amazon.nova-pro-v1:0")
    llama = catalog.profile("meta.llama3-8b-instruct-v1:0")
    titan = catalog.profile("amazon.titan-text-express-v1")
    haiku45 = catalog.profile("anthropic.claude-haiku-4-5-20251001-v1:0")
    assert micro and pro and llama and titan and haiku45
    assert micro.usd_per_1k_output < pro.usd_per_1k_output  # cheaper
    assert micro.max_passages < pro.max_passages  # combines less context
    assert micro.latency_ms(500) < pro.latency_ms(500)  # faster
    assert micro.input_modalities == ("TEXT",) and "IMAGE" in pro.input_modalities
    assert llama.context_window == 8_192 < micro.context_window
    assert not llama.tools and micro.tools
    assert not titan.system and micro.system
    assert not haiku45.on_demand and "INFERENCE_PROFILE" in haiku45.inference_types
    assert micro.on_demand


def test_inference_profile_inherits_model_and_names_regions() -> None:
    base = catalog.profile("amazon.nova-micro-v1:0")
    prof = catalog.profile("us.amazon.nova-micro-v1:0")
    assert base and prof
    assert prof.is_inference_profile and prof.base_model_id == base.model_id
    assert prof.usd_per_1k_input == base.usd_per_1k_input
    assert "us-east-1" in prof.profile_regions and "eu-west-1" not in prof.profile_regions
    assert catalog.profile("us.anthropic.claude-haiku-4-5-20251001-v1:0").on_demand  # type: ignore[union-attr]


def test_arns_and_unknown_ids() -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    assert catalog.profile(arn).model_id == "amazon.nova-lite-v1:0"  # type: ignore[union-attr]
    parn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"
    assert catalog.profile(parn).is_inference_profile  # type: ignore[union-attr]
    assert catalog.profile("amazon.nova-nano-v9:0") is None
    assert catalog.profile("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc") is None


def test_prices_come_from_the_dated_snapshot() -> None:
    snap = pricing.bedrock_snapshot()
    assert snap["snapshot_date"] and "aws.amazon.com/bedrock/pricing" in snap["source"]
    for prof in catalog.models():
        assert (prof.usd_per_1k_input, prof.usd_per_1k_output) == pricing.bedrock_tokens(
            prof.model_id
        )
    micro = catalog.profile("amazon.nova-micro-v1:0")
    assert micro is not None
    # 1,000 input + 1,000 output tokens of Nova Micro: 0.000035 + 0.00014
    assert micro.cost_usd(1000, 1000) == pytest.approx(0.000175)
    emb = catalog.profile("amazon.titan-embed-text-v2:0")
    assert emb is not None and emb.is_embedding and emb.usd_per_1k_output == 0.0
    assert emb.embedding_dimensions == (256, 512, 1024)
