"""The container contract an offline SageMaker job runs under (introduced in lab 03).

A SageMaker training container sees ``/opt/ml``: ``input/data/<channel>``,
``input/config/{hyperparameters,resourceconfig,inputdataconfig}.json``, ``model``,
``output/data``, ``output/failure`` and ``checkpoints``. Offline the same tree lives under a
temporary root (:class:`TrainingEnv`). Built-in algorithm emulations and the learner's
entry scripts run inside a subprocess against it.

Built-in algorithm modules (``mllab.offline.sagemaker.algorithms.<name>``) provide:

* ``NAME``: the algorithm's name as in its image repository (``"xgboost"``, ``"linear-learner"``).
* ``METRIC_DEFINITIONS``: list of ``{"Name", "Regex"}`` the real algorithm publishes.
* ``validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None``: raise
  :class:`ClientError` for what AWS rejects before or at the start of training (missing
  required hyperparameter, unsupported content type, ...). ``channels`` maps channel name
  to its ``InputDataConfig`` entry. Cheap; runs in the parent process.
* ``train(env: TrainingEnv) -> None``: train, print log lines (the metric lines the real
  container prints), write the model files into ``env.model_dir``. Raise
  :class:`ClientError` for bad data (header row, wrong column count, empty channel) and
  :class:`AlgorithmError` for internal failures.
* ``load(model_dir: Path) -> object`` and
  ``predict(model, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]``
  for hosting: return the response body and its content type as the real container does;
  raise :class:`ClientError` for a bad request (it becomes a ``ModelError``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ClientError(Exception):
    """A failure caused by the request or its data; FailureReason starts ``ClientError:``."""


class AlgorithmError(Exception):
    """A failure inside the algorithm; FailureReason starts ``AlgorithmError:``."""


@dataclass
class TrainingEnv:
    """The ``/opt/ml`` tree of one job, under ``root``.

    Attributes:
        root: the stand-in for ``/opt/ml``.
        hyperparameters: as SageMaker passes them: every value a string.
        channels: channel name -> its InputDataConfig entry (ContentType, ...).
        current_host: e.g. ``algo-1``.
        hosts: every host of the job.
        num_cpus: the instance type's vCPUs.
        memory_gib: the instance type's memory.
        instance_type: e.g. ``ml.m5.large``.
        job_name: the training job's name.
    """

    root: Path
    hyperparameters: dict[str, str] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_host: str = "algo-1"
    hosts: list[str] = field(default_factory=lambda: ["algo-1"])
    num_cpus: int = 2
    memory_gib: float = 8.0
    instance_type: str = "ml.m5.large"
    job_name: str = ""

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    def channel_dir(self, name: str) -> Path:
        """The folder holding channel ``name``'s files (``input/data/<name>``)."""
        return self.root / "input" / "data" / name

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def content_type(self, channel: str) -> str | None:
        """The channel's ContentType, as given in InputDataConfig (None when not given)."""
        return (self.channels.get(channel) or {}).get("ContentType")

    def make_dirs(self) -> None:
        """Create the tree's folders."""
        for d in (self.config_dir, self.model_dir, self.output_data_dir, self.checkpoint_dir):
            d.mkdir(parents=True, exist_ok=True)
        for ch in self.channels:
            self.channel_dir(ch).mkdir(parents=True, exist_ok=True)

    def write_config(self) -> None:
        """Write hyperparameters.json, resourceconfig.json and inputdataconfig.json."""
        self.make_dirs()
        (self.config_dir / "hyperparameters.json").write_text(json.dumps(self.hyperparameters))
        (self.config_dir / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": self.current_host,
                    "hosts": self.hosts,
                    "current_instance_type": self.instance_type,
                    "network_interface_name": "eth0",
                }
            )
        )
        (self.config_dir / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    name: {
                        "ContentType": ch.get("ContentType"),
                        "TrainingInputMode": ch.get("InputMode", "File"),
                        "S3DistributionType": (
                            ch.get("DataSource", {}).get("S3DataSource", {}) or {}
                        ).get("S3DataDistributionType", "FullyReplicated"),
                        "RecordWrapperType": ch.get("RecordWrapperType", "None"),
                    }
                    for name, ch in self.channels.items()
                }
            )
        )

    @classmethod
    def from_root(cls, root: Path) -> TrainingEnv:
        """Rebuild the env inside the subprocess from the files under ``root``."""
        cfg = root / "input" / "config"
        hps = json.loads((cfg / "hyperparameters.json").read_text())
        rc = json.loads((cfg / "resourceconfig.json").read_text())
        idc = json.loads((cfg / "inputdataconfig.json").read_text())
        channels = {
            name: {"ContentType": v.get("ContentType"), "InputMode": v.get("TrainingInputMode")}
            for name, v in idc.items()
        }
        return cls(
            root=root,
            hyperparameters=hps,
            channels=channels,
            current_host=rc.get("current_host", "algo-1"),
            hosts=rc.get("hosts", ["algo-1"]),
            num_cpus=int(os.environ.get("SM_NUM_CPUS", "2")),
            memory_gib=float(os.environ.get("MLLAB_MEMORY_GIB", "8")),
            instance_type=rc.get("current_instance_type", "ml.m5.large"),
            job_name=os.environ.get("TRAINING_JOB_NAME", ""),
        )
