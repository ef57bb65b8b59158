"""Retrieve on OpenSearch Serverless (SEMANTIC and HYBRID) and RetrieveAndGenerate with citations."""

from __future__ import annotations

import json
from typing import Any

import kb_corpus
import pytest
from botocore.exceptions import ClientError
from test_knowledge_base import EMBED_ARN, make_index, make_kb, make_source, put_corpus, sync

MODEL_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"


def _aoss_kb(lab: Any) -> str:
    aoss = lab.client("opensearchserverless")
    rule = [{"ResourceType": "collection", "Resource": ["collection/kb-*"]}]
    aoss.create_security_policy(
        name="kb-enc", type="encryption", policy=json.dumps({"Rules": rule, "AWSOwnedKey": True})
    )
    aoss.create_security_policy(
        name="kb-net", type="network", policy=json.dumps([{"Rules": rule, "AllowFromPublic": True}])
    )
    aoss.create_access_policy(
        name="kb-data",
        type="data",
        policy=json.dumps(
            [
                {
                    "Rules": [
                        {
                            "ResourceType": "index",
                            "Resource": ["index/kb-*/*"],
                            "Permission": ["aoss:*"],
                        }
                    ],
                    "Principal": [lab.role_arn, f"arn:aws:iam::{lab.account_id}:root"],
                }
            ]
        ),
    )
    col = aoss.create_collection(name="kb-docs", type="VECTORSEARCH")["createCollectionDetail"]
    endpoint = aoss.batch_get_collection(ids=[col["id"]])["collectionDetails"][0][
        "collectionEndpoint"
    ]
    from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

    host, port = endpoint.removeprefix("http://").split(":")
    client = OpenSearch(
        hosts=[{"host": host, "port": int(port)}],
        http_auth=AWSV4SignerAuth(lab.session.get_credentials(), lab.region, "aoss"),
        use_ssl=False,
        connection_class=RequestsHttpConnection,
    )
    client.indices.create(
        index="bedrock-kb-index",
        body={
            "settings": {"index.knn": True},
            "mappings": {
                "properties": {
                    "bedrock-kb-vector": {
                        "type": "knn_vector",
                        "dimension": 256,
                        "method": {"name": "hnsw", "engine": "faiss", "space_type": "l2"},
                    },
                    "AMAZON_BEDROCK_TEXT_CHUNK": {"type": "text"},
                    "AMAZON_BEDROCK_METADATA": {"type": "text", "index": False},
                }
            },
        },
    )
    agent = lab.client("bedrock-agent")
    storage = {
        "type": "OPENSEARCH_SERVERLESS",
        "opensearchServerlessConfiguration": {
            "collectionArn": col["arn"],
            "vectorIndexName": "bedrock-kb-index",
            "fieldMapping": {
                "vectorField": "bedrock-kb-vector",
                "textField": "AMAZON_BEDROCK_TEXT_CHUNK",
                "metadataField": "AMAZON_BEDROCK_METADATA",
            },
        },
    }
    conf = {
        "type": "VECTOR",
        "vectorKnowledgeBaseConfiguration": {
            "embeddingModelArn": EMBED_ARN,
            "embeddingModelConfiguration": {
                "bedrockEmbeddingModelConfiguration": {"dimensions": 256}
            },
        },
    }
    bad = json.loads(json.dumps(storage))
    bad["opensearchServerlessConfiguration"]["vectorIndexName"] = "missing"
    with pytest.raises(ClientError, match="no such index"):
        agent.create_knowledge_base(
            name="kb-bad",
            roleArn=lab.role_arn,
            knowledgeBaseConfiguration=conf,
            storageConfiguration=bad,
        )
    kb_id = agent.create_knowledge_base(
        name="kb-aoss",
        roleArn=lab.role_arn,
        knowledgeBaseConfiguration=conf,
        storageConfiguration=storage,
    )["knowledgeBase"]["knowledgeBaseId"]
    return kb_id


def test_kb_on_opensearch_serverless_semantic_hybrid_and_string_filters(lab: Any) -> None:
    put_corpus(lab)
    s3 = lab.client("s3")
    # a rare identifier: BM25 matches the exact term
    s3.put_object(
        Bucket=lab.bucket,
        Key="kb/errors.txt",
        Body=b"Error code QX7731 means the flux valve is stuck; replace it.",
    )
    kb_id = _aoss_kb(lab)
    st = sync(lab, kb_id, make_source(lab, kb_id))["statistics"]
    assert st["numberOfNewDocumentsIndexed"] == 13
    rt = lab.client("bedrock-agent-runtime")

    def top(search: str, q: str, k: int = 1) -> list[str]:
        res = rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": q},
            retrievalConfiguration={
                "vectorSearchConfiguration": {"numberOfResults": k, "overrideSearchType": search}
            },
        )
        return [
            r["location"]["s3Location"]["uri"].rsplit("/", 1)[-1] for r in res["retrievalResults"]
        ]

    hybrid_hits = sum(
        top("HYBRID", q, 3).count(k.rsplit("/", 1)[-1]) for q, k in kb_corpus.questions()
    )
    semantic_hits = sum(
        top("SEMANTIC", q, 3).count(k.rsplit("/", 1)[-1]) for q, k in kb_corpus.questions()
    )
    print(
        f"\nRecall@3 on 12 questions: HYBRID {hybrid_hits / 12:.2f}, SEMANTIC {semantic_hits / 12:.2f}"
    )
    assert hybrid_hits >= 11 and semantic_hits >= 11
    assert top("HYBRID", "QX7731")[0] == "errors.txt"
    # startsWith works on OpenSearch Serverless (not on S3 Vectors)
    res = rt.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "anything"},
        retrievalConfiguration={
            "vectorSearchConfiguration": {
                "numberOfResults": 20,
                "filter": {
                    "startsWith": {
                        "key": "x-amz-bedrock-kb-source-uri",
                        "value": f"s3://{lab.bucket}/kb/b",
                    }
                },
            }
        },
    )
    uris = {r["location"]["s3Location"]["uri"].rsplit("/", 1)[-1] for r in res["retrievalResults"]}
    assert uris == {"bees.txt", "bread.txt"}


