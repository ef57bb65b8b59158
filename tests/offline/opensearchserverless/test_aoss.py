"""Offline OpenSearch Serverless: policies gate collections and data, opensearch-py over SigV4."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

DIM = 8


def _policies(lab: Any, name: str = "vec", principal: str | None = None) -> None:
    aoss = lab.client("opensearchserverless")
    aoss.create_security_policy(
        name=f"{name}-enc",
        type="encryption",
        policy=json.dumps(
            {
                "Rules": [{"ResourceType": "collection", "Resource": [f"collection/{name}*"]}],
                "AWSOwnedKey": True,
            }
        ),
    )
    aoss.create_security_policy(
        name=f"{name}-net",
        type="network",
        policy=json.dumps(
            [
                {
                    "Rules": [{"ResourceType": "collection", "Resource": [f"collection/{name}*"]}],
                    "AllowFromPublic": True,
                }
            ]
        ),
    )
    aoss.create_access_policy(
        name=f"{name}-data",
        type="data",
        policy=json.dumps(
            [
                {
                    "Rules": [
                        {
                            "ResourceType": "index",
                            "Resource": [f"index/{name}*/*"],
                            "Permission": ["aoss:*"],
                        },
                        {
                            "ResourceType": "collection",
                            "Resource": [f"collection/{name}*"],
                            "Permission": ["aoss:*"],
                        },
                    ],
                    "Principal": [principal or f"arn:aws:iam::{lab.account_id}:root"],
                }
            ]
        ),
    )


def _client(lab: Any, endpoint: str) -> Any:
    from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

    host, port = endpoint.removeprefix("http://").split(":")
    auth = AWSV4SignerAuth(lab.session.get_credentials(), lab.region, "aoss")
    return OpenSearch(
        hosts=[{"host": host, "port": int(port)}],
        http_auth=auth,
        use_ssl=False,
        connection_class=RequestsHttpConnection,
        timeout=30,
    )


def test_collection_needs_encryption_policy_and_becomes_active(lab: Any) -> None:
    aoss = lab.client("opensearchserverless")
    with pytest.raises(ClientError, match="No matching security policy of encryption type"):
        aoss.create_collection(name="vec-kb", type="VECTORSEARCH")
    _policies(lab)
    created = aoss.create_collection(name="vec-kb", type="VECTORSEARCH")["createCollectionDetail"]
    assert created["status"] == "CREATING"
    got = aoss.batch_get_collection(names=["vec-kb"])["collectionDetails"][0]
    assert got["status"] == "ACTIVE" and got["collectionEndpoint"].startswith("http://127.0.0.1:")
    # the ledger shows the OCU-hours the collection is priced at
    rows = [
        r for r in lab.guard.ledger.rows(run=lab.guard.run) if r.operation == "CreateCollection"
    ]
    assert rows and rows[0].hourly_usd == pytest.approx(0.48)
    aoss.delete_collection(id=created["id"])
    assert aoss.batch_get_collection(names=["vec-kb"])["collectionDetails"] == []


def test_opensearch_py_knn_bulk_match_and_hybrid_through_sigv4(lab: Any) -> None:
    _policies(lab)
    aoss = lab.client("opensearchserverless")
    aoss.create_collection(name="vec-os", type="VECTORSEARCH")
    endpoint = aoss.batch_get_collection(names=["vec-os"])["collectionDetails"][0][
        "collectionEndpoint"
    ]
    os_client = _client(lab, endpoint)
    os_client.indices.create(
        index="docs",
        body={
            "settings": {"index.knn": True},
            "mappings": {
                "properties": {
                    "vec": {
                        "type": "knn_vector",
                        "dimension": DIM,
                        "method": {"name": "hnsw", "engine": "faiss", "space_type": "l2"},
                    },
                    "text": {"type": "text"},
                    "genre": {"type": "keyword"},
                }
            },
        },
    )
    rng = np.random.default_rng(0)
    mat = rng.normal(size=(40, DIM)).astype(np.float32)
    lines = []
    for i in range(40):
        lines.append(json.dumps({"index": {"_index": "docs", "_id": f"d{i}"}}))
        lines.append(
            json.dumps(
                {
                    "vec": mat[i].tolist(),
                    "text": f"document number {i} about {'cats' if i % 2 else 'dogs'}",
                    "genre": "a" if i < 20 else "b",
                }
            )
        )
    resp = os_client.bulk(body="\n".join(lines) + "\n")
    assert resp["errors"] is False and len(resp["items"]) == 40
    q = rng.normal(size=DIM).astype(np.float32)
    hits = os_client.search(
        index="docs", body={"size": 5, "query": {"knn": {"vec": {"vector": q.tolist(), "k": 5}}}}
    )["hits"]["hits"]
    expect = [f"d{i}" for i in np.argsort(((mat - q) ** 2).sum(axis=1))[:5]]
    assert [h["_id"] for h in hits] == expect
    assert hits[0]["_score"] == pytest.approx(
        1 / (1 + float(((mat[int(expect[0][1:])] - q) ** 2).sum())), rel=1e-4
    )
    filtered = os_client.search(
        index="docs",
        body={
            "size": 5,
            "query": {
                "knn": {"vec": {"vector": q.tolist(), "k": 5, "filter": {"term": {"genre": "b"}}}}
            },
        },
    )["hits"]["hits"]
    assert filtered and all(int(h["_id"][1:]) >= 20 for h in filtered)
    match = os_client.search(index="docs", body={"query": {"match": {"text": "cats"}}, "size": 50})[
        "hits"
    ]["hits"]
    assert len(match) == 20 and all(int(h["_id"][1:]) % 2 == 1 for h in match)
    hybrid = os_client.search(
        index="docs",
        body={
            "size": 3,
            "query": {
                "hybrid": {
                    "queries": [
                        {"match": {"text": "cats"}},
                        {"knn": {"vec": {"vector": q.tolist(), "k": 10}}},
                    ]
                }
            },
        },
    )["hits"]["hits"]
    assert len(hybrid) == 3
    bad = [json.dumps({"index": {"_index": "docs", "_id": "x"}}), json.dumps({"vec": [0.0] * 3})]
    resp = os_client.bulk(body="\n".join(bad) + "\n")
    assert resp["errors"] is True and "dimension mismatch" in json.dumps(resp["items"][0])


def test_data_access_policy_is_enforced_on_the_endpoint(lab: Any) -> None:
    from opensearchpy.exceptions import AuthorizationException

    _policies(lab, principal="arn:aws:iam::123456789012:role/someone-else")
    aoss = lab.client("opensearchserverless")
    aoss.create_collection(name="vec-deny", type="VECTORSEARCH")
    endpoint = aoss.batch_get_collection(names=["vec-deny"])["collectionDetails"][0][
        "collectionEndpoint"
    ]
    with pytest.raises(AuthorizationException):
        _client(lab, endpoint).indices.create(index="docs", body={})
