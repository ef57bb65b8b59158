"""Checks of lab 05 (a generative AI support assistant): each reads the real state back.

Introduced in lab 05. Every ``verify_*`` function inspects the account through documented
boto3 calls (``bedrock``, ``bedrock-runtime``, ``bedrock-agent``, ``bedrock-agent-runtime``,
``s3vectors``, ``s3``, ``logs``, ``cloudwatch``) and recomputes the figures a requirement
states from the service, never from the learner's variables: the model choice from the
invocation logs, Recall@k by calling ``Retrieve``, the guardrail's behaviour by running the
red-team set through ``ApplyGuardrail``, the token cost by running both prompt versions, ROUGE-L
from the evaluation datasets in S3. Each returns a one-line note for the PASS line or raises
:class:`~mllab.checks.core.CheckFailed` saying what is missing and how to find out.

Cost: the inspectors are read-only, except four that call models the way the requirement does
(priced by the guard like any call, fractions of a cent): :func:`verify_chunking` (``Retrieve``,
which embeds the questions), :func:`verify_guardrail` (``ApplyGuardrail`` text units),
:func:`verify_token_cost` (Converse on two prompt versions) and :func:`verify_retrieval`
(``Retrieve`` once without the filter). Nothing is deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from mllab.checks.core import CheckFailed
from mllab.datasets.genai import find_pii

# --------------------------------------------------------------------------- helpers


def _fail(message: str) -> None:
    raise CheckFailed(message)


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def model_key(model_id: str) -> str:
    """The model or inference-profile id of an id or ARN (``arn:...:inference-profile/us.x`` -> ``us.x``)."""
    return str(model_id).rsplit("/", 1)[-1]


def quote(lab: Any, service: str, operation: str, params: Mapping[str, Any]) -> Any:
    """The cost guard's worst-case estimate of a request, without sending it.

    Introduced in lab 05 (pricing a vector store before choosing it). Costs nothing; sends
    nothing; deletes nothing.

    Args:
        lab: the open lab (its guard's policy bounds the estimate, e.g. ``ttl_hours``).
        service: botocore's service id, e.g. ``"opensearchserverless"``.
        operation: the operation name, e.g. ``"CreateCollection"``.
        params: the request as you would pass it to boto3.

    Returns:
        The :class:`mllab.guard.estimate.Estimate` (``usd``, ``hourly_usd``, ``detail``).

    Raises:
        ValueError: the guard has no estimator for that operation (it is not billable, or
            not declared).
    """
    from mllab.guard import admission
    from mllab.guard.estimate import ESTIMATORS

    admission.load_all()
    est = ESTIMATORS.get((service, operation))
    if est is None:
        raise ValueError(
            f"the cost guard has no estimator for {service}:{operation}; it prices "
            "billable operations only (see helpers/mllab/guard/declarations/)"
        )
    return est(dict(params), lab.guard.policy)


def log_records(lab: Any, log_group: str) -> list[dict[str, Any]]:
    """Every model-invocation log record in a CloudWatch Logs group, oldest first.

    Args:
        lab: the open lab.
        log_group: the group named in the logging configuration.

    Returns:
        The parsed JSON records (AWS's ``ModelInvocationLog`` schema). Read-only.

    Raises:
        CheckFailed: the group does not exist.
    """
    logs = lab.client("logs")
    out: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"logGroupName": log_group}
    try:
        while True:
            page = logs.filter_log_events(**kw)
            for e in page.get("events", []):
                try:
                    out.append(json.loads(e["message"]))
                except (ValueError, KeyError):
                    continue
            token = page.get("nextToken")
            if not token or token == kw.get("nextToken"):
                break
            kw["nextToken"] = token
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            _fail(
                f"log group {log_group} does not exist: create it and name it in "
                "bedrock.put_model_invocation_logging_configuration"
            )
        raise
    return out


def _texts(value: Any) -> list[str]:
    """Every string under a JSON value (the text of a logged request or response)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _answer(body: Any) -> str:
    """The assistant text of a logged Converse (or native) response body."""
    if isinstance(body, Mapping):
        msg = (body.get("output") or {}).get("message") or {}
        parts = [c.get("text", "") for c in msg.get("content", []) if isinstance(c, Mapping)]
        if parts:
            return " ".join(parts)
    return " ".join(_texts(body))


def _latency(record: Mapping[str, Any]) -> float | None:
    out = (record.get("output") or {}).get("outputBodyJson") or {}
    ms = (out.get("metrics") or {}).get("latencyMs") if isinstance(out, Mapping) else None
    return float(ms) if ms is not None else None


def _price(model_id: str) -> tuple[float, float]:
    from mllab.models import catalog

    p = catalog.profile(model_key(model_id))
    if p is None:
        _fail(f"{model_id} is not a Bedrock model or inference-profile id the lab knows")
    return float(p.usd_per_1k_input), float(p.usd_per_1k_output)  # type: ignore[union-attr]


def _s3_read(lab: Any, uri_or_key: str) -> bytes:
    bucket, key = _split(lab, uri_or_key)
    return bytes(lab.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _split(lab: Any, uri_or_key: str) -> tuple[str, str]:
    if uri_or_key.startswith("s3://"):
        bucket, _, key = uri_or_key[5:].partition("/")
        return bucket, key
    return str(lab.bucket), uri_or_key


def _keys(lab: Any, prefix: str, bucket: str | None = None) -> list[str]:
    s3 = lab.client("s3")
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket or lab.bucket, Prefix=prefix
    ):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def _doc_id(uri: str) -> str:
    return uri.rsplit("/", 1)[-1].removesuffix(".txt")


def _index_arn(lab: Any, kb_id: str) -> str:
    kb = _kb(lab, kb_id)
    store = kb.get("storageConfiguration") or {}
    if store.get("type") != "S3_VECTORS":
        _fail(
            f"knowledge base {kb_id} stores its vectors in {store.get('type')}, not S3_VECTORS "
            "(storageConfiguration.type)"
        )
    cfg = store.get("s3VectorsConfiguration") or {}
    if cfg.get("indexArn"):
        return str(cfg["indexArn"])
    bucket = str(cfg.get("vectorBucketArn", "")).rsplit("/", 1)[-1]
    return f"{cfg.get('vectorBucketArn')}/index/{cfg.get('indexName')}" if bucket else ""


def _kb(lab: Any, kb_id: str) -> dict[str, Any]:
    try:
        return dict(
            lab.client("bedrock-agent").get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]
        )
    except ClientError as err:
        _fail(
            f"knowledge base {kb_id!r} was not found ({_code(err)}): list yours with "
            "agent.list_knowledge_bases()"
        )
        raise


def stored_chunks(lab: Any, index_arn: str) -> list[dict[str, Any]]:
    """Every vector of an S3 vector index with its metadata (no data), for inspection.

    Args:
        lab: the open lab.
        index_arn: the index ARN.

    Returns:
        ``{"key", "metadata"}`` per vector. Read-only (ListVectors).
    """
    s3v = lab.client("s3vectors")
    out: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"indexArn": index_arn, "returnMetadata": True, "maxResults": 500}
    while True:
        page = s3v.list_vectors(**kw)
        out += [{"key": v["key"], "metadata": v.get("metadata") or {}} for v in page["vectors"]]
        if not page.get("nextToken"):
            return out
        kw["nextToken"] = page["nextToken"]


