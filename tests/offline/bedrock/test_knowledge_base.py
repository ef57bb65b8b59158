"""Offline knowledge bases on S3 Vectors: real ingestion, incremental sync, failures, recall."""

from __future__ import annotations

import json
from typing import Any

import kb_corpus
import pytest
from botocore.exceptions import ClientError

EMBED_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"


def make_index(lab: Any, dim: int = 256, name: str = "kb-index", nonfilterable: bool = True) -> str:
    s3v = lab.client("s3vectors")
    try:
        s3v.create_vector_bucket(vectorBucketName="kb-vectors")
    except ClientError:
        pass
    conf = (
        {
            "metadataConfiguration": {
                "nonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
            }
        }
        if nonfilterable
        else {}
    )
    return s3v.create_index(
        vectorBucketName="kb-vectors",
        indexName=name,
        dataType="float32",
        dimension=dim,
        distanceMetric="cosine",
        **conf,
    )["indexArn"]


def make_kb(lab: Any, index_arn: str, dims: int = 256, name: str = "docs-kb") -> str:
    agent = lab.client("bedrock-agent")
    kb = agent.create_knowledge_base(
        name=name,
        roleArn=lab.role_arn,
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {
                "embeddingModelArn": EMBED_ARN,
                "embeddingModelConfiguration": {
                    "bedrockEmbeddingModelConfiguration": {"dimensions": dims}
                },
            },
        },
        storageConfiguration={
            "type": "S3_VECTORS",
            "s3VectorsConfiguration": {"indexArn": index_arn},
        },
    )["knowledgeBase"]
    assert kb["status"] == "CREATING"
    assert (
        agent.get_knowledge_base(knowledgeBaseId=kb["knowledgeBaseId"])["knowledgeBase"]["status"]
        == "ACTIVE"
    )
    return kb["knowledgeBaseId"]


def make_source(
    lab: Any, kb_id: str, chunking: dict[str, Any] | None = None, prefix: str = "kb/"
) -> str:
    conf: dict[str, Any] = {}
    if chunking:
        conf["vectorIngestionConfiguration"] = {"chunkingConfiguration": chunking}
    return lab.client("bedrock-agent").create_data_source(
        knowledgeBaseId=kb_id,
        name=f"src-{abs(hash(json.dumps(chunking, sort_keys=True))) % 10**6}",
        dataSourceConfiguration={
            "type": "S3",
            "s3Configuration": {
                "bucketArn": f"arn:aws:s3:::{lab.bucket}",
                "inclusionPrefixes": [prefix],
            },
        },
        **conf,
    )["dataSource"]["dataSourceId"]


def sync(lab: Any, kb_id: str, ds_id: str) -> dict[str, Any]:
    agent = lab.client("bedrock-agent")
    job = agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"]
    assert job["status"] == "STARTING"
    got = agent.get_ingestion_job(
        knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job["ingestionJobId"]
    )
    return got["ingestionJob"]


def put_corpus(lab: Any) -> None:
    s3 = lab.client("s3")
    for key, text in kb_corpus.documents().items():
        s3.put_object(Bucket=lab.bucket, Key=key, Body=text.encode())


def recall_at_k(lab: Any, kb_id: str, k: int, labels: list[tuple[str, str]]) -> float:
    rt = lab.client("bedrock-agent-runtime")
    hits = 0
    for q, key in labels:
        res = rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": q},
            retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": k}},
        )["retrievalResults"]
        uris = [r["location"]["s3Location"]["uri"] for r in res]
        hits += f"s3://{lab.bucket}/{key}" in uris
    return hits / len(labels)


def test_ingestion_reads_chunks_embeds_and_reports_statistics(lab: Any) -> None:
    put_corpus(lab)
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="kb/picture.png", Body=b"\x89PNG....")
    s3.put_object(
        Bucket=lab.bucket,
        Key="kb/coffee.txt.metadata.json",
        Body=json.dumps({"metadataAttributes": {"topic": "drinks", "year": 2024}}).encode(),
    )
    s3.put_object(
        Bucket=lab.bucket, Key="kb/bees.txt.metadata.json", Body=b"{" + b" " * 11000 + b"}"
    )
    kb_id = make_kb(lab, make_index(lab))
    ds_id = make_source(
        lab,
        kb_id,
        {
            "chunkingStrategy": "FIXED_SIZE",
            "fixedSizeChunkingConfiguration": {"maxTokens": 80, "overlapPercentage": 10},
        },
    )
    job = sync(lab, kb_id, ds_id)
    st = job["statistics"]
    assert job["status"] == "COMPLETE"
    assert st["numberOfDocumentsScanned"] == 13
    assert st["numberOfMetadataDocumentsScanned"] == 2
    assert st["numberOfNewDocumentsIndexed"] == 11  # 12 texts - bees (metadata too large)
    assert st["numberOfDocumentsFailed"] == 2
    reasons = " ".join(job["failureReasons"])
    assert "picture.png" in reasons and "not supported" in reasons
    assert "bees.txt.metadata.json" in reasons and "10 KB" in reasons
    # the vectors really are in the S3 Vectors index, with AWS's metadata keys
    s3v = lab.client("s3vectors")
    listed = s3v.list_vectors(
        vectorBucketName="kb-vectors", indexName="kb-index", returnMetadata=True
    )["vectors"]
    assert len(listed) > 11
    md = listed[0]["metadata"]
    assert md["x-amz-bedrock-kb-data-source-id"] == ds_id and md["AMAZON_BEDROCK_TEXT"]
    # a metadata filter from the sidecar
    rt = lab.client("bedrock-agent-runtime")
    res = rt.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "coffee pressure"},
        retrievalConfiguration={
            "vectorSearchConfiguration": {
                "numberOfResults": 5,
                "filter": {
                    "andAll": [
                        {"equals": {"key": "topic", "value": "drinks"}},
                        {"greaterThan": {"key": "year", "value": 2020}},
                    ]
                },
            }
        },
    )["retrievalResults"]
    assert res and all(r["metadata"]["topic"] == "drinks" for r in res)
    assert all(r["location"]["s3Location"]["uri"].endswith("coffee.txt") for r in res)
    none = rt.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "coffee pressure"},
        retrievalConfiguration={
            "vectorSearchConfiguration": {"filter": {"equals": {"key": "topic", "value": "food"}}}
        },
    )["retrievalResults"]
    assert none == []
    # S3 Vectors supports only SEMANTIC search, as AWS documents
    with pytest.raises(ClientError, match="HYBRID"):
        rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": "coffee"},
            retrievalConfiguration={"vectorSearchConfiguration": {"overrideSearchType": "HYBRID"}},
        )


