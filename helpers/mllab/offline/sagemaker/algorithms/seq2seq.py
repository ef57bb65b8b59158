"""Sequence-to-Sequence (the ``seq2seq`` image), introduced in lab 03: recordIO-protobuf of integer tokens in ``train``/``validation`` plus a ``vocab`` channel; GPU only.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

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


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
