"""Evaluation metrics: right answers score high, wrong answers score low, against references."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.models import metrics


def test_bleu_and_rouge_rank_a_close_candidate_above_an_unrelated_one() -> None:
    ref = "the cat sat on the mat near the door"
    close = "the cat sat on the mat by the door"
    far = "stock prices fell sharply on tuesday"
    assert metrics.sentence_bleu(ref, ref) == pytest.approx(100.0)
    assert metrics.sentence_bleu(close, ref) > 30 > metrics.sentence_bleu(far, ref)
    corpus = metrics.bleu([close, ref], [ref, [ref, close]])
    assert 0 < corpus <= 100
    r = metrics.rouge(close, ref)
    assert (
        r["rouge1"]["f1"] > 0.8 and metrics.rouge(far, ref)["rouge1"]["f1"] < 0.2
    )  # "on" is shared
    assert metrics.mean_rouge([close, far], [ref, ref]) == pytest.approx(
        (r["rougeL"]["f1"] + metrics.rouge(far, ref)["rougeL"]["f1"]) / 2
    )
    with pytest.raises(ValueError, match="one reference"):
        metrics.bleu([close], [ref, ref])


def test_exact_match_and_token_f1_follow_squad_normalisation() -> None:
    assert metrics.exact_match("The Eiffel Tower!", "eiffel tower") == 1.0
    assert metrics.exact_match("Eiffel", "eiffel tower") == 0.0
    assert metrics.exact_match("Paris", ["London", "paris"]) == 1.0
    assert metrics.token_f1("Eiffel", "the eiffel tower") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert metrics.token_f1("banana", "eiffel tower") == 0.0


def test_embedding_f1_separates_paraphrase_from_unrelated_text() -> None:
    ref = "The car needs new tires before winter."
    para = "Before winter the automobile needs new tyres."
    other = "Honey bees dance to show where flowers grow."
    same = metrics.embedding_f1(ref, ref)
    assert same["f1"] == pytest.approx(1.0, abs=1e-5)
    p, o = metrics.embedding_f1(para, ref)["f1"], metrics.embedding_f1(other, ref)["f1"]
    print(f"\nembedding F1 (BERTScore-style): paraphrase {p:.3f}, unrelated {o:.3f}")
    assert p > o + 0.1


def test_retrieval_metrics_against_hand_computed_and_sklearn_values() -> None:
    from sklearn.metrics import ndcg_score

    ranked = ["d3", "d1", "d7", "d2"]
    assert metrics.recall_at_k(ranked, {"d1", "d2"}, 2) == 0.5
    assert metrics.recall_at_k(ranked, {"d1", "d2"}, 4) == 1.0
    assert metrics.precision_at_k(ranked, {"d1"}, 2) == 0.5
    assert metrics.reciprocal_rank(ranked, {"d7"}) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank(ranked, {"d9"}) == 0.0
    assert metrics.mrr([(ranked, {"d3"}), (ranked, {"d1"})]) == pytest.approx(0.75)
    gains = {"d1": 3.0, "d2": 1.0, "d9": 2.0}
    ours = metrics.ndcg_at_k(ranked, gains, 4)
    # the same ranking as scores for sklearn: every id, retrieved ones by rank, d9 last
    ids = ["d3", "d1", "d7", "d2", "d9"]
    true = np.asarray([[gains.get(i, 0.0) for i in ids]])
    score = np.asarray([[5, 4, 3, 2, 1]])
    assert ours == pytest.approx(ndcg_score(true, score, k=4))
    assert metrics.ndcg_at_k(["d1", "d9", "d2"], gains, 3) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(["x", "y"], gains, 2) == 0.0
