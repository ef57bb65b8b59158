"""by_image, DeepAR, BlazingText, Factorization Machines, IP Insights and validated-only ones."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

from mllab.formats import recordio
from mllab.offline.sagemaker import algorithms
from mllab.offline.sagemaker.algorithms import (
    blazingtext,
    deepar,
    factorization_machines,
    ipinsights,
)
from mllab.offline.sagemaker.contract import AlgorithmError, ClientError

PROTOCOL = ("NAME", "METRIC_DEFINITIONS", "validate", "train", "load", "predict")


@pytest.mark.parametrize(
    "framework", sorted({"xgboost", *algorithms.SUPPORTED} - {"sagemaker-xgboost"})
)
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "us-gov-west-1"])
def test_by_image_maps_sdk_uris_in_every_region(framework: str, region: str) -> None:
    from sagemaker.core import image_uris

    version = "1.7-1" if framework == "xgboost" else "1"
    uri = image_uris.retrieve(framework, region, version=version)
    module = algorithms.by_image(uri)
    assert module is not None, uri
    for attr in PROTOCOL:
        assert hasattr(module, attr)
    assert module.NAME in (framework, "xgboost")


def test_by_image_other_images() -> None:
    assert (
        algorithms.by_image(
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
        )
        is None
    )
    assert algorithms.by_image("not an image") is None
    assert (
        algorithms.by_image("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1").NAME
        == "xgboost"
    )
    assert (
        algorithms.by_image(
            "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans@sha256:" + "a" * 64
        ).NAME
        == "kmeans"
    )
    assert "linear-learner" in algorithms.SUPPORTED


def _series(n: int = 6, length: int = 60, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return [
        {
            "start": "2024-01-01 00:00:00",
            "target": (
                10 + i + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, length)
            ).tolist(),
            "cat": [i % 2],
        }
        for i in range(n)
    ]


def test_deepar_trains_tests_and_serves(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    series = _series()
    train_lines = "\n".join(json.dumps({**s, "target": s["target"][:-7]}) for s in series)
    test_lines = "\n".join(json.dumps(s) for s in series)
    hps = {"time_freq": "D", "context_length": 14, "prediction_length": 7, "epochs": 5}
    env = make_env(
        hps,
        {
            "train": ("application/jsonlines", train_lines),
            "test": ("application/jsonlines", test_lines),
        },
    )
    deepar.validate(env.hyperparameters, env.channels)
    deepar.train(env)
    out = capsys.readouterr().out
    rmse = float(re.search(deepar.METRIC_DEFINITIONS[0]["Regex"], out).group(1))
    wql = float(re.search(deepar.METRIC_DEFINITIONS[1]["Regex"], out).group(1))
    assert rmse < 1.5 and 0 <= wql < 0.1
    req = {
        "instances": [
            {"start": "2024-01-01 00:00:00", "target": series[0]["target"][:-7], "cat": [0]}
        ],
        "configuration": {
            "num_samples": 20,
            "output_types": ["mean", "quantiles", "samples"],
            "quantiles": ["0.1", "0.9"],
        },
    }
    resp, _ = deepar.predict(
        deepar.load(env.model_dir), json.dumps(req).encode(), "application/json", "application/json"
    )
    pred = json.loads(resp)["predictions"][0]
    assert (
        len(pred["mean"]) == 7
        and len(pred["samples"]) == 20
        and set(pred["quantiles"]) == {"0.1", "0.9"}
    )
    assert all(
        lo <= hi for lo, hi in zip(pred["quantiles"]["0.1"], pred["quantiles"]["0.9"], strict=True)
    )
    assert (
        np.sqrt(np.mean((np.array(pred["mean"]) - np.array(series[0]["target"][-7:])) ** 2)) < 2.0
    )


def test_deepar_failures(make_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError, match=r"'prediction_length'"):
        deepar.validate({"time_freq": "D", "context_length": "5", "epochs": "1"}, {"train": {}})
    with pytest.raises(ClientError, match="time_freq"):
        deepar.validate(
            {"time_freq": "daily", "context_length": "5", "prediction_length": "2", "epochs": "1"},
            {"train": {}},
        )
    hps = {"time_freq": "D", "context_length": 5, "prediction_length": 2, "epochs": 1}
    with pytest.raises(ClientError, match="'start' and 'target'"):
        deepar.train(
            make_env(hps, {"train": ("application/jsonlines", json.dumps({"target": [1, 2, 3]}))})
        )
    with pytest.raises(ClientError, match="JSON Lines"):
        deepar.train(make_env(hps, {"train": ("application/jsonlines", "start,target\n1,2")}))


def test_blazingtext_supervised(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    pos, neg = ["great", "love", "excellent", "happy"], ["bad", "awful", "hate", "broken"]
    filler = ["the", "product", "is", "it", "was"]

    def lines(n: int) -> str:
        out = []
        for _ in range(n):
            lab = rng.integers(0, 2)
            words = list(rng.choice(filler, 4)) + list(rng.choice(pos if lab else neg, 2))
            rng.shuffle(words)
            out.append(("__label__positive " if lab else "__label__negative ") + " ".join(words))
        return "\n".join(out)

    env = make_env(
        {"mode": "supervised", "word_ngrams": 2},
        {"train": ("text/plain", lines(300)), "validation": ("text/plain", lines(100))},
    )
    blazingtext.validate(env.hyperparameters, env.channels)
    blazingtext.train(env)
    acc = float(
        re.search(blazingtext.METRIC_DEFINITIONS[1]["Regex"], capsys.readouterr().out).group(1)
    )
    assert acc > 0.95
    body = json.dumps(
        {"instances": ["i love it", "it was awful"], "configuration": {"k": 2}}
    ).encode()
    resp, _ = blazingtext.predict(
        blazingtext.load(env.model_dir), body, "application/json", "application/json"
    )
    out = json.loads(resp)
    assert out[0]["label"][0] == "__label__positive" and out[1]["label"][0] == "__label__negative"
    assert len(out[0]["prob"]) == 2 and out[0]["prob"][0] > 0.5
    with pytest.raises(ClientError, match="has no label"):
        blazingtext.train(
            make_env({"mode": "supervised"}, {"train": ("text/plain", "no labels here\n")})
        )
    with pytest.raises(ClientError, match=r"'mode'"):
        blazingtext.validate({}, {"train": {"ContentType": "text/plain"}})
    with pytest.raises(ClientError, match="'validation' was unexpected"):
        blazingtext.validate({"mode": "skipgram"}, {"train": {}, "validation": {}})


def test_blazingtext_word2vec_writes_vectors(make_env) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    groups = [["cat", "dog", "pet", "fur"], ["car", "road", "wheel", "drive"]]
    text = "\n".join(" ".join(rng.choice(groups[i % 2], 8)) for i in range(400))
    env = make_env(
        {"mode": "skipgram", "vector_dim": 8, "min_count": 2}, {"train": ("text/plain", text)}
    )
    blazingtext.train(env)
    header = (env.model_dir / "vectors.txt").read_text().splitlines()[0]
    assert header == "8 8"
    resp, _ = blazingtext.predict(
        blazingtext.load(env.model_dir),
        json.dumps({"instances": ["cat", "dog", "car"]}).encode(),
        "application/json",
        "application/json",
    )
    v = {r["word"]: np.array(r["vector"]) for r in json.loads(resp)}

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    assert cos(v["cat"], v["dog"]) > cos(v["cat"], v["car"])


def test_factorization_machines(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    n, d = 2000, 20
    X = sp.random(n, d, density=0.2, random_state=3, format="csr", dtype=np.float32)
    X.data[:] = 1.0
    y = ((X[:, 0].toarray().ravel() + X[:, 1].toarray().ravel()) > 0).astype(np.float32)
    env = make_env(
        {
            "feature_dim": d,
            "num_factors": 4,
            "predictor_type": "binary_classifier",
            "epochs": 20,
            "mini_batch_size": 100,
        },
        {
            "train": (recordio.CONTENT_TYPE, recordio.write_sparse(X, y)),
            "test": (recordio.CONTENT_TYPE, recordio.write_sparse(X[:300], y[:300])),
        },
    )
    factorization_machines.validate(env.hyperparameters, env.channels)
    factorization_machines.train(env)
    acc = float(
        re.search(
            r"test binary_classification_accuracy <score>=(\S+)", capsys.readouterr().out
        ).group(1)
    )
    assert acc > 0.9
    model = factorization_machines.load(env.model_dir)
    resp, _ = factorization_machines.predict(
        model, recordio.write_sparse(X[:3]), recordio.CONTENT_TYPE, "application/json"
    )
    preds = json.loads(resp)["predictions"]
    assert set(preds[0]) == {"score", "predicted_label"} and preds[0]["predicted_label"] == float(
        preds[0]["score"] >= 0.5
    )
    with pytest.raises(ClientError, match="No iterator has been registered"):
        factorization_machines.validate(
            {"feature_dim": "2", "num_factors": "2", "predictor_type": "regressor"},
            {"train": {"ContentType": "text/csv"}},
        )
    dense64 = recordio.write_dense(rng.normal(size=(5, d)), np.ones(5))
    with pytest.raises(ClientError, match="Float32"):
        factorization_machines.train(
            make_env(
                {"feature_dim": d, "num_factors": 2, "predictor_type": "regressor"},
                {"train": (recordio.CONTENT_TYPE, dense64)},
            )
        )


def test_ipinsights(make_env, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    users = [f"user{i}" for i in range(40)]
    home = {u: f"10.{i}.{rng.integers(0, 255)}" for i, u in enumerate(users)}
    rows = [f"{u},{home[u]}.{rng.integers(1, 255)}" for u in rng.choice(users, 3000)]
    env = make_env(
        {
            "num_entity_vectors": 100,
            "vector_dim": 16,
            "epochs": 25,
            "mini_batch_size": 100,
            "learning_rate": 1.0,
        },
        {
            "train": ("text/csv", "\n".join(rows[:2500])),
            "validation": ("text/csv", "\n".join(rows[2500:])),
        },
    )
    ipinsights.validate(env.hyperparameters, env.channels)
    ipinsights.train(env)
    auc = float(
        re.search(ipinsights.METRIC_DEFINITIONS[0]["Regex"], capsys.readouterr().out).group(1)
    )
    assert auc > 0.8
    model = ipinsights.load(env.model_dir)
    u = users[0]
    resp, _ = ipinsights.predict(
        model, f"{u},{home[u]}.7\n{u},203.0.113.9".encode(), "text/csv", "application/json"
    )
    dp = [p["dot_product"] for p in json.loads(resp)["predictions"]]
    assert dp[0] > dp[1]
    with pytest.raises(ClientError, match="not an IPv4 address"):
        ipinsights.train(
            make_env(
                {"num_entity_vectors": 10, "vector_dim": 4},
                {"train": ("text/csv", "user,ip\nu1,1.2.3.4")},
            )
        )
    with pytest.raises(ClientError, match="'vector_dim'"):
        ipinsights.validate({"num_entity_vectors": "10"}, {"train": {"ContentType": "text/csv"}})


@pytest.mark.parametrize(
    ("module", "hps", "channels"),
    [
        (
            "object2vec",
            {"enc0_max_seq_len": "10", "enc0_vocab_size": "100"},
            {"train": {"ContentType": "application/jsonlines"}},
        ),
        (
            "seq2seq",
            {},
            {
                "train": {"ContentType": "application/x-recordio-protobuf"},
                "validation": {"ContentType": "application/x-recordio-protobuf"},
                "vocab": {"ContentType": "text/plain"},
            },
        ),
        (
            "lda",
            {"num_topics": "5", "feature_dim": "100", "mini_batch_size": "10"},
            {"train": {"ContentType": "text/csv"}},
        ),
        ("ntm", {"num_topics": "5", "feature_dim": "100"}, {"train": {"ContentType": "text/csv"}}),
        (
            "image_classification",
            {"num_classes": "2", "num_training_samples": "10"},
            {
                "train": {"ContentType": "application/x-recordio"},
                "validation": {"ContentType": "application/x-recordio"},
            },
        ),
        (
            "object_detection",
            {"num_classes": "2", "num_training_samples": "10"},
            {
                "train": {"ContentType": "application/x-recordio"},
                "validation": {"ContentType": "application/x-recordio"},
            },
        ),
        (
            "semantic_segmentation",
            {"num_classes": "2", "num_training_samples": "10"},
            {
                "train": {"ContentType": "image/jpeg"},
                "validation": {"ContentType": "image/jpeg"},
                "train_annotation": {"ContentType": "image/png"},
                "validation_annotation": {"ContentType": "image/png"},
            },
        ),
    ],
)
def test_validated_only_algorithms(module: str, hps: dict, channels: dict, make_env) -> None:  # type: ignore[no-untyped-def]
    import importlib

    algo = importlib.import_module(f"mllab.offline.sagemaker.algorithms.{module}")
    algo.validate(hps, channels)  # a valid job passes validation
    required = [h.name for h in algo.HYPERPARAMETERS if h.required]
    if required:
        with pytest.raises(ClientError, match=f"'{required[0]}'"):
            algo.validate({k: v for k, v in hps.items() if k != required[0]}, channels)
    with pytest.raises(ClientError, match="'train' is a required property"):
        algo.validate(hps, {k: v for k, v in channels.items() if k != "train"})
    bad = dict(channels, train={"ContentType": "application/x-nonsense"})
    with pytest.raises(ClientError, match="No iterator has been registered"):
        algo.validate(hps, bad)
    env = make_env(hps, {name: (ch["ContentType"], b"data") for name, ch in channels.items()})
    with pytest.raises(AlgorithmError, match="validated offline but not trained"):
        algo.train(env)