def _chunk_text(meta: Mapping[str, Any]) -> str:
    text = meta.get("AMAZON_BEDROCK_TEXT") or meta.get("AMAZON_BEDROCK_TEXT_CHUNK") or ""
    return str(text)


def chunk_pii(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """PII in a stored chunk: its text and the document's own metadata (lab 05).

    The ids the service generates (``x-amz-bedrock-kb-*``: chunk id, data source, source URI)
    are left out: a UUID chunk id can read as a Luhn-valid card number by chance.

    Returns:
        ``(entity type, match)`` pairs, empty when the chunk is clean. Costs nothing.
    """
    own = {k: v for k, v in meta.items() if not str(k).startswith("x-amz-bedrock-kb-")}
    return find_pii(_chunk_text(meta) + " " + json.dumps(own))


# --------------------------------------------------------------------------- requirement 1


def verify_logging(lab: Any, log_group: str, max_retention_days: int = 30) -> str:
    """Model invocation logging on, text only, to ``log_group``, kept at most 30 days.

    Reads ``GetModelInvocationLoggingConfiguration`` and ``DescribeLogGroups``.
    """
    cfg = lab.client("bedrock").get_model_invocation_logging_configuration().get("loggingConfig")
    if not cfg:
        _fail("model invocation logging is off: bedrock.put_model_invocation_logging_configuration")
    cw = cfg.get("cloudWatchConfig") or {}
    if cw.get("logGroupName") != log_group:
        _fail(
            f"invocation logs go to CloudWatch group {cw.get('logGroupName')!r}, not {log_group} "
            "(loggingConfig.cloudWatchConfig.logGroupName)"
        )
    if not cw.get("roleArn"):
        _fail("cloudWatchConfig has no roleArn: Bedrock needs a role to write the log group")
    if not cfg.get("textDataDeliveryEnabled"):
        _fail("textDataDeliveryEnabled is off: the prompts and answers are not logged")
    extra = [k for k in ("imageDataDeliveryEnabled", "embeddingDataDeliveryEnabled") if cfg.get(k)]
    if extra:
        _fail(f"{', '.join(extra)} should be off: the requirement logs text only")
    groups = lab.client("logs").describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == log_group), None)
    if group is None:
        _fail(f"log group {log_group} does not exist: logs.create_log_group")
    days = group.get("retentionInDays")  # type: ignore[union-attr]
    if days is None or days > max_retention_days:
        _fail(
            f"{log_group} keeps records {'forever' if days is None else f'{days} days'}: "
            f"at most {max_retention_days} (logs.put_retention_policy)"
        )
    return f"text invocations logged to {log_group}, kept {days} days"


# --------------------------------------------------------------------------- requirement 2


def measure_models(
    lab: Any, log_group: str, candidates: Sequence[str], eval_set: Any
) -> dict[str, dict[str, Any]]:
    """Per candidate: accuracy, p90 latency and cost per 1,000 questions, from the logs.

    A logged Converse call counts for a question when its request contains the question's
    text; the latest call per (model, question) is used.

    Returns:
        ``{model: {"n", "accuracy", "p90_ms", "usd_per_1k_questions"}}``.
    """
    questions = list(eval_set.itertuples())
    wanted = {model_key(m): m for m in candidates}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in log_records(lab, log_group):
        if rec.get("operation") not in ("Converse", "ConverseStream"):
            continue
        key = model_key(rec.get("modelId", ""))
        if key not in wanted:
            continue
        sent = " ".join(_texts((rec.get("input") or {}).get("inputBodyJson")))
        for q in questions:
            if q.question in sent:
                latest[(key, q.question_id)] = rec
    out: dict[str, dict[str, Any]] = {}
    for key, model in wanted.items():
        hits, lat, usd = [], [], 0.0
        usd_in, usd_out = _price(model)
        for q in questions:
            found = latest.get((key, q.question_id))
            if found is None:
                continue
            rec = found
            text = _answer((rec.get("output") or {}).get("outputBodyJson"))
            hits.append(str(q.answer_span).lower() in text.lower())
            ms = _latency(rec)
            if ms is not None:
                lat.append(ms)
            tin = int((rec.get("input") or {}).get("inputTokenCount") or 0)
            tout = int((rec.get("output") or {}).get("outputTokenCount") or 0)
            usd += (tin * usd_in + tout * usd_out) / 1000
        n = len(hits)
        out[model] = {
            "n": n,
            "accuracy": float(np.mean(hits)) if hits else 0.0,
            "p90_ms": float(np.percentile(lat, 90)) if lat else float("nan"),
            "usd_per_1k_questions": usd / n * 1000 if n else float("nan"),
        }
    return out


def verify_model_choice(
    lab: Any,
    log_group: str,
    candidates: Sequence[str],
    eval_set: Any,
    chosen: str,
    *,
    accuracy: float = 0.8,
    p90_ms: float = 1500.0,
) -> str:
    """The chosen model is the cheapest that meets the quality and latency targets, as the
    invocation logs show for every candidate on every evaluation question."""
    m = measure_models(lab, log_group, candidates, eval_set)
    n = len(eval_set)
    for model, r in m.items():
        if r["n"] < n:
            _fail(
                f"the invocation logs in {log_group} hold {r['n']} of the {n} evaluation "
                f"questions for {model}: ask every question to every candidate with Converse "
                "while logging is on"
            )
        if np.isnan(r["p90_ms"]):
            _fail(f"the logged responses of {model} carry no metrics.latencyMs")
    fit = {k: r for k, r in m.items() if r["accuracy"] >= accuracy and r["p90_ms"] <= p90_ms}
    table = "; ".join(
        f"{model_key(k)}: acc {r['accuracy']:.2f}, p90 {r['p90_ms']:.0f} ms, "
        f"USD {r['usd_per_1k_questions']:.3f}/1k"
        for k, r in m.items()
    )
    if not fit:
        _fail(f"no candidate meets accuracy >= {accuracy} and p90 <= {p90_ms:.0f} ms: {table}")
    best = min(fit, key=lambda k: fit[k]["usd_per_1k_questions"])
    if model_key(chosen) != model_key(best):
        why = "does not meet the targets" if chosen not in fit else "is not the cheapest that does"
        _fail(f"chosen_model {chosen!r} {why}; measured from the logs: {table}")
    return f"{model_key(best)} chosen; {table}"


# --------------------------------------------------------------------------- requirement 3


