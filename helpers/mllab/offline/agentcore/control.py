"""Offline ``bedrock-agentcore-control``: agent runtimes, versions and endpoints (lab 06).

As AgentCore documents it: ``CreateAgentRuntime`` makes version 1 and the ``DEFAULT``
endpoint pointing at it; each ``UpdateAgentRuntime`` makes a new immutable version and
moves ``DEFAULT`` to it; named endpoints (``CreateAgentRuntimeEndpoint``) stay on the version
they name until ``UpdateAgentRuntimeEndpoint`` moves them -- a rollout is moving ``prod`` to
the new version, a rollback moving it back. The artifact is checked when the runtime is
created: a code artifact's S3 object must exist (``codeConfiguration.code.s3`` with
``bucket`` and ``prefix``, the key of the .zip), a container image must be resolvable offline
(:func:`mllab.offline.agentcore.images.register`), so a broken deployment fails at create as
it would on AWS rather than at the first invocation.
"""

from __future__ import annotations

import re
from typing import Any

from mllab.offline.agentcore import store
from mllab.offline.agentcore.store import AgentRuntime, Endpoint, RuntimeVersion
from mllab.offline.registry import AwsError, OfflineCall, handles

SERVICE = "bedrock-agentcore-control"
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")
_CONFIG_KEYS = (
    "agentRuntimeArtifact",
    "roleArn",
    "networkConfiguration",
    "description",
    "authorizerConfiguration",
    "requestHeaderConfiguration",
    "protocolConfiguration",
    "lifecycleConfiguration",
    "environmentVariables",
    "metadataConfiguration",
)


def _validate_name(value: str, what: str) -> None:
    if not _NAME.match(value or ""):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{what}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z][a-zA-Z0-9_]{0,47}",
        )


def _check_artifact(call: OfflineCall, artifact: dict[str, Any]) -> str:
    """Raise for an artifact AWS refuses; return why the version cannot start ("" if it can).

    A missing bucket, object or image is refused at once; an entry point that names no file
    of the code artifact is accepted and the version then fails (``CREATE_FAILED`` /
    ``UPDATE_FAILED`` with a ``failureReason``), as AgentCore reports it.
    """
    from mllab.offline.agentcore import images

    try:
        images.resolve(call.account_id, call.region, artifact, check_only=True)
    except images.EntryPointMissing as err:
        return f"Runtime failed to start: {err.message}"
    return ""


def _config(params: dict[str, Any]) -> dict[str, Any]:
    cfg = {k: params[k] for k in _CONFIG_KEYS if k in params}
    cfg.setdefault("networkConfiguration", {"networkMode": "PUBLIC"})
    cfg.setdefault("protocolConfiguration", {"serverProtocol": "HTTP"})
    cfg.setdefault(
        "lifecycleConfiguration", {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}
    )
    return cfg


def _workload(call: OfflineCall, name: str) -> dict[str, str]:
    return {
        "workloadIdentityArn": f"arn:aws:bedrock-agentcore:{call.region}:{call.account_id}:"
        f"workload-identity-directory/default/workload-identity/{name}"
    }


@handles(SERVICE, "CreateAgentRuntime")
def create_agent_runtime(call: OfflineCall) -> dict[str, Any]:
    """Create a runtime: version 1 and the DEFAULT endpoint (bills only while sessions run)."""
    p = call.params
    name = str(p.get("agentRuntimeName", ""))
    _validate_name(name, "agentRuntimeName")
    failure = _check_artifact(call, p.get("agentRuntimeArtifact") or {})
    with store.LOCK:
        for rt in store.STATE.runtimes.values():
            if rt.account_id == call.account_id and rt.region == call.region and rt.name == name:
                raise AwsError(
                    "ConflictException", f"An agent runtime named {name} already exists", 409
                )
        rid = f"{name}-{store.suffix()}"
        arn = f"arn:aws:bedrock-agentcore:{call.region}:{call.account_id}:runtime/{rid}"
        t = store.now()
        rt = AgentRuntime(rid, name, arn, call.account_id, call.region, created=t, updated=t)
        rt.versions["1"] = RuntimeVersion(
            "1", _config(p), t, "CREATE_FAILED" if failure else "READY", failure
        )
        rt.endpoints["DEFAULT"] = Endpoint(
            "DEFAULT", f"DEFAULT-{store.suffix()}", f"{arn}/runtime-endpoint/DEFAULT", "1", "1",
            "The default endpoint: always the latest version", t, t,
        )  # fmt: skip
        store.STATE.runtimes[(call.account_id, call.region, rid)] = rt
        store.set_tags(arn, p.get("tags"))
    return {
        "agentRuntimeArn": arn,
        "agentRuntimeId": rid,
        "agentRuntimeVersion": "1",
        "workloadIdentityDetails": _workload(call, name),
        "createdAt": store.clock_dt(t),
        "status": "CREATING" if failure else "READY",
    }


