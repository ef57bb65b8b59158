"""Lab 02's checks (``mllab.checks.lab02``) on prepared states: wrong and faked ones MISS,
valid alternatives PASS.

States are built with pandas and boto3 against an offline lab (the seeded export), not by
rerunning the notebook. The cases of issues 14 and 18: a reversible hex encoding of the
e-mail passed off as a keyed hash (the HMAC is recomputed), an unkeyed SHA-256, another key,
an address hashed without lower-casing, a phone left behind; bias metrics on the wrong facet,
the wrong split or inverted, and oversampling that reaches into validation; training jobs
(PCA, the drill, K-Means, the XGBoost proof) on the wrong data, format, settings or rows, with
the data rewritten after the job ran, or a validation file swapped after the AUC was reported.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mllab.checks import lab02 as c
from tests.checks.verdicts import outcome, verdict

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


# --------------------------------------------------------------------------- requirements 6-8
SEGMENT_COLS = [
    "log_spend",
    "tenure_months",
    "data_gb",
    "support_calls",
    "age",
    "n_complaint_tokens",
]


@pytest.fixture(scope="module")
def z() -> dict[str, Any]:
    """The features of requirement 4 and their standardised copies (training statistics)."""
    _, tr, va, _ = sanitised()
    regions = sorted(tr["region"].unique())
    X_train, X_valid = make_features(tr, regions), make_features(va, regions)
    mu, sd = X_train.mean(), X_train.std().replace(0, 1)
    return {
        "X_train": X_train,
        "X_valid": X_valid,
        "y_train": tr["churned"],
        "y_valid": va["churned"],
        "Z_train": ((X_train - mu) / sd).astype("float32"),
        "Z_valid": ((X_valid - mu) / sd).astype("float32"),
    }


def put(lab: Any, key: str, body: bytes) -> str:
    lab.client("s3").put_object(Bucket=lab.bucket, Key=key, Body=body)
    return key


def drop(lab: Any, *keys: str) -> None:
    for key in keys:
        lab.client("s3").delete_object(Bucket=lab.bucket, Key=key)


def rec(X: Any, y: Any = None) -> bytes:
    from mllab.formats.recordio import write_dense

    arr = np.asarray(X, dtype="float32")
    return write_dense(arr) if y is None else write_dense(arr, np.asarray(y, dtype="float32"))


def csv(X: Any) -> bytes:
    return pd.DataFrame(np.asarray(X)).to_csv(header=False, index=False).encode()


def train(
    lab: Any,
    name: str,
    algo: str,
    hp: dict[str, str],
    channels: dict[str, tuple[str, str]],
    runtime: int = 300,
) -> dict[str, Any]:
    """Run a training job of a built-in ``algo`` on ``{channel: (key or prefix, ContentType)}``."""
    from sagemaker.core import image_uris

    version = {"version": "1.7-1"} if algo == "xgboost" else {}
    request = {
        "TrainingJobName": lab.job_name(name),
        "AlgorithmSpecification": {
            "TrainingImage": image_uris.retrieve(algo, region=lab.region, **version),
            "TrainingInputMode": "File",
        },
        "HyperParameters": hp,
        "InputDataConfig": [
            {
                "ChannelName": ch,
                "ContentType": ctype,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{lab.bucket}/{where}",
                    }
                },
            }
            for ch, (where, ctype) in channels.items()
        ],
        "RoleArn": lab.role_arn,
        "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/models/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
    }
    run(lab, request)
    return request


def run(lab: Any, request: dict[str, Any]) -> str:
    from botocore.exceptions import WaiterError

    sm = lab.client("sagemaker")
    sm.create_training_job(**request)
    try:
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=request["TrainingJobName"],
            WaiterConfig={"Delay": 1, "MaxAttempts": 300},
        )
    except WaiterError:
        pass  # a failed job is a state under test
    return str(request["TrainingJobName"])


REC = "application/x-recordio-protobuf"


def pca_hp(z: dict[str, Any], n: str = "5", **kw: str) -> dict[str, str]:
    return {
        "feature_dim": str(z["Z_train"].shape[1]),
        "num_components": n,
        "mini_batch_size": "256",
        **kw,
    }


def test_pca_passes_then_wrong_and_rewritten_data_miss(lab: Any, z: dict[str, Any]) -> None:
    def judge(name: str) -> str:
        return outcome(c.verify_pca, lab, lab.job_name(name))

    put(lab, "eda/pca/train/train.rec", rec(z["Z_train"]))
    train(lab, "pca", "pca", pca_hp(z), {"train": ("eda/pca/train/", REC)})
    assert judge("pca") == "PASS"
    # alternative: the S3 URI of the object itself, randomized mode, another batch size, 4 minutes
    train(
        lab,
        "pca-alt",
        "pca",
        pca_hp(z, algorithm_mode="randomized", mini_batch_size="100"),
        {"train": ("eda/pca/train/train.rec", REC)},
        runtime=240,
    )
    assert judge("pca-alt") == "PASS"
    # wrong: another number of components
    train(lab, "pca-3", "pca", pca_hp(z, "3"), {"train": ("eda/pca/train/", REC)})
    assert "num_components is 3; the text asks for 5" in judge("pca-3")
    # wrong states whose data sit below the prefix for the time of their job
    wrong = {
        "raw": (rec(z["X_train"]), "not standardised with the training mean"),
        "all": (  # every customer, standardised with the statistics of all of them
            rec(
                (lambda a: (a - a.mean()) / a.std().replace(0, 1))(
                    pd.concat([z["X_train"], z["X_valid"]])
                )
            ),
            "training customers (about 80%)",
        ),
    }
    for tag, (body, needle) in wrong.items():
        key = put(lab, f"eda/pca/train/{tag}/train.rec", body)
        train(lab, f"pca-{tag}", "pca", pca_hp(z), {"train": (f"eda/pca/train/{tag}/", REC)})
        assert needle in judge(f"pca-{tag}"), tag
        drop(lab, key)
    # wrong: CSV where the requirement asks for recordIO-protobuf
    key = put(lab, "eda/pca/train/csv/train.csv", csv(z["Z_train"]))
    train(
        lab, "pca-csv", "pca", pca_hp(z), {"train": ("eda/pca/train/csv/", "text/csv;label_size=0")}
    )
    assert "the requirement asks for application/x-recordio-protobuf" in judge("pca-csv")
    drop(lab, key)
    # wrong: the data somewhere else
    put(lab, "eda/elsewhere/train.rec", rec(z["Z_train"]))
    train(lab, "pca-where", "pca", pca_hp(z), {"train": ("eda/elsewhere/", REC)})
    assert "the text puts the data under" in judge("pca-where")
    # fake: the job ran, then the notebook replaced the data the check reads
    time.sleep(c.CLOCK_SLACK + 1)
    put(lab, "eda/pca/train/train.rec", rec(z["Z_train"]))
    assert "after the job started" in judge("pca")


def test_drill_same_request_passes_other_fixes_miss(lab: Any, z: dict[str, Any]) -> None:
    put(lab, "eda/pca-csv/train/train.csv", csv(z["Z_train"]))
    colleague = train(
        lab, "colleague", "pca", pca_hp(z), {"train": ("eda/pca-csv/train/", "text/csv")}
    )
    broken = colleague["TrainingJobName"]

    def fixed(name: str, ctype: str = "text/csv;label_size=0", **change: Any) -> str:
        channel = {**colleague["InputDataConfig"][0], "ContentType": ctype}
        return run(
            lab,
            {
                **colleague,
                "TrainingJobName": lab.job_name(name),
                "InputDataConfig": [channel],
                **change,
            },
        )

    def judge(name: str) -> str:
        return outcome(c.verify_drill, lab, broken, name)

    assert (
        "Failed"
        in lab.client("sagemaker").describe_training_job(TrainingJobName=broken)[
            "TrainingJobStatus"
        ]
    )
    assert judge(fixed("fix")) == "PASS"
    # alternative: the parameter written with a space, as the CSV media type allows
    assert judge(fixed("fix-space", "text/csv; label_size=0")) == "PASS"
    # wrong: other hyperparameters
    got = judge(fixed("fix-hp", HyperParameters=pca_hp(z, "3")))
    assert "differs from the colleague's request in the hyperparameters" in got
    # wrong: a bigger instance
    got = judge(
        fixed(
            "fix-big",
            ResourceConfig={
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
        )
    )
    assert "in ResourceConfig" in got
    # wrong: still labelled (label_size=1): fails, or completes on one column too few
    got = judge(fixed("fix-1", "text/csv;label_size=1"))
    assert "is Failed" in got or "unlabelled CSV must say so" in got
    # wrong: the CSV declared as recordIO-protobuf
    got = judge(fixed("fix-rec", REC))
    assert "is Failed" in got or "unlabelled CSV must say so" in got
    # fake: requirement 6's recordIO job rerun under the drill's name, the CSV request never fixed
    put(lab, "eda/pca/train/train.rec", rec(z["Z_train"]))
    recordio_channel = {
        **colleague["InputDataConfig"][0],
        "ContentType": REC,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{lab.bucket}/eda/pca/train/"}
        },
    }
    name = run(
        lab,
        {
            **colleague,
            "TrainingJobName": lab.job_name("fix-rec2"),
            "InputDataConfig": [recordio_channel],
        },
    )
    assert "in the channels' data" in judge(name)
    # fake: the data changed after the colleague's job, then "fixed"
    time.sleep(c.CLOCK_SLACK + 1)
    put(lab, "eda/pca-csv/train/train.csv", csv(z["Z_train"].round(2)))
    assert "after the colleague's job was created" in judge(fixed("fix-late"))


def kmeans_hp(k: int = 4, **kw: str) -> dict[str, str]:
    return {"k": str(k), "feature_dim": str(len(SEGMENT_COLS)), **kw}


def test_kmeans_passes_then_wrong_and_rewritten_data_miss(lab: Any, z: dict[str, Any]) -> None:
    S_train, S_valid = z["Z_train"][SEGMENT_COLS], z["Z_valid"][SEGMENT_COLS]

    def judge(name: str, k_chosen: int = 4) -> str:
        return outcome(c.verify_kmeans, lab, lab.job_name(name), k_chosen)

    put(lab, "eda/kmeans/train/train.rec", rec(S_train))
    put(lab, "eda/kmeans/test/test.rec", rec(S_valid))
    both = {"train": ("eda/kmeans/train/", REC), "test": ("eda/kmeans/test/", REC)}
    train(lab, "km", "kmeans", kmeans_hp(mini_batch_size="500", init_method="kmeans++"), both)
    assert judge("km") == "PASS"
    # wrong: the plot chose another k than the job uses
    assert "your elbow plot chose k_chosen=5" in judge("km", 5)
    # wrong: no test channel
    train(lab, "km-notest", "kmeans", kmeans_hp(), {"train": both["train"]})
    assert "give the job a `test` channel" in judge("km-notest")
    # wrong: k outside what the team can act on
    train(lab, "km-20", "kmeans", kmeans_hp(20), both)
    assert "k=20" in judge("km-20", 20)
    # wrong: the training customers again as the test channel
    key = put(lab, "eda/kmeans/test/train-again/test.rec", rec(S_train))
    train(
        lab,
        "km-same",
        "kmeans",
        kmeans_hp(),
        {"train": both["train"], "test": ("eda/kmeans/test/train-again/", REC)},
    )
    assert "validation customers (about 20%)" in judge("km-same")
    drop(lab, key)
    # wrong: every feature instead of the segment columns
    k1 = put(lab, "eda/kmeans/train/all/train.rec", rec(z["Z_train"]))
    k2 = put(lab, "eda/kmeans/test/all/test.rec", rec(z["Z_valid"]))
    train(
        lab,
        "km-all",
        "kmeans",
        {"k": "4", "feature_dim": str(z["Z_train"].shape[1])},
        {"train": ("eda/kmeans/train/all/", REC), "test": ("eda/kmeans/test/all/", REC)},
    )
    assert "the segments use the 6 SEGMENT_COLS" in judge("km-all")
    drop(lab, k1, k2)
    # alternative: unlabelled CSV, k=3, only the required hyperparameters
    put(lab, "eda/kmeans/train/csv/train.csv", csv(S_train))
    put(lab, "eda/kmeans/test/csv/test.csv", csv(S_valid))
    train(
        lab,
        "km-csv",
        "kmeans",
        kmeans_hp(3),
        {
            "train": ("eda/kmeans/train/csv/", "text/csv;label_size=0"),
            "test": ("eda/kmeans/test/csv/", "text/csv;label_size=0"),
        },
    )
    assert judge("km-csv", 3) == "PASS"
    # fake: the test data replaced after the job reported test:msd
    time.sleep(c.CLOCK_SLACK + 1)
    put(lab, "eda/kmeans/test/csv/test.csv", csv(S_valid))
    assert "after the job started" in judge("km-csv", 3)


XGB_HP = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "30", "max_depth": "4"}


def test_export_passes_then_wrong_files_and_swapped_validation_miss(
    lab: Any, z: dict[str, Any]
) -> None:
    from mllab.datasets import to_builtin_csv

    Xb, yb = oversample(z["X_train"], z["y_train"])
    files = {
        "eda/export/train/train.csv": to_builtin_csv(
            Xb.assign(churned=yb.to_numpy()), label="churned"
        ),
        "eda/export/validation/validation.csv": to_builtin_csv(
            z["X_valid"].assign(churned=z["y_valid"].to_numpy()), label="churned"
        ),
        "eda/export/recordio/train.rec": rec(Xb, yb),
    }
    for key, body in files.items():
        put(lab, key, body)

    def judge(name: str) -> str:
        return outcome(c.verify_export, lab, lab.job_name(name))

    def mutated(key: str, body: bytes, name: str = "xgb") -> str:
        put(lab, key, body)
        try:
            return judge(name)
        finally:
            put(lab, key, files[key])

    chans = {ch: (f"eda/export/{ch}/", "text/csv") for ch in ("train", "validation")}
    train(lab, "xgb", "xgboost", XGB_HP, chans)
    assert judge("xgb") == "PASS"
    # alternative: the object URIs themselves, other tree settings
    train(
        lab,
        "xgb-alt",
        "xgboost",
        {**XGB_HP, "max_depth": "3", "eta": "0.3", "subsample": "0.9"},
        {ch: (f"eda/export/{ch}/{ch}.csv", "text/csv") for ch in ("train", "validation")},
    )
    assert judge("xgb-alt") == "PASS"
    # wrong: not the stated number of rounds
    train(lab, "xgb-100", "xgboost", {**XGB_HP, "num_round": "100"}, chans)
    assert "the text asks for" in judge("xgb-100")
    # wrong files, each judged against the passing job
    tr = "eda/export/train/train.csv"
    header = b"churned,a,b\n" + files[tr]
    assert "no header row" in mutated(tr, header)
    unbalanced = to_builtin_csv(
        z["X_train"].assign(churned=z["y_train"].to_numpy()), label="churned"
    )
    assert "export the balanced training rows" in mutated(tr, unbalanced)
    leaked = files[tr] + files["eda/export/validation/validation.csv"]
    assert "also appear in the training file" in mutated(tr, leaked)
    shuffled = rec(Xb.sample(frac=1.0, random_state=1), yb.sample(frac=1.0, random_state=1))
    got = mutated("eda/export/recordio/train.rec", shuffled)
    assert "not the training CSV's rows" in got
    raw = c.export().to_csv(index=False).encode()
    key = put(lab, "eda/export/raw/raw.csv", raw)
    assert "PII in S3" in judge("xgb")
    drop(lab, key)
    # fake: the validation file swapped after the job (labels shuffled: same size, same rate)
    va = "eda/export/validation/validation.csv"
    y_perm = z["y_valid"].sample(frac=1.0, random_state=5).to_numpy()
    swapped = to_builtin_csv(z["X_valid"].assign(churned=y_perm), label="churned")
    assert "now in S3" in mutated(va, swapped)
