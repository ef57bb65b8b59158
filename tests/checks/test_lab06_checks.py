"""Lab 06's checks (``mllab.checks.lab06``) on prepared states: wrong ones MISS with a clear
message, valid alternatives PASS.

States are built with boto3 against an offline lab, as a learner's cells would build them.
Checks that invoke agents run on small agents: a plain ``BedrockAgentCoreApp`` where the check
only reads endpoints, versions and spans (starts in about a second), a strands agent where the
check judges what the agent does (tools, memory, traces), on a knowledge base of two products.
Several wrong states of one requirement share one lab where building them is slow.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from mllab import northpeak
from mllab.checks import lab06 as c
from mllab.offline.lambda_ import zip_source
from tests.checks.verdicts import outcome as verdict

MODEL = "us.amazon.nova-micro-v1:0"
PRODUCT_QUESTION = ("How much does the Summit 4 Tent weigh?", "2.84 kg")
ORDERS_CODE = """
ORDERS = {"N-1042": ("shipped", "2026-12-04"), "N-1043": ("packing", "2026-12-06"),
          "N-1044": ("delivered", "2026-11-28")}


def handler(event, context):
    order = str(event["order_id"]).strip().upper()
    status, eta = ORDERS[order]
    return {"order_id": order, "status": status, "eta": eta}
"""
FIXED_ORDERS = ORDERS_CODE.replace(
    "    status, eta = ORDERS[order]\n",
    "    if order not in ORDERS:\n"
    "        return {'order_id': order, 'status': 'unknown order'}\n"
    "    status, eta = ORDERS[order]\n",
)
TOOL = {
    "name": "get_order_status",
    "description": "Look up the shipping status of a customer order by its order number",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "the order number"}},
        "required": ["order_id"],
    },
}

#: A plain agent (no model): answers from the environment, for checks that read versions/spans.
PLAIN = """
import os
from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()


@app.entrypoint
def invoke(payload):
    answer = os.environ.get("ANSWER", "Order N-1042 has shipped.")
    return {"answer": answer[: int(os.environ.get("MAX_TOKENS", "400"))]}


if __name__ == "__main__":
    app.run()
"""

#: A strands agent like the lab's; MEMORY_NS and STORE switch its memory behaviour.
AGENT = """
import datetime as dt
import os

import boto3
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from strands import Agent, tool
from strands.models import BedrockModel
from strands.tools.mcp import MCPClient

app = BedrockAgentCoreApp()
kb = boto3.client("bedrock-agent-runtime")
memory = boto3.client("bedrock-agentcore")
URL = boto3.client("bedrock-agentcore-control").get_gateway(
    gatewayIdentifier=os.environ["GATEWAY_ID"])["gatewayUrl"]


@tool
def find_in_manuals(question: str) -> str:
    \"\"\"Find facts in the product manuals and specifications of: \"\"\"
    hits = kb.retrieve(knowledgeBaseId=os.environ["KB_ID"], retrievalQuery={"text": question},
                       retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 3}})
    return "\\n".join(r["content"]["text"] for r in hits["retrievalResults"])


find_in_manuals.tool_spec["description"] += os.environ["PRODUCTS"]


@app.entrypoint
def invoke(payload, context):
    user, ns = payload["user"], os.environ["MEMORY_NS"].replace("{actorId}", payload["user"])
    known = memory.retrieve_memory_records(memoryId=os.environ["MEMORY_ID"], namespace=ns,
        searchCriteria={"searchQuery": "preferences"})["memoryRecordSummaries"]
    system = "Use the tools. Known about this customer: " + " ".join(r["content"]["text"] for r in known)
    with MCPClient(url=URL) as gw:
        agent = Agent(model=BedrockModel(model_id=os.environ["MODEL_ID"], max_tokens=400),
                      tools=[find_in_manuals, *gw.list_tools_sync()], system_prompt=system,
                      callback_handler=None)
        answer = str(agent(payload["prompt"]))
    if os.environ.get("STORE") == "yes":
        memory.create_event(memoryId=os.environ["MEMORY_ID"], actorId=user, sessionId=context.session_id,
            eventTimestamp=dt.datetime.now(dt.UTC),
            payload=[{"conversational": {"content": {"text": payload["prompt"]}, "role": "USER"}}])
    return {"answer": answer}


