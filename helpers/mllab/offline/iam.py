"""IAM policy evaluation offline: ``SimulatePrincipalPolicy`` (introduced in lab 04).

moto stores roles and policies but does not evaluate them. The SageMaker SDK v3 asks
``iam:SimulatePrincipalPolicy`` whether an execution role may do what training and
hosting need, and lab 04's least-privilege requirement asks the same question. The
evaluator here follows IAM's basic rule for identity policies: an explicit ``Deny``
wins, else an ``Allow`` whose ``Action``/``NotAction`` and ``Resource``/``NotResource``
match (``*`` and ``?`` wildcards, actions case-insensitive) allows, else the result is an
implicit deny. ``Condition`` blocks are evaluated against a request context when one is given
(``SimulatePrincipalPolicy``'s ``ContextEntries``, or :func:`evaluate`'s ``context``), with
the operators the sandbox policies use (lab 00, ``mllab sandbox``): ``String(Not)Equals``,
``String(Not)EqualsIgnoreCase``, ``String(Not)Like``, ``Numeric*``, ``Bool``, ``Null``,
``Arn(Not)Like``/``Arn(Not)Equals``, the ``ForAnyValue:``/``ForAllValues:`` set prefixes and
the ``...IfExists`` suffix. Without a context a conditional statement is treated as not
matching and its keys are reported in ``MissingContextValues`` (as before). A permissions
boundary is modelled by :func:`evaluate_with_boundary`; SCPs and resource policies are not.
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


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _single(op: str, want: str, have: str) -> bool:
    """One condition value against one context value for a base operator."""
    if op == "StringEquals":
        return have == want
    if op == "StringNotEquals":
        return have != want
    if op == "StringEqualsIgnoreCase":
        return have.lower() == want.lower()
    if op == "StringNotEqualsIgnoreCase":
        return have.lower() != want.lower()
    if op in {"StringLike", "ArnLike"}:
        return _matches(want, have, False)
    if op in {"StringNotLike", "ArnNotLike"}:
        return not _matches(want, have, False)
    if op == "ArnEquals":
        return have == want
    if op == "ArnNotEquals":
        return have != want
    if op.startswith("Numeric"):
        a, b = _num(have), _num(want)
        if a is None or b is None:
            return False
        return {
            "NumericEquals": a == b,
            "NumericNotEquals": a != b,
            "NumericLessThan": a < b,
            "NumericLessThanEquals": a <= b,
            "NumericGreaterThan": a > b,
            "NumericGreaterThanEquals": a >= b,
        }.get(op, False)
    if op == "Bool":
        return have.lower() == want.lower()
    raise ValueError(f"condition operator {op!r} is not modelled offline")


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotLike", "ArnNotEquals", "NumericNotEquals"}  # fmt: skip


def condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """True when every operator block of a ``Condition`` holds for the request context.

    Args:
        condition: the statement's ``Condition`` (``{operator: {key: value(s)}}``).
        context: condition keys (case-insensitive) to a value or a list of values.

    Semantics follow IAM: values of one key are ORed; keys and operators are ANDed; a key
    missing from the context fails the operator unless it ends in ``IfExists``, except that
    ``ForAllValues:`` holds for a missing key and ``Null`` tests presence. A negated
    operator holds only when no listed value matches.
    """
    ctx = {str(k).lower(): v for k, v in context.items()}
    for raw_op, block in condition.items():
        qualifier, _, op = raw_op.rpartition(":")
        if_exists = op.endswith("IfExists")
        base = op[: -len("IfExists")] if if_exists else op
        for key, wanted in block.items():
            values = wanted if isinstance(wanted, list | tuple) else [wanted]
            wants = [str(w).lower() if base == "Bool" else str(w) for w in values]
            present = key.lower() in ctx and ctx[key.lower()] not in (None, [], "")
            if base == "Null":
                if (not present) != (wants[0].lower() == "true"):
                    return False
                continue
            if not present:
                if qualifier == "ForAllValues" or if_exists:
                    continue
                return False
            haves = (
                [str(h) for h in _as_list(ctx[key.lower()])]
                if isinstance(ctx[key.lower()], list | tuple | str)
                else [str(ctx[key.lower()])]
            )
            negated = base in _NEGATED
            matches = [
                all(_single(base, w, h) for w in wants)
                if negated
                else any(_single(base, w, h) for w in wants)
                for h in haves
            ]
            ok = all(matches) if qualifier == "ForAllValues" else any(matches)
            if not ok:
                return False
    return True


def evaluate(
    policies: list[dict[str, Any]],
    action: str,
    resource: str = "*",
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate identity policies for one action on one resource.

    Args:
        policies: policy documents (dicts), with ``"_source"`` naming each one optionally.
        action: e.g. ``"s3:GetObject"``.
        resource: an ARN, or ``"*"``.
        context: the request's condition keys (e.g. ``{"sagemaker:InstanceTypes":
            ["ml.m5.large"]}``); None leaves conditional statements unmatched.

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
                if context is None:
                    for conds in stmt["Condition"].values():
                        missing.update(conds.keys())
                    continue
                if not condition_holds(stmt["Condition"], context):
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


def evaluate_with_boundary(
    policies: list[dict[str, Any]],
    boundary: dict[str, Any] | None,
    action: str,
    resource: str = "*",
    context: dict[str, Any] | None = None,
) -> str:
    """The decision when identity policies and a permissions boundary both apply.

    A request is allowed only when the identity policies allow it and the boundary allows it
    (an explicit deny in either wins). Returns ``allowed``, ``explicitDeny`` or
    ``implicitDeny``. Costs nothing.
    """
    ident = evaluate(policies, action, resource, context)["EvalDecision"]
    if boundary is None:
        return str(ident)
    bound = evaluate([boundary], action, resource, context)["EvalDecision"]
    if "explicitDeny" in (ident, bound):
        return "explicitDeny"
    return "allowed" if ident == bound == "allowed" else "implicitDeny"


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
    context = {
        str(e["ContextKeyName"]): list(e.get("ContextKeyValues") or [])
        for e in call.params.get("ContextEntries") or []
    } or None
    results = []
    for action in call.params["ActionNames"]:
        for resource in call.params.get("ResourceArns") or ["*"]:
            verdict = evaluate(policies, action, resource, context)
            results.append({"EvalActionName": action, "EvalResourceName": resource, **verdict})
    return {"EvaluationResults": results, "IsTruncated": False}


def principal_policies(account_id: str, principal_arn: str) -> list[dict[str, Any]] | None:
    """Return the identity policies of a role (from moto's IAM), or None when not a known role.

    Args:
        account_id: the offline account.
        principal_arn: a role ARN (``arn:aws:iam::<account>:role/<name>``).

    Returns:
        Inline and attached managed policy documents (``"_source"`` names each), or None for
        anything that is not a role in the offline account. Costs nothing.
    """
    if ":role/" not in principal_arn:
        return None
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["global"]
    try:
        role = backend.get_role(principal_arn.rsplit("/", 1)[-1])
    except Exception:  # noqa: BLE001 - no such role
        return None
    docs: list[dict[str, Any]] = []
    for name, text in role.policies.items():
        docs.append({**_document(text), "_source": name})
    for pol in role.managed_policies.values():
        version = next((v for v in pol.versions if v.is_default), None)
        if version is not None and version.document:
            docs.append({**_document(version.document), "_source": pol.arn})
    return docs


def principal_allowed(
    account_id: str, principal_arn: str | None, action: str, resource: str
) -> bool:
    """True when the principal's identity policies allow ``action`` on ``resource``.

    The lab's own identity (``None``) and principals that are not roles of the offline
    account are not restricted (offline, only assumed roles are evaluated; lab 01).
    """
    if principal_arn is None:
        return True
    policies = principal_policies(account_id, principal_arn)
    if policies is None:
        return True
    return evaluate(policies, action, resource)["EvalDecision"] == "allowed"