def verify_pii_masking(lab: Any, raw_prefix: str, clean_prefix: str) -> str:
    """Every raw document has a clean copy (and sidecar) with its PII masked, nothing else changed."""
    raw = _keys(lab, raw_prefix)
    clean = set(_keys(lab, clean_prefix))
    docs = [k for k in raw if k.endswith(".txt")]
    if not docs:
        _fail(f"no document under {raw_prefix}")
    missing = [k for k in raw if clean_prefix + k.removeprefix(raw_prefix) not in clean]
    if missing:
        _fail(
            f"{len(missing)} of {len(raw)} raw objects have no copy under {clean_prefix} "
            f"(e.g. {missing[0].removeprefix(raw_prefix)}): copy every document and its "
            ".metadata.json sidecar"
        )
    masked = 0
    sidecars = [k for k in raw if k.endswith(".metadata.json")]
    for key in docs:
        target = clean_prefix + key.removeprefix(raw_prefix)
        before = _s3_read(lab, key).decode("utf-8")
        after = _s3_read(lab, target).decode("utf-8", "replace")
        leaks = find_pii(after)
        if leaks:
            kinds = sorted({k for k, _ in leaks})
            _fail(f"{target} still contains {', '.join(kinds)}: mask it before indexing")
        kept = set(after.splitlines())
        for line in before.splitlines():
            if find_pii(line):
                continue
            if line not in kept:
                _fail(
                    f"{target} lost or changed a line without PII ({line[:60]!r}...): mask only "
                    "the entities, keep the rest of the text"
                )
        masked += before != after
    # the sidecars: every one copied (listed above); a sample compared byte for byte
    for side in sidecars[:: max(1, len(sidecars) // 20)]:
        target = clean_prefix + side.removeprefix(raw_prefix)
        if json.loads(_s3_read(lab, side)) != json.loads(_s3_read(lab, target)):
            _fail(f"{target} differs from the raw sidecar: copy it unchanged")
    extra = [
        k
        for k in clean
        if k.removeprefix(clean_prefix) not in {r.removeprefix(raw_prefix) for r in raw}
    ]
    for key in extra:
        if find_pii(_s3_read(lab, key).decode("utf-8", "replace")):
            _fail(f"{key} (not a copy of a raw document) holds PII: delete it before indexing")
    return f"{len(docs)} documents under {clean_prefix}, {masked} had PII masked, none left"


# --------------------------------------------------------------------------- requirement 4


def _chunking(ds: Mapping[str, Any]) -> dict[str, Any]:
    vic = ds.get("vectorIngestionConfiguration") or {}
    return dict(vic.get("chunkingConfiguration") or {"chunkingStrategy": "FIXED_SIZE (default)"})


def _is_default(ch: Mapping[str, Any]) -> bool:
    fixed = ch.get("fixedSizeChunkingConfiguration") or {}
    return bool(
        ch.get("chunkingStrategy") == "FIXED_SIZE (default)"
        or (
            ch.get("chunkingStrategy") == "FIXED_SIZE"
            and fixed.get("maxTokens") == 300
            and fixed.get("overlapPercentage") == 20
        )
    )


def latest_ingestion(lab: Any, kb_id: str, ds_id: str) -> list[dict[str, Any]]:
    """The ingestion jobs of a data source, oldest first (ListIngestionJobs; read-only)."""
    agent = lab.client("bedrock-agent")
    jobs = agent.list_ingestion_jobs(knowledgeBaseId=kb_id, dataSourceId=ds_id, maxResults=100)
    out = list(jobs.get("ingestionJobSummaries", []))
    out.sort(key=lambda j: j.get("startedAt") or j.get("updatedAt"))
    return out


def verify_knowledge_bases(
    lab: Any, kb_ids: Mapping[str, str], prefix: str, dimensions: int = 512
) -> str:
    """Two S3 Vectors knowledge bases on the clean prefix that differ only in chunking,
    both ingested without failures, with no PII in any stored chunk."""
    if len(set(kb_ids.values())) < 2:
        _fail(f"kb_ids holds {len(set(kb_ids.values()))} knowledge base(s); build two")
    agent = lab.client("bedrock-agent")
    s3v = lab.client("s3vectors")
    n_docs = len([k for k in _keys(lab, prefix) if k.endswith(".txt")])
    chunkings, indexes, notes = [], set(), []
    for name, kb_id in kb_ids.items():
        kb = _kb(lab, kb_id)
        if kb.get("status") != "ACTIVE":
            _fail(f"knowledge base {name} is {kb.get('status')}: {kb.get('failureReasons')}")
        vec = (kb.get("knowledgeBaseConfiguration") or {}).get(
            "vectorKnowledgeBaseConfiguration"
        ) or {}
        if not str(vec.get("embeddingModelArn", "")).endswith("amazon.titan-embed-text-v2:0"):
            _fail(
                f"{name} embeds with {vec.get('embeddingModelArn')}, not Titan Text Embeddings V2"
            )
        dims = (
            (vec.get("embeddingModelConfiguration") or {}).get("bedrockEmbeddingModelConfiguration")
            or {}
        ).get("dimensions")
        if dims != dimensions:
            _fail(f"{name} embeds at {dims} dimensions, not {dimensions}")
        arn = _index_arn(lab, kb_id)
        idx = s3v.get_index(indexArn=arn)["index"]
        if idx.get("dimension") != dimensions or idx.get("distanceMetric") != "cosine":
            _fail(
                f"index {idx.get('indexName')} is {idx.get('dimension')}-d "
                f"{idx.get('distanceMetric')}: {dimensions}-d cosine"
            )
        nonf = set((idx.get("metadataConfiguration") or {}).get("nonFilterableMetadataKeys") or [])
        if "AMAZON_BEDROCK_TEXT" not in nonf:
            _fail(
                f"index {idx.get('indexName')} keeps AMAZON_BEDROCK_TEXT filterable: chunks "
                "over the 2 KB filterable-metadata limit fail; list it in nonFilterableMetadataKeys"
            )
        indexes.add(arn)
        sources = agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"]
        if len(sources) != 1:
            _fail(f"{name} has {len(sources)} data sources: one S3 data source on {prefix}")
        ds = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=sources[0]["dataSourceId"])[
            "dataSource"
        ]
        s3c = (ds.get("dataSourceConfiguration") or {}).get("s3Configuration") or {}
        if s3c.get("bucketArn") != f"arn:aws:s3:::{lab.bucket}":
            _fail(f"{name}'s data source reads {s3c.get('bucketArn')}, not the lab bucket")
        prefixes = s3c.get("inclusionPrefixes") or [""]
        if any(not p.startswith(prefix.rstrip("/")) for p in prefixes):
            _fail(
                f"{name}'s data source includes {prefixes}: index only {prefix} (the raw "
                "documents hold PII)"
            )
        chunkings.append(_chunking(ds))
        jobs = latest_ingestion(lab, kb_id, ds["dataSourceId"])
        if not jobs:
            _fail(f"{name} was never ingested: agent.start_ingestion_job")
        last = agent.get_ingestion_job(
            knowledgeBaseId=kb_id,
            dataSourceId=ds["dataSourceId"],
            ingestionJobId=jobs[-1]["ingestionJobId"],
        )["ingestionJob"]
        stats = last.get("statistics") or {}
        if last["status"] != "COMPLETE" or stats.get("numberOfDocumentsFailed", 0):
            _fail(
                f"{name}'s last ingestion job is {last['status']} with "
                f"{stats.get('numberOfDocumentsFailed', 0)} failed documents: "
                f"{last.get('failureReasons', [])[:2]}"
            )
        if stats.get("numberOfDocumentsScanned", 0) < n_docs:
            _fail(
                f"{name}'s ingestion scanned {stats.get('numberOfDocumentsScanned', 0)} of the "
                f"{n_docs} documents under {prefix}"
            )
        chunks = stored_chunks(lab, arn)
        for c in chunks:
            leaks = chunk_pii(c["metadata"])
            if leaks:
                _fail(
                    f"a chunk of {name} ({c['key']}) holds {leaks[0][0]}: the index must never "
                    "see raw PII; re-ingest from the masked prefix"
                )
        notes.append(f"{name}: {len(chunks)} chunks")
    if len(indexes) < 2:
        _fail("both knowledge bases write to the same vector index: give each its own index")
    if chunkings[0] == chunkings[1]:
        _fail(f"both data sources chunk the same way ({chunkings[0]}): make the second differ")
    if not any(_is_default(c) for c in chunkings):
        _fail("neither data source uses fixed-size chunks of 300 tokens with 20% overlap")
    return ", ".join(notes) + f"; {n_docs} documents each, no PII stored"


# --------------------------------------------------------------------------- requirement 5


def recall_at_k(lab: Any, kb_id: str, questions: Any, k: int = 5) -> float:
    """Recall@k of a knowledge base on the labelled questions, measured with ``Retrieve``.

    A question is a hit when one of the top ``k`` chunks comes from one of its ``doc_ids``
    and contains its ``answer_span``. Costs one query embedding per question.
    """
    rt = lab.client("bedrock-agent-runtime")
    hits = 0
    for q in questions.itertuples():
        found = rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": q.question},
            retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": k}},
        )["retrievalResults"]
        hits += any(
            _doc_id(r["location"]["s3Location"]["uri"]) in q.doc_ids
            and q.answer_span in r["content"]["text"]
            for r in found
        )
    return hits / max(len(questions), 1)


