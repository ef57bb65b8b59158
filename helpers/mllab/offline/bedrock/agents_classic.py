"""Bedrock Agents classic offline: closed to new accounts, as on AWS (lab 06).

Amazon Bedrock Agents (launched November 2023) became *Agents Classic* and stopped accepting
new customers on 2026-07-30; AWS points new builders to Amazon Bedrock AgentCore. A new
account calling the classic API is refused with ``AccessDeniedException``, and so is every
learner offline: every ``bedrock-agent`` agent operation (``CreateAgent``,
``CreateAgentActionGroup``, ``PrepareAgent``, ``CreateAgentAlias``, ...) and the classic data
plane in ``bedrock-agent-runtime`` (``InvokeAgent``, ``InvokeInlineAgent``, agent memory)
answer 403 with a message naming AgentCore, so no lab teaches a path a new learner cannot
take. Knowledge bases, prompts and flows of the same services are unaffected (they are not
part of Agents Classic) and are answered by their own modules.
"""

from __future__ import annotations

from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles

#: The ``bedrock-agent`` operations of Agents Classic.
CONTROL_OPERATIONS = (
    "AssociateAgentCollaborator",
    "AssociateAgentKnowledgeBase",
    "CreateAgent",
    "CreateAgentActionGroup",
    "CreateAgentAlias",
    "DeleteAgent",
    "DeleteAgentActionGroup",
    "DeleteAgentAlias",
    "DeleteAgentVersion",
    "DisassociateAgentCollaborator",
    "DisassociateAgentKnowledgeBase",
    "GetAgent",
    "GetAgentActionGroup",
    "GetAgentAlias",
    "GetAgentCollaborator",
    "GetAgentKnowledgeBase",
    "GetAgentVersion",
    "ListAgentActionGroups",
    "ListAgentAliases",
    "ListAgentCollaborators",
    "ListAgentKnowledgeBases",
    "ListAgentVersions",
    "ListAgents",
    "PrepareAgent",
    "UpdateAgent",
    "UpdateAgentActionGroup",
    "UpdateAgentAlias",
    "UpdateAgentCollaborator",
    "UpdateAgentKnowledgeBase",
)
#: The ``bedrock-agent-runtime`` operations of Agents Classic.
RUNTIME_OPERATIONS = ("InvokeAgent", "InvokeInlineAgent", "GetAgentMemory", "DeleteAgentMemory")


def message(operation: str) -> str:
    """The refusal's message: the operation, why, and where to go (AgentCore)."""
    return (
        f"You don't have access to {operation}. Amazon Bedrock Agents (now Agents Classic) is no "
        "longer open to new customers as of July 30, 2026; only accounts that used it before "
        "then can call it. For capabilities similar to Agents Classic, use Amazon Bedrock "
        "AgentCore: an agent runtime (bedrock-agentcore-control CreateAgentRuntime, "
        "bedrock-agentcore InvokeAgentRuntime), a gateway for tools (CreateGateway, "
        "CreateGatewayTarget) and memory (CreateMemory)."
    )


def _refuse(call: OfflineCall) -> dict[str, Any]:
    raise AwsError("AccessDeniedException", message(call.operation), 403)


for _op in CONTROL_OPERATIONS:
    handles("bedrock-agent", _op)(_refuse)
for _op in RUNTIME_OPERATIONS:
    handles("bedrock-agent-runtime", _op)(_refuse)
