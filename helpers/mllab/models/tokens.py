"""A real tokenizer: wordllama's Llama-2 byte-fallback BPE (32,000 tokens).

The offline Bedrock plane counts ``usage`` tokens, checks context windows and cuts output
at ``maxTokens`` with this tokenizer. Real Bedrock models each use their own tokenizer
(Nova, Claude, Llama 3 and Titan differ), so offline counts are close to, not equal to,
what AWS bills; they are the same order for English text (about 1.3 tokens per word).

Introduced in lab 05 (a generative AI application: token costs); lab 06 uses it too.
"""

from __future__ import annotations

from functools import lru_cache

from mllab.models._wordllama import model as _model


def encode(text: str) -> list[int]:
    """Token ids of ``text`` (no begin-of-sequence token).

    Args:
        text: any string.

    Returns:
        The Llama-2 BPE ids. Costs nothing; deletes nothing.
    """
    if not text:
        return []
    return list(_model().tokenizer.encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=8192)
def _count_cached(text: str) -> int:
    return len(_model().tokenizer.encode(text, add_special_tokens=False).ids)


def count(text: str) -> int:
    """Number of tokens in ``text``.

    Args:
        text: any string.

    Returns:
        The token count (0 for the empty string). Costs nothing; deletes nothing.
    """
    if not text:
        return 0
    if len(text) <= 2048:
        return _count_cached(text)
    return len(_model().tokenizer.encode(text, add_special_tokens=False).ids)


def count_many(texts: list[str]) -> list[int]:
    """Token counts of several strings, encoded in one batch.

    Args:
        texts: strings.

    Returns:
        One count per string. Costs nothing; deletes nothing.
    """
    if not texts:
        return []
    tok = _model().tokenizer
    encs = tok.encode_batch(texts, add_special_tokens=False)
    return [sum(e.attention_mask) for e in encs]


def pieces(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of each token of ``text``.

    Args:
        text: any string.

    Returns:
        One span per token, in order. Costs nothing; deletes nothing.
    """
    if not text:
        return []
    enc = _model().tokenizer.encode(text, add_special_tokens=False)
    return [(int(a), int(b)) for a, b in enc.offsets]


def truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` that holds at most ``max_tokens`` tokens.

    The cut falls on a token boundary of the original string, so
    ``count(truncate(t, n)) <= n`` and the prefix is verbatim text.

    Args:
        text: any string.
        max_tokens: the token budget (0 gives ``""``).

    Returns:
        The prefix. Costs nothing; deletes nothing.
    """
    if max_tokens <= 0 or not text:
        return ""
    spans = pieces(text)
    if len(spans) <= max_tokens:
        return text
    end = spans[max_tokens - 1][1]
    cut = text[:end]
    # byte-fallback tokens can split a character; back off until the count fits
    while cut and count(cut) > max_tokens:
        cut = cut[:-1]
    return cut
