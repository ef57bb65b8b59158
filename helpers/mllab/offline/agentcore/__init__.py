"""Offline Amazon Bedrock AgentCore: runtimes, endpoints, gateways, memory (introduced in lab 06).

* :mod:`~mllab.offline.agentcore.control`: ``bedrock-agentcore-control`` runtimes, versions,
  endpoints, tags.
* :mod:`~mllab.offline.agentcore.runtime`: ``InvokeAgentRuntime`` -- each session a process
  under AgentCore's HTTP contract (``/ping``, ``/invocations``).
* :mod:`~mllab.offline.agentcore.images`: code artifacts in S3 and container images resolved
  to an entry point.
* :mod:`~mllab.offline.agentcore.gateway`: gateways and targets (Lambda, OpenAPI, MCP
  server) exposed as MCP tools.
* :mod:`~mllab.offline.agentcore.memory`: memories, short-term events, long-term records.
* :mod:`~mllab.offline.agentcore.observability`: spans, runtime logs, metrics.
"""

import importlib

for _name in ("store", "images", "control", "runtime", "observability", "gateway", "memory"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _err:  # a part not written yet
        if _err.name != f"{__name__}.{_name}":
            raise
