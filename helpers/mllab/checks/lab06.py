"""Checks of lab 06 (agents and LLMOps): each reads the real state back.

Introduced in lab 06. The agent is judged by what it does, not by its code: the checks call
the gateway's tools over MCP themselves, invoke the agent runtime with their own sessions and
users, and read the spans AgentCore Observability wrote (``aws/spans``) to see which tools
really ran. Releases are read from the runtime's versions and endpoints and from the spans'
``aws.agentcore.runtime.endpoint`` / ``aws.agentcore.runtime.version``; the knowledge-base
refresh by calling ``Retrieve``; the agent's role by ``iam:SimulatePrincipalPolicy``, its
credential type from the runtime's environment variables and the account's Bedrock API keys
(``iam:ListServiceSpecificCredentials``).
Each ``verify_*`` returns a one-line note for the PASS line or raises
:class:`~mllab.checks.core.CheckFailed` saying what is missing and how to find out.

Cost: read-only except the agent invocations (each a runtime session, a few model calls and
tool calls, priced by the guard like any call: fractions of a cent) in
:func:`verify_agent`, :func:`verify_release`, :func:`verify_traces` and :func:`verify_drill`,
and one ``Retrieve`` in :func:`verify_kb_refresh`. Nothing is deleted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from mllab import agents
from mllab.checks.core import CheckFailed

#: The orders the given Lambda knows (order id -> status), and one it does not.
ORDERS = {"N-1042": "shipped", "N-1043": "packing", "N-1044": "delivered"}
UNKNOWN_ORDER = "N-9999"
#: Last night's three conversations that went wrong (replayed on the nightly runtime).
INCIDENT_PROMPTS = (
    f"Where is my order {UNKNOWN_ORDER}? What is its status?",
    "How do I care for the Storm Shell Jacket after a wet trip, and how should I store it?",
    "What is the status of order N-1044?",
)


def _fail(message: str) -> None:
    raise CheckFailed(message)


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------- finders


def runtime_by_name(lab: Any, name: str) -> dict[str, Any]:
    """``GetAgentRuntime`` of the runtime called ``name`` (its latest version)."""
    ctl = lab.client("bedrock-agentcore-control")
    for rt in ctl.list_agent_runtimes().get("agentRuntimes", []):
        if rt["agentRuntimeName"] == name:
            return dict(ctl.get_agent_runtime(agentRuntimeId=rt["agentRuntimeId"]))
    _fail(
        f"no agent runtime named {name}: create it with bedrock-agentcore-control "
        "create_agent_runtime (list_agent_runtimes shows what exists)"
    )
    raise AssertionError  # unreachable


def gateway_by_name(lab: Any, name: str) -> dict[str, Any]:
    """``GetGateway`` of the gateway called ``name``."""
    ctl = lab.client("bedrock-agentcore-control")
    for gw in ctl.list_gateways().get("items", []):
        if gw["name"] == name:
            return dict(ctl.get_gateway(gatewayIdentifier=gw["gatewayId"]))
    _fail(f"no AgentCore gateway named {name}: create_gateway (list_gateways shows what exists)")
    raise AssertionError  # unreachable


def memory_by_name(lab: Any, name: str) -> dict[str, Any]:
    """``GetMemory`` of the memory called ``name`` (AgentCore ids are ``<name>-<suffix>``)."""
    ctl = lab.client("bedrock-agentcore-control")
    for m in ctl.list_memories().get("memories", []):
        if str(m["id"]).rsplit("-", 1)[0] == name:
            return dict(ctl.get_memory(memoryId=m["id"])["memory"])
    _fail(f"no AgentCore memory named {name}: create_memory (list_memories shows what exists)")
    raise AssertionError  # unreachable


def mcp(url: str, name: str | None = None, args: Mapping[str, Any] | None = None) -> Any:
    """List a gateway's tools (``name`` None) or call one, over MCP as an agent does.

    Returns:
        ``[{"name", "description", "inputSchema"}]``, or ``(text, is_error)`` of the call.
    """

    async def go() -> Any:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                if name is None:
                    return [
                        {"name": t.name, "description": t.description or "",
                         "inputSchema": t.input_schema or {}}
                        for t in (await session.list_tools()).tools
                    ]  # fmt: skip
                res = await session.call_tool(name, dict(args or {}))
                return "".join(getattr(c, "text", "") for c in res.content), bool(res.is_error)

    # a thread of its own: Jupyter's kernel already runs an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def _order_tool(lab: Any, gateway: Mapping[str, Any], function_name: str) -> tuple[str, str]:
    """The gateway tool that fronts the Lambda function: (tool name, its order-id field)."""
    ctl = lab.client("bedrock-agentcore-control")
    try:
        fn_arn = lab.client("lambda").get_function(FunctionName=function_name)["Configuration"][
            "FunctionArn"
        ]
    except ClientError:
        _fail(f"no Lambda function {function_name}: deploy it with lambda create_function")
    targets = ctl.list_gateway_targets(gatewayIdentifier=gateway["gatewayId"]).get("items", [])
    names = []
    for item in targets:
        t = ctl.get_gateway_target(
            gatewayIdentifier=gateway["gatewayId"], targetId=item["targetId"]
        )
        lam = ((t.get("targetConfiguration") or {}).get("mcp") or {}).get("lambda") or {}
        if str(lam.get("lambdaArn", "")).split(":$")[0].removesuffix(":$LATEST") == fn_arn:
            names.append(t["name"])
    if not names:
        _fail(
            f"gateway {gateway['name']} has no Lambda target for {function_name}: "
            "create_gateway_target with targetConfiguration.mcp.lambda.lambdaArn "
            "(list_gateway_targets shows the targets)"
        )
    tools = [t for t in mcp(gateway["gatewayUrl"]) if t["name"].split("___")[0] in names]
    if not tools:
        _fail(f"the Lambda target of {gateway['name']} exposes no tool: give it a toolSchema")
    for tool in tools:
        schema = tool["inputSchema"]
        props = schema.get("properties") or {}
        required = [p for p in schema.get("required") or [] if p in props]
        if len(tool["description"].split()) < 4:
            _fail(
                f"tool {tool['name']} has no useful description: the model picks tools by "
                "their descriptions, so say what it looks up and by what"
            )
        if not required:
            _fail(
                f"tool {tool['name']} requires no input: mark the order-id field as "
                "'required' in its inputSchema, or the model may call it without one"
            )
        string_fields = [p for p in required if (props[p] or {}).get("type") == "string"]
        if len(string_fields) == 1:
            return str(tool["name"]), string_fields[0]
    _fail(
        "no tool of the Lambda target takes exactly one required string field (the order id): "
        f"schemas seen: {[t['inputSchema'] for t in tools]}"
    )
    raise AssertionError  # unreachable


# --------------------------------------------------------------------------- requirement 1


def verify_order_tool(lab: Any, gateway_name: str, function_name: str) -> str:
    """The Lambda answers through the gateway as an MCP tool, for every known order."""
    gw = gateway_by_name(lab, gateway_name)
    if gw.get("protocolType") != "MCP":
        _fail(f"gateway {gateway_name} must speak MCP (protocolType='MCP')")
    tool, field = _order_tool(lab, gw, function_name)
    for order, status in ORDERS.items():
        text, is_error = mcp(gw["gatewayUrl"], tool, {field: order})
        if is_error or status not in text:
            _fail(
                f"calling {tool} with {field}={order!r} over MCP answered {text[:160]!r}: the "
                f"order is {status!r} (deploy the given handler code; read the function's "
                "logs in /aws/lambda/<function>)"
            )
    return f"{tool}({field}) answers {len(ORDERS)} orders through gateway {gateway_name}"


# --------------------------------------------------------------------------- agent helpers


def new_session(prefix: str = "check") -> str:
    """A fresh ``runtimeSessionId`` (AgentCore wants 33+ characters)."""
    return f"{prefix}-{secrets.token_hex(16)}"


def ask(
    lab: Any,
    runtime_arn: str,
    session_id: str,
    prompt: str,
    *,
    user: str = "check",
    qualifier: str | None = None,
) -> str:
    """Invoke the agent with the lab's payload contract; return its answer text (or raise).

    The contract: the payload is ``{"prompt": ..., "user": ...}`` and the agent answers JSON
    with ``"answer"``, or a stream of text events (``data: "..."`` lines, joined).
    """
    dp = lab.client("bedrock-agentcore")
    kw: dict[str, Any] = {"qualifier": qualifier} if qualifier else {}
    try:
        out = dp.invoke_agent_runtime(
            agentRuntimeArn=runtime_arn,
            runtimeSessionId=session_id,
            payload=json.dumps({"prompt": prompt, "user": user}).encode(),
            **kw,
        )
    except ClientError as err:
        return f"ERROR {_code(err)}: {err.response.get('Error', {}).get('Message', '')}"
    raw = out["response"].read().decode("utf-8", errors="replace")
    if str(out.get("contentType", "")).startswith("text/event-stream"):
        parts = []
        for line in raw.splitlines():
            if line.startswith("data:"):
                try:
                    value = json.loads(line[5:].strip())
                except ValueError:
                    value = line[5:].strip()
                parts.append(value if isinstance(value, str) else json.dumps(value))
        return "".join(parts)
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(body, dict):
        return str(body.get("answer", json.dumps(body)))
    return str(body)


def _tools_run(lab: Any, session_id: str) -> list[dict[str, Any]]:
    return [
        s
        for s in agents.spans(lab.session, session_id=session_id)
        if (s.get("attributes") or {}).get("gen_ai.operation.name") == "execute_tool"
    ]


# --------------------------------------------------------------------------- requirement 2


def verify_agent(
    lab: Any, runtime_name: str, memory_name: str, product_question: tuple[str, str]
) -> str:
    """The deployed agent answers orders through the gateway, products from the knowledge base,
    and remembers a user's preference in a later session (short-term events + long-term)."""
    mem = memory_by_name(lab, memory_name)
    long_term = [s for s in mem.get("strategies") or [] if s.get("namespaces")]
    if not long_term:
        _fail(
            f"memory {memory_name} has no long-term strategy: add a userPreferenceMemoryStrategy "
            "(or semantic) with a namespace per actor, e.g. '/customers/{actorId}/preferences'"
        )
    rt = runtime_by_name(lab, runtime_name)
    if rt.get("status") != "READY":
        _fail(f"runtime {runtime_name} is {rt.get('status')}: {rt.get('failureReason', '')}")
    if "codeConfiguration" not in (rt.get("agentRuntimeArtifact") or {}):
        _fail(
            f"runtime {runtime_name} is not a direct code deployment: give agentRuntimeArtifact "
            "a codeConfiguration with the .zip in S3"
        )
    arn = rt["agentRuntimeArn"]
    user = f"check-{secrets.token_hex(4)}"
    first = new_session()
    order, status = "N-1043", ORDERS["N-1043"]
    answer = ask(lab, arn, first, f"I prefer metric units. What is the status of order {order}?",
                 user=user)  # fmt: skip
    if status not in answer.lower():
        _fail(f"asked for order {order}, the agent answered {answer[:200]!r} (expected {status!r})")
    question, fact = product_question
    answer = ask(lab, arn, first, question, user=user)
    if fact.lower() not in answer.lower():
        _fail(
            f"asked {question!r}, the agent answered {answer[:200]!r}: the knowledge base says "
            f"{fact!r} (is the search tool's description listing the products? read the "
            "execute_tool spans with mllab.agents.spans)"
        )
    ran = _tools_run(lab, first)
    names = {str((s.get("attributes") or {}).get("gen_ai.tool.name", "")) for s in ran}
    gateway_tools = {n for n in names if "___" in n}
    if not gateway_tools:
        _fail(
            "the order answer did not come from a gateway tool: no execute_tool span of a "
            "'<target>___<tool>' tool in the session (connect strands' MCPClient to gatewayUrl)"
        )
    if not names - gateway_tools:
        _fail(
            "the product answer did not come from a knowledge-base tool: no execute_tool span of "
            "the search tool in the session"
        )
    namespaces = [
        ns.replace("{actorId}", user) for s in long_term for ns in s["namespaces"] if "{sessionId}" not in ns
    ]  # fmt: skip
    dp = lab.client("bedrock-agentcore")
    kept = [
        r["content"]["text"]
        for ns in namespaces
        for r in dp.list_memory_records(memoryId=mem["id"], namespace=ns).get(
            "memoryRecordSummaries", []
        )
    ]
    if not any("metric" in t.lower() for t in kept):
        _fail(
            f"after the first session, memory {memory_name} holds no long-term record of the "
            f"preference for user {user} (namespaces {namespaces}): create_event with the "
            "conversation's turns, actorId = the payload's 'user'"
        )
    second = new_session()
    answer = ask(lab, arn, second, "Which units do I prefer?", user=user)
    if "metric" not in answer.lower():
        _fail(
            f"in a new session the agent answered {answer[:200]!r}: retrieve the user's "
            "long-term memory records (retrieve_memory_records) and give them to the model"
        )
    return (
        f"gateway tool {sorted(gateway_tools)[0]}, knowledge-base tool "
        f"{sorted(names - gateway_tools)[0]}, preference recalled across sessions from {memory_name}"
    )


