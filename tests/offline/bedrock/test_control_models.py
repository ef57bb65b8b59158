"""Offline bedrock control plane: the foundation-model catalogue, inference profiles, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.guard.errors import CostGuardError


def test_foundation_models_inference_profiles_and_refusals(lab: Any) -> None:
    bc = lab.client("bedrock")
    every = bc.list_foundation_models()["modelSummaries"]
    ids = {m["modelId"] for m in every}
    assert {"amazon.nova-micro-v1:0", "anthropic.claude-3-haiku-20240307-v1:0",
            "meta.llama3-8b-instruct-v1:0", "amazon.titan-embed-text-v2:0"} <= ids  # fmt: skip
    assert not any(i.startswith("us.") for i in ids)  # profiles are listed apart
    amazon = bc.list_foundation_models(byProvider="Amazon")["modelSummaries"]
    assert amazon and all(m["providerName"] == "Amazon" for m in amazon)
    emb = bc.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert {m["modelId"] for m in emb} == {
        m["modelId"] for m in every if m["outputModalities"] == ["EMBEDDING"]
    }
    assert "cohere.embed-english-v3" in {m["modelId"] for m in emb}
    on_demand = {
        m["modelId"]
        for m in bc.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    }
    assert (
        "amazon.nova-micro-v1:0" in on_demand
        and "anthropic.claude-haiku-4-5-20251001-v1:0" not in on_demand
    )

    micro = bc.get_foundation_model(modelIdentifier="amazon.nova-micro-v1:0")["modelDetails"]
    assert micro["modelArn"] == "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"
    assert micro["inputModalities"] == ["TEXT"] and micro["responseStreamingSupported"] is True
    assert micro["inferenceTypesSupported"] == ["ON_DEMAND", "INFERENCE_PROFILE"]
    with pytest.raises(ClientError) as err:
        bc.get_foundation_model(modelIdentifier="amazon.nova-nano-v9:0")
    assert err.value.response["Error"]["Code"] == "ValidationException"

    profiles = bc.list_inference_profiles()["inferenceProfileSummaries"]
    pids = {p["inferenceProfileId"] for p in profiles}
    assert (
        "us.amazon.nova-micro-v1:0" in pids and "eu.amazon.nova-micro-v1:0" not in pids
    )  # routed here only
    prof = bc.get_inference_profile(
        inferenceProfileIdentifier="us.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    assert prof["type"] == "SYSTEM_DEFINED" and prof["status"] == "ACTIVE"
    assert {m["modelArn"].split(":")[3] for m in prof["models"]} == {
        "us-east-1",
        "us-east-2",
        "us-west-2",
    }
    assert prof["inferenceProfileArn"].endswith(
        ":inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    page = bc.list_inference_profiles(maxResults=2)
    assert len(page["inferenceProfileSummaries"]) == 2 and page["nextToken"]
    with pytest.raises(ClientError) as err:
        bc.get_inference_profile(inferenceProfileIdentifier="us.nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"

    with pytest.raises(CostGuardError) as refused:
        bc.create_marketplace_model_endpoint(modelSourceIdentifier="x", endpointConfig={"sageMaker": {
            "initialInstanceCount": 1, "instanceType": "ml.g5.xlarge", "executionRole": "arn:aws:iam::123456789012:role/r"}},
            endpointName="e")  # fmt: skip
    text = str(refused.value)
    assert "Marketplace model endpoint" in text and "every hour" in text and "part 2" in text
    with pytest.raises(CostGuardError, match="custom-model-unit minute"):
        bc.create_model_import_job(jobName="j", importedModelName="m", roleArn="arn:aws:iam::123456789012:role/r",
                                   modelDataSource={"s3DataSource": {"s3Uri": "s3://b/m/"}})  # fmt: skip
