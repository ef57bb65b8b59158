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

from mllab.checks import lab02 as c
from tests.checks.verdicts import verdict

PEPPER = b"lab02-demo-key"


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


# --------------------------------------------------------------------------- requirement 1
def solution_profile(raw: pd.DataFrame) -> dict[str, Any]:
    numeric = raw.select_dtypes("number")
    return {
        "rows": len(raw),
        "duplicate_rows": int(raw.duplicated().sum()),
        "missing": raw.isna().sum(),
        "skew": numeric.skew(),
        "churn_rate": float(raw["churned"].mean()),
    }


def grid(panels: int = 4, corr: bool = True) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3)
    for i, ax in enumerate(axes.flat[:panels]):
        if corr and i == 0:
            ax.imshow(np.eye(3))
        else:
            ax.hist([1, 2, 2, 3])
        ax.set_title(f"panel {i}")
    return fig


def test_profile_passes_and_alternative_dicts_pass() -> None:
    raw = c.export()
    assert verdict(c.check_profile, solution_profile(raw), grid()) == "PASS"
    alt = solution_profile(raw)
    alt["missing"] = {k: int(v) for k, v in alt["missing"].items() if v}  # only non-zero columns
    alt["skew"] = alt["skew"].round(4).to_dict()
    assert verdict(c.check_profile, alt, grid(panels=6)) == "PASS"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda p, raw: {**p, "duplicate_rows": int(raw.duplicated(keep=False).sum())},
            "duplicate_rows",
        ),
        (lambda p, raw: {**p, "churn_rate": raw.drop_duplicates()["churned"].mean()}, "churn_rate"),
        (
            lambda p, raw: {
                **p,
                "skew": np.log1p(raw.select_dtypes("number").clip(lower=0)).skew(),
            },
            "skew[",
        ),
        (lambda p, raw: {**p, "missing": raw.drop_duplicates().isna().sum()}, "missing["),
    ],
)
def test_profile_wrong_numbers_miss(mutate: Callable[..., Any], needle: str) -> None:
    raw = c.export()
    assert needle in verdict(c.check_profile, mutate(solution_profile(raw), raw), grid())


def test_profile_thin_figure_misses() -> None:
    raw = c.export()
    assert "draw at least four" in verdict(c.check_profile, solution_profile(raw), grid(panels=3))
    assert "no correlation matrix" in verdict(
        c.check_profile, solution_profile(raw), grid(corr=False)
    )


# --------------------------------------------------------------------------- requirement 2
def sanitised(
    stratify: bool = True,
    median_of: str = "train",
    high: float | None = None,
    plans: dict[str, str] | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    from sklearn.model_selection import train_test_split

    raw = c.export()
    clean = raw.drop_duplicates().copy()
    clean["signup_date"] = pd.to_datetime(clean["signup_date"], format="%Y-%m-%d")
    clean["plan"] = (
        clean["plan"]
        .str.strip()
        .str.lower()
        .replace(plans or {"std": "standard", "prem": "premium"})
    )
    clean["churned"] = clean["churned"].astype(int)
    if stratify:
        tr, va = train_test_split(
            clean, test_size=0.2, stratify=clean["churned"], random_state=seed
        )
    else:  # the churners sorted to the end: an unstratified tail split
        ordered = clean.sort_values("churned", kind="stable")
        tr, va = ordered.iloc[:1600], ordered.iloc[1600:]
    tr, va = tr.copy(), va.copy()
    # the framing question's option D: the mean of the whole data set before splitting
    median = tr["age"].median() if median_of == "train" else clean["age"].mean()
    q1, q3 = tr["data_gb"].quantile([0.25, 0.75])
    bounds = {"data_gb": (0.0, float(q3 + 3 * (q3 - q1)) if high is None else high)}
    for part in (tr, va):
        part["age_missing"] = part["age"].isna().astype(int)
        part["age"] = part["age"].fillna(median)
        part["data_gb"] = part["data_gb"].clip(*bounds["data_gb"])
    return clean, tr, va, bounds


def test_sanitise_passes_and_alternative_bound_and_seed_pass() -> None:
    assert verdict(c.check_sanitise, *sanitised()) == "PASS"
    clean, tr, va, _ = sanitised(seed=7)
    p995 = float(c.export()["data_gb"].quantile(0.95)) * 1.5  # another bound between p95 and 500
    clean, tr, va, bounds = sanitised(seed=7, high=p995)
    assert verdict(c.check_sanitise, clean, tr, va, bounds) == "PASS"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"stratify": False}, "stratify the split"),
        ({"median_of": "all"}, "TRAINING median"),
        ({"high": 5000.0}, "meter errors"),
        ({"plans": {"std": "standard"}}, "normalise to basic/standard/premium"),
    ],
)
def test_sanitise_wrong_states_miss(kwargs: dict[str, Any], needle: str) -> None:
    assert needle in verdict(c.check_sanitise, *sanitised(**kwargs))


