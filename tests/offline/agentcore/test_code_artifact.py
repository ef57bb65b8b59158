"""A code artifact whose entry point names no file of the .zip: CREATE_FAILED, then repaired.

AgentCore accepts the request and the runtime fails (status ``CREATE_FAILED`` or
``UPDATE_FAILED`` with a ``failureReason``); an update naming the right file makes a READY
version that answers (lab 06's drill).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.offline.agentcore.agent_code import PLAIN, code_zip


def _artifact(lab: Any, entry: str) -> dict[str, Any]:
    return {
        "codeConfiguration": {
            "code": {"s3": {"bucket": lab.bucket, "prefix": "agents/faq.zip"}},
            "runtime": "PYTHON_3_12",
            "entryPoint": [entry],
        }
    }


def test_a_missing_entry_point_fails_the_version_and_an_update_repairs_it(lab: Any) -> None:
    lab.client("s3").put_object(Bucket=lab.bucket, Key="agents/faq.zip", Body=code_zip(PLAIN))
    ctl = lab.client("bedrock-agentcore-control")
    made = ctl.create_agent_runtime(
        agentRuntimeName="faq",
        agentRuntimeArtifact=_artifact(lab, "app.py"),
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    assert made["status"] == "CREATING"
    got = ctl.get_agent_runtime(agentRuntimeId=made["agentRuntimeId"])
    assert got["status"] == "CREATE_FAILED"
    assert "app.py" in got["failureReason"] and "main.py" in got["failureReason"]
    dp = lab.client("bedrock-agentcore")
    with pytest.raises(ClientError) as refused:
        dp.invoke_agent_runtime(
            agentRuntimeArn=made["agentRuntimeArn"],
            runtimeSessionId="faq-session-" + "f" * 30,
            payload=b"{}",
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "CREATE_FAILED" in refused.value.response["Error"]["Message"]
    bad_update = ctl.update_agent_runtime(
        agentRuntimeId=made["agentRuntimeId"],
        agentRuntimeArtifact=_artifact(lab, "server.py"),
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    assert bad_update["status"] == "UPDATING"
    assert ctl.get_agent_runtime(agentRuntimeId=made["agentRuntimeId"])["status"] == "UPDATE_FAILED"
    fixed = ctl.update_agent_runtime(
        agentRuntimeId=made["agentRuntimeId"],
        agentRuntimeArtifact=_artifact(lab, "main.py"),
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    assert fixed["agentRuntimeVersion"] == "3" and fixed["status"] == "READY"
    now = ctl.get_agent_runtime(agentRuntimeId=made["agentRuntimeId"])
    assert now["status"] == "READY" and "failureReason" not in now
    out = dp.invoke_agent_runtime(
        agentRuntimeArn=made["agentRuntimeArn"],
        runtimeSessionId="faq-session-" + "f" * 30,
        payload=json.dumps({"note": "hello"}).encode(),
    )
    assert json.loads(out["response"].read())["seen"] == ["hello"]


def test_a_missing_object_is_still_refused_at_once(lab: Any) -> None:
    ctl = lab.client("bedrock-agentcore-control")
    with pytest.raises(ClientError) as err:
        ctl.create_agent_runtime(
            agentRuntimeName="nozip",
            agentRuntimeArtifact=_artifact(lab, "main.py"),
            roleArn=lab.role_arn,
            networkConfiguration={"networkMode": "PUBLIC"},
        )
    assert "upload the .zip first" in err.value.response["Error"]["Message"]
