"""Keyword retrieval (Okapi BM25) and hybrid fusion, as knowledge bases use them.

Introduced in the knowledge-base lab (semantic vs hybrid search). BM25 is hand-written here
(about 60 lines of numpy): no light, well-kept BM25 package is installed in this
environment, and OpenSearch's own scoring is the same Okapi BM25 formula (``k1 = 1.2``,
``b = 0.75``, idf ``log(1 + (N - df + 0.5) / (df + 0.5))``). Terms are lower-cased word
tokens (letters and digits), with no stemming or stop words (OpenSearch's ``standard``
analyzer also has neither by default).

Hybrid search fuses the keyword and the vector ranking by **reciprocal rank fusion**
(``score = sum 1 / (k + rank)``, ``k = 60``), which is what S3 Vectors' hybrid search documents
and one of OpenSearch's hybrid normalisers; Bedrock does not document its own fusion.
Costs nothing; deletes nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

_WORD = re.compile(r"[0-9a-z]+")


def terms(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (letters and digits)."""
    return _WORD.findall(text.lower())


class BM25:
    """An Okapi BM25 index over a list of documents (add-only; rebuild to delete).

    Args:
        docs: the documents' texts.
        k1: term-frequency saturation (OpenSearch default 1.2).
        b: length normalisation (OpenSearch default 0.75).
    """

    def __init__(self, docs: Iterable[str] = (), k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tf: list[Counter[str]] = []
        self._len: list[int] = []
        self._df: Counter[str] = Counter()
        self._postings: dict[str, list[int]] = {}
        for d in docs:
            self.add(d)

    def add(self, text: str) -> int:
        """Add one document; return its position."""
        tf = Counter(terms(text))
        pos = len(self._tf)
        self._tf.append(tf)
        self._len.append(sum(tf.values()))
        for t in tf:
            self._df[t] += 1
            self._postings.setdefault(t, []).append(pos)
        return pos

    def __len__(self) -> int:
        return len(self._tf)

    def idf(self, term: str) -> float:
        """Inverse document frequency of ``term`` (Lucene's BM25 form, never negative)."""
        n, df = len(self._tf), self._df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (0 where no query term occurs)."""
        out = np.zeros(len(self._tf), dtype=np.float64)
        if not self._tf:
            return out
        avg = sum(self._len) / len(self._len) or 1.0
        for t in set(terms(query)):
            posting = self._postings.get(t)
            if not posting:
                continue
            w = self.idf(t)
            for i in posting:
                f = self._tf[i][t]
                norm = self.k1 * (1.0 - self.b + self.b * self._len[i] / avg)
                out[i] += w * f * (self.k1 + 1.0) / (f + norm)
        return out

    def top(
        self, query: str, k: int, allowed: Sequence[bool] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best (position, score) with a positive score, best first."""
        s = self.scores(query)
        if allowed is not None:
            s = np.where(np.asarray(allowed, dtype=bool), s, 0.0)
        idx = [int(i) for i in np.argsort(-s, kind="stable")[:k] if s[i] > 0]
        return [(i, float(s[i])) for i in idx]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked lists of ids by reciprocal rank fusion.

    Args:
        rankings: each a list of ids, best first.
        k: the RRF constant (60, as in the original paper and S3 Vectors).
        weights: optional weight per ranking (default 1 each).

    Returns:
        (id, fused score), best first; ties keep the first ranking's order.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    fused: dict[str, float] = {}
    first: dict[str, tuple[int, int]] = {}
    for r, (ranking, w) in enumerate(zip(rankings, weights, strict=True)):
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + w / (k + rank)
            first.setdefault(doc, (r, rank))
    return sorted(fused.items(), key=lambda kv: (-kv[1], first[kv[0]]))
