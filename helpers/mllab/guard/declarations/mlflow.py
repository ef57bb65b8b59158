"""Admission of MLflow on SageMaker AI: serverless MLflow Apps and MLflow tracking servers.

Introduced in lab 04 (experiment tracking). AWS offers **serverless MLflow** (an MLflow App,
``CreateMlflowApp``) at no additional cost: it is declared free, with a deleter so teardown
and ``mllab sweep`` still remove it. A **tracking server** (``CreateMlflowTrackingServer``,
``StartMlflowTrackingServer``) bills every hour by size while it runs, from creation until it
is stopped or deleted, whether anyone logs to it or not: it is priced for the lab's
time-to-live and paired with a deleter whose kind starts with ``sagemaker-``, so
``lab.teardown()`` deletes it with the endpoints; the free App is deleted at ``lab.close()``
(or by the lab's own teardown cell). ``CreatePresigned...Url`` only signs a URL (free).

Prices are a hand transcription of the "MLflow" section of aws.amazon.com/sagemaker/pricing
(us-east-1) as of the snapshot date below; verify them there before relying on the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllab.guard import admission as a
from mllab.guard.declarations._util import paginate, quietly, tag_dict
from mllab.guard.estimate import Estimate, Policy

SM = "sagemaker"

#: USD per hour of a running tracking server, by TrackingServerSize (us-east-1).
TRACKING_SERVER_USD_PER_HOUR = {"Small": 0.60, "Medium": 1.40, "Large": 2.80}
SNAPSHOT = "aws.amazon.com/sagemaker/pricing (MLflow), transcribed 2026-12-02, us-east-1"


def tracking_server_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateMlflowTrackingServer / StartMlflowTrackingServer: the size's hourly price x ttl.

    Args:
        params: the request (``TrackingServerSize``, default ``Small``; Start carries only
            the name and is priced as Small, the labs' size).
        policy: the lab's policy; ``ttl_hours`` bounds how long the server runs (teardown
            deletes it).

    Returns:
        The worst-case estimate; ``hourly_usd`` lets teardown charge actual use.
    """
    size = str(params.get("TrackingServerSize") or "Small")
    hourly = TRACKING_SERVER_USD_PER_HOUR.get(size, TRACKING_SERVER_USD_PER_HOUR["Large"])
    return Estimate(
        hourly * policy.ttl_hours,
        str(params.get("TrackingServerName", "")),
        hourly,
        detail={"size": size, "basis": "USD per tracking-server hour x ttl", "snapshot": SNAPSHOT},
    )


def _app_free(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateMlflowApp: serverless MLflow, no additional charge (its S3 artifacts bill as S3)."""
    return Estimate(
        0.0,
        str(params.get("Name", "")),
        detail={"basis": "serverless MLflow: no additional charge", "snapshot": SNAPSHOT},
    )


a.read(
    SM,
    "DescribeMlflowApp",
    "DescribeMlflowTrackingServer",
    "ListMlflowApps",
    "ListMlflowTrackingServers",
)
a.free(
    SM,
    "CreatePresignedMlflowAppUrl",
    "CreatePresignedMlflowTrackingServerUrl",
    "UpdateMlflowApp",
    "DeleteMlflowApp",
    "StopMlflowTrackingServer",
    "DeleteMlflowTrackingServer",
    note="signs a URL, changes settings, or stops/deletes: nothing new bills",
)
a.billable(SM, "CreateMlflowApp", estimator=_app_free, deleter="mlflow-app", note="free")
a.billable(
    SM,
    "CreateMlflowTrackingServer",
    "StartMlflowTrackingServer",
    estimator=tracking_server_cost,
    deleter="sagemaker-mlflow-tracking-server",
    note="a tracking server bills every hour it runs",
)
a.billable(
    SM,
    "UpdateMlflowTrackingServer",
    estimator=tracking_server_cost,
    deleter="sagemaker-mlflow-tracking-server",
    note="a resize changes the hourly price",
)


def _tags(client: Any, arn: str) -> dict[str, str]:
    try:
        return tag_dict(client.list_tags(ResourceArn=arn).get("Tags"))
    except Exception:  # noqa: BLE001 - a resource deleted meanwhile has no tags
        return {}


def _find_apps(session: Any, region: str) -> Iterator[tuple[str, dict[str, str]]]:
    sm = session.client(SM, region_name=region)
    for s in paginate(sm, "list_mlflow_apps", "Summaries"):
        if s.get("Status") not in ("Deleting", "Deleted"):
            yield s["Arn"], _tags(sm, s["Arn"])


def _find_servers(session: Any, region: str) -> Iterator[tuple[str, dict[str, str]]]:
    sm = session.client(SM, region_name=region)
    for s in paginate(sm, "list_mlflow_tracking_servers", "TrackingServerSummaries"):
        if s.get("TrackingServerStatus") != "Deleting":
            yield s["TrackingServerName"], _tags(sm, s["TrackingServerArn"])


def _delete_app(session: Any, region: str, name: str) -> str | None:
    """Delete an MLflow App by its name or ARN (the ledger records the name). Free."""
    sm = session.client(SM, region_name=region)
    arns = (
        [name]
        if name.startswith("arn:")
        else [s["Arn"] for s in sm.list_mlflow_apps().get("Summaries", []) if s.get("Name") == name]
    )
    done: str | None = None
    for arn in arns:

        def delete(arn: str = arn) -> Any:
            return sm.delete_mlflow_app(Arn=arn)

        done = quietly(delete) or done
    return done


a.deleter(
    "mlflow-app",
    created_by=[(SM, "CreateMlflowApp")],
    delete=_delete_app,
    find=_find_apps,
    order=40,
)
a.deleter(
    "sagemaker-mlflow-tracking-server",
    created_by=[(SM, "CreateMlflowTrackingServer"), (SM, "StartMlflowTrackingServer")],
    delete=lambda s, r, name: quietly(
        lambda: s.client(SM, region_name=r).delete_mlflow_tracking_server(TrackingServerName=name)
    ),
    find=_find_servers,
    order=40,
)
