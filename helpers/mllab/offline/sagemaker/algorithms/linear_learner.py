"""Linear Learner (the ``linear-learner`` image), introduced in lab 03.

A numpy emulation of what the algorithm does: standardise features (``normalize_data``) and,
for regression, the label (``normalize_label``); train a linear model with mini-batch Adam
(``mini_batch_size``, ``epochs``, ``learning_rate``, ``wd`` = L2, ``l1`` = L1 by proximal step)
on the documented loss; stop early when the validation (or training) loss has not improved by
``early_stopping_tolerance`` (relative) for ``early_stopping_patience`` epochs and keep the
best epoch; for binary classifiers, choose the decision threshold on the validation channel
(training data when there is none) by ``binary_classifier_model_selection_criteria``
(``accuracy``, ``f_beta``, ``precision_at_target_recall``, ``recall_at_target_precision``,
``loss_function`` = 0.5). ``positive_example_weight_mult`` weights positives (``balanced``
makes both classes weigh the same, ``auto`` is balanced too).

Log lines and metrics follow the container: per-epoch ``#quality_metric: host=algo-1,
epoch=3, train binary_classification_cross_entropy_objective <loss>=0.31`` and final
``#quality_metric: host=algo-1, validation roc_auc_score <score>=0.93`` lines (``test`` too
when a test channel is given).

Differences from AWS: AWS trains ``num_models`` (default 32 for auto) models in parallel with
different learning rates and regularisation and keeps the best on validation; this trains
one. ``learning_rate``/``wd``/``l1`` ``auto`` mean 0.1 / 0 / 0 here. The model artifact is
``model_algo-1`` (a NumPy ``.npz`` archive here, an MXNet archive on AWS). Like the container,
responses are JSON, JSON Lines or recordIO-protobuf; ``text/csv`` is not an output format,
and an unsupported Accept gets JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    CSV,
    HP,
    RECORDIO,
    aialgs_content_type,
    aialgs_metric,
    check_channels,
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

NAME = "linear-learner"
MODEL_FILE = "model_algo-1"

_LOSSES = [
    "auto",
    "logistic",
    "squared_loss",
    "absolute_loss",
    "hinge_loss",
    "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss",
    "quantile_loss",
    "huber_loss",
    "softmax_loss",
]

HYPERPARAMETERS: list[HP] = [
    HP(
        "predictor_type",
        "cat",
        required=True,
        choices=["binary_classifier", "multiclass_classifier", "regressor"],
    ),
    HP("num_classes", "int", lo=3, hi=1_000_000),
    HP("feature_dim", "int_or_auto", lo=1, default="auto"),
    HP("mini_batch_size", "int", lo=1, default=1000),
    HP("epochs", "int", lo=1, default=15),
    HP("learning_rate", "float_or_auto", lo=0, lo_open=True, default="auto"),
    HP("l1", "float_or_auto", lo=0, default="auto"),
    HP("wd", "float_or_auto", lo=0, default="auto"),
    HP("use_bias", "bool", default=True),
    HP(
        "binary_classifier_model_selection_criteria",
        "cat",
        choices=[
            "accuracy",
            "f_beta",
            "precision_at_target_recall",
            "recall_at_target_precision",
            "loss_function",
        ],
        default="accuracy",
    ),
    HP("target_recall", "float", lo=0, hi=1, lo_open=True, hi_open=True, default=0.8),
    HP("target_precision", "float", lo=0, hi=1, lo_open=True, hi_open=True, default=0.8),
    HP("f_beta", "float", lo=0, lo_open=True, default=1.0),
    HP(
        "positive_example_weight_mult",
        "float_or_cat",
        lo=0,
        lo_open=True,
        choices=["auto", "balanced"],
        default=1.0,
    ),
    HP("normalize_data", "bool", default=True),
    HP(
        "normalize_label", "cat", choices=["auto", "true", "false", "True", "False"], default="auto"
    ),
    HP("loss", "cat", choices=_LOSSES, default="auto"),
    HP("early_stopping_patience", "int", lo=1, default=3),
    HP("early_stopping_tolerance", "float", lo=0, lo_open=True, default=0.001),
    HP("num_models", "int_or_auto", lo=1, default="auto"),
    HP("num_calibration_samples", "int", lo=1, default=10_000_000),
    HP("init_method", "cat", choices=["uniform", "normal"], default="uniform"),
    HP("init_scale", "float", lo=0, lo_open=True, default=0.07),
    HP("init_sigma", "float", lo=0, lo_open=True, default=0.01),
    HP("init_bias", "float", default=0.0),
    HP("optimizer", "cat", choices=["auto", "sgd", "adam", "rmsprop"], default="auto"),
    HP("beta_1", "float", lo=0, hi=1, default=0.9),
    HP("beta_2", "float", lo=0, hi=1, default=0.999),
    HP("bias_lr_mult", "float_or_auto", lo=0, lo_open=True, default="auto"),
    HP("bias_wd_mult", "float_or_auto", lo=0, default="auto"),
    HP("lr_scheduler_step", "int_or_auto", lo=1, default="auto"),
    HP("lr_scheduler_factor", "float_or_auto", lo=0, hi=1, lo_open=True, default="auto"),
    HP("lr_scheduler_minimum_lr", "float_or_auto", lo=0, default="auto"),
    HP("momentum", "float_or_auto", lo=0, hi=1, default="auto"),
    HP("unbias_data", "cat", choices=["auto", "true", "false"], default="auto"),
    HP("unbias_label", "cat", choices=["auto", "true", "false"], default="auto"),
    HP("num_point_for_scaler", "int", lo=1, default=10000),
    HP("margin", "float", lo=0, default=1.0),
    HP("quantile", "float", lo=0, hi=1, lo_open=True, hi_open=True, default=0.5),
    HP("loss_insensitivity", "float", lo=0, lo_open=True, default=0.01),
    HP("huber_delta", "float", lo=0, lo_open=True, default=1.0),
    HP("accuracy_top_k", "int", lo=1, default=3),
    HP("balance_multiclass_weights", "bool", default=False),
]

_BINARY = [
    "roc_auc_score",
    "binary_f_beta",
    "precision",
    "recall",
    "binary_classification_accuracy",
]
_MULTI = [
    "multiclass_accuracy",
    "multiclass_top_k_accuracy",
    "dcg",
    "macro_recall",
    "macro_precision",
    "macro_f_beta",
]
_REG = ["rmse", "mse", "absolute_loss"]
_LOSS_TAGGED = {"rmse", "mse", "absolute_loss", "objective_loss"}

METRIC_DEFINITIONS: list[dict[str, str]] = [
    {
        "Name": "train:objective_loss",
        "Regex": "#quality_metric: host=\\S+, epoch=\\S+, train \\S+_objective <loss>=(\\S+)",
    },
    {
        "Name": "validation:objective_loss",
        "Regex": "#quality_metric: host=\\S+, epoch=\\S+, validation \\S+_objective <loss>=(\\S+)",
    },
] + [
    aialgs_metric(f"{ch}:{m}", "loss" if m in _LOSS_TAGGED else "score")
    for ch in ("validation", "test")
    for m in _BINARY + _MULTI + _REG + ["objective_loss"]
]


def _parse(hyperparameters: dict[str, str]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters, dialect="aialgs")
    ptype = hps["predictor_type"]
    if ptype == "multiclass_classifier" and "num_classes" not in hps:
        raise ClientError(
            "No value(s) were specified for 'num_classes' which are required hyperparameter(s) "
            "(caused by ValidationError): num_classes is required when predictor_type is "
            "multiclass_classifier"
        )
    loss = hps["loss"]
    allowed = {
        "binary_classifier": {"auto", "logistic", "hinge_loss"},
        "multiclass_classifier": {"auto", "softmax_loss"},
        "regressor": {
            "auto",
            "squared_loss",
            "absolute_loss",
            "eps_insensitive_squared_loss",
            "eps_insensitive_absolute_loss",
            "quantile_loss",
            "huber_loss",
        },
    }[ptype]
    if loss not in allowed:
        raise ClientError(
            f"Loss '{loss}' is not supported for predictor_type '{ptype}'; use one of "
            f"{sorted(allowed)} (caused by ValidationError)"
        )
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what Linear Learner rejects at start-up.

    Args:
        hyperparameters: the job's HyperParameters (strings).
        channels: channel name -> InputDataConfig entry (``train`` required, ``validation`` and
            ``test`` optional; ``text/csv`` or recordIO-protobuf).

    Raises:
        ClientError: missing/unknown channel, unsupported ContentType, bad hyperparameters.
    """
    check_channels(channels, required=("train",), optional=("validation", "test"))
    for name, ch in channels.items():
        aialgs_content_type(name, ch.get("ContentType"), [CSV, RECORDIO], default=RECORDIO)
    _parse(dict(hyperparameters))


