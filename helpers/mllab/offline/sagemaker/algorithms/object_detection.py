"""Object Detection (the ``object-detection`` image), introduced in lab 03: RecordIO, or images with JSON annotations; GPU to train.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly
from mllab.offline.sagemaker.contract import TrainingEnv

NAME = "object-detection"

HYPERPARAMETERS: list[HP] = [
    HP("num_classes", "int", required=True, lo=1),
    HP("num_training_samples", "int", required=True, lo=1),
    HP("base_network", "cat", choices=["vgg-16", "resnet-50"]),
    HP("use_pretrained_model", "int", lo=0, hi=1),
    HP("epochs", "int", lo=1),
    HP("learning_rate", "float", lo=0, lo_open=True, hi=1),
    HP("mini_batch_size", "int", lo=1),
    HP("image_shape", "int", lo=300),
    HP("optimizer", "cat", choices=["sgd", "adam", "rmsprop", "adadelta"]),
]

_TAGS: dict[str, str] = {}
METRIC_DEFINITIONS = [
    aialgs_metric(m, _TAGS.get(m, "score")) for m in ["validation:mAP", "train:progress"]
]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train", "validation"),
    optional_channels=("train_annotation", "validation_annotation"),
    content_types={
        "*": ["application/x-recordio", "application/x-image", "image/jpeg", "image/png"],
        "train_annotation": ["application/x-image"],
        "validation_annotation": ["application/x-image"],
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
