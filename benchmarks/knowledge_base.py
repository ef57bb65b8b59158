"""Offline knowledge base (S3 Vectors) against the same work done directly, as ratios.

Generates a seeded corpus of about 1,000 text documents (~2 MB), then times:

  A. direct: chunk every document (FIXED_SIZE, mllab.models.chunking), embed the chunks
     (mllab.models.embeddings) and stack them in a numpy matrix; Retrieve = embed the query
     and an exact cosine top-5 over the matrix;
  B. offline Bedrock: the documents in the lab's S3 bucket, CreateKnowledgeBase on an S3
     Vectors index, StartIngestionJob (lists and reads the objects, parses, chunks, embeds,
     PutVectors) and Retrieve through boto3 (query embedding + QueryVectors).

and prints ingestion B/A (target <= 1.5x) and the Retrieve p50 B/A (target <= 2x) at the
index size reached (~10k chunks at full size). Ratios are printed, never asserted.

Usage: python benchmarks/knowledge_base.py [--docs 1000] [--queries 50]
       python benchmarks/knowledge_base.py --quick        # 100 documents, 20 queries
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

WORDS = (
    "data model training vector index query cluster shard latency token budget region bucket "
    "policy role endpoint metric drift label feature pipeline schema partition batch stream "
    "glacier volcano coffee piano satellite tide bread chess vaccine marathon bee photon"
).split()


#: Retrieve's p50 in the offline plane itself, without boto3 and the guard's ledger writes.
OFFLINE_PLANE_P50: list[float] = []


def corpus(n: int, seed: int = 3) -> dict[str, str]:
    """``n`` documents of ~2 KB: sentences of seeded words, numbered facts."""
    rng = random.Random(seed)
    docs = {}
    for i in range(n):
        sents = []
        while sum(len(s) for s in sents) < 2000:
            k = rng.randint(8, 16)
            sents.append(" ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + f" item {i}.")
        docs[f"bench/doc{i:05d}.txt"] = " ".join(sents)
    return docs


def direct(
    docs: dict[str, str], queries: list[str], max_tokens: int
) -> tuple[float, list[float], int]:
    """Chunk + embed + exact search without the API; returns (ingest s, query s list, chunks)."""
    import numpy as np

    from mllab.models import chunking, embeddings

    t0 = time.perf_counter()
    texts = []
    for text in docs.values():
        texts += [c.text for c in chunking.fixed_size(text, max_tokens, 20)]
    mat = embeddings.embed(texts)
    ingest = time.perf_counter() - t0
    times = []
    for q in queries:
        t = time.perf_counter()
        v = embeddings.embed([q])[0]
        scores = mat @ v
        np.argpartition(-scores, 5)[:5]
        times.append(time.perf_counter() - t)
    return ingest, times, len(texts)


def offline(
    docs: dict[str, str], queries: list[str], max_tokens: int
) -> tuple[float, list[float], int]:
    """The same through the offline Bedrock knowledge-base API; returns (ingest s, query s, chunks)."""
    from mllab import Lab

    lab = Lab("bench-kb", backend="offline", budget_usd=50.0)
    try:
        s3 = lab.client("s3")
        for key, text in docs.items():
            s3.put_object(Bucket=lab.bucket, Key=key, Body=text.encode())
        s3v = lab.client("s3vectors")
        s3v.create_vector_bucket(vectorBucketName="bench-vectors")
        arn = s3v.create_index(
            vectorBucketName="bench-vectors",
            indexName="bench",
            dataType="float32",
            dimension=256,
            distanceMetric="cosine",
            metadataConfiguration={
                "nonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
            },
        )["indexArn"]
        agent = lab.client("bedrock-agent")
        kb = agent.create_knowledge_base(
            name="bench",
            roleArn=lab.role_arn,
            knowledgeBaseConfiguration={
                "type": "VECTOR",
                "vectorKnowledgeBaseConfiguration": {
                    "embeddingModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
                    "embeddingModelConfiguration": {
                        "bedrockEmbeddingModelConfiguration": {"dimensions": 256}
                    },
                },
            },
            storageConfiguration={
                "type": "S3_VECTORS",
                "s3VectorsConfiguration": {"indexArn": arn},
            },
        )["knowledgeBase"]["knowledgeBaseId"]
        ds = agent.create_data_source(
            knowledgeBaseId=kb,
            name="bench",
            dataSourceConfiguration={
                "type": "S3",
                "s3Configuration": {
                    "bucketArn": f"arn:aws:s3:::{lab.bucket}",
                    "inclusionPrefixes": ["bench/"],
                },
            },
            vectorIngestionConfiguration={
                "chunkingConfiguration": {
                    "chunkingStrategy": "FIXED_SIZE",
                    "fixedSizeChunkingConfiguration": {
                        "maxTokens": max_tokens,
                        "overlapPercentage": 20,
                    },
                }
            },
        )["dataSource"]["dataSourceId"]
        t0 = time.perf_counter()
        job = agent.start_ingestion_job(knowledgeBaseId=kb, dataSourceId=ds)["ingestionJob"]
        got = agent.get_ingestion_job(
            knowledgeBaseId=kb, dataSourceId=ds, ingestionJobId=job["ingestionJobId"]
        )["ingestionJob"]
        ingest = time.perf_counter() - t0
        assert got["status"] == "COMPLETE", got
        from mllab.offline.s3vectors import service

        chunks = len(service.get_index(lab.account_id, lab.region, {"indexArn": arn}))
        rt = lab.client("bedrock-agent-runtime")
        times = []
        for q in queries:
            t = time.perf_counter()
            rt.retrieve(
                knowledgeBaseId=kb,
                retrievalQuery={"text": q},
                retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 5}},
            )
            times.append(time.perf_counter() - t)
        from mllab.offline.bedrock import agent_runtime

        plane = []
        for q in queries:
            t = time.perf_counter()
            agent_runtime.retrieve(lab.account_id, lab.region, kb, q, None)
            plane.append(time.perf_counter() - t)
        OFFLINE_PLANE_P50.append(statistics.median(plane))
        return ingest, times, chunks
    finally:
        lab.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--docs", type=int, default=1000, help="documents (~2 KB each; default 1000)")
    ap.add_argument("--queries", type=int, default=50, help="Retrieve calls timed (default 50)")
    ap.add_argument(
        "--max-tokens", type=int, default=60, help="FIXED_SIZE maxTokens (default 60: ~10k chunks)"
    )
    ap.add_argument("--quick", action="store_true", help="100 documents, 20 queries")
    args = ap.parse_args()
    if args.quick:
        args.docs, args.queries = 100, 20
    docs = corpus(args.docs)
    rng = random.Random(11)
    queries = [" ".join(rng.choice(WORDS) for _ in range(6)) + "?" for _ in range(args.queries)]
    size = sum(len(t) for t in docs.values())
    from mllab.models import embeddings

    embeddings.embed(["warm up the model"])  # load the weights outside both timings
    a_ing, a_q, a_n = direct(docs, queries, args.max_tokens)
    b_ing, b_q, b_n = offline(docs, queries, args.max_tokens)
    a_p50, b_p50 = statistics.median(a_q), statistics.median(b_q)
    print(
        f"corpus: {len(docs)} documents, {size / 1e6:.2f} MB; chunks: direct {a_n}, knowledge base {b_n}"
    )
    print(
        f"ingestion: direct {a_ing:.2f} s, offline StartIngestionJob {b_ing:.2f} s -> {b_ing / a_ing:.2f}x (target <= 1.5x)"
    )
    print(
        f"Retrieve p50: direct {a_p50 * 1000:.2f} ms, offline {b_p50 * 1000:.2f} ms -> {b_p50 / a_p50:.2f}x (target <= 2x)"
    )
    plane = OFFLINE_PLANE_P50[0]
    print(
        f"  of which the offline plane itself (query embedding + QueryVectors, no boto3 or "
        f"guard): {plane * 1000:.2f} ms -> {plane / a_p50:.2f}x; the rest is boto3 and the "
        "guard's ledger (each billable call reserves and settles a SQLite row)"
    )


if __name__ == "__main__":
    main()