# --------------------------------------------------------------------------- requirement 3


def _endpoints(lab: Any, runtime_id: str) -> dict[str, dict[str, Any]]:
    ctl = lab.client("bedrock-agentcore-control")
    eps = ctl.list_agent_runtime_endpoints(agentRuntimeId=runtime_id).get("runtimeEndpoints", [])
    return {e["name"]: e for e in eps}


def _versions(lab: Any, runtime_id: str) -> dict[str, dict[str, Any]]:
    ctl = lab.client("bedrock-agentcore-control")
    listed = ctl.list_agent_runtime_versions(agentRuntimeId=runtime_id).get("agentRuntimes", [])
    return {
        v["agentRuntimeVersion"]: dict(
            ctl.get_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion=v["agentRuntimeVersion"])
        )
        for v in listed
    }  # fmt: skip


def _served(lab: Any, runtime_arn: str) -> list[tuple[str, str]]:
    """(endpoint, version) of every invocation of the runtime, from its server spans."""
    out = []
    for s in agents.spans(lab.session):
        a = s.get("attributes") or {}
        if (
            s.get("name") == "POST /invocations"
            and a.get("aws.agentcore.runtime.arn") == runtime_arn
        ):
            out.append((str(a.get("aws.agentcore.runtime.endpoint")), str(a.get("aws.agentcore.runtime.version"))))  # fmt: skip
    return out