def test_incremental_sync_indexes_changes_and_deletes_removed_objects(lab: Any) -> None:
    put_corpus(lab)
    kb_id = make_kb(lab, make_index(lab))
    ds_id = make_source(lab, kb_id)
    first = sync(lab, kb_id, ds_id)["statistics"]
    assert first["numberOfNewDocumentsIndexed"] == 12
    again = sync(lab, kb_id, ds_id)["statistics"]
    assert (
        again["numberOfNewDocumentsIndexed"] == 0 and again["numberOfModifiedDocumentsIndexed"] == 0
    )
    s3 = lab.client("s3")
    s3.put_object(
        Bucket=lab.bucket,
        Key="kb/tides.txt",
        Body=b"Tides now describe the Zorvex harbour timetable.",
    )
    s3.delete_object(Bucket=lab.bucket, Key="kb/chess.txt")
    s3.put_object(
        Bucket=lab.bucket, Key="kb/new.md", Body=b"# Kites\n\nKites fly because wind lifts them."
    )
    st = sync(lab, kb_id, ds_id)["statistics"]
    assert st["numberOfModifiedDocumentsIndexed"] == 1
    assert st["numberOfDocumentsDeleted"] == 1
    assert st["numberOfNewDocumentsIndexed"] == 1
    rt = lab.client("bedrock-agent-runtime")
    uris = [
        r["location"]["s3Location"]["uri"]
        for r in rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": "castling the king with a rook"},
            retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 20}},
        )["retrievalResults"]
    ]
    assert not any(u.endswith("chess.txt") for u in uris)
    top = rt.retrieve(knowledgeBaseId=kb_id, retrievalQuery={"text": "Zorvex harbour timetable"})[
        "retrievalResults"
    ][0]
    assert "Zorvex" in top["content"]["text"]
    # the guard priced each job before it ran and settled it at the tokens really embedded
    rows = [
        r for r in lab.guard.ledger.rows(run=lab.guard.run) if r.operation == "StartIngestionJob"
    ]
    assert len(rows) == 3
    assert all(r.actual_usd is not None and r.actual_usd <= r.estimate_usd for r in rows)
    first_cost, unchanged_cost = sorted(rows, key=lambda r: r.id)[:2]
    assert unchanged_cost.actual_usd == 0.0 < first_cost.actual_usd  # nothing changed: no tokens
    jobs = lab.client("bedrock-agent").list_ingestion_jobs(
        knowledgeBaseId=kb_id, dataSourceId=ds_id
    )
    assert len(jobs["ingestionJobSummaries"]) == 3


def test_dimension_mismatch_and_filterable_size_fail_per_document(lab: Any) -> None:
    put_corpus(lab)
    agent = lab.client("bedrock-agent")
    kb_id = make_kb(lab, make_index(lab, dim=512, name="wrong-dim"), dims=256, name="kb-a")
    ds_id = make_source(lab, kb_id)
    job = sync(lab, kb_id, ds_id)
    assert job["statistics"]["numberOfDocumentsFailed"] == 12
    assert "does not match the dimension 512" in job["failureReasons"][0]
    # an index that did not declare the chunk text non-filterable: 2 KB filterable limit
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key="kb/long.txt", Body=("A long sentence about kites. " * 120).encode()
    )
    kb2 = make_kb(lab, make_index(lab, name="all-filterable", nonfilterable=False), name="kb-b")
    ds2 = make_source(lab, kb2, {"chunkingStrategy": "NONE"})
    job2 = sync(lab, kb2, ds2)
    assert job2["statistics"]["numberOfDocumentsFailed"] == 1
    assert job2["statistics"]["numberOfNewDocumentsIndexed"] == 12
    assert "2 KB" in job2["failureReasons"][0] and "long.txt" in job2["failureReasons"][0]
    with pytest.raises(ClientError, match="index not found"):
        agent.create_knowledge_base(
            name="kb-c",
            roleArn=lab.role_arn,
            knowledgeBaseConfiguration={
                "type": "VECTOR",
                "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBED_ARN},
            },
            storageConfiguration={
                "type": "S3_VECTORS",
                "s3VectorsConfiguration": {
                    "indexArn": "arn:aws:s3vectors:us-east-1:123456789012:bucket/kb-vectors/index/nope"
                },
            },
        )
    with pytest.raises(ClientError, match="dimensions 300 are not supported"):
        make_kb(lab, make_index(lab, dim=300, name="odd"), dims=300, name="kb-d")


