"""Admission of AWS Lambda operations (introduced in lab 06).

Lambda bills requests and GB-seconds (``MemorySize`` x duration) when a function runs; an idle
function costs nothing. ``Invoke`` is priced before it is sent at its worst case (one request
plus ``MemorySize`` x ``Timeout``, read from the function's configuration) and settled after
the answer to the ``REPORT`` line's ``Billed Duration`` x ``Memory Size`` where that line can
be read (:func:`settle_invoke`: offline always, on AWS with ``LogType="Tail"``); ``CreateFunction``
is admitted with a zero estimate and the ``lambda-function`` deleter, so teardown and
``mllab sweep`` remove what a lab deployed. Provisioned concurrency (billed by the hour, idle
or not), capacity providers, durable executions and function URLs (public endpoints) are
refused. Prices: ``helpers/mllab/guard/agents_pricing.json`` (dated, names its source).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from mllab.guard import admission
from mllab.guard.estimate import Estimate, Policy, Refusal

SERVICE = "lambda"


@cache
def prices() -> dict[str, Any]:
    """The agents price snapshot (``agents_pricing.json``: Lambda and AgentCore)."""
    text = resources.files("mllab.guard").joinpath("agents_pricing.json").read_text()
    return json.loads(text)


def gb_seconds_usd(memory_mb: float, seconds: float) -> float:
    """Dollars of ``memory_mb`` x ``seconds`` of Lambda compute at the snapshot's price."""
    return memory_mb / 1024.0 * seconds * float(prices()["lambda"]["usd_per_gb_second"])


def _function_config(name: str, qualifier: str | None) -> dict[str, Any] | None:
    """The function's configuration, read without a request (offline from moto, else None)."""
    try:
        from mllab.backends import offline

        if not offline.is_running():
            return None
        from moto.awslambda.models import lambda_backends

        from mllab import hooks

        lab = hooks.active()
        account = lab.account_id if lab is not None else offline.OFFLINE_ACCOUNT_ID
        region = lab.region if lab is not None else "us-east-1"
        if name.startswith("arn:"):
            region = name.split(":")[3]
        fn = lambda_backends[account][region].get_function(name, qualifier)
        return {"MemorySize": int(fn.memory_size or 128), "Timeout": int(fn.timeout or 3)}
    except Exception:  # noqa: BLE001 - unknown function: Invoke answers ResourceNotFound
        return None


def _lookup_config(policy: Policy, name: str, qualifier: str | None) -> dict[str, Any] | None:
    found = policy.lookup("lambda_function", name)
    if found:
        return found
    return _function_config(name, qualifier)


def invoke(params: dict[str, Any], policy: Policy) -> Estimate:
    """Worst case of one invocation: a request plus ``MemorySize`` x ``Timeout`` GB-seconds.

    Args:
        params: the Invoke request.
        policy: the lab's policy (``lookup("lambda_function", name)`` may give the config).

    Returns:
        The estimate (a function that cannot be found is priced at the largest memory and
        timeout, 10,240 MB x 900 s, so nothing unknown runs unpriced).
    """
    name = str(params.get("FunctionName", ""))
    cfg = _lookup_config(policy, name, params.get("Qualifier")) or {}
    snap = prices()["lambda"]
    memory = float(cfg.get("MemorySize") or snap["max_memory_mb"])
    timeout = float(cfg.get("Timeout") or snap["max_timeout_seconds"])
    if params.get("InvocationType") == "DryRun":
        return Estimate(0.0, name, detail={"basis": "DryRun runs nothing"})
    attempts = 1 + (2 if params.get("InvocationType") == "Event" else 0)
    usd = attempts * (float(snap["usd_per_request"]) + gb_seconds_usd(memory, timeout))
    return Estimate(
        usd,
        name,
        detail={
            "memory_mb": memory,
            "timeout_s": timeout,
            "attempts": attempts,
            "basis": "request + MemorySize x Timeout GB-seconds (Event: with 2 retries)",
        },
    )


_BILLED = re.compile(r"Billed Duration: (\d+) ms")
_MEMORY = re.compile(r"Memory Size: (\d+) MB")


def report_line(parsed: dict[str, Any]) -> str | None:
    """The ``REPORT`` line of an answered synchronous Invoke, when it can be read for free.

    From ``LogResult`` (the learner asked for ``LogType="Tail"``), else offline from the
    offline plane's record of the invocation (by request id). None otherwise (on AWS the line
    is in CloudWatch Logs, which the guard does not read).
    """
    tail = parsed.get("LogResult")
    if tail:
        try:
            text = base64.b64decode(str(tail)).decode("utf-8", "replace")
        except ValueError:
            text = ""
        lines = [ln for ln in text.splitlines() if ln.startswith("REPORT ")]
        if lines:
            return lines[-1]
    request_id = str((parsed.get("ResponseMetadata") or {}).get("RequestId") or "")
    try:
        from mllab.offline.lambda_.service import REPORTS
    except ImportError:  # pragma: no cover - the offline plane is part of the package
        return None
    return REPORTS.get(request_id)


