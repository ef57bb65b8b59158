"""The seeded generators: schemas, determinism, the defects and signals the labs rely on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mllab import datasets as d

GENERATORS = {
    "clickstream": lambda seed: d.clickstream(2000, seed),
    "telecom_customers": lambda seed: d.telecom_customers(2000, seed),
    "card_transactions": lambda seed: d.card_transactions(20000, seed),
    "demand_series": lambda seed: pd.DataFrame(d.demand_series(20, 200, seed)),
    "support_tickets": lambda seed: d.support_tickets(2000, seed),
    "logins": lambda seed: d.logins(5000, seed),
    "house_prices": lambda seed: d.house_prices(3000, seed),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_deterministic_per_seed(name: str) -> None:
    gen = GENERATORS[name]
    a = gen(7)
    pd.testing.assert_frame_equal(a, gen(7))
    assert not a.equals(gen(8))


def test_clickstream_schema_pii_hot_key_and_size() -> None:
    df = d.clickstream(3000, 0)
    for col in ("event_id", "user_id", "session_id", "ts", "page", "referrer", "device"):
        assert col in df.columns
    for col in ("country", "email", "dwell_ms", "purchase_amount"):
        assert col in df.columns
    assert df.event_id.is_unique
    assert df.email.str.contains("@").all()
    share = df.user_id.value_counts(normalize=True)
    assert share.iloc[0] > 0.15 and share.index[0] == "u00001"
    assert pd.to_datetime(df.ts).is_monotonic_increasing
    assert (df.dwell_ms < 0).any()  # clock-skew defect
    assert 0.01 < (df.purchase_amount > 0).mean() < 0.1
    per_event = len(d.to_jsonlines(df)) / len(df)
    assert 700 < per_event < 1400


def test_telecom_defects() -> None:
    df = d.telecom_customers(4000, 0)
    dup = df.customer_id.duplicated().mean()
    assert 0.02 < dup < 0.04
    assert {"Premium", "premium ", "PREM"} <= set(df.plan)
    assert 0.06 < df.age.isna().mean() < 0.10
    assert 0.10 < df.churned.mean() < 0.14
    assert df.monthly_spend.skew() > 0.5
    assert df.data_gb.max() > 500 and df.data_gb.median() < 30
    assert set(df.gender) <= {"F", "M", "X"}
    assert df.phone.str.startswith("+1-555").all()


def test_card_transactions_signal_is_learnable() -> None:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from xgboost import XGBClassifier

    df = d.card_transactions(20000, 0)
    assert df.is_fraud.mean() == pytest.approx(0.005, abs=0.001)
    assert not ((df.online == 1) & (df.card_present == 1)).any()
    X = pd.get_dummies(df.drop(columns=["transaction_id", "card_id", "is_fraud"]), dtype=int)
    xtr, xte, ytr, yte = train_test_split(
        X, df.is_fraud, test_size=0.3, random_state=0, stratify=df.is_fraud
    )
    model = XGBClassifier(
        n_estimators=60, max_depth=4, learning_rate=0.2, n_jobs=1, tree_method="hist"
    )
    auc = roc_auc_score(yte, model.fit(xtr, ytr).predict_proba(xte)[:, 1])
    assert auc > 0.9
    with pytest.raises(ValueError):
        d.card_transactions(10, 0, fraud_rate=0.7)


def test_demand_series_is_deepar_input() -> None:
    series = d.demand_series(5, 100, 0)
    assert len(series) == 5
    for s in series:
        assert set(s) == {"start", "target", "cat"}
        assert s["start"] == "2024-01-01 00:00:00" and len(s["target"]) == 100
        assert min(s["target"]) >= 0 and 0 <= s["cat"][0] < 4
    line = d.to_jsonlines(series).split(b"\n")[0]
    assert json.loads(line)["cat"] == series[0]["cat"]


def test_support_tickets_and_blazingtext_format() -> None:
    df = d.support_tickets(1000, 0)
    assert set(df.label) == {"billing", "technical", "account", "shipping"}
    body = d.to_blazingtext(df).decode()
    lines = body.splitlines()
    assert len(lines) == 1000
    assert all(line.startswith("__label__") for line in lines)
    assert lines[0] == lines[0].lower()


def test_logins_anomalies() -> None:
    df = d.logins(5000, 0)
    assert df.is_anomaly.mean() == pytest.approx(0.01, abs=0.002)
    normal, odd = df[df.is_anomaly == 0], df[df.is_anomaly == 1]
    assert odd.failed_attempts.mean() > normal.failed_attempts.mean() * 3


def test_house_prices_outliers_split_rmse_from_mae() -> None:
    df = d.house_prices(3000, 0)
    err = df.price - df.price.median()
    rmse, mae = float(np.sqrt((err**2).mean())), float(err.abs().mean())
    assert rmse > 2 * mae


def test_builtin_csv_label_first_no_header() -> None:
    df = pd.DataFrame({"a": [1.5, 2.0], "y": [0, 1], "flag": [True, False]})
    assert d.to_builtin_csv(df, "y") == b"0,1.5,1\n1,2.0,0\n"
    assert d.to_builtin_csv(df[["a"]]) == b"1.5\n2.0\n"
    with pytest.raises(ValueError, match="not numeric"):
        d.to_builtin_csv(pd.DataFrame({"y": [1], "c": ["x"]}), "y")
    with pytest.raises(ValueError, match="label column"):
        d.to_builtin_csv(df, "nope")


def test_jsonlines_handles_numpy_and_nan() -> None:
    out = d.to_jsonlines(pd.DataFrame({"a": [np.int64(1), 2], "b": [np.nan, 1.5]}))
    assert out == b'{"a":1,"b":null}\n{"a":2,"b":1.5}\n'
    assert d.to_jsonlines([]) == b""
