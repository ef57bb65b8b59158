"""Object2Vec (the ``object2vec`` image), introduced in lab 03: pairs of tokens or vectors as JSON Lines (``label``, ``in0``, ``in1``); GPU deep model.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

NAME = "object2vec"

HYPERPARAMETERS: list[HP] = [
    HP("enc0_max_seq_len", "int", required=True, lo=1, hi=5000),
    HP("enc0_vocab_size", "int", required=True, lo=2, hi=3000000),
    HP("enc1_max_seq_len", "int", lo=1, hi=5000),
    HP("enc1_vocab_size", "int", lo=2, hi=3000000),
    HP("enc0_network", "cat", choices=["hcnn", "bilstm", "pooled_embedding"]),
    HP("enc1_network", "cat", choices=["hcnn", "bilstm", "pooled_embedding", "enc0"]),
    HP("output_layer", "cat", choices=["softmax", "mean_squared_error"]),
    HP("epochs", "int", lo=1, hi=100),
    HP("mini_batch_size", "int", lo=1, hi=10000),
    HP("learning_rate", "float", lo=1e-6, hi=1.0),
]

_TAGS: dict[str, str] = {
    "validation:cross_entropy": "loss",
    "validation:mean_squared_error": "loss",
    "test:cross_entropy": "loss",
    "test:mean_squared_error": "loss",
}
METRIC_DEFINITIONS = [
    aialgs_metric(m, _TAGS.get(m, "score"))
    for m in [
        "validation:cross_entropy",
        "validation:mean_squared_error",
        "test:cross_entropy",
        "test:mean_squared_error",
    ]
]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train",),
    optional_channels=("validation", "test", "auxiliary"),
    content_types={
        "*": ["application/jsonlines"],
        "auxiliary": ["application/json", "text/plain", "application/jsonlines"],
    },
    metrics=METRIC_DEFINITIONS,
)


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
