"""The guard prices S3 Vectors PUT + storage and queries, and finds/deletes what a lab made."""

from __future__ import annotations

from typing import Any

import pytest

from mllab.guard import admission
from mllab.guard.declarations import vectors
from mllab.guard.estimate import Policy


def test_put_estimate_follows_bytes_minimum_and_ttl() -> None:
    small = {"indexArn": "arn:x", "vectors": [{"key": "a", "data": {"float32": [0.0] * 4}}]}
    big = {
        "indexArn": "arn:x",
        "vectors": [{"key": f"k{i}", "data": {"float32": [0.0] * 1024}} for i in range(500)],
    }
    p = vectors.prices()["s3vectors"]
    e_small = vectors.put_vectors_cost(small, Policy(ttl_hours=1))
    # a tiny request bills the 128 KB minimum
    assert e_small.detail["billed_put_bytes"] == p["put_min_bytes_per_request"]
    e_big = vectors.put_vectors_cost(big, Policy(ttl_hours=1))
    assert e_big.detail["bytes"] > 500 * 4096
    assert e_big.usd > e_small.usd
    longer = vectors.put_vectors_cost(big, Policy(ttl_hours=146))
    assert longer.detail["storage_usd_for_ttl"] == pytest.approx(
        e_big.detail["storage_usd_for_ttl"] * 146
    )


def test_collection_costs_minimum_ocus_every_hour_against_ttl() -> None:
    e = vectors.collection_cost({"name": "kb", "type": "VECTORSEARCH"}, Policy(ttl_hours=2))
    assert e.hourly_usd == pytest.approx(2 * 0.24) and e.usd == pytest.approx(0.96)
    assert e.detail["usd_per_month_if_left_running"] > 300
    dev = vectors.collection_cost(
        {"name": "kb", "type": "VECTORSEARCH", "standbyReplicas": "DISABLED"}, Policy()
    )
    assert dev.hourly_usd == pytest.approx(0.24)
    # S3 Vectors for the same lab hour is orders of magnitude cheaper
    put = vectors.put_vectors_cost(
        {"indexArn": "a", "vectors": [{"key": "k", "data": {"float32": [0.0] * 256}}] * 500},
        Policy(ttl_hours=2),
    )
    assert put.usd * 1000 < e.usd


def test_declarations_and_deleters_find_and_delete(lab: Any) -> None:
    admission.load_all()
    assert admission.classify("s3vectors", "PutVectors").kind == "billable"
    assert admission.classify("s3vectors", "GetIndex").kind == "read"
    assert (
        admission.classify("opensearchserverless", "CreateCollection").deleter == "aoss-collection"
    )
    s3v = lab.client("s3vectors")
    s3v.create_vector_bucket(vectorBucketName="vb-sweep", tags={"mllab:lab": "test-lab"})
    s3v.create_index(
        vectorBucketName="vb-sweep",
        indexName="idx1",
        dataType="float32",
        dimension=4,
        distanceMetric="euclidean",
    )
    s3v.put_vectors(
        vectorBucketName="vb-sweep",
        indexName="idx1",
        vectors=[{"key": "a", "data": {"float32": [1.0, 0, 0, 0]}}],
    )
    found = dict(admission.DELETERS["s3vectors-bucket"].find(lab.session, lab.region))
    assert found["vb-sweep"]["mllab:lab"] == "test-lab"
    admission.DELETERS["s3vectors-bucket"].delete(lab.session, lab.region, "vb-sweep")
    admission.DELETERS["s3vectors-bucket"].delete(lab.session, lab.region, "vb-sweep")  # idempotent
    assert s3v.list_vector_buckets()["vectorBuckets"] == []
