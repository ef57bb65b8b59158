"""Offline Amazon Bedrock Knowledge Bases (``bedrock-agent``): build, ingest, sync.

Introduced in the knowledge-base lab. moto 5.2's ``bedrock-agent`` stores knowledge bases
but has no data sources or ingestion jobs and checks no storage configuration, so every
knowledge-base operation is answered here. Ingestion really happens: the S3 objects under
the data source's prefix are read, parsed (txt, md, html, csv; PDF with ``pypdf``), chunked
by tokens (:mod:`mllab.models.chunking`), embedded (:mod:`mllab.models.embeddings`,
wordllama standing in for Titan/Cohere) and written to the configured vector store -- an
offline S3 Vectors index or an offline OpenSearch Serverless index -- which must exist,
with the fields AWS requires, before the knowledge base is created. Re-syncing indexes only
what changed (ETag of the document and of its ``.metadata.json`` sidecar) and deletes the
chunks of objects that are gone. The job runs to completion inside ``StartIngestionJob``
(its answer still says ``STARTING``, as AWS's does); ``GetIngestionJob`` shows the result.

Differences from AWS: no parsing by foundation models or Data Automation (refused), no
custom transformation Lambdas (refused), no web/Confluence/SharePoint connectors (refused),
and embeddings are wordllama's. Costs: ingestion pays embedding tokens (priced by the guard,
``mllab.guard.declarations.bedrock_kb``); deleting a data source with ``dataDeletionPolicy``
DELETE deletes its vectors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

SERVICE = "bedrock-agent"
MAX_METADATA_FILE_BYTES = 10 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".csv", ".pdf"}
#: Known AWS formats this offline plane does not parse (reported, never silently skipped).
NOT_PARSED_OFFLINE = {".doc", ".docx", ".xls", ".xlsx"}

#: Embedding models a knowledge base may use offline: model id -> allowed dimensions.
EMBEDDING_MODELS: dict[str, tuple[int, ...]] = {
    "amazon.titan-embed-text-v2:0": (256, 512, 1024),
    "cohere.embed-english-v3": (1024,),
    "cohere.embed-multilingual-v3": (1024,),
}
DEFAULT_DIMENSIONS = {"amazon.titan-embed-text-v2:0": 1024}

TEXT_KEY = "AMAZON_BEDROCK_TEXT"
META_KEY = "AMAZON_BEDROCK_METADATA"
SOURCE_URI = "x-amz-bedrock-kb-source-uri"
DATA_SOURCE_ID = "x-amz-bedrock-kb-data-source-id"
CHUNK_ID = "x-amz-bedrock-kb-chunk-id"
PAGE = "x-amz-bedrock-kb-document-page-number"

_LOCK = threading.RLock()


def validation(message: str) -> AwsError:
    """A ``ValidationException`` (400)."""
    return AwsError("ValidationException", message, 400)


def not_found(message: str) -> AwsError:
    """A ``ResourceNotFoundException`` (404)."""
    return AwsError("ResourceNotFoundException", message, 404)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_id() -> str:
    return uuid.uuid4().hex[:10].upper()


@dataclass
class DocState:
    """What the vector store holds for one S3 object (for incremental sync)."""

    etag: str
    meta_etag: str | None
    keys: list[str]


@dataclass
class DataSource:
    """One data source of a knowledge base."""

    kb_id: str
    ds_id: str
    name: str
    config: dict[str, Any]
    ingestion: dict[str, Any]
    deletion_policy: str
    description: str | None
    created: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)
    docs: dict[str, DocState] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """GetDataSource's ``dataSource`` shape."""
        out: dict[str, Any] = {
            "knowledgeBaseId": self.kb_id,
            "dataSourceId": self.ds_id,
            "name": self.name,
            "status": "AVAILABLE",
            "dataSourceConfiguration": self.config,
            "dataDeletionPolicy": self.deletion_policy,
            "createdAt": self.created,
            "updatedAt": self.updated,
        }
        if self.ingestion:
            out["vectorIngestionConfiguration"] = self.ingestion
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class KnowledgeBase:
    """One knowledge base: its configuration, data sources and vector store."""

    kb_id: str
    arn: str
    name: str
    role_arn: str
    config: dict[str, Any]
    storage: dict[str, Any]
    description: str | None
    tags: dict[str, str]
    model_id: str
    dimensions: int
    created: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)
    sources: dict[str, DataSource] = field(default_factory=dict)
    polled: bool = False

    def view(self) -> dict[str, Any]:
        """GetKnowledgeBase's ``knowledgeBase`` shape."""
        out: dict[str, Any] = {
            "knowledgeBaseId": self.kb_id,
            "name": self.name,
            "knowledgeBaseArn": self.arn,
            "roleArn": self.role_arn,
            "knowledgeBaseConfiguration": self.config,
            "storageConfiguration": self.storage,
            "status": "ACTIVE",
            "createdAt": self.created,
            "updatedAt": self.updated,
        }
        if self.description:
            out["description"] = self.description
        return out


