"""The deleters teardown and sweep use for knowledge bases, collections, policies and jobs."""

from __future__ import annotations

import json
from typing import Any

from test_knowledge_base import make_index, make_kb, make_source

from mllab.guard import admission


def _delete(kind: str, lab: Any, name: str) -> None:
    admission.load_all()
    d = admission.DELETERS[kind]
    d.delete(lab.session, lab.region, name)
    d.delete(lab.session, lab.region, name)  # idempotent: gone already is fine


def test_knowledge_base_and_data_source_deleters(lab: Any) -> None:
    kb_id = make_kb(lab, make_index(lab))
    make_source(lab, kb_id)
    agent = lab.client("bedrock-agent")
    ds_name = agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"][0]["name"]
    _delete("bedrock-data-source", lab, ds_name)
    assert agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"] == []
    make_source(lab, kb_id)
    _delete("bedrock-knowledge-base", lab, "docs-kb")
    assert agent.list_knowledge_bases()["knowledgeBaseSummaries"] == []
    # the vector index outlives the knowledge base, as on AWS, until its own deleter runs
    assert lab.client("s3vectors").list_indexes(vectorBucketName="kb-vectors")["indexes"]
    _delete("s3vectors-bucket", lab, "kb-vectors")
    assert lab.client("s3vectors").list_vector_buckets()["vectorBuckets"] == []


def test_collection_and_policy_deleters(lab: Any) -> None:
    aoss = lab.client("opensearchserverless")
    rule = [{"ResourceType": "collection", "Resource": ["collection/gone*"]}]
    aoss.create_security_policy(
        name="gone-enc", type="encryption", policy=json.dumps({"Rules": rule, "AWSOwnedKey": True})
    )
    aoss.create_collection(
        name="gone-col", type="VECTORSEARCH", tags=[{"key": "team", "value": "ml"}]
    )
    found = dict(admission.DELETERS["aoss-collection"].find(lab.session, lab.region))
    assert found["gone-col"]["team"] == "ml"  # the learner's tag, beside the run's
    assert found["gone-col"]["mllab:run"] == lab.guard.run
    _delete("aoss-collection", lab, "gone-col")
    assert aoss.list_collections()["collectionSummaries"] == []
    names = [n for n, _t in admission.DELETERS["aoss-policy"].find(lab.session, lab.region)]
    assert names == ["security:encryption:gone-enc"]
    _delete("aoss-policy", lab, names[0])
    assert aoss.list_security_policies(type="encryption")["securityPolicySummaries"] == []
