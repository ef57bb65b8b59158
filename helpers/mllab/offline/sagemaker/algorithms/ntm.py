"""Neural Topic Model (the ``ntm`` image), introduced in lab 03: word counts as CSV or recordIO-protobuf; GPU to train.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

NAME = "ntm"

HYPERPARAMETERS: list[HP] = [
    HP("feature_dim", "int", required=True, lo=1, hi=1000000),
    HP("num_topics", "int", required=True, lo=2, hi=1000),
    HP("epochs", "int", lo=1),
    HP("mini_batch_size", "int", lo=1, hi=10000),
    HP("learning_rate", "float", lo=1e-6, hi=1.0),
    HP("optimizer", "cat", choices=["sgd", "adam", "adagrad", "adadelta", "rmsprop"]),
    HP("encoder_layers_activation", "cat", choices=["sigmoid", "tanh", "relu"]),
]

_TAGS: dict[str, str] = {"validation:total_loss": "loss", "test:total_loss": "loss"}
METRIC_DEFINITIONS = [
    aialgs_metric(m, _TAGS.get(m, "score")) for m in ["validation:total_loss", "test:total_loss"]
]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train",),
    optional_channels=("validation", "test", "auxiliary"),
    content_types={
        "*": ["application/x-recordio-protobuf", "text/csv"],
        "auxiliary": ["text/plain"],
    },
    metrics=METRIC_DEFINITIONS,
)


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
