"""K-Means, PCA, Random Cut Forest and k-NN emulations."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from algo_testdata import csv_text

from mllab.formats import recordio
from mllab.offline.sagemaker.algorithms import kmeans, knn, pca, randomcutforest
from mllab.offline.sagemaker.contract import ClientError


def _blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0], [6, 6, 0], [0, 6, 6]], dtype=float)
    lab = rng.integers(0, 3, size=n)
    return centers[lab] + rng.normal(scale=0.5, size=(n, 3)), lab.astype(float)


def test_kmeans_trains_reports_msd_and_serves(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    X, lab = _blobs()
    env = make_env(
        {"k": 3, "feature_dim": 3, "init_method": "kmeans++", "eval_metrics": '["msd","ssd"]'},
        {
            "train": ("text/csv;label_size=0", csv_text(X)),
            "test": (recordio.CONTENT_TYPE, recordio.write_dense(X[:50].astype("float32"))),
        },
    )
    kmeans.validate(env.hyperparameters, env.channels)
    kmeans.train(env)
    out = capsys.readouterr().out
    msd = float(re.search(kmeans.METRIC_DEFINITIONS[0]["Regex"], out).group(1))
    model = kmeans.load(env.model_dir)
    resp, ctype = kmeans.predict(model, csv_text(X[:50]).encode(), "text/csv", "application/json")
    preds = json.loads(resp)["predictions"]
    assert ctype == "application/json" and set(preds[0]) == {
        "closest_cluster",
        "distance_to_cluster",
    }
    d = np.array([p["distance_to_cluster"] for p in preds])
    assert msd == pytest.approx(np.mean(d**2), rel=1e-4)
    clusters = np.array([p["closest_cluster"] for p in preds])
    for c in range(3):  # each true blob maps to a single cluster
        assert len(set(clusters[lab[:50] == c])) == 1
    assert "test ssd <loss>=" in out


def test_kmeans_failures(make_env) -> None:  # type: ignore[no-untyped-def]
    X, _ = _blobs(30)
    with pytest.raises(ClientError, match=r"No value\(s\) were specified for 'k'"):
        kmeans.validate({"feature_dim": "3"}, {"train": {"ContentType": "text/csv;label_size=0"}})
    with pytest.raises(ClientError, match="label_size=0"):
        kmeans.train(make_env({"k": 3, "feature_dim": 3}, {"train": ("text/csv", csv_text(X))}))
    with pytest.raises(ClientError, match="must not contain a header row"):
        kmeans.train(
            make_env(
                {"k": 3, "feature_dim": 3},
                {"train": ("text/csv;label_size=0", "a,b,c\n" + csv_text(X))},
            )
        )
    with pytest.raises(ClientError, match="No iterator has been registered"):
        kmeans.validate(
            {"k": "3", "feature_dim": "3"}, {"train": {"ContentType": "application/x-parquet"}}
        )
    with pytest.raises(ClientError, match=r"invalid value 'kmeans\+\+\+'"):
        kmeans.validate({"k": "3", "feature_dim": "3", "init_method": "kmeans+++"}, {"train": {}})


def test_pca_projects_like_numpy_svd(make_env) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    env = make_env(
        {"feature_dim": 5, "mini_batch_size": 50, "num_components": 2},
        {"train": (recordio.CONTENT_TYPE, recordio.write_dense(X))},
    )
    pca.validate(env.hyperparameters, env.channels)
    pca.train(env)
    resp, _ = pca.predict(
        pca.load(env.model_dir),
        csv_text(X[:4], fmt="%.17g").encode(),
        "text/csv",
        "application/json",
    )
    proj = np.array([p["projection"] for p in json.loads(resp)["projections"]])
    Xc = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    expected = Xc[:4] @ Vt[:2].T
    np.testing.assert_allclose(np.abs(proj), np.abs(expected), rtol=1e-6)
    env2 = make_env(
        {
            "feature_dim": 5,
            "mini_batch_size": 50,
            "num_components": 2,
            "algorithm_mode": "randomized",
        },
        {"train": ("text/csv;label_size=0", csv_text(X, fmt="%.17g"))},
    )
    pca.train(env2)
    resp, _ = pca.predict(
        pca.load(env2.model_dir),
        csv_text(X[:4], fmt="%.17g").encode(),
        "text/csv",
        "application/json",
    )
    np.testing.assert_allclose(
        np.abs([p["projection"] for p in json.loads(resp)["projections"]]),
        np.abs(expected),
        rtol=1e-4,
    )


def test_pca_failures() -> None:
    with pytest.raises(ClientError, match="'mini_batch_size'"):
        pca.validate(
            {"feature_dim": "5", "num_components": "2"},
            {"train": {"ContentType": "text/csv;label_size=0"}},
        )
    with pytest.raises(ClientError, match="must not exceed feature_dim"):
        pca.validate(
            {"feature_dim": "2", "num_components": "3", "mini_batch_size": "10"}, {"train": {}}
        )


def test_rcf_scores_anomalies_higher_and_reports_f1(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    normal = rng.normal(size=(1000, 2))
    test_normal = rng.normal(size=(200, 2))
    anomalies = rng.normal(size=(10, 2)) * 0.3 + np.array([8.0, -8.0])
    Xt = np.vstack([test_normal, anomalies])
    yt = np.r_[np.zeros(200), np.ones(10)]
    env = make_env(
        {"feature_dim": 2, "num_trees": 50, "num_samples_per_tree": 128},
        {
            "train": ("text/csv;label_size=0", csv_text(normal)),
            "test": ("text/csv;label_size=1", csv_text(yt, Xt)),
        },
    )
    randomcutforest.validate(env.hyperparameters, env.channels)
    randomcutforest.train(env)
    out = capsys.readouterr().out
    f1 = float(re.search(randomcutforest.METRIC_DEFINITIONS[0]["Regex"], out).group(1))
    assert f1 > 0.8
    model = randomcutforest.load(env.model_dir)
    resp, _ = randomcutforest.predict(model, csv_text(Xt).encode(), "text/csv", "application/json")
    scores = np.array([s["score"] for s in json.loads(resp)["scores"]])
    assert scores[200:].min() > scores[:200].mean() + 3 * scores[:200].std()


def test_rcf_failures(make_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError, match="label_size=0"):
        randomcutforest.validate({"feature_dim": "2"}, {"train": {"ContentType": "text/csv"}})
    with pytest.raises(ClientError, match=r"num_trees.*\[50, 1000\]"):
        randomcutforest.validate(
            {"feature_dim": "2", "num_trees": "10"},
            {"train": {"ContentType": "text/csv;label_size=0"}},
        )
    with pytest.raises(ClientError, match="No data found"):
        randomcutforest.train(
            make_env({"feature_dim": 2}, {"train": ("text/csv;label_size=0", "")})
        )


def test_knn_classifier_and_regressor(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    X, lab = _blobs(400, seed=5)
    env = make_env(
        {
            "k": 5,
            "feature_dim": 3,
            "predictor_type": "classifier",
            "sample_size": 300,
            "index_type": "faiss.IVFFlat",
        },
        {
            "train": ("text/csv", csv_text(lab[:300], X[:300])),
            "test": ("text/csv", csv_text(lab[300:], X[300:])),
        },
    )
    knn.validate(env.hyperparameters, env.channels)
    knn.train(env)
    acc = float(re.search(knn.METRIC_DEFINITIONS[0]["Regex"], capsys.readouterr().out).group(1))
    assert acc > 0.95
    model = knn.load(env.model_dir)
    resp, _ = knn.predict(model, b"6,6,0", "text/csv", "application/json; verbose=true")
    pred = json.loads(resp)["predictions"][0]
    assert pred["predicted_label"] == 1.0 and len(pred["labels"]) == 5
    y = X[:, 0] * 2.0
    env = make_env(
        {"k": 3, "feature_dim": 3, "predictor_type": "regressor", "sample_size": 400},
        {"train": ("text/csv", csv_text(y, X))},
    )
    knn.train(env)
    resp, _ = knn.predict(
        knn.load(env.model_dir), csv_text(X[:1]).encode(), "text/csv", "application/jsonlines"
    )
    assert json.loads(resp.decode().splitlines()[0])["predicted_label"] == pytest.approx(
        y[0], abs=1.5
    )
    with pytest.raises(ClientError, match="'sample_size'"):
        knn.validate({"k": "3", "feature_dim": "3", "predictor_type": "classifier"}, {"train": {}})
    with pytest.raises(ClientError, match="trained with feature_dim=3"):
        knn.predict(knn.load(env.model_dir), b"1,2", "text/csv", "application/json")
