"""The pricing snapshot, and its refresh from the Price List API (stubbed: no network)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mllab.guard import pricing


def test_snapshot_is_dated_sourced_and_covers_the_allow_list() -> None:
    from mllab.guard.estimate import DEFAULT_ALLOWED_TYPES

    snap = pricing.snapshot()
    assert snap["snapshot_date"] and "aws.amazon.com" in snap["source"]
    for t in DEFAULT_ALLOWED_TYPES:
        assert pricing.instance(t) is not None, t
        assert any(pricing.hourly(f, t) for f in pricing.FAMILIES), t
    for gpu in ("ml.p3.2xlarge", "ml.g5.xlarge", "ml.g4dn.xlarge"):
        assert pricing.instance(gpu).is_accelerated
        assert pricing.hourly("training", gpu) > 0.5
    assert pricing.price("athena_usd_per_tb_scanned") == 5.0


def _product(itype: str, component: str, usd: str) -> str:
    return json.dumps(
        {
            "product": {
                "productFamily": "ML Instance",
                "attributes": {
                    "instanceName": itype,
                    "component": component,
                    "regionCode": "us-east-1",
                },
            },
            "terms": {
                "OnDemand": {
                    "X.Y": {
                        "priceDimensions": {"X.Y.Z": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}
                    }
                }
            },
        }
    )


def test_refresh_writes_prices_that_take_precedence(mllab_home: Path) -> None:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                _product("ml.m5.large", "Training", "0.1200"),
                _product("ml.m5.large", "Hosting", "0.1250"),
                _product("ml.weird.big", "Training", "9"),
            ],
            "FormatVersion": "aws_v1",
        },
        {
            "ServiceCode": "AmazonSageMaker",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
                {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
            ],
        },
    )
    with stub:
        doc = pricing.refresh_from_price_list(client, "us-east-1", mllab_home)
    assert doc["usd_per_hour"] == {
        "training": {"ml.m5.large": 0.12},
        "hosting": {"ml.m5.large": 0.125},
    }
    assert (mllab_home / pricing.REFRESH_FILE).exists()
    assert pricing.hourly("training", "ml.m5.large") == pytest.approx(0.12)
    assert pricing.hourly("processing", "ml.m5.large") == pytest.approx(
        0.115
    )  # not refreshed: snapshot


def test_cost_refresh_offline_explains(mllab_home: Path) -> None:
    from click.testing import CliRunner

    from mllab.cli import main

    res = CliRunner().invoke(main, ["cost", "--refresh"])
    assert res.exit_code == 0
    assert "needs MLLAB_BACKEND=aws" in res.output