def test_retrieve_and_generate_answers_from_chunks_with_citations_and_sessions(lab: Any) -> None:
    put_corpus(lab)
    kb_id = make_kb(lab, make_index(lab))
    sync(lab, kb_id, make_source(lab, kb_id))
    rt = lab.client("bedrock-agent-runtime")
    conf = {
        "type": "KNOWLEDGE_BASE",
        "knowledgeBaseConfiguration": {
            "knowledgeBaseId": kb_id,
            "modelArn": MODEL_ARN,
            "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 3}},
        },
    }
    out = rt.retrieve_and_generate(
        input={"text": "How much pressure is used to brew espresso coffee?"},
        retrieveAndGenerateConfiguration=conf,
    )
    text = out["output"]["text"]
    assert "nine bars" in text
    assert out["citations"], "every extractive sentence is cited"
    cit = out["citations"][0]
    span = cit["generatedResponsePart"]["textResponsePart"]["span"]
    assert (
        text[span["start"] : span["end"] + 1]
        == cit["generatedResponsePart"]["textResponsePart"]["text"]
    )
    refs = cit["retrievedReferences"]
    assert any(r["location"]["s3Location"]["uri"].endswith("coffee.txt") for r in refs)
    assert all(
        cit["generatedResponsePart"]["textResponsePart"]["text"].rstrip(".") in r["content"]["text"]
        for r in refs
    )
    session = out["sessionId"]
    again = rt.retrieve_and_generate(
        input={"text": "Why does sourdough bread rise?"},
        retrieveAndGenerateConfiguration=conf,
        sessionId=session,
    )
    assert again["sessionId"] == session and "yeast" in again["output"]["text"]
    with pytest.raises(ClientError, match="is not valid"):
        rt.retrieve_and_generate(
            input={"text": "x"}, retrieveAndGenerateConfiguration=conf, sessionId="no-such-session"
        )
    # a question the corpus cannot answer: no citation, a refusal
    none = rt.retrieve_and_generate(
        input={"text": "What is the capital of Mongolia?"}, retrieveAndGenerateConfiguration=conf
    )
    assert none["citations"] == [] or all(not c["retrievedReferences"] for c in none["citations"])
    # a prompt template must keep $search_results$
    bad = json.loads(json.dumps(conf))
    bad["knowledgeBaseConfiguration"]["generationConfiguration"] = {
        "promptTemplate": {"textPromptTemplate": "Answer: $query$"}
    }
    with pytest.raises(ClientError, match=r"\$search_results\$"):
        rt.retrieve_and_generate(input={"text": "coffee?"}, retrieveAndGenerateConfiguration=bad)
    good = json.loads(json.dumps(conf))
    good["knowledgeBaseConfiguration"]["generationConfiguration"] = {
        "promptTemplate": {
            "textPromptTemplate": "Use only these passages:\n$search_results$\nQuestion: $query$"
        }
    }
    assert (
        "nine bars"
        in rt.retrieve_and_generate(
            input={"text": "How much pressure brews espresso?"},
            retrieveAndGenerateConfiguration=good,
        )["output"]["text"]
    )


def test_guardrail_on_retrieve_and_generate_blocks_a_denied_topic(lab: Any) -> None:
    put_corpus(lab)
    kb_id = make_kb(lab, make_index(lab))
    sync(lab, kb_id, make_source(lab, kb_id))
    br = lab.client("bedrock")
    g = br.create_guardrail(
        name="no-coffee",
        topicPolicyConfig={
            "topicsConfig": [
                {
                    "name": "Coffee",
                    "definition": "Questions about brewing coffee or espresso drinks.",
                    "examples": ["How do I brew espresso?"],
                    "type": "DENY",
                }
            ]
        },
        blockedInputMessaging="Sorry, I cannot discuss that topic.",
        blockedOutputsMessaging="Sorry, I cannot discuss that topic.",
    )
    conf = {
        "type": "KNOWLEDGE_BASE",
        "knowledgeBaseConfiguration": {
            "knowledgeBaseId": kb_id,
            "modelArn": MODEL_ARN,
            "generationConfiguration": {
                "guardrailConfiguration": {
                    "guardrailId": g["guardrailId"],
                    "guardrailVersion": "DRAFT",
                }
            },
        },
    }
    rt = lab.client("bedrock-agent-runtime")
    blocked = rt.retrieve_and_generate(
        input={"text": "How much pressure is used to brew espresso coffee?"},
        retrieveAndGenerateConfiguration=conf,
    )
    assert (
        blocked["guardrailAction"] == "INTERVENED" and "cannot discuss" in blocked["output"]["text"]
    )
    ok = rt.retrieve_and_generate(
        input={"text": "Why does sourdough bread rise and taste sour?"},
        retrieveAndGenerateConfiguration=conf,
    )
    assert ok["guardrailAction"] == "NONE" and "yeast" in ok["output"]["text"]
