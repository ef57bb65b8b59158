"""The cleanup check and sweep on the deleter registry's kinds: AgentCore, Lambda, S3 Vectors,
knowledge bases, guardrails and prompts, created offline, reported, deleted, gone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mllab import checks
from mllab.checks import CheckFailed
from mllab.offline.lambda_ import zip_source
from tests.offline.agentcore.agent_code import PLAIN, build_context

EMBED = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
AGENTS = {
    "agentcore-runtime-endpoint",
    "agentcore-gateway-target",
    "agentcore-runtime",
    "agentcore-gateway",
    "agentcore-memory",
    "lambda-function",
}


def _kinds(lab: Any, **kw: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in checks.billable_leftovers(lab, **kw):
        out.setdefault(r.kind, []).append(r.name)
    return out


def _agent_stack(lab: Any, tmp_path: Path, prefix: str) -> dict[str, str]:
    """A Lambda tool behind a gateway, a runtime with a named endpoint, a memory (lab 06)."""
    from mllab.offline.agentcore import images

    fn = lab.client("lambda").create_function(
        FunctionName=f"{prefix}-tool", Runtime="python3.12", Role=lab.role_arn,
        Handler="lambda_function.h", Code={"ZipFile": zip_source("def h(e, c):\n    return 1\n")},
    )  # fmt: skip
    ctl = lab.client("bedrock-agentcore-control")
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{prefix}:1"
    images.register(uri, build_context(tmp_path / prefix, PLAIN))
    rt = ctl.create_agent_runtime(
        agentRuntimeName=prefix.replace("-", "_"),
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"},
    )  # fmt: skip
    ctl.create_agent_runtime_endpoint(agentRuntimeId=rt["agentRuntimeId"], name="prod")
    gw = ctl.create_gateway(name=f"{prefix}-gw", roleArn=lab.role_arn, authorizerType="NONE")
    target = ctl.create_gateway_target(
        gatewayIdentifier=gw["gatewayId"], name="tools",
        targetConfiguration={"mcp": {"lambda": {"lambdaArn": fn["FunctionArn"], "toolSchema": {
            "inlinePayload": [{"name": "one", "description": "returns one",
                               "inputSchema": {"type": "object"}}]}}}},
    )  # fmt: skip
    mem = ctl.create_memory(name=f"{prefix.replace('-', '_')}_mem", eventExpiryDuration=7)
    return {
        "function": fn["FunctionName"],
        "runtime": rt["agentRuntimeId"],
        "gateway": gw["gatewayId"],
        "target": target["targetId"],
        "memory": mem["memory"]["id"],
    }


@contextmanager
def _as_another_run(lab: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Create as another lab's run would: its tags, its ledger rows, not this run's records."""
    kept = len(lab.guard.created)
    with monkeypatch.context() as m:
        m.setattr(lab.guard, "lab", "other-lab")
        m.setattr(lab.guard, "run", "other-run")
        yield
    del lab.guard.created[kept:]


def test_agentcore_and_lambda_reported_until_deleted(lab: Any, tmp_path: Path) -> None:
    ids = _agent_stack(lab, tmp_path, "lab6")
    found = _kinds(lab)
    assert set(found) == AGENTS, found
    assert found["agentcore-runtime"] == [ids["runtime"]]  # one entry per resource, by id
    assert found["agentcore-runtime-endpoint"] == [f"{ids['runtime']}/runtime-endpoint/prod"]
    assert found["agentcore-gateway-target"] == [f"{ids['gateway']}/{ids['target']}"]
    assert found["agentcore-memory"] == [ids["memory"]]
    assert found["lambda-function"] == ["lab6-tool"]
    with pytest.raises(CheckFailed) as info:
        checks.nothing_billable_left(lab)
    msg = str(info.value)
    assert "6 billable resource(s)" in msg
    assert "delete_agent_runtime_endpoint(agentRuntimeId=" in msg
    assert f"delete_memory(memoryId={ids['memory']!r})" in msg
    assert "delete_function(FunctionName='lab6-tool')" in msg

    ctl = lab.client("bedrock-agentcore-control")
    ctl.delete_agent_runtime_endpoint(agentRuntimeId=ids["runtime"], endpointName="prod")
    ctl.delete_gateway_target(gatewayIdentifier=ids["gateway"], targetId=ids["target"])
    assert set(_kinds(lab)) == AGENTS - {"agentcore-runtime-endpoint", "agentcore-gateway-target"}
    ctl.delete_agent_runtime(agentRuntimeId=ids["runtime"])
    ctl.delete_gateway(gatewayIdentifier=ids["gateway"])
    ctl.delete_memory(memoryId=ids["memory"])
    assert set(_kinds(lab)) == {"lambda-function"}
    lab.client("lambda").delete_function(FunctionName="lab6-tool")
    assert checks.nothing_billable_left(lab) == "nothing billable left by this lab run"


