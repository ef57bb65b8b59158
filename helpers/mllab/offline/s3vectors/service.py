"""Offline Amazon S3 Vectors: the ``s3vectors`` API answered by :mod:`.store`.

Introduced in the knowledge-base lab. moto 5.2's ``s3vectors`` backend stores buckets,
indexes and vectors but has no ``QueryVectors`` and checks none of the documented limits, so
every operation is answered here (``before`` handlers; moto never sees the call). State lives
per account and region in this module and is dropped when the offline account is reset.

What differs from AWS: search is exact (AWS's index is approximate), ``queryTexts`` /
``ENHANCED`` hybrid text search and KMS encryption are accepted as configuration only
(``queryTexts`` is refused with a clear error), and request rates are not throttled.
Storage, PUT and query charges are priced by the guard (``mllab.guard.declarations.vectors``).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset
from mllab.offline.s3vectors import store
from mllab.offline.s3vectors.store import Index, validation

SERVICE = "s3vectors"
_LOCK = threading.RLock()
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class Bucket:
    """One vector bucket: its indexes, policy and tags."""

    def __init__(self, name: str, arn: str, encryption: dict[str, Any], tags: dict[str, str]):
        self.name = name
        self.arn = arn
        self.encryption = encryption
        self.tags = dict(tags)
        self.created = dt.datetime.now(dt.UTC)
        self.indexes: dict[str, Index] = {}
        self.policy: str | None = None
        self.default_index_mode = "CLASSIC"


_STATE: dict[tuple[str, str], dict[str, Bucket]] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STATE.clear()


def buckets(account_id: str, region: str) -> dict[str, Bucket]:
    """The vector buckets of one account and region (the live dict)."""
    with _LOCK:
        return _STATE.setdefault((account_id, region), {})


def _not_found(what: str) -> AwsError:
    return AwsError("NotFoundException", f"The specified {what} could not be found", 404)


def _bucket_name(p: dict[str, Any]) -> str:
    if p.get("vectorBucketArn"):
        m = re.match(r"^arn:aws[\w-]*:s3vectors:[^:]*:\d*:bucket/([^/]+)$", p["vectorBucketArn"])
        if not m:
            raise validation(f"Invalid vector bucket ARN: {p['vectorBucketArn']}")
        return m.group(1)
    if p.get("vectorBucketName"):
        return str(p["vectorBucketName"])
    raise validation("Either vectorBucketName or vectorBucketArn must be provided")


def get_bucket(account_id: str, region: str, name: str) -> Bucket:
    """Return a bucket or raise AWS's NotFoundException."""
    b = buckets(account_id, region).get(name)
    if b is None:
        raise _not_found("vector bucket")
    return b


def get_index(account_id: str, region: str, p: dict[str, Any]) -> Index:
    """Resolve ``indexArn`` or (``vectorBucketName``/Arn + ``indexName``) to an index."""
    if p.get("indexArn"):
        m = re.match(
            r"^arn:aws[\w-]*:s3vectors:[^:]*:\d*:bucket/([^/]+)/index/([^/]+)$", p["indexArn"]
        )
        if not m:
            raise validation(f"Invalid index ARN: {p['indexArn']}")
        bname, iname = m.group(1), m.group(2)
    else:
        bname = _bucket_name(p)
        if not p.get("indexName"):
            raise validation("Either indexArn or indexName must be provided")
        iname = str(p["indexName"])
    idx = get_bucket(account_id, region, bname).indexes.get(iname)
    if idx is None:
        raise _not_found("index")
    return idx


def _page(items: list[Any], p: dict[str, Any], cap: int) -> tuple[list[Any], str | None]:
    size = int(p.get("maxResults") or cap)
    if size > cap:
        raise validation(f"maxResults must be at most {cap}")
    start = 0
    if p.get("nextToken"):
        try:
            start = int(base64.urlsafe_b64decode(p["nextToken"].encode()).decode())
        except ValueError as err:
            raise validation("The nextToken is not valid") from err
    chunk = items[start : start + size]
    nxt = start + size
    token = base64.urlsafe_b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
    return chunk, token