def verify_release(lab: Any, runtime_name: str, bad_env: Mapping[str, str]) -> str:
    """Releases are new versions tested on ``staging`` first; ``prod`` got the good one and never
    the bad one; after the bad one failed its tests, ``staging`` was rolled back."""
    rt = runtime_by_name(lab, runtime_name)
    rid, arn = rt["agentRuntimeId"], rt["agentRuntimeArn"]
    eps = _endpoints(lab, rid)
    for name in ("staging", "prod"):
        if name not in eps:
            _fail(
                f"runtime {runtime_name} has no endpoint {name!r}: create_agent_runtime_endpoint "
                "(list_agent_runtime_endpoints shows them)"
            )
    versions = _versions(lab, rid)

    def is_bad(v: Mapping[str, Any]) -> bool:
        env = v.get("environmentVariables") or {}
        return all(str(env.get(k)) == str(val) for k, val in bad_env.items())

    bad = sorted((n for n, v in versions.items() if is_bad(v)), key=int)
    if not bad:
        _fail(
            f"no version of {runtime_name} has the bad release's settings {dict(bad_env)}: "
            "release it through your pipeline (update_agent_runtime makes a version)"
        )
    good = sorted((n for n, v in versions.items() if n != "1" and n not in bad), key=int)
    if not good:
        _fail("no good release after version 1: release the given good change too")
    prod, staging = eps["prod"]["liveVersion"], eps["staging"]["liveVersion"]
    if prod in bad:
        _fail(
            f"prod serves version {prod}, the bad release ({dict(bad_env)}): its tests should "
            "have stopped it (update_agent_runtime_endpoint prod back to the last good version)"
        )
    if prod != good[-1]:
        _fail(
            f"prod serves version {prod}; the latest good release is version {good[-1]}: "
            "promote it once its tests pass"
        )
    if staging in bad:
        _fail(
            f"staging is left on the failed version {staging}: roll it back to the version prod "
            "serves (update_agent_runtime_endpoint)"
        )
    served = _served(lab, arn)
    for version in (good[-1], bad[-1]):
        if sum(1 for ep, v in served if ep == "staging" and v == version) < 2:
            _fail(
                f"version {version} was not tested on staging (fewer than two invocations of "
                "endpoint 'staging' at that version in the spans, aws.agentcore.runtime.version): "
                "run the prompt and agent tests against staging before moving prod"
            )
    if any(ep == "prod" and v in bad for ep, v in served):
        _fail("the bad release answered on prod (spans show endpoint prod at that version)")
    answer = ask(lab, arn, new_session(), "What is the status of order N-1042?", qualifier="prod")
    if ORDERS["N-1042"] not in answer.lower():
        _fail(f"prod answers the order test with {answer[:200]!r}")
    return (
        f"prod on version {prod} (tested on staging), bad version {bad[-1]} tested, rejected and "
        f"staging rolled back to {staging}"
    )


