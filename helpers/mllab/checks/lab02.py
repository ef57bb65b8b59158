"""The checks of lab 02 (exploratory data analysis), as functions the notebook's check cells call.

Each function takes the open :class:`~mllab.checks.core.Requirement` (``req``), the lab and
what the requirement names, and calls ``req.expect``. The truth comes from the seeded export
(``mllab.datasets.telecom_customers``) and from S3, never from a learner variable: the keyed
hash is recomputed with the key for every customer (a reversible encoding of the address that
merely looks like a hash does not pass), and the bias metrics are recomputed from the training
split with pandas. The training-job requirements (``verify_pca``, ``verify_drill``,
``verify_kmeans``, ``verify_export``) read the jobs and the records their channels point at:
record counts from the export, standardisation from the records, the validation AUC
recomputed from the job's artifact, and data rewritten after a job started misses. Kept apart from the notebook so ``tests/checks/test_lab02_checks.py`` can give
each check prepared wrong and alternative states. Every call is read-only and free (a few S3
GETs).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from collections.abc import Callable
from typing import Any

from mllab.checks.core import need as _need
from mllab.checks.inspect import s3_objects, training_job

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?:\+\d{1,3}[- ])?\(?\d{3}\)?[- ]\d{3,4}[- ]\d{4}")


def export(rows: int = 2000, seed: int = 2) -> Any:
    """The raw export of lab 02 (seeded: the same rows on every machine)."""
    from mllab.datasets import telecom_customers

    return telecom_customers(rows, seed=seed)


def pii_found(lab: Any, prefix: str, known: Any | None = None) -> dict[str, str]:
    """Scan every object under ``prefix``; return ``{key: first e-mail or phone found}``.

    Text objects are searched with e-mail and phone patterns; binary objects (recordIO) for
    the export's actual addresses and numbers. Costs one GET per object.
    """
    import pandas as pd

    known = export() if known is None else known
    literals = [s.encode() for s in pd.concat([known["email"], known["phone"]]).unique()]
    found: dict[str, str] = {}
    objs = s3_objects(lab, prefix)
    for key in objs.keys:
        data = objs.read(lab, key)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            hit = next((lit.decode() for lit in literals if lit in data), None)
        else:
            m = EMAIL.search(text) or PHONE.search(text)
            hit = m.group(0) if m else None
        if hit:
            found[key] = hit
    return found


def keyed_hash(key: bytes, email: str) -> str:
    """HMAC-SHA-256 of the normalised (stripped, lower-cased) address, as hex."""
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def check_pii(
    req: Any,
    lab: Any,
    pepper: bytes,
    customers: int,
    key: str = "eda/curated/customers.csv",
    prefix: str = "eda/",
) -> None:
    """Requirement 3: no e-mail or phone under ``eda/``; ``email_hash`` is the keyed HMAC.

    Args:
        req: the open requirement.
        lab: the open lab.
        pepper: the key the text names (``PEPPER``).
        customers: how many distinct customers ``clean`` holds.
        key: the curated object.
        prefix: the analytics area scanned for PII.
    """
    import pandas as pd

    objs = s3_objects(lab, prefix.rstrip("/") + "/curated/", at_least=1)
    req.expect(key in objs.keys, f"no {key} in s3://{lab.bucket} (found {objs.keys})")
    leaks = pii_found(lab, prefix)
    req.expect(not leaks, f"PII in S3: {leaks}; drop or hash it before writing")
    cur = pd.read_csv(io.BytesIO(objs.read(lab, key)), dtype=str)
    left = sorted({"email", "phone"} & set(cur.columns))
    req.expect(not left, f"the curated file still has the columns {left}")
    req.expect(
        "email_hash" in cur.columns and "customer_id" in cur.columns,
        "the curated file needs customer_id and email_hash (for the join)",
    )
    req.expect(
        cur["email_hash"].fillna("").str.fullmatch(r"[0-9a-f]{64}").all(),
        "email_hash should be 64 hex characters (an HMAC-SHA-256 hexdigest)",
    )
    req.expect(
        cur["email_hash"].is_unique and len(cur) == customers,
        f"{len(cur)} rows, {cur['email_hash'].nunique()} distinct email_hash values; one of each "
        f"per customer ({customers})",
    )
    emails = (
        export().drop_duplicates().set_index("customer_id")["email"].reindex(cur["customer_id"])
    )
    req.expect(
        emails.notna().all(),
        f"{int(emails.isna().sum())} customer_id values of the curated file are not in the export",
    )
    got = cur["email_hash"].to_numpy()

    def share(fn: Callable[[str], str]) -> float:
        return float((emails.map(fn).to_numpy() == got).mean())

    plain = share(lambda e: hashlib.sha256(e.strip().lower().encode()).hexdigest())
    req.expect(
        plain < 1.0,
        "email_hash is an unkeyed SHA-256 of the address: anyone can hash a list of guesses; "
        "use hmac.new(PEPPER, ...)",
    )
    exact = share(lambda e: keyed_hash(pepper, e))
    if exact < 1.0:
        case = share(lambda e: hmac.new(pepper, e.strip().encode(), hashlib.sha256).hexdigest())
        hint = (
            "hash the lower-cased address (Alice@x.com and alice@x.com are one customer)"
            if case > exact
            else "it is not HMAC-SHA-256 with the key PEPPER of the lower-cased address: "
            "a value that merely looks like a hash (e.g. the address hex-encoded) can be "
            "reversed, and a hash with another key does not join with marketing's"
        )
        req.expect(
            False,
            f"{round((1 - exact) * len(cur))} of {len(cur)} email_hash values differ from "
            f"hmac.new(PEPPER, email.strip().lower().encode(), hashlib.sha256).hexdigest(): {hint}",
        )
    req.note(
        f"{len(cur)} customers, columns {list(cur.columns)[:4]}..., every email_hash the keyed "
        f"HMAC; no e-mail or phone under s3://{lab.bucket}/{prefix}"
    )


def bias_truth(train_df: Any, facet: str = "gender", d_value: str = "F") -> dict[str, float]:
    """The pre-training bias metrics of the training split, with pandas (lab 02's definitions).

    Facet *d* is ``facet == d_value``, facet *a* every other row; the label of interest is
    ``churned == 1``; q is the share of that label within a facet.

    Returns:
        ``label_rate``, ``CI`` = (na - nd) / (na + nd), ``DPL`` = qa - qd and
        ``DI`` = qd / qa (the ratio of the two facets' label rates).
    """
    d = train_df[facet] == d_value
    na, nd = int((~d).sum()), int(d.sum())
    qa = float(train_df.loc[~d, "churned"].mean())
    qd = float(train_df.loc[d, "churned"].mean())
    return {
        "label_rate": float(train_df["churned"].mean()),
        "CI": (na - nd) / (na + nd),
        "DPL": qa - qd,
        "DI": qd / qa,
    }


def check_bias(
    req: Any,
    bias: Any,
    train_df: Any,
    valid_df: Any,
    X_train: Any,
    X_valid: Any,
    y_valid: Any,
    X_train_bal: Any,
    y_train_bal: Any,
) -> None:
    """Requirement 5: CI, DPL and DI of the gender facet on the training split; mitigation on
    training rows only; validation untouched.

    The metrics are recomputed from ``train_df`` (whose rows are checked against the seeded
    export), not read from the learner's numbers; the oversampled rows must be training rows
    with their own labels.
    """
    truth_rows = export().drop_duplicates().set_index("customer_id")
    req.expect(
        isinstance(bias, dict) and {"label_rate", "CI", "DPL", "DI"} <= set(bias),
        "`bias` needs the keys label_rate, CI, DPL and DI",
    )
    labels = truth_rows["churned"].reindex(train_df["customer_id"]).to_numpy()
    req.expect(
        (labels == train_df["churned"].to_numpy()).all(),
        "train_df's churned labels differ from the export's",
    )
    genders = truth_rows["gender"].reindex(train_df["customer_id"]).to_numpy()
    req.expect(
        (genders == train_df["gender"].to_numpy()).all(),
        "train_df's gender values differ from the export's",
    )
    t = bias_truth(train_df)
    want = {
        "label_rate": "the share of churned == 1 in the training split",
        "CI": "(n_a - n_d) / (n_a + n_d) with facet d = F",
        "DPL": "q_a - q_d (churn rate of the other customers minus that of F)",
        "DI": "q_d / q_a (churn rate of F divided by that of the other customers)",
    }
    for k, how in want.items():
        got = float(bias[k])
        req.expect(
            abs(got - t[k]) < 1e-6,
            f"{k} is {got:.4f}; {how} on the training split gives {t[k]:.4f}",
        )
    req.expect(
        X_train_bal.index.isin(X_train.index).all(),
        "X_train_bal holds rows that are not training rows",
    )
    req.expect(
        not X_train_bal.index.isin(X_valid.index).any(),
        "X_train_bal contains validation customers: resample the training part only",
    )
    req.expect(
        X_train_bal.index.equals(y_train_bal.index),
        "X_train_bal and y_train_bal must be aligned row by row",
    )
    req.expect(
        (y_train_bal.to_numpy() == train_df.loc[y_train_bal.index, "churned"].to_numpy()).all(),
        "y_train_bal changed some labels",
    )
    req.expect(
        (X_train_bal.to_numpy() == X_train.loc[X_train_bal.index].to_numpy()).all(),
        "X_train_bal's rows differ from the training rows they claim to copy",
    )
    req.expect(
        y_train_bal.mean() >= 0.3,
        f"y_train_bal has {y_train_bal.mean():.0%} churners; oversample them to about half",
    )
    full = float(truth_rows["churned"].mean())
    req.expect(
        X_valid.index.equals(valid_df.index) and y_valid.index.equals(valid_df.index),
        "X_valid/y_valid must be the validation part, untouched",
    )
    req.expect(
        abs(y_valid.mean() - full) < 0.01,
        f"validation churn rate {y_valid.mean():.3f} differs from the data's {full:.3f}: leave "
        "validation alone",
    )
    rate = t["label_rate"]
    req.note(
        f"label rate {rate:.3f} ({(1 - rate) / rate:.1f}:1); CI={t['CI']:.3f}, DPL={t['DPL']:.3f}, "
        f"DI={t['DI']:.2f} (women churn less in the labels); training {rate:.2f} -> "
        f"{y_train_bal.mean():.2f} churners, validation {y_valid.mean():.3f} untouched"
    )


# --------------------------------------------------------------------------- requirement 1
def check_profile(req: Any, profile: Any, fig: Any) -> None:
    """Requirement 1: the profile's numbers come from the export; the figure has four panels.

    The truth is a fresh copy of the seeded export, so typed numbers that differ MISS.
    """
    import matplotlib.figure
    import pandas as pd

    truth = export()  # a fresh copy of the export: the facts come from the data
    req.expect(
        isinstance(profile, dict),
        "`profile` must be a dict with rows, duplicate_rows, missing, skew, churn_rate",
    )
    req.expect(
        profile.get("rows") == len(truth),
        f"rows is {profile.get('rows')}; the export has {len(truth)} rows",
    )
    dups = int(truth.duplicated().sum())
    req.expect(
        profile.get("duplicate_rows") == dups,
        f"duplicate_rows is {profile.get('duplicate_rows')}; DataFrame.duplicated() finds {dups}",
    )
    missing = pd.Series(profile.get("missing", {}), dtype=float)
    for col, n in truth.isna().sum().items():
        req.expect(
            int(missing.get(col, 0)) == int(n),
            f"missing[{col!r}] is {missing.get(col, 0)}; the column has {n} NaN values",
        )
    skew = pd.Series(profile.get("skew", {}), dtype=float)
    for col, s in truth.select_dtypes("number").drop(columns="churned").skew().items():
        req.expect(col in skew.index, f"skew has no entry for the numeric column {col!r}")
        req.expect(
            abs(skew[col] - s) <= 0.02 * abs(s) + 0.01,
            f"skew[{col!r}] is {skew[col]:.3f}; pandas' skew() gives {s:.3f}",
        )
    req.expect(
        abs(profile.get("churn_rate", -1) - truth["churned"].mean()) < 1e-9,
        f"churn_rate should be {truth['churned'].mean():.4f} (the raw export's share of churned == 1)",
    )
    req.expect(
        isinstance(fig, matplotlib.figure.Figure),
        "`fig` must be the matplotlib Figure of your grid (fig, axes = plt.subplots(...))",
    )
    panels = [
        ax
        for ax in fig.axes
        if ax.get_title() and (ax.lines or ax.patches or ax.images or ax.collections)
    ]
    req.expect(
        len(panels) >= 4,
        f"{len(panels)} titled panels with data in `fig`; draw at least four (distribution, box plot, churn comparison, correlations)",
    )
    req.expect(
        any(ax.images or ax.collections for ax in panels),
        "no correlation matrix found: draw numeric.corr() with ax.imshow or ax.matshow",
    )
    req.note(
        f"{len(truth)} rows, {dups} duplicates, {int(truth['age'].isna().sum())} missing ages, "
        f"skew(monthly_spend)={skew['monthly_spend']:.2f}, skew(data_gb)={skew['data_gb']:.1f}, {len(panels)} panels"
    )


# --------------------------------------------------------------------------- requirement 2
def check_sanitise(req: Any, clean: Any, train_df: Any, valid_df: Any, bounds: Any) -> None:
    """Requirement 2: one row per customer, normalised plans, stratified split before any
    statistic, training-median imputation with an indicator, clipping bounds from training."""
    import numpy as np
    import pandas as pd

    truth = export().drop_duplicates().set_index("customer_id")
    req.expect(
        clean["customer_id"].is_unique, "customer_id repeats in `clean`: drop the duplicate rows"
    )
    req.expect(
        len(clean) == len(truth),
        f"`clean` has {len(clean)} rows; the export holds {len(truth)} distinct customers",
    )
    req.expect(
        pd.api.types.is_datetime64_any_dtype(clean["signup_date"]),
        f"signup_date is {clean['signup_date'].dtype}; convert it with pd.to_datetime",
    )
    plans = set(clean["plan"].unique())
    req.expect(
        plans == {"basic", "standard", "premium"},
        f"plan takes the values {sorted(map(repr, plans))}; normalise to basic/standard/premium",
    )
    expected_plan = (
        truth["plan"].str.strip().str.lower().replace({"std": "standard", "prem": "premium"})
    )
    wrong = (
        clean.set_index("customer_id")["plan"] != expected_plan.reindex(clean["customer_id"])
    ).sum()
    req.expect(
        wrong == 0,
        f"{wrong} customers got the wrong plan (e.g. 'STD' is standard, 'PREM' is premium)",
    )
    tr, va = set(train_df["customer_id"]), set(valid_df["customer_id"])
    req.expect(not (tr & va), f"{len(tr & va)} customers are in both train_df and valid_df")
    req.expect(
        tr | va == set(clean["customer_id"]),
        "train_df and valid_df together must hold every customer of `clean`",
    )
    share = len(valid_df) / len(clean)
    req.expect(
        0.18 <= share <= 0.22, f"valid_df holds {share:.0%} of the customers; the plan is 20%"
    )
    gap = abs(train_df["churned"].mean() - valid_df["churned"].mean())
    req.expect(
        gap < 0.01,
        f"churn rate differs by {gap:.3f} between the parts: stratify the split on churned",
    )
    for name, part in (("train_df", train_df), ("valid_df", valid_df)):
        req.expect(part["age"].notna().all(), f"{name} still has missing ages")
        req.expect("age_missing" in part, f"{name} has no age_missing indicator column")
        was_missing = truth["age"].isna().reindex(part["customer_id"]).to_numpy().astype(int)
        req.expect(
            (part["age_missing"].to_numpy() == was_missing).all(),
            f"{name}.age_missing is not 1 exactly where the age was blank",
        )
    train_median = truth["age"].reindex(train_df["customer_id"]).median()
    filled = valid_df.loc[valid_df["age_missing"] == 1, "age"]
    req.expect(
        np.allclose(filled, train_median),
        f"validation ages were filled with {sorted(set(filled.round(2)))[:3]}; use the TRAINING median ({train_median}) everywhere",
    )
    req.expect(
        isinstance(bounds, dict) and "data_gb" in bounds,
        "state the clipping bounds: bounds = {'data_gb': (low, high)}",
    )
    low, high = bounds["data_gb"]
    p95 = truth["data_gb"].reindex(train_df["customer_id"]).quantile(0.95)
    req.expect(
        p95 <= high < 500,
        f"the upper bound {high:.1f} GB should keep genuine heavy users (95th percentile {p95:.1f} GB) and cut the 500-5,000 GB meter errors",
    )
    for name, part in (("train_df", train_df), ("valid_df", valid_df)):
        req.expect(
            part["data_gb"].between(low, high).all(),
            f"{name}.data_gb has values outside the stated bounds ({low}, {high})",
        )
    req.note(
        f"{len(clean)} customers, {len(train_df)}/{len(valid_df)} split, churn {train_df['churned'].mean():.3f}/{valid_df['churned'].mean():.3f}, "
        f"age median {train_median}, data_gb clipped to ({low:.0f}, {high:.1f}) GB"
    )


# --------------------------------------------------------------------------- requirement 4
def check_features(
    req: Any,
    lab: Any,
    X_train: Any,
    X_valid: Any,
    train_df: Any,
    valid_df: Any,
    categories: dict[str, list[str]],
) -> None:
    """Requirement 4: numeric features with fixed one-hot columns, log spend, date parts, age
    bins; the BlazingText export read back from S3.

    Args:
        categories: ``{"plan_": PLANS, "gender_": GENDERS, "region_": REGIONS,
            "age_group_": AGE_LABELS}``.
    """
    import numpy as np
    import pandas as pd

    for name, X, part in (("X_train", X_train, train_df), ("X_valid", X_valid, valid_df)):
        req.expect(X.index.equals(part.index), f"{name} must keep the rows (and index) of its part")
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        req.expect(
            not bad,
            f"{name} has non-numeric columns {bad}: the built-in algorithms read numbers only",
        )
        req.expect(
            not X.isna().any().any(),
            f"{name} has missing values in {list(X.columns[X.isna().any()])}",
        )
    req.expect(
        list(X_train.columns) == list(X_valid.columns),
        "X_train and X_valid must have the same columns in the same order",
    )
    need = [
        "log_spend",
        "tenure_months",
        "data_gb",
        "support_calls",
        "age",
        "age_missing",
        "signup_year",
        "signup_month",
        "signup_dow",
        "n_complaint_tokens",
    ]
    req.expect(
        not [c for c in need if c not in X_train],
        f"missing feature columns: {[c for c in need if c not in X_train]}",
    )
    for prefix, cats in categories.items():
        cols = [c for c in X_train.columns if c.startswith(prefix)]
        req.expect(
            len(cols) == len(cats), f"expected {len(cats)} one-hot columns {prefix}*, found {cols}"
        )
        for X in (X_train, X_valid):
            req.expect(
                X[cols].isin([0, 1]).all().all() and (X[cols].sum(axis=1) == 1).all(),
                f"{prefix}* must be one-hot: exactly one 1 per row",
            )
    req.expect(
        (X_train["plan_premium"] == (train_df["plan"] == "premium")).all(),
        "plan_premium does not match train_df.plan",
    )
    req.expect(
        np.allclose(X_train["log_spend"], np.log1p(train_df["monthly_spend"])),
        "log_spend should be np.log1p(monthly_spend)",
    )
    before, after = train_df["monthly_spend"].skew(), X_train["log_spend"].skew()
    req.expect(
        abs(after) < 0.5 < before,
        f"skew {before:.2f} -> {after:.2f}: the log transform should bring it near 0",
    )
    d = train_df["signup_date"].dt
    req.expect(
        (X_train["signup_year"] == d.year).all()
        and (X_train["signup_month"] == d.month).all()
        and (X_train["signup_dow"] == d.day_of_week).all(),
        "signup_year/month/dow must be the date parts of signup_date (dayofweek: Monday = 0)",
    )
    labels = list(categories.get("age_group_", []))
    want = pd.cut(
        train_df["age"], bins=[0, 30, 45, 60, 200], labels=labels or None, right=False
    ).astype(str)
    got_group = (
        X_train[[f"age_group_{g}" for g in labels]].idxmax(axis=1).str.removeprefix("age_group_")
    )
    wrong_age = int((got_group != want).sum()) if labels else 0
    req.expect(
        wrong_age == 0,
        f"{wrong_age} training rows are in the wrong age group: the bins are [0, 30), [30, 45), "
        "[45, 60), [60, 200) (age 30 is 30_44: pd.cut(..., right=False))",
    )
    # the BlazingText export, read back from S3
    body = (
        s3_objects(lab, "eda/blazingtext/", at_least=1)
        .read(lab, "eda/blazingtext/train.txt")
        .decode("utf-8")
    )
    got = body.splitlines()
    wrote_n = int((train_df["complaint_text"].str.strip() != "").sum())
    req.expect(
        len(got) == wrote_n,
        f"{len(got)} lines in train.txt; the training customers wrote {wrote_n} complaints (one line each, training rows only)",
    )
    line_re = re.compile(r"__label__[01]( [a-z0-9]+(?:['-][a-z0-9]+)*| [^\sa-z0-9])+")
    bad_lines = [ln for ln in got if not line_re.fullmatch(ln)]
    req.expect(
        not bad_lines,
        f"{len(bad_lines)} lines are not '__label__<0|1> <lower-case tokens>', e.g. {bad_lines[:1]}",
    )
    labels = pd.Series([ln.split(" ", 1)[0] for ln in got])
    req.expect(set(labels) == {"__label__0", "__label__1"}, f"labels found: {sorted(set(labels))}")
    req.note(
        f"{X_train.shape[1]} features; skew(spend) {before:.2f} -> {after:.2f}; BlazingText: {len(got)} lines, "
        f"{(labels == '__label__1').mean():.0%} churners"
    )


# --------------------------------------------------------------------------- requirements 6-8
# These return the note of the PASS line and raise CheckFailed with what is missing
# (``with requirement(...) as req: req.note(lab02.verify_x(lab, ...))``). They read the jobs
# (``DescribeTrainingJob``) and the data their channels point at, never the notebook's arrays.

#: Seconds of clock difference allowed between S3's LastModified and SageMaker's job times.
CLOCK_SLACK = 5.0
RECORDIO = "application/x-recordio-protobuf"


def _aware(t: Any) -> Any:
    import datetime as dt

    if isinstance(t, dt.datetime):
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(t)).astimezone(dt.UTC)


def customers() -> int:
    """How many distinct customers the export holds (the rows of ``clean``)."""
    return len(export().drop_duplicates())


def channel_objects(lab: Any, uri: str) -> tuple[str, list[str], Any]:
    """``(bucket, keys, S3Objects)`` under a channel's S3 URI (at least one object)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    objs = s3_objects(lab, prefix, bucket, at_least=1)
    return bucket, list(objs.keys), objs


def channel_bytes(lab: Any, uri: str) -> bytes:
    """The bytes of every object under a channel's S3 URI, concatenated."""
    _, keys, objs = channel_objects(lab, uri)
    return b"".join(objs.read(lab, k) for k in keys)


def channel_matrix(lab: Any, job: Any, channel: str) -> tuple[Any, Any]:
    """Parse a channel's data as its ContentType says: ``(X, y or None)``."""
    import numpy as np

    from mllab.formats import recordio

    data = channel_bytes(lab, job.channels[channel])
    ctype = job.content_types.get(channel, RECORDIO)
    if ctype.startswith("text/csv"):
        m = re.search(r"label_size=(\d+)", ctype.replace(" ", ""))
        size = int(m.group(1)) if m else 1
        rows = np.loadtxt(io.BytesIO(data), delimiter=",", ndmin=2)
        return rows[:, size:], (rows[:, 0] if size else None)
    return recordio.to_numpy(data)


def _read_before(lab: Any, job: Any, channel: str, when: Any, what: str) -> None:
    """Every object of ``channel`` was last written before ``when`` (plus the clock slack)."""
    import datetime as dt

    bucket, keys, _ = channel_objects(lab, job.channels[channel])
    limit = _aware(when) + dt.timedelta(seconds=CLOCK_SLACK)
    s3 = lab.client("s3")
    for key in keys:
        written = _aware(s3.head_object(Bucket=bucket, Key=key)["LastModified"])
        _need(
            written <= limit,
            f"s3://{bucket}/{key} was last written at {written:%H:%M:%S}, after {what} "
            f"({_aware(when):%H:%M:%S}): the check reads what the job read, so the data must "
            "not change afterwards; write it, then run the job again",
        )


def _under(lab: Any, uri: str, prefix: str) -> bool:
    base = f"s3://{lab.bucket}/{prefix.rstrip('/')}"
    return uri.rstrip("/") == base or uri.startswith(base + "/")


def _bounded(job: Any, instance_type: str, max_runtime: int) -> None:
    _need(
        job.instance_type == instance_type and job.instance_count == 1,
        f"{job.name} runs on {job.instance_count} x {job.instance_type}; the text says one "
        f"{instance_type} (ResourceConfig)",
    )
    _need(
        job.max_runtime is not None and int(job.max_runtime) <= max_runtime,
        f"StoppingCondition.MaxRuntimeInSeconds is {job.max_runtime}; bound the job at "
        f"{max_runtime} s (the `**common` settings)",
    )


def _standardised(X: Any, what: str) -> None:
    import numpy as np

    sd = X.std(axis=0, ddof=1)
    _need(
        np.allclose(X.mean(axis=0), 0, atol=1e-3) and np.allclose(sd[sd > 1e-6], 1, atol=0.02),
        f"{what} is not standardised with the training mean and standard deviation (column means "
        f"{np.round(X.mean(axis=0)[:3], 3).tolist()}..., standard deviations "
        f"{np.round(sd[:3], 3).tolist()}...): train on Z_train",
    )


def _share(n: int, low: float, high: float, what: str, part: str) -> None:
    total = customers()
    _need(
        low <= n / total <= high,
        f"{what} holds {n} records, {n / total:.0%} of the {total} customers: it should hold the "
        f"{part} only, once each",
    )


def verify_pca(
    lab: Any,
    job_name: str,
    *,
    prefix: str = "eda/pca/train/",
    components: int = 5,
    instance_type: str = "ml.m5.large",
    max_runtime: int = 300,
) -> str:
    """Requirement 6: the built-in PCA, ``components`` components, on the standardised training
    rows in recordIO-protobuf under ``prefix``.

    The record count is compared with the export's customers (the training split is about 80%
    of them); the records must be standardised with the training statistics (mean 0, standard
    deviation 1 per feature) and must not have been rewritten after the job started.
    """
    job = training_job(lab, job_name)
    _need(job.status == "Completed", f"{job_name} is {job.status}: {job.failure_reason}")
    _need(
        "/pca:" in job.image,
        f"the image {job.image} is not the built-in PCA (image_uris.retrieve('pca', region))",
    )
    _need("train" in job.channels, f"channels {sorted(job.channels)}: PCA trains on `train`")
    _need(
        _under(lab, job.channels["train"], prefix),
        f"the train channel reads {job.channels['train']}; the text puts the data under "
        f"s3://{lab.bucket}/{prefix}",
    )
    ctype = job.content_types.get("train", RECORDIO)
    _need(
        ctype.startswith(RECORDIO),
        f"the train channel's ContentType is {ctype!r}: the requirement asks for {RECORDIO}",
    )
    hp = job.hyperparameters
    missing = {"feature_dim", "num_components", "mini_batch_size"} - set(hp)
    _need(not missing, f"required hyperparameters missing: {sorted(missing)}")
    X, _ = channel_matrix(lab, job, "train")
    _need(
        int(hp["feature_dim"]) == X.shape[1],
        f"feature_dim is {hp['feature_dim']} but the records have {X.shape[1]} features",
    )
    _need(
        int(hp["num_components"]) == components,
        f"num_components is {hp['num_components']}; the text asks for {components}",
    )
    _bounded(job, instance_type, max_runtime)
    _share(len(X), 0.78, 0.82, "the train channel", "training customers (about 80%)")
    _standardised(X, "the train channel")
    _read_before(
        lab,
        job,
        "train",
        job.raw.get("TrainingStartTime") or job.raw["CreationTime"],
        "the job started",
    )
    return (
        f"{X.shape[0]} x {X.shape[1]} -> {hp['num_components']} components, {ctype}, standardised "
        f"training rows read by {job_name}"
    )


def verify_drill(lab: Any, broken_name: str, fixed_name: str) -> str:
    """The drill: the colleague's CSV job failed; the same request with the one ContentType
    change that fixes it completed, on the same data.

    Compares the two ``DescribeTrainingJob`` answers field by field (image, role, resources,
    stopping condition, hyperparameters, channels); the CSV must not have been rewritten after
    the colleague's job was created (a fix made in the data, not in the request, does not pass).
    """
    broken = training_job(lab, broken_name)
    _need(
        broken.status == "Failed",
        f"the colleague's job {broken_name} is {broken.status}; it should have failed: rerun the "
        "given cell that launches it",
    )
    fixed = training_job(lab, fixed_name)
    _need(
        fixed.status == "Completed",
        f"{fixed_name} is {fixed.status}: {fixed.failure_reason} (read it with "
        "failure_reason(lab, job) and job_logs(lab, job))",
    )
    differ = fixed.request_differences(broken, channels="the channels' data", content_types=False)
    _need(
        not differ,
        f"{fixed_name} differs from the colleague's request in {', '.join(differ)}: rerun the same "
        "request (same data, same hyperparameters); only the channel's ContentType needs to change",
    )
    ctype = fixed.content_types.get("train", "")
    _need(
        "label_size=0" in ctype.replace(" ", ""),
        f"ContentType is {ctype!r}: unlabelled CSV must say so",
    )
    _read_before(lab, fixed, "train", broken.raw["CreationTime"], "the colleague's job was created")
    return (
        f"was: {broken.failure_reason[:100]}...; now Completed with ContentType {ctype!r}, same "
        "request and data"
    )


def verify_kmeans(
    lab: Any,
    job_name: str,
    k_chosen: int,
    *,
    features: int = 6,
    prefix: str = "eda/kmeans/",
    instance_type: str = "ml.m5.large",
    max_runtime: int = 300,
) -> str:
    """Requirement 7: the built-in K-Means with the elbow's k on the ``features`` standardised
    segment columns: the training customers under ``prefix`` ``train/``, the validation customers
    as the ``test`` channel under ``test/``, and ``test:msd`` below the one-centre spread.

    ``k_chosen`` is only compared with the job's ``k`` (the job must use the k the learner read
    off the plot); the record counts come from the export, the data from S3.
    """
    job = training_job(lab, job_name)
    _need(job.status == "Completed", f"{job_name} is {job.status}: {job.failure_reason}")
    _need("/kmeans:" in job.image, f"the image {job.image} is not the built-in K-Means")
    k = int(job.hyperparameters.get("k", 0))
    _need(
        2 <= k <= 8,
        f"k={k}: read the elbow plot; a handful of segments (2-8) is what the team can act on",
    )
    _need(k == int(k_chosen), f"the job uses k={k} but your elbow plot chose k_chosen={k_chosen}")
    _need(
        "test" in job.channels,
        "give the job a `test` channel (the validation customers) so that it reports test:msd",
    )
    mats = {}
    for ch in ("train", "test"):
        _need(
            _under(lab, job.channels.get(ch, ""), f"{prefix}{ch}/"),
            f"the {ch} channel reads {job.channels.get(ch)}; the text puts it under "
            f"s3://{lab.bucket}/{prefix}{ch}/",
        )
        ctype = job.content_types.get(ch, RECORDIO).replace(" ", "")
        _need(
            ctype.startswith(RECORDIO) or ctype == "text/csv;label_size=0",
            f"the {ch} channel's ContentType is {ctype!r}: recordIO-protobuf (or unlabelled CSV, "
            "text/csv;label_size=0)",
        )
        mats[ch], _ = channel_matrix(lab, job, ch)
        _need(
            mats[ch].shape[1] == features,
            f"the {ch} channel has {mats[ch].shape[1]} columns; the segments use the "
            f"{features} SEGMENT_COLS",
        )
    fd = int(job.hyperparameters.get("feature_dim", 0))
    _need(fd == features, f"feature_dim is {fd}; the data has {features} features")
    _bounded(job, instance_type, max_runtime)
    Xtr, Xt = mats["train"], mats["test"]
    _share(len(Xtr), 0.78, 0.82, "the train channel", "training customers (about 80%)")
    _share(len(Xt), 0.18, 0.22, "the test channel", "validation customers (about 20%)")
    _need(
        len(Xtr) + len(Xt) == customers(),
        f"{len(Xtr)} training + {len(Xt)} test records != {customers()} customers",
    )
    _standardised(Xtr, "the train channel")
    start = job.raw.get("TrainingStartTime") or job.raw["CreationTime"]
    for ch in ("train", "test"):
        _read_before(lab, job, ch, start, "the job started")
    msd = job.metrics.get("test:msd")
    _need(msd is not None, f"no test:msd metric (metrics: {job.metrics})")
    spread = float(((Xt - Xt.mean(axis=0)) ** 2).sum(axis=1).mean())
    _need(
        float(msd) < spread,  # type: ignore[arg-type]
        f"test:msd {msd:.2f} is not below the spread around one centre ({spread:.2f}): are train "
        "and test standardised alike?",
    )
    return f"k={k}, test:msd={msd:.3f} (one centre: {spread:.2f}), {Xt.shape[1]} features"


def verify_export(
    lab: Any,
    job_name: str,
    *,
    prefix: str = "eda/export/",
    version: str = "1.7-1",
    num_round: int = 30,
) -> str:
    """Requirement 8: label-first CSV without header (balanced training rows, untouched
    validation rows) and recordIO of the training rows under ``prefix``, proven by the
    built-in XGBoost job ``job_name``.

    Reads the job and the files its channels point at; the validation AUC is recomputed from
    the job's own model artifact on the validation file now in S3 (a file swapped after the
    job, or a metric that did not come from these files, does not pass); every object under
    ``eda/`` is scanned for PII.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from mllab.formats import recordio

    job = training_job(lab, job_name)
    _need(job.status == "Completed", f"{job_name} is {job.status}: {job.failure_reason}")
    _need(
        "xgboost" in job.image and job.image.endswith(f":{version}"),
        f"the image {job.image} is not the built-in XGBoost {version} "
        f"(image_uris.retrieve('xgboost', region, version='{version}'))",
    )
    _need(
        {"train", "validation"} <= set(job.channels),
        f"channels {sorted(job.channels)}: give it train and validation",
    )
    for ch in ("train", "validation"):
        _need(
            _under(lab, job.channels[ch], f"{prefix}{ch}/"),
            f"the {ch} channel reads {job.channels[ch]}; the text puts the file under "
            f"s3://{lab.bucket}/{prefix}{ch}/",
        )
    _need(
        all(job.content_types.get(ch) == "text/csv" for ch in ("train", "validation")),
        f"content types {job.content_types}: use text/csv",
    )
    hp = job.hyperparameters
    want = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": str(num_round)}
    wrong = {k: hp.get(k) for k, v in want.items() if str(hp.get(k)) != v}
    _need(not wrong, f"hyperparameters {wrong}; the text asks for {want}")
    lines = {}
    for ch in ("train", "validation"):
        text = channel_bytes(lab, job.channels[ch]).decode("utf-8")
        rows = [ln for ln in text.splitlines() if ln.strip()]
        _need(bool(rows), f"the {ch} file is empty")
        first = rows[0].split(",")
        _need(
            all(re.fullmatch(r"-?[0-9.eE+-]+", c) for c in first),
            f"the {ch} file starts with {rows[0][:60]!r}: no header row",
        )
        labels = {r.split(",", 1)[0] for r in rows}
        _need(
            labels <= {"0", "1", "0.0", "1.0"},
            f"the first column of {ch} holds {sorted(labels)[:5]}: the label (0/1) goes first",
        )
        lines[ch] = rows
    mat = {
        c: np.loadtxt(io.StringIO("\n".join(r)), delimiter=",", ndmin=2) for c, r in lines.items()
    }
    _need(
        mat["train"].shape[1] == mat["validation"].shape[1],
        "train and validation have different numbers of columns",
    )
    truth = export().drop_duplicates()
    n_valid, pos_valid = len(mat["validation"]), mat["validation"][:, 0].mean()
    _need(
        0.18 <= n_valid / len(truth) <= 0.22,
        f"validation holds {n_valid} of {len(truth)} customers; expected about 20%",
    )
    _need(
        abs(pos_valid - truth["churned"].mean()) < 0.01,
        f"validation churn rate {pos_valid:.3f} vs {truth['churned'].mean():.3f} in the data: "
        "validation must not be resampled",
    )
    _need(
        mat["train"][:, 0].mean() >= 0.3,
        f"training churn share {mat['train'][:, 0].mean():.2f}: export the balanced training rows",
    )
    shared = set(lines["train"]) & set(lines["validation"])
    _need(
        not shared,
        f"{len(shared)} validation rows also appear in the training file: resample after the "
        "split, training only",
    )
    _need(
        len(set(lines["train"])) + n_valid == len(truth),
        f"{len(set(lines['train']))} distinct training rows + {n_valid} validation rows != "
        f"{len(truth)} customers",
    )
    rec = s3_objects(lab, f"{prefix}recordio/", at_least=1)
    Xr, yr = recordio.to_numpy(b"".join(rec.read(lab, k) for k in rec.keys))
    _need(
        yr is not None and set(np.unique(yr)) <= {0.0, 1.0},
        "the recordIO records need the 0/1 label in label['values']",
    )
    _need(
        Xr.shape == (len(mat["train"]), mat["train"].shape[1] - 1),
        f"recordIO holds {Xr.shape}; the training CSV holds {len(mat['train'])} rows x "
        f"{mat['train'].shape[1] - 1} features",
    )
    _need(
        np.allclose(Xr, mat["train"][:, 1:].astype("float32"), rtol=1e-5, atol=1e-4)
        and np.array_equal(np.asarray(yr), mat["train"][:, 0]),
        "the recordIO records are not the training CSV's rows (same rows, same order, the "
        "label in label['values'])",
    )
    leaks = pii_found(lab, "eda/")
    _need(not leaks, f"PII in S3: {leaks}")
    auc = job.metrics.get("validation:auc", 0.0)
    _need(
        auc >= 0.7,
        f"validation:auc is {auc:.3f}: the features carry little signal; check the label column "
        "and the encodings",
    )
    import xgboost as xgb

    from mllab.checks.lab03 import load_xgboost

    booster = load_xgboost(lab, job.model_artifact)
    again = float(
        roc_auc_score(
            mat["validation"][:, 0], booster.predict(xgb.DMatrix(mat["validation"][:, 1:]))
        )
    )
    _need(
        abs(again - auc) < 0.005,
        f"the job reported validation:auc={auc:.3f}, but its model scores the validation file "
        f"now in S3 at {again:.3f}: the files changed after the job ran; run it again on them",
    )
    _read_before(
        lab,
        job,
        "train",
        job.raw.get("TrainingStartTime") or job.raw["CreationTime"],
        "the job started",
    )
    return (
        f"train {mat['train'].shape}, validation {mat['validation'].shape}, recordIO {Xr.shape}; "
        f"validation:auc={auc:.3f} (recomputed from the model: {again:.3f}); no PII"
    )
