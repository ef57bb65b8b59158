"""Offline ``bedrock-agent-runtime``: Retrieve and RetrieveAndGenerate on knowledge bases.

Introduced in the knowledge-base lab. ``Retrieve`` embeds the query with the knowledge
base's embedding model and searches its vector store exactly (:mod:`.knowledge_bases`);
``overrideSearchType`` HYBRID (OpenSearch Serverless only, as AWS documents) fuses that
ranking with BM25 over the chunk text by reciprocal rank. Metadata filters use Bedrock's
``RetrievalFilter`` (``equals``, ``notEquals``, ``greaterThan``..., ``in``, ``notIn``,
``startsWith``, ``stringContains``, ``listContains``, ``andAll``, ``orAll``).

``RetrieveAndGenerate`` retrieves, fills the prompt template (``$search_results$``,
``$query$``; a custom ``textPromptTemplate`` must contain ``$search_results$``), and asks the
stand-in model (:func:`mllab.models.foundation.generate`), which answers only with sentences
of the retrieved chunks -- so each sentence of the answer is cited with the chunks it came
from and their S3 locations. Sessions keep earlier turns (``sessionId``); a guardrail is
applied through :func:`mllab.offline.bedrock.guardrails.assess` when that module exists.
Costs: the query embedding and the generation tokens (priced by the guard).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from mllab.offline.bedrock import knowledge_bases as kbs
from mllab.offline.registry import OfflineCall, handles, on_reset

SERVICE = "bedrock-agent-runtime"
DEFAULT_RESULTS = 5

#: Bedrock's default knowledge-base generation prompt, paraphrased: results, then the question.
DEFAULT_TEMPLATE = (
    "You are a question answering agent. I will provide you with a set of search results. "
    "The user will provide you with a question. Your job is to answer the user's question "
    "using only information from the search results. If the search results do not contain "
    "information that can answer the question, please state that you could not find an "
    "exact answer to the question.\n\nHere are the search results in numbered order:\n"
    "$search_results$\n\nQuestion: $query$"
)

_SESSIONS: dict[str, list[dict[str, Any]]] = {}
_LOCK = threading.Lock()


@on_reset
def _reset() -> None:
    with _LOCK:
        _SESSIONS.clear()


# --------------------------------------------------------------------------- filters

_LEAF = {
    "equals",
    "notEquals",
    "greaterThan",
    "greaterThanOrEquals",
    "lessThan",
    "lessThanOrEquals",
    "in",
    "notIn",
    "startsWith",
    "stringContains",
    "listContains",
}
_S3V_OPS = {
    "equals": "$eq",
    "notEquals": "$ne",
    "greaterThan": "$gt",
    "greaterThanOrEquals": "$gte",
    "lessThan": "$lt",
    "lessThanOrEquals": "$lte",
    "in": "$in",
    "notIn": "$nin",
    "listContains": "$eq",
}


class Filter:
    """A Bedrock ``RetrievalFilter``: callable on a chunk's metadata, translatable to S3 Vectors."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if not isinstance(spec, dict) or len(spec) != 1:
            raise kbs.validation("A RetrievalFilter must have exactly one member")
        ((op, arg),) = spec.items()
        if op in ("andAll", "orAll"):
            if not isinstance(arg, list) or len(arg) < 2:
                raise kbs.validation(f"{op} takes a list of at least 2 filters")
            self.children = [Filter(s) for s in arg]
        elif op in _LEAF:
            if not isinstance(arg, dict) or "key" not in arg or "value" not in arg:
                raise kbs.validation(f"{op} takes an object with key and value")
            if op in ("in", "notIn") and not isinstance(arg["value"], list):
                raise kbs.validation(f"{op} takes a list value")
            self.children = []
        else:
            raise kbs.validation(f"Unknown RetrievalFilter member {op!r}")
        self.op, self.arg = op, arg

    def __call__(self, meta: dict[str, Any]) -> bool:
        if self.op == "andAll":
            return all(c(meta) for c in self.children)
        if self.op == "orAll":
            return any(c(meta) for c in self.children)
        key, value = self.arg["key"], self.arg["value"]
        present, got = key in meta, meta.get(key)
        op = self.op
        if op == "equals":
            return present and got == value
        if op == "notEquals":
            return not (present and got == value)
        if op == "in":
            return present and got in value
        if op == "notIn":
            return not (present and got in value)
        if op == "listContains":
            return isinstance(got, list) and value in got
        if op == "startsWith":
            return isinstance(got, str) and got.startswith(str(value))
        if op == "stringContains":
            if isinstance(got, list):
                return any(isinstance(g, str) and str(value) in g for g in got)
            return isinstance(got, str) and str(value) in got
        if isinstance(got, bool) or not isinstance(got, int | float):
            return False
        cmp: dict[str, Callable[[float, float], bool]] = {
            "greaterThan": lambda a, b: a > b,
            "greaterThanOrEquals": lambda a, b: a >= b,
            "lessThan": lambda a, b: a < b,
            "lessThanOrEquals": lambda a, b: a <= b,
        }
        return cmp[op](float(got), float(value))

    def s3vectors(self) -> dict[str, Any]:
        """The same filter in S3 Vectors' filter language (``startsWith`` etc. refused)."""
        if self.op == "andAll":
            return {"$and": [c.s3vectors() for c in self.children]}
        if self.op == "orAll":
            return {"$or": [c.s3vectors() for c in self.children]}
        if self.op not in _S3V_OPS:
            raise kbs.validation(
                f"The filter operator {self.op} is not supported for knowledge bases on Amazon S3 "
                "Vectors (startsWith and stringContains need OpenSearch Serverless)"
            )
        return {self.arg["key"]: {_S3V_OPS[self.op]: self.arg["value"]}}


