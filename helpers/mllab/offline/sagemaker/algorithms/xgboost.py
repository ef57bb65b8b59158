"""XGBoost in algorithm mode (the ``sagemaker-xgboost`` image), introduced in lab 03.

This emulation runs the real ``xgboost`` package with the hyperparameters passed through, so a
model trained offline predicts exactly what ``xgboost.train`` with the same parameters on the
same data predicts. Around it, it keeps what the container does:

* channels ``train`` (required), ``validation`` and ``code``; ContentType ``libsvm`` (the
  default when none is given), ``csv`` (no header, label in the first column, optional weight
  column second with ``csv_weights=1``), ``parquet`` (label first) and recordIO-protobuf;
* the container's hyperparameter names, aliases, ranges and messages
  (``Missing required hyperparameter: num_round``, ``Extraneous hyperparameter found: x``,
  ``Hyperparameter eta: 2 is not in [0, 1]``, ``Require input for parameter 'num_class' for
  multi-classification``);
* evaluation log lines ``[3]#011train-auc:0.91#011validation-auc:0.88`` (the ``#011`` is the
  tab character as CloudWatch Logs shows the container's output), the metrics the container
  adds beyond xgboost's own (accuracy, f1, mse, r2, precision, recall, ... computed with
  scikit-learn), early stopping on the last validation metric, ``_tuning_objective_metric``;
* checkpoints ``xgboost-checkpoint.<round>`` in the checkpoint folder every round (the five
  newest kept) and a resume from the newest one found there (managed spot training);
* the model file ``xgboost-model`` (``Booster.save_model``), loadable with
  ``xgboost.Booster().load_model``;
* hosting: ``text/csv``, ``text/libsvm`` and recordIO-protobuf requests; ``text/csv``
  responses (comma-separated on one line for real-time, one per line when ``SAGEMAKER_BATCH``
  is set, as in the container), ``application/json`` ``{"predictions": [{"score": p}]}``,
  ``application/jsonlines`` and recordIO-protobuf.

Differences from AWS: one host only (no distributed/dask training, no Pipe-mode streaming; Pipe
channels are read as files); GPU tree methods fall back to ``hist`` on CPU; k-fold
(``_kfold``) is accepted but not run; selectable inference output
(``SAGEMAKER_INFERENCE_OUTPUT``) is read from the process environment only.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    HP,
    log,
    opt_ml,
    parse_content_type,
    read_csv,
    read_recordio,
    require_files,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import AlgorithmError, ClientError, TrainingEnv

# The container's model file has no extension; xgboost warns about guessing the format on
# every save and load. The real container's logs do not show that, so neither do ours.
warnings.filterwarnings("ignore", message=r".*(UBJSON format as default|Unknown file format).*")

NAME = "xgboost"
MODEL_FILE = "xgboost-model"
CHECKPOINT_PREFIX = "xgboost-checkpoint"
CHECKPOINTS_TO_KEEP = 5

MAXIMIZE_METRICS = [
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "precision_macro",
    "precision_micro",
    "r2",
    "recall",
    "recall_macro",
    "recall_micro",
]
MINIMIZE_METRICS = [
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
]
# Computed by the container (with scikit-learn), not by xgboost itself.
CUSTOM_METRICS = {
    "accuracy",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "mse",
    "precision",
    "precision_macro",
    "precision_micro",
    "r2",
    "recall",
    "recall_macro",
    "recall_micro",
}

_NUM = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": f"{ch}:{m}", "Regex": f".*\\[[0-9]+\\].*#011{ch}-{re.escape(m)}:{_NUM}"}
    for ch in ("train", "validation")
    for m in MAXIMIZE_METRICS + MINIMIZE_METRICS
]

OBJECTIVES = [
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "reg:linear",
    "reg:squarederror",
    "reg:logistic",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:absoluteerror",
    "reg:quantileerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
]

HYPERPARAMETERS: list[HP] = [
    HP("num_round", "int", required=True, lo=1),
    HP("csv_weights", "int", lo=0, hi=1),
    HP("early_stopping_rounds", "int", lo=1),
    HP("booster", "cat", choices=["gbtree", "gblinear", "dart"]),
    HP("verbosity", "int", lo=0, hi=3),
    HP("nthread", "int", lo=1),
    HP("eta", "float", lo=0, hi=1, aliases=("learning_rate",)),
    HP("gamma", "float", lo=0, aliases=("min_split_loss",)),
    HP("max_depth", "int", lo=0),
    HP("min_child_weight", "float", lo=0),
    HP("max_delta_step", "float", lo=0),
    HP("subsample", "float", lo=0, lo_open=True, hi=1),
    HP("colsample_bytree", "float", lo=0, lo_open=True, hi=1),
    HP("colsample_bylevel", "float", lo=0, lo_open=True, hi=1),
    HP("colsample_bynode", "float", lo=0, lo_open=True, hi=1),
    HP("lambda", "float", lo=0, aliases=("reg_lambda",)),
    HP("alpha", "float", lo=0, aliases=("reg_alpha",)),
    HP("tree_method", "cat", choices=["auto", "exact", "approx", "hist", "gpu_hist"]),
    HP("sketch_eps", "float", lo=0, lo_open=True, hi=1, hi_open=True),
    HP("scale_pos_weight", "float", lo=0, lo_open=True),
    HP("updater", "str"),
    HP("dsplit", "cat", choices=["row", "col"]),
    HP("refresh_leaf", "int", lo=0, hi=1),
    HP("process_type", "cat", choices=["default", "update"]),
    HP("grow_policy", "cat", choices=["depthwise", "lossguide"]),
    HP("max_leaves", "int", lo=0),
    HP("max_bin", "int", lo=0),
    HP("predictor", "cat", choices=["auto", "cpu_predictor", "gpu_predictor"]),
    HP("monotone_constraints", "str"),
    HP("interaction_constraints", "str"),
    HP("sample_type", "cat", choices=["uniform", "weighted"]),
    HP("normalize_type", "cat", choices=["tree", "forest"]),
    HP("rate_drop", "float", lo=0, hi=1),
    HP("one_drop", "int", lo=0, hi=1),
    HP("skip_drop", "float", lo=0, hi=1),
    HP("lambda_bias", "float", lo=0, hi=1),
    HP("tweedie_variance_power", "float", lo=1, lo_open=True, hi=2, hi_open=True),
    HP("objective", "cat", choices=OBJECTIVES, default="reg:squarederror"),
    HP("num_class", "int", lo=2),
    HP("base_score", "float", lo=0),
    HP("_kfold", "int", lo=2),
    HP("_num_cv_round", "int", lo=1),
    HP("eval_metric", "list"),
    HP("seed", "int", lo=-(2**31), lo_open=True, hi=2**31 - 1, hi_open=True),
    HP("num_parallel_tree", "int", lo=1),
    HP("save_model_on_termination", "cat", choices=["true", "false"]),
    HP("aft_loss_distribution", "cat", choices=["normal", "logistic", "extreme"]),
    HP("aft_loss_distribution_scale", "float", lo=0),
    HP("deterministic_histogram", "cat", choices=["true", "false"]),
    HP("sampling_method", "cat", choices=["uniform", "gradient_based"]),
    HP("single_precision_histogram", "cat", choices=["true", "false"]),
    HP("max_cat_to_onehot", "int", lo=1),
    HP("huber_slope", "float"),
    HP("quantile_alpha", "str"),
    HP("use_dask_gpu_training", "cat", choices=["true", "false"]),
]

# Hyperparameters the container consumes itself (not xgboost parameters).
_CONTAINER_ONLY = {
    "num_round",
    "csv_weights",
    "early_stopping_rounds",
    "_kfold",
    "_num_cv_round",
    "save_model_on_termination",
    "use_dask_gpu_training",
    "_tuning_objective_metric",
}

# ContentType spellings the container accepts, and the format each means.
_CONTENT_TYPES = {
    "csv": "csv",
    "text/csv": "csv",
    "libsvm": "libsvm",
    "text/libsvm": "libsvm",
    "text/x-libsvm": "libsvm",
    "parquet": "parquet",
    "application/x-parquet": "parquet",
    "recordio-protobuf": "recordio-protobuf",
    "application/x-recordio-protobuf": "recordio-protobuf",
}
_VALID_LIST = (
    "csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, "
    "application/x-parquet, application/x-recordio-protobuf"
)
_PIPE_OK = {"csv", "parquet", "recordio-protobuf"}


def content_format(content_type: str | None) -> str:
    """The data format a ContentType means to the container (``libsvm`` when None).

    Args:
        content_type: the channel's or request's ContentType.

    Returns:
        ``csv``, ``libsvm``, ``parquet`` or ``recordio-protobuf``.

    Raises:
        ClientError: an unknown type, or ``label_size`` other than 1 for CSV.
    """
    if content_type is None:
        return "libsvm"
    media, params = parse_content_type(content_type)
    fmt = _CONTENT_TYPES.get(media)
    if fmt is None:
        raise ClientError(f"{content_type} is not an accepted ContentType: {_VALID_LIST}.")
    if fmt == "csv" and "label_size" in params and params["label_size"] != "1":
        raise ClientError(
            f"{content_type} is not an accepted csv ContentType. Optional parameter label_size must "
            "be equal to 1"
        )
    return fmt


# --------------------------------------------------------------------------- validation


def _validate_hps(hyperparameters: dict[str, str]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters, dialect="toolkit")
    objective = hps["objective"]
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in hps:
        raise ClientError("Require input for parameter 'num_class' for multi-classification")
    for metric in hps.get("eval_metric", []):
        if "<function" in metric:
            raise ClientError(f"User defined evaluation metric {metric} is not supported yet.")
        if "@" in metric:
            name, threshold = (s.strip() for s in metric.split("@", 1))
            if name not in ("error", "ndcg", "map"):
                raise ClientError(
                    f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized "
                    "threshold should be one of these options: 'error', 'ndcg', 'map'."
                )
            try:
                float(threshold.rstrip("-"))
            except ValueError:
                raise ClientError(
                    f"Threshold value 't' in '{name}@t' expects float input."
                ) from None
        elif metric not in MAXIMIZE_METRICS + MINIMIZE_METRICS:
            raise ClientError(
                f"Hyperparameter eval_metric: value {hps['eval_metric']} not in range "
                f"{MAXIMIZE_METRICS + MINIMIZE_METRICS}"
            )
    if "auc" in hps.get("eval_metric", []) and not objective.startswith(("binary:", "rank:")):
        raise ClientError(
            "Metric 'auc' can only be applied for classification and ranking problems."
        )
    if "aft-nloglik" in hps.get("eval_metric", []) and objective != "survival:aft":
        raise ClientError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    if "monotone_constraints" in hps and hps.get("tree_method") not in ("exact", "hist"):
        raise ClientError(
            "monotone_constraints can be used only when the tree_method parameter is set to either "
            "'exact' or 'hist'."
        )
    tuning = hyperparameters.get("_tuning_objective_metric")
    if tuning is not None:
        names = [d["Name"] for d in METRIC_DEFINITIONS if d["Name"].startswith("validation:")]
        if tuning not in names:
            raise ClientError(
                f"Hyperparameter _tuning_objective_metric: {tuning} is not in {names}"
            )
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what the XGBoost container rejects before training starts.

    Args:
        hyperparameters: the job's HyperParameters (strings).
        channels: channel name -> InputDataConfig entry.

    Raises:
        ClientError: missing ``train`` channel, unknown channel, unsupported ContentType or
            input mode, or an invalid hyperparameter (the container's wording).
    """
    if "train" not in channels:
        raise ClientError("Missing required channel: train")
    for name, ch in channels.items():
        if name not in ("train", "validation", "code"):
            raise ClientError(f"Extraneous channel found: {name}")
        raw = ch.get("ContentType") or "text/libsvm"
        mode = ch.get("InputMode") or ch.get("TrainingInputMode") or "File"
        dist = ((ch.get("DataSource") or {}).get("S3DataSource") or {}).get(
            "S3DataDistributionType", "FullyReplicated"
        )
        if name == "code":
            ok = raw == "text/python"
        else:
            media, _ = parse_content_type(raw)
            if media in _CONTENT_TYPES:
                content_format(raw)  # text/csv;label_size=N with N != 1 fails as the container does
            ok = media in _CONTENT_TYPES and (
                mode in ("File", "FastFile") or _CONTENT_TYPES[media] in _PIPE_OK
            )
        if not ok:
            shown = {"ContentType": raw, "TrainingInputMode": mode, "S3DistributionType": dist}
            if name != "code" and parse_content_type(raw)[0] not in _CONTENT_TYPES:
                # the container would name the config; add what to change
                raise ClientError(
                    f"Channel configuration for '{name}' channel is not supported: {shown}. "
                    f"ContentType must be one of: {_VALID_LIST}."
                )
            raise ClientError(
                f"Channel configuration for '{name}' channel is not supported: {shown}"
            )
    _validate_hps(dict(hyperparameters))


