"""The tokenizer: wordllama's Llama-2 BPE, counted, encoded and truncated on token boundaries."""

from __future__ import annotations

import random
import threading

from mllab.models import tokens


def test_counts_are_real_bpe_counts() -> None:
    assert tokens.count("") == 0
    assert tokens.encode("") == []
    # a common word is one token, a rare compound is several
    assert tokens.count("the") == 1
    assert tokens.count("antidisestablishmentarianism") > 3
    text = "Amazon Bedrock bills per input and output token."
    assert tokens.count(text) == len(tokens.encode(text))
    # english prose is roughly 1-2 tokens per word, never fewer tokens than words
    words = len(text.split())
    assert words <= tokens.count(text) <= 3 * words


def test_count_many_matches_count() -> None:
    texts = ["a b c", "", "Retrieval-augmented generation grounds answers.", "¿Dónde está?"]
    assert tokens.count_many(texts) == [tokens.count(t) for t in texts]


def test_truncate_cuts_at_token_boundary_as_verbatim_prefix() -> None:
    rng = random.Random(7)
    vocab = "model token guard budget embedding vector context window price latency".split()
    text = " ".join(rng.choice(vocab) for _ in range(200)) + " naïve café 東京"
    total = tokens.count(text)
    for n in (0, 1, 5, 17, 100, total - 1, total, total + 10):
        cut = tokens.truncate(text, n)
        assert text.startswith(cut)
        assert tokens.count(cut) <= max(n, 0)
        if 0 < n < total:
            # maximal: one more token of the original would exceed the budget or the cut is exact
            assert tokens.count(cut) >= n - 1
    assert tokens.truncate(text, total) == text


def test_thread_safe_concurrent_use() -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(tokens.count("concurrent tokenizer use from many threads"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(set(results)) == 1 and len(results) == 80