def _answer(body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    if token:
        body["nextToken"] = token
    return body


# --------------------------------------------------------------------------- buckets


@handles(SERVICE, "CreateVectorBucket")
def _create_bucket(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = str(p.get("vectorBucketName", ""))
    if not _BUCKET_NAME.match(name):
        raise validation(
            f"Invalid vector bucket name {name!r}: names are 3-63 characters of lowercase "
            "letters, numbers and hyphens, beginning and ending with a letter or number"
        )
    with _LOCK:
        all_b = buckets(call.account_id, call.region)
        if name in all_b:
            raise AwsError(
                "ConflictException", "A vector bucket with the specified name already exists", 409
            )
        arn = f"arn:aws:s3vectors:{call.region}:{call.account_id}:bucket/{name}"
        enc = p.get("encryptionConfiguration") or {"sseType": "AES256"}
        all_b[name] = Bucket(name, arn, enc, p.get("tags") or {})
    return {"vectorBucketArn": arn}


def _bucket_view(b: Bucket) -> dict[str, Any]:
    return {
        "vectorBucketName": b.name,
        "vectorBucketArn": b.arn,
        "creationTime": b.created,
        "encryptionConfiguration": b.encryption,
        "defaultIndexMode": b.default_index_mode,
    }


@handles(SERVICE, "GetVectorBucket")
def _get_bucket(call: OfflineCall) -> dict[str, Any]:
    b = get_bucket(call.account_id, call.region, _bucket_name(call.params))
    return {"vectorBucket": _bucket_view(b)}


@handles(SERVICE, "ListVectorBuckets")
def _list_buckets(call: OfflineCall) -> dict[str, Any]:
    prefix = call.params.get("prefix") or ""
    items = sorted(
        (b for b in buckets(call.account_id, call.region).values() if b.name.startswith(prefix)),
        key=lambda b: b.name,
    )
    page, token = _page(items, call.params, 500)
    out = [
        {"vectorBucketName": b.name, "vectorBucketArn": b.arn, "creationTime": b.created}
        for b in page
    ]
    return _answer({"vectorBuckets": out}, token)


@handles(SERVICE, "DeleteVectorBucket")
def _delete_bucket(call: OfflineCall) -> dict[str, Any]:
    name = _bucket_name(call.params)
    with _LOCK:
        b = get_bucket(call.account_id, call.region, name)
        if b.indexes:
            raise AwsError(
                "ConflictException",
                "The specified vector bucket is not empty: delete its indexes first "
                f"({', '.join(sorted(b.indexes))})",
                409,
            )
        del buckets(call.account_id, call.region)[name]
    return {}


@handles(SERVICE, "PutVectorBucketPolicy")
def _put_policy(call: OfflineCall) -> dict[str, Any]:
    import json

    b = get_bucket(call.account_id, call.region, _bucket_name(call.params))
    try:
        json.loads(call.params.get("policy") or "")
    except ValueError as err:
        raise validation("The policy is not valid JSON") from err
    b.policy = call.params["policy"]
    return {}


@handles(SERVICE, "GetVectorBucketPolicy")
def _get_policy(call: OfflineCall) -> dict[str, Any]:
    b = get_bucket(call.account_id, call.region, _bucket_name(call.params))
    if b.policy is None:
        raise _not_found("vector bucket policy")
    return {"policy": b.policy}


@handles(SERVICE, "DeleteVectorBucketPolicy")
def _delete_policy(call: OfflineCall) -> dict[str, Any]:
    b = get_bucket(call.account_id, call.region, _bucket_name(call.params))
    if b.policy is None:
        raise _not_found("vector bucket policy")
    b.policy = None
    return {}


@handles(SERVICE, "PutVectorBucketDefaultIndexMode")
def _put_mode(call: OfflineCall) -> dict[str, Any]:
    b = get_bucket(call.account_id, call.region, _bucket_name(call.params))
    b.default_index_mode = str(call.params.get("defaultIndexMode") or "CLASSIC")
    return {}


# --------------------------------------------------------------------------- indexes


@handles(SERVICE, "CreateIndex")
def _create_index(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = str(p.get("indexName", ""))
    if not _INDEX_NAME.match(name):
        raise validation(
            f"Invalid index name {name!r}: names are 3-63 characters of lowercase letters, "
            "numbers, hyphens and dots, beginning and ending with a letter or number"
        )
    if p.get("dataType") != "float32":
        raise validation("dataType must be float32")
    dim = p.get("dimension")
    if not isinstance(dim, int) or not 1 <= dim <= store.MAX_DIMENSION:
        raise validation(f"dimension must be between 1 and {store.MAX_DIMENSION}")
    metric = p.get("distanceMetric")
    if metric not in ("cosine", "euclidean"):
        raise validation("distanceMetric must be cosine or euclidean")
    conf = p.get("metadataConfiguration") or {}
    nf = list(conf.get("nonFilterableMetadataKeys") or [])
    if len(nf) > store.MAX_NON_FILTERABLE_KEYS:
        raise validation(
            f"nonFilterableMetadataKeys has {len(nf)} keys; at most "
            f"{store.MAX_NON_FILTERABLE_KEYS} are allowed per index"
        )
    with _LOCK:
        b = get_bucket(call.account_id, call.region, _bucket_name(p))
        if name in b.indexes:
            raise AwsError(
                "ConflictException", "An index with the specified name already exists", 409
            )
        arn = f"{b.arn}/index/{name}"
        b.indexes[name] = Index(
            bucket=b.name,
            name=name,
            arn=arn,
            dimension=dim,
            metric=metric,
            non_filterable=frozenset(nf),
            created=dt.datetime.now(dt.UTC),
            encryption=p.get("encryptionConfiguration") or b.encryption,
            tags=dict(p.get("tags") or {}),
        )
    return {"indexArn": arn}


@handles(SERVICE, "GetIndex")
def _get_index(call: OfflineCall) -> dict[str, Any]:
    idx = get_index(call.account_id, call.region, call.params)
    view: dict[str, Any] = {
        "vectorBucketName": idx.bucket,
        "indexName": idx.name,
        "indexArn": idx.arn,
        "creationTime": idx.created,
        "dataType": idx.data_type,
        "dimension": idx.dimension,
        "distanceMetric": idx.metric,
        "encryptionConfiguration": idx.encryption,
        "indexMode": "CLASSIC",
    }
    if idx.non_filterable:
        view["metadataConfiguration"] = {"nonFilterableMetadataKeys": sorted(idx.non_filterable)}
    return {"index": view}


@handles(SERVICE, "ListIndexes")
def _list_indexes(call: OfflineCall) -> dict[str, Any]:
    b = get_bucket(call.account_id, call.region, _bucket_name(call.params))
    prefix = call.params.get("prefix") or ""
    items = [b.indexes[n] for n in sorted(b.indexes) if n.startswith(prefix)]
    page, token = _page(items, call.params, 500)
    out = [
        {
            "vectorBucketName": i.bucket,
            "indexName": i.name,
            "indexArn": i.arn,
            "creationTime": i.created,
        }
        for i in page
    ]
    return _answer({"indexes": out}, token)


@handles(SERVICE, "DeleteIndex")
def _delete_index(call: OfflineCall) -> dict[str, Any]:
    with _LOCK:
        idx = get_index(call.account_id, call.region, call.params)
        del get_bucket(call.account_id, call.region, idx.bucket).indexes[idx.name]
    return {}


# --------------------------------------------------------------------------- vectors


@handles(SERVICE, "PutVectors")
def _put_vectors(call: OfflineCall) -> dict[str, Any]:
    idx = get_index(call.account_id, call.region, call.params)
    vectors = call.params.get("vectors") or []
    if not 1 <= len(vectors) <= store.MAX_PUT_BATCH:
        raise validation(
            f"PutVectors takes 1 to {store.MAX_PUT_BATCH} vectors per call; got {len(vectors)}"
        )
    records = []
    for v in vectors:
        key = str(v.get("key", ""))
        if not key:
            raise validation("Every vector needs a key")
        data = (v.get("data") or {}).get("float32")
        if data is None:
            raise validation(f"Invalid record for key '{key}': data.float32 is required")
        records.append(
            (key, idx.check_vector(key, data), idx.check_metadata(key, v.get("metadata")))
        )
    idx.put(records)
    return {}


def _vector_view(key: str, vec: Any, meta: dict[str, Any], data: bool, md: bool) -> dict:
    out: dict[str, Any] = {"key": key}
    if data:
        out["data"] = {"float32": [float(x) for x in vec]}
    if md:
        out["metadata"] = meta
    return out


@handles(SERVICE, "GetVectors")
def _get_vectors(call: OfflineCall) -> dict[str, Any]:
    idx = get_index(call.account_id, call.region, call.params)
    keys = call.params.get("keys") or []
    if not 1 <= len(keys) <= store.MAX_GET_BATCH:
        raise validation(f"GetVectors takes 1 to {store.MAX_GET_BATCH} keys per call")
    out = []
    for key in keys:
        got = idx.get(key)
        if got is not None:
            out.append(
                _vector_view(
                    key,
                    got[0],
                    got[1],
                    bool(call.params.get("returnData")),
                    bool(call.params.get("returnMetadata")),
                )
            )
    return {"vectors": out}


@handles(SERVICE, "ListVectors")
def _list_vectors(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    idx = get_index(call.account_id, call.region, p)
    keys = idx.keys()
    if p.get("segmentCount") is not None:
        count, seg = int(p["segmentCount"]), p.get("segmentIndex")
        if seg is None or not 0 <= int(seg) < count:
            raise validation("segmentIndex must be between 0 and segmentCount - 1")
        keys = keys[int(seg) :: count]
    elif p.get("segmentIndex") is not None:
        raise validation("segmentIndex requires segmentCount")
    page, token = _page(keys, p, store.MAX_LIST_PAGE)
    out = []
    for key in page:
        vec, meta = idx.get(key) or (None, {})
        out.append(
            _vector_view(key, vec, meta, bool(p.get("returnData")), bool(p.get("returnMetadata")))
        )
    return _answer({"vectors": out}, token)


@handles(SERVICE, "DeleteVectors")
def _delete_vectors(call: OfflineCall) -> dict[str, Any]:
    idx = get_index(call.account_id, call.region, call.params)
    keys = call.params.get("keys") or []
    if not 1 <= len(keys) <= store.MAX_DELETE_BATCH:
        raise validation(f"DeleteVectors takes 1 to {store.MAX_DELETE_BATCH} keys per call")
    idx.delete([str(k) for k in keys])
    return {}


@handles(SERVICE, "QueryVectors")
def _query_vectors(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    idx = get_index(call.account_id, call.region, p)
    if p.get("queryTexts"):
        raise validation(
            "queryTexts (hybrid text search on an ENHANCED index) is not emulated offline; "
            "query with queryVector (a knowledge base's HYBRID search works offline)"
        )
    if p.get("queryVector") is None:
        raise validation("queryVector is required")
    top_k = p.get("topK")
    if not isinstance(top_k, int) or not 1 <= top_k <= store.MAX_TOP_K:
        raise validation(f"topK must be between 1 and {store.MAX_TOP_K}; got {top_k!r}")
    hits = idx.query(p["queryVector"], top_k, p.get("filter"))
    out = []
    for key, dist, meta in hits:
        row: dict[str, Any] = {"key": key}
        if p.get("returnDistance"):
            row["distance"] = dist
        if p.get("returnMetadata"):
            row["metadata"] = meta
        out.append(row)
    return {"vectors": out, "distanceMetric": idx.metric}


# --------------------------------------------------------------------------- tags


def _tagged(account_id: str, region: str, arn: str) -> Bucket | Index:
    m = re.match(r"^arn:aws[\w-]*:s3vectors:[^:]*:\d*:bucket/([^/]+)(?:/index/([^/]+))?$", arn)
    if not m:
        raise validation(f"Invalid resource ARN: {arn}")
    b = get_bucket(account_id, region, m.group(1))
    if m.group(2) is None:
        return b
    idx = b.indexes.get(m.group(2))
    if idx is None:
        raise _not_found("index")
    return idx


@handles(SERVICE, "TagResource")
def _tag(call: OfflineCall) -> dict[str, Any]:
    _tagged(call.account_id, call.region, call.params["resourceArn"]).tags.update(
        call.params.get("tags") or {}
    )
    return {}


@handles(SERVICE, "UntagResource")
def _untag(call: OfflineCall) -> dict[str, Any]:
    res = _tagged(call.account_id, call.region, call.params["resourceArn"])
    for k in call.params.get("tagKeys") or []:
        res.tags.pop(k, None)
    return {}


@handles(SERVICE, "ListTagsForResource")
def _list_tags(call: OfflineCall) -> dict[str, Any]:
    return {"tags": dict(_tagged(call.account_id, call.region, call.params["resourceArn"]).tags)}


def stored_bytes(account_id: str, region: str) -> int:
    """Logical bytes stored (vector data + metadata + key), as S3 Vectors bills storage."""
    total = 0
    for b in buckets(account_id, region).values():
        for idx in b.indexes.values():
            for key in idx.keys():
                got = idx.get(key)
                meta = got[1] if got else {}
                total += 4 * idx.dimension + store.metadata_size(meta) + len(key.encode())
    return total
