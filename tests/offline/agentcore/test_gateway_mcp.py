"""AgentCore Gateway offline: targets as MCP tools, called with the mcp SDK and by a strands agent."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline.lambda_ import zip_source
from tests.hang import HANG_GUARD_S

ORDERS = """
def handler(event, context):
    if event.get("order_id") == "BROKEN":
        raise ValueError("order service unavailable")
    return {"order": event["order_id"], "status": "shipped", "eta": "2026-12-04",
            "tool": context.client_context.custom["bedrockAgentCoreToolName"]}
"""

TOOL_SCHEMA = [
    {
        "name": "get_order_status",
        "description": "Look up the shipping status of an order by order id",
        "inputSchema": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "the order id"}},
            "required": ["order_id"],
        },
    }
]


def _mcp(url: str, name: str | None = None, args: dict[str, Any] | None = None) -> Any:
    async def go() -> Any:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                if name is None:
                    return [t.name for t in (await session.list_tools()).tools]
                res = await session.call_tool(name, args or {})
                return "".join(getattr(c, "text", "") for c in res.content), bool(res.is_error)

    return asyncio.run(go())


def _gateway_with_lambda(lab: Any) -> tuple[Any, dict[str, Any]]:
    lam = lab.client("lambda")
    arn = lam.create_function(
        FunctionName="orders",
        Runtime="python3.12",
        Role=lab.role_arn,
        Handler="lambda_function.handler",
        Code={"ZipFile": zip_source(ORDERS)},
        Timeout=30,
    )["FunctionArn"]
    ctl = lab.client("bedrock-agentcore-control")
    gw = ctl.create_gateway(
        name="support-tools", roleArn=lab.role_arn, protocolType="MCP", authorizerType="AWS_IAM"
    )
    ctl.create_gateway_target(
        gatewayIdentifier=gw["gatewayId"],
        name="orders",
        targetConfiguration={
            "mcp": {"lambda": {"lambdaArn": arn, "toolSchema": {"inlinePayload": TOOL_SCHEMA}}}
        },
        credentialProviderConfigurations=[{"credentialProviderType": "GATEWAY_IAM_ROLE"}],
    )
    return ctl, gw


def test_lambda_target_is_an_mcp_tool(lab: Any) -> None:
    ctl, gw = _gateway_with_lambda(lab)
    url = ctl.get_gateway(gatewayIdentifier=gw["gatewayId"])["gatewayUrl"]
    assert _mcp(url) == ["orders___get_order_status"]
    before = lab.cost()["spent_usd"]
    text, is_error = _mcp(url, "orders___get_order_status", {"order_id": "A-1"})
    assert not is_error
    assert json.loads(text) == {
        "order": "A-1", "status": "shipped", "eta": "2026-12-04", "tool": "orders___get_order_status",
    }  # fmt: skip
    assert lab.cost()["spent_usd"] > before  # the gateway call was metered
    text, is_error = _mcp(url, "orders___get_order_status", {"order_id": "BROKEN"})
    assert is_error and "order service unavailable" in text
    with pytest.raises(ClientError) as busy:
        ctl.delete_gateway(gatewayIdentifier=gw["gatewayId"])
    assert "delete them first" in busy.value.response["Error"]["Message"]
    (target,) = ctl.list_gateway_targets(gatewayIdentifier=gw["gatewayId"])["items"]
    ctl.delete_gateway_target(gatewayIdentifier=gw["gatewayId"], targetId=target["targetId"])
    assert _mcp(url) == []
    ctl.delete_gateway(gatewayIdentifier=gw["gatewayId"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mcp_server() -> Any:
    """A real MCP server (mcp SDK MCPServer, streamable HTTP) on a free local port."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("weather")

    @server.tool()
    def forecast(city: str) -> str:
        """The weather forecast for a city."""
        return f"Sunny in {city}, 21 C"

    port = _free_port()
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while not web.started:
        assert time.monotonic() < deadline, "hang guard: the test MCP server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/mcp"
    web.should_exit = True
    thread.join(timeout=10)


