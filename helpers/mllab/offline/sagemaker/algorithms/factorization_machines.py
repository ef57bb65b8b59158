"""Factorization Machines (the ``factorization-machines`` image), introduced in lab 03.

Training data must be recordIO-protobuf with Float32 tensors (dense or sparse), as on AWS.
A second-order factorization machine (global bias, linear weights, ``num_factors`` latent
factors per feature) is trained with mini-batch Adam on log loss (``binary_classifier``) or
squared loss (``regressor``) for ``epochs`` passes, with ``bias_wd``/``linear_wd``/
``factors_wd`` L2 penalties. A ``test`` channel reports ``test:rmse`` or
``test:binary_classification_accuracy`` / ``test:binary_f_beta`` /
``test:binary_classification_cross_entropy``. Serving: ``{"predictions": [{"score": 0.8,
"predicted_label": 1.0}]}`` (label = score >= 0.5), regressor ``{"score": x}``.

Differences from AWS: numpy on one host (no GPU, no parameter server); the artifact
``model_algo-1`` is a NumPy archive.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    HP,
    RECORDIO,
    aialgs_metric,
    check_train_test_channels,
    emit_metric,
    encode_response,
    load_arrays,
    log,
    model_file,
    opt_ml,
    parse_features_request,
    require_files,
    save_arrays,
    seed_of,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import ClientError, TrainingEnv

NAME = "factorization-machines"
MODEL_FILE = "model_algo-1"

HYPERPARAMETERS: list[HP] = [
    HP("feature_dim", "int", required=True, lo=1),
    HP("num_factors", "int", required=True, lo=1, hi=1000),
    HP("predictor_type", "cat", required=True, choices=["binary_classifier", "regressor"]),
    HP("epochs", "int", lo=1, default=1),
    HP("mini_batch_size", "int", lo=1, default=1000),
    HP("bias_lr", "float", lo=0, default=0.1),
    HP("linear_lr", "float", lo=0, default=0.001),
    HP("factors_lr", "float", lo=0, default=0.0001),
    HP("bias_wd", "float", lo=0, default=0.01),
    HP("linear_wd", "float", lo=0, default=0.001),
    HP("factors_wd", "float", lo=0, default=0.00001),
    HP("bias_init_method", "cat", choices=["normal", "uniform", "constant"], default="normal"),
    HP("linear_init_method", "cat", choices=["normal", "uniform", "constant"], default="normal"),
    HP("factors_init_method", "cat", choices=["normal", "uniform", "constant"], default="normal"),
    HP("bias_init_sigma", "float", lo=0, default=0.01),
    HP("linear_init_sigma", "float", lo=0, default=0.01),
    HP("factors_init_sigma", "float", lo=0, default=0.001),
    HP("bias_init_scale", "float", lo=0),
    HP("linear_init_scale", "float", lo=0),
    HP("factors_init_scale", "float", lo=0),
    HP("bias_init_value", "float"),
    HP("linear_init_value", "float"),
    HP("factors_init_value", "float"),
    HP("clip_gradient", "float"),
    HP("eps", "float", lo=0),
    HP("rescale_grad", "float"),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
]

METRIC_DEFINITIONS = [
    aialgs_metric("test:rmse", "loss"),
    aialgs_metric("test:binary_classification_accuracy"),
    aialgs_metric("test:binary_f_beta"),
    aialgs_metric("test:binary_classification_cross_entropy", "loss"),
]


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what Factorization Machines rejects at start-up (recordIO-protobuf only).

    Args:
        hyperparameters: ``feature_dim``, ``num_factors``, ``predictor_type`` required.
        channels: ``train`` required, ``test`` optional.

    Raises:
        ClientError: bad channel, ContentType (anything but recordIO-protobuf) or hyperparameter.
    """
    check_train_test_channels(channels, [RECORDIO], default=RECORDIO)
    validate_hyperparameters(HYPERPARAMETERS, hyperparameters)


def _read(env: TrainingEnv, channel: str, fd: int) -> tuple[np.ndarray, np.ndarray | None]:
    from mllab.formats import recordio

    records = []
    for path in require_files(env, channel):
        try:
            recs = recordio.read_records(path.read_bytes())
        except recordio.RecordIOError as e:
            raise ClientError(
                f"Unable to read data channel '{channel}': {opt_ml(env, path)} is not RecordIO-protobuf "
                f"({e}). Factorization Machines only accepts application/x-recordio-protobuf."
            ) from None
        for r in recs:
            t = r["features"].get("values")
            if t is None or t["type"] != "float32":
                kind = None if t is None else t["type"]
                raise ClientError(
                    f"Factorization Machines needs Float32 tensors in features['values']; channel "
                    f"'{channel}' has {kind}. Write the data with X.astype('float32')."
                )
        records.extend(recs)
    try:
        return recordio.to_numpy(records, feature_dim=fd)
    except recordio.RecordIOError as e:
        raise ClientError(f"Channel '{channel}': {e}") from None


