"""Object Detection (the ``object-detection`` image), introduced in lab 03: RecordIO, or images with JSON annotations; GPU to train.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

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


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
