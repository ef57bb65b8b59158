"""K-Means (the ``kmeans`` image), introduced in lab 02.

Trains scikit-learn's ``KMeans`` (Lloyd's algorithm, ``init_method`` ``random`` or
``kmeans++``) on the ``train`` channel (``text/csv;label_size=0`` or recordIO-protobuf) and
reports ``test:msd`` / ``test:ssd`` on a ``test`` channel as the container does
(``#quality_metric: host=algo-1, test msd <loss>=...``). Serving answers
``{"predictions": [{"closest_cluster": 2, "distance_to_cluster": 1.7}]}``.

Differences from AWS: AWS runs a streaming mini-batch k-means over ``epochs`` with
``extra_center_factor`` extra centres, then reduces them with a local Lloyd's k-means++;
here the whole channel is clustered in memory with ``local_lloyd_*`` settings. The artifact
``model_algo-1`` is a NumPy archive of the centroids (an MXNet NDArray file on AWS).
"""

from __future__ import annotations

import json
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
    parse_features_request,
    save_arrays,
    seed_of,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import ClientError, TrainingEnv

NAME = "kmeans"
MODEL_FILE = "model_algo-1"

HYPERPARAMETERS: list[HP] = [
    HP("k", "int", required=True, lo=1),
    HP("feature_dim", "int", required=True, lo=1),
    HP("mini_batch_size", "int", lo=1, default=5000),
    HP("epochs", "int", lo=1, default=1),
    HP("init_method", "cat", choices=["random", "kmeans++"], default="random"),
    HP("local_lloyd_max_iter", "int", lo=1, default=300),
    HP("local_lloyd_tol", "float", lo=0, default=0.0001),
    HP("local_lloyd_init_method", "cat", choices=["random", "kmeans++"], default="kmeans++"),
    HP("local_lloyd_num_trials", "int_or_auto", lo=1, default="auto"),
    HP("half_life_time_size", "int", lo=0, default=0),
    HP("extra_center_factor", "int_or_auto", lo=1, default="auto"),
    HP("eval_metrics", "str", default='["msd"]'),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
    HP("_kvstore", "str"),
    HP("_num_kv_servers", "str"),
    HP("_enable_profiler", "str"),
]

METRIC_DEFINITIONS = [aialgs_metric("test:msd", "loss"), aialgs_metric("test:ssd", "loss")]


def parse_list(text: str, name: str, allowed: list[str]) -> list[str]:
    """Parse an ``eval_metrics``-style list (``["msd", "ssd"]`` or ``msd,ssd``)."""
    try:
        items = (
            json.loads(text)
            if text.strip().startswith("[")
            else [t.strip() for t in text.split(",")]
        )
    except json.JSONDecodeError:
        raise ClientError(
            f"Hyperparameter '{name}' is not a list such as '[\"msd\"]' (caused by ValidationError)"
        ) from None
    for it in items:
        if it not in allowed:
            raise ClientError(
                f"Hyperparameter '{name}' has an invalid value '{it}': it must be one of {allowed} (caused by ValidationError)"
            )
    return [str(i) for i in items]


def _parse(hyperparameters: dict[str, str]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters)
    hps["eval_metrics"] = parse_list(hps["eval_metrics"], "eval_metrics", ["msd", "ssd"])
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what K-Means rejects at start-up.

    Args:
        hyperparameters: the job's HyperParameters (``k`` and ``feature_dim`` required).
        channels: ``train`` required, ``test`` optional; CSV or recordIO-protobuf.

    Raises:
        ClientError: a missing/unknown channel, unsupported ContentType, bad hyperparameter.
    """
    check_train_test_channels(channels, [CSV, RECORDIO], default=RECORDIO)
    _parse(dict(hyperparameters))


def train(env: TrainingEnv) -> None:
    """Cluster the train channel and write the centroids to ``model_algo-1``.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad data (header row, width other than feature_dim, fewer records than k).
    """
    from sklearn.cluster import KMeans

    hps = _parse(dict(env.hyperparameters))
    fd, k = int(hps["feature_dim"]), int(hps["k"])
    media, params = aialgs_content_type(
        "train", env.content_type("train"), [CSV, RECORDIO], default=RECORDIO
    )
    X, _ = load_table(env, "train", media, params, feature_dim=fd)
    if len(X) < k:
        raise ClientError(f"The train channel has {len(X)} records, fewer than k={k} clusters.")
    if np.isnan(X).any():
        raise ClientError(
            "The train channel has missing values; K-Means needs every feature filled."
        )
    trials = 1 if hps["local_lloyd_num_trials"] == "auto" else int(hps["local_lloyd_num_trials"])
    km = KMeans(
        n_clusters=k,
        init="k-means++" if hps["init_method"] == "kmeans++" else "random",
        n_init=trials,
        max_iter=int(hps["local_lloyd_max_iter"]),
        tol=float(hps["local_lloyd_tol"]),
        random_state=seed_of(hps),
    ).fit(X)
    log(f"#progress_metric: host=algo-1, completed 100 % of epochs ({hps['epochs']} epochs, k={k})")
    log(f"#quality_metric: host=algo-1, train msd <loss>={km.inertia_ / len(X)}")
    if "test" in env.channels:
        tm, tp = aialgs_content_type(
            "test", env.content_type("test"), [CSV, RECORDIO], default=RECORDIO
        )
        Xt, _ = load_table(env, "test", tm, tp, feature_dim=fd)
        d = _distances(km.cluster_centers_, Xt).min(axis=1)
        for m in hps["eval_metrics"]:
            emit_metric(f"test:{m}", float(np.mean(d**2) if m == "msd" else np.sum(d**2)), "loss")
    save_arrays(env.model_dir / MODEL_FILE, centroids=km.cluster_centers_)


def _distances(C: np.ndarray, X: np.ndarray) -> np.ndarray:
    d2 = (X**2).sum(axis=1)[:, None] - 2 * X @ C.T + (C**2).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def load(model_dir: Path) -> dict[str, Any]:
    """Load the centroids.

    Args:
        model_dir: the extracted artifact.

    Returns:
        ``{"centroids": (k, feature_dim) array}``.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Assign records to clusters.

    Args:
        model: from :func:`load`.
        body: CSV (features only), JSON, JSON Lines or recordIO-protobuf.
        content_type: the request's ContentType.
        accept: JSON (default), JSON Lines or recordIO-protobuf.

    Returns:
        ``{"predictions": [{"closest_cluster": i, "distance_to_cluster": d}]}`` encoded.

    Raises:
        ClientError: bad body or feature count.
    """
    C = model["centroids"]
    X = parse_features_request(body, content_type, C.shape[1])
    D = _distances(C, X)
    idx = D.argmin(axis=1)
    items = [
        {"closest_cluster": int(i), "distance_to_cluster": float(D[r, i])}
        for r, i in enumerate(idx)
    ]
    return encode_response("predictions", items, accept)
