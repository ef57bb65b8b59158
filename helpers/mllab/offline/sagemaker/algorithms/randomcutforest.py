"""Random Cut Forest (the ``randomcutforest`` image), introduced in lab 03.

A real random cut forest in numpy: each of ``num_trees`` trees is built from a uniform random
sample of ``num_samples_per_tree`` training records; a node picks a dimension with
probability proportional to its range (max - min over the node's points) and cuts it at a
uniform random value inside that range, until a point is isolated (or the points are equal).

Score: the **depth-based** anomaly score, not AWS's collusive displacement (CoDisp). For a
record, each tree gives ``log2(num_samples_per_tree) / (depth + c(leaf_size))`` where
``c(n)`` is the expected extra depth of a leaf holding n points (the isolation-forest
correction); the score is the mean over trees. Typical records score near 1 and isolated
records higher; like AWS's score, "more than three standard deviations above the mean score"
is the usual anomaly rule, and :data:`THRESHOLD_SIGMAS` applies it for ``test:f1``.

Channels: ``train`` (``text/csv;label_size=0`` or recordIO-protobuf, no labels) and an
optional labelled ``test`` (``text/csv;label_size=1`` or recordIO with labels, 1 = anomaly),
which yields ``test:f1`` (plus precision, recall and accuracy). Serving answers
``{"scores": [{"score": 1.23}]}``.
"""

from __future__ import annotations

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

NAME = "randomcutforest"
MODEL_FILE = "model_algo-1"
THRESHOLD_SIGMAS = 3.0

HYPERPARAMETERS: list[HP] = [
    HP("feature_dim", "int", required=True, lo=1, hi=10000),
    HP("num_trees", "int", lo=50, hi=1000, default=100),
    HP("num_samples_per_tree", "int", lo=1, hi=2048, default=256),
    HP("eval_metrics", "str", default='["accuracy", "precision_recall_fscore"]'),
    HP("mini_batch_size", "int", lo=1),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
]

METRIC_DEFINITIONS = [
    aialgs_metric("test:f1"),
    aialgs_metric("test:precision"),
    aialgs_metric("test:recall"),
    aialgs_metric("test:accuracy"),
]


def _parse(hyperparameters: dict[str, str]) -> dict[str, Any]:
    from mllab.offline.sagemaker.algorithms.kmeans import parse_list

    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters)
    hps["eval_metrics"] = parse_list(
        hps["eval_metrics"], "eval_metrics", ["accuracy", "precision_recall_fscore"]
    )
    return hps


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what Random Cut Forest rejects at start-up.

    Args:
        hyperparameters: ``feature_dim`` required.
        channels: ``train`` (``text/csv;label_size=0`` or recordIO) and optional ``test``.

    Raises:
        ClientError: bad channel, ContentType (including a train CSV without label_size=0) or
            hyperparameter.
    """
    types = check_train_test_channels(channels, [CSV, RECORDIO], default=RECORDIO)
    for name, ch in channels.items():
        media, params = types[name]
        if name == "train" and media == CSV and params.get("label_size") != "0":
            raise ClientError(
                f"No iterator has been registered for ContentType ('{ch.get('ContentType')}', '1.0') "
                "for the train channel: Random Cut Forest trains on unlabelled data; use ContentType "
                "'text/csv;label_size=0'."
            )
    _parse(dict(hyperparameters))


# --------------------------------------------------------------------------- the forest


def _c(n: np.ndarray | float) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    big = n > 2
    out[big] = 2 * (np.log(n[big] - 1) + np.euler_gamma) - 2 * (n[big] - 1) / n[big]
    out[n == 2] = 1.0
    return out


def _build_tree(P: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Build one tree; returns flat arrays (dim, cut, left, right, size) with -1 for leaves."""
    dims: list[int] = []
    cuts: list[float] = []
    lefts: list[int] = []
    rights: list[int] = []
    sizes: list[int] = []

    def new(size: int) -> int:
        dims.append(-1)
        cuts.append(0.0)
        lefts.append(-1)
        rights.append(-1)
        sizes.append(size)
        return len(dims) - 1

    root = new(len(P))
    stack = [(root, np.arange(len(P)))]
    while stack:
        node, idx = stack.pop()
        if len(idx) <= 1:
            continue
        pts = P[idx]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = hi - lo
        total = span.sum()
        if total <= 0:
            continue  # identical points: a leaf holding all of them
        d = int(rng.choice(len(span), p=span / total))
        cut = float(rng.uniform(lo[d], hi[d]))
        go_left = pts[:, d] <= cut
        if go_left.all() or not go_left.any():
            go_left = pts[:, d] < cut
        li, ri = idx[go_left], idx[~go_left]
        if len(li) == 0 or len(ri) == 0:
            continue
        dims[node], cuts[node] = d, cut
        lefts[node] = new(len(li))
        rights[node] = new(len(ri))
        stack.append((lefts[node], li))
        stack.append((rights[node], ri))
    return (np.array(dims), np.array(cuts), np.array(lefts), np.array(rights), np.array(sizes))