# --------------------------------------------------------------------------- retrieval


def retrieve(
    account_id: str, region: str, kb_id: str, query: str, config: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Retrieve chunks from a knowledge base as ``Retrieve`` does.

    Args:
        account_id: the offline account.
        region: the region.
        kb_id: the knowledge base id.
        query: the query text.
        config: ``retrievalConfiguration`` (``vectorSearchConfiguration``: numberOfResults,
            filter, overrideSearchType).

    Returns:
        ``retrievalResults`` in AWS's shape (content, location, metadata, score), best first.
        Costs one query embedding (local, free offline); deletes nothing.
    """
    from mllab.models import embeddings

    kb = kbs.get_kb(account_id, region, kb_id)
    vconf = (config or {}).get("vectorSearchConfiguration") or {}
    if (config or {}).get("managedSearchConfiguration"):
        raise kbs.validation("managedSearchConfiguration applies to MANAGED knowledge bases only")
    if vconf.get("rerankingConfiguration") or vconf.get("implicitFilterConfiguration"):
        raise kbs.validation(
            "rerankingConfiguration and implicitFilterConfiguration are not emulated offline"
        )
    k = int(vconf.get("numberOfResults") or DEFAULT_RESULTS)
    if not 1 <= k <= 100:
        raise kbs.validation("numberOfResults must be between 1 and 100")
    if not query or not query.strip():
        raise kbs.validation("retrievalQuery.text must not be empty")
    search_type = vconf.get("overrideSearchType") or "SEMANTIC"
    hybrid = search_type == "HYBRID"
    if hybrid and kb.storage["type"] != "OPENSEARCH_SERVERLESS":
        raise kbs.validation(
            "HYBRID search is not supported for this knowledge base: only Amazon OpenSearch "
            "Serverless vector stores with a filterable text field support HYBRID. Use SEMANTIC."
        )
    predicate = Filter(vconf["filter"]) if vconf.get("filter") else None
    sink = kbs.sink_for(account_id, region, kb)
    if sink.dimension != kb.dimensions:
        raise kbs.validation(
            f"Query vector dimension {kb.dimensions} does not match the vector index dimension "
            f"{sink.dimension}"
        )
    vec = [float(x) for x in embeddings.embed([query], kb.dimensions)[0]]
    hierarchical = any(
        (ds.ingestion.get("chunkingConfiguration") or {}).get("chunkingStrategy") == "HIERARCHICAL"
        for ds in kb.sources.values()
    )
    hits = sink.search(vec, min(100, k * 4) if hierarchical else k, predicate, query, hybrid)
    out: list[dict[str, Any]] = []
    seen_parents: set[tuple[str, str]] = set()
    for _key, score, text, meta, extra in hits:
        uri = str(meta.get(kbs.SOURCE_URI, ""))
        if "parent" in extra:  # HIERARCHICAL: search children, return parents (deduplicated)
            ident = (uri, str(extra.get("parentSpan")))
            if ident in seen_parents:
                continue
            seen_parents.add(ident)
            text = extra["parent"]
        out.append(
            {
                "content": {"text": text, "type": "TEXT"},
                "location": {"type": "S3", "s3Location": {"uri": uri}},
                "metadata": meta,
                "score": float(score),
            }
        )
        if len(out) == k:
            break
    return out


@handles(SERVICE, "Retrieve")
def _retrieve(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    q = p["retrievalQuery"]
    if q.get("type") == "IMAGE" or q.get("image"):
        raise kbs.validation("Image queries are not emulated offline; query with text")
    results = retrieve(
        call.account_id,
        call.region,
        p["knowledgeBaseId"],
        str(q.get("text") or ""),
        p.get("retrievalConfiguration"),
    )
    answer: dict[str, Any] = {"retrievalResults": results}
    if p.get("guardrailConfiguration"):
        answer["guardrailAction"] = _guard_query(
            call, p["guardrailConfiguration"], q.get("text", "")
        )
    return answer


# --------------------------------------------------------------------------- generation


def _guardrails() -> Any:
    try:
        from mllab.offline.bedrock import guardrails
    except ImportError:
        return None
    return guardrails if hasattr(guardrails, "assess") else None


def _guard_query(call: OfflineCall, conf: dict[str, Any], text: str) -> str:
    g = _guardrails()
    if g is None:
        raise kbs.validation(
            "guardrailConfiguration needs the offline Guardrails plane, which is not installed"
        )
    res = g.assess(
        call.account_id,
        call.region,
        conf["guardrailId"],
        conf["guardrailVersion"],
        "INPUT",
        [{"text": {"text": text}}],
    )
    return "INTERVENED" if res.get("action") == "GUARDRAIL_INTERVENED" else "NONE"


def _model_id(arn: str) -> str:
    m = re.match(
        r"^arn:aws[\w-]*:bedrock:[^:]*:\d*:(?:foundation-model|inference-profile)/(.+)$", arn
    )
    return m.group(1) if m else arn


def _format_results(results: list[dict[str, Any]]) -> str:
    return "\n".join(
        f'<search_result index="{i}">\n{r["content"]["text"]}\n</search_result>'
        for i, r in enumerate(results, start=1)
    )


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(r"[^.!?\n]+(?:[.!?]+|$)", text):
        if m.group().strip():
            lead = len(m.group()) - len(m.group().lstrip())
            spans.append((m.start() + lead, m.end()))
    return spans


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def cite(answer: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Citations of an answer: each sentence with the retrieved chunks it appears in.

    A sentence is attributed to a chunk when the chunk contains it verbatim (after
    whitespace normalisation) -- exact for the extractive stand-in; a sentence found in no
    chunk (a connective like "I could not find...") gets no reference.
    """
    out = []
    chunks = [(_norm(r["content"]["text"]), r) for r in results]
    for start, end in _sentences(answer):
        sent = answer[start:end]
        key = _norm(sent).rstrip(".!?")
        refs = [
            {k: r[k] for k in ("content", "location", "metadata") if k in r}
            for text, r in chunks
            if key and key in text
        ]
        if not refs:
            continue
        out.append(
            {
                "generatedResponsePart": {
                    "textResponsePart": {"text": sent, "span": {"start": start, "end": end - 1}}
                },
                "retrievedReferences": refs,
            }
        )
    return out


def retrieve_and_generate(
    call: OfflineCall, p: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run RetrieveAndGenerate; return (response, usage) -- usage for the guard's settlement."""
    from mllab.models import foundation

    conf = p.get("retrieveAndGenerateConfiguration") or {}
    if conf.get("type") != "KNOWLEDGE_BASE":
        raise kbs.validation("Only type KNOWLEDGE_BASE is emulated offline")
    kconf = conf.get("knowledgeBaseConfiguration")
    if not kconf:
        raise kbs.validation("knowledgeBaseConfiguration is required when type is KNOWLEDGE_BASE")
    session_id = p.get("sessionId")
    with _LOCK:
        if session_id is not None and session_id not in _SESSIONS:
            raise kbs.validation(
                f"Session with Id {session_id} is not valid. Please check and try again."
            )
        session_id = session_id or str(uuid.uuid4())
        history = _SESSIONS.setdefault(session_id, [])
    query = p["input"]["text"]
    gen = kconf.get("generationConfiguration") or {}
    template = (gen.get("promptTemplate") or {}).get("textPromptTemplate") or DEFAULT_TEMPLATE
    if "$search_results$" not in template:
        raise kbs.validation(
            "The prompt template must contain the $search_results$ placeholder for the "
            "retrieved results"
        )
    gconf: dict[str, Any] = gen.get("guardrailConfiguration") or {}
    g = _guardrails() if gconf else None
    if gconf and g is None:
        raise kbs.validation("guardrailConfiguration needs the offline Guardrails plane")
    if g is not None:
        res = g.assess(
            call.account_id,
            call.region,
            gconf["guardrailId"],
            gconf["guardrailVersion"],
            "INPUT",
            [{"text": {"text": query}}],
        )
        if res.get("action") == "GUARDRAIL_INTERVENED":
            text = (
                " ".join(o.get("text", "") for o in res.get("outputs", []))
                or "Sorry, I cannot answer that."
            )
            return (
                {
                    "output": {"text": text},
                    "citations": [],
                    "sessionId": session_id,
                    "guardrailAction": "INTERVENED",
                },
                {"inputTokens": 0, "outputTokens": 0},
            )
    results = retrieve(
        call.account_id,
        call.region,
        kconf["knowledgeBaseId"],
        query,
        kconf.get("retrievalConfiguration"),
    )
    prompt = template.replace("$search_results$", _format_results(results)).replace(
        "$query$", query
    )
    prompt = prompt.replace("$output_format_instructions$", "")
    if "$query$" not in template:
        prompt = f"{prompt}\n\nQuestion: {query}"
    messages = [*history, {"role": "user", "content": [{"text": prompt}]}]
    inference = (gen.get("inferenceConfig") or {}).get("textInferenceConfig") or {}
    try:
        answer = foundation.generate(
            _model_id(kconf["modelArn"]), messages, None, inference or None
        )
    except Exception as err:  # the stand-in's input errors are Bedrock's ValidationException
        raise kbs.validation(str(err)) from None
    text = "".join(b.get("text", "") for b in answer["output"]["message"]["content"])
    action = "NONE"
    if g is not None:
        context = "\n".join(r["content"]["text"] for r in results)
        res = g.assess(
            call.account_id,
            call.region,
            gconf["guardrailId"],
            gconf["guardrailVersion"],
            "OUTPUT",
            [{"text": {"text": text}}],
            query=query,
            grounding_source=context,
        )
        if res.get("action") == "GUARDRAIL_INTERVENED":
            action = "INTERVENED"
            text = (
                " ".join(o.get("text", "") for o in res.get("outputs", []))
                or "Sorry, I cannot answer that."
            )
    citations = cite(text, results) if action == "NONE" else []
    with _LOCK:
        history.extend(
            [
                {"role": "user", "content": [{"text": query}]},
                {"role": "assistant", "content": [{"text": text}]},
            ]
        )
    response = {
        "output": {"text": text},
        "citations": citations,
        "sessionId": session_id,
        "guardrailAction": action,
    }
    return response, answer.get("usage", {})


@handles(SERVICE, "RetrieveAndGenerate")
def _rag(call: OfflineCall) -> dict[str, Any]:
    response, _usage = retrieve_and_generate(call, call.params)
    return response