if __name__ == "__main__":
    app.run()
"""


# --------------------------------------------------------------------------- builders
def zipped(source: str, entry: str = "main.py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(entry, source)
    return buf.getvalue()


def artifact(lab: Any, key: str, entry: str = "main.py") -> dict[str, Any]:
    return {
        "codeConfiguration": {
            "code": {"s3": {"bucket": lab.bucket, "prefix": key}},
            "runtime": "PYTHON_3_12",
            "entryPoint": [entry],
        }
    }


def runtime(
    lab: Any, name: str, source: str, env: dict[str, str] | None = None, *, entry: str = "main.py",
    role: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    key = f"agents/{name}.zip"
    lab.client("s3").put_object(Bucket=lab.bucket, Key=key, Body=zipped(source, entry))
    return dict(
        lab.client("bedrock-agentcore-control").create_agent_runtime(
            agentRuntimeName=name,
            agentRuntimeArtifact=artifact(lab, key, entry),
            roleArn=role or lab.role_arn,
            networkConfiguration={"networkMode": "PUBLIC"},
            **({"environmentVariables": env} if env else {}),
        )
    )


def orders(lab: Any, code: str = ORDERS_CODE, name: str = "northpeak-orders") -> str:
    return str(
        lab.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=lab.role_arn,
            Handler="lambda_function.handler",
            Code={"ZipFile": zip_source(code)},
            Timeout=10,
        )["FunctionArn"]
    )


def gateway(lab: Any, fn_arn: str | None, tools: list[dict[str, Any]] | None = None,
            name: str = "northpeak-tools", target: str = "orders") -> dict[str, Any]:  # fmt: skip
    ctl = lab.client("bedrock-agentcore-control")
    gw = ctl.create_gateway(
        name=name, roleArn=lab.role_arn, protocolType="MCP", authorizerType="AWS_IAM"
    )
    if fn_arn:
        ctl.create_gateway_target(
            gatewayIdentifier=gw["gatewayId"],
            name=target,
            targetConfiguration={
                "mcp": {"lambda": {"lambdaArn": fn_arn, "toolSchema": {"inlinePayload": tools or [TOOL]}}}
            },
            credentialProviderConfigurations=[{"credentialProviderType": "GATEWAY_IAM_ROLE"}],
        )  # fmt: skip
    return dict(gw)


def small_kb(lab: Any) -> northpeak.KnowledgeBase:
    return northpeak.knowledge_base(lab, products=["Summit 4 Tent", "Storm Shell Jacket"])


# --------------------------------------------------------------------------- 1 order tool
def test_order_tool_passes_as_given(lab: Any) -> None:
    gateway(lab, orders(lab))
    assert verdict(c.verify_order_tool, lab, "northpeak-tools", "northpeak-orders") == "PASS"


def test_order_tool_alternative_names_pass(lab: Any) -> None:
    other = {
        **TOOL,
        "name": "lookup_order",
        "description": "Find where an order is: its status and date",
    }
    gateway(lab, orders(lab), [other], target="order-system")
    assert verdict(c.verify_order_tool, lab, "northpeak-tools", "northpeak-orders") == "PASS"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("no-gateway", "no AgentCore gateway named"),
        ("no-required", "requires no input"),
        ("no-description", "no useful description"),
        ("other-function", "no Lambda target for northpeak-orders"),
        ("wrong-code", "the order is"),
    ],
)
def test_order_tool_wrong_states_miss(lab: Any, change: str, words: str) -> None:
    fn = orders(
        lab,
        ORDERS_CODE.replace('"packing"', '"unknown"') if change == "wrong-code" else ORDERS_CODE,
    )
    if change == "no-gateway":
        gateway(lab, fn, name="other-tools")
    elif change == "no-required":
        gateway(lab, fn, [{**TOOL, "inputSchema": {**TOOL["inputSchema"], "required": []}}])
    elif change == "no-description":
        gateway(lab, fn, [{**TOOL, "description": ""}])
    elif change == "other-function":
        gateway(lab, orders(lab, name="legacy-orders"))
    else:
        gateway(lab, fn)
    assert words in verdict(c.verify_order_tool, lab, "northpeak-tools", "northpeak-orders")


# --------------------------------------------------------------------------- 2 agent
def _memory(lab: Any, strategies: list[dict[str, Any]]) -> dict[str, Any]:
    ctl = lab.client("bedrock-agentcore-control")
    return dict(ctl.create_memory(name="northpeak_memory", eventExpiryDuration=30, memoryStrategies=strategies)["memory"])  # fmt: skip


def test_agent_wrong_states_miss_and_an_alternative_passes(lab: Any) -> None:
    kb = small_kb(lab)
    gw = gateway(lab, orders(lab))
    ctl = lab.client("bedrock-agentcore-control")
    check = (c.verify_agent, lab, "support", "northpeak_memory", PRODUCT_QUESTION)
    # 1. a memory with short-term events only: nothing long-term to recall
    bare = _memory(lab, [])
    assert "no long-term strategy" in verdict(*check)
    ctl.delete_memory(memoryId=bare["id"])
    facts = [
        {"semanticMemoryStrategy": {"name": "facts", "namespaces": ["/people/{actorId}/facts"]}}
    ]
    mem = _memory(lab, facts)
    # 2. no runtime
    assert "no agent runtime named support" in verdict(*check)
    # 3. a fake agent that knows the answers by heart: no tool ran
    fake = PLAIN.replace('os.environ.get("ANSWER", "Order N-1042 has shipped.")',
                         '"Your order is packing. It weighs 2.84 kg. You prefer metric."')  # fmt: skip
    runtime(lab, "fake", fake)
    assert "did not come from a gateway tool" in verdict(c.verify_agent, lab, "fake",
                                                         "northpeak_memory", PRODUCT_QUESTION)  # fmt: skip
    env = {"GATEWAY_ID": gw["gatewayId"], "KB_ID": kb.kb_id, "MEMORY_ID": mem["id"],
           "MODEL_ID": MODEL, "PRODUCTS": ", ".join(kb.products),
           "MEMORY_NS": "/people/{actorId}/facts"}  # fmt: skip
    # 4. a real agent that never stores the conversation: nothing to recall
    runtime(lab, "forgetful", AGENT, {**env, "STORE": "no"})
    assert "holds no long-term record" in verdict(c.verify_agent, lab, "forgetful",
                                                  "northpeak_memory", PRODUCT_QUESTION)  # fmt: skip
    # alternative: other tool names, a semantic strategy, another namespace
    runtime(lab, "support", AGENT, {**env, "STORE": "yes"})
    assert verdict(*check) == "PASS"


# --------------------------------------------------------------------------- 3 release
def _release(lab: Any, rid: str, arn: str, env: dict[str, str], *, test: bool = True,
             promote: bool, rollback: bool = True) -> str:  # fmt: skip
    ctl = lab.client("bedrock-agentcore-control")
    rt = ctl.get_agent_runtime(agentRuntimeId=rid)
    version = ctl.update_agent_runtime(
        agentRuntimeId=rid, agentRuntimeArtifact=rt["agentRuntimeArtifact"], roleArn=rt["roleArn"],
        networkConfiguration={"networkMode": "PUBLIC"}, environmentVariables=env,
    )["agentRuntimeVersion"]  # fmt: skip
    ctl.update_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="staging", agentRuntimeVersion=version)  # fmt: skip
    if test:
        session = c.new_session("t")
        for _ in range(2):
            c.ask(lab, arn, session, "What is the status of order N-1042?", qualifier="staging")
    prod = ctl.get_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="prod")["liveVersion"]
    if promote:
        ctl.update_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="prod", agentRuntimeVersion=version)  # fmt: skip
    elif rollback:
        ctl.update_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="staging", agentRuntimeVersion=prod)  # fmt: skip
    return str(version)


def _released(lab: Any, *, endpoints: tuple[str, ...] = ("staging", "prod")) -> tuple[str, str]:
    rt = runtime(lab, "support", PLAIN, {"MAX_TOKENS": "400"})
    ctl = lab.client("bedrock-agentcore-control")
    for name in endpoints:
        ctl.create_agent_runtime_endpoint(agentRuntimeId=rt["agentRuntimeId"], name=name, agentRuntimeVersion="1")  # fmt: skip
    return rt["agentRuntimeId"], rt["agentRuntimeArn"]


GOOD, BAD = {"MAX_TOKENS": "300"}, {"MAX_TOKENS": "12"}


def test_release_as_the_pipeline_does_passes(lab: Any) -> None:
    rid, arn = _released(lab)
    _release(lab, rid, arn, GOOD, promote=True)
    _release(lab, rid, arn, BAD, promote=False)
    assert verdict(c.verify_release, lab, "support", BAD) == "PASS"


def test_release_bad_first_then_good_passes(lab: Any) -> None:
    rid, arn = _released(lab)
    _release(lab, rid, arn, BAD, promote=False)
    _release(lab, rid, arn, GOOD, promote=True)
    assert verdict(c.verify_release, lab, "support", BAD) == "PASS"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("bad-promoted", "the bad release"),
        ("good-untested", "was not tested on staging"),
        ("no-rollback", "staging is left on the failed version"),
        ("no-staging", "no endpoint 'staging'"),
        ("bad-never-released", "no version of support has the bad release"),
    ],
)
def test_release_wrong_states_miss(lab: Any, change: str, words: str) -> None:
    rid, arn = _released(
        lab, endpoints=("prod",) if change == "no-staging" else ("staging", "prod")
    )
    if change == "no-staging":
        assert words in verdict(c.verify_release, lab, "support", BAD)
        return
    _release(lab, rid, arn, GOOD, promote=True, test=change != "good-untested")
    if change != "bad-never-released":
        _release(
            lab, rid, arn, BAD, promote=change == "bad-promoted", rollback=change != "no-rollback"
        )
    assert words in verdict(c.verify_release, lab, "support", BAD)


# --------------------------------------------------------------------------- 4 kb refresh
NEW_KEY = "docs/clean/crest-3-specs.txt"
NEW_TEXT = "The Crest 3 Trekking Poles weigh 410 g per pair.\nThey adjust from 105 to 135 cm.\n"
QUESTION = "How much do the Crest 3 Trekking Poles weigh?"


def _ingest(lab: Any, kb: northpeak.KnowledgeBase) -> None:
    agent = lab.client("bedrock-agent")
    job = agent.start_ingestion_job(knowledgeBaseId=kb.kb_id, dataSourceId=kb.ds_id)["ingestionJob"]
    assert northpeak.wait_ingestion(agent, job, 0.2)["status"] == "COMPLETE"


@pytest.mark.parametrize(
    "change", ["pass", "not-uploaded", "not-ingested", "outside-prefix", "ingested-first"]
)
def test_kb_refresh(lab: Any, change: str) -> None:
    kb = small_kb(lab)
    s3 = lab.client("s3")
    if change == "ingested-first":
        _ingest(lab, kb)
    key = "drafts/crest-3-specs.txt" if change == "outside-prefix" else NEW_KEY
    if change != "not-uploaded":
        s3.put_object(Bucket=lab.bucket, Key=key, Body=NEW_TEXT.encode())
        if change == "pass":  # an alternative: with a metadata sidecar, another product changed too
            meta = {"metadataAttributes": {"product": "Crest 3 Trekking Poles"}}
            s3.put_object(
                Bucket=lab.bucket, Key=key + ".metadata.json", Body=json.dumps(meta).encode()
            )
            s3.put_object(Bucket=lab.bucket, Key="docs/clean/note.txt", Body=b"Stores open at 9.")
    if change not in ("not-ingested", "ingested-first"):
        _ingest(lab, kb)
    got = verdict(c.verify_kb_refresh, lab, kb.kb_id, NEW_KEY, QUESTION, "410 g")
    if change == "pass":
        assert got == "PASS"
    elif change in ("not-uploaded", "outside-prefix"):
        assert "does not exist" in got
    else:
        assert "does not find" in got


# --------------------------------------------------------------------------- 5 traces
NIGHTLY = """
import os