def verify_chunking(
    lab: Any, kb_ids: Mapping[str, str], app_kb_id: str, questions: Any, k: int = 5
) -> str:
    """The app's knowledge base is the one with the higher Recall@k, measured here."""
    measured = {name: recall_at_k(lab, kb, questions, k) for name, kb in kb_ids.items()}
    text = ", ".join(f"{n} {r:.2f}" for n, r in measured.items())
    if app_kb_id not in kb_ids.values():
        _fail(f"app_kb_id {app_kb_id!r} is not one of the two compared knowledge bases")
    best = max(measured.values())
    mine = measured[next(n for n, kb in kb_ids.items() if kb == app_kb_id)]
    if mine < best:
        _fail(f"the app uses the knowledge base with the lower Recall@{k}: {text}")
    if min(measured.values()) == best:
        _fail(f"both knowledge bases have Recall@{k} {best:.2f}: the comparison decides nothing")
    return f"Recall@{k}: {text}; the app uses the better one"


# --------------------------------------------------------------------------- requirement 6


def monthly_costs(lab: Any, kb_id: str, queries: int) -> dict[str, float]:
    """A month of the knowledge base's S3 vector index (storage + ``queries``) vs a minimal
    OpenSearch Serverless vector collection, from the guard's estimators."""
    arn = _index_arn(lab, kb_id)
    s3v = lab.client("s3vectors")
    vectors: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"indexArn": arn, "returnData": True, "returnMetadata": True}
    while True:
        page = s3v.list_vectors(**kw)
        vectors += page["vectors"]
        if not page.get("nextToken"):
            break
        kw["nextToken"] = page["nextToken"]
    if not vectors:
        _fail("the app's index holds no vectors")
    ttl = float(lab.guard.policy.ttl_hours)
    put = quote(lab, "s3vectors", "PutVectors", {"indexArn": arn, "vectors": vectors})
    query = quote(
        lab,
        "s3vectors",
        "QueryVectors",
        {"indexArn": arn, "topK": 5, "queryVector": vectors[0]["data"]},
    )
    aoss = quote(
        lab, "opensearchserverless", "CreateCollection", {"name": "x", "type": "VECTORSEARCH"}
    )
    return {
        "S3_VECTORS": float(put.detail["storage_usd_for_ttl"]) * 730 / ttl + queries * query.usd,
        "OPENSEARCH_SERVERLESS": float(aoss.detail["usd_per_month_if_left_running"]),
    }


def verify_vector_cost(
    lab: Any, kb_id: str, monthly_usd: Mapping[str, float], queries: int = 90_000
) -> str:
    """The learner's monthly figures agree with the guard's, and S3 Vectors is the cheaper."""
    truth = monthly_costs(lab, kb_id, queries)
    for store, usd in truth.items():
        got = (monthly_usd or {}).get(store)
        if got is None:
            _fail(f"monthly_usd has no {store!r} figure")
        if abs(float(got) - usd) > max(0.25 * usd, 0.01):  # type: ignore[arg-type]
            _fail(
                f"monthly_usd[{store!r}] is {float(got):.4f} USD; the guard's estimators give "  # type: ignore[arg-type]
                f"{usd:.4f} USD for {queries:,} queries and a month of storage"
            )
    ratio = truth["OPENSEARCH_SERVERLESS"] / max(truth["S3_VECTORS"], 1e-9)
    return (
        f"a month: S3 Vectors USD {truth['S3_VECTORS']:.2f} vs OpenSearch Serverless "
        f"USD {truth['OPENSEARCH_SERVERLESS']:.0f} ({ratio:,.0f}x)"
    )


# --------------------------------------------------------------------------- requirement 7


def verify_retrieval(
    lab: Any,
    kb_id: str,
    filtered: Mapping[str, Any],
    rag_answer: Mapping[str, Any],
    *,
    product: str,
    rag_product: str,
    docs: Any,
) -> str:
    """A filtered Retrieve (one product, no case notes) and a cited RetrieveAndGenerate,
    each result matched to the chunks in the vector index and the documents in S3."""
    stored = {_chunk_text(c["metadata"]) for c in stored_chunks(lab, _index_arn(lab, kb_id))}
    meta = docs.set_index("doc_id")
    results = list((filtered or {}).get("retrievalResults") or [])
    if not results:
        _fail("`filtered` holds no retrievalResults: keep the Retrieve response")
    for r in results:
        doc = _doc_id(r["location"]["s3Location"]["uri"])
        if r["content"]["text"] not in stored:
            _fail(
                "a result in `filtered` is not a chunk of the app's index: keep the real response"
            )
        if doc not in meta.index:
            _fail(f"{doc} is not a Northpeak document")
        if meta.loc[doc, "product"] != product or meta.loc[doc, "doc_type"] == "case-note":
            _fail(
                f"`filtered` returned {doc} ({meta.loc[doc, 'product']}, "
                f"{meta.loc[doc, 'doc_type']}): filter on product and exclude case notes "
                "(vectorSearchConfiguration.filter)"
            )
    text = str(((rag_answer or {}).get("output") or {}).get("text", ""))
    war = docs[(docs["product"] == rag_product) & (docs.doc_type == "warranty")].iloc[0]
    years = re.search(r"\d+-year", war["text"])
    if not years or years.group(0) not in text:
        _fail(f"the generated answer {text[:80]!r} does not give the {rag_product}'s warranty")
    refs = [
        ref
        for c in (rag_answer.get("citations") or [])
        for ref in (c.get("retrievedReferences") or [])
    ]
    if not refs:
        _fail("`rag_answer` has no citations: use RetrieveAndGenerate on the knowledge base")
    cited = {_doc_id(ref["location"]["s3Location"]["uri"]) for ref in refs}
    if war["doc_id"] not in cited:
        _fail(f"the citations ({sorted(cited)}) do not include {war['doc_id']}")
    for ref in refs:
        if ref["content"]["text"] not in stored:
            _fail("a citation in `rag_answer` is not a chunk of the app's index")
    return f"{len(results)} {product} chunks, no case notes; answer cites {sorted(cited)}"


# --------------------------------------------------------------------------- requirement 8


