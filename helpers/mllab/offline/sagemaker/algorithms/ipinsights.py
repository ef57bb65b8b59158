"""IP Insights (the ``ipinsights`` image), introduced in lab 03.

Training data: CSV with two columns, ``entity,IPv4`` and no header, in ``train`` (and an
optional ``validation``). Entities are hashed into ``num_entity_vectors`` buckets, IPs into
buckets of their /24 prefix and full address; both get ``vector_dim`` embeddings trained to
give observed pairs a high dot product and random pairs (``random_negative_sampling_rate``
negatives per positive, plus ``shuffled_negative_sampling_rate`` shuffled ones) a low one,
with logistic loss and Adam. ``validation:discriminator_auc`` is the AUC of telling the
validation pairs from shuffled negatives. Serving: CSV ``entity,ip`` (or JSON
``{"instances": [{"data": {"features": {"values": ["user", "1.2.3.4"]}}}]}``) to
``{"predictions": [{"dot_product": 2.3}]}``.

Differences from AWS: a small numpy model on one host; AWS's IP encoder is a learned network
over the address bits, approximated here by the two hashed embeddings.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    CSV,
    HP,
    aialgs_content_type,
    check_channels,
    emit_metric,
    encode_response,
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

NAME = "ipinsights"
MODEL_FILE = "model_algo-1"
IP_BUCKETS = 2**16

HYPERPARAMETERS: list[HP] = [
    HP("num_entity_vectors", "int", required=True, lo=1, hi=250_000_000),
    HP("vector_dim", "int", required=True, lo=4, hi=4096),
    HP("batch_metrics_publish_interval", "int", lo=1, default=1000),
    HP("epochs", "int", lo=1, default=10),
    HP("learning_rate", "float", lo=1e-6, hi=10.0, default=0.001),
    HP("mini_batch_size", "int", lo=1, hi=500000, default=10000),
    HP("num_ip_encoder_layers", "int", lo=0, hi=100, default=1),
    HP("random_negative_sampling_rate", "int", lo=0, hi=500, default=1),
    HP("shuffled_negative_sampling_rate", "int", lo=0, hi=500, default=1),
    HP("weight_decay", "float", lo=0, hi=10, default=0.00001),
    HP("_num_gpus", "str"),
    HP("_log_level", "str"),
]

METRIC_DEFINITIONS = [
    {
        "Name": "validation:discriminator_auc",
        "Regex": "#quality_metric: host=\\S+, validation discriminator_auc <score>=(\\S+)",
    },
    {
        "Name": "train:discriminator_auc",
        "Regex": "#quality_metric: host=\\S+, epoch=\\S+, train discriminator_auc <score>=(\\S+)",
    },
]


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what IP Insights rejects at start-up.

    Args:
        hyperparameters: ``num_entity_vectors`` and ``vector_dim`` required.
        channels: ``train`` required, ``validation`` optional; ``text/csv`` only, File mode.

    Raises:
        ClientError: bad channel, ContentType, input mode or hyperparameter.
    """
    check_channels(channels, required=("train",), optional=("validation",))
    for name, ch in channels.items():
        aialgs_content_type(name, ch.get("ContentType"), [CSV], default=CSV)
        if (ch.get("InputMode") or "File") == "Pipe":
            raise ClientError(
                f"IP Insights supports File input mode only (channel '{name}' uses Pipe)."
            )
    validate_hyperparameters(HYPERPARAMETERS, hyperparameters)


def _h(text: str, buckets: int) -> int:
    return (
        int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") % buckets
    )


