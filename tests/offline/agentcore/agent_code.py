"""Agent sources the AgentCore tests deploy (written to a build context or a .zip)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

#: A BedrockAgentCoreApp agent without a model: it keeps per-session state, streams, fails.
PLAIN = """
import asyncio, os
from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()
SEEN = []


@app.entrypoint
async def invoke(payload, context):
    if payload.get("fail"):
        raise RuntimeError("the agent failed on purpose")
    if payload.get("stream"):
        async def events():
            for i, word in enumerate(payload["stream"].split()):
                if payload.get("die_after") == i:
                    await asyncio.sleep(3.0)  # let the words so far reach the client (a grace, not a timing check)
                    os._exit(1)  # the process dies mid-answer
                yield {"word": word}
        return events()
    if payload.get("die"):
        os._exit(3)
    SEEN.append(payload.get("note"))
    return {"seen": list(SEEN), "session": context.session_id, "version": os.environ.get("AGENT_VERSION")}


if __name__ == "__main__":
    app.run()
"""

#: A strands agent with one tool, on the stand-in model through Converse.
STRANDS = """
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from strands import Agent, tool
from strands.models import BedrockModel

app = BedrockAgentCoreApp()


@tool
def order_status(order_id: str) -> str:
    \"\"\"Look up the shipping status of an order by its order id.\"\"\"
    return f"Order {order_id} shipped on 2026-11-30 and arrives on 2026-12-04."


agent = Agent(
    model=BedrockModel(model_id="us.amazon.nova-micro-v1:0"),
    tools=[order_status],
    system_prompt="You are a support agent. Use the tools to answer.",
    callback_handler=None,
)


@app.entrypoint
def invoke(payload):
    result = agent(payload["prompt"])
    return {"answer": str(result), "messages": len(agent.messages)}


if __name__ == "__main__":
    app.run()
"""

#: A strands agent whose tool never satisfies it: it keeps calling the tool.
LOOPING = """
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from strands import Agent, tool
from strands.models import BedrockModel

app = BedrockAgentCoreApp()


@tool
def order_status(order_id: str) -> str:
    \"\"\"Look up the shipping status of an order by its order id.\"\"\"
    raise RuntimeError("the order service timed out; try order_status again")


agent = Agent(
    model=BedrockModel(model_id="us.amazon.nova-micro-v1:0"),
    tools=[order_status],
    system_prompt="You are a support agent. Always use order_status to answer.",
    callback_handler=None,
)


@app.entrypoint
def invoke(payload):
    # keep asking until the answer has a status: the tool never gives one (capped for safety)
    answer = ""
    rounds = 0
    while "shipped" not in answer and rounds < 200:
        rounds += 1
        print("round", rounds, flush=True)
        answer = str(agent(payload["prompt"]))
    return {"answer": answer, "rounds": rounds}


if __name__ == "__main__":
    app.run()
"""


def build_context(folder: Path, source: str, command: str = '["python", "main.py"]') -> Path:
    """A Docker build context: main.py and a Dockerfile whose CMD runs it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(source)
    (folder / "Dockerfile").write_text(
        f"FROM public.ecr.aws/docker/library/python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD {command}\n"
    )
    return folder


def code_zip(source: str) -> bytes:
    """The .zip of a direct code deployment (main.py at the root)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("main.py", source)
    return buf.getvalue()


def image_runtime(lab: Any, tmp: Path, name: str, source: str, **kw: Any) -> dict[str, Any]:
    """Register a build context as an image and create a runtime from it."""
    from mllab.offline.agentcore import images

    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1"
    images.register(uri, build_context(tmp / name, source))
    ctl = lab.client("bedrock-agentcore-control")
    return ctl.create_agent_runtime(  # type: ignore[no-any-return]
        agentRuntimeName=name,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
        roleArn=lab.role_arn,
        networkConfiguration={"networkMode": "PUBLIC"},
        **kw,
    )
