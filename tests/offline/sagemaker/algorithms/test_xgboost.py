"""XGBoost algorithm mode: fidelity to xgboost itself and to the container's behaviour."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from algo_testdata import binary_data, csv_text

from mllab.formats import recordio
from mllab.offline.sagemaker.algorithms import xgboost as algo
from mllab.offline.sagemaker.contract import ClientError

HPS = {
    "num_round": 12,
    "objective": "binary:logistic",
    "max_depth": 3,
    "eta": 0.3,
    "eval_metric": "auc",
}


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = binary_data(500, 5, seed=1)
    return X[:400], y[:400], X[400:], y[400:]


def test_trains_same_model_as_xgboost_and_reports_true_metric(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    Xtr, ytr, Xva, yva = _split()
    env = make_env(
        HPS,
        {"train": ("text/csv", csv_text(ytr, Xtr)), "validation": ("text/csv", csv_text(yva, Xva))},
    )
    algo.validate(env.hyperparameters, env.channels)
    algo.train(env)
    out = capsys.readouterr().out
    assert (env.model_dir / "xgboost-model").exists()
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert len(lines) == 12
    assert re.match(r"^\[0\]#011train-auc:[0-9.]+#011validation-auc:[0-9.]+$", lines[0])

    # Same predictions as xgboost trained directly on the same (CSV-rounded) data.
    data_tr = np.loadtxt((env.channel_dir("train") / "data"), delimiter=",")
    data_va = np.loadtxt((env.channel_dir("validation") / "data"), delimiter=",")
    params = {
        "objective": "binary:logistic",
        "max_depth": 3,
        "eta": 0.3,
        "eval_metric": "auc",
        "nthread": 2,
    }
    direct = xgb.train(params, xgb.DMatrix(data_tr[:, 1:], label=data_tr[:, 0]), num_boost_round=12)
    expected = direct.predict(xgb.DMatrix(data_va[:, 1:]))
    model = algo.load(env.model_dir)
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in data_va[:, 1:]).encode()
    resp, ctype = algo.predict(model, body, "text/csv", "text/csv")
    assert ctype == "text/csv"
    got = np.array([float(v) for v in resp.decode().split(",")])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert ((got >= 0) & (got <= 1)).all()  # probabilities for binary:logistic

    # The last logged validation AUC is the AUC of the artifact's predictions.
    metric_regex = next(
        d["Regex"] for d in algo.METRIC_DEFINITIONS if d["Name"] == "validation:auc"
    )
    logged = float(re.match(metric_regex, lines[-1]).group(1))
    assert logged == pytest.approx(roc_auc_score(data_va[:, 0], got), abs=1e-4)


def test_json_and_jsonlines_and_recordio_responses(make_env) -> None:  # type: ignore[no-untyped-def]
    Xtr, ytr, Xva, _ = _split()
    env = make_env(HPS, {"train": ("text/csv", csv_text(ytr, Xtr))})
    algo.train(env)
    model = algo.load(env.model_dir)
    body = csv_text(Xva[:3]).encode()
    resp, ctype = algo.predict(model, body, "text/csv", "application/json")
    preds = json.loads(resp)["predictions"]
    assert ctype == "application/json" and len(preds) == 3 and 0 <= preds[0]["score"] <= 1
    resp, ctype = algo.predict(model, body, "text/csv", "application/jsonlines")
    assert len(resp.decode().splitlines()) == 3 and "score" in json.loads(
        resp.decode().splitlines()[0]
    )
    # recordIO request and response
    resp, _ = algo.predict(
        model,
        recordio.write_dense(Xva[:3].astype("float32")),
        recordio.CONTENT_TYPE,
        "application/json",
    )
    rec_scores = [p["score"] for p in json.loads(resp)["predictions"]]
    np.testing.assert_allclose(rec_scores, [p["score"] for p in preds], rtol=1e-5)
    resp, ctype = algo.predict(model, body, "text/csv", recordio.CONTENT_TYPE)
    assert len(recordio.read_records(resp)) == 3


def test_libsvm_is_default_and_csv_without_content_type_fails(make_env) -> None:  # type: ignore[no-untyped-def]
    Xtr, ytr, _, _ = _split()
    lines = "\n".join(
        f"{int(lab)} " + " ".join(f"{j}:{v:.5f}" for j, v in enumerate(row))
        for lab, row in zip(ytr, Xtr, strict=True)
    )
    env = make_env(HPS, {"train": (None, lines)})
    algo.validate(env.hyperparameters, env.channels)
    algo.train(env)
    model = algo.load(env.model_dir)
    assert model["num_features"] == 5
    resp, _ = algo.predict(model, b"0:0.5 1:-1 2:0.1 3:0 4:2", "text/libsvm", "text/csv")
    assert 0 <= float(resp) <= 1

    env2 = make_env(HPS, {"train": (None, csv_text(ytr, Xtr))})
    with pytest.raises(ClientError, match="is not 'LIBSVM' format"):
        algo.train(env2)


def test_multiclass_softprob_and_weights(make_env) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = np.argmax(X[:, :3], axis=1).astype(float)
    w = np.ones(300)
    hps = {
        "num_round": 5,
        "objective": "multi:softprob",
        "num_class": 3,
        "csv_weights": 1,
        "eval_metric": "merror,accuracy",
    }
    env = make_env(
        hps,
        {"train": ("text/csv", csv_text(y, w, X)), "validation": ("text/csv", csv_text(y, w, X))},
    )
    algo.train(env)
    model = algo.load(env.model_dir)
    resp, _ = algo.predict(model, csv_text(X[:2]).encode(), "text/csv", "application/json")
    scores = json.loads(resp)["predictions"][0]["score"]
    assert len(scores) == 3 and sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_custom_metric_accuracy_is_logged(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    Xtr, ytr, Xva, yva = _split()
    hps = dict(HPS, eval_metric="accuracy,f1")
    env = make_env(
        hps,
        {"train": ("text/csv", csv_text(ytr, Xtr)), "validation": ("text/csv", csv_text(yva, Xva))},
    )
    algo.train(env)
    last = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")][-1]
    assert "#011validation-accuracy:" in last and "#011validation-f1:" in last
    acc = float(re.search(r"validation-accuracy:(\S+?)(#|$)", last).group(1))
    model = algo.load(env.model_dir)
    resp, _ = algo.predict(model, csv_text(Xva).encode(), "text/csv", "text/csv")
    preds = np.array([float(v) for v in resp.decode().split(",")])
    assert acc == pytest.approx(((preds > 0.5) == yva).mean(), abs=1e-4)


def test_early_stopping_stops_and_serves_best_iteration(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    Xtr, ytr, Xva, yva = _split()
    rng = np.random.default_rng(9)
    hps = {
        "num_round": 200,
        "objective": "binary:logistic",
        "eta": 0.9,
        "max_depth": 6,
        "early_stopping_rounds": 3,
        "eval_metric": "logloss",
    }
    env = make_env(
        hps,
        {
            "train": ("text/csv", csv_text(ytr, Xtr)),
            "validation": ("text/csv", csv_text(rng.permutation(yva), Xva)),
        },
    )
    algo.train(env)
    out = capsys.readouterr().out
    rounds = [ln for ln in out.splitlines() if re.match(r"^\[\d+\]#011", ln)]
    assert "Will train until validation-logloss hasn't improved in 3 rounds." in out
    assert "Stopping. Best iteration:" in out
    assert len(rounds) < 200
    model = algo.load(env.model_dir)
    assert model["best_iteration"] is not None and model["best_iteration"] < len(rounds)


def test_checkpoints_written_and_training_resumes(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    import xgboost as xgb

    Xtr, ytr, _, _ = _split()
    env = make_env(dict(HPS, num_round=8), {"train": ("text/csv", csv_text(ytr, Xtr))})
    algo.train(env)
    names = sorted(p.name for p in env.checkpoint_dir.iterdir())
    assert names == [f"xgboost-checkpoint.{i}" for i in range(3, 8)]  # the five newest kept
    full = xgb.Booster()
    full.load_model(str(env.model_dir / "xgboost-model"))
    # Simulate a spot interruption after round 4: keep checkpoints up to 4, train again.
    for i in (5, 6, 7):
        (env.checkpoint_dir / f"xgboost-checkpoint.{i}").unlink()
    (env.model_dir / "xgboost-model").unlink()
    capsys.readouterr()
    algo.train(env)
    out = capsys.readouterr().out
    assert "Resuming from iteration 5" in out
    rounds = [ln for ln in out.splitlines() if re.match(r"^\[\d+\]#011", ln)]
    assert [r.split("]")[0] for r in rounds] == ["[5", "[6", "[7"]
    resumed = xgb.Booster()
    resumed.load_model(str(env.model_dir / "xgboost-model"))
    assert resumed.num_boosted_rounds() == 8
    dm = xgb.DMatrix(Xtr[:20])
    np.testing.assert_allclose(resumed.predict(dm), full.predict(dm), rtol=1e-6)


@pytest.mark.parametrize(
    ("hps", "message"),
    [
        ({"objective": "binary:logistic"}, "Missing required hyperparameter: num_round"),
        ({"num_round": 10, "eta": 2}, r"Hyperparameter eta: 2 is not in \[0, 1\]"),
        (
            {"num_round": 10, "max_depth": -1},
            r"Hyperparameter max_depth: -1 is not in \[0, \+inf\)",
        ),
        ({"num_round": 10, "subsample": 0}, r"Hyperparameter subsample: 0 is not in \(0, 1\]"),
        ({"num_round": "ten"}, "Hyperparameter num_round: could not parse value"),
        ({"num_round": 10, "n_estimators": 5}, "Extraneous hyperparameter found: n_estimators"),
        (
            {"num_round": 10, "objective": "multi:softmax"},
            "Require input for parameter 'num_class'",
        ),
        (
            {"num_round": 10, "eval_metric": "auc"},
            "Metric 'auc' can only be applied for classification",
        ),
        ({"num_round": 10, "eval_metric": "bogus"}, "Hyperparameter eval_metric"),
    ],
)
def test_bad_hyperparameters_rejected(hps, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError, match=message):
        algo.validate({k: str(v) for k, v in hps.items()}, {"train": {"ContentType": "text/csv"}})


def test_learning_rate_alias_and_scale_pos_weight_accepted() -> None:
    algo.validate(
        {"num_round": "3", "learning_rate": "0.1", "scale_pos_weight": "9"},
        {"train": {"ContentType": "text/csv"}},
    )
    with pytest.raises(ClientError, match=r"scale_pos_weight: 0 is not in \(0, \+inf\)"):
        algo.validate(
            {"num_round": "3", "scale_pos_weight": "0"}, {"train": {"ContentType": "text/csv"}}
        )


def test_bad_channels_rejected() -> None:
    with pytest.raises(ClientError, match="Missing required channel: train"):
        algo.validate({"num_round": "3"}, {"validation": {"ContentType": "text/csv"}})
    with pytest.raises(ClientError, match="Extraneous channel found: test"):
        algo.validate(
            {"num_round": "3"},
            {"train": {"ContentType": "text/csv"}, "test": {"ContentType": "text/csv"}},
        )
    with pytest.raises(
        ClientError, match="Channel configuration for 'train' channel is not supported"
    ):
        algo.validate({"num_round": "3"}, {"train": {"ContentType": "application/json"}})
    with pytest.raises(ClientError, match="not supported"):
        algo.validate(
            {"num_round": "3"}, {"train": {"ContentType": "text/libsvm", "InputMode": "Pipe"}}
        )
    assert algo.content_format(None) == "libsvm"
    with pytest.raises(ClientError, match="label_size must be equal to 1"):
        algo.content_format("text/csv;label_size=0")


def test_bad_training_data(make_env) -> None:  # type: ignore[no-untyped-def]
    Xtr, ytr, _, _ = _split()
    header = "label,f1,f2,f3,f4,f5\n" + csv_text(ytr, Xtr)
    with pytest.raises(ClientError, match="must not contain a header row"):
        algo.train(make_env(HPS, {"train": ("text/csv", header)}))
    with pytest.raises(ClientError, match="No data found in channel 'train'"):
        algo.train(make_env(HPS, {"train": ("text/csv", "")}))
    with pytest.raises(ClientError, match=r"label must be in \[0,1\]"):
        algo.train(make_env(HPS, {"train": ("text/csv", csv_text(Xtr[:, 0], ytr, Xtr[:, 1:]))}))


def test_bad_inference_requests(make_env) -> None:  # type: ignore[no-untyped-def]
    Xtr, ytr, Xva, _ = _split()
    env = make_env(HPS, {"train": ("text/csv", csv_text(ytr, Xtr))})
    algo.train(env)
    model = algo.load(env.model_dir)
    with pytest.raises(ClientError, match="Feature size of csv inference data 3 is not consistent"):
        algo.predict(model, b"1,2,3", "text/csv", "text/csv")
    with pytest.raises(ClientError, match="Loading csv data failed"):
        algo.predict(model, b"f1,f2,f3,f4,f5\n1,2,3,4,5", "text/csv", "text/csv")
    with pytest.raises(ClientError, match="application/json is not an accepted ContentType"):
        algo.predict(model, b'{"instances": []}', "application/json", "text/csv")
    with pytest.raises(ClientError, match="is not an accepted Accept type"):
        algo.predict(model, csv_text(Xva[:1]).encode(), "text/csv", "text/html")


def test_csv_content_type_parameters_as_the_container_reads_them() -> None:
    from mllab.offline.sagemaker.algorithms import xgboost as algo
    from mllab.offline.sagemaker.contract import ClientError

    ok = {"train": {"ContentType": "text/csv;label_size=1"}}
    algo.validate({"num_round": "5"}, ok)
    bad = {"train": {"ContentType": "text/csv;label_size=0"}}
    with pytest.raises(ClientError, match="Optional parameter label_size must be equal to 1"):
        algo.validate({"num_round": "5"}, bad)
