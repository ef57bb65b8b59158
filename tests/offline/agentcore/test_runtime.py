"""InvokeAgentRuntime offline: each session its own process under the HTTP contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from mllab.offline import clock
from tests.offline.agentcore.agent_code import PLAIN, STRANDS, image_runtime

S1 = "session-one-" + "a" * 30
S2 = "session-two-" + "b" * 30


def _invoke(
    dp: Any, arn: str, session: str, payload: dict[str, Any], **kw: Any
) -> tuple[dict[str, Any], bytes]:
    out = dp.invoke_agent_runtime(
        agentRuntimeArn=arn, runtimeSessionId=session, payload=json.dumps(payload).encode(), **kw
    )
    return out, out["response"].read()


def test_sessions_are_isolated_keep_state_and_end_when_idle(lab: Any, tmp_path: Path) -> None:
    rt = image_runtime(
        lab,
        tmp_path,
        "plain",
        PLAIN,
        lifecycleConfiguration={"idleRuntimeSessionTimeout": 60, "maxLifetime": 3600},
    )
    dp = lab.client("bedrock-agentcore")
    arn = rt["agentRuntimeArn"]
    out, body = _invoke(dp, arn, S1, {"note": "a"})
    assert out["runtimeSessionId"] == S1 and out["statusCode"] == 200
    assert json.loads(body) == {"seen": ["a"], "session": S1, "version": None}
    _, body = _invoke(dp, arn, S1, {"note": "b"})
    assert json.loads(body)["seen"] == ["a", "b"]  # state kept in the session
    _, body = _invoke(dp, arn, S2, {"note": "c"})
    assert json.loads(body)["seen"] == ["c"]  # another session shares nothing
    clock.advance(61)  # idle past idleRuntimeSessionTimeout on the lab clock
    _, body = _invoke(dp, arn, S1, {"note": "d"})
    assert json.loads(body)["seen"] == ["d"]  # a fresh session


def test_streaming_errors_and_logs(lab: Any, tmp_path: Path) -> None:
    rt = image_runtime(lab, tmp_path, "plain2", PLAIN)
    dp = lab.client("bedrock-agentcore")
    arn = rt["agentRuntimeArn"]
    out = dp.invoke_agent_runtime(
        agentRuntimeArn=arn,
        runtimeSessionId=S1,
        payload=json.dumps({"stream": "one two three"}).encode(),
    )
    assert out["contentType"].startswith("text/event-stream")
    lines = [ln.decode() for ln in out["response"].iter_lines() if ln]
    assert [json.loads(ln[len("data: ") :])["word"] for ln in lines] == ["one", "two", "three"]
    with pytest.raises(ClientError) as err:
        _invoke(dp, arn, S1, {"fail": True})
    assert err.value.response["Error"]["Code"] == "RuntimeClientError"
    assert "Received error (500) from runtime" in err.value.response["Error"]["Message"]
    with pytest.raises(ParamValidationError, match="valid min length: 33"):
        _invoke(dp, arn, "too-short", {"note": "x"})  # botocore checks AWS's minimum length
    logs = lab.client("logs")
    group = f"/aws/bedrock-agentcore/runtimes/{rt['agentRuntimeId']}-DEFAULT"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert any(S1 in s["logStreamName"] for s in streams)
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert any("the agent failed on purpose" in m for m in messages)


def test_endpoint_pins_a_version(lab: Any, tmp_path: Path) -> None:
    from mllab.offline.agentcore import images

    rt = image_runtime(lab, tmp_path, "pinned", PLAIN)
    ctl = lab.client("bedrock-agentcore-control")
    rid, arn = rt["agentRuntimeId"], rt["agentRuntimeArn"]
    ctl.create_agent_runtime_endpoint(agentRuntimeId=rid, name="prod")
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pinned:1"
    assert uri in images._IMAGES
    ctl.update_agent_runtime(
        agentRuntimeId=rid,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
        environmentVariables={"AGENT_VERSION": "two"},
    )
    dp = lab.client("bedrock-agentcore")
    _, default = _invoke(dp, arn, S1, {"note": "x"})
    _, prod = _invoke(dp, arn, S2, {"note": "y"}, qualifier="prod")
    assert json.loads(default)["version"] == "two"
    assert json.loads(prod)["version"] is None


def test_strands_agent_runs_unchanged_with_tools_and_spans(lab: Any, tmp_path: Path) -> None:
    from mllab import agents

    rt = image_runtime(lab, tmp_path, "support", STRANDS)
    dp = lab.client("bedrock-agentcore")
    _, body = _invoke(dp, rt["agentRuntimeArn"], S1, {"prompt": "Where is my order A-1234?"})
    answer = json.loads(body)
    assert "A-1234" in answer["answer"] and "2026-12-04" in answer["answer"]
    spans = agents.spans(lab.session, session_id=S1)
    ops = [s["attributes"].get("gen_ai.operation.name") for s in spans]
    assert "invoke_agent" in ops and "chat" in ops and "execute_tool" in ops
    chat = next(s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat")
    assert chat["attributes"]["gen_ai.request.model"] == "us.amazon.nova-micro-v1:0"
    assert chat["attributes"]["gen_ai.usage.input_tokens"] > 0
    tool = next(s for s in spans if s["attributes"].get("gen_ai.operation.name") == "execute_tool")
    assert tool["attributes"]["gen_ai.tool.name"] == "order_status"
    assert tool["attributes"]["gen_ai.tool.status"] == "success"
    found = agents.diagnose(spans)
    assert found.findings == [], str(found)
    assert found.tool_calls == {"order_status": 1}
    # the Converse calls were priced by the guard: the ledger has them
    assert lab.cost()["spent_usd"] > 0


def test_code_artifact_in_s3(lab: Any) -> None:
    from tests.offline.agentcore.agent_code import code_zip

    lab.client("s3").put_object(Bucket=lab.bucket, Key="agents/plain.zip", Body=code_zip(PLAIN))
    ctl = lab.client("bedrock-agentcore-control")
    artifact = {
        "codeConfiguration": {
            "code": {"s3": {"bucket": lab.bucket, "prefix": "agents/plain.zip"}},
            "runtime": "PYTHON_3_12",
            "entryPoint": ["opentelemetry-instrument", "main.py"],
        }
    }
    rt = ctl.create_agent_runtime(
        agentRuntimeName="fromzip",
        agentRuntimeArtifact=artifact,
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    _, body = _invoke(lab.client("bedrock-agentcore"), rt["agentRuntimeArn"], S1, {"note": "z"})
    assert json.loads(body)["seen"] == ["z"]
    # An entry point the .zip lacks is accepted and fails the version (CREATE_FAILED with a
    # failureReason), as AgentCore reports it: tests/offline/agentcore/test_code_artifact.py.
    missing = dict(artifact)
    missing["codeConfiguration"] = {**artifact["codeConfiguration"], "entryPoint": ["other.py"]}
    wrong = ctl.create_agent_runtime(
        agentRuntimeName="wrongentry",
        agentRuntimeArtifact=missing,
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    got = ctl.get_agent_runtime(agentRuntimeId=wrong["agentRuntimeId"])
    assert got["status"] == "CREATE_FAILED" and "other.py" in got["failureReason"]


def test_a_stream_cut_mid_answer_is_returned_and_flagged(lab: Any, tmp_path: Path) -> None:
    from mllab import agents

    rt = image_runtime(lab, tmp_path, "cut", PLAIN)
    dp = lab.client("bedrock-agentcore")
    session = "cut-session-" + "c" * 30
    out = dp.invoke_agent_runtime(
        agentRuntimeArn=rt["agentRuntimeArn"],
        runtimeSessionId=session,
        payload=json.dumps({"stream": "alpha beta gamma delta", "die_after": 2}).encode(),
    )
    words = [
        json.loads(ln.decode()[len("data: ") :])["word"]
        for ln in out["response"].iter_lines()
        if ln
    ]
    assert words == ["alpha", "beta"]  # as far as it got
    found = agents.diagnose(agents.spans(lab.session, session_id=session))
    assert "truncated_stream" in found.kinds()
    # a whole stream is not flagged
    whole = "whole-session-" + "w" * 30
    dp.invoke_agent_runtime(
        agentRuntimeArn=rt["agentRuntimeArn"],
        runtimeSessionId=whole,
        payload=json.dumps({"stream": "alpha beta"}).encode(),
    )["response"].read()
    assert (
        "truncated_stream"
        not in agents.diagnose(agents.spans(lab.session, session_id=whole)).kinds()
    )
    cw = lab.client("cloudwatch")
    metrics = cw.list_metrics(Namespace="AWS/Bedrock-AgentCore", MetricName="Invocations")[
        "Metrics"
    ]
    assert any(d["Value"] == rt["agentRuntimeArn"] for m in metrics for d in m["Dimensions"])
