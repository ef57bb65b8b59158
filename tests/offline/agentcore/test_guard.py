"""Guard declarations of AgentCore and Lambda: every emulated operation declared, prices, deleters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllab.offline.lambda_ import zip_source
from tests.offline.agentcore.agent_code import PLAIN, build_context


def test_every_emulated_operation_is_declared(lab: Any) -> None:
    from mllab.guard import admission
    from mllab.offline.registry import registered

    services = {"lambda", "bedrock-agentcore", "bedrock-agentcore-control"}
    ours = {(s, op) for s, op, _ in registered() if s in services}
    assert ours, "no handlers registered"
    undeclared = sorted(p for p in ours if admission.classify(*p) is None)
    assert undeclared == []
    for op in ("CreateAgent", "InvokeAgent"):
        service = "bedrock-agent" if op == "CreateAgent" else "bedrock-agent-runtime"
        assert admission.classify(service, op) is not None


def test_prices_follow_the_snapshot() -> None:
    from mllab.guard.declarations import agentcore, lambda_
    from mllab.guard.estimate import Policy

    snap = lambda_.prices()
    assert snap["snapshot_date"] and snap["sources"]
    est = agentcore.invoke_agent_runtime({"agentRuntimeArn": "arn:unknown"}, Policy())
    # one window: the longest request (15 min, vCPU + GB), then the idle timeout (GB); a
    # runtime nobody can describe gets the longest idle timeout (8 h, fail closed)
    cpu, gb = (
        snap["agentcore"]["runtime_usd_per_vcpu_hour"],
        snap["agentcore"]["runtime_usd_per_gb_hour"],
    )
    assert abs(est.usd - (1.0 * cpu * 900 + 2.0 * gb * 28800) / 3600) < 1e-12
    inv = lambda_.invoke({"FunctionName": "nope"}, Policy())  # unknown: the largest function
    assert abs(inv.usd - (2e-7 + 10240 / 1024 * 900 * snap["lambda"]["usd_per_gb_second"])) < 1e-9
    assert lambda_.invoke({"FunctionName": "x", "InvocationType": "DryRun"}, Policy()).usd == 0.0


def test_deleters_find_and_delete_by_tags(lab: Any, tmp_path: Path) -> None:
    from mllab.guard import admission
    from mllab.offline.agentcore import images

    tags = {"team": "ml"}
    lab.client("lambda").create_function(
        FunctionName="tool", Runtime="python3.12", Role=lab.role_arn, Handler="lambda_function.h",
        Code={"ZipFile": zip_source("def h(e, c):\n    return 1\n")}, Tags=tags,
    )  # fmt: skip
    ctl = lab.client("bedrock-agentcore-control")
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/swept:1"
    images.register(uri, build_context(tmp_path / "swept", PLAIN))
    rt = ctl.create_agent_runtime(
        agentRuntimeName="swept", agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"}, tags=tags,
    )  # fmt: skip
    ctl.create_agent_runtime_endpoint(agentRuntimeId=rt["agentRuntimeId"], name="prod", tags=tags)
    gw = ctl.create_gateway(name="swept-gw", roleArn=lab.role_arn, authorizerType="NONE", tags=tags)
    fn_arn = "arn:aws:lambda:us-east-1:123456789012:function:tool"
    ctl.create_gateway_target(
        gatewayIdentifier=gw["gatewayId"], name="t",
        targetConfiguration={"mcp": {"lambda": {"lambdaArn": fn_arn, "toolSchema": {"inlinePayload": [
            {"name": "one", "description": "returns one", "inputSchema": {"type": "object"}}]}}}},
    )  # fmt: skip
    ctl.create_memory(name="swept_mem", eventExpiryDuration=7, tags=tags)
    kinds = [
        "agentcore-runtime-endpoint", "agentcore-gateway-target", "agentcore-runtime",
        "agentcore-gateway", "agentcore-memory", "lambda-function",
    ]  # fmt: skip
    for kind in kinds:
        d = admission.DELETERS[kind]
        assert d.find is not None
        found = list(d.find(lab.session, lab.region))
        assert len(found) == 1, (kind, found)
        name, found_tags = found[0]
        if kind != "agentcore-gateway-target":
            assert found_tags.get("team") == "ml", (kind, found_tags)
    for kind in sorted(kinds, key=lambda k: admission.DELETERS[k].order):
        d = admission.DELETERS[kind]
        for name, _ in list(d.find(lab.session, lab.region)):  # type: ignore[misc]
            d.delete(lab.session, lab.region, name)
            d.delete(lab.session, lab.region, name)  # idempotent
        assert list(d.find(lab.session, lab.region)) == [], kind  # type: ignore[misc]


def test_teardown_removes_what_the_run_created(lab: Any, tmp_path: Path) -> None:
    from mllab.offline.agentcore import images
    from mllab.teardown import teardown_run

    lab.client("lambda").create_function(
        FunctionName="tool2", Runtime="python3.12", Role=lab.role_arn, Handler="lambda_function.h",
        Code={"ZipFile": zip_source("def h(e, c):\n    return 1\n")},
    )  # fmt: skip
    ctl = lab.client("bedrock-agentcore-control")
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/torn:1"
    images.register(uri, build_context(tmp_path / "torn", PLAIN))
    rt = ctl.create_agent_runtime(
        agentRuntimeName="torn", agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn, networkConfiguration={"networkMode": "PUBLIC"},
    )  # fmt: skip
    ctl.create_agent_runtime_endpoint(agentRuntimeId=rt["agentRuntimeId"], name="prod")
    gw = ctl.create_gateway(name="torn-gw", roleArn=lab.role_arn, authorizerType="NONE")
    ctl.create_gateway_target(
        gatewayIdentifier=gw["gatewayId"], name="t",
        targetConfiguration={"mcp": {"lambda": {"lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:tool2",
                                                "toolSchema": {"inlinePayload": [
            {"name": "one", "description": "returns one", "inputSchema": {"type": "object"}}]}}}},
    )  # fmt: skip
    ctl.create_memory(name="torn_mem", eventExpiryDuration=7)
    done = teardown_run(lab, complete=True)
    kinds = {d["kind"] for d in done if not d["action"].startswith("error")}
    assert {
        "agentcore-runtime",
        "agentcore-gateway",
        "agentcore-memory",
        "lambda-function",
    } <= kinds, done
    assert not any(d["action"].startswith("error") for d in done), done
    assert ctl.list_agent_runtimes()["agentRuntimes"] == []
    assert ctl.list_gateways()["items"] == []
    assert ctl.list_memories()["memories"] == []
    assert lab.client("lambda").list_functions()["Functions"] == []
