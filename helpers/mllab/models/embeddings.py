"""A real text-embedding model: wordllama's 256-dimensional embeddings, run locally.

wordllama averages token vectors distilled from a large language model's input embedding
table (a weighted bag of sub-words: fast, no attention, no word order). Texts that share
meaning score high cosine similarity; it is weaker than Titan Text Embeddings V2 or Cohere
Embed on paraphrases that share no vocabulary. Offline it serves
``amazon.titan-embed-text-v2:0`` and the Cohere Embed models.

**Dimensions.** The model is 256-d. 512 and 1024 dimensions are produced by a *fixed,
seeded orthonormal lift*: ``x -> x @ Q.T`` where ``Q`` (``dimensions x 256``) has
orthonormal columns from the QR decomposition of a seeded Gaussian matrix. Since
``Q.T @ Q = I``, inner products, norms and cosine similarities are exactly those of the 256-d
vectors: a larger ``dimensions`` costs storage but (unlike on AWS) adds no accuracy.

Introduced in lab 05 (embeddings and retrieval-augmented generation).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mllab.models._wordllama import model as _model

NATIVE_DIMENSIONS = 256
SUPPORTED_DIMENSIONS = (256, 512, 1024)
LIFT_SEED = 20260929  # fixed: the same vector for the same text on every machine

_LIFT_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _lift(dimensions: int) -> np.ndarray:
    with _LIFT_LOCK:
        rng = np.random.default_rng(LIFT_SEED + dimensions)
        q, r = np.linalg.qr(rng.standard_normal((dimensions, NATIVE_DIMENSIONS)))
        # fix the signs so Q is unique for the seed (QR is unique up to column signs)
        q = q * np.sign(np.diag(r))
        return np.ascontiguousarray(q.T.astype(np.float32))  # (256, dimensions)


def lift_matrix(dimensions: int) -> np.ndarray:
    """The ``(256, dimensions)`` map whose rows are orthonormal (``M @ M.T = I``).

    Args:
        dimensions: 256, 512 or 1024.

    Returns:
        The identity for 256, else the fixed seeded lift. Costs nothing; deletes nothing.
    """
    if dimensions not in SUPPORTED_DIMENSIONS:
        raise ValueError(f"dimensions must be one of {SUPPORTED_DIMENSIONS}, got {dimensions!r}")
    if dimensions == NATIVE_DIMENSIONS:
        return np.eye(NATIVE_DIMENSIONS, dtype=np.float32)
    return _lift(dimensions)


def embed(texts: Sequence[str], dimensions: int = 256, normalize: bool = True) -> np.ndarray:
    """Embed texts.

    Args:
        texts: the strings (a single ``str`` is treated as one text).
        dimensions: 256, 512 or 1024 (512/1024 by the inner-product-preserving lift).
        normalize: scale each vector to unit length (an empty text stays the zero vector).

    Returns:
        ``float32`` array of shape ``(len(texts), dimensions)``. Costs nothing; deletes nothing.
    """
    if isinstance(texts, str):
        texts = [texts]
    items = [str(t) for t in texts]
    lift = lift_matrix(dimensions)
    if not items:
        return np.zeros((0, dimensions), dtype=np.float32)
    out = np.zeros((len(items), NATIVE_DIMENSIONS), dtype=np.float32)
    nonempty = [i for i, t in enumerate(items) if t.strip()]
    if nonempty:
        vecs = _model().embed([items[i] for i in nonempty], norm=False)
        out[nonempty] = vecs
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
    if dimensions != NATIVE_DIMENSIONS:
        out = out @ lift
    return np.ascontiguousarray(out, dtype=np.float32)


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine similarity of two vectors (0.0 when either is the zero vector).

    Args:
        a: a vector.
        b: a vector of the same length.

    Returns:
        The cosine in ``[-1, 1]``. Costs nothing; deletes nothing.
    """
    va = np.asarray(a, dtype=np.float64).ravel()
    vb = np.asarray(b, dtype=np.float64).ravel()
    if va.shape != vb.shape:
        raise ValueError(f"vectors differ in length: {va.shape[0]} vs {vb.shape[0]}")
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(va, vb) / (na * nb))


def similarity(text_a: str, text_b: str) -> float:
    """Cosine similarity of two texts' embeddings.

    Args:
        text_a: a string.
        text_b: a string.

    Returns:
        The cosine. Costs nothing; deletes nothing.
    """
    v = embed([text_a, text_b])
    return cosine(v[0], v[1])