def _blocked(r: Mapping[str, Any]) -> bool:
    """Whether an ApplyGuardrail response blocked (not just masked) the content."""
    if r.get("action") != "GUARDRAIL_INTERVENED":
        return False
    for a in r.get("assessments") or []:
        for t in (a.get("topicPolicy") or {}).get("topics") or []:
            if t.get("action") == "BLOCKED":
                return True
        for f in (a.get("contentPolicy") or {}).get("filters") or []:
            if f.get("action") == "BLOCKED":
                return True
        for w in (a.get("wordPolicy") or {}).get("customWords") or []:
            if w.get("action") == "BLOCKED":
                return True
        sip = a.get("sensitiveInformationPolicy") or {}
        for e in (sip.get("piiEntities") or []) + (sip.get("regexes") or []):
            if e.get("action") == "BLOCKED":
                return True
        for f in (a.get("contextualGroundingPolicy") or {}).get("filters") or []:
            if f.get("action") == "BLOCKED":
                return True
    return False


def guardrail_rates(lab: Any, gid: str, version: str, red_team: Any) -> dict[str, float]:
    """Run the red-team set through ``ApplyGuardrail`` (INPUT); rates per category."""
    rt = lab.client("bedrock-runtime")
    blocked: dict[str, list[bool]] = {}
    masked: list[bool] = []
    for p in red_team.itertuples():
        r = rt.apply_guardrail(
            guardrailIdentifier=gid,
            guardrailVersion=version,
            source="INPUT",
            content=[{"text": {"text": p.prompt}}],
        )
        b = _blocked(r)
        blocked.setdefault(p.category, []).append(b)
        if p.category == "pii":
            out = " ".join(o.get("text", "") for o in r.get("outputs") or []) or p.prompt
            masked.append(not b and not any(v in out for v in p.pii))
    rates = {c: float(np.mean(v)) for c, v in blocked.items()}
    rates["pii_masked"] = float(np.mean(masked)) if masked else 0.0
    return rates


def verify_guardrail(
    lab: Any,
    gid: str,
    version: str,
    red_team: Any,
    *,
    block_rate: float = 0.9,
    false_positive_rate: float = 0.1,
) -> str:
    """The published guardrail's policies, then its measured behaviour on the red-team set
    and on an ungrounded answer."""
    bedrock = lab.client("bedrock")
    if str(version).upper() == "DRAFT" or not str(version).isdigit():
        _fail(f"guardrail_version is {version!r}: publish a version (create_guardrail_version)")
    try:
        g = bedrock.get_guardrail(guardrailIdentifier=gid, guardrailVersion=str(version))
    except ClientError as err:
        _fail(f"guardrail {gid} version {version} was not found ({_code(err)})")
        raise
    pii = {e["type"]: e for e in (g.get("sensitiveInformationPolicy") or {}).get("piiEntities", [])}
    for t in ("EMAIL", "PHONE", "CREDIT_DEBIT_CARD_NUMBER"):
        if t not in pii:
            _fail(f"the guardrail does not look for {t} (sensitiveInformationPolicyConfig)")
        if pii[t].get("action") != "ANONYMIZE":
            _fail(
                f"{t} is {pii[t].get('action')}: the requirement anonymises PII so the "
                "customer still gets an answer"
            )
    topics = [t for t in (g.get("topicPolicy") or {}).get("topics", []) if t.get("type") == "DENY"]
    if len(topics) < 3:
        _fail(f"{len(topics)} denied topics: legal advice, medical advice, competitor pricing")
    attack = [
        f
        for f in (g.get("contentPolicy") or {}).get("filters", [])
        if f.get("type") == "PROMPT_ATTACK"
    ]
    if not attack or attack[0].get("inputStrength") in (None, "NONE", "LOW"):
        _fail("no PROMPT_ATTACK content filter at MEDIUM or HIGH input strength")
    grounding = {
        f["type"]: f for f in (g.get("contextualGroundingPolicy") or {}).get("filters", [])
    }
    for t in ("GROUNDING", "RELEVANCE"):
        if t not in grounding or not grounding[t].get("threshold"):
            _fail(f"no {t} check in contextualGroundingPolicyConfig")
    rates = guardrail_rates(lab, gid, str(version), red_team)
    bad = rates.get("denied-topic", 0.0), rates.get("prompt-attack", 0.0)
    counts = red_team.category.value_counts()
    n_bad = int(counts.get("denied-topic", 0) + counts.get("prompt-attack", 0))
    both = (bad[0] * counts.get("denied-topic", 0) + bad[1] * counts.get("prompt-attack", 0)) / max(
        n_bad, 1
    )
    summary = (
        f"blocked {bad[0]:.0%} of denied topics, {bad[1]:.0%} of attacks, "
        f"{rates.get('benign', 0):.0%} of benign questions; PII masked in "
        f"{rates['pii_masked']:.0%} of PII prompts"
    )
    if both < block_rate:
        _fail(f"{summary}: at least {block_rate:.0%} of them ({both:.0%}) must be blocked")
    if rates.get("benign", 0.0) > false_positive_rate:
        _fail(f"{summary}: at most {false_positive_rate:.0%} of benign questions may be blocked")
    if rates["pii_masked"] < 1.0:
        _fail(f"{summary}: every PII prompt must pass with its PII masked")
    source = "The Summit 4 Tent is covered by a 3-year warranty against defects."
    query = "How long is the warranty on the Summit 4 Tent?"
    rt = lab.client("bedrock-runtime")

    def judge(answer: str) -> bool:
        r = rt.apply_guardrail(
            guardrailIdentifier=gid,
            guardrailVersion=str(version),
            source="OUTPUT",
            content=[
                {"text": {"text": source, "qualifiers": ["grounding_source"]}},
                {"text": {"text": query, "qualifiers": ["query"]}},
                {"text": {"text": answer, "qualifiers": ["guard_content"]}},
            ],
        )
        return _blocked(r)

    if judge("The Summit 4 Tent has a 3-year warranty against defects."):
        _fail("the guardrail blocks an answer that its source supports: lower the thresholds")
    if not judge("The Summit 4 Tent has a lifetime warranty and free repairs for 12 years."):
        _fail("the guardrail lets an ungrounded answer through: raise the GROUNDING threshold")
    return summary + "; ungrounded answer blocked"


# --------------------------------------------------------------------------- requirements 9-10


def _versions(lab: Any, prompt_id: str) -> dict[str, dict[str, Any]]:
    agent = lab.client("bedrock-agent")
    try:
        summaries = agent.list_prompts(promptIdentifier=prompt_id)["promptSummaries"]
    except ClientError as err:
        _fail(f"prompt {prompt_id!r} was not found ({_code(err)}): agent.list_prompts()")
        raise
    out = {}
    for s in summaries:
        v = str(s.get("version", ""))
        if v.isdigit():
            out[v] = agent.get_prompt(promptIdentifier=prompt_id, promptVersion=v)
    return out


def _variant(p: Mapping[str, Any]) -> dict[str, Any]:
    variants = p.get("variants") or []
    default = p.get("defaultVariant")
    return dict(
        next((v for v in variants if v.get("name") == default), variants[0] if variants else {})
    )


def _template(v: Mapping[str, Any]) -> str:
    tc = v.get("templateConfiguration") or {}
    return str((tc.get("text") or {}).get("text", ""))


