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

    A price refreshed from the AWS Price List API (``mllab cost --refresh`` on the aws
    backend) takes precedence over the shipped snapshot.

    Args:
        family: one of ``training``, ``processing``, ``hosting``, ``transform``.
        instance_type: e.g. ``ml.m5.large``.
    """
    refreshed = _refreshed().get(family, {}).get(instance_type)
    if refreshed is not None:
        return float(refreshed)
    return snapshot()["usd_per_hour"][family].get(instance_type)


REFRESH_FILE = "pricing-refreshed.json"

#: Price List ``component`` values of SageMaker ML instances, per pricing family.
_COMPONENTS = {
    "training": ("training",),
    "hosting": ("hosting", "real-time inference", "realtime inference"),
    "processing": ("processing",),
    "transform": ("batch transform", "batchtransform", "transform"),
}


def _refreshed() -> dict[str, dict[str, float]]:
    from mllab import config

    path = config.home() / REFRESH_FILE
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()).get("usd_per_hour", {}))
    except (OSError, ValueError):
        return {}


def refresh_from_price_list(pricing_client: Any, region: str, home: Any) -> dict[str, Any]:
    """Read SageMaker on-demand instance prices from the AWS Price List API (lab 00).

    Asks ``pricing:GetProducts`` (service ``AmazonSageMaker``, product family ``ML Instance``,
    the region's ``regionCode``) for every instance type in the snapshot, and writes what it
    finds to ``$MLLAB_HOME/pricing-refreshed.json``, which :func:`hourly` then prefers.

    Args:
        pricing_client: a ``pricing`` client (the API lives in us-east-1 and ap-south-1).
        region: the region whose prices to read.
        home: the mllab home folder.

    Returns:
        The written document: ``fetched``, ``region``, ``source`` and ``usd_per_hour``
        (family -> instance type -> price). The Price List API is free to call.
    """
    import datetime as _dt
    from pathlib import Path

    found: dict[str, dict[str, float]] = {f: {} for f in FAMILIES}
    paginator = pricing_client.get_paginator("get_products")
    pages = paginator.paginate(
        ServiceCode="AmazonSageMaker",
        Filters=[
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        ],
    )
    known = set(snapshot()["instances"])
    for page in pages:
        for raw in page.get("PriceList", []):
            item = json.loads(raw) if isinstance(raw, str) else raw
            attrs = item.get("product", {}).get("attributes", {})
            itype = attrs.get("instanceName") or attrs.get("instanceType") or ""
            if not itype.startswith("ml."):
                itype = f"ml.{itype}" if itype else ""
            if itype not in known:
                continue
            component = str(attrs.get("component", "")).strip().lower()
            family = next((f for f, names in _COMPONENTS.items() if component in names), None)
            if family is None:
                continue
            for term in item.get("terms", {}).get("OnDemand", {}).values():
                for dim in term.get("priceDimensions", {}).values():
                    usd = dim.get("pricePerUnit", {}).get("USD")
                    if usd is not None and float(usd) > 0:
                        found[family][itype] = float(usd)
    doc = {
        "fetched": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "source": "AWS Price List API (pricing:GetProducts, AmazonSageMaker, ML Instance)",
        "usd_per_hour": {f: v for f, v in found.items() if v},
    }
    Path(home, REFRESH_FILE).write_text(json.dumps(doc, indent=1, sort_keys=True))
    return doc


def price(key: str) -> float:
    """Return a scalar price from the snapshot, e.g. ``athena_usd_per_tb_scanned``."""
    return float(snapshot()[key])


def cheapest(family: str, allowed: frozenset[str] | set[str]) -> str | None:
    """Return the cheapest allowed instance type offered for ``family``, for a refusal's fix."""
    prices = snapshot()["usd_per_hour"][family]
    offered = [(p, t) for t, p in prices.items() if t in allowed]
    return min(offered)[1] if offered else None


@cache
def bedrock_snapshot() -> dict[str, Any]:
    """Return the Bedrock price snapshot (``bedrock_pricing.json``: dated, names its source)."""
    text = resources.files("mllab.guard").joinpath("bedrock_pricing.json").read_text()
    return json.loads(text)


def bedrock_tokens(model_id: str) -> tuple[float, float] | None:
    """Return (input, output) USD per 1,000 tokens of a Bedrock base model id, or None."""
    raw = bedrock_snapshot()["usd_per_1k_tokens"].get(model_id)
    return None if raw is None else (float(raw["input"]), float(raw["output"]))