# --------------------------------------------------------------------------- data


def _libsvm_error(line: str, path: Path, env: TrainingEnv | None) -> ClientError:
    name = path.name
    return ClientError(
        f"First line '{line[:50]}...' of file '{name}' is not 'LIBSVM' format. Please ensure the file "
        "is in 'LIBSVM' format. (Without a ContentType the XGBoost algorithm reads LIBSVM; for CSV "
        "set ContentType 'text/csv'.)"
    )


def _parse_libsvm_lines(
    lines: list[str], path: Path | None = None
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    import scipy.sparse as sp

    rows, cols, vals, labels, weights = [], [], [], [], []
    has_weight = False
    r = 0
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        head = parts[0].split(":")
        try:
            if len(head) > 2:
                raise ValueError
            labels.append(float(head[0]))
            if len(head) == 2:
                weights.append(float(head[1]))
                has_weight = True
            else:
                weights.append(1.0)
            for item in parts[1:]:
                if item.startswith("qid:"):
                    continue
                k, v = item.split(":")
                cols.append(int(k))
                vals.append(float(v))
                rows.append(r)
        except ValueError:
            raise _libsvm_error(line, path or Path("payload"), None) from None
        r += 1
    n_cols = (max(cols) + 1) if cols else 0
    X = sp.csr_matrix((vals, (rows, cols)), shape=(r, n_cols), dtype=np.float32)
    return X, np.asarray(labels), (np.asarray(weights) if has_weight else None)


def _load_channel(env: TrainingEnv, channel: str, fmt: str, csv_weights: int) -> Any:
    """Build the channel's DMatrix as the container does."""
    import xgboost as xgb

    if fmt == "csv":
        data = read_csv(env, channel, dialect="toolkit")
        if csv_weights == 1:
            if data.shape[1] < 3:
                raise ClientError(
                    "Failed to load csv data with exception: csv_weights=1 needs a label column, a "
                    "weight column and at least one feature column."
                )
            return xgb.DMatrix(data[:, 2:], label=data[:, 0], weight=data[:, 1])
        return xgb.DMatrix(data[:, 1:], label=data[:, 0])
    if fmt == "libsvm":
        import scipy.sparse as sp

        mats, labels, weights = [], [], []
        any_weight = False
        for path in require_files(env, channel):
            lines = path.read_text(errors="replace").splitlines()
            X, y, w = _parse_libsvm_lines(lines, path)
            mats.append(X)
            labels.append(y)
            weights.append(w if w is not None else np.ones(len(y)))
            any_weight = any_weight or w is not None
        width = max(m.shape[1] for m in mats)
        X = sp.vstack([sp.csr_matrix(m, shape=(m.shape[0], width)) for m in mats]).tocsr()
        if X.shape[0] == 0:
            raise ClientError(f"No data found in channel '{channel}': its files contain no rows.")
        return xgb.DMatrix(
            X, label=np.concatenate(labels), weight=np.concatenate(weights) if any_weight else None
        )
    if fmt == "parquet":
        import pandas as pd

        frames = []
        for path in require_files(env, channel):
            try:
                frames.append(pd.read_parquet(path))
            except Exception as e:  # noqa: BLE001 - the container wraps every failure
                raise ClientError(f"Failed to load parquet data with exception:\n{e}") from None
        data = pd.concat(frames).to_numpy(dtype=np.float64)
        return xgb.DMatrix(data[:, 1:], label=data[:, 0])
    X, y_opt = read_recordio(env, channel)
    if y_opt is None:
        raise ClientError(f"Channel '{channel}' has no labels: each record needs label['values'].")
    return xgb.DMatrix(X, label=y_opt)


# --------------------------------------------------------------------------- metrics


def _custom_metric(name: str, objective: str, preds: np.ndarray, labels: np.ndarray) -> float:
    from sklearn import metrics as skm

    if name in ("mse", "r2"):
        return float(
            skm.mean_squared_error(labels, preds) if name == "mse" else skm.r2_score(labels, preds)
        )
    if preds.ndim == 2:
        pred_labels = np.argmax(preds, axis=1)
    elif objective.startswith("multi:softmax"):
        pred_labels = preds
    elif objective in ("binary:logitraw",):
        pred_labels = (preds > 0).astype(int)
    else:
        pred_labels = (preds > 0.5).astype(int)
    fn = {
        "accuracy": lambda: skm.accuracy_score(labels, pred_labels),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(labels, pred_labels),
        "f1": lambda: skm.f1_score(
            labels,
            pred_labels,
            average="binary" if preds.ndim == 1 and not objective.startswith("multi") else "macro",
        ),
        "f1_binary": lambda: skm.f1_score(labels, pred_labels, average="binary"),
        "f1_macro": lambda: skm.f1_score(labels, pred_labels, average="macro"),
        "precision": lambda: skm.precision_score(labels, pred_labels, zero_division=0),
        "precision_macro": lambda: skm.precision_score(
            labels, pred_labels, average="macro", zero_division=0
        ),
        "precision_micro": lambda: skm.precision_score(
            labels, pred_labels, average="micro", zero_division=0
        ),
        "recall": lambda: skm.recall_score(labels, pred_labels, zero_division=0),
        "recall_macro": lambda: skm.recall_score(
            labels, pred_labels, average="macro", zero_division=0
        ),
        "recall_micro": lambda: skm.recall_score(
            labels, pred_labels, average="micro", zero_division=0
        ),
    }[name]
    try:
        return float(fn())
    except ValueError as e:
        raise ClientError(f"Failed to compute metric '{name}': {e}") from None


def _fmt(v: float) -> str:
    return f"{v:.5f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:g}"


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = re.fullmatch(rf"{CHECKPOINT_PREFIX}\.(\d+)", p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


# --------------------------------------------------------------------------- training


def train(env: TrainingEnv) -> None:
    """Train as the container does and write ``xgboost-model`` into the model folder.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad hyperparameters or data (wrong format, header row, empty channel,
            labels out of range for the objective).
        AlgorithmError: xgboost failed for another reason.
    """
    import xgboost as xgb

    hps = _validate_hps(dict(env.hyperparameters))
    fmt = content_format(env.content_type("train"))
    if "validation" in env.channels:
        vfmt = content_format(env.content_type("validation"))
        if vfmt != fmt:
            raise ClientError(
                f"Content type of the validation channel ({vfmt}) differs from the train channel "
                f"({fmt}); both channels must use the same format."
            )
    csv_weights = int(hps.get("csv_weights", 0))
    dtrain = _load_channel(env, "train", fmt, csv_weights)
    evals = [(dtrain, "train")]
    dval = None
    if "validation" in env.channels:
        dval = _load_channel(env, "validation", fmt, csv_weights)
        if dval.num_col() != dtrain.num_col() and fmt != "libsvm":
            raise ClientError(
                f"Feature size of validation data {dval.num_col()} is not consistent with the "
                f"train data {dtrain.num_col()}."
            )
        evals.append((dval, "validation"))

    params: dict[str, Any] = {
        k: v for k, v in hps.items() if k not in _CONTAINER_ONLY and k != "eval_metric"
    }
    if params.get("objective") == "reg:linear":
        log("WARNING: objective reg:linear is deprecated; using reg:squarederror")
        params["objective"] = "reg:squarederror"
    if params.get("tree_method") == "gpu_hist":
        log("WARNING: no GPU offline; tree_method gpu_hist runs as hist on CPU")
        params["tree_method"] = "hist"
    for k in ("monotone_constraints", "interaction_constraints"):
        if k in params:
            params[k] = str(params[k])
    if "updater" in params:
        params["updater"] = str(params["updater"])
    for k in ("deterministic_histogram", "single_precision_histogram"):
        params.pop(k, None)
    params.setdefault("nthread", max(1, env.num_cpus))
    objective = params.get("objective", "reg:squarederror")
    _check_labels(dtrain.get_label(), objective, hps.get("num_class"))

    eval_metrics = list(hps.get("eval_metric", []))
    tuning = env.hyperparameters.get("_tuning_objective_metric")
    if tuning and tuning.split(":", 1)[1] not in eval_metrics:
        eval_metrics.append(tuning.split(":", 1)[1])
    native = [m for m in eval_metrics if m.split("@")[0] not in CUSTOM_METRICS or m == "mse"]
    native = [m for m in native if m != "mse"]
    custom = [m for m in eval_metrics if m not in native]
    if native:
        params["eval_metric"] = native
    elif custom:
        params["disable_default_eval_metric"] = 1

    num_round = int(hps["num_round"])
    start = 0
    xgb_model = None
    ckpt_dir = env.checkpoint_dir
    found = _checkpoints(ckpt_dir)
    for it, path in reversed(found):
        try:
            booster = xgb.Booster()
            booster.load_model(str(path))
        except xgb.core.XGBoostError:
            continue
        xgb_model, start = booster, it + 1
        log(f"Checkpoint loaded from {opt_ml(env, path)}")
        log(f"Resuming from iteration {start}")
        break

    early = hps.get("early_stopping_rounds")
    if early and dval is None:
        log("WARNING: early_stopping_rounds is set but there is no validation channel; ignoring it")
        early = None
    order = [m for m in eval_metrics] if eval_metrics else None

    class _Monitor(xgb.callback.TrainingCallback):
        """Print the container's evaluation line, add its custom metrics, checkpoint, stop early."""

        def __init__(self) -> None:
            self.best: float | None = None
            self.best_iter = -1
            self.best_line = ""
            self.stop_metric: str | None = None

        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            it = start + epoch
            pieces: list[tuple[str, str, float]] = []
            for dm, name in evals:
                native_log = evals_log.get(name, {})
                metrics_here = order or list(native_log)
                for m in metrics_here:
                    if m in native_log:
                        pieces.append((name, m, float(native_log[m][-1])))
                    elif m in custom:
                        preds = model.predict(dm, iteration_range=(0, it + 1))
                        pieces.append(
                            (name, m, _custom_metric(m, objective, preds, dm.get_label()))
                        )
                for m, values in native_log.items():
                    if m not in metrics_here:
                        pieces.append((name, m, float(values[-1])))
            line = f"[{it}]" + "".join(f"#011{n}-{m}:{_fmt(v)}" for n, m, v in pieces)
            log(line)
            if ckpt_dir.is_dir():
                tmp = ckpt_dir / f".{CHECKPOINT_PREFIX}.{it}.sagemaker-ignore"
                model.save_model(str(tmp))
                tmp.replace(ckpt_dir / f"{CHECKPOINT_PREFIX}.{it}")
                for old_it, old in _checkpoints(ckpt_dir):
                    if old_it <= it - CHECKPOINTS_TO_KEEP:
                        old.unlink(missing_ok=True)
            if early:
                vals = [(m, v) for n, m, v in pieces if n == "validation"]
                if not vals:
                    return False
                m, v = vals[-1]
                if self.stop_metric is None:
                    self.stop_metric = m
                    log(f"Will train until validation-{m} hasn't improved in {early} rounds.")
                maximize = m.split("@")[0] in MAXIMIZE_METRICS
                better = self.best is None or (v > self.best if maximize else v < self.best)
                if better:
                    self.best, self.best_iter, self.best_line = v, it, line
                    model.set_attr(best_iteration=str(it), best_score=str(v))
                elif it - self.best_iter >= early:
                    log("Stopping. Best iteration:")
                    log(self.best_line)
                    return True
            return False

    monitor = _Monitor()
    try:
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=max(0, num_round - start),
            evals=evals,
            verbose_eval=False,
            xgb_model=xgb_model,
            callbacks=[monitor],
        )
    except xgb.core.XGBoostError as e:
        msg = str(e).splitlines()[0] if str(e) else repr(e)
        if any(s in str(e) for s in ("label must be", "Check failed", "base_score", "nonnegative")):
            raise ClientError(f"XGBoost training failed: {msg}") from None
        raise AlgorithmError(f"XGBoost training failed: {msg}") from None
    env.model_dir.mkdir(parents=True, exist_ok=True)
    out = env.model_dir / MODEL_FILE
    tmp = env.model_dir / (MODEL_FILE + ".json")
    booster.save_model(str(tmp))
    tmp.replace(out)


def _check_labels(labels: np.ndarray, objective: str, num_class: int | None) -> None:
    if labels.size == 0:
        raise ClientError("No data found in channel 'train': it contains no rows.")
    if objective in ("binary:logistic", "binary:logitraw", "reg:logistic", "binary:hinge"):
        if labels.min() < 0 or labels.max() > 1:
            raise ClientError(
                "label must be in [0,1] for logistic regression. Check that the label is the first "
                "column of the data."
            )
    if objective.startswith("multi:") and num_class:
        if labels.min() < 0 or labels.max() >= num_class or not np.all(labels == np.round(labels)):
            raise ClientError(
                "label must be in [0, num_class). Labels must be integers 0..num_class-1 in the "
                "first column."
            )
    if objective in ("count:poisson", "reg:tweedie") and labels.min() < 0:
        raise ClientError(f"Check failed: label_correct {objective}: label must be nonnegative")


# --------------------------------------------------------------------------- hosting


def load(model_dir: Path) -> Any:
    """Load the booster from ``model_dir/xgboost-model`` (or the only file there).

    Args:
        model_dir: the extracted model artifact.

    Returns:
        A dict with the booster, its objective and its number of features.

    Raises:
        ClientError: no loadable model in the folder.
    """
    import xgboost as xgb

    model_dir = Path(model_dir)
    candidates = (
        [model_dir / MODEL_FILE]
        if (model_dir / MODEL_FILE).exists()
        else sorted(p for p in model_dir.iterdir() if p.is_file())
    )
    errors = []
    for path in candidates:
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as e:
            try:
                import pickle

                with open(path, "rb") as fh:
                    booster = pickle.load(fh)  # noqa: S301 - the learner's own artifact
            except Exception:  # noqa: BLE001
                errors.append(f"{path.name}: {e}")
                continue
        config = json.loads(booster.save_config())
        objective = config["learner"]["objective"]["name"]
        best = booster.attr("best_iteration")
        return {
            "booster": booster,
            "objective": objective,
            "num_features": booster.num_features(),
            "num_class": int(config["learner"]["learner_model_param"].get("num_class", "0") or 0),
            "best_iteration": int(best) if best is not None else None,
        }
    raise ClientError(
        f"Unable to load model: no XGBoost model in the artifact ({'; '.join(errors)})"
    )


def _request_matrix(body: bytes, fmt: str, num_features: int) -> np.ndarray | Any:
    if fmt == "csv":
        text = body.strip().decode("utf-8", errors="replace")
        try:
            rows = [
                [float(c) if c.strip() != "" else np.nan for c in ln.split(",")]
                for ln in text.split("\n")
            ]
            X = np.array(rows, dtype=np.float64)
        except ValueError as e:
            raise ClientError(
                "Loading csv data failed with Exception, please ensure data is in csv format:\n "
                f"<class 'ValueError'>\n {e}"
            ) from None
        if X.ndim != 2:
            raise ClientError(
                "Loading csv data failed with Exception, please ensure data is in csv format:\n "
                "<class 'ValueError'>\n rows have different numbers of values"
            )
        y = X.shape[1]
        if not (num_features == y or num_features == y + 1):
            raise ClientError(
                f"Feature size of csv inference data {y} is not consistent with feature size of "
                f"trained model {num_features}."
            )
        return X
    if fmt == "libsvm":
        text = body.strip().decode("utf-8", errors="replace")
        lines = [
            ("0 " + ln) if ln.strip() and ":" in ln.split()[0] else ln for ln in text.split("\n")
        ]
        try:
            X, _, _ = _parse_libsvm_lines(lines)
        except ClientError:
            raise ClientError(
                "Loading libsvm data failed with Exception, please ensure data is in libsvm format"
            ) from None
        if X.shape[1] > num_features + 1:
            raise ClientError(
                f"Feature size of libsvm inference data {X.shape[1]} is larger than feature size of "
                f"trained model {num_features}."
            )
        return X
    if fmt == "recordio-protobuf":
        from mllab.formats import recordio

        try:
            X, _ = recordio.to_numpy(body)
        except recordio.RecordIOError as e:
            raise ClientError(
                "Loading recordio-protobuf data failed with Exception, please ensure data is in "
                f"recordio-protobuf format: <class 'ValueError'> {e}"
            ) from None
        if not (num_features == X.shape[1] or num_features == X.shape[1] + 1):
            raise ClientError(
                f"Feature size of recordio-protobuf inference data {X.shape[1]} is not consistent "
                f"with feature size of trained model {num_features}."
            )
        return X
    raise ClientError(f"Content type {fmt} is not supported.")


def predict(model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """Answer one invocation as the XGBoost container does.

    Args:
        model: what :func:`load` returned.
        body: the request body.
        content_type: ``text/csv`` (default), ``text/libsvm`` or recordIO-protobuf.
        accept: ``text/csv`` (default), ``application/json``, ``application/jsonlines`` or
            recordIO-protobuf.

    Returns:
        ``(response body, content type)``; probabilities for ``binary:logistic``, class
        probability rows for ``multi:softprob``.

    Raises:
        ClientError: unsupported content type, unparsable body (e.g. a header row) or a feature
            count that does not match the model.
    """
    import scipy.sparse as sp
    import xgboost as xgb

    if not body:
        raise ClientError("The request body is empty (the container answers 204 No Content).")
    fmt = content_format(content_type or "text/csv")
    if fmt == "parquet":
        raise ClientError(
            f"Content-type {content_type} not supported. Supported content-type is text/csv, "
            "text/libsvm, application/x-recordio-protobuf"
        )
    n = int(model["num_features"])
    X = _request_matrix(body, fmt, n)
    if X.shape[1] < n:
        if sp.issparse(X):
            X = sp.csr_matrix(X, shape=(X.shape[0], n))
        else:
            X = np.hstack([X, np.full((X.shape[0], n - X.shape[1]), np.nan)])
    elif X.shape[1] > n:
        X = X[:, :n]
    # Small requests predict on one thread: starting the thread pool costs more than it saves.
    threads = 1 if X.shape[0] < 10_000 else max(1, os.cpu_count() or 1)
    dm = xgb.DMatrix(X, nthread=threads)
    booster = model["booster"]
    booster.set_param({"nthread": threads})
    best = model.get("best_iteration")
    rng = (0, best + 1) if best is not None else (0, 0)
    preds = booster.predict(dm, iteration_range=rng, validate_features=False)
    return _encode(preds, accept)


def _encode(preds: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    media, _ = parse_content_type(accept or "text/csv")
    values = preds.tolist()
    if media in ("text/csv", "csv", "*/*", ""):
        if os.environ.get("SAGEMAKER_BATCH"):
            return ("\n".join(map(str, values)) + "\n").encode(), "text/csv"
        return ",".join(map(str, values)).encode(), "text/csv"
    if media in ("application/json", "json"):
        return json.dumps(
            {"predictions": [{"score": v} for v in values]}
        ).encode(), "application/json"
    if media in ("application/jsonlines", "application/jsonl"):
        return "".join(
            json.dumps({"score": v}) + "\n" for v in values
        ).encode(), "application/jsonlines"
    if media == "application/x-recordio-protobuf":
        from mllab.formats import recordio

        recs = [
            {
                "label": {
                    "score": {
                        "type": "float32",
                        "values": np.atleast_1d(np.asarray(v, dtype=np.float32)),
                    }
                }
            }
            for v in values
        ]
        return recordio.write_records(recs), media
    raise ClientError(
        f"{accept} is not an accepted Accept type. Please choose one of the following: "
        "['text/csv', 'application/json', 'application/jsonlines', 'application/x-recordio-protobuf']."
    )