@handles(SERVICE, "UpdateAgentRuntime")
def update_agent_runtime(call: OfflineCall) -> dict[str, Any]:
    """A new immutable version; DEFAULT follows it, named endpoints stay where they are."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeId", "")))
    failure = _check_artifact(call, p.get("agentRuntimeArtifact") or {})
    with store.LOCK:
        version = str(int(rt.latest) + 1)
        t = store.now()
        rt.versions[version] = RuntimeVersion(
            version, _config(p), t, "UPDATE_FAILED" if failure else "READY", failure
        )
        rt.updated = t
        default = rt.endpoints["DEFAULT"]
        default.live_version = default.target_version = version
        default.updated = t
    return {
        "agentRuntimeArn": rt.arn,
        "agentRuntimeId": rt.id,
        "workloadIdentityDetails": _workload(call, rt.name),
        "agentRuntimeVersion": version,
        "createdAt": store.clock_dt(rt.created),
        "lastUpdatedAt": store.clock_dt(t),
        "status": "UPDATING" if failure else "READY",
    }


def _describe(rt: AgentRuntime, version: str) -> dict[str, Any]:
    v = rt.versions[version]
    out: dict[str, Any] = {
        "agentRuntimeArn": rt.arn,
        "agentRuntimeName": rt.name,
        "agentRuntimeId": rt.id,
        "agentRuntimeVersion": version,
        "createdAt": store.clock_dt(v.created),
        "lastUpdatedAt": store.clock_dt(v.created),
        "status": v.status,
        "workloadIdentityDetails": {
            "workloadIdentityArn": f"arn:aws:bedrock-agentcore:{rt.region}:{rt.account_id}:"
            f"workload-identity-directory/default/workload-identity/{rt.name}"
        },
    }
    out.update(v.config)
    out.setdefault("description", "")
    if v.failure_reason:
        out["failureReason"] = v.failure_reason
    return out


@handles(SERVICE, "GetAgentRuntime")
def get_agent_runtime(call: OfflineCall) -> dict[str, Any]:
    """Describe a runtime (its latest version, or the version asked for)."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeId", "")))
    version = str(p.get("agentRuntimeVersion") or rt.latest)
    if version not in rt.versions:
        raise AwsError(
            "ResourceNotFoundException",
            f"Version {version} of agent runtime {rt.id} not found",
            404,
        )
    return _describe(rt, version)


def _summary(rt: AgentRuntime, version: str) -> dict[str, Any]:
    d = _describe(rt, version)
    return {
        k: d[k]
        for k in (
            "agentRuntimeArn",
            "agentRuntimeId",
            "agentRuntimeVersion",
            "agentRuntimeName",
            "description",
            "lastUpdatedAt",
            "status",
        )
    }


@handles(SERVICE, "ListAgentRuntimes")
def list_agent_runtimes(call: OfflineCall) -> dict[str, Any]:
    """Every runtime of the account and region, at its latest version."""
    with store.LOCK:
        rts = [
            rt
            for (acct, region, _), rt in store.STATE.runtimes.items()
            if acct == call.account_id and region == call.region
        ]
    return {
        "agentRuntimes": [_summary(rt, rt.latest) for rt in sorted(rts, key=lambda r: r.created)]
    }


@handles(SERVICE, "ListAgentRuntimeVersions")
def list_agent_runtime_versions(call: OfflineCall) -> dict[str, Any]:
    """Every version of a runtime, newest first."""
    rt = store.get_runtime(call.account_id, call.region, str(call.params.get("agentRuntimeId")))
    versions = sorted(rt.versions, key=int, reverse=True)
    return {"agentRuntimes": [_summary(rt, v) for v in versions]}


@handles(SERVICE, "DeleteAgentRuntime")
def delete_agent_runtime(call: OfflineCall) -> dict[str, Any]:
    """Delete a runtime, its endpoints and its running sessions."""
    from mllab.offline.agentcore import runtime as data_plane

    rt = store.get_runtime(call.account_id, call.region, str(call.params.get("agentRuntimeId")))
    with store.LOCK:
        store.STATE.runtimes.pop((rt.account_id, rt.region, rt.id), None)
    data_plane.stop_sessions(rt.arn)
    return {"status": "DELETING", "agentRuntimeId": rt.id, "agentRuntimeVersion": rt.latest}


def _version_of(rt: AgentRuntime, value: Any) -> str:
    version = str(value or rt.latest)
    if version not in rt.versions:
        raise AwsError(
            "ValidationException",
            f"Agent runtime {rt.id} has no version {version} (versions: "
            f"{', '.join(sorted(rt.versions, key=int))})",
        )
    return version


