"""Admission of the vector stores: Amazon S3 Vectors and OpenSearch Serverless.

Introduced in the knowledge-base lab, where the same knowledge base is built on both stores
so the ledger shows why the choice matters: S3 Vectors bills per GB stored, per GB PUT and
per query (cents for lab data), an OpenSearch Serverless collection bills at least its
minimum OCUs every hour from creation to deletion, queries or not (USD 0.48 an hour at 2
OCUs, about 350 USD a month). Prices: ``mllab/guard/vectors_pricing.json`` (dated, names
its source).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from mllab.guard import admission
from mllab.guard.declarations._util import paginate, tag_dict
from mllab.guard.estimate import Estimate, Policy, Refusal

S3V = "s3vectors"
AOSS = "opensearchserverless"
HOURS_PER_MONTH = 730.0


@cache
def prices() -> dict[str, Any]:
    """The vector-store price snapshot (``vectors_pricing.json``), read once."""
    return json.loads(resources.files("mllab.guard").joinpath("vectors_pricing.json").read_text())


def _label() -> str:
    p = prices()
    return f"vectors price snapshot of {p['snapshot_date']} ({p['region']})"


# --------------------------------------------------------------------------- S3 Vectors


def _vector_bytes(v: dict[str, Any]) -> int:
    data = (v.get("data") or {}).get("float32") or []
    meta = json.dumps(v.get("metadata") or {}, separators=(",", ":")).encode()
    return 4 * len(data) + len(meta) + len(str(v.get("key", "")).encode())


def put_vectors_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """PutVectors: logical bytes uploaded (min 128 KB a request) plus storage for the lab's ttl.

    Args:
        params: the PutVectors request.
        policy: the lab's policy (``ttl_hours`` bounds how long the vectors are stored;
            teardown deletes the index).

    Returns:
        The estimate (PUT charge + storage over ``ttl_hours``).
    """
    p = prices()["s3vectors"]
    size = sum(_vector_bytes(v) for v in params.get("vectors") or [])
    billed = max(size, int(p["put_min_bytes_per_request"]))
    put_usd = billed / 1e9 * float(p["put_usd_per_gb"])
    storage_usd = size / 1e9 * float(p["storage_usd_per_gb_month"]) * policy.ttl_hours / 730.0
    name = params.get("indexArn") or f"{params.get('vectorBucketName')}/{params.get('indexName')}"
    return Estimate(
        put_usd + storage_usd,
        str(name),
        detail={
            "bytes": size,
            "billed_put_bytes": billed,
            "put_usd": put_usd,
            "storage_usd_for_ttl": storage_usd,
            "basis": "USD per GB PUT (128 KB minimum per request) + GB-month storage for ttl",
            "snapshot": _label(),
        },
    )


def query_vectors_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """QueryVectors: per request plus data processed (the index's bytes, per query).

    Offline the index size is read from the offline store; on AWS it is assumed to be
    100,000 vectors of the query's dimension with 2 KB filterable metadata (worst case for a lab).
    """
    p = prices()["s3vectors"]
    dim = len((params.get("queryVector") or {}).get("float32") or []) or 1024
    n_vectors, per_vector = 100_000, 4 * dim + 2048
    try:
        from mllab import hooks
        from mllab.offline.s3vectors import service

        lab = hooks.active()
        if lab is not None and lab.backend == "offline":
            idx = service.get_index(lab.account_id, lab.region, params)
            n_vectors = len(idx)
    except Exception:  # noqa: BLE001 - unknown index: keep the worst case
        pass
    tb = n_vectors * per_vector / 1e12
    rate = (
        p["query_usd_per_tb_processed_first_100k_vectors"]
        if n_vectors <= 100_000
        else p["query_usd_per_tb_processed_over_100k_vectors"]
    )
    usd = float(p["query_usd_per_million_requests"]) / 1e6 + tb * float(rate)
    return Estimate(
        usd,
        str(params.get("indexArn") or params.get("indexName") or "query"),
        detail={"vectors": n_vectors, "tb_processed": tb, "snapshot": _label()},
    )


def _s3v(session: Any, region: str) -> Any:
    return session.client(S3V, region_name=region)


def _delete_index(session: Any, region: str, name: str) -> None:
    """Delete one vector index (``bucket/index`` or an index ARN); gone already is fine."""
    client = _s3v(session, region)
    kw = (
        {"indexArn": name}
        if name.startswith("arn:")
        else dict(zip(("vectorBucketName", "indexName"), name.split("/", 1), strict=True))
    )
    try:
        client.delete_index(**kw)
    except client.exceptions.NotFoundException:
        pass


def _delete_bucket(session: Any, region: str, name: str) -> None:
    """Delete one vector bucket (after its indexes: deletes them first); gone is fine."""
    client = _s3v(session, region)
    try:
        for page in client.get_paginator("list_indexes").paginate(vectorBucketName=name):
            for idx in page["indexes"]:
                _delete_index(session, region, idx["indexArn"])
        client.delete_vector_bucket(vectorBucketName=name)
    except client.exceptions.NotFoundException:
        pass


def _find_buckets(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    client = _s3v(session, region)
    for page in client.get_paginator("list_vector_buckets").paginate():
        for b in page["vectorBuckets"]:
            tags = client.list_tags_for_resource(resourceArn=b["vectorBucketArn"])["tags"]
            yield b["vectorBucketName"], dict(tags)


def _find_indexes(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    client = _s3v(session, region)
    for bucket, _tags in list(_find_buckets(session, region)):
        for page in client.get_paginator("list_indexes").paginate(vectorBucketName=bucket):
            for idx in page["indexes"]:
                tags = client.list_tags_for_resource(resourceArn=idx["indexArn"])["tags"]
                yield idx["indexArn"], dict(tags)


admission.deleter(
    "s3vectors-index",
    created_by=[(S3V, "CreateIndex"), (S3V, "PutVectors")],
    delete=_delete_index,
    find=_find_indexes,
    order=40,
)
admission.deleter(
    "s3vectors-bucket",
    created_by=[(S3V, "CreateVectorBucket")],
    delete=_delete_bucket,
    find=_find_buckets,
    order=45,
)
admission.read(
    S3V,
    "GetVectorBucket",
    "ListVectorBuckets",
    "GetIndex",
    "ListIndexes",
    "GetVectors",
    "ListVectors",
    "GetVectorBucketPolicy",
    "ListTagsForResource",
    note="S3 Vectors bills GET and LIST as part of the query charge only for QueryVectors",
)
admission.free(
    S3V,
    "CreateVectorBucket",
    "CreateIndex",
    "DeleteVectorBucket",
    "DeleteIndex",
    "DeleteVectors",
    "PutVectorBucketPolicy",
    "DeleteVectorBucketPolicy",
    "PutVectorBucketDefaultIndexMode",
    "UpdateIndexMode",
    "UpdateMetadataConfiguration",
    "TagResource",
    "UntagResource",
    note="an empty bucket or index stores nothing billable; vectors are priced at PutVectors",
)
admission.billable(
    S3V,
    "PutVectors",
    estimator=put_vectors_cost,
    deleter="s3vectors-index",
    note="USD per GB PUT and GB-month stored",
)
admission.billable(
    S3V,
    "QueryVectors",
    estimator=query_vectors_cost,
    deleter=admission.NOTHING_PERSISTS,
    note="USD per million queries plus TB processed",
)


# --------------------------------------------------------------------------- OpenSearch Serverless


def collection_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateCollection: the minimum OCUs x OCU-hour price x the lab's ttl.

    Args:
        params: the CreateCollection request (``standbyReplicas`` DISABLED halves the minimum).
        policy: ``ttl_hours`` is how long the collection is assumed to live (teardown deletes
            it); the estimate is what that many hours of the minimum capacity cost.

    Returns:
        The estimate with ``hourly_usd`` (the OCUs bill every hour, with or without queries).
    """
    p = prices()["opensearchserverless"]
    ctype = params.get("type")
    if ctype not in (None, "VECTORSEARCH", "SEARCH", "TIMESERIES"):
        raise Refusal(f"collection type {ctype!r} is unknown", "use type='VECTORSEARCH'")
    redundant = params.get("standbyReplicas", "ENABLED") != "DISABLED"
    ocus = p["min_ocus_with_redundancy"] if redundant else p["min_ocus_without_redundancy"]
    hourly = float(ocus) * float(p["ocu_usd_per_hour"])
    return Estimate(
        hourly * policy.ttl_hours,
        str(params.get("name", "")),
        hourly_usd=hourly,
        family="opensearch-serverless",
        detail={
            "ocus": ocus,
            "standby_replicas": "ENABLED" if redundant else "DISABLED",
            "ttl_hours": policy.ttl_hours,
            "usd_per_month_if_left_running": round(hourly * HOURS_PER_MONTH, 2),
            "basis": "minimum OCUs x OCU-hour x ttl (billed with or without queries)",
            "snapshot": _label(),
        },
    )


def _aoss(session: Any, region: str) -> Any:
    return session.client(AOSS, region_name=region)


def _delete_collection(session: Any, region: str, name: str) -> None:
    """Delete one collection by name (the OCUs stop billing); gone already is fine."""
    client = _aoss(session, region)
    found = client.batch_get_collection(names=[name]).get("collectionDetails") or []
    for c in found:
        try:
            client.delete_collection(id=c["id"])
        except client.exceptions.ResourceNotFoundException:
            pass


def _find_collections(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    client = _aoss(session, region)
    # ListCollections has no paginator in botocore: paginate follows nextToken by hand
    for c in paginate(client, "list_collections", "collectionSummaries", token_key="nextToken"):
        yield c["name"], tag_dict(client.list_tags_for_resource(resourceArn=c["arn"]).get("tags"))


def _delete_policy(session: Any, region: str, name: str) -> None:
    """Delete one policy named ``kind:type:name`` (security policy or access policy)."""
    client = _aoss(session, region)
    kind, ptype, pname = name.split(":", 2)
    try:
        if kind == "security":
            client.delete_security_policy(type=ptype, name=pname)
        else:
            client.delete_access_policy(type=ptype, name=pname)
    except client.exceptions.ResourceNotFoundException:
        pass


def _find_policies(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    """Every security and data access policy (policies carry no tags on AWS, so sweep cannot
    match them by tag; teardown deletes those a run created)."""
    client = _aoss(session, region)
    for ptype in ("encryption", "network"):
        for s in client.list_security_policies(type=ptype).get("securityPolicySummaries", []):
            yield f"security:{ptype}:{s['name']}", {}
    for s in client.list_access_policies(type="data").get("accessPolicySummaries", []):
        yield f"access:data:{s['name']}", {}


admission.deleter(
    "aoss-collection",
    created_by=[(AOSS, "CreateCollection")],
    delete=_delete_collection,
    find=_find_collections,
    order=30,
)
admission.deleter(
    "aoss-policy",
    created_by=[(AOSS, "CreateSecurityPolicy"), (AOSS, "CreateAccessPolicy")],
    delete=_delete_policy,
    find=_find_policies,
    order=60,
)
admission.billable(
    AOSS,
    "CreateCollection",
    estimator=collection_cost,
    deleter="aoss-collection",
    note="minimum OCUs bill every hour until the collection is deleted",
)
admission.read(
    AOSS,
    "BatchGetCollection",
    "ListCollections",
    "GetSecurityPolicy",
    "ListSecurityPolicies",
    "GetAccessPolicy",
    "ListAccessPolicies",
    "ListTagsForResource",
    "GetPoliciesStats",
    "GetAccountSettings",
    "BatchGetEffectiveLifecyclePolicy",
    "BatchGetLifecyclePolicy",
    "ListLifecyclePolicies",
    "ListVpcEndpoints",
    "BatchGetVpcEndpoint",
    "GetSecurityConfig",
    "ListSecurityConfigs",
)
admission.free(
    AOSS,
    "CreateSecurityPolicy",
    "UpdateSecurityPolicy",
    "DeleteSecurityPolicy",
    "CreateAccessPolicy",
    "UpdateAccessPolicy",
    "DeleteAccessPolicy",
    "DeleteCollection",
    "UpdateCollection",
    "TagResource",
    "UntagResource",
    note="policies cost nothing; deleting a collection stops its OCUs",
)