def _fm(model: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    V = model["V"]
    XV = X @ V
    inter = 0.5 * np.sum(XV**2 - (X**2) @ (V**2), axis=1)
    return float(model["b"]) + X @ model["w"] + inter


def train(env: TrainingEnv) -> None:
    """Train the factorization machine and write ``model_algo-1``.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: non-recordIO or non-Float32 data, missing labels, bad label values.
    """
    hps = validate_hyperparameters(HYPERPARAMETERS, dict(env.hyperparameters))
    fd, k = int(hps["feature_dim"]), int(hps["num_factors"])
    binary = hps["predictor_type"] == "binary_classifier"
    X, y = _read(env, "train", fd)
    if y is None:
        raise ClientError("The train channel has no labels: each record needs label['values'].")
    if binary and not np.isin(y, (0, 1)).all():
        raise ClientError("Label values can only be 0 or 1 for binary_classifier.")
    rng = np.random.default_rng(seed_of(hps))
    model = {
        "b": np.array(0.0),
        "w": rng.normal(0, hps["linear_init_sigma"], fd),
        "V": rng.normal(0, hps["factors_init_sigma"], (fd, k)),
    }
    lrs = {"b": 0.01, "w": 0.01, "V": 0.01}
    state = {
        n: (np.zeros_like(v, dtype=float), np.zeros_like(v, dtype=float)) for n, v in model.items()
    }
    wds = {"b": hps["bias_wd"], "w": hps["linear_wd"], "V": hps["factors_wd"]}
    step = 0
    batch = int(hps["mini_batch_size"])
    for epoch in range(int(hps["epochs"])):
        order = rng.permutation(len(y))
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            Xb, yb = X[idx], y[idx]
            out = _fm(model, Xb)
            g = (1 / (1 + np.exp(-out)) - yb) if binary else (out - yb)
            g = g / len(idx)
            XV = Xb @ model["V"]
            grads = {
                "b": np.array(g.sum()),
                "w": Xb.T @ g,
                "V": Xb.T @ (g[:, None] * XV) - model["V"] * ((Xb**2).T @ g)[:, None],
            }
            step += 1
            for n in model:
                gr = grads[n] + wds[n] * model[n]
                m, v = state[n]
                m = 0.9 * m + 0.1 * gr
                v = 0.999 * v + 0.001 * gr**2
                state[n] = (m, v)
                model[n] = model[n] - lrs[n] * (m / (1 - 0.9**step)) / (
                    np.sqrt(v / (1 - 0.999**step)) + 1e-8
                )
        out = _fm(model, X)
        loss = (
            float(np.mean(np.logaddexp(0, out) - y * out))
            if binary
            else float(np.sqrt(np.mean((out - y) ** 2)))
        )
        name = "binary_classification_cross_entropy" if binary else "rmse"
        log(f"#quality_metric: host=algo-1, epoch={epoch}, train {name} <loss>={loss}")
    if "test" in env.channels:
        Xt, yt = _read(env, "test", fd)
        if yt is not None:
            out = _fm(model, Xt)
            if binary:
                p = 1 / (1 + np.exp(-out))
                pred = (p >= 0.5).astype(float)
                tp = float(np.sum((pred == 1) & (yt == 1)))
                prec = tp / max(float(pred.sum()), 1.0)
                rec = tp / max(float((yt == 1).sum()), 1.0)
                emit_metric("test:binary_classification_accuracy", float(np.mean(pred == yt)))
                emit_metric(
                    "test:binary_f_beta", 2 * prec * rec / (prec + rec) if prec + rec else 0.0
                )
                pc = np.clip(p, 1e-15, 1 - 1e-15)
                emit_metric(
                    "test:binary_classification_cross_entropy",
                    float(-np.mean(yt * np.log(pc) + (1 - yt) * np.log(1 - pc))),
                    "loss",
                )
            else:
                emit_metric("test:rmse", math.sqrt(float(np.mean((out - yt) ** 2))), "loss")
    save_arrays(
        env.model_dir / MODEL_FILE, binary=np.array(binary), feature_dim=np.array(fd), **model
    )


def load(model_dir: Path) -> dict[str, Any]:
    """Load the factorization machine.

    Args:
        model_dir: the extracted artifact.

    Returns:
        Bias, linear weights, factors and settings.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Score records.

    Args:
        model: from :func:`load`.
        body: JSON, JSON Lines, CSV or recordIO-protobuf features.
        content_type: the request's ContentType.
        accept: JSON (default), JSON Lines or recordIO-protobuf.

    Returns:
        ``{"predictions": [{"score": s, "predicted_label": l}]}`` (regressor: score only).

    Raises:
        ClientError: bad body or feature count.
    """
    X = parse_features_request(body, content_type, int(model["feature_dim"]))
    out = _fm(model, X)
    if bool(model["binary"]):
        p = 1 / (1 + np.exp(-out))
        items = [{"score": float(s), "predicted_label": float(s >= 0.5)} for s in p]
    else:
        items = [{"score": float(s)} for s in out]
    return encode_response("predictions", items, accept)