def _depths(tree: tuple[np.ndarray, ...], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dims, cuts, lefts, rights, sizes = tree
    node = np.zeros(len(X), dtype=int)
    depth = np.zeros(len(X))
    active = dims[node] >= 0
    while active.any():
        a = np.flatnonzero(active)
        n = node[a]
        go_left = X[a, dims[n]] <= cuts[n]
        node[a] = np.where(go_left, lefts[n], rights[n])
        depth[a] += 1
        active = dims[node] >= 0
    return depth, sizes[node]


def _score(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    offs = model["offsets"]
    total = np.zeros(len(X))
    norm = math.log2(max(int(model["samples_per_tree"]), 2))
    for t in range(len(offs) - 1):
        s, e = offs[t], offs[t + 1]
        tree = (
            model["dim"][s:e],
            model["cut"][s:e],
            model["left"][s:e],
            model["right"][s:e],
            model["size"][s:e],
        )
        depth, leaf = _depths(tree, X)
        total += norm / (depth + _c(leaf) + 1.0)
    return total / (len(offs) - 1)


def train(env: TrainingEnv) -> None:
    """Build the forest, write ``model_algo-1``, report ``test:f1`` for a labelled test channel.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: bad data (header row, width other than feature_dim, labels in train).
    """
    hps = _parse(dict(env.hyperparameters))
    fd = int(hps["feature_dim"])
    media, params = aialgs_content_type(
        "train", env.content_type("train"), [CSV, RECORDIO], default=RECORDIO
    )
    if media == CSV and params.get("label_size") != "0":
        raise ClientError(
            "Random Cut Forest trains on unlabelled data; use ContentType 'text/csv;label_size=0'."
        )
    X, _ = load_table(env, "train", media, params, feature_dim=fd, default_label_size=0)
    rng = np.random.default_rng(seed_of(hps))
    n_trees, n_samp = int(hps["num_trees"]), min(int(hps["num_samples_per_tree"]), len(X))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("dim", "cut", "left", "right", "size")}
    offsets = [0]
    for _ in range(n_trees):
        sample = X[rng.choice(len(X), size=n_samp, replace=False)]
        tree = _build_tree(sample, rng)
        for key, arr in zip(parts, tree, strict=True):
            parts[key].append(arr)
        offsets.append(offsets[-1] + len(tree[0]))
    model = {k: np.concatenate(v) for k, v in parts.items()}
    model["offsets"] = np.array(offsets)
    model["samples_per_tree"] = np.array(n_samp)
    train_scores = _score(model, X)
    model["score_mean"] = np.array(train_scores.mean())
    model["score_std"] = np.array(train_scores.std())
    model["feature_dim"] = np.array(fd)
    log(f"#progress_metric: host=algo-1, built {n_trees} trees of {n_samp} samples each")
    log(f"Train score mean={float(model['score_mean'])}, std={float(model['score_std'])}")
    if "test" in env.channels:
        tm, tp = aialgs_content_type(
            "test", env.content_type("test"), [CSV, RECORDIO], default=RECORDIO
        )
        Xt, yt = load_table(env, "test", tm, tp, feature_dim=fd, default_label_size=1)
        if yt is not None:
            threshold = float(model["score_mean"] + THRESHOLD_SIGMAS * model["score_std"])
            pred = _score(model, Xt) > threshold
            pos = yt == 1
            tp_ = float(np.sum(pred & pos))
            prec = tp_ / max(float(pred.sum()), 1.0)
            rec = tp_ / max(float(pos.sum()), 1.0)
            f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
            if "precision_recall_fscore" in hps["eval_metrics"]:
                emit_metric("test:f1", f1)
                emit_metric("test:precision", prec)
                emit_metric("test:recall", rec)
            if "accuracy" in hps["eval_metrics"]:
                emit_metric("test:accuracy", float(np.mean(pred == pos)))
        elif parse_content_type(env.content_type("test"))[0] == CSV:
            log("The test channel has no labels: no test metrics")
    save_arrays(env.model_dir / MODEL_FILE, **model)


def load(model_dir: Path) -> dict[str, Any]:
    """Load the forest.

    Args:
        model_dir: the extracted artifact.

    Returns:
        The forest's flat arrays.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Score records.

    Args:
        model: from :func:`load`.
        body: CSV (features only), JSON, JSON Lines or recordIO-protobuf.
        content_type: the request's ContentType.
        accept: JSON (default), JSON Lines or recordIO-protobuf.

    Returns:
        ``{"scores": [{"score": x}]}`` encoded.

    Raises:
        ClientError: bad body or feature count.
    """
    X = parse_features_request(body, content_type, int(model["feature_dim"]))
    return encode_response("scores", [{"score": float(s)} for s in _score(model, X)], accept)
