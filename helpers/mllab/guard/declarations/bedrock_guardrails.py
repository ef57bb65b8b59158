"""Admission of Amazon Bedrock Guardrails and Prompt Management.

Introduced in lab 06 (guardrails) and lab 05 (prompt management). Creating, versioning and
deleting guardrails and prompts is free on AWS; ``ApplyGuardrail`` bills per text unit (up to
1,000 characters) for each paid policy it evaluates: content filters, denied topics, sensitive
information (PII; regex-only is free) and contextual grounding. Prices:
``mllab/guard/guardrails_pricing.json`` (dated, names its source). Guardrails applied through
Converse/InvokeModel ``guardrailConfig`` are priced by the Bedrock runtime declarations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from mllab.guard import admission
from mllab.guard.declarations._util import paginate, quietly, tag_dict
from mllab.guard.estimate import Estimate, Policy

#: The paid policies, keyed as in ApplyGuardrail's ``usage`` (``...Units``) and the snapshot.
PAID = ("contentPolicy", "topicPolicy", "sensitiveInformationPolicy", "contextualGroundingPolicy")


@cache
def prices() -> dict[str, Any]:
    """The Guardrails price snapshot (``guardrails_pricing.json``), read once."""
    text = resources.files("mllab.guard").joinpath("guardrails_pricing.json").read_text()
    return dict(json.loads(text))


def _label() -> str:
    p = prices()
    return f"guardrails price snapshot of {p['snapshot_date']} ({p['region']})"


def _texts(params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Guarded texts and grounding texts (sources and queries) of an ApplyGuardrail request."""
    guarded: list[str] = []
    grounding: list[str] = []
    for block in params.get("content") or []:
        text = block.get("text")
        if not isinstance(text, dict):
            continue
        quals = set(text.get("qualifiers") or [])
        (grounding if quals & {"grounding_source", "query"} else guarded).append(
            str(text.get("text", ""))
        )
    return guarded, grounding


def _configured_policies(params: dict[str, Any]) -> set[str] | None:
    """The paid policies the guardrail has, read from the offline store; None when unknown."""
    try:
        from mllab import hooks
        from mllab.offline.bedrock import guardrails

        lab = hooks.active()
        if lab is None or lab.backend != "offline":
            return None
        g = guardrails._find(lab.account_id, lab.region, str(params["guardrailIdentifier"]))
        cfg = guardrails._config(g, params.get("guardrailVersion") or "DRAFT")
    except Exception:  # noqa: BLE001 - unknown guardrail: price the worst case
        return None
    found = {k for k in PAID if k in cfg}
    sens = cfg.get("sensitiveInformationPolicy") or {}
    if "sensitiveInformationPolicy" in found and not sens.get("piiEntities"):
        found.discard("sensitiveInformationPolicy")  # regex-only is free
    return found


def apply_guardrail_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """ApplyGuardrail: text units of the request times the price of each paid policy.

    Offline the guardrail's own policies are read from the offline store; on AWS (or for a
    guardrail the estimator cannot see) every paid policy is assumed (worst case).

    Args:
        params: the ApplyGuardrail request.
        policy: the lab's policy (unused: nothing persists).

    Returns:
        The worst-case estimate; nothing persists, so there is nothing to delete.
    """
    rates = prices()["usd_per_1k_text_units"]
    guarded, grounding = _texts(params)
    units = sum(math.ceil(len(t) / 1000) for t in guarded if t)
    grounding_units = units + sum(math.ceil(len(t) / 1000) for t in grounding if t)
    policies = _configured_policies(params)
    basis = (
        "policies of the guardrail" if policies is not None else "every paid policy (worst case)"
    )
    chosen = set(PAID) if policies is None else policies
    per_policy = {}
    for name in PAID:
        if name not in chosen:
            continue
        n = grounding_units if name == "contextualGroundingPolicy" else units
        per_policy[name] = n * float(rates[name]) / 1000.0
    return Estimate(
        sum(per_policy.values()),
        str(params.get("guardrailIdentifier", "guardrail")),
        detail={
            "text_units": units,
            "grounding_text_units": grounding_units,
            "usd_by_policy": per_policy,
            "basis": f"USD per 1,000 text units (1,000 characters each) for {basis}",
            "snapshot": _label(),
        },
    )