import boto3
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from strands import Agent, tool
from strands.models import BedrockModel
from strands.tools.mcp import MCPClient

app = BedrockAgentCoreApp()
kb = boto3.client("bedrock-agent-runtime")
URL = boto3.client("bedrock-agentcore-control").get_gateway(
    gatewayIdentifier=os.environ["GATEWAY_ID"])["gatewayUrl"]


@tool
def search_product_docs(question: str) -> str:
    \"\"\"Search the product documentation (care guides, manuals, specs) of: \"\"\"
    hits = kb.retrieve(knowledgeBaseId=os.environ["KB_ID"], retrievalQuery={"text": question},
                       retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 3}})
    return "\\n".join(r["content"]["text"] for r in hits["retrievalResults"])


search_product_docs.tool_spec["description"] += os.environ["PRODUCTS"]


@app.entrypoint
async def invoke(payload, context):
    prompt = payload["prompt"]
    model = BedrockModel(model_id=os.environ["MODEL_ID"], max_tokens=int(os.environ["MAX_TOKENS"]))
    with MCPClient(url=URL) as gw:
        tools = [search_product_docs, *gw.list_tools_sync()]
        for _ in range(int(os.environ.get("RETRIES", "4"))):
            answer = ""
            try:
                async for event in Agent(model=model, tools=tools, callback_handler=None).stream_async(prompt):
                    if "data" in event:
                        answer += event["data"]
                        yield event["data"]
            except Exception:
                continue
            if "order" not in prompt.lower() or "status" in answer.lower():
                break