# --------------------------------------------------------------------------- requirement 4


def verify_kb_refresh(
    lab: Any, kb_id: str, key: str, question: str, fact: str, *, k: int = 3
) -> str:
    """The new document is in the index: ``Retrieve`` finds it for its question."""
    s3 = lab.client("s3")
    try:
        s3.head_object(Bucket=lab.bucket, Key=key)
    except ClientError:
        _fail(f"s3://{lab.bucket}/{key} does not exist: upload the new document first")
    agent = lab.client("bedrock-agent")
    jobs = []
    for ds in agent.list_data_sources(knowledgeBaseId=kb_id).get("dataSourceSummaries", []):
        jobs += agent.list_ingestion_jobs(
            knowledgeBaseId=kb_id, dataSourceId=ds["dataSourceId"]
        ).get("ingestionJobSummaries", [])
    running = [j for j in jobs if j["status"] in ("STARTING", "IN_PROGRESS")]
    if running:
        _fail("an ingestion job is still running: wait for it (get_ingestion_job) in the pipeline")
    found = lab.client("bedrock-agent-runtime").retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": question},
        retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": k}},
    )["retrievalResults"]
    hits = [
        r
        for r in found
        if str(((r.get("location") or {}).get("s3Location") or {}).get("uri", "")).endswith(key)
        and fact.lower() in str((r.get("content") or {}).get("text", "")).lower()
    ]
    if not hits:
        _fail(
            f"Retrieve({question!r}) does not find {key} with {fact!r} in its top {k}: the "
            "document must be under the data source's prefix and ingested after the upload "
            "(start_ingestion_job, then wait for COMPLETE)"
        )
    return f"{key} found for {question!r} after {len(jobs)} ingestion job(s)"


