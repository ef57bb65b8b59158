"""Evaluation metrics for generated text and retrieval, for labs and evaluation jobs.

Introduced in the evaluation lab (model and RAG evaluation, MLA-C02 skills 2.3.8-2.3.10).
The public helper labs call is :mod:`mllab.models.metrics` (this module):

* **BLEU** -- corpus and sentence BLEU from ``sacrebleu`` (the reference implementation
  of Post, 2018: 4-gram, exponential smoothing for sentences, 13a tokenisation);
* **ROUGE** -- ROUGE-1, ROUGE-2, ROUGE-L (and ROUGE-Lsum) F1/precision/recall from Google's
  ``rouge-score`` (Porter stemming on);
* **embedding F1, BERTScore-style** -- :func:`embedding_f1`: BERTScore's greedy
  matching (each token matched to its most similar token in the other text, precision over
  candidate tokens, recall over reference tokens, F1) with *static* wordllama token
  embeddings instead of a contextual BERT model. It is **not** BERTScore: scores are not
  comparable with published BERTScore numbers and word order barely matters;
* **exact match** and **token F1** -- SQuAD's answer normalisation (lower case, no
  punctuation, no articles, single spaces) and bag-of-tokens F1, hand-written (a few lines;
  the official SQuAD script is not a package);
* **retrieval** -- Recall@k, precision@k, reciprocal rank / MRR and nDCG@k (binary or
  graded relevance). Recall@k, MRR and nDCG are a few lines of numpy each,
  written here (scikit-learn's ``ndcg_score`` ranks scores, not retrieved lists).

Everything is local computation: costs nothing, deletes nothing.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- text


def bleu(candidates: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> float:
    """Corpus BLEU (0-100) of candidates against one or more references each (sacrebleu).

    Args:
        candidates: the generated texts.
        references: one reference per candidate, or a list of references per candidate.

    Returns:
        sacrebleu's corpus BLEU score, 0-100.
    """
    import sacrebleu

    refs = _ref_streams(candidates, references)
    return float(sacrebleu.corpus_bleu(list(candidates), refs).score)


def sentence_bleu(candidate: str, references: str | Sequence[str]) -> float:
    """Sentence BLEU (0-100) with sacrebleu's default exponential smoothing."""
    import sacrebleu

    refs = [references] if isinstance(references, str) else list(references)
    return float(sacrebleu.sentence_bleu(candidate, refs).score)


def _ref_streams(
    candidates: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]
) -> list[list[str]]:
    if len(references) != len(candidates):
        raise ValueError(
            f"{len(candidates)} candidates but {len(references)} references: give one "
            "reference (or one list of references) per candidate"
        )
    per = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max(len(r) for r in per) if per else 1
    # sacrebleu wants one stream per reference position; pad with the first reference
    return [[r[i] if i < len(r) else r[0] for r in per] for i in range(width)]


@lru_cache(maxsize=4)
def _rouge_scorer(types: tuple[str, ...]) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(types), use_stemmer=True)


def rouge(
    candidate: str,
    reference: str,
    types: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
) -> dict[str, dict[str, float]]:
    """ROUGE scores of one candidate against one reference (Google's ``rouge-score``).

    Returns:
        ``{type: {"precision", "recall", "f1"}}`` for each ROUGE type.
    """
    scores = _rouge_scorer(tuple(types)).score(reference, candidate)
    return {
        t: {"precision": s.precision, "recall": s.recall, "f1": s.fmeasure}
        for t, s in scores.items()
    }


def mean_rouge(
    candidates: Sequence[str], references: Sequence[str], rouge_type: str = "rougeL"
) -> float:
    """Mean ROUGE F1 of ``rouge_type`` over pairs (0-1)."""
    if len(candidates) != len(references):
        raise ValueError("give one reference per candidate")
    if not candidates:
        return 0.0
    vals = [
        rouge(c, r, (rouge_type,))[rouge_type]["f1"]
        for c, r in zip(candidates, references, strict=True)
    ]
    return float(np.mean(vals))


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation or articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(candidate: str, reference: str | Sequence[str]) -> float:
    """1.0 when the normalised candidate equals a normalised reference, else 0.0."""
    refs = [reference] if isinstance(reference, str) else list(reference)
    return float(any(normalize_answer(candidate) == normalize_answer(r) for r in refs))


