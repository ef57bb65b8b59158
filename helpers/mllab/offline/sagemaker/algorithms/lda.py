"""Latent Dirichlet Allocation (the ``lda`` image), introduced in lab 03: word counts as recordIO-protobuf (File or Pipe) or dense CSV (File mode only); one CPU instance.

Validated offline but not trained: see :mod:`mllab.offline.sagemaker.algorithms._validated_only`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllab.offline.sagemaker.algorithms._common import HP, aialgs_metric
from mllab.offline.sagemaker.algorithms._validated_only import ValidatedOnly
from mllab.offline.sagemaker.contract import TrainingEnv

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