# --------------------------------------------------------------------------- requirement 5


def incident_findings(lab: Any, session_id: str, *, token_budget: int) -> agents.Diagnosis:
    """``diagnose`` of one session's spans (loops of 3, the token budget per trace)."""
    return agents.diagnose(
        agents.spans(lab.session, session_id=session_id), loop_threshold=3, max_tokens=token_budget
    )


def verify_traces(
    lab: Any,
    runtime_name: str,
    incident_session: str,
    gateway_name: str,
    function_name: str,
    *,
    token_budget: int = 6000,
) -> str:
    """The incidents are gone: the tool no longer fails, the agent no longer loops, answers are
    whole, within the token budget -- proven by replaying the conversations in a new session."""
    before = incident_findings(lab, incident_session, token_budget=token_budget)
    missing = {"tool_error", "loop", "truncated_stream"} - before.kinds()
    if missing:
        _fail(
            f"the incident session {incident_session} does not show {sorted(missing)}: run the "
            "given replay cell before the fixes"
        )
    gw = gateway_by_name(lab, gateway_name)
    tool, field = _order_tool(lab, gw, function_name)
    text, is_error = mcp(gw["gatewayUrl"], tool, {field: UNKNOWN_ORDER})
    if is_error:
        _fail(
            f"the order tool still fails for {UNKNOWN_ORDER}: {text[:160]!r}. An unknown order "
            "is an answer ('not found'), not an exception: update the function's code"
        )
    if "status" not in text.lower():
        _fail(f"for {UNKNOWN_ORDER} the tool answers {text[:160]!r}: give it a status field")
    text, is_error = mcp(gw["gatewayUrl"], tool, {field: "N-1042"})
    if is_error or ORDERS["N-1042"] not in text:
        _fail(f"after the fix the tool answers N-1042 with {text[:160]!r}")
    rt = runtime_by_name(lab, runtime_name)
    session = new_session("replay")
    for prompt in INCIDENT_PROMPTS:
        ask(lab, rt["agentRuntimeArn"], session, prompt)
    after = incident_findings(lab, session, token_budget=token_budget)
    if after.findings:
        _fail(f"replayed in a new session, the conversations still show: {after}")
    return (
        f"incident had {sorted(before.kinds())}; replay is clean, "
        f"{after.input_tokens + after.output_tokens} tokens for {len(INCIDENT_PROMPTS)} answers"
    )