def token_f1(candidate: str, reference: str | Sequence[str]) -> float:
    """SQuAD token F1 (bag of normalised tokens); the best over several references."""
    refs = [reference] if isinstance(reference, str) else list(reference)
    best = 0.0
    cand = normalize_answer(candidate).split()
    for r in refs:
        ref = normalize_answer(r).split()
        if not cand or not ref:
            best = max(best, float(cand == ref))
            continue
        common = Counter(cand) & Counter(ref)
        same = sum(common.values())
        if same == 0:
            continue
        p, rc = same / len(cand), same / len(ref)
        best = max(best, 2 * p * rc / (p + rc))
    return best


def _token_vectors(text: str) -> np.ndarray:
    """Unit-length static embeddings of the words of ``text`` (one row per word)."""
    from mllab.models import embeddings

    words = re.findall(r"\w+", text.lower())
    if not words:
        return np.zeros((0, 256), np.float32)
    return np.asarray(embeddings.embed(words), dtype=np.float32)


def embedding_f1(candidate: str, reference: str) -> dict[str, float]:
    """Embedding F1, BERTScore-style (greedy token matching with static embeddings).

    Each word of the candidate is matched to its most similar reference word (cosine of
    wordllama embeddings) and vice versa; precision is the mean best similarity over the
    candidate's words, recall over the reference's, F1 their harmonic mean. This is the
    BERTScore *matching scheme* without a contextual model and without idf weighting or
    baseline rescaling -- name it "embedding F1, BERTScore-style", not BERTScore.

    Returns:
        ``{"precision", "recall", "f1"}`` in [-1, 1] (near 1 for paraphrases).
    """
    c, r = _token_vectors(candidate), _token_vectors(reference)
    if len(c) == 0 or len(r) == 0:
        same = float(len(c) == len(r))
        return {"precision": same, "recall": same, "f1": same}
    sim = c @ r.T
    p = float(sim.max(axis=1).mean())
    rc = float(sim.max(axis=0).mean())
    f1 = 2 * p * rc / (p + rc) if p + rc > 0 else 0.0
    return {"precision": p, "recall": rc, "f1": f1}


# --------------------------------------------------------------------------- retrieval


def recall_at_k(retrieved: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant ids found in the first ``k`` retrieved (0-1)."""
    rel = set(relevant)
    if not rel:
        raise ValueError("recall needs at least one relevant id")
    return len(rel & set(retrieved[:k])) / len(rel)


def precision_at_k(retrieved: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the first ``k`` retrieved ids that are relevant (0-1)."""
    rel = set(relevant)
    top = list(retrieved[:k])
    return sum(1 for d in top if d in rel) / k if k else 0.0


def reciprocal_rank(retrieved: Sequence[str], relevant: Iterable[str]) -> float:
    """1 / rank of the first relevant id (0 when none is retrieved)."""
    rel = set(relevant)
    for i, d in enumerate(retrieved, start=1):
        if d in rel:
            return 1.0 / i
    return 0.0


def mrr(runs: Sequence[tuple[Sequence[str], Iterable[str]]]) -> float:
    """Mean reciprocal rank over (retrieved, relevant) pairs."""
    return float(np.mean([reciprocal_rank(r, rel) for r, rel in runs])) if runs else 0.0


def ndcg_at_k(
    retrieved: Sequence[str], relevance: Mapping[str, float] | Iterable[str], k: int
) -> float:
    """nDCG@k with linear gains: ``DCG = sum rel_i / log2(i + 1)`` over the first ``k`` ranks,
    divided by the DCG of the ideal ordering (the formula scikit-learn's ``ndcg_score`` uses;
    written out here because that function ranks *scores*, and unretrieved ids have none).

    Args:
        retrieved: ids in ranked order.
        relevance: ``{id: graded relevance}``, or an iterable of relevant ids (gain 1).
        k: the cut-off.

    Returns:
        nDCG in [0, 1] (0 when nothing relevant exists).
    """
    gains = dict(relevance) if isinstance(relevance, Mapping) else dict.fromkeys(relevance, 1.0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    got = np.asarray([gains.get(d, 0.0) for d in list(retrieved)[:k]], dtype=float)
    dcg = float((got * discounts[: len(got)]).sum())
    ideal = np.sort(np.asarray(list(gains.values()), dtype=float))[::-1][:k]
    idcg = float((ideal * discounts[: len(ideal)]).sum())
    return dcg / idcg if idcg > 0 else 0.0