def _parse_pairs(text: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2:
            raise ClientError(
                f"Line {i} of {where} has {len(parts)} columns; IP Insights expects exactly 'entity,IPv4'."
            )
        try:
            ipaddress.IPv4Address(parts[1])
        except ValueError:
            hint = " (a header row? the data must not have one)" if i == 1 else ""
            raise ClientError(
                f"Line {i} of {where}: '{parts[1]}' is not an IPv4 address{hint}."
            ) from None
        pairs.append((parts[0], parts[1]))
    return pairs


def _encode(pairs: list[tuple[str, str]], n_ent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = np.array([_h(a, n_ent) for a, _ in pairs])
    ip_full = np.array([_h(b, IP_BUCKETS) for _, b in pairs])
    ip_net = np.array([_h(b.rsplit(".", 1)[0], IP_BUCKETS) for _, b in pairs])
    return e, ip_full, ip_net


def _dot(m: dict[str, np.ndarray], e: np.ndarray, f: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.sum(m["E"][e] * (m["F"][f] + m["N"][n]), axis=1)


def train(env: TrainingEnv) -> None:
    """Train the embeddings; report ``validation:discriminator_auc``.

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: rows other than ``entity,IPv4`` (a header row, extra columns).
    """
    from sklearn.metrics import roc_auc_score

    hps = validate_hyperparameters(HYPERPARAMETERS, dict(env.hyperparameters))
    n_ent, dim = int(hps["num_entity_vectors"]), int(hps["vector_dim"])
    pairs = [
        p
        for f in require_files(env, "train")
        for p in _parse_pairs(f.read_text(errors="replace"), f.name)
    ]
    if not pairs:
        raise ClientError("No data found in channel 'train'.")
    rng = np.random.default_rng(seed_of(hps))
    m = {
        "E": rng.normal(0, 0.1, (n_ent, dim)),
        "F": rng.normal(0, 0.1, (IP_BUCKETS, dim)),
        "N": rng.normal(0, 0.1, (IP_BUCKETS, dim)),
    }
    e, f, n = _encode(pairs, n_ent)
    lr = max(float(hps["learning_rate"]), 0.01)
    wd = float(hps["weight_decay"])
    batch = int(hps["mini_batch_size"])
    for epoch in range(int(hps["epochs"])):
        order = rng.permutation(len(e))
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            neg_e = np.concatenate(
                [e[idx]]
                * (hps["random_negative_sampling_rate"] + hps["shuffled_negative_sampling_rate"])
            )
            k_rand = hps["random_negative_sampling_rate"] * len(idx)
            rand_ips = rng.integers(0, IP_BUCKETS, size=(k_rand, 2))
            shuf = rng.permutation(np.tile(idx, hps["shuffled_negative_sampling_rate"]))
            neg_f = np.concatenate([rand_ips[:, 0], f[shuf]])
            neg_n = np.concatenate([rand_ips[:, 1], n[shuf]])
            E_ = np.concatenate([e[idx], neg_e])
            F_ = np.concatenate([f[idx], neg_f])
            N_ = np.concatenate([n[idx], neg_n])
            y = np.concatenate([np.ones(len(idx)), np.zeros(len(neg_e))])
            z = _dot(m, E_, F_, N_)
            g = (1 / (1 + np.exp(-z)) - y)[:, None] / len(y)
            ge = g * (m["F"][F_] + m["N"][N_])
            gi = g * m["E"][E_]
            np.add.at(m["E"], E_, -lr * (ge + wd * m["E"][E_]))
            np.add.at(m["F"], F_, -lr * (gi + wd * m["F"][F_]))
            np.add.at(m["N"], N_, -lr * (gi + wd * m["N"][N_]))
        log(f"#progress_metric: host=algo-1, completed {epoch + 1} of {hps['epochs']} epochs")
    if "validation" in env.channels:
        vpairs = [
            p
            for fl in require_files(env, "validation")
            for p in _parse_pairs(fl.read_text(errors="replace"), fl.name)
        ]
        ve, vf, vn = _encode(vpairs, n_ent)
        perm = rng.permutation(len(ve))
        pos = _dot(m, ve, vf, vn)
        neg = _dot(m, ve, vf[perm], vn[perm])
        auc = float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))
        emit_metric("validation:discriminator_auc", auc)
    save_arrays(env.model_dir / MODEL_FILE, n_ent=np.array(n_ent), **m)


def load(model_dir: Path) -> dict[str, Any]:
    """Load the embeddings.

    Args:
        model_dir: the extracted artifact.

    Returns:
        The embedding tables.
    """
    return load_arrays(model_file(Path(model_dir), MODEL_FILE))


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Score entity-IP pairs.

    Args:
        model: from :func:`load`.
        body: CSV ``entity,ip`` lines, or JSON ``instances`` with data.features.values.
        content_type: ``text/csv`` or ``application/json``.
        accept: JSON (default) or JSON Lines.

    Returns:
        ``{"predictions": [{"dot_product": x}]}`` encoded.

    Raises:
        ClientError: a malformed pair.
    """
    media, _ = parse_content_type(content_type or CSV)
    if media == CSV:
        pairs = _parse_pairs(body.decode("utf-8", errors="replace"), "the request")
    elif media in ("application/json", "application/jsonlines"):
        try:
            obj = json.loads(body.decode("utf-8"))
            vals = [inst["data"]["features"]["values"] for inst in obj["instances"]]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ClientError(
                'JSON requests need {"instances": [{"data": {"features": {"values": ["entity", "ip"]}}}]}.'
            ) from None
        pairs = _parse_pairs("\n".join(f"{a},{b}" for a, b in vals), "the request")
    else:
        raise ClientError(
            f"Content type {content_type} is not supported; use text/csv or application/json."
        )
    e, f, n = _encode(pairs, int(model["n_ent"]))
    return encode_response(
        "predictions", [{"dot_product": float(v)} for v in _dot(model, e, f, n)], accept
    )
