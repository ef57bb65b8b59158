"""Sequence-to-Sequence (the ``seq2seq`` image), introduced in lab 03: recordIO-protobuf of integer tokens in ``train``/``validation`` plus a ``vocab`` channel; GPU only.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly
from mllab.offline.sagemaker.contract import TrainingEnv

NAME = "seq2seq"

HYPERPARAMETERS: list[HP] = [
    HP("max_seq_len_source", "int", lo=1),
    HP("max_seq_len_target", "int", lo=1),
    HP("batch_size", "int", lo=1),
    HP("beam_size", "int", lo=1),
    HP("optimized_metric", "cat", choices=["perplexity", "accuracy", "bleu"]),
    HP("max_num_epochs", "int", lo=1),
    HP("num_layers_encoder", "int", lo=1, hi=20),
    HP("num_layers_decoder", "int", lo=1, hi=20),
    HP("learning_rate", "float", lo=0, lo_open=True),
]

_TAGS: dict[str, str] = {"validation:perplexity": "loss"}
METRIC_DEFINITIONS = [
    aialgs_metric(m, _TAGS.get(m, "score"))
    for m in ["validation:bleu", "validation:accuracy", "validation:perplexity"]
]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train", "validation", "vocab"),
    optional_channels=(),
    content_types={
        "train": ["application/x-recordio-protobuf"],
        "validation": ["application/x-recordio-protobuf"],
        "vocab": ["text/plain", "application/json", "application/jsonlines"],
    },
    metrics=METRIC_DEFINITIONS,
)


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject an invalid job as AWS does (channels, ContentType, required hyperparameters).

    Args:
        hyperparameters: the job's HyperParameters.
        channels: channel name -> InputDataConfig entry.
    """
    _ALGO.validate(hyperparameters, channels)


def train(env: TrainingEnv) -> None:
    """Validate, then fail with an AlgorithmError: not trained offline.

    Args:
        env: the job's tree.
    """
    _ALGO.train(env)


def load(model_dir: Path) -> Any:
    """Not hosted offline (raises ClientError).

    Args:
        model_dir: the artifact folder.
    """
    return _ALGO.load(model_dir)


def predict(model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """Not hosted offline (raises ClientError).

    Args:
        model: unused.
        body: unused.
        content_type: unused.
        accept: unused.
    """
    return _ALGO.predict(model, body, content_type, accept)
