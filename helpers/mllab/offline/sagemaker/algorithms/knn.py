"""k-nearest neighbours (the ``knn`` image), introduced in lab 03.

Training samples ``sample_size`` labelled records of the ``train`` channel (CSV label-first or
recordIO-protobuf) into the index; inference finds the ``k`` nearest by ``index_metric``
(``L2``, ``INNER_PRODUCT``, ``COSINE``) and answers the majority label (``classifier``) or the
mean label (``regressor``): ``{"predictions": [{"predicted_label": 1.0}]}``. A ``test``
channel reports ``test:accuracy`` or ``test:mse``.

Differences from AWS: the index is exact brute force for every ``index_type``
(``faiss.Flat``, ``faiss.IVFFlat``, ``faiss.IVFPQ`` are accepted); ``dimension_reduction_type``
(``sign``/``fjlt``) is applied as a seeded random projection of the same target size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    CSV,
    HP,
    RECORDIO,
    aialgs_content_type,
    aialgs_metric,
    check_train_test_channels,
    emit_metric,
    encode_response,
    load_arrays,
    load_table,
    log,
    model_file,
    parse_content_type,
    parse_features_request,
    save_arrays,
    seed_of,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import ClientError, TrainingEnv

NAME = "knn"
MODEL_FILE = "model_algo-1"

HYPERPARAMETERS: list[HP] = [
    HP("feature_dim", "int", required=True, lo=1),
    HP("k", "int", required=True, lo=1),
    HP("predictor_type", "cat", required=True, choices=["classifier", "regressor"]),
    HP("sample_size", "int", required=True, lo=1),
    HP("dimension_reduction_target", "int", lo=1),
    HP("dimension_reduction_type", "cat", choices=["sign", "fjlt"]),
    HP("faiss_index_ivf_nlists", "int_or_auto", lo=1, default="auto"),
    HP("faiss_index_pq_m", "int", lo=1),
    HP("index_metric", "cat", choices=["L2", "INNER_PRODUCT", "COSINE"], default="L2"),
    HP(
        "index_type",
        "cat",
        choices=["faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"],
        default="faiss.Flat",
    ),
    HP("mini_batch_size", "int", lo=1, default=5000),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
]

METRIC_DEFINITIONS = [aialgs_metric("test:accuracy"), aialgs_metric("test:mse", "loss")]


def _parse(hyperparameters: dict[str, str]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters)
    if ("dimension_reduction_type" in hps) != ("dimension_reduction_target" in hps):
        raise ClientError(
            "dimension_reduction_type and dimension_reduction_target must be given together "
            "(caused by ValidationError)"
        )
    if hps.get("dimension_reduction_target", 0) > hps["feature_dim"]:
        raise ClientError(
            "dimension_reduction_target must not exceed feature_dim (caused by ValidationError)"
        )
    if hps["index_type"] == "faiss.IVFPQ" and "faiss_index_pq_m" not in hps:
        raise ClientError(
            "faiss_index_pq_m is required when index_type is faiss.IVFPQ (caused by ValidationError)"
        )
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what k-NN rejects at start-up.

    Args:
        hyperparameters: ``k``, ``feature_dim``, ``predictor_type``, ``sample_size`` required.
        channels: ``train`` required, ``test`` optional; CSV or recordIO-protobuf.

    Raises:
        ClientError: bad channel, ContentType or hyperparameter.
    """
    check_train_test_channels(channels, [CSV, RECORDIO], default=RECORDIO)
    _parse(dict(hyperparameters))


def train(env: TrainingEnv) -> None:
    """Sample the index and write ``model_algo-1``.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad data or no labels.
    """
    hps = _parse(dict(env.hyperparameters))
    fd = int(hps["feature_dim"])
    media, params = aialgs_content_type(
        "train", env.content_type("train"), [CSV, RECORDIO], default=RECORDIO
    )
    X, y = load_table(env, "train", media, params, feature_dim=fd, need_label=True)
    assert y is not None
    rng = np.random.default_rng(seed_of(hps))
    n = min(int(hps["sample_size"]), len(X))
    keep = np.sort(rng.choice(len(X), size=n, replace=False))
    proj = np.eye(fd)
    if "dimension_reduction_type" in hps:
        tgt = int(hps["dimension_reduction_target"])
        R = rng.normal(size=(fd, tgt))
        proj = (
            np.sign(R) / np.sqrt(tgt)
            if hps["dimension_reduction_type"] == "sign"
            else R / np.sqrt(tgt)
        )
    model = {
        "points": X[keep] @ proj,
        "labels": y[keep],
        "proj": proj,
        "k": np.array(int(hps["k"])),
        "classifier": np.array(hps["predictor_type"] == "classifier"),
        "metric": np.array(hps["index_metric"]),
        "feature_dim": np.array(fd),
    }
    log(f"#progress_metric: host=algo-1, sampled {n} of {len(X)} records into the index")
    if "test" in env.channels:
        tm, tp = aialgs_content_type(
            "test", env.content_type("test"), [CSV, RECORDIO], default=RECORDIO
        )
        Xt, yt = load_table(env, "test", tm, tp, feature_dim=fd)
        if yt is not None:
            pred = _predict(model, Xt)
            if hps["predictor_type"] == "classifier":
                emit_metric("test:accuracy", float(np.mean(pred == yt)))
            else:
                emit_metric("test:mse", float(np.mean((pred - yt) ** 2)), "loss")
    save_arrays(env.model_dir / MODEL_FILE, **model)


def _neighbours(model: dict[str, Any], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    P = model["points"]
    Q = X @ model["proj"]
    metric = str(model["metric"])
    if metric == "INNER_PRODUCT":
        D = -(Q @ P.T)
    elif metric == "COSINE":
        D = (
            -(Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12))
            @ (P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)).T
        )
    else:
        D = (Q**2).sum(1)[:, None] - 2 * Q @ P.T + (P**2).sum(1)[None, :]
    k = min(int(model["k"]), P.shape[0])
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


def _predict(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    idx, _ = _neighbours(model, X)
    labs = model["labels"][idx]
    if bool(model["classifier"]):
        out = []
        for row in labs:
            vals, counts = np.unique(row, return_counts=True)
            out.append(vals[np.argmax(counts)])
        return np.array(out)
    return labs.mean(axis=1)


def load(model_dir: Path) -> dict[str, Any]:
    """Load the index.

    Args:
        model_dir: the extracted artifact.

    Returns:
        The sampled points, labels and settings.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Predict by the k nearest neighbours.

    Args:
        model: from :func:`load`.
        body: CSV (features only), JSON, JSON Lines or recordIO-protobuf.
        content_type: the request's ContentType.
        accept: JSON (default; ``application/json; verbose=true`` adds the neighbours' labels
            and distances), JSON Lines or recordIO-protobuf.

    Returns:
        ``{"predictions": [{"predicted_label": ...}]}`` encoded.

    Raises:
        ClientError: bad body or feature count.
    """
    X = parse_features_request(body, content_type, int(model["feature_dim"]))
    pred = _predict(model, X)
    items: list[dict[str, Any]] = [{"predicted_label": float(p)} for p in pred]
    if parse_content_type(accept)[1].get("verbose") == "true":
        idx, dist = _neighbours(model, X)
        for it, row, d in zip(items, idx, dist, strict=True):
            it["labels"] = [float(v) for v in model["labels"][row]]
            it["distances"] = [float(v) for v in np.sqrt(np.maximum(d, 0))]
    return encode_response("predictions", items, accept)