_STATE: dict[tuple[str, str], dict[str, KnowledgeBase]] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STATE.clear()


def knowledge_bases(account_id: str, region: str) -> dict[str, KnowledgeBase]:
    """The knowledge bases of one account and region (the live dict)."""
    with _LOCK:
        return _STATE.setdefault((account_id, region), {})


def get_kb(account_id: str, region: str, kb_id: str) -> KnowledgeBase:
    """Return a knowledge base or raise AWS's ResourceNotFoundException."""
    kb = knowledge_bases(account_id, region).get(kb_id)
    if kb is None:
        raise not_found(f"Knowledge base with id {kb_id} does not exist")
    return kb


def _get_ds(kb: KnowledgeBase, ds_id: str) -> DataSource:
    ds = kb.sources.get(ds_id)
    if ds is None:
        raise not_found(f"Data source with id {ds_id} does not exist in knowledge base {kb.kb_id}")
    return ds


# --------------------------------------------------------------------------- vector stores


class VectorSink:
    """Where a knowledge base's chunks live: an S3 Vectors index or an OpenSearch index."""

    dimension: int

    def put(self, rows: list[tuple[str, list[float], str, dict[str, Any], dict[str, Any]]]) -> None:
        """Write (key, vector, text, filterable metadata, extra) rows."""
        raise NotImplementedError

    def delete(self, keys: list[str]) -> None:
        """Delete chunks by key."""
        raise NotImplementedError

    def search(
        self, vector: list[float], k: int, predicate: Any, query: str | None, hybrid: bool
    ) -> list[tuple[str, float, str, dict[str, Any], dict[str, Any]]]:
        """Return (key, score, text, metadata, extra), best first."""
        raise NotImplementedError


class S3VectorsSink(VectorSink):
    """An offline S3 Vectors index (text and extras in non-filterable keys, as AWS stores them)."""

    def __init__(self, account_id: str, region: str, conf: dict[str, Any]) -> None:
        from mllab.offline.s3vectors import service

        params = dict(conf)
        if not params.get("indexArn") and params.get("vectorBucketArn"):
            params["vectorBucketArn"] = conf["vectorBucketArn"]
        try:
            self.index = service.get_index(account_id, region, params)
        except AwsError as err:
            raise validation(
                "The knowledge base storage configuration provided is invalid... "
                f"S3 vector index not found ({err.message}). Create the vector bucket and "
                "index before the knowledge base."
            ) from None
        self.dimension = self.index.dimension

    def put(self, rows: list[tuple[str, list[float], str, dict[str, Any], dict[str, Any]]]) -> None:
        records = []
        for key, vec, text, meta, extra in rows:
            md = dict(meta)
            md[TEXT_KEY] = text
            md[META_KEY] = json.dumps(extra, separators=(",", ":"))
            records.append(
                (key, self.index.check_vector(key, vec), self.index.check_metadata(key, md))
            )
        self.index.put(records)

    def delete(self, keys: list[str]) -> None:
        self.index.delete(keys)

    def search(
        self, vector: list[float], k: int, predicate: Any, query: str | None, hybrid: bool
    ) -> list[tuple[str, float, str, dict[str, Any], dict[str, Any]]]:
        from mllab.offline.s3vectors.store import matches

        flt = predicate.s3vectors() if predicate is not None else None
        hits = self.index.query({"float32": vector}, k, flt)
        out = []
        for key, dist, md in hits:
            if flt is not None and not matches(flt, md):  # pragma: no cover - store pre-filters
                continue
            meta = {m: v for m, v in md.items() if m not in (TEXT_KEY, META_KEY)}
            score = 1.0 - dist if self.index.metric == "cosine" else 1.0 / (1.0 + dist)
            out.append(
                (key, score, str(md.get(TEXT_KEY, "")), meta, json.loads(md.get(META_KEY) or "{}"))
            )
        return out


