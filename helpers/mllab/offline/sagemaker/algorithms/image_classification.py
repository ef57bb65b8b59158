"""Image Classification (the ``image-classification`` image), introduced in lab 03: RecordIO (``application/x-recordio``) or images (``application/x-image``) with ``.lst`` files; GPU to train.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

NAME = "image-classification"

HYPERPARAMETERS: list[HP] = [
    HP("num_classes", "int", required=True, lo=2),
    HP("num_training_samples", "int", required=True, lo=1),
    HP("use_pretrained_model", "int", lo=0, hi=1),
    HP("num_layers", "int", choices=None, lo=18),
    HP("epochs", "int", lo=1),
    HP("learning_rate", "float", lo=0, lo_open=True, hi=1),
    HP("mini_batch_size", "int", lo=1),
    HP("multi_label", "int", lo=0, hi=1),
    HP("image_shape", "str"),
    HP("augmentation_type", "cat", choices=["crop", "crop_color", "crop_color_transform"]),
    HP("optimizer", "cat", choices=["sgd", "adam", "rmsprop", "nag"]),
]

_TAGS: dict[str, str] = {}
METRIC_DEFINITIONS = [
    aialgs_metric(m, _TAGS.get(m, "score")) for m in ["validation:accuracy", "train:accuracy"]
]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train", "validation"),
    optional_channels=("train_lst", "validation_lst", "model"),
    content_types={
        "*": ["application/x-recordio", "application/x-image", "image/jpeg", "image/png"],
        "train_lst": ["application/x-image"],
        "validation_lst": ["application/x-image"],
        "model": ["application/x-sagemaker-model"],
    },
    metrics=METRIC_DEFINITIONS,
)


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