def answer_recall_at_k(lab: Any, kb_id: str, k: int, labels: list[tuple[str, str]]) -> float:
    """Share of questions for which one of the top-k chunks holds the whole answer phrase."""
    rt = lab.client("bedrock-agent-runtime")
    hits = 0
    for q, phrase in labels:
        res = rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": q},
            retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": k}},
        )["retrievalResults"]
        hits += any(phrase in " ".join(r["content"]["text"].split()) for r in res)
    return hits / len(labels)


def _fixed(tokens: int, overlap: int) -> dict[str, Any]:
    return {
        "chunkingStrategy": "FIXED_SIZE",
        "fixedSizeChunkingConfiguration": {"maxTokens": tokens, "overlapPercentage": overlap},
    }


def test_recall_at_k_for_two_chunking_settings(
    lab: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put_corpus(lab)
    docs, answers = kb_corpus.questions(), kb_corpus.answers()
    results = {}
    for name, conf in (
        ("FIXED_SIZE 80 tokens, 20%", _fixed(80, 20)),
        ("FIXED_SIZE 8 tokens, 1%", _fixed(8, 1)),
    ):
        idx = name.split()[1] + "-tokens"
        kb = make_kb(lab, make_index(lab, name=f"idx-{idx}"), name=f"kb-{idx}")
        sync(lab, kb, make_source(lab, kb, conf))
        results[name] = (
            {k: recall_at_k(lab, kb, k, docs) for k in (1, 3)},
            {k: answer_recall_at_k(lab, kb, k, answers) for k in (1, 3)},
            kb,
        )
    big, small = results["FIXED_SIZE 80 tokens, 20%"], results["FIXED_SIZE 8 tokens, 1%"]
    # wrong labels (each question paired with another topic's document / answer) must miss
    shifted = [(q, docs[(i + 1) % len(docs)][1]) for i, (q, _k) in enumerate(docs)]
    wrong_docs = recall_at_k(lab, big[2], 3, shifted)
    wrong_answers = answer_recall_at_k(
        lab,
        big[2],
        3,
        [(q, answers[(i + 1) % len(answers)][1]) for i, (q, _a) in enumerate(answers)],
    )
    with capsys.disabled():
        for name, (rd, ra, _kb) in results.items():
            print(
                f"\n{name}: document Recall@1 {rd[1]:.2f} @3 {rd[3]:.2f}; "
                f"answer-in-chunk Recall@1 {ra[1]:.2f} @3 {ra[3]:.2f} ({len(docs)} questions)"
            )
        print(f"shuffled labels @3: document {wrong_docs:.2f}, answer {wrong_answers:.2f}")
    assert big[0][3] >= 0.9 and big[1][3] >= 0.75
    # chunks too small split the answer from its subject: measurably worse
    assert small[1][3] < big[1][3]
    assert wrong_docs <= 0.25 and wrong_answers <= 0.1


def test_hierarchical_returns_parents_and_semantic_chunks(lab: Any) -> None:
    put_corpus(lab)
    kb_id = make_kb(lab, make_index(lab))
    sync(
        lab,
        kb_id,
        make_source(
            lab,
            kb_id,
            {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {
                    "levelConfigurations": [{"maxTokens": 200}, {"maxTokens": 40}],
                    "overlapTokens": 10,
                },
            },
        ),
    )
    res = lab.client("bedrock-agent-runtime").retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "How do honey bees tell other bees where the flowers are?"},
        retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 3}},
    )["retrievalResults"]
    assert res[0]["location"]["s3Location"]["uri"].endswith("bees.txt")
    texts = [r["content"]["text"] for r in res]
    assert len(set(texts)) == len(texts)  # parents deduplicated
    from mllab.models import tokens

    assert tokens.count(texts[0]) > 40  # a parent, not a 40-token child
    kb2 = make_kb(lab, make_index(lab, name="semantic"), name="kb-sem")
    job = sync(
        lab,
        kb2,
        make_source(
            lab,
            kb2,
            {
                "chunkingStrategy": "SEMANTIC",
                "semanticChunkingConfiguration": {
                    "maxTokens": 120,
                    "bufferSize": 0,
                    "breakpointPercentileThreshold": 80,
                },
            },
        ),
    )
    assert job["statistics"]["numberOfNewDocumentsIndexed"] == 12
