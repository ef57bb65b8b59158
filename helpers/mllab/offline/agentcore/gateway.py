"""Offline AgentCore Gateway: targets exposed as MCP tools over streamable HTTP (lab 06).

``CreateGateway`` starts a real MCP server (the ``mcp`` SDK's low-level ``Server``, streamable
HTTP, stateless, on a free local port); ``gatewayUrl`` is its address
(``http://127.0.0.1:<port>/mcp`` offline, ``https://<id>.gateway.bedrock-agentcore.<region>
.amazonaws.com/mcp`` on AWS), so an agent that reads ``gatewayUrl`` from ``GetGateway`` and
connects with an MCP client (strands ``MCPClient(url=...)``) runs
unchanged. Tools are named ``<target>___<tool>`` as AgentCore names them. Targets:

* **Lambda** (``mcp.lambda``: ``lambdaArn`` + ``toolSchema.inlinePayload``): ``tools/call``
  invokes the function for real (:mod:`mllab.offline.lambda_`) with the arguments as the event
  and ``context.client_context.custom["bedrockAgentCoreToolName"]`` = the tool's full name, as
  AgentCore does; a function error comes back as an MCP tool error (``isError``).
* **OpenAPI** (``mcp.openApiSchema.inlinePayload``, JSON): one tool per ``operationId``; the
  call is an HTTP request to the schema's server, which offline must be on this machine
  (``127.0.0.1``/``localhost``): nothing leaves the machine.
* **MCP server** (``mcp.mcpServer.endpoint``): the gateway lists the server's tools and
  forwards calls to it (an MCP client inside the gateway); offline the endpoint must be local.

Each ``tools/call`` is priced at the snapshot's per-call rate and written to the lab's
ledger (AgentCore bills gateway calls; the guard cannot see MCP traffic, so the gateway
records it as the service's meter would).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.agentcore import store
from mllab.offline.registry import AwsError, OfflineCall, handles

CONTROL = "bedrock-agentcore-control"
SEP = "___"


@dataclass
class Target:
    """One gateway target."""

    id: str
    name: str
    description: str
    config: dict[str, Any]
    created: float
    tools: list[dict[str, Any]] = field(default_factory=list)

    def describe(self, gateway_arn: str) -> dict[str, Any]:
        return {
            "gatewayArn": gateway_arn,
            "targetId": self.id,
            "createdAt": store.clock_dt(self.created),
            "updatedAt": store.clock_dt(self.created),
            "status": "READY",
            "name": self.name,
            "description": self.description,
            "targetConfiguration": self.config,
            "credentialProviderConfigurations": [{"credentialProviderType": "GATEWAY_IAM_ROLE"}],
        }


@dataclass
class Gateway:
    """A gateway: its MCP server and targets."""

    id: str
    arn: str
    name: str
    account_id: str
    region: str
    params: dict[str, Any]
    port: int
    created: float
    targets: dict[str, Target] = field(default_factory=dict)
    server: Any = None
    calls: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def describe(self) -> dict[str, Any]:
        p = self.params
        return {
            "gatewayArn": self.arn,
            "gatewayId": self.id,
            "gatewayUrl": self.url,
            "createdAt": store.clock_dt(self.created),
            "updatedAt": store.clock_dt(self.created),
            "status": "READY",
            "name": self.name,
            "description": p.get("description", ""),
            "roleArn": p.get("roleArn"),
            "protocolType": p.get("protocolType", "MCP"),
            "authorizerType": p.get("authorizerType"),
            **({"protocolConfiguration": p["protocolConfiguration"]} if p.get("protocolConfiguration") else {}),
            **({"authorizerConfiguration": p["authorizerConfiguration"]} if p.get("authorizerConfiguration") else {}),
        }  # fmt: skip

    def tools(self) -> list[dict[str, Any]]:
        out = []
        for t in self.targets.values():
            for tool in t.tools:
                out.append({**tool, "name": f"{t.name}{SEP}{tool['name']}", "_target": t})
        return out


# --------------------------------------------------------------------------- targets


def _local(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise AwsError(
            "ValidationException",
            f"Offline, a gateway target must be served on this machine (127.0.0.1 or "
            f"localhost); {url} would leave it. Run the server locally, or use a sandbox account.",
        )


def _openapi_tools(schema: dict[str, Any]) -> list[dict[str, Any]]:
    tools = []
    for path, ops in (schema.get("paths") or {}).items():
        for method, op in ops.items():
            if not isinstance(op, dict) or not op.get("operationId"):
                continue
            props: dict[str, Any] = {}
            required: list[str] = []
            for prm in op.get("parameters") or []:
                props[prm["name"]] = dict(prm.get("schema") or {"type": "string"})
                if prm.get("description"):
                    props[prm["name"]]["description"] = prm["description"]
                if prm.get("required"):
                    required.append(prm["name"])
            body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
            if body and (body.get("schema") or {}).get("properties"):
                props.update(body["schema"]["properties"])
                required += list(body["schema"].get("required") or [])
            tools.append(
                {
                    "name": op["operationId"],
                    "description": op.get("description") or op.get("summary") or op["operationId"],
                    "inputSchema": {"type": "object", "properties": props, "required": required},
                    "_http": {
                        "method": method.upper(),
                        "path": path,
                        "params": op.get("parameters") or [],
                    },
                }
            )
    return tools


def _mcp_list(endpoint: str) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async with streamable_http_client(endpoint) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                return [
                    {
                        "name": t.name,
                        "description": t.description or "",
                        "inputSchema": t.input_schema,
                    }
                    for t in listed.tools
                ]

    return asyncio.run(go())


def _mcp_call(endpoint: str, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
    async def go() -> tuple[str, bool]:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async with streamable_http_client(endpoint) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                res = await session.call_tool(name, arguments)
                text = "".join(getattr(c, "text", "") for c in res.content)
                return text, bool(res.is_error)

    return asyncio.run(go())


def _tools_of(call: OfflineCall, config: dict[str, Any]) -> list[dict[str, Any]]:
    mcp = config.get("mcp") or {}
    if "lambda" in mcp:
        spec = mcp["lambda"]
        from mllab.offline.lambda_ import service as lambda_service

        lambda_service.spec_of(call.account_id, call.region, spec["lambdaArn"])
        payload = (spec.get("toolSchema") or {}).get("inlinePayload")
        if not payload:
            raise AwsError(
                "ValidationException", "A Lambda target needs toolSchema.inlinePayload offline"
            )
        return [dict(t) for t in payload]
    if "openApiSchema" in mcp:
        raw = (mcp["openApiSchema"] or {}).get("inlinePayload")
        if not raw:
            raise AwsError(
                "ValidationException", "An OpenAPI target needs openApiSchema.inlinePayload offline"
            )
        try:
            schema = json.loads(raw)
        except ValueError:
            raise AwsError(
                "ValidationException", "The OpenAPI schema is not valid JSON (offline: JSON only)"
            ) from None
        servers = schema.get("servers") or []
        if not servers:
            raise AwsError("ValidationException", "The OpenAPI schema names no servers[].url")
        _local(servers[0]["url"])
        return _openapi_tools(schema)
    if "mcpServer" in mcp:
        endpoint = mcp["mcpServer"]["endpoint"]
        _local(endpoint)
        try:
            return _mcp_list(endpoint)
        except Exception as err:  # noqa: BLE001 - the server is not reachable
            raise AwsError(
                "ValidationException",
                f"Could not list the tools of the MCP server {endpoint}: {err}",
            ) from None
    raise AwsError(
        "ValidationException",
        "Offline, a gateway target is mcp.lambda, mcp.openApiSchema or mcp.mcpServer",
    )


def _record_call(gw: Gateway, tool: str) -> None:
    """Write the gateway call's price to the active lab's ledger (as AgentCore meters it)."""
    try:
        from mllab import hooks
        from mllab.guard.declarations.lambda_ import prices

        lab = hooks.active()
        if lab is None:
            return
        usd = float(prices()["agentcore"]["gateway_usd_per_1000_tool_calls"]) / 1000.0
        lab.guard.ledger.record(
            lab=lab.guard.lab,
            run=lab.guard.run,
            backend=lab.guard.backend,
            region=gw.region,
            service="bedrock-agentcore",
            operation="GatewayToolCall",
            resource=f"{gw.id}/{tool}",
            arn=gw.arn,
            estimate_usd=usd,
            hourly_usd=None,
            detail={"basis": "per tool call through the gateway", "tool": tool},
        )
    except Exception:  # noqa: BLE001 - metering must not fail a tool call
        pass


def call_tool(gw: Gateway, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
    """Run one tool of a gateway; returns (text, is_error)."""
    tool = next((t for t in gw.tools() if t["name"] == name), None)
    if tool is None:
        return f"Unknown tool: {name}", True
    gw.calls += 1
    _record_call(gw, name)
    target: Target = tool["_target"]
    mcp = target.config.get("mcp") or {}
    if "lambda" in mcp:
        from mllab.offline.lambda_ import service as lambda_service

        out = lambda_service.run(
            gw.account_id,
            gw.region,
            mcp["lambda"]["lambdaArn"],
            arguments,
            client_context={
                "custom": {
                    "bedrockAgentCoreToolName": name,
                    "bedrockAgentCoreGatewayId": gw.id,
                    "bedrockAgentCoreTargetId": target.id,
                }
            },
        )
        text = out.payload.decode("utf-8", errors="replace")
        return text, out.function_error is not None
    if "openApiSchema" in mcp:
        schema = json.loads(mcp["openApiSchema"]["inlinePayload"])
        base = schema["servers"][0]["url"].rstrip("/")
        http = tool["_http"]
        path, query = http["path"], {}
        body_args = dict(arguments)
        for prm in http["params"]:
            if prm["name"] not in arguments:
                continue
            value = body_args.pop(prm["name"])
            if prm.get("in") == "path":
                path = path.replace("{" + prm["name"] + "}", urllib.parse.quote(str(value)))
            elif prm.get("in") == "query":
                query[prm["name"]] = value
        url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = (
            json.dumps(body_args).encode() if http["method"] in ("POST", "PUT", "PATCH") else None
        )
        req = urllib.request.Request(url, data=data, method=http["method"])  # noqa: S310 - local only
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
                return resp.read().decode("utf-8", errors="replace"), False
        except urllib.error.HTTPError as err:
            return f"HTTP {err.code}: {err.read().decode('utf-8', errors='replace')}", True
        except OSError as err:
            return f"The API did not answer: {err}", True
    endpoint = mcp["mcpServer"]["endpoint"]
    return _mcp_call(endpoint, name.split(SEP, 1)[1], arguments)


# --------------------------------------------------------------------------- the MCP server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(gw: Gateway) -> None:
    import anyio
    import mcp_types as types
    import uvicorn
    from mcp.server.lowlevel import Server

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t["name"],
                    description=t.get("description") or "",
                    input_schema=t.get("inputSchema") or {"type": "object"},
                )
                for t in gw.tools()
            ]
        )

    async def call(ctx: Any, params: Any) -> Any:
        text, is_error = await anyio.to_thread.run_sync(
            call_tool, gw, params.name, dict(params.arguments or {})
        )
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=is_error)

    server = Server(gw.name, on_list_tools=list_tools, on_call_tool=call)
    app = server.streamable_http_app(stateless_http=True, json_response=True, host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=gw.port, log_level="warning", lifespan="on")
    gw.server = uvicorn.Server(config)
    gw.server.run()


def _start(gw: Gateway) -> None:
    threading.Thread(target=_serve, args=(gw,), daemon=True, name=f"mllab-gateway-{gw.id}").start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if gw.server is not None and getattr(gw.server, "started", False):
            return
        time.sleep(0.02)
    raise AwsError("InternalServerException", "The gateway's MCP server did not start", 500)


def _stop(gw: Gateway) -> None:
    if gw.server is not None:
        gw.server.should_exit = True


# --------------------------------------------------------------------------- handlers


def _gateway(call: OfflineCall) -> Gateway:
    gid = str(call.params.get("gatewayIdentifier", ""))
    gid = gid.rsplit("/", 1)[-1]
    with store.LOCK:
        gw = store.STATE.gateways.get((call.account_id, call.region, gid))
    if gw is None:
        raise AwsError("ResourceNotFoundException", f"Gateway {gid} not found", 404)
    return gw  # type: ignore[no-any-return]


@handles(CONTROL, "CreateGateway")
def create_gateway(call: OfflineCall) -> dict[str, Any]:
    """Create a gateway and start its MCP server (billed per call, nothing idle)."""
    p = call.params
    name = str(p.get("name", ""))
    import re

    if not re.match(r"^([0-9a-zA-Z][-]?){1,100}$", name):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ([0-9a-zA-Z][-]?){1,100}",
        )
    if p.get("protocolType", "MCP") != "MCP":
        raise AwsError("ValidationException", "protocolType must be MCP")
    gid = f"{name.lower()}-{store.suffix().lower()}"
    gw = Gateway(
        id=gid,
        arn=f"arn:aws:bedrock-agentcore:{call.region}:{call.account_id}:gateway/{gid}",
        name=name,
        account_id=call.account_id,
        region=call.region,
        params=dict(p),
        port=_free_port(),
        created=store.now(),
    )
    _start(gw)
    with store.LOCK:
        store.STATE.gateways[(call.account_id, call.region, gid)] = gw
    store.set_tags(gw.arn, p.get("tags"))
    return gw.describe()


@handles(CONTROL, "GetGateway")
def get_gateway(call: OfflineCall) -> dict[str, Any]:
    """Describe a gateway (its gatewayUrl is the MCP endpoint)."""
    return _gateway(call).describe()


@handles(CONTROL, "ListGateways")
def list_gateways(call: OfflineCall) -> dict[str, Any]:
    """Every gateway of the account and region."""
    with store.LOCK:
        gws = [
            g
            for (a, r, _), g in store.STATE.gateways.items()
            if a == call.account_id and r == call.region
        ]
    items = []
    for g in gws:
        d = g.describe()
        items.append({k: d[k] for k in ("gatewayId", "name", "status", "description", "createdAt",
                                         "updatedAt", "authorizerType", "protocolType")})  # fmt: skip
    return {"items": items}


@handles(CONTROL, "DeleteGateway")
def delete_gateway(call: OfflineCall) -> dict[str, Any]:
    """Delete a gateway (AWS requires its targets to be deleted first)."""
    gw = _gateway(call)
    if gw.targets:
        raise AwsError(
            "ValidationException",
            f"Gateway {gw.id} still has {len(gw.targets)} target(s); delete them first",
        )
    with store.LOCK:
        store.STATE.gateways.pop((gw.account_id, gw.region, gw.id), None)
    _stop(gw)
    return {"gatewayId": gw.id, "status": "DELETING"}


@handles(CONTROL, "CreateGatewayTarget")
def create_gateway_target(call: OfflineCall) -> dict[str, Any]:
    """Add a target; its tools are listed by the gateway's MCP server at once."""
    gw = _gateway(call)
    p = call.params
    name = str(p.get("name") or f"target-{store.suffix(6).lower()}")
    config = dict(p.get("targetConfiguration") or {})
    tools = _tools_of(call, config)
    tid = store.suffix().upper()
    t = Target(tid, name, str(p.get("description") or ""), config, store.now(), tools)
    with store.LOCK:
        if any(x.name == name for x in gw.targets.values()):
            raise AwsError("ConflictException", f"Target {name} already exists in {gw.id}", 409)
        gw.targets[tid] = t
    return t.describe(gw.arn)


