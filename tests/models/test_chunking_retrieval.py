"""Chunking strategies and BM25 / reciprocal rank fusion, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from mllab.models import chunking, retrieval, tokens

TEXT = (
    "Glaciers move slowly downhill. They carve valleys and leave moraines. "
    "Espresso is brewed under pressure. A good shot takes twenty-five seconds.\n\n"
    "Honey bees dance to share directions. The angle of the dance points at the flowers. "
) * 6


def test_fixed_size_windows_respect_max_tokens_overlap_and_spans() -> None:
    chunks = chunking.fixed_size(TEXT, max_tokens=40, overlap_percentage=25)
    assert len(chunks) > 3
    for c in chunks:
        assert tokens.count(c.text) <= 40
        assert TEXT[c.start : c.end] == c.text
    # consecutive windows share text (the overlap), and together cover the document
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert chunks[0].start == 0 and chunks[-1].end >= len(TEXT.rstrip())
    none = chunking.fixed_size(TEXT, max_tokens=40, overlap_percentage=1)
    assert len(none) < len(chunks)


def test_hierarchical_children_sit_inside_their_parents() -> None:
    kids = chunking.hierarchical(TEXT, parent_max=120, child_max=30, overlap_tokens=5)
    parents = {id(c.parent) for c in kids}
    assert 1 < len(parents) < len(kids)
    for c in kids:
        assert c.parent is not None and c.parent.start <= c.start and c.end <= c.parent.end
        assert tokens.count(c.text) <= 30 and tokens.count(c.parent.text) <= 120


def test_semantic_chunking_breaks_between_topics_not_inside_them() -> None:
    text = (
        "Glaciers are huge rivers of ice that carve deep valleys in mountains. Glacier ice "
        "flows downhill and leaves moraines of rock. Mountain glaciers melt in summer and feed "
        "cold rivers. Espresso coffee is brewed by forcing hot water through ground coffee "
        "beans. Coffee baristas grind the beans finely for espresso. A good espresso coffee "
        "has a golden crema on top."
    )
    chunks = chunking.semantic(text, max_tokens=200, buffer_size=0, breakpoint_percentile=80)
    assert len(chunks) >= 2
    first = chunks[0].text
    assert "Glaciers" in first and "glaciers melt" in first and "Espresso" not in first
    assert chunks[1].text.startswith("Espresso")
    with pytest.raises(ValueError, match="unknown chunkingStrategy"):
        chunking.chunk(text, {"chunkingStrategy": "RANDOM"})
    assert chunking.chunk(text, {"chunkingStrategy": "NONE"})[0].text == text


def test_bm25_matches_the_okapi_formula_and_rrf_fuses_rankings() -> None:
    docs = ["the cat sat", "the dog sat on the mat", "cats and dogs"]
    bm = retrieval.BM25(docs)
    s = bm.scores("dog mat")
    # hand-computed Okapi BM25 (k1 1.2, b 0.75) for document 1
    n, avg, length = 3, (3 + 6 + 3) / 3, 6
    idf = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    per = idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * length / avg))
    assert s[1] == pytest.approx(2 * per)
    assert (
        s[0] == 0 and s[2] == 0
    )  # "dogs" is not "dog": no stemming, as OpenSearch's standard analyzer
    assert bm.top("dog mat", 5) == [(1, pytest.approx(2 * per))]
    fused = retrieval.reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])
    assert [d for d, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
