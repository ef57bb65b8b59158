"""DeepAR forecasting (the ``forecasting-deepar`` image), introduced in lab 03.

Keeps DeepAR's input and output: JSON Lines series (``start``, ``target``, optional ``cat``
and ``dynamic_feat``) in ``train`` and an optional ``test`` channel; the required
hyperparameters ``time_freq``, ``context_length``, ``prediction_length``, ``epochs``; test
metrics ``test:RMSE`` and ``test:mean_wQuantileLoss`` over the last ``prediction_length``
points of each test series; the request ``{"instances": [...], "configuration":
{"num_samples", "output_types", "quantiles"}}`` and the response
``{"predictions": [{"mean": [...], "quantiles": {"0.5": [...]}, "samples": [[...]]}]}``.

How it differs from the real RNN: one global linear autoregressive model (ridge regression)
over the last ``context_length`` values, each window scaled by its mean absolute value as
DeepAR scales series, plus one-hot ``cat`` features, fitted on every window of every training
series; forecasts are rolled forward step by step and sample paths add Gaussian noise with
the residual spread (``likelihood`` other than gaussian is accepted but sampled as gaussian).
``dynamic_feat`` is validated (length) but not used. ``epochs`` only bounds nothing here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    HP,
    check_train_test_channels,
    load_arrays,
    log,
    model_file,
    parse_content_type,
    require_files,
    save_arrays,
    seed_of,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import ClientError, TrainingEnv

NAME = "forecasting-deepar"
MODEL_FILE = "model_algo-1"
_FREQ = re.compile(r"^([1-9][0-9]*)?(min|H|D|W|M|Y)$")
DEFAULT_QUANTILES = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]

HYPERPARAMETERS: list[HP] = [
    HP("time_freq", "str", required=True),
    HP("context_length", "int", required=True, lo=1),
    HP("prediction_length", "int", required=True, lo=1),
    HP("epochs", "int", required=True, lo=1),
    HP("cardinality", "str", default="auto"),
    HP("dropout_rate", "float", lo=0, hi=0.2, default=0.1),
    HP("early_stopping_patience", "int", lo=1),
    HP("embedding_dimension", "int", lo=1, hi=50, default=10),
    HP("learning_rate", "float", lo=1e-4, hi=0.1, default=0.001),
    HP(
        "likelihood",
        "cat",
        choices=["gaussian", "beta", "negative-binomial", "student-T", "deterministic-L1"],
        default="student-T",
    ),
    HP("mini_batch_size", "int", lo=32, hi=1028, default=128),
    HP("num_cells", "int", lo=30, hi=200, default=40),
    HP("num_dynamic_feat", "str", default="auto"),
    HP("num_eval_samples", "int", lo=1, default=100),
    HP("num_layers", "int", lo=1, hi=8, default=2),
    HP("test_quantiles", "str", default=json.dumps([float(q) for q in DEFAULT_QUANTILES])),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
]

METRIC_DEFINITIONS = [
    {"Name": "test:RMSE", "Regex": "#test_score \\(algo-1, RMSE\\): (\\S+)"},
    {
        "Name": "test:mean_wQuantileLoss",
        "Regex": "#test_score \\(algo-1, mean_wQuantileLoss\\): (\\S+)",
    },
    {
        "Name": "train:final_loss",
        "Regex": "#quality_metric: host=\\S+, train final_loss <loss>=(\\S+)",
    },
]

_CT = ["application/jsonlines", "json", "application/json", "application/x-parquet"]


def _parse(hyperparameters: dict[str, str]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters)
    if not _FREQ.match(hps["time_freq"]):
        raise ClientError(
            f"Hyperparameter 'time_freq' has an invalid value '{hps['time_freq']}': use a frequency "
            "such as 'min', '5min', 'H', '2H', 'D', 'W', 'M' or 'Y' (caused by ValidationError)"
        )
    try:
        hps["test_quantiles"] = [float(q) for q in json.loads(hps["test_quantiles"])]
    except (json.JSONDecodeError, TypeError, ValueError):
        raise ClientError(
            "Hyperparameter 'test_quantiles' must be a JSON list of numbers (caused by ValidationError)"
        ) from None
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what DeepAR rejects at start-up.

    Args:
        hyperparameters: ``time_freq``, ``context_length``, ``prediction_length``, ``epochs``
            required.
        channels: ``train`` required, ``test`` optional; JSON Lines (or Parquet).

    Raises:
        ClientError: bad channel, ContentType or hyperparameter.
    """
    check_train_test_channels(channels, _CT, default="application/jsonlines")
    _parse(dict(hyperparameters))