def verify_prompt(
    lab: Any, prompt_id: str, log_group: str, *, chosen_model: str, template: str, uses: int = 10
) -> str:
    """Version 1 of the prompt holds the template, the chosen model and its inference
    settings, and the app called Converse with it (the logs hold the rendered template)."""
    versions = _versions(lab, prompt_id)
    if "1" not in versions:
        _fail("the prompt has no version 1: agent.create_prompt_version")
    v = _variant(versions["1"])
    if v.get("templateType") != "TEXT":
        _fail(f"version 1's variant is {v.get('templateType')}: a TEXT template")
    text = _template(v)
    if text.strip() != template.strip():
        _fail("version 1's template is not VERBOSE_TEMPLATE")
    names = {
        x.get("name")
        for x in ((v.get("templateConfiguration") or {}).get("text") or {}).get(
            "inputVariables", []
        )
    }
    if not {"context", "question"} <= names:
        _fail(
            f"version 1 declares the variables {sorted(n for n in names if n)}: context and question"
        )
    if model_key(v.get("modelId", "")) != model_key(chosen_model):
        _fail(f"version 1 runs {v.get('modelId')}, not the chosen model {chosen_model}")
    inf = ((v.get("inferenceConfiguration") or {}).get("text")) or {}
    if inf.get("maxTokens") != 512 or inf.get("temperature") not in (0, 0.0):
        _fail(f"version 1's inference configuration is {inf}: temperature 0, maxTokens 512")
    opening = template.strip().splitlines()[0]
    used = [
        r
        for r in log_records(lab, log_group)
        if r.get("operation") in ("Converse", "ConverseStream")
        and (
            prompt_id in str(r.get("modelId", ""))
            or opening in " ".join(_texts((r.get("input") or {}).get("inputBodyJson")))
        )
    ]
    if len(used) < uses:
        _fail(
            f"the invocation logs show {len(used)} Converse calls with this prompt: answer "
            f"{uses} questions with modelId=<version ARN> and promptVariables"
        )
    return f"version 1 on {model_key(chosen_model)}; {len(used)} logged calls used it"


def run_prompt_version(
    lab: Any, arn: str, model_id: str, kb_id: str, questions: Any, k: int = 5
) -> dict[str, float]:
    """Answer questions with one prompt version (Converse on its ARN) and the same retrieved
    context; return accuracy, token counts and cost per 1,000 questions."""
    rt = lab.client("bedrock-agent-runtime")
    br = lab.client("bedrock-runtime")
    usd_in, usd_out = _price(model_id)
    hits, usd, tin, tout = [], 0.0, 0, 0
    for q in questions.itertuples():
        found = rt.retrieve(
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": q.question},
            retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": k}},
        )["retrievalResults"]
        context = "\n".join(r["content"]["text"] for r in found)
        r = br.converse(
            modelId=arn,
            promptVariables={"context": {"text": context}, "question": {"text": q.question}},
        )
        text = " ".join(c.get("text", "") for c in r["output"]["message"]["content"])
        hits.append(str(q.answer_span).lower() in text.lower())
        tin += r["usage"]["inputTokens"]
        tout += r["usage"]["outputTokens"]
        usd += (r["usage"]["inputTokens"] * usd_in + r["usage"]["outputTokens"] * usd_out) / 1000
    n = max(len(hits), 1)
    return {
        "accuracy": float(np.mean(hits)) if hits else 0.0,
        "input_tokens": tin / n,
        "output_tokens": tout / n,
        "usd_per_1k_questions": usd / n * 1000,
    }


def verify_token_cost(
    lab: Any,
    prompt_id: str,
    kb_id: str,
    questions: Any,
    *,
    ceiling_usd: float = 0.5,
    ratio: float = 0.6,
    max_tokens: int = 150,
    sample: slice = slice(10, 30),
) -> str:
    """A later version costs at most ``ratio`` of version 1 per 1,000 questions, under the
    ceiling, with ``maxTokens`` at most ``max_tokens`` and no loss of accuracy (run here)."""
    versions = _versions(lab, prompt_id)
    later = sorted((int(v) for v in versions if v != "1"), reverse=True)
    if "1" not in versions or not later:
        _fail(f"the prompt has versions {sorted(versions)}: publish version 2 after changing it")
    v1, v2 = versions["1"], versions[str(later[0])]
    var2 = _variant(v2)
    inf = ((var2.get("inferenceConfiguration") or {}).get("text")) or {}
    if not inf.get("maxTokens") or inf["maxTokens"] > max_tokens:
        _fail(f"version {later[0]} has maxTokens {inf.get('maxTokens')}: at most {max_tokens}")
    text = _template(var2)
    if "{{context}}" not in text or "{{question}}" not in text:
        _fail(f"version {later[0]}'s template lost {{{{context}}}} or {{{{question}}}}")
    sub = questions.iloc[sample]
    m1 = run_prompt_version(lab, v1["arn"], _variant(v1).get("modelId", ""), kb_id, sub)
    m2 = run_prompt_version(lab, v2["arn"], var2.get("modelId", ""), kb_id, sub)
    summary = (
        f"v1 USD {m1['usd_per_1k_questions']:.3f}/1k ({m1['input_tokens']:.0f} in, "
        f"{m1['output_tokens']:.0f} out, acc {m1['accuracy']:.2f}) -> v{later[0]} USD "
        f"{m2['usd_per_1k_questions']:.3f}/1k ({m2['input_tokens']:.0f} in, "
        f"{m2['output_tokens']:.0f} out, acc {m2['accuracy']:.2f})"
    )
    if m2["usd_per_1k_questions"] > ratio * m1["usd_per_1k_questions"]:
        _fail(f"{summary}: at most {ratio:.0%} of version 1's cost")
    if m2["usd_per_1k_questions"] > ceiling_usd:
        _fail(f"{summary}: over the ceiling of USD {ceiling_usd:.2f} per 1,000 questions")
    if m2["accuracy"] < m1["accuracy"] - 0.05:
        _fail(f"{summary}: the cheaper version answers fewer questions right")
    return summary


# --------------------------------------------------------------------------- requirement 11


def _jsonl(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]


