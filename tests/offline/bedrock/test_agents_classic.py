"""Bedrock Agents classic answers a new account as AWS does: AccessDeniedException naming AgentCore."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_create_agent_is_denied_naming_agentcore(lab: Any) -> None:
    agent = lab.client("bedrock-agent")
    with pytest.raises(ClientError) as err:
        agent.create_agent(
            agentName="support",
            foundationModel="amazon.nova-micro-v1:0",
            agentResourceRoleArn=lab.role_arn,
            instruction="You answer questions about orders and shipping for customers.",
        )
    error = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Code"] == "AccessDeniedException"
    assert "CreateAgent" in error["Message"]
    assert "July 30, 2026" in error["Message"]
    assert "AgentCore" in error["Message"]


def test_classic_runtime_and_listing_are_denied_too(lab: Any) -> None:
    with pytest.raises(ClientError) as listing:
        lab.client("bedrock-agent").list_agents()
    assert listing.value.response["Error"]["Code"] == "AccessDeniedException"
    runtime = lab.client("bedrock-agent-runtime")
    with pytest.raises(ClientError) as invoke:
        runtime.invoke_agent(
            agentId="ABCDEFGHIJ", agentAliasId="TSTALIASID", sessionId="s1", inputText="hello"
        )
    assert invoke.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "InvokeAgent" in invoke.value.response["Error"]["Message"]


def test_prompts_of_the_same_service_are_not_affected(lab: Any) -> None:
    """Only Agents classic is closed: other bedrock-agent APIs (prompts) still answer."""
    agent = lab.client("bedrock-agent")
    try:
        listed = agent.list_prompts()
    except ClientError as err:  # pragma: no cover - prompts module absent
        assert err.response["Error"]["Code"] != "AccessDeniedException"
    else:
        assert "promptSummaries" in listed
