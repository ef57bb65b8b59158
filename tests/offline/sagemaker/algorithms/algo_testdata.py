"""Seeded data generators shared by the built-in algorithm tests."""

from __future__ import annotations

import numpy as np


def csv_text(*columns: np.ndarray, fmt: str = "%.6g") -> str:
    """Rows of comma-separated columns (label first), no header."""
    data = np.column_stack(columns)
    return "\n".join(",".join(fmt % v for v in row) for row in data) + "\n"


def binary_data(n: int = 400, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, learnable binary classification problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = np.linspace(1.5, -1.0, d)
    logits = X @ w + 0.3 * rng.normal(size=n)
    return X, (logits > 0).astype(float)
