"""Algorithms validated offline but not trained (introduced in lab 03).

Object2Vec, Seq2Seq, LDA, NTM and the three vision algorithms need GPUs or deep networks that
a laptop lab cannot stand in for faithfully. Offline, their jobs still fail the way AWS fails
for a wrong channel, ContentType or missing/invalid required hyperparameter; a valid job
fails with a clear AlgorithmError saying it is not emulated.

Hyperparameters: the required ones and the documented ones listed per algorithm are checked
(names, types, ranges); other names are accepted, since not every optional hyperparameter of
these algorithms is listed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllab.offline.sagemaker.algorithms._common import (
    HP,
    PLATFORM_HYPERPARAMETERS,
    aialgs_content_type,
    check_channels,
    not_emulated,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import ClientError, TrainingEnv


class ValidatedOnly:
    """The contract functions of an algorithm that is validated but not trained offline."""

    def __init__(
        self,
        name: str,
        hyperparameters: Sequence[HP],
        required_channels: Sequence[str],
        optional_channels: Sequence[str],
        content_types: dict[str, Sequence[str]],
        metrics: Sequence[dict[str, str]],
    ) -> None:
        self.name = name
        self.hyperparameters = list(hyperparameters)
        self.required_channels = list(required_channels)
        self.optional_channels = list(optional_channels)
        self.content_types = content_types
        self.metrics = list(metrics)

    def validate(self, hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
        """Check channels, ContentTypes and the listed hyperparameters.

        Args:
            hyperparameters: the job's HyperParameters.
            channels: channel name -> InputDataConfig entry.

        Raises:
            ClientError: as the algorithm would fail at start-up.
        """
        check_channels(channels, required=self.required_channels, optional=self.optional_channels)
        for ch_name, ch in channels.items():
            allowed = self.content_types.get(ch_name) or self.content_types.get("*")
            if allowed:
                aialgs_content_type(
                    ch_name, ch.get("ContentType"), list(allowed), default=allowed[0]
                )
        known = {hp.name for hp in self.hyperparameters} | PLATFORM_HYPERPARAMETERS
        listed = {k: v for k, v in hyperparameters.items() if k in known}
        validate_hyperparameters(self.hyperparameters, listed)

    def train(self, env: TrainingEnv) -> None:
        """Validate, then fail: training is not emulated offline.

        Args:
            env: the job's tree.

        Raises:
            ClientError: an invalid job.
            AlgorithmError: a valid job (not emulated).
        """
        self.validate(dict(env.hyperparameters), dict(env.channels))
        for ch in env.channels:
            d = env.channel_dir(ch)
            if d.exists() and not any(p.is_file() for p in d.rglob("*")):
                raise ClientError(f"No data found in channel '{ch}'.")
        raise not_emulated(self.name)

    def load(self, model_dir: Path) -> Any:
        """Models of this algorithm cannot be hosted offline.

        Args:
            model_dir: the artifact folder.

        Raises:
            ClientError: always.
        """
        raise ClientError(
            f"{self.name} models are not hosted offline; deploy them on the aws backend."
        )

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Never reached (:meth:`load` fails).

        Raises:
            ClientError: always.
        """
        raise ClientError(f"{self.name} models are not hosted offline.")
