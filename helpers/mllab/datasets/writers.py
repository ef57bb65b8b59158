"""Writers for the input formats of SageMaker's built-in algorithms (labs 03-05).

Each returns ``bytes`` ready for ``s3.put_object(Body=...)``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def to_builtin_csv(df: pd.DataFrame, label: str | None = None) -> bytes:
    """Write CSV the way the built-in algorithms read it: label first, no header, no index.

    Introduced in lab 03 (XGBoost, Linear Learner). For inference data (no label), pass
    ``label=None``: the features alone, still without a header.

    Args:
        df: numeric features (and the label column).
        label: the target column, moved to the front; None for inference payloads.

    Returns:
        UTF-8 CSV bytes.

    Raises:
        ValueError: the label is missing, or a column is not numeric (the built-in
            algorithms read numbers only: one-hot encode categories first).
    """
    if label is not None:
        if label not in df.columns:
            raise ValueError(f"label column {label!r} is not in the DataFrame ({list(df.columns)})")
        df = df[[label] + [c for c in df.columns if c != label]]
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValueError(
            f"columns {bad} are not numeric; the built-in algorithms read numbers only "
            "(one-hot encode with pandas.get_dummies(..., dtype=int) or drop them)"
        )
    buf = io.StringIO()
    df.astype({c: int for c in df.columns if pd.api.types.is_bool_dtype(df[c])}).to_csv(
        buf, header=False, index=False, lineterminator="\n"
    )
    return buf.getvalue().encode("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def to_jsonlines(records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> bytes:
    """Write JSON Lines: one compact JSON object per line (Firehose, DeepAR, Athena's JSON SerDe).

    Introduced in lab 01 (click events) and used for DeepAR in lab 03.

    Args:
        records: a DataFrame (one object per row) or dicts.

    Returns:
        UTF-8 bytes, each line ending in ``\\n``; NaN becomes null.
    """
    rows = records.to_dict(orient="records") if isinstance(records, pd.DataFrame) else records
    lines = [json.dumps(_plain(dict(r)), separators=(",", ":"), ensure_ascii=False) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")


def tokenize(text: str) -> str:
    """Lower-case and split punctuation from words, space-separated (BlazingText's input).

    Args:
        text: raw text.

    Returns:
        The tokens joined by single spaces.
    """
    return " ".join(_TOKEN.findall(str(text).lower()))


def to_blazingtext(df: pd.DataFrame, label: str = "label", text: str = "text") -> bytes:
    """Write BlazingText supervised input: ``__label__<label> <tokenised text>`` per line.

    Introduced in lab 03 (support ticket classification).

    Args:
        df: the tickets.
        label: the label column (spaces in labels become ``_``).
        text: the text column (lower-cased, punctuation split off).

    Returns:
        UTF-8 bytes.
    """
    for col in (label, text):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the DataFrame ({list(df.columns)})")
    lines = [
        f"__label__{str(y).strip().replace(' ', '_')} {tokenize(x)}"
        for y, x in zip(df[label], df[text], strict=True)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
