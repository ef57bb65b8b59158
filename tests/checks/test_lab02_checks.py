"""Lab 02's checks (``mllab.checks.lab02``) on prepared states: wrong and faked ones MISS,
valid alternatives PASS.

States are built with pandas and boto3 against an offline lab (the seeded export), not by
rerunning the notebook. The cases of issues 14 and 18: a reversible hex encoding of the
e-mail passed off as a keyed hash (the HMAC is recomputed), an unkeyed SHA-256, another key,
an address hashed without lower-casing, a phone left behind; bias metrics on the wrong facet,
the wrong split or inverted, and oversampling that reaches into validation.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mllab.checks import CheckFailed
from mllab.checks import lab02 as c
from mllab.checks.core import Requirement

PEPPER = b"lab02-demo-key"


def verdict(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    req = Requirement(lab="t", key="t", record=False)
    try:
        fn(req, *args, **kwargs)
    except CheckFailed as err:
        return str(err.message)
    return "PASS"


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    raw = c.export()
    out = raw.drop_duplicates().copy()
    out["churned"] = out["churned"].astype(int)
    return out


# --------------------------------------------------------------------------- requirement 3
def put_curated(lab: Any, clean: pd.DataFrame, hasher: Callable[[str], str], **kw: Any) -> None:
    drop = kw.get("drop", ["email", "phone"])
    cur = clean.drop(columns=drop).assign(email_hash=[hasher(e) for e in clean["email"]])
    if kw.get("shuffle"):
        cur = cur.sample(frac=1.0, random_state=1)
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key="eda/curated/customers.csv", Body=cur.to_csv(index=False).encode()
    )


def keyed(e: str) -> str:
    return hmac.new(PEPPER, e.strip().lower().encode(), hashlib.sha256).hexdigest()


def test_pii_keyed_hmac_passes(lab: Any, clean: pd.DataFrame) -> None:
    put_curated(lab, clean, keyed)
    assert verdict(c.check_pii, lab, PEPPER, len(clean)) == "PASS"


def test_pii_alternative_row_order_and_hmac_digest_object_pass(
    lab: Any, clean: pd.DataFrame
) -> None:
    # another valid way: hmac.digest(...).hex() of the lower-cased address, rows shuffled
    put_curated(
        lab,
        clean,
        lambda e: hmac.digest(PEPPER, e.lower().strip().encode(), "sha256").hex(),
        shuffle=True,
    )
    assert verdict(c.check_pii, lab, PEPPER, len(clean)) == "PASS"


def test_pii_reversible_hex_encoding_misses(lab: Any, clean: pd.DataFrame) -> None:
    # looks like a 64-hex digest but is the address itself, hex-encoded (and padded)
    put_curated(lab, clean, lambda e: e.strip().lower().encode().hex().ljust(64, "0")[:64])
    got = verdict(c.check_pii, lab, PEPPER, len(clean))
    assert "differ from hmac.new(PEPPER" in got and "reversed" in got


@pytest.mark.parametrize(
    ("hasher", "needle"),
    [
        (lambda e: hashlib.sha256(e.strip().lower().encode()).hexdigest(), "unkeyed SHA-256"),
        (
            lambda e: hmac.new(b"another-key", e.lower().encode(), hashlib.sha256).hexdigest(),
            "another key",
        ),
        (
            lambda e: hmac.new(PEPPER, e.strip().upper().encode(), hashlib.sha256).hexdigest(),
            "differ from hmac.new(PEPPER",
        ),
    ],
)
def test_pii_wrong_hashes_miss(
    lab: Any, clean: pd.DataFrame, hasher: Callable[[str], str], needle: str
) -> None:
    put_curated(lab, clean, hasher)
    assert needle in verdict(c.check_pii, lab, PEPPER, len(clean))


def test_pii_phone_left_misses(lab: Any, clean: pd.DataFrame) -> None:
    put_curated(lab, clean, keyed, drop=["email"])
    assert "PII in S3" in verdict(c.check_pii, lab, PEPPER, len(clean))


def test_pii_raw_copy_elsewhere_under_eda_misses(lab: Any, clean: pd.DataFrame) -> None:
    put_curated(lab, clean, keyed)
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key="eda/scratch/raw.csv", Body=clean.to_csv(index=False).encode()
    )
    assert "PII in S3" in verdict(c.check_pii, lab, PEPPER, len(clean))


# --------------------------------------------------------------------------- requirement 5
@pytest.fixture(scope="module")
def parts(clean: pd.DataFrame) -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    train_df, valid_df = train_test_split(
        clean, test_size=0.2, stratify=clean["churned"], random_state=0
    )
    cols = ["tenure_months", "support_calls", "monthly_spend"]
    X_train, X_valid = train_df[cols].astype(float), valid_df[cols].astype(float)
    return {
        "train_df": train_df,
        "valid_df": valid_df,
        "X_train": X_train,
        "X_valid": X_valid,
        "y_train": train_df["churned"],
        "y_valid": valid_df["churned"],
    }


def metrics(df: pd.DataFrame, d_value: str = "F") -> dict[str, float]:
    is_d = df["gender"] == d_value
    na, nd = int((~is_d).sum()), int(is_d.sum())
    qa, qd = df.loc[~is_d, "churned"].mean(), df.loc[is_d, "churned"].mean()
    return {
        "label_rate": df["churned"].mean(),
        "CI": (na - nd) / (na + nd),
        "DPL": qa - qd,
        "DI": qd / qa,
    }


def oversample(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    pos = y[y == 1].index.to_series()
    extra = pos.sample(int((y == 0).sum() - len(pos)), replace=True, random_state=0)
    idx = y.index.append(pd.Index(extra.to_numpy()))
    return X.loc[idx], y.loc[idx]


def run_bias(parts: dict[str, Any], bias: dict[str, Any], bal: Any = None) -> str:
    Xb, yb = bal if bal is not None else oversample(parts["X_train"], parts["y_train"])
    return verdict(
        c.check_bias,
        bias,
        parts["train_df"],
        parts["valid_df"],
        parts["X_train"],
        parts["X_valid"],
        parts["y_valid"],
        Xb,
        yb,
    )


def test_bias_pandas_metrics_pass(parts: dict[str, Any]) -> None:
    assert run_bias(parts, metrics(parts["train_df"])) == "PASS"


def test_bias_alternative_sklearn_resample_and_numpy_floats_pass(parts: dict[str, Any]) -> None:
    from sklearn.utils import resample

    X, y = parts["X_train"], parts["y_train"]
    pos = y[y == 1].index
    extra = resample(pos, replace=True, n_samples=int((y == 0).sum() - len(pos)), random_state=3)
    idx = y.index.append(pd.Index(extra))
    bias = {k: np.float64(v) for k, v in metrics(parts["train_df"]).items()}
    assert run_bias(parts, bias, (X.loc[idx], y.loc[idx])) == "PASS"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda p: metrics(p["train_df"], d_value="M"), "CI is"),  # the wrong facet
        (lambda p: metrics(pd.concat([p["train_df"], p["valid_df"]])), "on the training split"),
        (lambda p: {**metrics(p["train_df"]), "DI": 1 / metrics(p["train_df"])["DI"]}, "DI is"),
        (
            lambda p: {k: v for k, v in metrics(p["train_df"]).items() if k != "DI"},
            "needs the keys",
        ),
    ],
)
def test_bias_wrong_metrics_miss(
    parts: dict[str, Any], mutate: Callable[[dict[str, Any]], dict[str, Any]], needle: str
) -> None:
    assert needle in run_bias(parts, mutate(parts))


def test_bias_oversampling_validation_rows_misses(parts: dict[str, Any]) -> None:
    X = pd.concat([parts["X_train"], parts["X_valid"]])
    y = pd.concat([parts["y_train"], parts["y_valid"]])
    got = run_bias(parts, metrics(parts["train_df"]), oversample(X, y))
    assert "not training rows" in got or "validation customers" in got


def test_bias_relabelled_rows_miss(parts: dict[str, Any]) -> None:
    X, y = parts["X_train"], parts["y_train"].copy()
    y.iloc[: len(y) // 2] = 1  # "balanced" by flipping labels
    got = run_bias(parts, metrics(parts["train_df"]), (X, y))
    assert "changed some labels" in got


def test_bias_not_balanced_misses(parts: dict[str, Any]) -> None:
    got = run_bias(parts, metrics(parts["train_df"]), (parts["X_train"], parts["y_train"]))
    assert "oversample them" in got