if __name__ == "__main__":
    app.run()
"""


def test_traces_wrong_fixes_miss_and_an_alternative_passes(lab: Any) -> None:
    kb = small_kb(lab)
    gw = gateway(lab, orders(lab))
    env = {"GATEWAY_ID": gw["gatewayId"], "KB_ID": kb.kb_id, "MODEL_ID": MODEL,
           "MAX_TOKENS": "40", "RETRIES": "4", "PRODUCTS": ", ".join(kb.products)}  # fmt: skip
    rt = runtime(lab, "nightly", NIGHTLY, env)
    ctl, lam = lab.client("bedrock-agentcore-control"), lab.client("lambda")
    incident = c.new_session("incident")
    args = (c.verify_traces, lab, "nightly", incident, "northpeak-tools", "northpeak-orders")
    # 1. the incidents were never replayed
    assert "does not show" in verdict(*args)
    for prompt in c.INCIDENT_PROMPTS:
        c.ask(lab, rt["agentRuntimeArn"], incident, prompt)

    def configure(**changes: str) -> None:
        ctl.update_agent_runtime(
            agentRuntimeId=rt["agentRuntimeId"], agentRuntimeArtifact=artifact(lab, "agents/nightly.zip"),
            roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"},
            environmentVariables={**env, **changes},
        )  # fmt: skip

    # 2. only the answer budget raised: the tool still fails
    configure(MAX_TOKENS="400")
    assert "still fails for N-9999" in verdict(*args)
    # 3. the Lambda "fixed" by raising a clearer error: still a failure
    clearer = ORDERS_CODE.replace("    status, eta = ORDERS[order]\n",
                                  "    if order not in ORDERS:\n        raise LookupError('no such order')\n"
                                  "    status, eta = ORDERS[order]\n")  # fmt: skip
    lam.update_function_code(FunctionName="northpeak-orders", ZipFile=zip_source(clearer))
    assert "still fails" in verdict(*args)
    # 4. the Lambda fixed, the budget back at 40: answers are still cut off
    lam.update_function_code(FunctionName="northpeak-orders", ZipFile=zip_source(FIXED_ORDERS))
    configure(MAX_TOKENS="40")
    assert "still show" in verdict(*args)
    # alternative: a larger budget and no retries at all
    configure(MAX_TOKENS="1000", RETRIES="1")
    assert verdict(*args) == "PASS"


# --------------------------------------------------------------------------- 6 least privilege
def _arns(lab: Any) -> dict[str, str]:
    a, r = lab.account_id, lab.region
    return {
        "profile": f"arn:aws:bedrock:{r}:{a}:inference-profile/{MODEL}",
        "fm": "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-micro-v1:0",
        "kb": f"arn:aws:bedrock:{r}:{a}:knowledge-base/KB00000001",
        "memory": f"arn:aws:bedrock-agentcore:{r}:{a}:memory/northpeak_memory-abcdefghij",
        "gateway": f"arn:aws:bedrock-agentcore:{r}:{a}:gateway/northpeak-tools-abcdefghij",
    }


def _needs(lab: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    n = _arns(lab)
    allowed = [("bedrock:InvokeModel", n["profile"]), ("bedrock:InvokeModelWithResponseStream", n["fm"]),
               ("bedrock:Retrieve", n["kb"]), ("bedrock-agentcore:InvokeGateway", n["gateway"]),
               ("bedrock-agentcore:CreateEvent", n["memory"]),
               ("bedrock-agentcore:RetrieveMemoryRecords", n["memory"])]  # fmt: skip
    denied = [("bedrock:InvokeModel", f"arn:aws:bedrock:{lab.region}::foundation-model/amazon.nova-pro-v1:0"),
              ("bedrock:Retrieve", n["kb"].replace("KB00000001", "OTHER00001")),
              ("bedrock-agentcore:DeleteMemory", n["memory"]),
              ("s3:GetObject", f"arn:aws:s3:::{lab.bucket}/agents/support.zip"),
              ("lambda:InvokeFunction", f"arn:aws:lambda:{lab.region}:{lab.account_id}:function:northpeak-orders")]  # fmt: skip
    return allowed, denied


def _least(lab: Any) -> list[dict[str, Any]]:
    n = _arns(lab)
    return [
        {"Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
         "Resource": [n["profile"], "arn:aws:bedrock:*::foundation-model/amazon.nova-micro-v1:0"]},
        {"Effect": "Allow", "Action": "bedrock:Retrieve", "Resource": n["kb"]},
        {"Effect": "Allow", "Action": ["bedrock-agentcore:GetGateway", "bedrock-agentcore:InvokeGateway"],
         "Resource": n["gateway"]},
        {"Effect": "Allow", "Action": ["bedrock-agentcore:CreateEvent", "bedrock-agentcore:RetrieveMemoryRecords"],
         "Resource": n["memory"]},
    ]  # fmt: skip


def _role(lab: Any, statements: list[dict[str, Any]], name: str = "northpeak-agent") -> str:
    iam = lab.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}}]}  # fmt: skip
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    doc = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName="agent", PolicyDocument=json.dumps(doc))
    return str(arn)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("pass", "PASS"),
        ("alternative", "PASS"),
        ("prototype", "the agent never needs that"),
        ("no-memory", "may not bedrock-agentcore:CreateEvent"),
        (
            "any-model",
            "may bedrock:InvokeModel on arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro",
        ),
        ("other-role", "runs with"),
    ],
)
def test_least_privilege(lab: Any, change: str, words: str) -> None:
    statements = _least(lab)
    if change == "alternative":  # one statement per action, a Deny that changes nothing needed
        statements = [{**s, "Action": a} for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]  # fmt: skip
        statements.append({"Effect": "Deny", "Action": "bedrock:*", "Resource": "arn:aws:bedrock:*::foundation-model/amazon.nova-pro*"})  # fmt: skip
    elif change == "prototype":
        statements = [{"Effect": "Allow", "Action": ["bedrock:*", "bedrock-agentcore:*", "s3:*", "lambda:*"], "Resource": "*"}]  # fmt: skip
    elif change == "no-memory":
        statements = statements[:3]
    elif change == "any-model":
        statements[0] = {**statements[0], "Resource": "*"}
    arn = _role(lab, statements)
    if change == "other-role":
        arn = _role(lab, statements, name="some-other-role")
    runtime(lab, "support", PLAIN, role=arn)
    allowed, denied = _needs(lab)
    got = verdict(c.verify_least_privilege, lab, "northpeak-agent", "support", allowed, denied)
    assert words in got if words != "PASS" else got == "PASS"


PROTOTYPE = "northpeak-prototype"
BEDROCK = "bedrock.amazonaws.com"


def rt_role(lab: Any) -> str:
    return str(lab.client("iam").get_role(RoleName="northpeak-agent")["Role"]["Arn"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("deleted", "PASS"),
        ("deactivated", "PASS"),  # an alternative: Inactive, not deleted
        ("left-active", "still Active (it never expires)"),
        ("key-in-env", "AWS_BEARER_TOKEN_BEDROCK in its environment variables"),
        ("short-term-key-in-env", "MODEL_AUTH in its environment variables"),
        ("new-long-term-key", "IAM user northpeak-agent-key has an active long-term Bedrock API key (until 2"),
        ("key-on-prod", "version 1 of support has AWS_BEARER_TOKEN_BEDROCK"),
    ],
)  # fmt: skip
def test_credential_type(lab: Any, change: str, words: str) -> None:
    """Requirement 6's credential part on real IAM state (no agent session is started)."""
    iam = lab.client("iam")
    iam.create_user(UserName=PROTOTYPE)  # the given prototype and its key that never expires
    key = iam.create_service_specific_credential(UserName=PROTOTYPE, ServiceName=BEDROCK)[
        "ServiceSpecificCredential"
    ]
    cid, secret = key["ServiceSpecificCredentialId"], key["ServiceCredentialSecret"]
    if change == "deactivated":
        iam.update_service_specific_credential(UserName=PROTOTYPE, ServiceSpecificCredentialId=cid, Status="Inactive")  # fmt: skip
    elif change != "left-active":
        iam.delete_service_specific_credential(UserName=PROTOTYPE, ServiceSpecificCredentialId=cid)
    env = {"MODEL_ID": MODEL, "MAX_TOKENS": "300"}
    if change in ("key-in-env", "key-on-prod"):
        env["AWS_BEARER_TOKEN_BEDROCK"] = secret
    elif change == "short-term-key-in-env":
        env["MODEL_AUTH"] = (
            "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbg=="
        )
    elif change == "new-long-term-key":  # a key of its own "for the agent", kept out of the code
        iam.create_user(UserName="northpeak-agent-key")
        iam.create_service_specific_credential(UserName="northpeak-agent-key", ServiceName=BEDROCK, CredentialAgeDays=36600)  # fmt: skip
    rt = runtime(lab, "support", PLAIN, env, role=_role(lab, _least(lab)))
    if change == "key-on-prod":  # removed from the latest version, but prod still serves v1
        ctl = lab.client("bedrock-agentcore-control")
        ctl.create_agent_runtime_endpoint(agentRuntimeId=rt["agentRuntimeId"], name="prod", agentRuntimeVersion="1")  # fmt: skip
        ctl.update_agent_runtime(
            agentRuntimeId=rt["agentRuntimeId"], agentRuntimeArtifact=artifact(lab, "agents/support.zip"),
            roleArn=rt_role(lab), networkConfiguration={"networkMode": "PUBLIC"},
            environmentVariables={"MODEL_ID": MODEL},
        )  # fmt: skip
    allowed, denied = _needs(lab)
    got = verdict(c.verify_least_privilege, lab, "northpeak-agent", "support", allowed, denied,
                  prototype_user=PROTOTYPE)  # fmt: skip
    assert words in got if words != "PASS" else got == "PASS"