def job_outputs(lab: Any, job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-record output lines of an evaluation job (AWS's layout under its output URI)."""
    out_uri = str((job.get("outputDataConfig") or {}).get("s3Uri", ""))
    bucket, prefix = _split(lab, out_uri)
    name = str(job.get("jobName", ""))
    rows: list[dict[str, Any]] = []
    for key in _keys(lab, prefix.rstrip("/") + "/" + name + "/", bucket=bucket):
        if key.endswith(".jsonl"):
            rows += _jsonl(_s3_read(lab, f"s3://{bucket}/{key}"))
    return rows


def judge_scores(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean score per metric (``Builtin.`` dropped) over an evaluation job's output lines."""
    scores: dict[str, list[float]] = {}
    for rec in rows:
        for s in (rec.get("automatedEvaluationResult") or {}).get("scores", []):
            if s.get("result") is not None:
                metric = str(s.get("metricName", "")).removeprefix("Builtin.")
                scores.setdefault(metric, []).append(float(s["result"]))
    return {k: float(np.mean(v)) for k, v in scores.items()}


def verify_evaluation(
    lab: Any,
    eval_jobs: Mapping[str, str],
    scores: Mapping[str, Mapping[str, float]],
    *,
    min_records: int = 20,
) -> str:
    """Two completed LLM-as-a-judge jobs on the same questions (the RAG prompts hold each bare
    question); RAG beats the bare prompt on ROUGE-L, recomputed from the responses the jobs
    recorded, and on the judge's correctness."""
    from rouge_score import rouge_scorer

    bedrock = lab.client("bedrock")
    if set(eval_jobs or {}) != {"rag", "bare"}:
        _fail(f"eval_jobs has {sorted(eval_jobs or {})}: one job 'rag' and one 'bare'")
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rouge, judged, prompts = {}, {}, {}
    for name, arn in eval_jobs.items():
        try:
            job = bedrock.get_evaluation_job(jobIdentifier=arn)
        except ClientError as err:
            _fail(f"evaluation job {arn} was not found ({_code(err)})")
            raise
        if job.get("status") != "Completed":
            _fail(f"evaluation job {name} is {job.get('status')}: {job.get('failureMessages')}")
        auto = (job.get("evaluationConfig") or {}).get("automated") or {}
        judges = (auto.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or []
        if not judges:
            _fail(f"job {name} has no judge model (evaluatorModelConfig): an LLM-as-a-judge job")
        cfg = (auto.get("datasetMetricConfigs") or [{}])[0]
        metrics = set(cfg.get("metricNames") or [])
        if "Builtin.Correctness" not in metrics:
            _fail(f"job {name} does not score Builtin.Correctness ({sorted(metrics)})")
        rows = job_outputs(lab, job)
        if len(rows) < min_records:
            _fail(f"job {name}'s output holds {len(rows)} records: the 30 test questions")
        prompts[name] = [str((r.get("inputRecord") or {}).get("prompt", "")) for r in rows]
        rouge[name] = float(
            np.mean(
                [
                    scorer.score(
                        str((r.get("inputRecord") or {}).get("referenceResponse", "")),
                        str((r.get("modelResponses") or [{}])[0].get("response", "")),
                    )["rougeL"].fmeasure
                    for r in rows
                ]
            )
        )
        judged[name] = judge_scores(rows)
        if "Correctness" not in judged[name]:
            _fail(f"no Correctness scores in job {name}'s output under {job['outputDataConfig']}")
    if len(prompts["rag"]) != len(prompts["bare"]) or not all(
        b in r for r, b in zip(prompts["rag"], prompts["bare"], strict=True)
    ):
        _fail("the rag prompts are not the bare questions with context, in the same order")
    if all(r == b for r, b in zip(prompts["rag"], prompts["bare"], strict=True)):
        _fail("the rag dataset holds the bare questions: put the retrieved context in its prompts")
    for name in ("rag", "bare"):
        mine = (scores or {}).get(name, {})
        if "rougeL" not in mine or "semantic" not in mine:
            _fail(f"scores[{name!r}] needs 'rougeL' and the BERTScore-style 'semantic' mean")
    if scores["rag"]["rougeL"] <= scores["bare"]["rougeL"]:
        _fail(f"your scores do not show RAG ahead of the bare prompt: {dict(scores)}")
    if (
        rouge["rag"] <= rouge["bare"]
        or judged["rag"]["Correctness"] <= judged["bare"]["Correctness"]
    ):
        _fail(f"RAG does not beat the bare prompt: ROUGE-L {rouge}, judge {judged}")
    return (
        f"ROUGE-L rag {rouge['rag']:.2f} vs bare {rouge['bare']:.2f}; judge correctness "
        f"{judged['rag']['Correctness']:.2f} vs {judged['bare']['Correctness']:.2f}"
    )


# --------------------------------------------------------------------------- requirement 12


def verify_alarm(lab: Any, name: str, model_id: str, *, threshold_ms: float = 1500) -> str:
    """A p90 InvocationLatency alarm on the model Bedrock really reports metrics for."""
    cw = lab.client("cloudwatch")
    alarms = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not alarms:
        _fail(f"no CloudWatch alarm {name!r}: cloudwatch.put_metric_alarm")
    a = alarms[0]
    if a.get("Namespace") != "AWS/Bedrock" or a.get("MetricName") != "InvocationLatency":
        _fail(
            f"the alarm watches {a.get('Namespace')}/{a.get('MetricName')}: "
            "AWS/Bedrock InvocationLatency"
        )
    dims = {d["Name"]: d["Value"] for d in a.get("Dimensions", [])}
    if model_key(dims.get("ModelId", "")) != model_key(model_id):
        _fail(f"the alarm's ModelId dimension is {dims.get('ModelId')!r}, not {model_id}")
    published = cw.list_metrics(
        Namespace="AWS/Bedrock",
        MetricName="InvocationLatency",
        Dimensions=[{"Name": "ModelId", "Value": dims["ModelId"]}],
    )["Metrics"]
    if not published:
        _fail(
            f"Bedrock publishes no InvocationLatency for ModelId={dims['ModelId']!r}: the "
            "alarm would never fire (cloudwatch.list_metrics(Namespace='AWS/Bedrock'))"
        )
    stat = str(a.get("ExtendedStatistic", a.get("Statistic", "")))
    if stat.lower() not in ("p90", "p90.0"):
        _fail(f"the alarm uses {stat!r}: the 90th percentile is ExtendedStatistic='p90'")
    if a.get("Period") != 300:
        _fail(f"the period is {a.get('Period')} s: 5 minutes")
    if abs(float(a.get("Threshold", 0)) - threshold_ms) > 1e-6 or not str(
        a.get("ComparisonOperator", "")
    ).startswith("GreaterThan"):
        _fail(
            f"the alarm fires when {a.get('ComparisonOperator')} {a.get('Threshold')}: above "
            f"{threshold_ms:.0f} ms"
        )
    if a.get("EvaluationPeriods") != 3 or a.get("DatapointsToAlarm") != 2:
        _fail(f"{a.get('DatapointsToAlarm')} of {a.get('EvaluationPeriods')} periods: 2 of 3")
    if a.get("TreatMissingData") != "notBreaching":
        _fail(f"missing data is treated as {a.get('TreatMissingData')!r}: notBreaching")
    return f"p90 InvocationLatency of {dims['ModelId']} > {threshold_ms:.0f} ms, 2 of 3 x 5 min"


# --------------------------------------------------------------------------- requirement 13


def verify_fine_tuning(lab: Any, job_name: str, pairs: Any, *, max_tokens: int = 1000) -> str:
    """The fine-tuning job trains on every valid example and on no defective one."""
    bedrock = lab.client("bedrock")
    try:
        job = bedrock.get_model_customization_job(jobIdentifier=job_name)
    except ClientError as err:
        _fail(f"no customization job {job_name!r} ({_code(err)}): create_model_customization_job")
        raise
    if job.get("customizationType", "FINE_TUNING") != "FINE_TUNING":
        _fail(f"the job is {job.get('customizationType')}: FINE_TUNING")
    if "amazon.titan-text-express-v1" not in str(job.get("baseModelArn", "")):
        _fail(f"the job tunes {job.get('baseModelArn')}: amazon.titan-text-express-v1")
    if str((job.get("hyperParameters") or {}).get("epochCount")) != "2":
        _fail(f"epochCount is {(job.get('hyperParameters') or {}).get('epochCount')}: 2")
    if job.get("status") in ("Failed", "Stopped"):
        _fail(f"the job is {job['status']}: {job.get('failureMessage')}")
    records = _jsonl(_s3_read(lab, job["trainingDataConfig"]["s3Uri"]))
    truth = {(p.prompt, p.completion): p.defect for p in pairs.itertuples()}
    seen: set[tuple[str, str]] = set()
    defects: dict[str, int] = {}
    for r in records:
        pair = (str(r.get("prompt", "")), str(r.get("completion", "")))
        if pair not in truth:
            _fail(f"a training record is not one of the team's pairs: {pair[0][:50]!r}")
        if pair in seen:
            defects["duplicate"] = defects.get("duplicate", 0) + 1
        seen.add(pair)
        d = truth[pair]
        if isinstance(d, str) and d and d != "duplicate":
            defects[str(d)] = defects.get(str(d), 0) + 1
    if defects:
        _fail(f"the training data still holds defective records: {defects}")
    valid = {k for k, d in truth.items() if not isinstance(d, str) or not d}
    kept = len(valid & seen)
    if kept < 0.9 * len(valid):
        _fail(f"only {kept} of the {len(valid)} valid pairs were kept: do not drop good data")
    return f"{len(records)} clean records ({kept} of {len(valid)} valid kept); job {job['status']}"


# --------------------------------------------------------------------------- drill


def verify_drill(lab: Any, kb_id: str, ds_id: str) -> str:
    """The drill's knowledge base: a failed ingestion, then a complete one, dimensions agreeing."""
    jobs = latest_ingestion(lab, kb_id, ds_id)
    if not jobs:
        _fail("the drill's data source has no ingestion job")
    agent = lab.client("bedrock-agent")
    last = agent.get_ingestion_job(
        knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=jobs[-1]["ingestionJobId"]
    )["ingestionJob"]
    stats = last.get("statistics") or {}
    if last["status"] != "COMPLETE" or stats.get("numberOfDocumentsFailed", 0):
        _fail(
            f"the latest ingestion job is {last['status']} with "
            f"{stats.get('numberOfDocumentsFailed', 0)} failed documents: "
            f"{(last.get('failureReasons') or [''])[0][:200]}"
        )
    earlier = [
        agent.get_ingestion_job(
            knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=j["ingestionJobId"]
        )["ingestionJob"]
        for j in jobs[:-1]
    ]
    if not any(
        j["status"] == "FAILED" or (j.get("statistics") or {}).get("numberOfDocumentsFailed")
        for j in earlier
    ):
        _fail("there is no failed ingestion before the repair: keep the knowledge base")
    kb = _kb(lab, kb_id)
    dims = (
        (
            (kb["knowledgeBaseConfiguration"]["vectorKnowledgeBaseConfiguration"]).get(
                "embeddingModelConfiguration"
            )
            or {}
        ).get("bedrockEmbeddingModelConfiguration")
        or {}
    ).get("dimensions")
    idx = lab.client("s3vectors").get_index(indexArn=_index_arn(lab, kb_id))["index"]
    if idx["dimension"] != dims:
        _fail(f"the index is {idx['dimension']}-d but the knowledge base embeds at {dims}")
    n = len(stored_chunks(lab, _index_arn(lab, kb_id)))
    return f"ingestion COMPLETE after a failed one; {dims}-d index with {n} chunks"


# --------------------------------------------------------------------------- exam angle

EXAM_ANGLE: dict[str, tuple[str, dict[str, str]]] = {
    "05-vector-store": (
        "B",
        {
            "A": "OpenSearch Serverless bills its minimum OCUs every hour (hundreds of USD a "
            "month) whatever the query volume: wrong for a small, rarely queried index.",
            "B": "S3 Vectors bills storage, PUTs and queries only: cents a month for 20,000 "
            "chunks and 200 queries a day, with sub-second queries.",
            "C": "A provisioned domain bills its nodes around the clock.",
            "D": "A provisioned database instance bills every hour too, and adds operations work.",
        },
    ),
    "05-grounding": (
        "C",
        {
            "A": "Denied topics block subjects, not unsupported claims about an allowed subject.",
            "B": "Content filters score harm (hate, violence...), not faithfulness to sources.",
            "C": "The contextual grounding check scores the answer against the retrieved "
            "source and blocks it below the threshold.",
            "D": "Sensitive-information filters find PII, not invented facts.",
        },
    ),
    "05-token-cost": (
        "B",
        {
            "A": "temperature changes sampling, not the number of tokens billed.",
            "B": "Every template token is billed on every call and maxTokens caps the "
            "output: both cut the tokens per question.",
            "C": "Logging adds observability (and log storage), not savings.",
            "D": "A second data source changes what is indexed, not the tokens per answer.",
        },
    ),
}


def exam_angle(lab: Any, answers: Mapping[str, str]) -> list[str]:
    """Check the lab's framing questions (``choice`` with the answer key kept hashed here).

    Returns:
        The explanation of each right answer. Raises CheckFailed on a wrong one.
    """
    from mllab.checks.choices import choice, encode_choice

    out = []
    for qid, (answer, why) in EXAM_ANGLE.items():
        entry = {"id": qid, **encode_choice(qid, answer, why, mla=["2.1"], salt=f"lab05-{qid}")}
        out.append(choice(entry, (answers or {}).get(qid, ""), lab))
    return out


# --------------------------------------------------------------------------- teardown


def verify_teardown(lab: Any, vector_bucket: str, log_group: str, role_name: str) -> str:
    """Nothing of the assistant is left: vector bucket, knowledge bases, guardrails, prompt,
    custom model, alarm, logging configuration, log group and role."""
    left: list[str] = []
    s3v = lab.client("s3vectors")
    names = [b["vectorBucketName"] for b in s3v.list_vector_buckets().get("vectorBuckets", [])]
    if vector_bucket in names:
        idx = s3v.list_indexes(vectorBucketName=vector_bucket).get("indexes", [])
        left.append(
            f"vector bucket {vector_bucket} ({len(idx)} indexes): s3vectors.delete_index, delete_vector_bucket"
        )
    agent = lab.client("bedrock-agent")
    for kb in agent.list_knowledge_bases().get("knowledgeBaseSummaries", []):
        if kb["name"].startswith("northpeak") and kb.get("status") != "DELETING":
            left.append(f"knowledge base {kb['name']}: agent.delete_knowledge_base")
    for p in agent.list_prompts().get("promptSummaries", []):
        if p["name"].startswith("northpeak"):
            left.append(f"prompt {p['name']}: agent.delete_prompt")
    bedrock = lab.client("bedrock")
    for g in bedrock.list_guardrails().get("guardrails", []):
        if g["name"].startswith("northpeak"):
            left.append(f"guardrail {g['name']}: bedrock.delete_guardrail")
    for m in bedrock.list_custom_models().get("modelSummaries", []):
        if m["modelName"].startswith("northpeak"):
            left.append(
                f"custom model {m['modelName']} (storage bills monthly): bedrock.delete_custom_model"
            )
    if bedrock.get_model_invocation_logging_configuration().get("loggingConfig"):
        left.append("invocation logging: bedrock.delete_model_invocation_logging_configuration")
    cw = lab.client("cloudwatch")
    if cw.describe_alarms(AlarmNamePrefix="northpeak")["MetricAlarms"]:
        left.append("alarm northpeak-latency: cloudwatch.delete_alarms")
    groups = lab.client("logs").describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
    if any(g["logGroupName"] == log_group for g in groups):
        left.append(f"log group {log_group}: logs.delete_log_group")
    try:
        lab.client("iam").get_role(RoleName=role_name)
        left.append(f"role {role_name}: iam.delete_role_policy, iam.delete_role")
    except ClientError:
        pass
    if left:
        _fail("still there:\n  - " + "\n  - ".join(left))
    return "vector store, knowledge bases, guardrails, prompt, custom model, alarm, logs and role deleted"
