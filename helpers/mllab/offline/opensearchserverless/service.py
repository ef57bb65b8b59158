"""Offline Amazon OpenSearch Serverless: policies, collections and their indexes.

Introduced in the knowledge-base lab. AWS's order is enforced: a collection can be created
only when an **encryption** security policy matches its name; its endpoint answers only
when a **network** policy covers it; and a principal may use an index only when a **data
access** policy grants it (``aoss:*`` or the specific ``aoss:...Index``/``Document``
permissions) on ``index/<collection>/<index>``. Resource patterns use ``*`` wildcards as AWS's
do. A collection is ``CREATING`` in its CreateCollection answer and ``ACTIVE`` afterwards.

The data plane (indexes) is :mod:`.engine`, in process; :mod:`.http` serves it to
``opensearch-py`` on 127.0.0.1. The guard prices the collection's minimum OCUs from creation
to deletion (``mllab.guard.declarations.vectors``); deleting a collection deletes its
indexes, but never its policies (as on AWS).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.opensearchserverless.engine import SearchIndex
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

SERVICE = "opensearchserverless"
_LOCK = threading.RLock()
_NAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")


def validation(message: str) -> AwsError:
    """A ``ValidationException`` (400)."""
    return AwsError("ValidationException", message, 400)


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Policy:
    """A security (encryption/network) or data access policy."""

    kind: str  # "security" or "access"
    type: str
    name: str
    document: Any
    description: str | None
    created: int = field(default_factory=_ms)
    updated: int = field(default_factory=_ms)
    version: str = field(default_factory=lambda: uuid.uuid4().hex[:20])

    def view(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "name": self.name,
            "policyVersion": self.version,
            "policy": self.document,
            "createdDate": self.created,
            "lastModifiedDate": self.updated,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Collection:
    """One collection and its indexes."""

    id: str
    name: str
    arn: str
    type: str
    standby: str
    description: str | None
    tags: dict[str, str]
    region: str
    created: int = field(default_factory=_ms)
    polled: bool = False
    indexes: dict[str, SearchIndex] = field(default_factory=dict)
    endpoint: str | None = None

    def view(self, status: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": status or "ACTIVE",
            "type": self.type,
            "arn": self.arn,
            "kmsKeyArn": "auto",
            "standbyReplicas": self.standby,
            "createdDate": self.created,
            "lastModifiedDate": self.created,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Account:
    """Everything of one account and region."""

    collections: dict[str, Collection] = field(default_factory=dict)
    policies: dict[tuple[str, str, str], Policy] = field(default_factory=dict)


_STATE: dict[tuple[str, str], Account] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STATE.clear()
    try:
        from mllab.offline.opensearchserverless import http

        http.stop_all()
    except ImportError:  # pragma: no cover
        pass


def account(account_id: str, region: str) -> Account:
    """The state of one account and region."""
    with _LOCK:
        return _STATE.setdefault((account_id, region), Account())


# --------------------------------------------------------------------------- policies


def _rules_cover(doc: Any, rtype: str, resource: str) -> list[dict[str, Any]]:
    """The rules of ``doc`` (one statement or a list) whose patterns match ``resource``."""
    statements = doc if isinstance(doc, list) else [doc]
    out = []
    for st in statements:
        for rule in st.get("Rules", []):
            if rule.get("ResourceType") != rtype:
                continue
            if any(fnmatch.fnmatchcase(resource, pat) for pat in rule.get("Resource", [])):
                out.append({"statement": st, "rule": rule})
    return out


def _check_document(ptype: str, doc: Any) -> None:
    statements = doc if isinstance(doc, list) else [doc]
    if ptype == "encryption":
        if isinstance(doc, list):
            raise validation("An encryption policy is one JSON object, not a list")
        if not doc.get("Rules"):
            raise validation("Policy json is invalid: encryption policies need Rules")
        if not doc.get("AWSOwnedKey") and not doc.get("KmsARN"):
            raise validation("Policy json is invalid: set AWSOwnedKey to true or give a KmsARN")
    for st in statements:
        if not isinstance(st, dict) or not st.get("Rules"):
            raise validation(f"Policy json is invalid: every {ptype} policy statement needs Rules")
        for rule in st["Rules"]:
            res = rule.get("Resource") or []
            if not res or not all(isinstance(r, str) and "/" in r for r in res):
                raise validation(
                    "Policy json is invalid: Resource entries look like 'collection/name' "
                    "or 'index/collection/index'"
                )
        if ptype == "data" and not st.get("Principal"):
            raise validation("Policy json is invalid: data access policies need a Principal")
        if ptype == "network" and "AllowFromPublic" not in st and not st.get("SourceVPCEs"):
            raise validation(
                "Policy json is invalid: network policies need AllowFromPublic or SourceVPCEs"
            )


def _create_policy(call: OfflineCall, kind: str) -> Policy:
    p = call.params
    if not _NAME.match(p["name"]):
        raise validation(
            f"Policy name {p['name']!r} is invalid: 3-32 lowercase letters, numbers and "
            "hyphens, starting with a letter"
        )
    try:
        doc = json.loads(p["policy"])
    except ValueError as err:
        raise validation(f"Policy json is invalid: {err}") from None
    _check_document(p["type"], doc)
    acct = account(call.account_id, call.region)
    key = (kind, p["type"], p["name"])
    with _LOCK:
        if key in acct.policies:
            raise AwsError(
                "ConflictException",
                f"Policy with name {p['name']} and type {p['type']} already exists",
                409,
            )
        pol = Policy(kind, p["type"], p["name"], doc, p.get("description"))
        acct.policies[key] = pol
    return pol


def _get_policy(call: OfflineCall, kind: str) -> Policy:
    pol = account(call.account_id, call.region).policies.get(
        (kind, call.params["type"], call.params["name"])
    )
    if pol is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Policy with name {call.params['name']} and type {call.params['type']} not found",
            404,
        )
    return pol


@handles(SERVICE, "CreateSecurityPolicy")
def _create_sec(call: OfflineCall) -> dict[str, Any]:
    return {"securityPolicyDetail": _create_policy(call, "security").view()}


@handles(SERVICE, "CreateAccessPolicy")
def _create_acc(call: OfflineCall) -> dict[str, Any]:
    return {"accessPolicyDetail": _create_policy(call, "access").view()}


@handles(SERVICE, "GetSecurityPolicy")
def _get_sec(call: OfflineCall) -> dict[str, Any]:
    return {"securityPolicyDetail": _get_policy(call, "security").view()}


@handles(SERVICE, "GetAccessPolicy")
def _get_acc(call: OfflineCall) -> dict[str, Any]:
    return {"accessPolicyDetail": _get_policy(call, "access").view()}


def _summaries(call: OfflineCall, kind: str) -> list[dict[str, Any]]:
    pols = account(call.account_id, call.region).policies
    out = []
    for (k, t, _n), pol in sorted(pols.items()):
        if k == kind and t == call.params["type"]:
            v = pol.view()
            v.pop("policy")
            out.append(v)
    return out


@handles(SERVICE, "ListSecurityPolicies")
def _list_sec(call: OfflineCall) -> dict[str, Any]:
    return {"securityPolicySummaries": _summaries(call, "security")}


@handles(SERVICE, "ListAccessPolicies")
def _list_acc(call: OfflineCall) -> dict[str, Any]:
    return {"accessPolicySummaries": _summaries(call, "access")}


def _update_policy(call: OfflineCall, kind: str) -> Policy:
    pol = _get_policy(call, kind)
    if call.params["policyVersion"] != pol.version:
        raise validation("The policyVersion does not match the latest version of the policy")
    if call.params.get("policy"):
        doc = json.loads(call.params["policy"])
        _check_document(pol.type, doc)
        pol.document = doc
    pol.description = call.params.get("description", pol.description)
    pol.updated = _ms()
    pol.version = uuid.uuid4().hex[:20]
    return pol


@handles(SERVICE, "UpdateSecurityPolicy")
def _update_sec(call: OfflineCall) -> dict[str, Any]:
    return {"securityPolicyDetail": _update_policy(call, "security").view()}


@handles(SERVICE, "UpdateAccessPolicy")
def _update_acc(call: OfflineCall) -> dict[str, Any]:
    return {"accessPolicyDetail": _update_policy(call, "access").view()}


@handles(SERVICE, "DeleteSecurityPolicy")
def _delete_sec(call: OfflineCall) -> dict[str, Any]:
    pol = _get_policy(call, "security")
    del account(call.account_id, call.region).policies[("security", pol.type, pol.name)]
    return {}


@handles(SERVICE, "DeleteAccessPolicy")
def _delete_acc(call: OfflineCall) -> dict[str, Any]:
    pol = _get_policy(call, "access")
    del account(call.account_id, call.region).policies[("access", pol.type, pol.name)]
    return {}


def _covered(acct: Account, ptype: str, rtype: str, resource: str) -> list[dict[str, Any]]:
    kind = "access" if ptype == "data" else "security"
    out = []
    for (k, t, _n), pol in acct.policies.items():
        if k == kind and t == ptype:
            out.extend(_rules_cover(pol.document, rtype, resource))
    return out


# --------------------------------------------------------------------------- collections


@handles(SERVICE, "CreateCollection")
def _create_collection(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = p["name"]
    if not _NAME.match(name):
        raise validation(
            f"Collection name {name!r} is invalid: 3-32 lowercase letters, numbers and hyphens, "
            "starting with a letter"
        )
    acct = account(call.account_id, call.region)
    if not _covered(acct, "encryption", "collection", f"collection/{name}"):
        raise validation(
            f"No matching security policy of encryption type found for collection name: {name}. "
            "Please create security policy of encryption type for this collection."
        )
    with _LOCK:
        if any(c.name == name for c in acct.collections.values()):
            raise AwsError(
                "ConflictException", f"A collection with name {name} already exists", 409
            )
        cid = uuid.uuid4().hex[:20]
        col = Collection(
            id=cid,
            name=name,
            arn=f"arn:aws:aoss:{call.region}:{call.account_id}:collection/{cid}",
            type=p.get("type") or "SEARCH",
            standby=p.get("standbyReplicas") or "ENABLED",
            description=p.get("description"),
            tags={t["key"]: t["value"] for t in p.get("tags") or []},
            region=call.region,
        )
        acct.collections[cid] = col
    return {"createCollectionDetail": col.view("CREATING")}


def _detail(col: Collection, account_id: str) -> dict[str, Any]:
    from mllab.offline.opensearchserverless import http

    v = col.view()
    col.endpoint = http.endpoint_for(account_id, col)
    v["collectionEndpoint"] = col.endpoint
    v["dashboardEndpoint"] = f"{col.endpoint}/_dashboards"
    return v


@handles(SERVICE, "BatchGetCollection")
def _batch_get(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    if bool(p.get("ids")) == bool(p.get("names")):
        raise validation("Specify either ids or names, not both")
    acct = account(call.account_id, call.region)
    details, errors = [], []
    for ident in p.get("ids") or []:
        col = acct.collections.get(ident)
        if col is None:
            errors.append(
                {"id": ident, "errorCode": "NOT_FOUND", "errorMessage": "Collection not found"}
            )
        else:
            details.append(_detail(col, call.account_id))
    for name in p.get("names") or []:
        found = [c for c in acct.collections.values() if c.name == name]
        if not found:
            errors.append(
                {"name": name, "errorCode": "NOT_FOUND", "errorMessage": "Collection not found"}
            )
        details.extend(_detail(c, call.account_id) for c in found)
    return {"collectionDetails": details, "collectionErrorDetails": errors}


@handles(SERVICE, "ListCollections")
def _list_collections(call: OfflineCall) -> dict[str, Any]:
    flt = call.params.get("collectionFilters") or {}
    out = []
    for c in account(call.account_id, call.region).collections.values():
        if flt.get("name") and c.name != flt["name"]:
            continue
        if flt.get("status") and flt["status"] != "ACTIVE":
            continue
        out.append(
            {"id": c.id, "name": c.name, "status": "ACTIVE", "arn": c.arn, "kmsKeyArn": "auto"}
        )
    return {"collectionSummaries": out}


@handles(SERVICE, "DeleteCollection")
def _delete_collection(call: OfflineCall) -> dict[str, Any]:
    acct = account(call.account_id, call.region)
    with _LOCK:
        col = acct.collections.pop(call.params["id"], None)
    if col is None:
        raise AwsError(
            "ResourceNotFoundException", f"Collection with id {call.params['id']} not found", 404
        )
    from mllab.offline.opensearchserverless import http

    http.stop(col.id)
    return {"deleteCollectionDetail": {"id": col.id, "name": col.name, "status": "DELETING"}}


def _by_arn(call: OfflineCall) -> Collection:
    arn = call.params["resourceArn"]
    for c in account(call.account_id, call.region).collections.values():
        if c.arn == arn:
            return c
    raise AwsError("ResourceNotFoundException", f"Resource {arn} not found", 404)


@handles(SERVICE, "TagResource")
def _tag(call: OfflineCall) -> dict[str, Any]:
    _by_arn(call).tags.update({t["key"]: t["value"] for t in call.params.get("tags") or []})
    return {}


@handles(SERVICE, "UntagResource")
def _untag(call: OfflineCall) -> dict[str, Any]:
    col = _by_arn(call)
    for k in call.params.get("tagKeys") or []:
        col.tags.pop(k, None)
    return {}


@handles(SERVICE, "ListTagsForResource")
def _list_tags(call: OfflineCall) -> dict[str, Any]:
    return {"tags": [{"key": k, "value": v} for k, v in _by_arn(call).tags.items()]}


# --------------------------------------------------------------------------- data plane


class Forbidden(Exception):
    """A 403 from the collection endpoint: the policies do not allow the request."""


def authorize(
    account_id: str, region: str, col: Collection, principal: str, index: str | None, perm: str
) -> None:
    """Raise :class:`Forbidden` unless network and data access policies allow the request.

    Args:
        account_id: the account.
        region: the region.
        col: the collection.
        principal: the caller's IAM principal ARN (a role ARN for assumed roles).
        index: the index name, or None for collection-level operations.
        perm: e.g. ``aoss:CreateIndex``, ``aoss:WriteDocument``, ``aoss:ReadDocument``.
    """
    acct = account(account_id, region)
    if not _covered(acct, "network", "collection", f"collection/{col.name}"):
        raise Forbidden(
            f"No network policy covers collection/{col.name}: create a network security "
            "policy (AllowFromPublic or a VPC endpoint) for it"
        )
    resource = f"index/{col.name}/{index}" if index else f"collection/{col.name}"
    rtype = "index" if index else "collection"
    for hit in _covered(acct, "data", rtype, resource):
        principals = hit["statement"].get("Principal") or []
        if not any(fnmatch.fnmatchcase(principal, pat) for pat in principals):
            continue
        perms = hit["rule"].get("Permission") or []
        if any(fnmatch.fnmatchcase(perm, pat) for pat in perms):
            return
    raise Forbidden(
        f"User does not have permissions for the requested resource: {principal} needs {perm} "
        f"on {resource} in a data access policy"
    )


def collection_by_arn(account_id: str, region: str, arn: str) -> Collection:
    """The collection with ``arn``, or ValidationException."""
    for c in account(account_id, region).collections.values():
        if c.arn == arn:
            return c
    raise validation(f"The OpenSearch Serverless collection {arn} does not exist")


def index_for_kb(
    account_id: str, region: str, collection_arn: str, index_name: str, fields: dict[str, str]
) -> SearchIndex:
    """The index a knowledge base writes to, checked as Bedrock checks it at creation.

    The index must exist with ``fieldMapping.vectorField`` mapped as ``knn_vector``; Bedrock
    writes and reads through the data access policy of the knowledge base's role (not
    re-checked here: the role is the service's).
    """
    col = collection_by_arn(account_id, region, collection_arn)
    if col.type != "VECTORSEARCH":
        raise validation(
            f"The collection {col.name} is of type {col.type}; knowledge bases need VECTORSEARCH"
        )
    idx = col.indexes.get(index_name)
    if idx is None:
        raise validation(
            "The knowledge base storage configuration provided is invalid... no such index "
            f"[{index_name}] in collection {col.name}. Create the vector index first."
        )
    if fields["vectorField"] not in idx.vector_fields():
        raise validation(
            f"The knowledge base storage configuration provided is invalid... the field "
            f"{fields['vectorField']} of index {index_name} is not of type knn_vector"
        )
    return idx


def stamp() -> str:
    """An ISO timestamp (for logs of the HTTP endpoint)."""
    return dt.datetime.now(dt.UTC).isoformat()
