"""Chunking strategies of Amazon Bedrock Knowledge Bases, computed with a real tokenizer.

Introduced in the knowledge-base lab (chunking changes measured retrieval quality). Every
strategy returns :class:`Chunk` objects holding the verbatim text and its character span in
the parsed document, so a citation can point at the exact passage.

* **FIXED_SIZE** -- windows of at most ``max_tokens`` tokens (wordllama's Llama-2 tokenizer,
  :mod:`mllab.models.tokens`), consecutive windows overlapping by ``overlap_percentage`` of
  ``max_tokens``; a window ends at the last sentence end inside it when one exists in its
  second half (Bedrock also keeps sentences whole where it can).
* **HIERARCHICAL** -- parent windows of ``parent_max`` tokens, each cut into child windows
  of ``child_max`` tokens overlapping by ``overlap_tokens``; children are searched, parents
  are returned (as Bedrock does).
* **SEMANTIC** -- sentences (with ``buffer_size`` neighbours each side) are embedded; a
  chunk ends where the cosine distance between consecutive sentence groups exceeds the
  ``breakpoint_percentile`` percentile of all such distances, or where ``max_tokens`` would
  be exceeded. Bedrock uses a foundation model's embeddings the same way; ours are
  wordllama's, so break points differ from AWS's.
* **NONE** -- the whole document is one chunk.

Token counts differ slightly from Titan's tokenizer. Costs nothing; deletes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

_SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)\s+|\n\s*\n")


@dataclass
class Chunk:
    """One chunk of a document.

    Attributes:
        text: the chunk's verbatim text.
        start: character offset of the chunk in the document.
        end: character offset one past its end.
        parent: for HIERARCHICAL children, the parent chunk (returned by retrieval).
        tokens: the chunk's token count when the strategy knows it (0: not counted).
    """

    text: str
    start: int
    end: int
    parent: Chunk | None = field(default=None, repr=False)
    tokens: int = 0


def _spans(text: str) -> list[tuple[int, int]]:
    from mllab.models import tokens

    return tokens.pieces(text)


def _windows(
    text: str, spans: list[tuple[int, int]], max_tokens: int, overlap: int, base: int = 0
) -> list[Chunk]:
    """Token windows over ``text`` with ``overlap`` tokens shared between neighbours."""
    if not spans:
        return [Chunk(text, base, base + len(text))] if text.strip() else []
    out: list[Chunk] = []
    n = len(spans)
    i = 0
    while i < n:
        j = min(n, i + max_tokens)
        if j < n:
            # prefer to end on a sentence boundary in the window's second half
            lo, hi = spans[i][0], spans[j - 1][1]
            best = None
            for m in _SENTENCE_END.finditer(text, lo, hi):
                best = m.end()
            if best is not None:
                k = j
                while k > i + max_tokens // 2 and spans[k - 1][1] > best:
                    k -= 1
                if k > i + max_tokens // 2:
                    j = k
        s, e = spans[i][0], spans[j - 1][1]
        while s < e and text[s].isspace():  # whitespace at the edges belongs to no chunk
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        piece = text[s:e]
        if piece.strip():
            out.append(Chunk(piece, base + s, base + e, tokens=j - i))
        if j >= n:
            break
        i = max(i + 1, j - overlap)
    return out


def fixed_size(text: str, max_tokens: int = 300, overlap_percentage: int = 20) -> list[Chunk]:
    """FIXED_SIZE chunking.

    Args:
        text: the parsed document.
        max_tokens: tokens per chunk (Bedrock: 1-8192; console default 300).
        overlap_percentage: overlap between consecutive chunks, percent of ``max_tokens``
            (Bedrock: 1-99; default 20).

    Returns:
        The chunks, in document order.
    """
    overlap = max_tokens * overlap_percentage // 100
    return _windows(text, _spans(text), max_tokens, overlap)


def hierarchical(
    text: str, parent_max: int = 1500, child_max: int = 300, overlap_tokens: int = 60
) -> list[Chunk]:
    """HIERARCHICAL chunking: child chunks (searched) that know their parent (returned).

    Args:
        text: the parsed document.
        parent_max: tokens per parent chunk (``levelConfigurations[0].maxTokens``).
        child_max: tokens per child chunk (``levelConfigurations[1].maxTokens``).
        overlap_tokens: tokens shared by consecutive chunks at each level.

    Returns:
        The child chunks, each with ``parent`` set.
    """
    spans = _spans(text)
    parents = _windows(text, spans, parent_max, overlap_tokens)
    out: list[Chunk] = []
    for p in parents:
        sub = [(a - p.start, b - p.start) for a, b in spans if a >= p.start and b <= p.end]
        for c in _windows(p.text, sub, child_max, min(overlap_tokens, child_max - 1), p.start):
            c.parent = p
            out.append(c)
    return out


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (ends at . ! ? or a blank line)."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if text[start : m.end()].strip():
            out.append((start, m.end()))
        start = m.end()
    if text[start:].strip():
        out.append((start, len(text)))
    return out


def semantic(
    text: str, max_tokens: int = 300, buffer_size: int = 0, breakpoint_percentile: int = 95
) -> list[Chunk]:
    """SEMANTIC chunking: break where consecutive sentences differ most in meaning.

    Args:
        text: the parsed document.
        max_tokens: the most tokens a chunk may hold.
        buffer_size: sentences on each side embedded with a sentence (Bedrock: 0 or 1).
        breakpoint_percentile: the percentile of distances above which a chunk ends (50-99).

    Returns:
        The chunks, in document order. Costs nothing (local embeddings).
    """
    from mllab.models import embeddings, tokens

    sents = sentences(text)
    if len(sents) <= 1:
        return fixed_size(text, max_tokens, 1)
    groups = [
        text[sents[max(0, i - buffer_size)][0] : sents[min(len(sents) - 1, i + buffer_size)][1]]
        for i in range(len(sents))
    ]
    vecs = embeddings.embed(groups)
    dist = 1.0 - np.einsum("ij,ij->i", vecs[:-1], vecs[1:])
    threshold = float(np.percentile(dist, breakpoint_percentile))
    counts = tokens.count_many([text[a:b] for a, b in sents])
    out: list[Chunk] = []
    cur_start, cur_tokens = sents[0][0], 0
    for i, (a, b) in enumerate(sents):
        if cur_tokens and cur_tokens + counts[i] > max_tokens:
            out.append(Chunk(text[cur_start:a], cur_start, a))
            cur_start, cur_tokens = a, 0
        if counts[i] > max_tokens:  # one sentence longer than a chunk: fixed windows
            out.extend(_windows(text[a:b], _spans(text[a:b]), max_tokens, 0, a))
            cur_start, cur_tokens = b, 0
            continue
        cur_tokens += counts[i]
        if i < len(dist) and dist[i] > threshold:
            out.append(Chunk(text[cur_start:b], cur_start, b))
            cur_start, cur_tokens = b, 0
    if cur_start < len(text) and text[cur_start:].strip():
        out.append(Chunk(text[cur_start:], cur_start, len(text)))
    return [c for c in out if c.text.strip()]


def no_chunking(text: str) -> list[Chunk]:
    """NONE: the whole document is one chunk."""
    return [Chunk(text, 0, len(text))] if text.strip() else []


def chunk(text: str, config: dict | None) -> list[Chunk]:
    """Chunk ``text`` as a data source's ``chunkingConfiguration`` says (Bedrock's shape).

    Args:
        text: the parsed document.
        config: ``vectorIngestionConfiguration.chunkingConfiguration``, or None for
            Bedrock's default (FIXED_SIZE, 300 tokens, 20 percent overlap).

    Returns:
        The chunks (HIERARCHICAL: children with parents).
    """
    config = config or {"chunkingStrategy": "FIXED_SIZE"}
    strategy = config.get("chunkingStrategy", "FIXED_SIZE")
    if strategy == "FIXED_SIZE":
        c = config.get("fixedSizeChunkingConfiguration") or {}
        return fixed_size(text, int(c.get("maxTokens", 300)), int(c.get("overlapPercentage", 20)))
    if strategy == "HIERARCHICAL":
        c = config["hierarchicalChunkingConfiguration"]
        levels = c["levelConfigurations"]
        return hierarchical(
            text, int(levels[0]["maxTokens"]), int(levels[1]["maxTokens"]), int(c["overlapTokens"])
        )
    if strategy == "SEMANTIC":
        c = config["semanticChunkingConfiguration"]
        return semantic(
            text,
            int(c["maxTokens"]),
            int(c["bufferSize"]),
            int(c["breakpointPercentileThreshold"]),
        )
    if strategy == "NONE":
        return no_chunking(text)
    raise ValueError(f"unknown chunkingStrategy {strategy!r}")
