"""Embeddings: similar texts score as similar, on labelled pairs; the lift preserves inner products."""

from __future__ import annotations

import numpy as np
import pytest

from mllab.models import embeddings

SIMILAR = [
    ("How do I reset my password?", "Steps to change the password of your account"),
    ("The cat sat on the mat.", "A kitten was sitting on the rug."),
    (
        "What is the refund policy for returned items?",
        "Can I get my money back if I return a product?",
    ),
    ("Invoke a foundation model on Amazon Bedrock", "Call a Bedrock foundation model from Python"),
    (
        "The train leaves the station at 9 am.",
        "The train departs the station at nine in the morning.",
    ),
    ("Tents carry a two year warranty.", "How long is the warranty on a tent?"),
]
DISSIMILAR = [
    ("How do I reset my password?", "Quarterly revenue grew five percent in Europe"),
    ("The cat sat on the mat.", "Interest rates affect bond prices."),
    ("What is the refund policy for returned items?", "The volcano erupted last night."),
    ("Invoke a foundation model on Amazon Bedrock", "My grandmother bakes apple pie."),
    (
        "The train leaves the station at 9 am.",
        "Photosynthesis converts light into chemical energy.",
    ),
    ("Tents carry a two year warranty.", "Jazz musicians improvise melodies."),
]


def _scores(pairs: list[tuple[str, str]]) -> np.ndarray:
    return np.array([embeddings.similarity(a, b) for a, b in pairs])


def test_labelled_pairs_separate() -> None:
    sim, dis = _scores(SIMILAR), _scores(DISSIMILAR)
    print(
        f"\nsimilar pairs mean cosine {sim.mean():.3f} (min {sim.min():.3f}); "
        f"dissimilar mean {dis.mean():.3f} (max {dis.max():.3f}); "
        f"separation {sim.mean() - dis.mean():.3f}"
    )
    assert sim.mean() - dis.mean() > 0.2
    # each similar pair beats the dissimilar pair that shares its first text
    assert all(s > d for s, d in zip(sim, dis, strict=True))


def test_shape_dtype_and_normalization() -> None:
    v = embeddings.embed(["one text", "another text", ""], dimensions=256)
    assert v.shape == (3, 256) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:2], axis=1), 1.0, atol=1e-5)
    assert np.all(v[2] == 0.0)  # empty text: the zero vector, not NaN
    raw = embeddings.embed(["one text"], normalize=False)
    assert not np.isclose(np.linalg.norm(raw[0]), 1.0)
    assert embeddings.embed([]).shape == (0, 256)


@pytest.mark.parametrize("dims", [512, 1024])
def test_lift_preserves_inner_products(dims: int) -> None:
    texts = [a for a, _ in SIMILAR] + [b for _, b in DISSIMILAR]
    base = embeddings.embed(texts, dimensions=256, normalize=False)
    lifted = embeddings.embed(texts, dimensions=dims, normalize=False)
    assert lifted.shape == (len(texts), dims)
    assert np.allclose(base @ base.T, lifted @ lifted.T, rtol=1e-4, atol=1e-5)
    m = embeddings.lift_matrix(dims)
    assert np.allclose(m @ m.T, np.eye(256), atol=1e-5)
    # fixed and seeded: the same vector every time
    assert np.array_equal(lifted, embeddings.embed(texts, dimensions=dims, normalize=False))
    # the lift is not a zero-padding: the vector uses all its coordinates
    assert np.count_nonzero(np.abs(lifted[0, 256:]) > 1e-6) > dims // 4


def test_bad_dimensions_and_cosine_edges() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        embeddings.embed(["x"], dimensions=300)
    assert embeddings.cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
    assert embeddings.cosine([1.0, 0.0], [1.0, 0.0]) == pytest.approx(1.0)
    assert embeddings.cosine([1.0, 0.0], [-1.0, 0.0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="length"):
        embeddings.cosine([1.0], [1.0, 2.0])
