"""Semantic Segmentation (the ``semantic-segmentation`` image), introduced in lab 03: JPG images with PNG masks (``train``, ``validation``, ``train_annotation``, ``validation_annotation``, optional ``label_map``); GPU, one machine.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

NAME = "semantic-segmentation"

HYPERPARAMETERS: list[HP] = [
    HP("num_classes", "int", required=True, lo=2),
    HP("num_training_samples", "int", required=True, lo=1),
    HP("algorithm", "cat", choices=["fcn", "psp", "deeplab"]),
    HP("backbone", "cat", choices=["resnet-50", "resnet-101"]),
    HP("use_pretrained_model", "cat", choices=["True", "False", "true", "false"]),
    HP("epochs", "int", lo=1),
    HP("learning_rate", "float", lo=0, lo_open=True, hi=1),
    HP("mini_batch_size", "int", lo=1),
    HP("crop_size", "int", lo=1),
]

_TAGS: dict[str, str] = {}
METRIC_DEFINITIONS = [
    aialgs_metric(m, _TAGS.get(m, "score"))
    for m in ["validation:mIOU", "validation:pixel_accuracy"]
]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train", "validation", "train_annotation", "validation_annotation"),
    optional_channels=("label_map", "model"),
    content_types={
        "*": ["image/jpeg", "application/x-image", "application/x-recordio"],
        "train_annotation": ["image/png", "application/x-image"],
        "validation_annotation": ["image/png", "application/x-image"],
        "label_map": ["application/json"],
        "model": ["application/x-sagemaker-model"],
    },
    metrics=METRIC_DEFINITIONS,
)


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