def settle_invoke(params: dict[str, Any], parsed: dict[str, Any]) -> float | None:
    """The measured charge of a synchronous Invoke: one request plus the REPORT line's
    ``Billed Duration`` x ``Memory Size``.

    Returns:
        Dollars, or None when no REPORT line can be read (the worst-case estimate stands):
        ``Event`` invocations (they run, and retry, after the answer) and ``DryRun``.
    """
    if str(params.get("InvocationType") or "RequestResponse") != "RequestResponse":
        return None
    line = report_line(parsed)
    billed = _BILLED.search(line or "")
    memory = _MEMORY.search(line or "")
    if line is None or billed is None or memory is None:
        return None
    return float(prices()["lambda"]["usd_per_request"]) + gb_seconds_usd(
        float(memory.group(1)), int(billed.group(1)) / 1000.0
    )


def create_function(params: dict[str, Any], policy: Policy) -> Estimate:
    """An idle function costs nothing; refuse limits beyond Lambda's (and lab) maxima."""
    snap = prices()["lambda"]
    name = str(params.get("FunctionName", ""))
    timeout = params.get("Timeout", 3)
    memory = params.get("MemorySize", 128)
    if isinstance(timeout, int) and timeout > policy.max_runtime_seconds:
        raise Refusal(
            f"Timeout is {timeout} s; this lab allows at most {policy.max_runtime_seconds} s",
            "set Timeout to a few seconds (lab functions finish in well under a minute)",
        )
    if isinstance(memory, int) and memory > snap["max_memory_mb"]:
        raise Refusal(
            f"MemorySize is {memory} MB; Lambda allows at most {snap['max_memory_mb']} MB",
            "set MemorySize to 128-1024 MB",
        )
    return Estimate(
        0.0, name, detail={"basis": "an idle function costs nothing; invocations are priced"}
    )


def _delete_function(session: Any, region: str, name: str) -> str | None:
    client = session.client("lambda", region_name=region)
    try:
        client.delete_function(FunctionName=name)
    except client.exceptions.ResourceNotFoundException:
        return None
    return "deleted"


def _find_functions(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    client = session.client("lambda", region_name=region)
    for page in client.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            tags = client.list_tags(Resource=fn["FunctionArn"]).get("Tags") or {}
            yield fn["FunctionName"], dict(tags)


admission.deleter(
    "lambda-function",
    created_by=[(SERVICE, "CreateFunction")],
    delete=_delete_function,
    find=_find_functions,
    order=60,
)
admission.billable(
    SERVICE,
    "CreateFunction",
    estimator=create_function,
    deleter="lambda-function",
    note="an idle function costs nothing; teardown deletes it",
)
admission.billable(
    SERVICE,
    "Invoke",
    estimator=invoke,
    deleter=admission.NOTHING_PERSISTS,
    note="requests and GB-seconds",
)
admission.read(
    SERVICE,
    "GetAccountSettings",
    "GetAlias",
    "GetEventSourceMapping",
    "GetFunction",
    "GetFunctionConcurrency",
    "GetFunctionConfiguration",
    "GetFunctionEventInvokeConfig",
    "GetFunctionRecursionConfig",
    "GetFunctionUrlConfig",
    "GetLayerVersion",
    "GetLayerVersionByArn",
    "GetLayerVersionPolicy",
    "GetPolicy",
    "GetProvisionedConcurrencyConfig",
    "GetResourcePolicy",
    "GetRuntimeManagementConfig",
    "GetCodeSigningConfig",
    "GetFunctionCodeSigningConfig",
    "GetFunctionScalingConfig",
    "ListAliases",
    "ListEventSourceMappings",
    "ListFunctionEventInvokeConfigs",
    "ListFunctionUrlConfigs",
    "ListFunctions",
    "ListLayerVersions",
    "ListLayers",
    "ListProvisionedConcurrencyConfigs",
    "ListTags",
    "ListVersionsByFunction",
    "ListCodeSigningConfigs",
    "ListFunctionsByCodeSigningConfig",
)
admission.free(
    SERVICE,
    "AddPermission",
    "RemovePermission",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "DeleteFunction",
    "PublishVersion",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PutFunctionConcurrency",
    "DeleteFunctionConcurrency",
    "PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig",
    "PutFunctionRecursionConfig",
    "TagResource",
    "UntagResource",
    "PublishLayerVersion",
    "DeleteLayerVersion",
    "AddLayerVersionPermission",
    "RemoveLayerVersionPermission",
    "DeleteEventSourceMapping",
    "DeleteProvisionedConcurrencyConfig",
    "DeleteFunctionUrlConfig",
    note="configuration and versions: nothing runs, nothing bills",
)
admission.refuse(
    SERVICE,
    "PutProvisionedConcurrencyConfig",
    note="provisioned concurrency bills every hour it is configured, idle or not",
)
admission.refuse(
    SERVICE,
    "CreateFunctionUrlConfig",
    "UpdateFunctionUrlConfig",
    note="a function URL is a public HTTPS endpoint anyone can invoke (and bill)",
)
admission.refuse(
    SERVICE,
    "CreateEventSourceMapping",
    "UpdateEventSourceMapping",
    note="event source mappings poll queues and streams continuously; labs invoke directly",
)
admission.refuse(
    SERVICE,
    "InvokeAsync",
    note="InvokeAsync is deprecated; use Invoke with InvocationType='Event'",
)
admission.refuse(
    SERVICE,
    "InvokeWithResponseStream",
    note="response streaming is not emulated offline; use Invoke",
)
