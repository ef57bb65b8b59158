"""The in-process OpenSearch index behind an offline OpenSearch Serverless collection.

Introduced in the knowledge-base lab. One :class:`SearchIndex` per index name per collection:
documents as JSON sources, the ``knn_vector`` fields of the mapping kept as a float32 matrix
for *exact* k-NN (``l2``, ``cosinesimil``, ``innerproduct``; scores as OpenSearch reports
them: ``1 / (1 + l2^2)``, ``(1 + cos) / 2``, and ``1 + ip`` or ``1 / (1 - ip)``), text
fields scored by BM25 (:mod:`mllab.models.retrieval`). The query DSL understood is the part
labs use: ``knn``, ``match``, ``match_all``, ``term``/``terms``, ``range``, ``prefix``,
``exists`` and ``bool`` (must / should / filter / must_not), and ``hybrid`` (queries fused by
reciprocal rank). Real OpenSearch uses approximate HNSW/IVF graphs (FAISS, Lucene); results
here are what an exact index returns. Costs nothing itself; the collection's OCUs are priced
by the guard at CreateCollection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from mllab.models.retrieval import BM25, reciprocal_rank_fusion


class QueryError(ValueError):
    """A malformed query or mapping, reported as OpenSearch's 400 errors are."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _get(source: dict[str, Any], path: str) -> Any:
    cur: Any = source
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


