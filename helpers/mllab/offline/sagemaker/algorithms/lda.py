"""Latent Dirichlet Allocation (the ``lda`` image), introduced in lab 03: word counts as recordIO-protobuf (File or Pipe) or dense CSV (File mode only); one CPU instance.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly

NAME = "lda"

HYPERPARAMETERS: list[HP] = [
    HP("num_topics", "int", required=True, lo=1),
    HP("feature_dim", "int", required=True, lo=1),
    HP("mini_batch_size", "int", required=True, lo=1),
    HP("alpha0", "float", lo=0, lo_open=True),
    HP("max_restarts", "int", lo=1),
    HP("max_iterations", "int", lo=1),
    HP("tol", "float", lo=0, lo_open=True),
]

_TAGS: dict[str, str] = {}
METRIC_DEFINITIONS = [aialgs_metric(m, _TAGS.get(m, "score")) for m in ["test:pwll"]]

_ALGO = ValidatedOnly(
    NAME,
    HYPERPARAMETERS,
    required_channels=("train",),
    optional_channels=("test",),
    content_types={"*": ["application/x-recordio-protobuf", "text/csv"]},
    metrics=METRIC_DEFINITIONS,
)


# The contract's module functions, all answered by the shared validated-only behaviour.
validate = _ALGO.validate
train = _ALGO.train
load = _ALGO.load
predict = _ALGO.predict
