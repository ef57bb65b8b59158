"""Lab 06's given setup: lab 05's Northpeak knowledge base, rebuilt so lab 06 runs on its own.

Lab 05 ends with a knowledge base on Amazon S3 Vectors over Northpeak Outfitters' product
documents (PII masked; fixed-size chunks of 40 tokens retrieved best). Lab 06's agent searches
it. :func:`knowledge_base` makes the same thing from scratch with documented calls: the
documents (support case notes left out: they carry customer PII) under ``docs/clean/`` with
their metadata sidecars, a Bedrock service role, a vector bucket and a 512-dimension index, a
``VECTOR`` knowledge base with Titan Text Embeddings V2, an S3 data source and one finished
ingestion job.

Cost on AWS: the embeddings of ~150 KB of text and the S3 Vectors PUTs, well under a cent;
storage billed until teardown (``s3vectors.delete_vector_bucket``). Deletes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"
KB_ROLE = "northpeak-kb"


@dataclass(frozen=True)
class KnowledgeBase:
    """What :func:`knowledge_base` made.

    Attributes:
        kb_id: the knowledge base id.
        kb_arn: its ARN.
        ds_id: the S3 data source id.
        prefix: the data source's prefix (``docs/clean/``).
        vector_bucket: the S3 Vectors bucket.
        role_name: the Bedrock service role.
        products: the product names the documents cover.
    """

    kb_id: str
    kb_arn: str
    ds_id: str
    prefix: str
    vector_bucket: str
    role_name: str
    products: tuple[str, ...]


def wait_ingestion(agent: Any, job: dict[str, Any], poll: float) -> dict[str, Any]:
    """Poll ``GetIngestionJob`` until the job is no longer STARTING/IN_PROGRESS; return it."""
    while job["status"] in ("STARTING", "IN_PROGRESS"):
        time.sleep(poll)
        job = agent.get_ingestion_job(
            knowledgeBaseId=job["knowledgeBaseId"],
            dataSourceId=job["dataSourceId"],
            ingestionJobId=job["ingestionJobId"],
        )["ingestionJob"]
    return job


def knowledge_base(
    lab: Any, *, prefix: str = "docs/clean/", seed: int = 5, products: Sequence[str] | None = None
) -> KnowledgeBase:
    """Rebuild lab 05's knowledge base (given code of lab 06).

    Args:
        lab: the open lab.
        prefix: where the documents go (the data source's inclusion prefix).
        seed: the corpus seed (lab 05's is 5).
        products: only these products' documents (default all; tests use a few).

    Returns:
        The :class:`KnowledgeBase`. Costs well under a cent on AWS; deletes nothing.
    """
    from mllab.datasets import genai

    docs = genai.product_docs(seed=seed)
    docs = docs[docs["doc_type"] != "case-note"]
    if products is not None:
        docs = docs[docs["product"].isin(list(products))]
    s3, iam = lab.client("s3"), lab.client("iam")
    agent, s3v = lab.client("bedrock-agent"), lab.client("s3vectors")
    genai.write_corpus(s3, lab.bucket, prefix, docs)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": lab.account_id}},
            }
        ],
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{lab.bucket}", f"arn:aws:s3:::{lab.bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3vectors:PutVectors", "s3vectors:GetVectors",
                           "s3vectors:DeleteVectors", "s3vectors:QueryVectors",
                           "s3vectors:GetIndex"],
                "Resource": f"arn:aws:s3vectors:{lab.region}:{lab.account_id}:bucket/*",
            },
            {
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": f"arn:aws:bedrock:{lab.region}::foundation-model/{EMBEDDING_MODEL}",
            },
        ],
    }  # fmt: skip
    role_arn = iam.create_role(RoleName=KB_ROLE, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(RoleName=KB_ROLE, PolicyName="kb", PolicyDocument=json.dumps(policy))
    if lab.backend == "aws":
        time.sleep(15)  # a new role is not assumable at once
    bucket = lab.job_name("northpeak-vectors")
    s3v.create_vector_bucket(vectorBucketName=bucket)
    index_arn = s3v.create_index(
        vectorBucketName=bucket,
        indexName="docs",
        dataType="float32",
        dimension=512,
        distanceMetric="cosine",
        metadataConfiguration={
            "nonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
        },
    )["indexArn"]
    kb = agent.create_knowledge_base(
        name="northpeak-docs",
        roleArn=role_arn,
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {
                "embeddingModelArn": f"arn:aws:bedrock:{lab.region}::foundation-model/"
                f"{EMBEDDING_MODEL}",
                "embeddingModelConfiguration": {
                    "bedrockEmbeddingModelConfiguration": {"dimensions": 512}
                },
            },
        },
        storageConfiguration={"type": "S3_VECTORS", "s3VectorsConfiguration": {"indexArn": index_arn}},
    )["knowledgeBase"]  # fmt: skip
    ds = agent.create_data_source(
        knowledgeBaseId=kb["knowledgeBaseId"],
        name="clean-docs",
        dataSourceConfiguration={
            "type": "S3",
            "s3Configuration": {
                "bucketArn": f"arn:aws:s3:::{lab.bucket}",
                "inclusionPrefixes": [prefix],
            },
        },
        vectorIngestionConfiguration={
            "chunkingConfiguration": {
                "chunkingStrategy": "FIXED_SIZE",
                "fixedSizeChunkingConfiguration": {"maxTokens": 40, "overlapPercentage": 20},
            }
        },
        dataDeletionPolicy="DELETE",
    )["dataSource"]
    job = agent.start_ingestion_job(
        knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"]
    )["ingestionJob"]
    job = wait_ingestion(agent, job, 0.5 if lab.backend == "offline" else 10)
    if job["status"] != "COMPLETE":
        raise RuntimeError(f"the setup's ingestion job ended {job['status']}: {job}")
    return KnowledgeBase(
        kb_id=kb["knowledgeBaseId"],
        kb_arn=kb["knowledgeBaseArn"],
        ds_id=ds["dataSourceId"],
        prefix=prefix,
        vector_bucket=bucket,
        role_name=KB_ROLE,
        products=tuple(sorted(docs["product"].unique())),
    )