class OpenSearchSink(VectorSink):
    """An offline OpenSearch Serverless vector index, with the field mapping AWS requires."""

    def __init__(self, account_id: str, region: str, conf: dict[str, Any]) -> None:
        from mllab.offline.opensearchserverless import service

        self.fields = conf["fieldMapping"]
        self.index = service.index_for_kb(
            account_id, region, conf["collectionArn"], conf["vectorIndexName"], self.fields
        )
        self.dimension = int(self.index.vector_fields()[self.fields["vectorField"]]["dimension"])

    def put(self, rows: list[tuple[str, list[float], str, dict[str, Any], dict[str, Any]]]) -> None:
        f = self.fields
        for key, vec, text, meta, extra in rows:
            src = dict(meta)
            src[f["vectorField"]] = [float(x) for x in vec]
            src[f["textField"]] = text
            src[f["metadataField"]] = json.dumps(extra, separators=(",", ":"))
            self.index.index(key, src)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.index.delete(key)

    def search(
        self, vector: list[float], k: int, predicate: Any, query: str | None, hybrid: bool
    ) -> list[tuple[str, float, str, dict[str, Any], dict[str, Any]]]:
        from mllab.models.retrieval import reciprocal_rank_fusion

        f = self.fields
        docs = self.index.docs
        allowed = {i for i, d in docs.items() if predicate is None or predicate(d)}
        knn = self.index.knn_scores(f["vectorField"], vector)
        sem = sorted((i for i in knn if i in allowed), key=lambda i: -knn[i])
        if hybrid and query:
            kw = self.index.match_scores(f["textField"], query)
            lex = sorted((i for i in kw if i in allowed), key=lambda i: -kw[i])
            ranked = reciprocal_rank_fusion([sem[: max(k * 4, 50)], lex[: max(k * 4, 50)]])[:k]
        else:
            ranked = [(i, knn[i]) for i in sem[:k]]
        skip = {f["vectorField"], f["textField"], f["metadataField"]}
        out = []
        for i, score in ranked:
            d = docs[i]
            meta = {m: v for m, v in d.items() if m not in skip}
            out.append(
                (
                    i,
                    score,
                    str(d.get(f["textField"], "")),
                    meta,
                    json.loads(d.get(f["metadataField"]) or "{}"),
                )
            )
        return out


def sink_for(account_id: str, region: str, kb: KnowledgeBase) -> VectorSink:
    """The vector store of a knowledge base."""
    st = kb.storage
    if st["type"] == "S3_VECTORS":
        return S3VectorsSink(account_id, region, st.get("s3VectorsConfiguration") or {})
    return OpenSearchSink(account_id, region, st["opensearchServerlessConfiguration"])


# --------------------------------------------------------------------------- knowledge bases


def _model_id(arn: str) -> str:
    m = re.match(
        r"^arn:aws[\w-]*:bedrock:[^:]*:\d*:(?:foundation-model|inference-profile)/(.+)$", arn
    )
    return m.group(1) if m else arn