def test_sanitise_duplicates_kept_miss() -> None:
    clean, tr, va, bounds = sanitised()
    dup = pd.concat([clean, clean.head(5)])
    assert "drop the duplicate rows" in verdict(c.check_sanitise, dup, tr, va, bounds)


# --------------------------------------------------------------------------- requirement 4
PLANS, GENDERS = ["basic", "standard", "premium"], ["F", "M", "X"]
AGE_BINS, AGE_LABELS = [0, 30, 45, 60, 200], ["under_30", "30_44", "45_59", "60_plus"]


def make_features(df: pd.DataFrame, regions: list[str], **wrong: Any) -> pd.DataFrame:
    from mllab.datasets import tokenize

    out = pd.DataFrame(index=df.index)
    out["log_spend"] = (np.log if wrong.get("log") else np.log1p)(df["monthly_spend"])
    for col in ("tenure_months", "data_gb", "support_calls", "age", "age_missing"):
        out[col] = df[col].astype(float)
    out["signup_year"] = df["signup_date"].dt.year
    out["signup_month"] = df["signup_date"].dt.month
    dow = df["signup_date"].dt.day_of_week
    out["signup_dow"] = (dow + 1) % 7 if wrong.get("sunday_first") else dow
    out["n_complaint_tokens"] = df["complaint_text"].map(lambda t: len(tokenize(t).split()))
    age_group = pd.cut(df["age"], bins=AGE_BINS, labels=AGE_LABELS, right=bool(wrong.get("right")))
    for name, values, cats in (
        ("plan", df["plan"], PLANS),
        ("gender", df["gender"], GENDERS),
        ("region", df["region"], regions),
        ("age_group", age_group, AGE_LABELS),
    ):
        if wrong.get("sklearn"):
            from sklearn.preprocessing import OneHotEncoder

            enc = OneHotEncoder(categories=[cats], sparse_output=False, dtype=int)
            d = pd.DataFrame(
                enc.fit_transform(np.asarray(values, dtype=object).reshape(-1, 1)),
                columns=[f"{name}_{v}" for v in cats],
                index=df.index,
            )
        else:
            d = pd.get_dummies(pd.Categorical(values, categories=cats), prefix=name, dtype=int)
            d.index = df.index
        out = out.join(d)
    return out


def features_state(lab: Any, valid_in_export: bool = False, **wrong: Any) -> tuple[Any, ...]:
    from mllab.datasets import tokenize

    _, tr, va, _ = sanitised()
    regions = sorted(tr["region"].unique())
    X_train, X_valid = make_features(tr, regions, **wrong), make_features(va, regions, **wrong)
    rows = pd.concat([tr, va]) if valid_in_export else tr
    wrote = rows[rows["complaint_text"].str.strip() != ""]
    lines = [
        f"__label__{y} {tokenize(t)}"
        for y, t in zip(wrote["churned"], wrote["complaint_text"], strict=True)
    ]
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key="eda/blazingtext/train.txt", Body=("\n".join(lines) + "\n").encode()
    )
    cats = {"plan_": PLANS, "gender_": GENDERS, "region_": regions, "age_group_": AGE_LABELS}
    return X_train, X_valid, tr, va, cats


def test_features_pass_and_sklearn_onehot_alternative_passes(lab: Any) -> None:
    assert verdict(c.check_features, lab, *features_state(lab)) == "PASS"
    assert verdict(c.check_features, lab, *features_state(lab, sklearn=True)) == "PASS"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"log": True}, "np.log1p"),
        ({"sunday_first": True}, "Monday = 0"),
        ({"right": True}, "right=False"),
        ({"valid_in_export": True}, "training rows only"),
    ],
)
def test_features_wrong_states_miss(lab: Any, kwargs: dict[str, Any], needle: str) -> None:
    assert needle in verdict(c.check_features, lab, *features_state(lab, **kwargs))