def test_credentials_in_env_by_name_and_value() -> None:
    env = {"MAX_TOKENS": "40", "MODEL_ID": MODEL, "GATEWAY_ID": "gw-1", "OPENAI_API_KEY": "x",
           "KEY": "ABSKQmVkcm9ja0FQSUtleS0=", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}  # fmt: skip
    assert c.credentials_in_env(env) == ["AWS_ACCESS_KEY_ID", "KEY", "OPENAI_API_KEY"]


# --------------------------------------------------------------------------- drill
FAQ = PLAIN.replace('"Order N-1042 has shipped."', '"Yes, we ship to Norway."')


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("fixed", "PASS"),
        ("rezipped", "PASS"),
        ("left-broken", "CREATE_FAILED"),
        ("recreated", "not the broken one"),
        ("wrong-again", "UPDATE_FAILED"),
    ],
)
def test_drill(lab: Any, change: str, words: str) -> None:
    ctl, s3 = lab.client("bedrock-agentcore-control"), lab.client("s3")
    key = "agents/faq.zip"
    # the given broken runtime: the entry point names main.py, the .zip holds app.py
    s3.put_object(Bucket=lab.bucket, Key=key, Body=zipped(FAQ, "app.py"))
    rt = ctl.create_agent_runtime(
        agentRuntimeName="faq", agentRuntimeArtifact=artifact(lab, key, "main.py"),
        roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"},
    )  # fmt: skip
    if change == "recreated":  # deleted and created again, correctly: not a repair
        ctl.delete_agent_runtime(agentRuntimeId=rt["agentRuntimeId"])
        ctl.create_agent_runtime(
            agentRuntimeName="faq", agentRuntimeArtifact=artifact(lab, key, "app.py"),
            roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"},
        )  # fmt: skip
    if change == "rezipped":  # an alternative: the file renamed to what the entry point says
        s3.put_object(Bucket=lab.bucket, Key=key, Body=zipped(FAQ, "main.py"))
    entry = {"fixed": "app.py", "rezipped": "main.py", "wrong-again": "server.py"}.get(change)
    if entry:
        ctl.update_agent_runtime(
            agentRuntimeId=rt["agentRuntimeId"], agentRuntimeArtifact=artifact(lab, key, entry),
            roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"},
        )  # fmt: skip
    got = verdict(c.verify_drill, lab, "faq")
    assert words in got if words != "PASS" else got == "PASS"


# --------------------------------------------------------------------------- teardown
@pytest.mark.parametrize(
    "left", ["nothing", "runtime", "memory", "function", "vector-bucket", "role", "user"]
)
def test_teardown(lab: Any, left: str) -> None:
    names = {"runtimes": ["support"], "gateways": ["northpeak-tools"], "memories": ["northpeak_memory"],
             "functions": ["northpeak-orders"], "knowledge_bases": ["KB00000001"],
             "vector_bucket": "vectors", "roles": ["northpeak-agent"], "users": [PROTOTYPE]}  # fmt: skip
    if left == "runtime":
        runtime(lab, "support", PLAIN)
    elif left == "memory":
        _memory(lab, [])
    elif left == "function":
        orders(lab)
    elif left == "vector-bucket":
        lab.client("s3vectors").create_vector_bucket(vectorBucketName="vectors")
    elif left == "role":
        _role(lab, [{"Effect": "Allow", "Action": "bedrock:Retrieve", "Resource": "*"}])
    elif left == "user":
        lab.client("iam").create_user(UserName=PROTOTYPE)
    got = verdict(c.verify_teardown, lab, **names)
    if left == "nothing":
        assert got == "PASS"
    else:
        assert got.startswith("still there") and left.split("-")[0] in got.lower()
