"""Offline MLflow on SageMaker AI (``mllab.offline.sagemaker.mlflow``) and its guard declarations.

The MLflow App test starts a real ``mlflow server`` behind the control plane (a subprocess,
SQLite store, free port), logs runs through the app's ARN as tracking URI, reads them back,
opens the UI at the presigned URL, and checks that deleting the app stops the server.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _app(lab: Any, name: str = "fraud-experiments") -> str:
    return str(
        lab.client("sagemaker").create_mlflow_app(
            Name=name, ArtifactStoreUri=f"s3://{lab.bucket}/mlflow", RoleArn=lab.role_arn
        )["Arn"]
    )


def test_app_arn_is_a_tracking_uri_and_the_ui_is_served(lab: Any) -> None:
    import mlflow
    from mlflow import MlflowClient

    from mllab.offline.sagemaker import mlflow as plane

    sm = lab.client("sagemaker")
    arn = _app(lab)
    d = sm.describe_mlflow_app(Arn=arn)
    assert d["Status"] == "Created" and d["Name"] == "fraud-experiments"
    assert d["ArtifactStoreUri"] == f"s3://{lab.bucket}/mlflow"
    assert arn.startswith(f"arn:aws:sagemaker:{lab.region}:{lab.account_id}:mlflow-app/")
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags.get("mllab:run") == lab.run_id  # the guard's run tag reached the resource

    mlflow.set_tracking_uri(arn)
    try:
        exp = mlflow.set_experiment("fraud-challenger")
        for name, depth, auc in (("v1", 3, 0.91), ("v2", 5, 0.94)):
            with mlflow.start_run(run_name=name):
                mlflow.log_params({"max_depth": depth})
                mlflow.log_metric("validation_auc", auc)
        runs = MlflowClient(arn).search_runs(
            [exp.experiment_id], order_by=["metrics.validation_auc DESC"]
        )
        assert [r.info.run_name for r in runs] == ["v2", "v1"]
        assert runs[0].data.params["max_depth"] == "5"
        assert runs[0].data.metrics["validation_auc"] == pytest.approx(0.94)
    finally:
        mlflow.set_tracking_uri(None)

    url = sm.create_presigned_mlflow_app_url(Arn=arn, ExpiresInSeconds=60)["AuthorizedUrl"]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=30) as page:  # noqa: S310 - the local server
        assert page.status == 200 and b"<html" in page.read(4096).lower()

    res = plane.resolve(arn)
    proc = res.process
    assert proc is not None and proc.poll() is None
    sm.delete_mlflow_app(Arn=arn)
    assert proc.wait(timeout=30) is not None  # the server stopped
    with pytest.raises(ClientError) as err:
        sm.describe_mlflow_app(Arn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)  # noqa: S310


def test_tracking_server_lifecycle_without_starting_mlflow(lab: Any) -> None:
    sm = lab.client("sagemaker")
    arn = sm.create_mlflow_tracking_server(
        TrackingServerName="fraud-tracking",
        ArtifactStoreUri=f"s3://{lab.bucket}/mlflow",
        RoleArn=lab.role_arn,
        TrackingServerSize="Small",
    )["TrackingServerArn"]
    assert arn.endswith(":mlflow-tracking-server/fraud-tracking")
    d = sm.describe_mlflow_tracking_server(TrackingServerName="fraud-tracking")
    assert (d["TrackingServerStatus"], d["IsActive"], d["TrackingServerSize"]) == (
        "Created",
        "Active",
        "Small",
    )
    sm.stop_mlflow_tracking_server(TrackingServerName="fraud-tracking")
    assert (
        sm.describe_mlflow_tracking_server(TrackingServerName="fraud-tracking")["IsActive"]
        == "Inactive"
    )
    with pytest.raises(ClientError) as err:
        sm.create_presigned_mlflow_tracking_server_url(TrackingServerName="fraud-tracking")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as err:
        sm.stop_mlflow_tracking_server(TrackingServerName="fraud-tracking")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    sm.start_mlflow_tracking_server(TrackingServerName="fraud-tracking")
    names = [
        s["TrackingServerName"]
        for s in sm.list_mlflow_tracking_servers()["TrackingServerSummaries"]
    ]
    assert names == ["fraud-tracking"]
    sm.delete_mlflow_tracking_server(TrackingServerName="fraud-tracking")
    assert sm.list_mlflow_tracking_servers()["TrackingServerSummaries"] == []


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"TrackingServerName": "bad_name"}, "regular expression pattern"),
        ({"ArtifactStoreUri": "bucket/mlflow"}, "artifactStoreUri"),
        ({"TrackingServerSize": "Huge"}, "Small, Medium, Large"),
    ],
)
def test_bad_requests_get_aws_validation_errors(
    lab: Any, params: dict[str, str], needle: str
) -> None:
    request = {
        "TrackingServerName": "fraud-tracking",
        "ArtifactStoreUri": f"s3://{lab.bucket}/mlflow",
        "RoleArn": lab.role_arn,
        **params,
    }
    with pytest.raises(ClientError) as err:
        lab.client("sagemaker").create_mlflow_tracking_server(**request)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert needle in err.value.response["Error"]["Message"]


def test_presigned_url_expiry_bounds(lab: Any) -> None:
    arn = _app(lab, "bounds")
    with pytest.raises(ClientError) as err:
        lab.client("sagemaker").create_presigned_mlflow_app_url(Arn=arn, ExpiresInSeconds=600)
    assert "between 5 and 300" in err.value.response["Error"]["Message"]


def test_guard_prices_the_tracking_server_and_not_the_app(lab: Any) -> None:
    from mllab.guard import admission
    from mllab.guard.declarations import mlflow as decl
    from mllab.guard.estimate import Policy

    assert admission.classify("sagemaker", "CreateMlflowApp").deleter == "mlflow-app"
    srv = admission.classify("sagemaker", "CreateMlflowTrackingServer")
    assert srv.kind == "billable" and srv.deleter == "sagemaker-mlflow-tracking-server"
    est = decl.tracking_server_cost(
        {"TrackingServerName": "t", "TrackingServerSize": "Medium"}, Policy(ttl_hours=2.0)
    )
    assert est.usd == pytest.approx(2 * decl.TRACKING_SERVER_USD_PER_HOUR["Medium"])
    _app(lab, "ledger")
    lab.client("sagemaker").create_mlflow_tracking_server(
        TrackingServerName="priced", ArtifactStoreUri=f"s3://{lab.bucket}/m", RoleArn=lab.role_arn
    )
    rows = {r.operation: r.estimate_usd for r in lab.ledger.rows(run=lab.run_id)}
    assert rows["CreateMlflowApp"] == 0.0
    # the test lab keeps the default one-hour time-to-live
    assert rows["CreateMlflowTrackingServer"] == pytest.approx(
        decl.TRACKING_SERVER_USD_PER_HOUR["Small"] * 1.0
    )


def test_lab_teardown_deletes_a_tracking_server_this_run_created(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_mlflow_tracking_server(
        TrackingServerName="forgotten",
        ArtifactStoreUri=f"s3://{lab.bucket}/m",
        RoleArn=lab.role_arn,
    )
    done = lab.teardown()
    assert {
        "kind": "sagemaker-mlflow-tracking-server",
        "name": "forgotten",
        "action": "deleted",
    } in done
    assert sm.list_mlflow_tracking_servers()["TrackingServerSummaries"] == []
