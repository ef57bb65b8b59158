"""Linear Learner emulation: quality close to scikit-learn, threshold selection, formats, failures."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from algo_testdata import binary_data, csv_text

from mllab.formats import recordio
from mllab.offline.sagemaker.algorithms import linear_learner as algo
from mllab.offline.sagemaker.contract import ClientError


def _binary_env(make_env, hps=None, fmt="csv"):  # type: ignore[no-untyped-def]
    X, y = binary_data(1200, 6, seed=4)
    Xtr, ytr, Xva, yva = X[:900], y[:900], X[900:], y[900:]
    if fmt == "csv":
        chans = {
            "train": ("text/csv", csv_text(ytr, Xtr)),
            "validation": ("text/csv", csv_text(yva, Xva)),
        }
    else:
        chans = {
            "train": (
                recordio.CONTENT_TYPE,
                recordio.write_dense(Xtr.astype("float32"), ytr.astype("float32")),
            ),
            "validation": (
                recordio.CONTENT_TYPE,
                recordio.write_dense(Xva.astype("float32"), yva.astype("float32")),
            ),
        }
    base = {
        "predictor_type": "binary_classifier",
        "feature_dim": 6,
        "mini_batch_size": 100,
        "epochs": 10,
    }
    env = make_env({**base, **(hps or {})}, chans)
    return env, Xtr, ytr, Xva, yva


def test_binary_auc_close_to_sklearn_and_metric_is_true(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    env, Xtr, ytr, Xva, yva = _binary_env(make_env)
    algo.validate(env.hyperparameters, env.channels)
    algo.train(env)
    out = capsys.readouterr().out
    assert "train binary_classification_cross_entropy_objective <loss>=" in out
    model = algo.load(env.model_dir)
    resp, ctype = algo.predict(model, csv_text(Xva).encode(), "text/csv", "application/json")
    preds = json.loads(resp)["predictions"]
    assert ctype == "application/json" and set(preds[0]) == {"score", "predicted_label"}
    scores = np.array([p["score"] for p in preds])
    auc = roc_auc_score(yva, scores)
    ref = roc_auc_score(yva, LogisticRegression().fit(Xtr, ytr).predict_proba(Xva)[:, 1])
    assert auc == pytest.approx(ref, abs=0.01)
    regex = next(
        d["Regex"] for d in algo.METRIC_DEFINITIONS if d["Name"] == "validation:roc_auc_score"
    )
    logged = float(re.search(regex, out).group(1))
    assert logged == pytest.approx(auc, abs=1e-4)
    acc_regex = next(
        d["Regex"]
        for d in algo.METRIC_DEFINITIONS
        if d["Name"] == "validation:binary_classification_accuracy"
    )
    labels = np.array([p["predicted_label"] for p in preds])
    assert float(re.search(acc_regex, out).group(1)) == pytest.approx(
        np.mean(labels == yva), abs=1e-6
    )


def test_precision_at_target_recall_moves_threshold(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    env, _, _, Xva, yva = _binary_env(
        make_env,
        {
            "binary_classifier_model_selection_criteria": "precision_at_target_recall",
            "target_recall": 0.97,
        },
    )
    algo.train(env)
    model = algo.load(env.model_dir)
    resp, _ = algo.predict(model, csv_text(Xva).encode(), "text/csv", "application/jsonlines")
    rows = [json.loads(ln) for ln in resp.decode().splitlines()]
    labels = np.array([r["predicted_label"] for r in rows])
    scores = np.array([r["score"] for r in rows])
    assert labels[yva == 1].mean() >= 0.97  # the target recall holds on the selection channel
    np.testing.assert_array_equal(labels, (scores >= model["threshold"]).astype(int))
    assert model["threshold"] != 0.5


def test_balanced_weights_and_recordio_training(make_env) -> None:  # type: ignore[no-untyped-def]
    env, _, _, Xva, _ = _binary_env(
        make_env, {"positive_example_weight_mult": "balanced"}, fmt="recordio"
    )
    algo.train(env)
    model = algo.load(env.model_dir)
    resp, ctype = algo.predict(
        model,
        recordio.write_dense(Xva[:4].astype("float32")),
        recordio.CONTENT_TYPE,
        recordio.CONTENT_TYPE,
    )
    recs = recordio.read_records(resp)
    assert ctype == recordio.CONTENT_TYPE and len(recs) == 4
    assert set(recs[0]["label"]) == {"score", "predicted_label"}


def test_regressor_and_multiclass(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 10 + 0.1 * rng.normal(size=600)
    env = make_env(
        {
            "predictor_type": "regressor",
            "feature_dim": 3,
            "epochs": 30,
            "mini_batch_size": 50,
            "learning_rate": 0.05,
        },
        {
            "train": ("text/csv", csv_text(y[:500], X[:500])),
            "test": ("text/csv", csv_text(y[500:], X[500:])),
        },
    )
    algo.train(env)
    out = capsys.readouterr().out
    rmse = float(re.search(r"test rmse <loss>=(\S+)", out).group(1))
    assert rmse < 0.5
    resp, _ = algo.predict(algo.load(env.model_dir), b"1,1,1", "text/csv", "application/json")
    pred = json.loads(resp)["predictions"][0]
    assert set(pred) == {"score"} and pred["score"] == pytest.approx(11.0, abs=0.5)

    yc = np.argmax(X, axis=1).astype(float)
    env = make_env(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 3,
            "feature_dim": 3,
            "epochs": 20,
            "mini_batch_size": 50,
            "learning_rate": 0.05,
        },
        {"train": ("text/csv", csv_text(yc, X)), "validation": ("text/csv", csv_text(yc, X))},
    )
    algo.train(env)
    assert (
        float(
            re.search(
                r"validation multiclass_accuracy <score>=(\S+)", capsys.readouterr().out
            ).group(1)
        )
        > 0.85
    )
    resp, _ = algo.predict(algo.load(env.model_dir), b"3,0,0", "text/csv", "application/json")
    pred = json.loads(resp)["predictions"][0]
    assert len(pred["score"]) == 3 and pred["predicted_label"] == 0


def test_csv_accept_falls_back_to_json(make_env) -> None:  # type: ignore[no-untyped-def]
    env, _, _, Xva, _ = _binary_env(make_env, {"epochs": 2})
    algo.train(env)
    resp, ctype = algo.predict(
        algo.load(env.model_dir), csv_text(Xva[:2]).encode(), "text/csv", "text/csv"
    )
    assert ctype == "application/json" and len(json.loads(resp)["predictions"]) == 2


@pytest.mark.parametrize(
    ("hps", "channels", "message"),
    [
        (
            {"feature_dim": 3},
            {"train": {"ContentType": "text/csv"}},
            r"No value\(s\) were specified for 'predictor_type'",
        ),
        (
            {"predictor_type": "multiclass_classifier"},
            {"train": {"ContentType": "text/csv"}},
            "'num_classes'",
        ),
        (
            {"predictor_type": "classifier"},
            {"train": {"ContentType": "text/csv"}},
            "must be one of",
        ),
        (
            {"predictor_type": "regressor", "target_recall": 1.5},
            {"train": {"ContentType": "text/csv"}},
            r"target_recall.*\(0, 1\)",
        ),
        (
            {"predictor_type": "regressor", "foo": 1},
            {"train": {"ContentType": "text/csv"}},
            "'foo' was unexpected",
        ),
        (
            {"predictor_type": "regressor"},
            {"train": {"ContentType": "application/json"}},
            "No iterator has been registered for ContentType",
        ),
        (
            {"predictor_type": "regressor"},
            {"validation": {"ContentType": "text/csv"}},
            "'train' is a required property",
        ),
        (
            {"predictor_type": "regressor", "loss": "logistic"},
            {"train": {"ContentType": "text/csv"}},
            "not supported for predictor_type",
        ),
    ],
)
def test_bad_configuration(hps, channels, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError, match=message):
        algo.validate({k: str(v) for k, v in hps.items()}, channels)


def test_bad_data(make_env) -> None:  # type: ignore[no-untyped-def]
    X, y = binary_data(50, 3)
    hps = {"predictor_type": "binary_classifier", "feature_dim": 3}
    with pytest.raises(ClientError, match="must not contain a header row"):
        algo.train(make_env(hps, {"train": ("text/csv", "y,a,b,c\n" + csv_text(y, X))}))
    with pytest.raises(ClientError, match="expected 6"):
        algo.train(make_env(dict(hps, feature_dim=5), {"train": ("text/csv", csv_text(y, X))}))
    with pytest.raises(ClientError, match="can only be 0 or 1"):
        algo.train(make_env(hps, {"train": ("text/csv", csv_text(y + 1, X))}))
    with pytest.raises(ClientError, match="No data found in channel 'train'"):
        algo.train(make_env(hps, {"train": ("text/csv", "")}))
    with pytest.raises(ClientError, match="is not RecordIO-protobuf"):
        algo.train(make_env(hps, {"train": (None, csv_text(y, X))}))


def test_wrong_feature_count_at_inference(make_env) -> None:  # type: ignore[no-untyped-def]
    env, *_ = _binary_env(make_env, {"epochs": 1})
    algo.train(env)
    model = algo.load(env.model_dir)
    with pytest.raises(ClientError, match="trained with feature_dim=6"):
        algo.predict(model, b"1,2,3", "text/csv", "application/json")
    with pytest.raises(ClientError, match="header row"):
        algo.predict(model, b"a,b,c,d,e,f\n1,2,3,4,5,6", "text/csv", "application/json")
    resp, _ = algo.predict(
        model,
        json.dumps({"instances": [{"features": [0, 1, 2, 3, 4, 5]}]}).encode(),
        "application/json",
        "application/json",
    )
    assert len(json.loads(resp)["predictions"]) == 1
