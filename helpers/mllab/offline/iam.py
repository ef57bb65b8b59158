"""IAM policy evaluation offline: ``SimulatePrincipalPolicy`` (introduced in lab 04).

moto stores roles and policies but does not evaluate them. The SageMaker SDK v3 asks
``iam:SimulatePrincipalPolicy`` whether an execution role may do what training and
hosting need, and lab 04's least-privilege requirement asks the same question. The
evaluator here follows IAM's basic rule for identity policies: an explicit ``Deny``
wins, else an ``Allow`` whose ``Action``/``NotAction`` and ``Resource``/``NotResource``
match (``*`` and ``?`` wildcards, actions case-insensitive) allows, else the result is an
implicit deny. ``Condition`` blocks are not evaluated: a statement with a condition is
treated as not matching, and the condition keys are reported in ``MissingContextValues``.
Permissions boundaries, SCPs and resource policies are not modelled.
"""

from __future__ import annotations

import fnmatch
import json
import re
import urllib.parse
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _matches(pattern: str, value: str, case_insensitive: bool) -> bool:
    if case_insensitive:
        pattern, value = pattern.lower(), value.lower()
    return re.fullmatch(fnmatch.translate(pattern).replace("(?s:", "(?s:", 1), value) is not None


def _statement_matches(stmt: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in stmt:
        action_ok = any(_matches(p, action, True) for p in _as_list(stmt["Action"]))
    else:
        action_ok = not any(_matches(p, action, True) for p in _as_list(stmt.get("NotAction")))
    if not action_ok:
        return False
    if "Resource" in stmt:
        return any(_matches(p, resource, False) for p in _as_list(stmt["Resource"]))
    if "NotResource" in stmt:
        return not any(_matches(p, resource, False) for p in _as_list(stmt["NotResource"]))
    return False


def _document(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict):
        return doc
    text = urllib.parse.unquote(str(doc))
    return json.loads(text)


def evaluate(policies: list[dict[str, Any]], action: str, resource: str = "*") -> dict[str, Any]:
    """Evaluate identity policies for one action on one resource.

    Args:
        policies: policy documents (dicts), with ``"_source"`` naming each one optionally.
        action: e.g. ``"s3:GetObject"``.
        resource: an ARN, or ``"*"``.

    Returns:
        ``{"EvalDecision": "allowed"|"explicitDeny"|"implicitDeny", "MatchedStatements": [...],
        "MissingContextValues": [...]}``. Costs nothing.
    """
    allowed: list[dict[str, str]] = []
    missing: set[str] = set()
    for pol in policies:
        source = str(pol.get("_source", "policy"))
        for i, stmt in enumerate(_as_list_of_dicts(pol.get("Statement"))):
            if not _statement_matches(stmt, action, resource):
                continue
            if stmt.get("Condition"):
                for conds in stmt["Condition"].values():
                    missing.update(conds.keys())
                continue
            matched = {"SourcePolicyId": source, "StatementIndex": str(i)}
            if stmt.get("Effect") == "Deny":
                return {
                    "EvalDecision": "explicitDeny",
                    "MatchedStatements": [matched],
                    "MissingContextValues": sorted(missing),
                }
            if stmt.get("Effect") == "Allow":
                allowed.append(matched)
    return {
        "EvalDecision": "allowed" if allowed else "implicitDeny",
        "MatchedStatements": allowed,
        "MissingContextValues": sorted(missing),
    }


def _as_list_of_dicts(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [value] if isinstance(value, dict) else list(value)


def role_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """Return the inline and attached managed policy documents of a role.

    Args:
        iam: an IAM client (either backend).
        role_name: the role's name.

    Returns:
        Policy documents with ``"_source"`` set to the policy's name or ARN.
    """
    docs: list[dict[str, Any]] = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        doc = _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        docs.append({**doc, "_source": name})
    for att in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        pol = iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
        ver = iam.get_policy_version(PolicyArn=att["PolicyArn"], VersionId=pol["DefaultVersionId"])
        docs.append({**_document(ver["PolicyVersion"]["Document"]), "_source": att["PolicyArn"]})
    return docs


@handles("iam", "SimulatePrincipalPolicy")
def simulate_principal_policy(call: OfflineCall) -> dict[str, Any]:
    """Answer ``SimulatePrincipalPolicy`` for a role from its stored policies."""
    arn = str(call.params["PolicySourceArn"])
    if ":role/" not in arn:
        raise AwsError(
            "InvalidInput",
            f"Offline, only roles can be simulated; {arn} is not a role ARN.",
        )
    role_name = arn.rsplit("/", 1)[-1]
    iam = call.client("iam")
    try:
        iam.get_role(RoleName=role_name)
    except iam.exceptions.NoSuchEntityException:
        raise AwsError(
            "NoSuchEntity", f"The role with name {role_name} cannot be found.", 404
        ) from None
    policies = role_policies(iam, role_name)
    extra = [_document(d) for d in call.params.get("PolicyInputList") or []]
    policies += [{**d, "_source": f"PolicyInputList.{i + 1}"} for i, d in enumerate(extra)]
    results = []
    for action in call.params["ActionNames"]:
        for resource in call.params.get("ResourceArns") or ["*"]:
            verdict = evaluate(policies, action, resource)
            results.append({"EvalActionName": action, "EvalResourceName": resource, **verdict})
    return {"EvaluationResults": results, "IsTruncated": False}
