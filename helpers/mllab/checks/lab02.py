"""The checks of lab 02 (exploratory data analysis) that read how a result came about.

Each function takes the open :class:`~mllab.checks.core.Requirement` (``req``), the lab and
what the requirement names, and calls ``req.expect``. The truth comes from the seeded export
(``mllab.datasets.telecom_customers``) and from S3, never from a learner variable: the keyed
hash is recomputed with the key for every customer (a reversible encoding of the address that
merely looks like a hash does not pass), and the bias metrics are recomputed from the training
split with pandas. Kept apart from the notebook so ``tests/checks/test_lab02_checks.py`` can
give each check prepared wrong and alternative states. Every call is read-only and free
(a few S3 GETs).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from collections.abc import Callable
from typing import Any

from mllab.checks.inspect import s3_objects

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