def _target(gw: Gateway, call: OfflineCall) -> Target:
    tid = str(call.params.get("targetId", ""))
    t = gw.targets.get(tid)
    if t is None:
        raise AwsError("ResourceNotFoundException", f"Target {tid} not found in {gw.id}", 404)
    return t


@handles(CONTROL, "GetGatewayTarget")
def get_gateway_target(call: OfflineCall) -> dict[str, Any]:
    """Describe one target."""
    gw = _gateway(call)
    return _target(gw, call).describe(gw.arn)


@handles(CONTROL, "ListGatewayTargets")
def list_gateway_targets(call: OfflineCall) -> dict[str, Any]:
    """Every target of a gateway."""
    gw = _gateway(call)
    return {
        "items": [
            {
                "targetId": t.id,
                "name": t.name,
                "status": "READY",
                "description": t.description,
                "createdAt": store.clock_dt(t.created),
                "updatedAt": store.clock_dt(t.created),
            }
            for t in gw.targets.values()
        ]
    }


@handles(CONTROL, "DeleteGatewayTarget")
def delete_gateway_target(call: OfflineCall) -> dict[str, Any]:
    """Remove a target (its tools leave the gateway)."""
    gw = _gateway(call)
    t = _target(gw, call)
    with store.LOCK:
        gw.targets.pop(t.id, None)
    return {"gatewayArn": gw.arn, "targetId": t.id, "status": "DELETING"}


@handles(CONTROL, "SynchronizeGatewayTargets")
def synchronize_gateway_targets(call: OfflineCall) -> dict[str, Any]:
    """Re-list the tools of MCP-server targets."""
    gw = _gateway(call)
    out = []
    for tid in call.params.get("targetIdList") or list(gw.targets):
        t = gw.targets.get(tid)
        if t is None:
            continue
        t.tools = _tools_of(call, t.config)
        out.append(t.describe(gw.arn))
    return {"targets": out}


def stop_all() -> None:
    """Stop every gateway's server (offline account reset)."""
    with store.LOCK:
        gws = list(store.STATE.gateways.values())
    for gw in gws:
        with contextlib.suppress(Exception):
            _stop(gw)


from mllab.offline.registry import on_reset  # noqa: E402

on_reset(stop_all)
