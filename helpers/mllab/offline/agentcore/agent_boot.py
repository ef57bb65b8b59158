"""The start of an offline AgentCore session: the agent's process (lab 06).

Started by path by :mod:`mllab.offline.agentcore.runtime` in the session's own folder, as
the AgentCore microVM starts the agent's command. Before the agent's code runs it:

1. routes botocore to the lab's call bridge (:mod:`mllab.offline.lambda_.bridge_client`), so
   the agent's Converse calls (strands ``BedrockModel``), memory calls and any other AWS call
   are answered by the offline account through the cost guard;
2. installs an OpenTelemetry tracer provider whose exporter appends each finished span as one
   JSON line to ``$MLLAB_AGENT_SPANS`` (strands emits spans under the GenAI semantic
   conventions; the runtime writes them to CloudWatch Logs as AgentCore Observability does);
3. makes ``BedrockAgentCoreApp.run()`` serve on ``$PORT`` instead of the contract's 8080: the
   SDK takes the port as ``run(port=...)``, and this is the offline equivalent of the
   container's port mapping (a call that names another port explicitly keeps it);

then runs the entry point as ``__main__`` (``python app.py`` / ``python -m pkg``).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import runpy
import sys
import threading
from typing import Any

CONTRACT_PORT = 8080


#: The bridge client beside the Lambda runtime, loaded by path (no ``mllab`` import here).
BRIDGE_CLIENT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lambda_", "bridge_client.py"
)


def _bridge_client() -> Any:
    """Load the bridge client module by path (once)."""
    if "mllab_bridge_client" in sys.modules:
        return sys.modules["mllab_bridge_client"]
    path = os.environ.get("MLLAB_BRIDGE_CLIENT") or BRIDGE_CLIENT
    spec = importlib.util.spec_from_file_location("mllab_bridge_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mllab_bridge_client"] = module
    spec.loader.exec_module(module)
    return module


def _load_bridge() -> None:
    if os.environ.get("MLLAB_BRIDGE_CLIENT"):
        _bridge_client().install()


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def _install_tracing() -> None:
    found = os.environ.get("MLLAB_AGENT_SPANS")
    if not found:
        return
    path: str = found
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        return
    lock = threading.Lock()

    class JsonLines(SpanExporter):  # type: ignore[misc]
        def export(self, spans: Any) -> Any:
            with lock, open(path, "a", encoding="utf-8") as fh:
                for s in spans:
                    ctx = s.get_span_context()
                    parent = s.parent
                    doc = {
                        "traceId": _hex(ctx.trace_id, 32),
                        "spanId": _hex(ctx.span_id, 16),
                        "parentSpanId": _hex(parent.span_id, 16) if parent else "",
                        "name": s.name,
                        "kind": str(s.kind.name),
                        "startTimeUnixNano": s.start_time,
                        "endTimeUnixNano": s.end_time,
                        "durationNano": (s.end_time or 0) - (s.start_time or 0),
                        "attributes": {k: _plain(v) for k, v in (s.attributes or {}).items()},
                        "status": {
                            "code": str(s.status.status_code.name),
                            "message": s.status.description or "",
                        },
                        "events": [
                            {
                                "name": e.name,
                                "attributes": {
                                    k: _plain(v) for k, v in (e.attributes or {}).items()
                                },
                            }
                            for e in s.events
                        ],
                        "resource": {
                            "attributes": {k: _plain(v) for k, v in s.resource.attributes.items()}
                        },
                        "scope": {
                            "name": s.instrumentation_scope.name if s.instrumentation_scope else ""
                        },
                    }
                    fh.write(json.dumps(doc, default=str) + "\n")
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            return None

    attrs = {"service.name": os.environ.get("MLLAB_AGENT_NAME", "agent")}
    for item in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            attrs[k.strip()] = v.strip()
    provider = TracerProvider(resource=Resource.create(attrs))
    provider.add_span_processor(SimpleSpanProcessor(JsonLines()))
    trace.set_tracer_provider(provider)


def _plain(v: Any) -> Any:
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return str(v)


def _patch_app(cls: Any) -> None:
    original = cls.run
    port = int(os.environ["PORT"])

    def run(self: Any, port_arg: int = CONTRACT_PORT, host: str | None = None, **kw: Any) -> Any:
        chosen = port if port_arg == CONTRACT_PORT else port_arg
        return original(self, chosen, host or "127.0.0.1", **kw)

    cls.run = run


def main() -> None:
    """Prepare the process, then run the agent's entry point as ``__main__``."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:
        sys.path.pop(0)
    _load_bridge()
    _install_tracing()
    sys.meta_path.insert(
        0,
        _bridge_client().AfterImport(
            "bedrock_agentcore.runtime.app", lambda m: _patch_app(m.BedrockAgentCoreApp)
        ),
    )
    entry = json.loads(os.environ["MLLAB_AGENT_ENTRY"])
    sys.path.insert(0, os.getcwd())
    if entry.get("module"):
        sys.argv = [entry["module"], *entry.get("args", [])]
        runpy.run_module(entry["module"], run_name="__main__", alter_sys=True)
    else:
        script = os.path.abspath(entry["script"])
        sys.argv = [script, *entry.get("args", [])]
        sys.path.insert(0, os.path.dirname(script))
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