# --------------------------------------------------------------------------- model maths


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _loss_and_grad(
    loss: str, ptype: str, Z: np.ndarray, y: np.ndarray, w: np.ndarray, hps: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example loss and d(loss)/d(output) for outputs Z (n x k)."""
    if ptype == "multiclass_classifier":
        P = _softmax(Z)
        idx = y.astype(int)
        li = -np.log(np.clip(P[np.arange(len(idx)), idx], 1e-15, None))
        G = P.copy()
        G[np.arange(len(idx)), idx] -= 1
        return li, G
    z = Z[:, 0]
    if ptype == "binary_classifier":
        if loss == "hinge_loss":
            s = 2 * y - 1
            margin = hps["margin"]
            li = np.maximum(0, margin - s * z)
            g = np.where(s * z < margin, -s, 0.0)
        else:
            p = _sigmoid(z)
            li = -(
                y * np.log(np.clip(p, 1e-15, None)) + (1 - y) * np.log(np.clip(1 - p, 1e-15, None))
            )
            g = p - y
        return li, g[:, None]
    r = z - y
    if loss in ("auto", "squared_loss"):
        li, g = 0.5 * r**2, r
    elif loss == "absolute_loss":
        li, g = np.abs(r), np.sign(r)
    elif loss == "eps_insensitive_squared_loss":
        e = hps["loss_insensitivity"]
        a = np.maximum(0, np.abs(r) - e)
        li, g = 0.5 * a**2, np.sign(r) * a
    elif loss == "eps_insensitive_absolute_loss":
        e = hps["loss_insensitivity"]
        li, g = np.maximum(0, np.abs(r) - e), np.where(np.abs(r) > e, np.sign(r), 0.0)
    elif loss == "quantile_loss":
        q = hps["quantile"]
        li = np.where(r >= 0, (1 - q) * r, -q * r)
        g = np.where(r >= 0, 1 - q, -q)
    else:  # huber_loss
        d = hps["huber_delta"]
        li = np.where(np.abs(r) <= d, 0.5 * r**2, d * (np.abs(r) - 0.5 * d))
        g = np.clip(r, -d, d)
    return li, g[:, None]


def _objective_name(ptype: str, loss: str) -> str:
    if ptype == "binary_classifier":
        return (
            "hinge_loss_objective"
            if loss == "hinge_loss"
            else "binary_classification_cross_entropy_objective"
        )
    if ptype == "multiclass_classifier":
        return "multiclass_cross_entropy_objective"
    return {"auto": "square_loss_objective", "squared_loss": "square_loss_objective"}.get(
        loss, f"{loss}_objective"
    )


def _choose_threshold(scores: np.ndarray, y: np.ndarray, hps: dict[str, Any], hinge: bool) -> float:
    crit = hps["binary_classifier_model_selection_criteria"]
    default = 0.0 if hinge else 0.5
    if crit == "loss_function" or len(np.unique(y)) < 2:
        return default
    cands = np.unique(np.concatenate([scores, [default]]))
    if cands.size > 2000:
        cands = np.unique(np.quantile(scores, np.linspace(0, 1, 2001)))
    pos = y == 1
    best_t, best_v = default, -1.0
    beta2 = hps["f_beta"] ** 2
    for t in cands:
        pred = scores >= t
        tp = float(np.sum(pred & pos))
        fp = float(np.sum(pred & ~pos))
        fn = float(np.sum(~pred & pos))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        if crit == "accuracy":
            v = float(np.mean(pred == pos))
        elif crit == "f_beta":
            v = (1 + beta2) * prec * rec / (beta2 * prec + rec) if prec + rec else 0.0
        elif crit == "precision_at_target_recall":
            v = prec if rec >= hps["target_recall"] else -1.0
        else:
            v = rec if prec >= hps["target_precision"] else -1.0
        if v > best_v:
            best_t, best_v = float(t), v
    if best_t != default:
        # Half-way down to the next lower score: the same records fall on each side, but a
        # score recomputed from a request (CSV parsed again, float32 recordIO) that differs
        # in the last digits from the one seen here does not cross the threshold.
        lower = cands[cands < best_t]
        if lower.size:
            best_t = float((lower[-1] + best_t) / 2)
    return best_t


# --------------------------------------------------------------------------- training


def train(env: TrainingEnv) -> None:
    """Train, log the container's metric lines, write ``model_algo-1``.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad data (header row, wrong width for ``feature_dim``, labels that do not
            fit ``predictor_type``, empty channel) or hyperparameters.
    """
    hps = _parse(dict(env.hyperparameters))
    ptype = hps["predictor_type"]
    fd = None if hps["feature_dim"] == "auto" else int(hps["feature_dim"])
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for ch in ("train", "validation", "test"):
        if ch not in env.channels:
            continue
        media, params = aialgs_content_type(
            ch, env.content_type(ch), [CSV, RECORDIO], default=RECORDIO
        )
        X, y = load_table(env, ch, media, params, feature_dim=fd, need_label=True)
        assert y is not None
        _check_labels(y, ptype, hps.get("num_classes"), ch)
        data[ch] = (X, y)
        fd = X.shape[1] if fd is None else fd
    Xtr, ytr = data["train"]
    fd = int(Xtr.shape[1])
    rng = np.random.default_rng(seed_of(hps))
    loss = hps["loss"]
    k = int(hps["num_classes"]) if ptype == "multiclass_classifier" else 1

    # scaling, as the container estimates it from up to num_point_for_scaler points
    sample = Xtr[: hps["num_point_for_scaler"]]
    mean = sample.mean(axis=0) if hps["normalize_data"] else np.zeros(fd)
    std = sample.std(axis=0) if hps["normalize_data"] else np.ones(fd)
    std = np.where(std > 0, std, 1.0)
    nl = str(hps["normalize_label"]).lower()
    norm_label = ptype == "regressor" and nl in ("auto", "true")
    y_mean = float(ytr.mean()) if norm_label else 0.0
    y_std = float(ytr.std()) if norm_label and ytr.std() > 0 else 1.0

    def prep(X: np.ndarray) -> np.ndarray:
        return (X - mean) / std

    def ylab(y: np.ndarray) -> np.ndarray:
        return (y - y_mean) / y_std if ptype == "regressor" else y

    weights = np.ones(len(ytr))
    if ptype == "binary_classifier":
        mult = hps["positive_example_weight_mult"]
        n_pos, n_neg = float((ytr == 1).sum()), float((ytr == 0).sum())
        if mult in ("balanced", "auto"):
            mult = n_neg / n_pos if n_pos else 1.0
        weights = np.where(ytr == 1, float(mult), 1.0)
    elif ptype == "multiclass_classifier" and hps["balance_multiclass_weights"]:
        counts = np.bincount(ytr.astype(int), minlength=k).astype(float)
        cw = np.where(counts > 0, len(ytr) / (k * np.maximum(counts, 1)), 0.0)
        weights = cw[ytr.astype(int)]

    Xn, yn = prep(Xtr), ylab(ytr)
    W = (
        rng.uniform(-hps["init_scale"], hps["init_scale"], size=(fd, k))
        if hps["init_method"] == "uniform"
        else rng.normal(0, hps["init_sigma"], size=(fd, k))
    )
    b = np.full(k, float(hps["init_bias"]))
    lr = 0.1 if hps["learning_rate"] == "auto" else float(hps["learning_rate"])
    wd = 0.0 if hps["wd"] == "auto" else float(hps["wd"])
    l1 = 0.0 if hps["l1"] == "auto" else float(hps["l1"])
    b1, b2 = float(hps["beta_1"]), float(hps["beta_2"])
    opt = hps["optimizer"]
    mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
    step = 0
    batch = int(hps["mini_batch_size"])
    objective = _objective_name(ptype, loss)
    watch = "validation" if "validation" in data else "train"
    Xw, yw = (prep(data[watch][0]), ylab(data[watch][1]))
    best = (math.inf, W.copy(), b.copy(), -1)
    stall = 0
    log(
        f"[{env.job_name or 'linear-learner'}] Training linear model: predictor_type={ptype}, feature_dim={fd}, epochs={hps['epochs']}"
    )

    def mean_loss(X: np.ndarray, y: np.ndarray, wts: np.ndarray | None = None) -> float:
        li, _ = _loss_and_grad(loss, ptype, X @ W + (b if hps["use_bias"] else 0), y, W, hps)
        return float(np.average(li, weights=wts))

    for epoch in range(int(hps["epochs"])):
        order = rng.permutation(len(yn))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            Z = Xn[idx] @ W + (b if hps["use_bias"] else 0)
            _, G = _loss_and_grad(loss, ptype, Z, yn[idx], W, hps)
            G = G * weights[idx, None] / weights[idx].sum()
            gW = Xn[idx].T @ G + wd * W
            gb = G.sum(axis=0)
            step += 1
            if opt in ("auto", "adam"):
                mW = b1 * mW + (1 - b1) * gW
                vW = b2 * vW + (1 - b2) * gW**2
                mb = b1 * mb + (1 - b1) * gb
                vb = b2 * vb + (1 - b2) * gb**2
                cW = lr * math.sqrt(1 - b2**step) / (1 - b1**step)
                W -= cW * mW / (np.sqrt(vW) + 1e-8)
                if hps["use_bias"]:
                    b -= cW * mb / (np.sqrt(vb) + 1e-8)
            elif opt == "rmsprop":
                vW = 0.9 * vW + 0.1 * gW**2
                vb = 0.9 * vb + 0.1 * gb**2
                W -= lr * gW / (np.sqrt(vW) + 1e-8)
                if hps["use_bias"]:
                    b -= lr * gb / (np.sqrt(vb) + 1e-8)
            else:
                mom = 0.0 if hps["momentum"] == "auto" else float(hps["momentum"])
                mW = mom * mW - lr * gW
                mb = mom * mb - lr * gb
                W += mW
                if hps["use_bias"]:
                    b += mb
            if l1:
                W = np.sign(W) * np.maximum(np.abs(W) - lr * l1, 0.0)
        train_loss = mean_loss(Xn, yn)
        log(f"#quality_metric: host=algo-1, epoch={epoch}, train {objective} <loss>={train_loss}")
        watched = mean_loss(Xw, yw)
        if watch == "validation":
            log(
                f"#quality_metric: host=algo-1, epoch={epoch}, validation {objective} <loss>={watched}"
            )
        log(
            f"#early_stopping_criteria_metric: host=algo-1, epoch={epoch}, criteria={objective}, value={watched}"
        )
        if watched < best[0] * (1 - hps["early_stopping_tolerance"]) or best[3] < 0:
            best = (watched, W.copy(), b.copy(), epoch)
            stall = 0
        else:
            stall += 1
            if stall >= hps["early_stopping_patience"]:
                log(f"Early stop condition met. Stopping training. Best epoch: {best[3]}")
                break
    W, b = best[1], best[2]
    if not hps["use_bias"]:
        b = np.zeros_like(b)

    model = {
        "W": W,
        "b": b,
        "mean": mean,
        "std": std,
        "y_mean": y_mean,
        "y_std": y_std,
        "ptype": ptype,
        "loss": loss,
        "threshold": 0.5,
        "feature_dim": fd,
    }
    if ptype == "binary_classifier":
        sel_X, sel_y = data.get("validation", data["train"])
        model["threshold"] = _choose_threshold(
            _scores(model, sel_X), sel_y, hps, loss == "hinge_loss"
        )
        log(
            f"Selected threshold {model['threshold']} by {hps['binary_classifier_model_selection_criteria']}"
        )
    for ch in ("validation", "test"):
        if ch in data:
            for name, value in _evaluate(model, *data[ch], hps).items():
                emit_metric(f"{ch}:{name}", value, "loss" if name in _LOSS_TAGGED else "score")
    meta = {k2: v for k2, v in model.items() if k2 not in ("W", "b", "mean", "std")}
    save_arrays(
        env.model_dir / MODEL_FILE, W=W, b=b, mean=mean, std=std, meta=np.array(json.dumps(meta))
    )


def _check_labels(y: np.ndarray, ptype: str, num_classes: int | None, channel: str) -> None:
    if np.isnan(y).any():
        raise ClientError(f"Channel '{channel}' has records without a label.")
    if ptype == "binary_classifier" and not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:3]
        raise ClientError(
            f"Label values can only be 0 or 1 for binary_classifier; found {bad.tolist()} in channel "
            f"'{channel}'. Put the 0/1 label in the first column (CSV) or label['values']."
        )
    if ptype == "multiclass_classifier":
        ok = (y >= 0) & (y < (num_classes or 0)) & (y == np.round(y))
        if not ok.all():
            raise ClientError(
                f"Label values must be integers in [0, num_classes-1] = [0, {(num_classes or 0) - 1}] for "
                f"multiclass_classifier; found {np.unique(y[~ok])[:3].tolist()} in channel '{channel}'."
            )


def _raw(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    return ((X - model["mean"]) / model["std"]) @ model["W"] + model["b"]


def _scores(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    Z = _raw(model, X)
    if model["ptype"] == "multiclass_classifier":
        return _softmax(Z)
    if model["ptype"] == "binary_classifier":
        return Z[:, 0] if model["loss"] == "hinge_loss" else _sigmoid(Z[:, 0])
    return Z[:, 0] * model["y_std"] + model["y_mean"]


def _evaluate(
    model: dict[str, Any], X: np.ndarray, y: np.ndarray, hps: dict[str, Any]
) -> dict[str, float]:
    from sklearn import metrics as skm

    s = _scores(model, X)
    ptype = model["ptype"]
    out: dict[str, float] = {}
    if ptype == "binary_classifier":
        pred = (s >= model["threshold"]).astype(int)
        beta = hps["f_beta"]
        out["roc_auc_score"] = (
            float(skm.roc_auc_score(y, s)) if len(np.unique(y)) > 1 else float("nan")
        )
        out["binary_classification_accuracy"] = float(skm.accuracy_score(y, pred))
        out["binary_f_beta"] = float(skm.fbeta_score(y, pred, beta=beta, zero_division=0))
        out["precision"] = float(skm.precision_score(y, pred, zero_division=0))
        out["recall"] = float(skm.recall_score(y, pred, zero_division=0))
        p = np.clip(_sigmoid(_raw(model, X)[:, 0]), 1e-15, 1 - 1e-15)
        out["objective_loss"] = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    elif ptype == "multiclass_classifier":
        pred = np.argmax(s, axis=1)
        k = s.shape[1]
        topk = np.argsort(-s, axis=1)[:, : hps["accuracy_top_k"]]
        out["multiclass_accuracy"] = float(np.mean(pred == y))
        out["multiclass_top_k_accuracy"] = float(
            np.mean([yy in row for yy, row in zip(y.astype(int), topk, strict=True)])
        )
        ranks = np.argsort(np.argsort(-s, axis=1), axis=1)[np.arange(len(y)), y.astype(int)]
        out["dcg"] = float(np.mean(1.0 / np.log2(ranks + 2)))
        out["macro_recall"] = float(
            skm.recall_score(y, pred, average="macro", labels=range(k), zero_division=0)
        )
        out["macro_precision"] = float(
            skm.precision_score(y, pred, average="macro", labels=range(k), zero_division=0)
        )
        out["macro_f_beta"] = float(
            skm.fbeta_score(
                y, pred, beta=hps["f_beta"], average="macro", labels=range(k), zero_division=0
            )
        )
        out["objective_loss"] = float(
            -np.mean(np.log(np.clip(s[np.arange(len(y)), y.astype(int)], 1e-15, None)))
        )
    else:
        r = s - y
        out["mse"] = float(np.mean(r**2))
        out["rmse"] = float(math.sqrt(out["mse"]))
        out["absolute_loss"] = float(np.mean(np.abs(r)))
        out["objective_loss"] = (
            out["mse"] / 2 if model["loss"] in ("auto", "squared_loss") else out["absolute_loss"]
        )
    return out


# --------------------------------------------------------------------------- hosting


def load(model_dir: Path) -> dict[str, Any]:
    """Load ``model_algo-1``.

    Args:
        model_dir: the extracted model artifact.

    Returns:
        The model (weights, scaling, threshold, predictor type).
    """
    arrays = load_arrays(model_file(Path(model_dir), MODEL_FILE))
    model: dict[str, Any] = json.loads(str(arrays["meta"]))
    model.update({k: arrays[k] for k in ("W", "b", "mean", "std")})
    return model


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Score records: ``{"predictions": [{"score": 0.9, "predicted_label": 1}]}``.

    Args:
        model: from :func:`load`.
        body: ``text/csv`` (features only), JSON, JSON Lines or recordIO-protobuf.
        content_type: the request's ContentType.
        accept: ``application/json`` (default), ``application/jsonlines`` or recordIO-protobuf.

    Returns:
        ``(body, content type)``: binary: score (probability) and predicted_label (by the
        selected threshold); multiclass: the score list and predicted_label; regressor: score.

    Raises:
        ClientError: unsupported content type, unparsable body or wrong feature count.
    """
    X = parse_features_request(body, content_type, int(model["feature_dim"]))
    s = _scores(model, X)
    items: list[dict[str, Any]]
    if model["ptype"] == "binary_classifier":
        items = [{"score": float(v), "predicted_label": int(v >= model["threshold"])} for v in s]
    elif model["ptype"] == "multiclass_classifier":
        items = [
            {"score": [float(x) for x in row], "predicted_label": int(np.argmax(row))} for row in s
        ]
    else:
        items = [{"score": float(v)} for v in s]
    return encode_response("predictions", items, accept)