@handles(SERVICE, "CreateKnowledgeBase")
def _create_kb(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    conf = p["knowledgeBaseConfiguration"]
    if conf.get("type") != "VECTOR":
        raise validation(
            f"Knowledge base type {conf.get('type')} is not emulated offline; use type VECTOR"
        )
    vconf = conf.get("vectorKnowledgeBaseConfiguration")
    if not vconf:
        raise validation(
            "vectorKnowledgeBaseConfiguration is required when knowledgeBaseConfiguration.type "
            "is VECTOR"
        )
    model = _model_id(vconf["embeddingModelArn"])
    if model not in EMBEDDING_MODELS:
        raise validation(
            f"The embedding model {vconf['embeddingModelArn']} is not supported for knowledge "
            f"bases offline. Use one of: {', '.join(sorted(EMBEDDING_MODELS))}"
        )
    emb = (vconf.get("embeddingModelConfiguration") or {}).get(
        "bedrockEmbeddingModelConfiguration"
    ) or {}
    dims = int(emb.get("dimensions") or DEFAULT_DIMENSIONS.get(model, EMBEDDING_MODELS[model][0]))
    if dims not in EMBEDDING_MODELS[model]:
        raise validation(
            f"The embedding dimensions {dims} are not supported by {model}; supported: "
            f"{', '.join(map(str, EMBEDDING_MODELS[model]))}"
        )
    if emb.get("embeddingDataType", "FLOAT32") != "FLOAT32":
        raise validation("embeddingDataType BINARY is not emulated offline; use FLOAT32")
    if not re.match(r"^arn:aws[\w-]*:iam::\d{12}:role/.+$", str(p.get("roleArn", ""))):
        raise validation(f"The provided role ARN {p.get('roleArn')!r} is not a valid IAM role ARN")
    storage = p.get("storageConfiguration")
    if not storage:
        raise validation("storageConfiguration is required for a VECTOR knowledge base")
    stype = storage.get("type")
    if stype == "S3_VECTORS":
        s3v = storage.get("s3VectorsConfiguration") or {}
        if not s3v.get("indexArn") and not (s3v.get("vectorBucketArn") and s3v.get("indexName")):
            raise validation(
                "s3VectorsConfiguration needs indexArn, or vectorBucketArn and indexName"
            )
    elif stype == "OPENSEARCH_SERVERLESS":
        if not storage.get("opensearchServerlessConfiguration"):
            raise validation(
                "opensearchServerlessConfiguration is required when storageConfiguration.type "
                "is OPENSEARCH_SERVERLESS"
            )
    else:
        raise validation(
            f"Vector store type {stype} is not emulated offline; use S3_VECTORS or OPENSEARCH_SERVERLESS"
        )
    with _LOCK:
        kbs = knowledge_bases(call.account_id, call.region)
        if any(k.name == p["name"] for k in kbs.values()):
            raise AwsError(
                "ConflictException",
                f"A knowledge base with the name {p['name']} already exists",
                409,
            )
        kb_id = _new_id()
        kb = KnowledgeBase(
            kb_id=kb_id,
            arn=f"arn:aws:bedrock:{call.region}:{call.account_id}:knowledge-base/{kb_id}",
            name=p["name"],
            role_arn=p["roleArn"],
            config=conf,
            storage=storage,
            description=p.get("description"),
            tags=dict(p.get("tags") or {}),
            model_id=model,
            dimensions=dims,
        )
        sink_for(call.account_id, call.region, kb)  # the store must exist (AWS checks it)
        kbs[kb_id] = kb
    view = kb.view()
    view["status"] = "CREATING"
    return {"knowledgeBase": view}


@handles(SERVICE, "GetKnowledgeBase")
def _get_kb(call: OfflineCall) -> dict[str, Any]:
    return {
        "knowledgeBase": get_kb(call.account_id, call.region, call.params["knowledgeBaseId"]).view()
    }


def _page(items: list[Any], p: dict[str, Any], cap: int = 1000) -> tuple[list[Any], str | None]:
    size = int(p.get("maxResults") or cap)
    start = int(p["nextToken"]) if p.get("nextToken", "").isdigit() else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


@handles(SERVICE, "ListKnowledgeBases")
def _list_kbs(call: OfflineCall) -> dict[str, Any]:
    kbs = sorted(knowledge_bases(call.account_id, call.region).values(), key=lambda k: k.created)
    page, token = _page(kbs, call.params)
    out: dict[str, Any] = {
        "knowledgeBaseSummaries": [
            {
                "knowledgeBaseId": k.kb_id,
                "name": k.name,
                "status": "ACTIVE",
                "updatedAt": k.updated,
                **({"description": k.description} if k.description else {}),
            }
            for k in page
        ]
    }
    if token:
        out["nextToken"] = token
    return out


@handles(SERVICE, "UpdateKnowledgeBase")
def _update_kb(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    if p["knowledgeBaseConfiguration"] != kb.config or p["storageConfiguration"] != kb.storage:
        raise validation(
            "The embedding model and the vector store of a knowledge base cannot be changed; "
            "create a new knowledge base"
        )
    kb.name, kb.role_arn, kb.description = p["name"], p["roleArn"], p.get("description")
    kb.updated = _now()
    return {"knowledgeBase": kb.view()}


@handles(SERVICE, "DeleteKnowledgeBase")
def _delete_kb(call: OfflineCall) -> dict[str, Any]:
    with _LOCK:
        kb = get_kb(call.account_id, call.region, call.params["knowledgeBaseId"])
        for ds in list(kb.sources.values()):
            _drop_source(call.account_id, call.region, kb, ds)
        del knowledge_bases(call.account_id, call.region)[kb.kb_id]
    # the vector store (bucket, index, collection) is NOT deleted, as on AWS
    return {"knowledgeBaseId": kb.kb_id, "status": "DELETING"}


def _drop_source(account_id: str, region: str, kb: KnowledgeBase, ds: DataSource) -> None:
    if ds.deletion_policy == "DELETE":
        try:
            sink = sink_for(account_id, region, kb)
            for doc in ds.docs.values():
                sink.delete(doc.keys)
        except AwsError:
            pass  # the store is gone already
    kb.sources.pop(ds.ds_id, None)


# --------------------------------------------------------------------------- data sources


def _check_ingestion(conf: dict[str, Any]) -> None:
    if conf.get("parsingConfiguration"):
        raise validation(
            "parsingConfiguration (foundation-model or Data Automation parsing) is not emulated "
            "offline; omit it to use the default text parser"
        )
    if conf.get("customTransformationConfiguration"):
        raise validation(
            "customTransformationConfiguration (Lambda transformations) is not emulated offline"
        )
    if conf.get("contextEnrichmentConfiguration"):
        raise validation("contextEnrichmentConfiguration is not emulated offline")
    chunk = conf.get("chunkingConfiguration")
    if chunk and chunk.get("chunkingStrategy") == "HIERARCHICAL":
        levels = chunk["hierarchicalChunkingConfiguration"]["levelConfigurations"]
        if levels[1]["maxTokens"] >= levels[0]["maxTokens"]:
            raise validation(
                "HIERARCHICAL chunking: the child level's maxTokens must be smaller than the "
                "parent level's"
            )
    for strategy, key in (
        ("FIXED_SIZE", "fixedSizeChunkingConfiguration"),
        ("HIERARCHICAL", "hierarchicalChunkingConfiguration"),
        ("SEMANTIC", "semanticChunkingConfiguration"),
    ):
        if chunk and chunk.get("chunkingStrategy") == strategy and not chunk.get(key):
            raise validation(f"{key} is required when chunkingStrategy is {strategy}")


@handles(SERVICE, "CreateDataSource")
def _create_ds(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    conf = p["dataSourceConfiguration"]
    if conf.get("type") != "S3":
        raise validation(f"Data source type {conf.get('type')} is not emulated offline; use S3")
    s3c = conf.get("s3Configuration")
    if not s3c or not re.match(
        r"^arn:aws[\w-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", s3c.get("bucketArn", "")
    ):
        raise validation("s3Configuration.bucketArn must be an S3 bucket ARN (arn:aws:s3:::bucket)")
    ingestion = p.get("vectorIngestionConfiguration") or {}
    _check_ingestion(ingestion)
    with _LOCK:
        if any(d.name == p["name"] for d in kb.sources.values()):
            raise AwsError(
                "ConflictException", f"A data source with the name {p['name']} already exists", 409
            )
        ds = DataSource(
            kb_id=kb.kb_id,
            ds_id=_new_id(),
            name=p["name"],
            config=conf,
            ingestion=ingestion,
            deletion_policy=p.get("dataDeletionPolicy") or "DELETE",
            description=p.get("description"),
        )
        kb.sources[ds.ds_id] = ds
    return {"dataSource": ds.view()}


@handles(SERVICE, "GetDataSource")
def _get_ds_op(call: OfflineCall) -> dict[str, Any]:
    kb = get_kb(call.account_id, call.region, call.params["knowledgeBaseId"])
    return {"dataSource": _get_ds(kb, call.params["dataSourceId"]).view()}


@handles(SERVICE, "ListDataSources")
def _list_ds(call: OfflineCall) -> dict[str, Any]:
    kb = get_kb(call.account_id, call.region, call.params["knowledgeBaseId"])
    page, token = _page(sorted(kb.sources.values(), key=lambda d: d.created), call.params)
    out: dict[str, Any] = {
        "dataSourceSummaries": [
            {
                "knowledgeBaseId": d.kb_id,
                "dataSourceId": d.ds_id,
                "name": d.name,
                "status": "AVAILABLE",
                "updatedAt": d.updated,
            }
            for d in page
        ]
    }
    if token:
        out["nextToken"] = token
    return out


@handles(SERVICE, "UpdateDataSource")
def _update_ds(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    ds = _get_ds(kb, p["dataSourceId"])
    new_ing = p.get("vectorIngestionConfiguration") or {}
    if (new_ing.get("chunkingConfiguration") or None) != (
        ds.ingestion.get("chunkingConfiguration") or None
    ):
        raise validation(
            "The chunking configuration of a data source cannot be updated; create a new data source"
        )
    ds.name, ds.config = p["name"], p["dataSourceConfiguration"]
    ds.deletion_policy = p.get("dataDeletionPolicy") or ds.deletion_policy
    ds.description = p.get("description")
    ds.updated = _now()
    return {"dataSource": ds.view()}


@handles(SERVICE, "DeleteDataSource")
def _delete_ds(call: OfflineCall) -> dict[str, Any]:
    kb = get_kb(call.account_id, call.region, call.params["knowledgeBaseId"])
    ds = _get_ds(kb, call.params["dataSourceId"])
    _drop_source(call.account_id, call.region, kb, ds)
    return {"knowledgeBaseId": kb.kb_id, "dataSourceId": ds.ds_id, "status": "DELETING"}


# --------------------------------------------------------------------------- parsing


def _ext(key: str) -> str:
    name = key.rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def parse(key: str, body: bytes) -> list[tuple[str, int | None]]:
    """Parse one document into (text, page number or None) parts.

    Args:
        key: the object key (its extension picks the parser).
        body: the object's bytes.

    Returns:
        One part per PDF page, else one part. Raises ValueError on an unreadable document.
    """
    ext = _ext(key)
    if ext == ".pdf":
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(body))
        return [(page.extract_text() or "", i + 1) for i, page in enumerate(reader.pages)]
    text = body.decode("utf-8", errors="replace")
    if ext in (".html", ".htm"):
        return [(_html_text(text), None)]
    if ext == ".csv":
        import csv

        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return [("", None)]
        head = rows[0]
        lines = ["; ".join(f"{h}: {v}" for h, v in zip(head, r, strict=False)) for r in rows[1:]]
        return [("\n".join(lines), None)]
    return [(text, None)]


def _html_text(html: str) -> str:
    from html.parser import HTMLParser

    class _P(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in ("script", "style"):
                self.skip += 1
            elif tag in ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "tr"):
                self.parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style") and self.skip:
                self.skip -= 1

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    p = _P()
    p.feed(html)
    return re.sub(r"\n\s*\n+", "\n\n", "".join(p.parts)).strip()


def _metadata_attributes(raw: bytes, uri: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ValueError(f"The metadata file for {uri} is not valid JSON") from None
    attrs = doc.get("metadataAttributes") if isinstance(doc, dict) else None
    if not isinstance(attrs, dict):
        raise ValueError(f"The metadata file for {uri} has no metadataAttributes object")
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if isinstance(v, dict) and "value" in v:  # the typed form
            val = v["value"]
            out[k] = next(
                (
                    val[t]
                    for t in ("stringValue", "numberValue", "booleanValue", "stringListValue")
                    if t in val
                ),
                None,
            )
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------- ingestion


def _list_objects(s3: Any, bucket: str, prefixes: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for prefix in prefixes or [""]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                if not o["Key"].endswith("/"):
                    out[o["Key"]] = o
    return out


def _read_object(call: OfflineCall, s3: Any, bucket: str, key: str) -> bytes:
    """An object's bytes as the service reads them: from moto's store directly offline
    (Bedrock reads the data source with its role, not through the learner's client)."""
    try:
        from mllab.offline.sagemaker import s3io

        return s3io.get_bytes(call.account_id, f"s3://{bucket}/{key}")
    except ImportError:  # pragma: no cover - the SageMaker plane ships with this one
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def ingest(call: OfflineCall, kb: KnowledgeBase, ds: DataSource, job: dict[str, Any]) -> None:
    """Run one ingestion job: scan, parse, chunk, embed, write, delete what is gone.

    Args:
        call: the StartIngestionJob call (its session reads S3).
        kb: the knowledge base.
        ds: the data source.
        job: the job record, updated in place with status, statistics and failureReasons.
    """
    from mllab.models import chunking, embeddings, tokens

    stats = job["statistics"]
    failures: list[str] = job["failureReasons"]
    s3 = call.client("s3")
    s3c = ds.config["s3Configuration"]
    bucket = s3c["bucketArn"].split(":::", 1)[1]
    try:
        objects = _list_objects(s3, bucket, s3c.get("inclusionPrefixes") or [])
        sink = sink_for(call.account_id, call.region, kb)
    except AwsError as err:
        job["status"], job["failureReasons"] = "FAILED", [err.message]
        return
    except Exception as err:  # noqa: BLE001 - the bucket is unreadable: the job fails
        job["status"], job["failureReasons"] = "FAILED", [f"Unable to read s3://{bucket}: {err}"]
        return
    chunk_conf = ds.ingestion.get("chunkingConfiguration")
    docs = {k: o for k, o in objects.items() if not k.endswith(".metadata.json")}
    sidecars = {
        k[: -len(".metadata.json")]: o for k, o in objects.items() if k.endswith(".metadata.json")
    }
    stats["numberOfMetadataDocumentsScanned"] = len(sidecars)
    pending: list[
        tuple[str, str, dict[str, Any], str | None, DocState | None, dict[str, Any], list[Any]]
    ] = []
    for key in sorted(docs):
        obj = docs[key]
        uri = f"s3://{bucket}/{key}"
        stats["numberOfDocumentsScanned"] += 1
        side = sidecars.get(key)
        meta_etag = side["ETag"] if side else None
        old = ds.docs.get(key)
        if old is not None and old.etag == obj["ETag"] and old.meta_etag == meta_etag:
            continue  # unchanged: nothing to do
        ext = _ext(key)
        if ext not in SUPPORTED:
            why = "is not parsed offline" if ext in NOT_PARSED_OFFLINE else "is not supported"
            failures.append(
                f"Encountered error: Ignored 1 files as their file format ({ext or 'none'}) "
                f"{why}. [Files: {uri}]"
            )
            stats["numberOfDocumentsFailed"] += 1
            continue
        if obj["Size"] > MAX_DOCUMENT_BYTES:
            failures.append(f"Encountered error: the file {uri} is larger than the 50 MB limit.")
            stats["numberOfDocumentsFailed"] += 1
            continue
        attrs: dict[str, Any] = {}
        if side is not None:
            if side["Size"] > MAX_METADATA_FILE_BYTES:
                failures.append(
                    f"Encountered error: The metadata file {uri}.metadata.json is "
                    f"{side['Size']} bytes; metadata files can be at most 10 KB. [Files: {uri}]"
                )
                stats["numberOfDocumentsFailed"] += 1
                continue
            try:
                raw = _read_object(call, s3, bucket, key + ".metadata.json")
                attrs = _metadata_attributes(raw, uri)
            except ValueError as err:
                failures.append(f"Encountered error: {err}. [Files: {uri}]")
                stats["numberOfDocumentsFailed"] += 1
                continue
        try:
            body = _read_object(call, s3, bucket, key)
            parts = parse(key, body)
        except Exception as err:  # noqa: BLE001 - an unreadable document fails alone
            failures.append(f"Encountered error: unable to parse {uri}: {err}. [Files: {uri}]")
            stats["numberOfDocumentsFailed"] += 1
            continue
        if sink.dimension != kb.dimensions:
            failures.append(
                f"Encountered error: The vector dimension {kb.dimensions} of the embedding model "
                f"does not match the dimension {sink.dimension} of the vector index. "
                f"[Files: {uri}]"
            )
            stats["numberOfDocumentsFailed"] += 1
            continue
        rows = []
        for text, page in parts:
            for i, c in enumerate(chunking.chunk(text, chunk_conf)):
                rows.append((page, i, c))
        pending.append((key, uri, obj, meta_etag, old, attrs, rows))
    # embed every chunk of the job in one batch (as Bedrock batches its embedding calls),
    # then write per document so that one document's failure stays with it
    all_texts = [c.text for *_, rows in pending for _, _, c in rows]
    all_vecs: Any = embeddings.embed(all_texts, kb.dimensions) if all_texts else []
    chunks = [c for *_, rows in pending for _, _, c in rows]
    uncounted = [c.text for c in chunks if not c.tokens]
    embed_tokens = sum(c.tokens for c in chunks) + (
        sum(tokens.count_many(uncounted)) if uncounted else 0
    )
    pos = 0
    for key, uri, obj, meta_etag, old, attrs, rows in pending:
        vecs = all_vecs[pos : pos + len(rows)]
        pos += len(rows)
        modified = old is not None
        meta_only = modified and old is not None and old.etag == obj["ETag"]
        out_rows = []
        for (page, i, c), vec in zip(rows, vecs, strict=True):
            ck = str(uuid.UUID(hashlib.md5(f"{ds.ds_id}|{uri}|{page}|{i}".encode()).hexdigest()))
            meta = {SOURCE_URI: uri, DATA_SOURCE_ID: ds.ds_id, CHUNK_ID: ck, **attrs}
            if page is not None:
                meta[PAGE] = page
            extra: dict[str, Any] = {"span": [c.start, c.end]}
            if c.parent is not None:
                extra["parent"] = c.parent.text
                extra["parentSpan"] = [c.parent.start, c.parent.end]
            out_rows.append((ck, vec, c.text, meta, extra))
        try:
            if old is not None:
                sink.delete(old.keys)
            sink.put(out_rows)
        except AwsError as err:
            failures.append(f"Encountered error: {err.message} [Files: {uri}]")
            stats["numberOfDocumentsFailed"] += 1
            ds.docs.pop(key, None)
            continue
        ds.docs[key] = DocState(obj["ETag"], meta_etag, [r[0] for r in out_rows])
        if meta_only:
            stats["numberOfMetadataDocumentsModified"] += 1
        elif modified:
            stats["numberOfModifiedDocumentsIndexed"] += 1
        else:
            stats["numberOfNewDocumentsIndexed"] += 1
    for key in sorted(set(ds.docs) - set(docs)):
        sink.delete(ds.docs.pop(key).keys)
        stats["numberOfDocumentsDeleted"] += 1
    job["status"] = "COMPLETE"
    job["embeddingTokens"] = embed_tokens


def _job_view(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k not in ("embeddingTokens", "settledInLedger")}


@handles(SERVICE, "StartIngestionJob")
def _start_job(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    ds = _get_ds(kb, p["dataSourceId"])
    now = _now()
    job: dict[str, Any] = {
        "knowledgeBaseId": kb.kb_id,
        "dataSourceId": ds.ds_id,
        "ingestionJobId": _new_id(),
        "status": "IN_PROGRESS",
        "statistics": {
            k: 0
            for k in (
                "numberOfDocumentsScanned",
                "numberOfMetadataDocumentsScanned",
                "numberOfNewDocumentsIndexed",
                "numberOfModifiedDocumentsIndexed",
                "numberOfMetadataDocumentsModified",
                "numberOfDocumentsDeleted",
                "numberOfDocumentsFailed",
            )
        },
        "failureReasons": [],
        "startedAt": now,
        "updatedAt": now,
    }
    if p.get("description"):
        job["description"] = p["description"]
    with _LOCK:
        ingest(call, kb, ds, job)
    job["updatedAt"] = _now()
    ds.jobs[job["ingestionJobId"]] = job
    started = _job_view(job)
    started["status"] = "STARTING"
    started["statistics"] = {k: 0 for k in job["statistics"]}
    started["failureReasons"] = []
    return {"ingestionJob": started}


@handles(SERVICE, "GetIngestionJob")
def _get_job(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    ds = _get_ds(kb, p["dataSourceId"])
    job = ds.jobs.get(p["ingestionJobId"])
    if job is None:
        raise not_found(f"Ingestion job with id {p['ingestionJobId']} does not exist")
    _settle(job)
    return {"ingestionJob": _job_view(job)}


def _settle(job: dict[str, Any]) -> None:
    """Offline: replace the guard's worst-case estimate with the embedding tokens used."""
    if job.get("settledInLedger"):
        return
    job["settledInLedger"] = True
    try:
        from mllab import hooks
        from mllab.guard.declarations import bedrock_kb

        lab = hooks.active()
        if lab is None:
            return
        resource = bedrock_kb.ingestion_resource(job["knowledgeBaseId"], job["dataSourceId"])
        row = lab.guard.ledger.latest_for(resource, run=lab.guard.run)
        if row is not None and row.actual_usd is None:
            used = bedrock_kb.embedding_usd(int(job.get("embeddingTokens", 0)))
            lab.guard.ledger.set_actual(row.id, used)
    except Exception:  # noqa: BLE001 - settling the ledger is best effort
        pass


@handles(SERVICE, "ListIngestionJobs")
def _list_jobs(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    ds = _get_ds(kb, p["dataSourceId"])
    jobs = sorted(ds.jobs.values(), key=lambda j: j["startedAt"], reverse=True)
    for f in p.get("filters") or []:
        if f.get("attribute") == "STATUS":
            jobs = [j for j in jobs if j["status"] in f.get("values", [])]
    page, token = _page(jobs, p)
    out: dict[str, Any] = {
        "ingestionJobSummaries": [
            {
                k: v
                for k, v in _job_view(j).items()
                if k
                in (
                    "knowledgeBaseId",
                    "dataSourceId",
                    "ingestionJobId",
                    "description",
                    "status",
                    "startedAt",
                    "updatedAt",
                    "statistics",
                )
            }
            for j in page
        ]
    }
    if token:
        out["nextToken"] = token
    return out


@handles(SERVICE, "StopIngestionJob")
def _stop_job(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    kb = get_kb(call.account_id, call.region, p["knowledgeBaseId"])
    job = _get_ds(kb, p["dataSourceId"]).jobs.get(p["ingestionJobId"])
    if job is None:
        raise not_found(f"Ingestion job with id {p['ingestionJobId']} does not exist")
    if job["status"] in ("COMPLETE", "FAILED", "STOPPED"):
        raise AwsError("ConflictException", f"The ingestion job is already {job['status']}", 409)
    return {"ingestionJob": _job_view(job)}


@handles(SERVICE, "TagResource")
def _tag(call: OfflineCall) -> dict[str, Any] | None:
    kb = _kb_by_arn(call)
    if kb is None:
        return None
    kb.tags.update(call.params.get("tags") or {})
    return {}


@handles(SERVICE, "UntagResource")
def _untag(call: OfflineCall) -> dict[str, Any] | None:
    kb = _kb_by_arn(call)
    if kb is None:
        return None
    for k in call.params.get("tagKeys") or []:
        kb.tags.pop(k, None)
    return {}


@handles(SERVICE, "ListTagsForResource")
def _list_tags(call: OfflineCall) -> dict[str, Any] | None:
    kb = _kb_by_arn(call)
    return None if kb is None else {"tags": dict(kb.tags)}


def _kb_by_arn(call: OfflineCall) -> KnowledgeBase | None:
    arn = str(call.params.get("resourceArn", ""))
    if ":knowledge-base/" not in arn:
        return None  # another resource type (agents, prompts): not ours
    return get_kb(call.account_id, call.region, arn.rsplit("/", 1)[-1])