def test_mcp_server_target_is_proxied(lab: Any, mcp_server: str) -> None:
    ctl = lab.client("bedrock-agentcore-control")
    gw = ctl.create_gateway(
        name="weather-gw", roleArn=lab.role_arn, protocolType="MCP", authorizerType="NONE"
    )
    ctl.create_gateway_target(
        gatewayIdentifier=gw["gatewayId"],
        name="weather",
        targetConfiguration={"mcp": {"mcpServer": {"endpoint": mcp_server}}},
    )
    assert _mcp(gw["gatewayUrl"]) == ["weather___forecast"]
    text, is_error = _mcp(gw["gatewayUrl"], "weather___forecast", {"city": "Oslo"})
    assert (text, is_error) == ("Sunny in Oslo, 21 C", False)
    with pytest.raises(ClientError) as remote:
        ctl.create_gateway_target(
            gatewayIdentifier=gw["gatewayId"],
            name="remote",
            targetConfiguration={"mcp": {"mcpServer": {"endpoint": "https://example.com/mcp"}}},
        )
    assert "this machine" in remote.value.response["Error"]["Message"]


AGENT = """
import os
import boto3
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from strands import Agent
from strands.models import BedrockModel
from strands.tools.mcp import MCPClient

app = BedrockAgentCoreApp()


@app.entrypoint
def invoke(payload):
    control = boto3.client("bedrock-agentcore-control")
    url = control.get_gateway(gatewayIdentifier=os.environ["GATEWAY_ID"])["gatewayUrl"]
    with MCPClient(url=url) as mcp:
        tools = mcp.list_tools_sync()
        agent = Agent(model=BedrockModel(model_id="us.amazon.nova-micro-v1:0"), tools=tools,
                      callback_handler=None)
        result = agent(payload["prompt"])
    return {"answer": str(result), "tools": [t.tool_name for t in tools]}


if __name__ == "__main__":
    app.run()
"""


def test_a_strands_agent_calls_gateway_tools_through_mcp(lab: Any, tmp_path: Path) -> None:
    from tests.offline.agentcore.agent_code import image_runtime

    _, gw = _gateway_with_lambda(lab)
    rt = image_runtime(
        lab, tmp_path, "mcpagent", AGENT, environmentVariables={"GATEWAY_ID": gw["gatewayId"]}
    )
    out = lab.client("bedrock-agentcore").invoke_agent_runtime(
        agentRuntimeArn=rt["agentRuntimeArn"],
        runtimeSessionId="mcp-session-" + "m" * 30,
        payload=json.dumps({"prompt": "What is the status of order 'A-991'?"}).encode(),
    )
    answer = json.loads(out["response"].read())
    assert answer["tools"] == ["orders___get_order_status"]
    assert "A-991" in answer["answer"] and "shipped" in answer["answer"]


@pytest.fixture
def local_api() -> Any:
    """A tiny JSON API on a free local port (the OpenAPI target's server)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            sku = self.path.rsplit("/", 1)[-1].split("?")[0]
            body = json.dumps({"sku": sku, "in_stock": sku != "X0"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_openapi_target_calls_the_api(lab: Any, local_api: str) -> None:
    schema = {
        "openapi": "3.0.0",
        "info": {"title": "stock", "version": "1"},
        "servers": [{"url": local_api}],
        "paths": {
            "/stock/{sku}": {
                "get": {
                    "operationId": "getStock",
                    "description": "Whether a product is in stock",
                    "parameters": [
                        {
                            "name": "sku",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                }
            }
        },
    }
    ctl = lab.client("bedrock-agentcore-control")
    gw = ctl.create_gateway(
        name="stock-gw", roleArn=lab.role_arn, protocolType="MCP", authorizerType="NONE"
    )
    ctl.create_gateway_target(
        gatewayIdentifier=gw["gatewayId"],
        name="stock",
        targetConfiguration={"mcp": {"openApiSchema": {"inlinePayload": json.dumps(schema)}}},
    )
    assert _mcp(gw["gatewayUrl"]) == ["stock___getStock"]
    text, is_error = _mcp(gw["gatewayUrl"], "stock___getStock", {"sku": "A7"})
    assert not is_error and json.loads(text) == {"sku": "A7", "in_stock": True}
