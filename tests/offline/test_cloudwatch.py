"""Offline CloudWatch (``mllab.offline.cloudwatch``): reserved ``AWS/`` namespaces refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _point(value: float) -> list[dict[str, Any]]:
    return [
        {
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "EndpointName", "Value": "fraud-checkout"}],
            "Value": value,
            "Unit": "Count",
        }
    ]


@pytest.mark.parametrize("namespace", ["AWS/SageMaker", "AWS/Bedrock", "AWS/"])
def test_reserved_namespace_is_refused_in_aws_words(lab: Any, namespace: str) -> None:
    cw = lab.client("cloudwatch")
    with pytest.raises(ClientError) as err:
        cw.put_metric_data(Namespace=namespace, MetricData=_point(300))
    e = err.value.response["Error"]
    assert e["Code"] == "InvalidParameterValue"
    assert e["Message"] == f"The value {namespace} for parameter Namespace is invalid."
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert listed == []  # nothing was stored


@pytest.mark.parametrize("namespace", ["FraudModel/Drift", "aws/sagemaker/custom", "MyAWS/x"])
def test_custom_namespaces_are_stored(lab: Any, namespace: str) -> None:
    cw = lab.client("cloudwatch")
    cw.put_metric_data(Namespace=namespace, MetricData=_point(2.5))
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": "fraud-checkout"}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in points) == 2.5