# --------------------------------------------------------------------------- requirement 6


#: Environment variable names that carry a credential, and what credential values begin with:
#: a long-term Bedrock API key (``ABSK``), a short-term one (``bedrock-api-key-``), access keys.
_CREDENTIAL_NAMES = frozenset(
    {"AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
)
_CREDENTIAL_WORDS = ("API_KEY", "APIKEY", "BEARER", "SECRET", "PASSWORD")
_CREDENTIAL_PREFIXES = ("ABSK", "bedrock-api-key-", "AKIA", "ASIA")
BEDROCK_SERVICE = "bedrock.amazonaws.com"


def credentials_in_env(env: Mapping[str, str]) -> list[str]:
    """Names of the environment variables that look like a credential (by name or value)."""
    found = []
    for name, value in env.items():
        upper = name.upper()
        if (
            upper in _CREDENTIAL_NAMES
            or any(w in upper for w in _CREDENTIAL_WORDS)
            or str(value).startswith(_CREDENTIAL_PREFIXES)
        ):
            found.append(name)
    return sorted(found)


def _served_configs(lab: Any, runtime: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``GetAgentRuntime`` of every version an endpoint serves (and the latest), by version."""
    ctl = lab.client("bedrock-agentcore-control")
    rid = runtime["agentRuntimeId"]
    versions = {str(runtime["agentRuntimeVersion"])}
    for ep in _endpoints(lab, rid).values():
        for key in ("liveVersion", "targetVersion"):
            if ep.get(key):
                versions.add(str(ep[key]))
    return {
        v: dict(ctl.get_agent_runtime(agentRuntimeId=rid, agentRuntimeVersion=v))
        for v in sorted(versions, key=lambda x: int(x) if x.isdigit() else 0)
    }


def _lab_users(lab: Any, iam: Any) -> set[str]:
    """IAM users this lab created (tagged ``mllab:lab`` with its name by the guard)."""
    from mllab.guard.core import TAG_LAB

    users = set()
    for page in iam.get_paginator("list_users").paginate():
        for user in page.get("Users", []):
            tags = iam.list_user_tags(UserName=user["UserName"]).get("Tags") or []
            if any(t.get("Key") == TAG_LAB and t.get("Value") == lab.name for t in tags):
                users.add(str(user["UserName"]))
    return users


def verify_credentials(lab: Any, runtime_name: str, prototype_user: str | None = None) -> str:
    """The agent reaches Bedrock with IAM credentials, not a Bedrock API key.

    No version an endpoint of ``runtime_name`` serves has a credential in its
    ``environmentVariables`` (``AWS_BEARER_TOKEN_BEDROCK``, access keys, anything named like a
    key or valued like one); the long-term Bedrock API keys of ``prototype_user`` are inactive,
    expired or deleted; and no IAM user this lab created holds an active long-term key.
    Read-only: ``GetAgentRuntime``, ``ListServiceSpecificCredentials``, ``ListUsers``.
    """
    rt = runtime_by_name(lab, runtime_name)
    for version, cfg in _served_configs(lab, rt).items():
        names = credentials_in_env(cfg.get("environmentVariables") or {})
        if names:
            _fail(
                f"version {version} of {runtime_name} has {', '.join(names)} in its environment "
                "variables: a credential in the configuration is readable by anyone who may "
                "GetAgentRuntime and never rotates. Deploy a version without it "
                "(update_agent_runtime, then move the endpoints): the runtime gives the agent "
                "its execution role's temporary credentials. Revoke a key that was ever there"
            )
    iam = lab.client("iam")
    try:
        keys = iam.list_service_specific_credentials(AllUsers=True, ServiceName=BEDROCK_SERVICE)[
            "ServiceSpecificCredentials"
        ]
    except ClientError as err:
        _fail(f"cannot list the account's Bedrock API keys: {_code(err)}")
    active = [k for k in keys if k.get("Status") == "Active"]
    for key in active:
        if key["UserName"] == prototype_user:
            expires = key.get("ExpirationDate")
            _fail(
                f"the prototype's long-term Bedrock API key {key['ServiceSpecificCredentialId']} "
                f"of IAM user {prototype_user} is still Active "
                f"({'expires ' + str(expires)[:10] if expires else 'it never expires'}): "
                "deactivate it (update_service_specific_credential, Status='Inactive') or delete "
                "it (delete_service_specific_credential)"
            )
    mine = _lab_users(lab, iam) if active else set()
    for key in active:
        if key["UserName"] in mine:
            expires = key.get("ExpirationDate")
            _fail(
                f"IAM user {key['UserName']} has an active long-term Bedrock API key "
                f"({'until ' + str(expires)[:10] if expires else 'never expiring'}), made in this "
                "lab: the agent needs none, its execution role gives it temporary IAM "
                "credentials. Delete the key (and the user)"
            )
    where = f"; {prototype_user}'s long-term key revoked" if prototype_user else ""
    return f"{runtime_name} uses its execution role's credentials, no API key in its configuration{where}"


def verify_least_privilege(
    lab: Any, role_name: str, runtime_name: str, allowed: Sequence[tuple[str, str]],
    denied: Sequence[tuple[str, str]], *, prototype_user: str | None = None,
) -> str:  # fmt: skip
    """The agent runs with ``role_name``, which may do each ``allowed`` (action, resource) and
    none of the ``denied`` ones (IAM's own evaluation, ``SimulatePrincipalPolicy``), and it
    reaches Bedrock with those IAM credentials rather than an API key
    (:func:`verify_credentials`, with the prototype's IAM user ``prototype_user``)."""
    iam = lab.client("iam")
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError:
        _fail(f"no IAM role {role_name}")
    rt = runtime_by_name(lab, runtime_name)
    if rt.get("roleArn") != role_arn:
        _fail(
            f"runtime {runtime_name} runs with {rt.get('roleArn')}, not {role_arn}: pass it as "
            "roleArn (update_agent_runtime)"
        )

    def decide(action: str, resource: str) -> str:
        r = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=[action], ResourceArns=[resource]
        )["EvaluationResults"][0]
        return str(r["EvalDecision"])

    for action, resource in allowed:
        if decide(action, resource) != "allowed":
            _fail(f"{role_name} may not {action} on {resource}, which the agent needs")
    for action, resource in denied:
        if decide(action, resource) == "allowed":
            _fail(
                f"{role_name} may {action} on {resource}: the agent never needs that, so "
                "least privilege denies it (name actions and resource ARNs, not '*')"
            )
    creds = verify_credentials(lab, runtime_name, prototype_user)
    return (
        f"{role_name}: {len(allowed)} needed requests allowed, {len(denied)} others denied; "
        + creds
    )


# --------------------------------------------------------------------------- drill


def verify_drill(lab: Any, runtime_name: str) -> str:
    """The broken runtime was repaired through ``UpdateAgentRuntime`` and answers."""
    rt = runtime_by_name(lab, runtime_name)
    versions = _versions(lab, rt["agentRuntimeId"])
    if versions.get("1", {}).get("status") != "CREATE_FAILED":
        _fail(
            f"version 1 of {runtime_name} is not the broken one (it did not fail): repair the "
            "given runtime with update_agent_runtime instead of deleting and recreating it"
        )
    if rt.get("status") != "READY":
        _fail(
            f"{runtime_name} is {rt.get('status')}: {rt.get('failureReason', '')} (read "
            "get_agent_runtime's failureReason and the .zip's file list)"
        )
    answer = ask(lab, rt["agentRuntimeArn"], new_session("drill"), "Do you ship to Norway?")
    if answer.startswith("ERROR"):
        _fail(f"{runtime_name} is READY but does not answer: {answer[:200]}")
    return f"{runtime_name} version {rt['agentRuntimeVersion']} READY and answering"


# --------------------------------------------------------------------------- teardown


def verify_teardown(
    lab: Any,
    *,
    runtimes: Sequence[str],
    gateways: Sequence[str],
    memories: Sequence[str],
    functions: Sequence[str],
    knowledge_bases: Sequence[str],
    vector_bucket: str,
    roles: Sequence[str],
    users: Sequence[str] = (),
) -> str:
    """Each of the lab's AgentCore, Lambda, S3 Vectors and IAM resources (roles, users) is gone."""
    ctl = lab.client("bedrock-agentcore-control")
    left: list[str] = []
    names = {r["agentRuntimeName"] for r in ctl.list_agent_runtimes().get("agentRuntimes", [])}
    left += [f"agent runtime {n}" for n in runtimes if n in names]
    gws = {g["name"] for g in ctl.list_gateways().get("items", [])}
    left += [f"gateway {n}" for n in gateways if n in gws]
    mems = {str(m["id"]).rsplit("-", 1)[0] for m in ctl.list_memories().get("memories", [])}
    left += [f"memory {n}" for n in memories if n in mems]
    lam, agent, iam = lab.client("lambda"), lab.client("bedrock-agent"), lab.client("iam")
    vectors = lab.client("s3vectors")
    probes = [
        *(
            (f"Lambda function {fn}", lambda fn=fn: lam.get_function(FunctionName=fn))
            for fn in functions
        ),
        *(
            (f"knowledge base {kb}", lambda kb=kb: agent.get_knowledge_base(knowledgeBaseId=kb))
            for kb in knowledge_bases
        ),
        (
            f"vector bucket {vector_bucket}",
            lambda: vectors.get_vector_bucket(vectorBucketName=vector_bucket),
        ),
        *((f"IAM role {r}", lambda r=r: iam.get_role(RoleName=r)) for r in roles),
        *((f"IAM user {u}", lambda u=u: iam.get_user(UserName=u)) for u in users),
    ]
    for label, describe in probes:  # a describe that answers means it is still there
        try:
            describe()
            left.append(label)
        except ClientError:
            pass
    if left:
        _fail("still there: " + ", ".join(left))
    return (
        f"{len(runtimes)} runtimes, {len(gateways)} gateway, {len(memories)} memory, "
        f"{len(functions)} function, {len(knowledge_bases)} knowledge base, the vector bucket "
        f"and {len(roles)} roles"
        + (f" and {len(users)} IAM user(s)" if users else "")
        + " are gone"
    )