def _read_series(env: TrainingEnv, channel: str) -> list[dict[str, Any]]:
    media, _ = parse_content_type(env.content_type(channel) or "application/jsonlines")
    out: list[dict[str, Any]] = []
    for path in require_files(env, channel):
        if media == "application/x-parquet":
            import pandas as pd

            rows = pd.read_parquet(path).to_dict("records")
        else:
            rows = []
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ClientError(
                        f"Unable to parse line {i} of {path.name} in channel '{channel}' as JSON ({e}). "
                        'DeepAR expects JSON Lines: one {"start": ..., "target": [...]} object per line.'
                    ) from None
        for i, row in enumerate(rows, 1):
            out.append(_check_series(row, f"{path.name} line {i}", channel))
    if not out:
        raise ClientError(f"No time series found in channel '{channel}'.")
    return out


def _check_series(row: Any, where: str, channel: str) -> dict[str, Any]:
    if not isinstance(row, dict) or "start" not in row or "target" not in row:
        raise ClientError(
            f"Each time series needs the fields 'start' and 'target' ({where}, channel '{channel}')."
        )
    try:
        import pandas as pd

        pd.Timestamp(row["start"])
    except (ValueError, TypeError):
        raise ClientError(
            f"Invalid 'start' value {row['start']!r} ({where}): use 'YYYY-MM-DD HH:MM:SS'."
        ) from None
    target = np.array(
        [np.nan if v in (None, "NaN") else float(v) for v in row["target"]], dtype=float
    )
    if target.size == 0:
        raise ClientError(f"Empty 'target' ({where}, channel '{channel}').")
    for feat in row.get("dynamic_feat") or []:
        if len(feat) < len(target):
            raise ClientError(f"Each dynamic_feat must be at least as long as target ({where}).")
    return {"start": row["start"], "target": target, "cat": list(row.get("cat") or [])}


