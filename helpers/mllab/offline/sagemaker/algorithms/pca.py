"""PCA (the ``pca`` image), introduced in lab 02.

Computes the principal components of the ``train`` channel (``text/csv;label_size=0`` or
recordIO-protobuf) with an SVD: ``algorithm_mode=regular`` is an exact SVD,
``randomized`` scikit-learn's randomized SVD (with ``extra_components`` oversampling).
``subtract_mean`` centres the data first. Serving answers
``{"projections": [{"projection": [..num_components values..]}]}``.

Differences from AWS: components come in descending order of variance (as scikit-learn
orders them); the artifact ``model_algo-1`` is a NumPy archive (mean, components,
singular values) rather than an MXNet file.
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
    check_train_test_channels,
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

NAME = "pca"
MODEL_FILE = "model_algo-1"
METRIC_DEFINITIONS: list[dict[str, str]] = []

HYPERPARAMETERS: list[HP] = [
    HP("feature_dim", "int", required=True, lo=1),
    HP("mini_batch_size", "int", required=True, lo=1),
    HP("num_components", "int", required=True, lo=1),
    HP("algorithm_mode", "cat", choices=["regular", "randomized"], default="regular"),
    HP("subtract_mean", "bool", default=True),
    HP("extra_components", "int_or_auto", lo=-1, default="auto"),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
]


def _parse(hyperparameters: dict[str, str]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters)
    if hps["num_components"] > hps["feature_dim"]:
        raise ClientError(
            f"num_components ({hps['num_components']}) must not exceed feature_dim "
            f"({hps['feature_dim']}) (caused by ValidationError)"
        )
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what PCA rejects at start-up.

    Args:
        hyperparameters: ``feature_dim``, ``mini_batch_size`` and ``num_components`` required.
        channels: ``train`` required, ``test`` optional; CSV or recordIO-protobuf.

    Raises:
        ClientError: bad channel, ContentType or hyperparameter.
    """
    check_train_test_channels(channels, [CSV, RECORDIO], default=RECORDIO)
    _parse(dict(hyperparameters))


def train(env: TrainingEnv) -> None:
    """Fit the components and write ``model_algo-1``.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad data or fewer records than num_components.
    """
    hps = _parse(dict(env.hyperparameters))
    fd, nc = int(hps["feature_dim"]), int(hps["num_components"])
    media, params = aialgs_content_type(
        "train", env.content_type("train"), [CSV, RECORDIO], default=RECORDIO
    )
    X, _ = load_table(env, "train", media, params, feature_dim=fd)
    if len(X) < nc:
        raise ClientError(
            f"The train channel has {len(X)} records, fewer than num_components={nc}."
        )
    mean = X.mean(axis=0) if hps["subtract_mean"] else np.zeros(fd)
    Xc = X - mean
    if hps["algorithm_mode"] == "randomized":
        from sklearn.utils.extmath import randomized_svd

        extra = 10 if hps["extra_components"] in ("auto", -1) else int(hps["extra_components"])
        _, s, Vt = randomized_svd(
            Xc, n_components=nc, n_oversamples=extra, random_state=seed_of(hps)
        )
    else:
        _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        s, Vt = s[:nc], Vt[:nc]
    explained = (s**2) / max(len(X) - 1, 1)
    log(f"#progress_metric: host=algo-1, completed 100 % of epochs (num_components={nc})")
    log(f"Explained variance of the {nc} components: {explained.tolist()}")
    save_arrays(env.model_dir / MODEL_FILE, mean=mean, components=Vt, singular_values=s)


def load(model_dir: Path) -> dict[str, Any]:
    """Load mean, components and singular values.

    Args:
        model_dir: the extracted artifact.

    Returns:
        The arrays.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Project records onto the components.

    Args:
        model: from :func:`load`.
        body: CSV, JSON, JSON Lines or recordIO-protobuf features.
        content_type: the request's ContentType.
        accept: JSON (default), JSON Lines or recordIO-protobuf.

    Returns:
        ``{"projections": [{"projection": [...]}]}`` encoded.

    Raises:
        ClientError: bad body or feature count.
    """
    X = parse_features_request(body, content_type, model["components"].shape[1])
    P = (X - model["mean"]) @ model["components"].T
    return encode_response(
        "projections", [{"projection": [float(v) for v in row]} for row in P], accept
    )