def test_another_runs_and_untagged_resources_are_not_reported(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _as_another_run(lab, monkeypatch):
        other = _agent_stack(lab, tmp_path, "other")
        lab.client("s3vectors").create_vector_bucket(vectorBucketName="other-vectors")
    ctl = lab.client("bedrock-agentcore-control")
    arn = ctl.get_agent_runtime(agentRuntimeId=other["runtime"])["agentRuntimeArn"]
    assert ctl.list_tags_for_resource(resourceArn=arn)["tags"]["mllab:run"] == "other-run"
    assert checks.nothing_billable_left(lab) == "nothing billable left by this lab run"

    # an untagged resource that this run did not create is not this run's either
    other_mem = ctl.get_memory(memoryId=other["memory"])["memory"]["arn"]
    ctl.untag_resource(resourceArn=other_mem, tagKeys=["mllab:lab", "mllab:run"])
    assert checks.nothing_billable_left(lab) == "nothing billable left by this lab run"
    # this run's own memory stripped of its tags is still found from the run's records
    mine = ctl.create_memory(name="mine_mem", eventExpiryDuration=7)["memory"]
    ctl.untag_resource(resourceArn=mine["arn"], tagKeys=["mllab:lab", "mllab:run"])
    assert _kinds(lab) == {"agentcore-memory": [mine["id"]]}
    ctl.delete_memory(memoryId=mine["id"])
    # the other run's resources were never touched
    assert ctl.get_memory(memoryId=other["memory"])["memory"]["status"] == "ACTIVE"
    assert lab.client("lambda").get_function(FunctionName="other-tool")


def test_vectors_knowledge_base_guardrail_and_prompt(lab: Any) -> None:
    s3v, agent, br = lab.client("s3vectors"), lab.client("bedrock-agent"), lab.client("bedrock")
    s3v.create_vector_bucket(vectorBucketName="lab-vectors")
    index_arn = s3v.create_index(
        vectorBucketName="lab-vectors", indexName="docs", dataType="float32", dimension=256,
        distanceMetric="cosine",
    )["indexArn"]  # fmt: skip
    kb = agent.create_knowledge_base(
        name="lab-kb", roleArn=lab.role_arn,
        knowledgeBaseConfiguration={"type": "VECTOR", "vectorKnowledgeBaseConfiguration": {
            "embeddingModelArn": EMBED, "embeddingModelConfiguration": {
                "bedrockEmbeddingModelConfiguration": {"dimensions": 256}}}},
        storageConfiguration={"type": "S3_VECTORS", "s3VectorsConfiguration": {"indexArn": index_arn}},
    )["knowledgeBase"]["knowledgeBaseId"]  # fmt: skip
    ds = agent.create_data_source(
        knowledgeBaseId=kb, name="docs",
        dataSourceConfiguration={"type": "S3", "s3Configuration": {
            "bucketArn": f"arn:aws:s3:::{lab.bucket}"}},
    )["dataSource"]["dataSourceId"]  # fmt: skip
    gid = br.create_guardrail(
        name="lab-guard", blockedInputMessaging="no", blockedOutputsMessaging="no",
        contentPolicyConfig={"filtersConfig": [
            {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}]},
    )["guardrailId"]  # fmt: skip
    prompt = agent.create_prompt(
        name="lab-prompt",
        variants=[{"name": "v", "templateType": "TEXT",
                   "templateConfiguration": {"text": {"text": "Answer {{q}}",
                                                              "inputVariables": [{"name": "q"}]}}}],
    )["id"]  # fmt: skip

    found = _kinds(lab)
    assert found == {
        "bedrock-knowledge-base": [kb],
        "bedrock-guardrail": [gid],
        "s3vectors-index": [index_arn],
        "s3vectors-bucket": ["lab-vectors"],
    }, found
    assert _kinds(lab, include_free=True)["bedrock-prompt"] == [prompt]  # free: on request
    with pytest.raises(CheckFailed, match=r"s3vectors.delete_index\(indexArn="):
        checks.nothing_billable_left(lab)

    agent.delete_data_source(knowledgeBaseId=kb, dataSourceId=ds)
    agent.delete_knowledge_base(knowledgeBaseId=kb)
    br.delete_guardrail(guardrailIdentifier=gid)
    s3v.delete_index(indexArn=index_arn)
    assert _kinds(lab) == {"s3vectors-bucket": ["lab-vectors"]}
    s3v.delete_vector_bucket(vectorBucketName="lab-vectors")
    assert checks.nothing_billable_left(lab) == "nothing billable left by this lab run"
    with pytest.raises(CheckFailed, match="delete_prompt"):
        checks.nothing_billable_left(lab, include_free=True)
    agent.delete_prompt(promptIdentifier=prompt)
    checks.nothing_billable_left(lab, include_free=True)


def test_sweep_deletes_this_runs_agents_and_functions_only(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllab.teardown import delete_tagged, find_tagged

    with _as_another_run(lab, monkeypatch):
        other = _agent_stack(lab, tmp_path, "kept")
    _agent_stack(lab, tmp_path, "swept")
    found = find_tagged(lab.session, lab.region, run=lab.run_id)
    assert {f.kind for f in found} == AGENTS, found
    assert all(f.lab == "test-lab" for f in found)
    done = delete_tagged(lab.session, found)
    assert not [d for d in done if d["action"].startswith("error")], done
    assert {d["kind"] for d in done if d["action"] == "deleted"} >= AGENTS - {
        "agentcore-gateway-target"  # deleted with its gateway when that came first
    }
    assert find_tagged(lab.session, lab.region, run=lab.run_id) == []
    assert checks.nothing_billable_left(lab) == "nothing billable left by this lab run"
    # the other run's stack is all still there, and sweep by lab finds it
    others = find_tagged(lab.session, lab.region, lab="other-lab")
    assert {f.kind for f in others} == AGENTS
    ctl = lab.client("bedrock-agentcore-control")
    assert ctl.get_gateway(gatewayIdentifier=other["gateway"])["status"] == "READY"
