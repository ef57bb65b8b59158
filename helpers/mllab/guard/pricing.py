"""The pricing snapshot the cost guard estimates with (introduced in lab 00).

The snapshot (``pricing.json`` beside this module) is dated and names its source. Prices
are on-demand US dollars for us-east-1; other regions reuse them and are marked approximate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

#: Job families priced per instance-hour.
FAMILIES = ("training", "processing", "hosting", "transform")


@dataclass(frozen=True)
class InstanceSpec:
    """vCPUs, memory and GPUs of one SageMaker instance type."""

    name: str
    vcpu: int
    memory_gib: float
    gpus: int
    accelerator: str | None = None

    @property
    def is_accelerated(self) -> bool:
        """True for GPU, Inferentia and Trainium types."""
        return self.gpus > 0 or self.accelerator is not None


@cache
def snapshot() -> dict[str, Any]:
    """Return the raw pricing snapshot (parsed ``pricing.json``; read once, cached)."""
    text = resources.files("mllab.guard").joinpath("pricing.json").read_text()
    return json.loads(text)


def snapshot_label(region: str = "us-east-1") -> str:
    """Return a one-line description of the snapshot: date, region and whether approximate."""
    snap = snapshot()
    approx = "" if region in snap["regions_priced"] else " (us-east-1 prices, approximate)"
    return f"price snapshot of {snap['snapshot_date']} for {region}{approx}"


def instance(name: str) -> InstanceSpec | None:
    """Return the spec of an instance type, or None when the snapshot does not know it."""
    raw = snapshot()["instances"].get(name)
    if raw is None:
        return None
    return InstanceSpec(
        name=name,
        vcpu=int(raw["vcpu"]),
        memory_gib=float(raw["memory_gib"]),
        gpus=int(raw.get("gpus", 0)),
        accelerator=raw.get("accelerator"),
    )


def hourly(family: str, instance_type: str) -> float | None:
    """Return the on-demand price per instance-hour, or None when not offered/known.

    Args:
        family: one of ``training``, ``processing``, ``hosting``, ``transform``.
        instance_type: e.g. ``ml.m5.large``.
    """
    return snapshot()["usd_per_hour"][family].get(instance_type)


def price(key: str) -> float:
    """Return a scalar price from the snapshot, e.g. ``athena_usd_per_tb_scanned``."""
    return float(snapshot()[key])


def cheapest(family: str, allowed: frozenset[str] | set[str]) -> str | None:
    """Return the cheapest allowed instance type offered for ``family``, for a refusal's fix."""
    prices = snapshot()["usd_per_hour"][family]
    offered = [(p, t) for t, p in prices.items() if t in allowed]
    return min(offered)[1] if offered else None