# --------------------------------------------------------------------------- deleters


def _guardrails(session: Any, region: str) -> list[dict[str, Any]]:
    return list(
        paginate(session.client("bedrock", region_name=region), "list_guardrails", "guardrails")
    )


def delete_guardrail(session: Any, region: str, name: str) -> str | None:
    """Delete a guardrail and all its versions, by name, id or ARN (gone already is fine).

    Args:
        session: a boto3 session.
        region: the guardrail's region.
        name: the guardrail's name (what the run recorded), id or ARN.

    Returns:
        ``"deleted"``, or None when there was nothing to delete.
    """
    client = session.client("bedrock", region_name=region)
    ident = name
    if not name.startswith("arn:"):
        match = [g for g in _guardrails(session, region) if name in (g["name"], g["id"])]
        if not match:
            return None
        ident = match[0]["id"]
    quietly(lambda: client.delete_guardrail(guardrailIdentifier=ident))
    return "deleted"


def find_guardrails(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    """Every guardrail in the region as ``(name, tags)`` (for ``mllab sweep``)."""
    client = session.client("bedrock", region_name=region)
    for g in _guardrails(session, region):
        tags = client.list_tags_for_resource(resourceARN=g["arn"]).get("tags") or []
        yield g["name"], tag_dict(tags)


def _prompts(session: Any, region: str) -> list[dict[str, Any]]:
    client = session.client("bedrock-agent", region_name=region)
    return list(paginate(client, "list_prompts", "promptSummaries"))


def delete_prompt(session: Any, region: str, name: str) -> str | None:
    """Delete a prompt and all its versions, by name, id or ARN (gone already is fine).

    Args:
        session: a boto3 session.
        region: the prompt's region.
        name: the prompt's name (what the run recorded), id or ARN.

    Returns:
        ``"deleted"``, or None when there was nothing to delete.
    """
    client = session.client("bedrock-agent", region_name=region)
    ident = name
    if not name.startswith("arn:"):
        match = [p for p in _prompts(session, region) if name in (p["name"], p["id"])]
        if not match:
            return None
        ident = match[0]["id"]
    quietly(lambda: client.delete_prompt(promptIdentifier=ident))
    return "deleted"


def find_prompts(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    """Every prompt in the region as ``(name, tags)`` (for ``mllab sweep``)."""
    client = session.client("bedrock-agent", region_name=region)
    for p in _prompts(session, region):
        yield p["name"], tag_dict(client.list_tags_for_resource(resourceArn=p["arn"]).get("tags"))


# --------------------------------------------------------------------------- declarations

admission.deleter(
    "bedrock-guardrail",
    created_by=[("bedrock", "CreateGuardrail")],
    delete=delete_guardrail,
    find=find_guardrails,
    order=40,
)
admission.deleter(
    "bedrock-prompt",
    created_by=[("bedrock-agent", "CreatePrompt")],
    delete=delete_prompt,
    find=find_prompts,
    order=40,
)

admission.free(
    "bedrock",
    "CreateGuardrail",
    "UpdateGuardrail",
    "CreateGuardrailVersion",
    "DeleteGuardrail",
    "TagResource",
    "UntagResource",
    note="guardrail configuration is free; applying a guardrail bills per text unit",
)
admission.read("bedrock", "GetGuardrail", "ListGuardrails", "ListTagsForResource")
admission.free(
    "bedrock-agent",
    "CreatePrompt",
    "UpdatePrompt",
    "CreatePromptVersion",
    "DeletePrompt",
    "TagResource",
    "UntagResource",
    note="Prompt management stores prompts free; running one bills the model's tokens (Converse)",
)
admission.read("bedrock-agent", "GetPrompt", "ListPrompts", "ListTagsForResource")
admission.billable(
    "bedrock-runtime",
    "ApplyGuardrail",
    estimator=apply_guardrail_cost,
    deleter=admission.NOTHING_PERSISTS,
    note="bills per 1,000 text units for each paid policy evaluated (guardrails_pricing.json)",
)
