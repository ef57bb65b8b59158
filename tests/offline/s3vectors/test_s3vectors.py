"""Offline S3 Vectors: exact search checked against numpy brute force, filters, limits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

DIM = 16


def _setup(lab: Any, metric: str = "cosine", n: int = 300, seed: int = 0) -> tuple[Any, Any]:
    s3v = lab.client("s3vectors")
    s3v.create_vector_bucket(vectorBucketName="vb-test")
    s3v.create_index(
        vectorBucketName="vb-test",
        indexName="docs",
        dataType="float32",
        dimension=DIM,
        distanceMetric=metric,
        metadataConfiguration={"nonFilterableMetadataKeys": ["text"]},
    )
    rng = np.random.default_rng(seed)
    mat = rng.normal(size=(n, DIM)).astype(np.float32)
    for start in range(0, n, 100):
        s3v.put_vectors(
            vectorBucketName="vb-test",
            indexName="docs",
            vectors=[
                {
                    "key": f"k{i}",
                    "data": {"float32": mat[i].tolist()},
                    "metadata": {
                        "genre": ["drama", "comedy", "news"][i % 3],
                        "year": 2000 + i % 25,
                        "tags": ["a", "b"] if i % 2 else ["c"],
                        "text": f"chunk {i}",
                    },
                }
                for i in range(start, min(n, start + 100))
            ],
        )
    return s3v, mat


def _brute(mat: np.ndarray, q: np.ndarray, metric: str, rows: np.ndarray, k: int) -> list[str]:
    if metric == "cosine":
        d = 1 - (mat[rows] / np.linalg.norm(mat[rows], axis=1)[:, None]) @ (q / np.linalg.norm(q))
    else:
        d = np.linalg.norm(mat[rows] - q, axis=1)
    return [f"k{rows[i]}" for i in np.argsort(d, kind="stable")[:k]]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_query_returns_exact_nearest_neighbours(lab: Any, metric: str) -> None:
    s3v, mat = _setup(lab, metric)
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = rng.normal(size=DIM).astype(np.float32)
        out = s3v.query_vectors(
            vectorBucketName="vb-test",
            indexName="docs",
            queryVector={"float32": q.tolist()},
            topK=10,
            returnDistance=True,
        )
        assert out["distanceMetric"] == metric
        keys = [v["key"] for v in out["vectors"]]
        assert keys == _brute(mat, q, metric, np.arange(len(mat)), 10)
        dists = [v["distance"] for v in out["vectors"]]
        assert dists == sorted(dists)
        assert "metadata" not in out["vectors"][0]


def test_filters_pre_filter_and_match_the_documented_operators(lab: Any) -> None:
    s3v, mat = _setup(lab)
    q = np.random.default_rng(2).normal(size=DIM).astype(np.float32)
    cases = {
        "eq": ({"genre": "drama"}, lambda i: i % 3 == 0),
        "explicit-eq": ({"genre": {"$eq": "news"}}, lambda i: i % 3 == 2),
        "ne": ({"genre": {"$ne": "drama"}}, lambda i: i % 3 != 0),
        "gte-lt": (
            {"$and": [{"year": {"$gte": 2010}}, {"year": {"$lt": 2015}}]},
            lambda i: 10 <= i % 25 < 15,
        ),
        "or": (
            {"$or": [{"genre": "comedy"}, {"year": {"$gt": 2023}}]},
            lambda i: i % 3 == 1 or i % 25 > 23,
        ),
        "in": ({"genre": {"$in": ["comedy", "news"]}}, lambda i: i % 3 != 0),
        "nin": ({"year": {"$nin": [2000, 2001]}}, lambda i: i % 25 not in (0, 1)),
        "list-eq": ({"tags": "a"}, lambda i: i % 2 == 1),
        "exists-false": ({"missing": {"$exists": False}}, lambda i: True),
        "lte": ({"year": {"$lte": 2002}}, lambda i: i % 25 <= 2),
    }
    for name, (flt, pred) in cases.items():
        rows = np.array([i for i in range(len(mat)) if pred(i)])
        out = s3v.query_vectors(
            vectorBucketName="vb-test",
            indexName="docs",
            queryVector={"float32": q.tolist()},
            topK=7,
            filter=flt,
            returnMetadata=True,
        )
        keys = [v["key"] for v in out["vectors"]]
        assert keys == _brute(mat, q, "cosine", rows, 7), name
        assert out["vectors"][0]["metadata"]["text"].startswith("chunk")
    # a filter nothing matches returns nothing, not the unfiltered neighbours
    out = s3v.query_vectors(
        vectorBucketName="vb-test",
        indexName="docs",
        queryVector={"float32": q.tolist()},
        topK=5,
        filter={"genre": "opera"},
    )
    assert out["vectors"] == []


def _error(fn: Any, **kw: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as info:
        fn(**kw)
    return info.value.response["Error"]


def test_documented_limits_and_errors(lab: Any) -> None:
    s3v, _ = _setup(lab, n=10)
    base = {"vectorBucketName": "vb-test", "indexName": "docs"}
    err = _error(
        s3v.put_vectors, **base, vectors=[{"key": "x", "data": {"float32": [0.1] * (DIM + 1)}}]
    )
    assert err["Code"] == "ValidationException" and f"length {DIM}" in err["Message"]
    err = _error(s3v.query_vectors, **base, queryVector={"float32": [0.1] * 3}, topK=3)
    assert "expects 16 dimensions" in err["Message"]
    err = _error(s3v.query_vectors, **base, queryVector={"float32": [0.1] * DIM}, topK=101)
    assert "topK must be between 1 and 100" in err["Message"]
    # a key that is non-filterable cannot be filtered on
    err = _error(
        s3v.query_vectors,
        **base,
        queryVector={"float32": [0.1] * DIM},
        topK=3,
        filter={"text": "chunk 1"},
    )
    assert "non-filterable" in err["Message"]
    err = _error(
        s3v.query_vectors,
        **base,
        queryVector={"float32": [0.1] * DIM},
        topK=3,
        filter={"year": {"$between": [1, 2]}},
    )
    assert "unsupported operator" in err["Message"]
    # filterable metadata over 2 KB is refused; the same text in a non-filterable key is fine
    big = "x" * 2100
    err = _error(
        s3v.put_vectors,
        **base,
        vectors=[{"key": "big", "data": {"float32": [0.1] * DIM}, "metadata": {"body": big}}],
    )
    assert "2 KB" in err["Message"]
    s3v.put_vectors(
        **base,
        vectors=[{"key": "big", "data": {"float32": [0.1] * DIM}, "metadata": {"text": big}}],
    )
    err = _error(
        s3v.put_vectors,
        **base,
        vectors=[
            {"key": "huge", "data": {"float32": [0.1] * DIM}, "metadata": {"text": "y" * 41000}}
        ],
    )
    assert "40 KB" in err["Message"]
    err = _error(
        s3v.put_vectors,
        **base,
        vectors=[{"key": f"b{i}", "data": {"float32": [0.1] * DIM}} for i in range(501)],
    )
    assert "500" in err["Message"]
    err = _error(s3v.delete_vector_bucket, vectorBucketName="vb-test")
    assert err["Code"] == "ConflictException"
    err = _error(s3v.get_index, vectorBucketName="vb-test", indexName="nope")
    assert err["Code"] == "NotFoundException"
    err = _error(s3v.create_vector_bucket, vectorBucketName="Bad_Name")
    assert err["Code"] == "ValidationException"


def test_get_list_delete_overwrite_and_teardown_order(lab: Any) -> None:
    s3v, mat = _setup(lab, n=250)
    base = {"vectorBucketName": "vb-test", "indexName": "docs"}
    got = s3v.get_vectors(**base, keys=["k3", "absent"], returnData=True, returnMetadata=True)
    assert [v["key"] for v in got["vectors"]] == ["k3"]
    assert np.allclose(got["vectors"][0]["data"]["float32"], mat[3])
    assert got["vectors"][0]["metadata"]["genre"] == "drama"
    pages = list(
        s3v.get_paginator("list_vectors").paginate(**base, PaginationConfig={"PageSize": 100})
    )
    assert len(pages) == 3 and sum(len(p["vectors"]) for p in pages) == 250
    # overwrite k0 with the negation of k1's neighbour query: the query must find the new data
    s3v.put_vectors(**base, vectors=[{"key": "k0", "data": {"float32": mat[7].tolist()}}])
    out = s3v.query_vectors(**base, queryVector={"float32": mat[7].tolist()}, topK=2)
    assert {v["key"] for v in out["vectors"]} == {"k0", "k7"}
    s3v.delete_vectors(**base, keys=[f"k{i}" for i in range(200)])
    out = s3v.query_vectors(**base, queryVector={"float32": mat[7].tolist()}, topK=100)
    assert len(out["vectors"]) == 50 and all(int(v["key"][1:]) >= 200 for v in out["vectors"])
    arn = s3v.get_index(**base)["index"]["indexArn"]
    s3v.tag_resource(resourceArn=arn, tags={"team": "ml"})
    assert s3v.list_tags_for_resource(resourceArn=arn)["tags"]["team"] == "ml"
    s3v.delete_index(indexArn=arn)
    s3v.delete_vector_bucket(vectorBucketName="vb-test")
    assert s3v.list_vector_buckets()["vectorBuckets"] == []