def _windows(
    series: list[dict[str, Any]], ctx: int, n_cat: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    feats, ys = [], []
    for s in series:
        t = np.nan_to_num(
            s["target"], nan=np.nanmean(s["target"]) if np.isfinite(s["target"]).any() else 0.0
        )
        for end in range(ctx, len(t)):
            win = t[end - ctx : end]
            scale = np.mean(np.abs(win)) + 1.0
            feats.append(_features(win / scale, s["cat"], n_cat))
            ys.append(t[end] / scale)
    return np.array(feats), np.array(ys)


def _features(win_scaled: np.ndarray, cat: list[int], n_cat: list[int]) -> np.ndarray:
    onehots = []
    for j, n in enumerate(n_cat):
        v = np.zeros(n)
        if j < len(cat) and 0 <= int(cat[j]) < n:
            v[int(cat[j])] = 1.0
        onehots.append(v)
    return np.concatenate([win_scaled, *onehots]) if onehots else win_scaled


def train(env: TrainingEnv) -> None:
    """Fit the global autoregressive model; report test metrics when a test channel is given.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad series (missing fields, empty targets, series shorter than
            context_length + 1 everywhere).
    """
    from sklearn.linear_model import Ridge

    hps = _parse(dict(env.hyperparameters))
    ctx, horizon = int(hps["context_length"]), int(hps["prediction_length"])
    series = _read_series(env, "train")
    n_cat_feat = max((len(s["cat"]) for s in series), default=0)
    n_cat = [
        int(max((s["cat"][j] for s in series if len(s["cat"]) > j), default=0)) + 1
        for j in range(n_cat_feat)
    ]
    X, y = _windows(series, ctx, n_cat)
    if len(y) == 0:
        raise ClientError(
            f"No training series is longer than context_length={ctx}; DeepAR needs series with more "
            "observations than context_length."
        )
    reg = Ridge(alpha=1.0).fit(X, y)
    resid = float(np.std(y - reg.predict(X))) or 1e-3
    log(
        f"#quality_metric: host=algo-1, train final_loss <loss>={float(np.mean((y - reg.predict(X)) ** 2))}"
    )
    model = {
        "coef": reg.coef_,
        "intercept": np.array(reg.intercept_),
        "sigma": np.array(resid),
        "context_length": np.array(ctx),
        "prediction_length": np.array(horizon),
        "n_cat": np.array(n_cat, dtype=int),
        "time_freq": np.array(hps["time_freq"]),
    }
    if "test" in env.channels:
        rng = np.random.default_rng(seed_of(hps))
        errs, qloss_num, denom = [], {q: 0.0 for q in hps["test_quantiles"]}, 0.0
        for s in _read_series(env, "test"):
            if len(s["target"]) <= horizon:
                continue
            hist, truth = s["target"][:-horizon], s["target"][-horizon:]
            paths = _sample_paths(model, hist, s["cat"], int(hps["num_eval_samples"]), rng)
            errs.append((paths.mean(axis=0) - truth) ** 2)
            denom += float(np.sum(np.abs(truth)))
            for q in qloss_num:
                pred_q = np.quantile(paths, q, axis=0)
                diff = truth - pred_q
                qloss_num[q] += float(np.sum(2 * np.maximum(q * diff, (q - 1) * diff)))
        if errs:
            rmse = float(np.sqrt(np.mean(np.concatenate(errs))))
            wql = float(np.mean([v / max(denom, 1e-12) for v in qloss_num.values()]))
            for q, v in qloss_num.items():
                log(f"#test_score (algo-1, wQuantileLoss[{q}]): {v / max(denom, 1e-12)}")
            log(f"#test_score (algo-1, RMSE): {rmse}")
            log(f"#test_score (algo-1, mean_wQuantileLoss): {wql}")
    save_arrays(env.model_dir / MODEL_FILE, **model)


def _sample_paths(
    model: dict[str, Any], history: np.ndarray, cat: list[int], n: int, rng: np.random.Generator
) -> np.ndarray:
    ctx, horizon = int(model["context_length"]), int(model["prediction_length"])
    hist = np.nan_to_num(
        np.asarray(history, dtype=float),
        nan=float(np.nanmean(history)) if np.isfinite(history).any() else 0.0,
    )
    if len(hist) < ctx:
        hist = np.concatenate([np.full(ctx - len(hist), hist[0] if len(hist) else 0.0), hist])
    n_cat = [int(v) for v in model["n_cat"]]
    paths = np.tile(hist[-ctx:], (n, 1))
    out = np.zeros((n, horizon))
    for h in range(horizon):
        win = paths[:, -ctx:]
        scale = np.mean(np.abs(win), axis=1) + 1.0
        F = np.array([_features(w / s, cat, n_cat) for w, s in zip(win, scale, strict=True)])
        nxt = (
            F @ model["coef"]
            + float(model["intercept"])
            + rng.normal(scale=float(model["sigma"]), size=n)
        ) * scale
        out[:, h] = nxt
        paths = np.hstack([paths, nxt[:, None]])
    return out


def load(model_dir: Path) -> dict[str, Any]:
    """Load the model.

    Args:
        model_dir: the extracted artifact.

    Returns:
        The coefficients and settings.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Forecast ``prediction_length`` steps for each instance.

    Args:
        model: from :func:`load`.
        body: ``{"instances": [{"start", "target", "cat"?}], "configuration": {...}}``.
        content_type: ``application/json``.
        accept: ``application/json`` (default) or ``application/jsonlines``.

    Returns:
        ``{"predictions": [{"mean": [...], "quantiles": {...}, "samples": [...]}]}`` encoded.

    Raises:
        ClientError: a malformed request.
    """
    media, _ = parse_content_type(content_type or "application/json")
    if media not in ("application/json", "application/jsonlines"):
        raise ClientError(
            f"Content type {content_type} is not supported; DeepAR accepts application/json."
        )
    try:
        req = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ClientError(f"Unable to parse the request as JSON: {e}") from None
    if not isinstance(req, dict) or not isinstance(req.get("instances"), list):
        raise ClientError(
            'The request must be {"instances": [{"start": ..., "target": [...]}], "configuration": {...}}.'
        )
    cfg = req.get("configuration") or {}
    n = int(cfg.get("num_samples", 100))
    types = cfg.get("output_types", ["mean", "quantiles"])
    quantiles = [str(q) for q in cfg.get("quantiles", ["0.1", "0.5", "0.9"])]
    rng = np.random.default_rng(0)
    preds = []
    for i, inst in enumerate(req["instances"]):
        s = _check_series(inst, f"instance {i}", "request")
        paths = _sample_paths(model, s["target"], s["cat"], max(n, 1), rng)
        p: dict[str, Any] = {}
        if "mean" in types:
            p["mean"] = paths.mean(axis=0).tolist()
        if "quantiles" in types:
            p["quantiles"] = {q: np.quantile(paths, float(q), axis=0).tolist() for q in quantiles}
        if "samples" in types:
            p["samples"] = paths.tolist()
        preds.append(p)
    amedia, _ = parse_content_type(accept or "application/json")
    if amedia == "application/jsonlines":
        return "".join(json.dumps(p) + "\n" for p in preds).encode(), "application/jsonlines"
    return json.dumps({"predictions": preds}).encode(), "application/json"