@handles(SERVICE, "CreateAgentRuntimeEndpoint")
def create_agent_runtime_endpoint(call: OfflineCall) -> dict[str, Any]:
    """A named endpoint pointing at one version (the latest when none is named)."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeId", "")))
    name = str(p.get("name", ""))
    _validate_name(name, "name")
    version = _version_of(rt, p.get("agentRuntimeVersion"))
    with store.LOCK:
        if name in rt.endpoints:
            raise AwsError(
                "ConflictException",
                f"Endpoint {name} already exists for agent runtime {rt.id}",
                409,
            )
        t = store.now()
        ep = Endpoint(
            name, f"{name}-{store.suffix()}", f"{rt.arn}/runtime-endpoint/{name}", version,
            version, str(p.get("description") or ""), t, t,
        )  # fmt: skip
        rt.endpoints[name] = ep
        store.set_tags(ep.arn, p.get("tags"))
    return {
        "targetVersion": version,
        "agentRuntimeEndpointArn": ep.arn,
        "agentRuntimeArn": rt.arn,
        "agentRuntimeId": rt.id,
        "endpointName": name,
        "status": "READY",
        "createdAt": store.clock_dt(t),
    }


def _endpoint(rt: AgentRuntime, name: str) -> Endpoint:
    ep = rt.endpoints.get(name)
    if ep is None:
        raise AwsError(
            "ResourceNotFoundException", f"Endpoint {name} not found for agent runtime {rt.id}", 404
        )
    return ep


@handles(SERVICE, "UpdateAgentRuntimeEndpoint")
def update_agent_runtime_endpoint(call: OfflineCall) -> dict[str, Any]:
    """Point an endpoint at another version (a rollout, or a rollback)."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeId", "")))
    ep = _endpoint(rt, str(p.get("endpointName", "")))
    if ep.name == "DEFAULT":
        raise AwsError(
            "ValidationException",
            "The DEFAULT endpoint always points to the latest version and cannot be updated; "
            "create a named endpoint to pin a version",
        )
    version = _version_of(rt, p.get("agentRuntimeVersion"))
    with store.LOCK:
        ep.live_version = ep.target_version = version
        if p.get("description") is not None:
            ep.description = str(p["description"])
        ep.updated = store.now()
    d = ep.describe(rt.arn)
    return {k: d[k] for k in ("liveVersion", "targetVersion", "agentRuntimeEndpointArn",
                              "agentRuntimeArn", "status", "createdAt", "lastUpdatedAt")}  # fmt: skip


@handles(SERVICE, "GetAgentRuntimeEndpoint")
def get_agent_runtime_endpoint(call: OfflineCall) -> dict[str, Any]:
    """Describe one endpoint."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeId", "")))
    return _endpoint(rt, str(p.get("endpointName", ""))).describe(rt.arn)


@handles(SERVICE, "ListAgentRuntimeEndpoints")
def list_agent_runtime_endpoints(call: OfflineCall) -> dict[str, Any]:
    """Every endpoint of a runtime."""
    rt = store.get_runtime(call.account_id, call.region, str(call.params.get("agentRuntimeId")))
    return {"runtimeEndpoints": [ep.describe(rt.arn) for ep in rt.endpoints.values()]}


@handles(SERVICE, "DeleteAgentRuntimeEndpoint")
def delete_agent_runtime_endpoint(call: OfflineCall) -> dict[str, Any]:
    """Delete a named endpoint (DEFAULT goes with its runtime)."""
    p = call.params
    rt = store.get_runtime(call.account_id, call.region, str(p.get("agentRuntimeId", "")))
    ep = _endpoint(rt, str(p.get("endpointName", "")))
    if ep.name == "DEFAULT":
        raise AwsError(
            "ValidationException", "The DEFAULT endpoint is deleted with its agent runtime"
        )
    with store.LOCK:
        rt.endpoints.pop(ep.name, None)
    return {"status": "DELETING", "agentRuntimeId": rt.id, "endpointName": ep.name}


# --------------------------------------------------------------------------- tags


def _tag_arn(call: OfflineCall) -> str:
    return str(call.params.get("resourceArn", ""))


@handles(SERVICE, "TagResource")
def tag_resource(call: OfflineCall) -> dict[str, Any]:
    """Tag any AgentCore resource by ARN."""
    store.set_tags(_tag_arn(call), call.params.get("tags"))
    return {}


@handles(SERVICE, "UntagResource")
def untag_resource(call: OfflineCall) -> dict[str, Any]:
    """Remove tags by key."""
    with store.LOCK:
        tags = store.STATE.tags.get(_tag_arn(call), {})
        for key in call.params.get("tagKeys") or []:
            tags.pop(key, None)
    return {}


@handles(SERVICE, "ListTagsForResource")
def list_tags_for_resource(call: OfflineCall) -> dict[str, Any]:
    """The tags of a resource."""
    return {"tags": store.find_tags(_tag_arn(call))}
