"""AgentCore control plane offline: versions, DEFAULT and named endpoints, rollout and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.offline.agentcore.agent_code import PLAIN, build_context


def _runtime(lab: Any, tmp_path: Path, name: str = "shop") -> tuple[Any, dict[str, Any], str]:
    from mllab.offline.agentcore import images

    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1"
    images.register(uri, build_context(tmp_path / name, PLAIN))
    ctl = lab.client("bedrock-agentcore-control")
    rt = ctl.create_agent_runtime(
        agentRuntimeName=name,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    return ctl, rt, uri


def test_create_makes_version_one_and_default(lab: Any, tmp_path: Path) -> None:
    ctl, rt, _ = _runtime(lab, tmp_path)
    assert rt["agentRuntimeVersion"] == "1"
    assert rt["status"] == "READY"
    assert (
        rt["agentRuntimeId"].startswith("shop-") and len(rt["agentRuntimeId"]) == len("shop-") + 10
    )
    eps = ctl.list_agent_runtime_endpoints(agentRuntimeId=rt["agentRuntimeId"])["runtimeEndpoints"]
    assert [(e["name"], e["liveVersion"]) for e in eps] == [("DEFAULT", "1")]
    got = ctl.get_agent_runtime(agentRuntimeId=rt["agentRuntimeId"])
    assert got["agentRuntimeName"] == "shop"
    assert got["lifecycleConfiguration"]["idleRuntimeSessionTimeout"] == 900


def test_update_rollout_and_rollback(lab: Any, tmp_path: Path) -> None:
    ctl, rt, uri = _runtime(lab, tmp_path)
    rid = rt["agentRuntimeId"]
    prod = ctl.create_agent_runtime_endpoint(agentRuntimeId=rid, name="prod")
    assert prod["targetVersion"] == "1"
    v2 = ctl.update_agent_runtime(
        agentRuntimeId=rid,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
        environmentVariables={"AGENT_VERSION": "two"},
    )
    assert v2["agentRuntimeVersion"] == "2"
    live = {
        e["name"]: e["liveVersion"]
        for e in ctl.list_agent_runtime_endpoints(agentRuntimeId=rid)["runtimeEndpoints"]
    }
    assert live == {"DEFAULT": "2", "prod": "1"}  # DEFAULT follows, prod stays pinned
    ctl.update_agent_runtime_endpoint(
        agentRuntimeId=rid, endpointName="prod", agentRuntimeVersion="2"
    )
    assert (
        ctl.get_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="prod")["liveVersion"]
        == "2"
    )
    ctl.update_agent_runtime_endpoint(
        agentRuntimeId=rid, endpointName="prod", agentRuntimeVersion="1"
    )
    assert (
        ctl.get_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="prod")["liveVersion"]
        == "1"
    )
    versions = ctl.list_agent_runtime_versions(agentRuntimeId=rid)["agentRuntimes"]
    assert [v["agentRuntimeVersion"] for v in versions] == ["2", "1"]
    assert (
        ctl.get_agent_runtime(agentRuntimeId=rid, agentRuntimeVersion="1").get(
            "environmentVariables"
        )
        is None
    )
    with pytest.raises(ClientError) as bad:
        ctl.update_agent_runtime_endpoint(
            agentRuntimeId=rid, endpointName="prod", agentRuntimeVersion="7"
        )
    assert bad.value.response["Error"]["Code"] == "ValidationException"


def test_errors_in_aws_words(lab: Any, tmp_path: Path) -> None:
    ctl = lab.client("bedrock-agentcore-control")
    with pytest.raises(ClientError) as name:
        ctl.create_agent_runtime(
            agentRuntimeName="bad-name",
            agentRuntimeArtifact={"containerConfiguration": {"containerUri": "x"}},
            roleArn=lab.role_arn,
            networkConfiguration={"networkMode": "PUBLIC"},
        )
    assert "[a-zA-Z][a-zA-Z0-9_]{0,47}" in name.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as image:
        ctl.create_agent_runtime(
            agentRuntimeName="unresolved",
            agentRuntimeArtifact={
                "containerConfiguration": {
                    "containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/none:1"
                }
            },
            roleArn=lab.role_arn,
            networkConfiguration={"networkMode": "PUBLIC"},
        )
    assert "images.register" in image.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        ctl.get_agent_runtime(agentRuntimeId="nothere-abcdefghij")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    ctl2, rt, _ = _runtime(lab, tmp_path, "solo")
    with pytest.raises(ClientError) as default:
        ctl2.delete_agent_runtime_endpoint(
            agentRuntimeId=rt["agentRuntimeId"], endpointName="DEFAULT"
        )
    assert default.value.response["Error"]["Code"] == "ValidationException"


def test_image_command_resolution() -> None:
    from mllab.offline.agentcore.images import _command

    assert _command(["opentelemetry-instrument", "python", "main.py"]) == (None, "main.py", ())
    assert _command(["python", "-m", "agent.app", "--x"]) == ("agent.app", None, ("--x",))
    assert _command(["uv", "run", "app.py"]) == (None, "app.py", ())