class SearchIndex:
    """One OpenSearch index: mapping, settings and documents.

    Args:
        name: the index name.
        body: the create-index body (``settings``, ``mappings``).
    """

    def __init__(self, name: str, body: dict[str, Any] | None = None) -> None:
        body = body or {}
        self.name = name
        self.settings = body.get("settings") or {}
        self.mappings = body.get("mappings") or {"properties": {}}
        self.docs: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._vec_cache: dict[str, tuple[list[str], np.ndarray]] = {}
        self._bm25_cache: dict[str, tuple[list[str], BM25]] = {}
        for field, spec in self.vector_fields().items():
            dim = spec.get("dimension")
            if not isinstance(dim, int) or not 1 <= dim <= 16000:
                raise QueryError(
                    "mapper_parsing_exception",
                    f"Dimension value missing or invalid for vector field [{field}]",
                )

    def vector_fields(self) -> dict[str, dict[str, Any]]:
        """``knn_vector`` fields of the mapping and their specs."""
        props = self.mappings.get("properties") or {}
        return {k: v for k, v in props.items() if v.get("type") == "knn_vector"}

    def space(self, field: str) -> str:
        """The field's distance (``l2`` default, ``cosinesimil``, ``innerproduct``)."""
        spec = self.vector_fields().get(field) or {}
        method = spec.get("method") or {}
        return str(method.get("space_type") or spec.get("space_type") or "l2")

    # ------------------------------------------------------------------ writes
    def index(self, doc_id: str, source: dict[str, Any]) -> str:
        """Index (create or replace) one document; return ``created`` or ``updated``."""
        for field, spec in self.vector_fields().items():
            if field in source:
                vec = source[field]
                if not isinstance(vec, list) or len(vec) != spec["dimension"]:
                    got = len(vec) if isinstance(vec, list) else "?"
                    raise QueryError(
                        "mapper_parsing_exception",
                        f"failed to parse field [{field}] of type [knn_vector]: Vector dimension "
                        f"mismatch. Expected: {spec['dimension']}, Given: {got}",
                    )
        with self._lock:
            result = "updated" if doc_id in self.docs else "created"
            self.docs[doc_id] = source
            self._vec_cache.clear()
            self._bm25_cache.clear()
        return result

    def delete(self, doc_id: str) -> bool:
        """Delete one document; True when it existed."""
        with self._lock:
            existed = self.docs.pop(doc_id, None) is not None
            if existed:
                self._vec_cache.clear()
                self._bm25_cache.clear()
            return existed

    # ------------------------------------------------------------------ search
    def _vectors(self, field: str) -> tuple[list[str], np.ndarray]:
        with self._lock:
            if field not in self._vec_cache:
                ids = [i for i, d in self.docs.items() if isinstance(d.get(field), list)]
                dim = self.vector_fields()[field]["dimension"]
                mat = (
                    np.asarray([self.docs[i][field] for i in ids], dtype=np.float32)
                    if ids
                    else np.zeros((0, dim), np.float32)
                )
                self._vec_cache[field] = (ids, mat)
            return self._vec_cache[field]

    def _bm25(self, field: str) -> tuple[list[str], BM25]:
        with self._lock:
            if field not in self._bm25_cache:
                ids = list(self.docs)
                self._bm25_cache[field] = (
                    ids,
                    BM25(str(_get(self.docs[i], field) or "") for i in ids),
                )
            return self._bm25_cache[field]

    def knn_scores(self, field: str, vector: list[float]) -> dict[str, float]:
        """OpenSearch k-NN scores of every document with ``field`` for ``vector``."""
        if field not in self.vector_fields():
            raise QueryError("query_shard_exception", f"Field '{field}' is not knn_vector type.")
        ids, mat = self._vectors(field)
        dim = self.vector_fields()[field]["dimension"]
        if len(vector) != dim:
            raise QueryError(
                "illegal_argument_exception",
                f"Query vector has invalid dimension: {len(vector)}. Dimension should be: {dim}",
            )
        if not ids:
            return {}
        q = np.asarray(vector, dtype=np.float32)
        space = self.space(field)
        if space == "cosinesimil":
            norms = np.linalg.norm(mat, axis=1) * (float(np.linalg.norm(q)) or 1.0)
            norms[norms == 0] = 1.0
            scores = (1.0 + (mat @ q) / norms) / 2.0
        elif space == "innerproduct":
            ip = mat @ q
            scores = np.where(ip >= 0, 1.0 + ip, 1.0 / (1.0 - ip))
        else:
            diff = mat - q
            scores = 1.0 / (1.0 + np.einsum("ij,ij->i", diff, diff))
        return {i: float(s) for i, s in zip(ids, scores, strict=True)}

    def match_scores(self, field: str, text: str) -> dict[str, float]:
        """BM25 scores (positive only) of ``text`` against ``field``."""
        ids, bm = self._bm25(field)
        s = bm.scores(text)
        return {ids[i]: float(s[i]) for i in np.nonzero(s > 0)[0]}

    def evaluate(self, query: dict[str, Any]) -> dict[str, float]:
        """Scores of the documents matching ``query`` (an OpenSearch query clause)."""
        if not isinstance(query, dict) or len(query) != 1:
            raise QueryError("parsing_exception", "query must have exactly one clause")
        ((kind, arg),) = query.items()
        if kind == "match_all":
            return dict.fromkeys(self.docs, 1.0)
        if kind == "knn":
            ((field, spec),) = arg.items()
            k = int(spec.get("k", 10))
            scores = self.knn_scores(field, spec["vector"])
            if spec.get("filter"):
                allowed = self.evaluate(spec["filter"])
                scores = {i: s for i, s in scores.items() if i in allowed}
            best = sorted(scores.items(), key=lambda kv: -kv[1])[:k]
            return dict(best)
        if kind in ("match", "match_phrase"):
            ((field, spec),) = arg.items()
            text = spec["query"] if isinstance(spec, dict) else str(spec)
            return self.match_scores(field, str(text))
        if kind in ("term", "terms"):
            ((field, spec),) = arg.items()
            values = (
                spec if kind == "terms" else [spec.get("value") if isinstance(spec, dict) else spec]
            )
            return {i: 1.0 for i, d in self.docs.items() if _in(_get(d, field), values)}
        if kind == "prefix":
            ((field, spec),) = arg.items()
            pre = spec.get("value") if isinstance(spec, dict) else spec
            return {
                i: 1.0
                for i, d in self.docs.items()
                if isinstance(_get(d, field), str) and _get(d, field).startswith(pre)
            }
        if kind == "exists":
            return {i: 1.0 for i, d in self.docs.items() if _get(d, arg["field"]) is not None}
        if kind == "range":
            ((field, spec),) = arg.items()
            return {i: 1.0 for i, d in self.docs.items() if _range(_get(d, field), spec)}
        if kind == "bool":
            return self._bool(arg)
        if kind == "hybrid":
            rankings = []
            for sub in arg.get("queries") or []:
                sc = self.evaluate(sub)
                rankings.append([i for i, _ in sorted(sc.items(), key=lambda kv: -kv[1])])
            return dict(reciprocal_rank_fusion(rankings))
        raise QueryError("parsing_exception", f"unknown query [{kind}]")

    def _bool(self, arg: dict[str, Any]) -> dict[str, float]:
        def clauses(key: str) -> list[dict[str, Any]]:
            v = arg.get(key) or []
            return v if isinstance(v, list) else [v]

        candidates: dict[str, float] | None = None
        for q in clauses("must"):
            sc = self.evaluate(q)
            candidates = (
                sc
                if candidates is None
                else {i: candidates[i] + s for i, s in sc.items() if i in candidates}
            )
        for q in clauses("filter"):
            sc = self.evaluate(q)
            base = candidates if candidates is not None else dict.fromkeys(self.docs, 0.0)
            candidates = {i: s for i, s in base.items() if i in sc}
        should = [self.evaluate(q) for q in clauses("should")]
        if candidates is None:
            candidates = {}
            for sc in should:
                for i, s in sc.items():
                    candidates[i] = candidates.get(i, 0.0) + s
        else:
            for sc in should:
                for i, s in sc.items():
                    if i in candidates:
                        candidates[i] += s
        for q in clauses("must_not"):
            for i in self.evaluate(q):
                candidates.pop(i, None)
        return candidates

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run a search body; return OpenSearch's response shape (``hits``)."""
        size = int(body.get("size", 10))
        query = body.get("query") or {"match_all": {}}
        scores = self.evaluate(query)
        best = sorted(scores.items(), key=lambda kv: -kv[1])[:size]
        want = body.get("_source", True)
        hits = []
        for i, s in best:
            hit: dict[str, Any] = {"_index": self.name, "_id": i, "_score": s}
            if want is not False:
                src = self.docs[i]
                if isinstance(want, list):
                    src = {k: v for k, v in src.items() if k in want}
                elif isinstance(want, dict) and want.get("excludes"):
                    src = {k: v for k, v in src.items() if k not in want["excludes"]}
                hit["_source"] = src
            hits.append(hit)
        return {
            "took": 1,
            "timed_out": False,
            "hits": {
                "total": {"value": len(scores), "relation": "eq"},
                "max_score": best[0][1] if best else None,
                "hits": hits,
            },
        }


def _in(value: Any, values: list[Any]) -> bool:
    if isinstance(value, list):
        return any(v in values for v in value)
    return value in values


def _range(value: Any, spec: dict[str, Any]) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    ops: dict[str, Callable[[float, float], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return all(ops[k](value, float(v)) for k, v in spec.items() if k in ops)
