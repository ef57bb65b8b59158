"""The offline AgentCore account state (lab 06): runtimes, versions, endpoints, gateways, memories.

moto has no AgentCore, so this module keeps the control plane's resources, per account and
region, in memory (dropped when the offline account is reset). Shapes follow botocore's
``bedrock-agentcore-control`` model; identifiers follow AWS's patterns
(``<name>-<10 alphanumerics>``).
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, on_reset

_ALNUM = string.ascii_letters + string.digits
LOCK = threading.RLock()


def suffix(n: int = 10) -> str:
    """A random alphanumeric id suffix, as AgentCore makes them."""
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


@dataclass
class RuntimeVersion:
    """One immutable version of an agent runtime (its whole configuration)."""

    version: str
    config: dict[str, Any]
    created: float
    #: READY, or CREATE_FAILED / UPDATE_FAILED when the code artifact cannot start
    status: str = "READY"
    failure_reason: str = ""


@dataclass
class Endpoint:
    """An addressable alias of an agent runtime pointing at one version."""

    name: str
    id: str
    arn: str
    live_version: str
    target_version: str
    description: str
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)

    def describe(self, runtime_arn: str) -> dict[str, Any]:
        """GetAgentRuntimeEndpoint's shape."""
        return {
            "name": self.name,
            "id": self.id,
            "liveVersion": self.live_version,
            "targetVersion": self.target_version,
            "agentRuntimeEndpointArn": self.arn,
            "agentRuntimeArn": runtime_arn,
            "description": self.description,
            "status": "READY",
            "createdAt": clock_dt(self.created),
            "lastUpdatedAt": clock_dt(self.updated),
        }


@dataclass
class AgentRuntime:
    """An agent runtime: its versions and endpoints."""

    id: str
    name: str
    arn: str
    account_id: str
    region: str
    versions: dict[str, RuntimeVersion] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0

    @property
    def latest(self) -> str:
        """The newest version number."""
        return max(self.versions, key=int)


@dataclass
class Accounts:
    """All AgentCore resources of the offline account(s)."""

    runtimes: dict[tuple[str, str, str], AgentRuntime] = field(default_factory=dict)
    gateways: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    memories: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)


STATE = Accounts()


def clock_dt(t: float) -> Any:
    """A lab-clock POSIX time as an aware datetime."""
    import datetime as dt

    return dt.datetime.fromtimestamp(t, tz=dt.UTC)


def now() -> float:
    """The lab clock."""
    return clock.now()


def runtime_id_from(identifier: str) -> str:
    """Accept an agent runtime id or ARN (``...:runtime/<id>``, endpoint ARNs too)."""
    if identifier.startswith("arn:"):
        tail = identifier.split(":", 5)[-1]
        parts = tail.split("/")
        if len(parts) >= 2 and parts[0] == "runtime":
            return parts[1]
    return identifier


def get_runtime(account_id: str, region: str, identifier: str) -> AgentRuntime:
    """The runtime of an id or ARN, or ResourceNotFoundException in AWS's words."""
    rid = runtime_id_from(identifier)
    with LOCK:
        rt = STATE.runtimes.get((account_id, region, rid))
    if rt is None:
        raise AwsError("ResourceNotFoundException", f"Agent runtime {rid} not found", 404)
    return rt


def find_tags(arn: str) -> dict[str, str]:
    """Tags of any AgentCore resource by ARN."""
    with LOCK:
        return dict(STATE.tags.get(arn, {}))


def set_tags(arn: str, tags: dict[str, str] | None) -> None:
    """Merge tags into a resource's tags."""
    if not tags:
        return
    with LOCK:
        STATE.tags.setdefault(arn, {}).update({str(k): str(v) for k, v in tags.items()})


@on_reset
def _reset() -> None:
    with LOCK:
        for gw in STATE.gateways.values():
            server = getattr(gw, "server", None)
            if server is not None:
                server.should_exit = True  # the gateway's MCP server thread ends
        STATE.runtimes.clear()
        STATE.gateways.clear()
        STATE.memories.clear()
        STATE.tags.clear()
