"""Offline MLflow on SageMaker AI: the control plane answered here, a real MLflow server behind it.

Introduced in lab 04 (experiment tracking). Two AWS resources are emulated, with the request
and response shapes of botocore's SageMaker model:

* **MLflow Apps** (serverless MLflow: ``CreateMlflowApp``, ``DescribeMlflowApp``,
  ``ListMlflowApps``, ``UpdateMlflowApp``, ``DeleteMlflowApp``, ``CreatePresignedMlflowAppUrl``),
  which AWS offers at no additional cost;
* **MLflow tracking servers** (``CreateMlflowTrackingServer`` ... ``StopMlflowTrackingServer``,
  ``CreatePresignedMlflowTrackingServerUrl``), which AWS bills per hour by size.

Behind each resource runs a real ``mlflow server`` (the installed ``mlflow`` package), started
**on demand** as a subprocess on ``127.0.0.1`` with a free port, a SQLite backend store and an
artifact folder under a temporary directory: the first time the learner's MLflow client
resolves the resource's ARN, or asks for a presigned URL. The presigned URL is the local
server's address (it opens the MLflow UI in the browser, with no sign-in offline).
Stopping a tracking server and deleting either kind stop the process; the offline account's
reset stops them all and deletes their folders.

**The ARN is the tracking URI**, as on AWS with the ``sagemaker-mlflow`` plugin
(``mlflow.set_tracking_uri(arn)``; the plugin signs each REST call with SigV4 and sends it to
the resource's endpoint). Offline, :func:`install_tracking_uri_scheme` puts its own builder
for the ``arn`` scheme into MLflow's tracking-store registry (where the plugin's entry point
puts the plugin's) so that an ARN resolves to a REST store on the local server. The same
notebook line works on both backends; the plugin's builder is restored at reset.

Differences from AWS: creation is immediate (AWS takes minutes for an app, about 20 minutes
for a tracking server); there is no SigV4 authentication, maintenance window, KMS or model
auto-registration to the SageMaker Model Registry (the flags are stored and described).
Costs nothing offline; on AWS the guard prices tracking servers per hour
(:mod:`mllab.guard.declarations.mlflow`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

_LOCK = threading.RLock()
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_S3 = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")
MLFLOW_VERSION = "3.17.0"  # what this environment runs behind the control plane
SIZES = ("Small", "Medium", "Large")


@dataclass
class MlflowResource:
    """One MLflow App or tracking server and the local server behind it.

    Attributes:
        kind: ``"app"`` or ``"tracking-server"``.
        name: the resource name.
        arn: its ARN (``mlflow-app/<id>`` or ``mlflow-tracking-server/<name>``).
        request: the create request (as sent), for Describe.
        created: creation time.
        status: the AWS status (``Created``, ``Stopped``, ...).
        folder: the temporary folder of its SQLite store and artifacts.
        process: the ``mlflow server`` subprocess, when running.
        port: its port on 127.0.0.1.
    """

    kind: str
    name: str
    arn: str
    request: dict[str, Any]
    created: dt.datetime
    status: str = "Created"
    folder: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    port: int | None = None
    modified: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def url(self) -> str:
        """The local server's base URL (``http://127.0.0.1:<port>``); empty when not running."""
        return f"http://127.0.0.1:{self.port}" if self.port else ""


_RESOURCES: dict[str, MlflowResource] = {}  # arn -> resource


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mlflow_command() -> list[str]:
    exe = Path(sys.executable).with_name("mlflow")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlflow"]


def start_server(res: MlflowResource, timeout: float = 120.0) -> str:
    """Start the resource's ``mlflow server`` if it is not running, and wait until it answers.

    Args:
        res: the app or tracking server.
        timeout: seconds to wait for ``/health`` (a generous hang guard, not a speed target).

    Returns:
        The server's base URL. Costs nothing; the process lives until the resource is
        stopped or deleted, or the offline account is reset.
    """
    with _LOCK:
        if res.process is not None and res.process.poll() is None:
            return res.url
        if res.folder is None:
            res.folder = Path(tempfile.mkdtemp(prefix=f"mllab-mlflow-{res.name}-"))
        (res.folder / "artifacts").mkdir(exist_ok=True)
        res.port = _free_port()
        log = open(res.folder / "server.log", "ab")  # noqa: SIM115 - kept open for the child
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env.pop("MLFLOW_TRACKING_URI", None)
        res.process = subprocess.Popen(  # noqa: S603 - our own interpreter's mlflow
            [
                *_mlflow_command(),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(res.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{res.folder / 'mlflow.db'}",
                "--artifacts-destination",
                str(res.folder / "artifacts"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=res.folder,
        )
        url = res.url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if res.process.poll() is not None:
            tail = (res.folder / "server.log").read_text(errors="replace")[-800:]
            raise RuntimeError(f"the offline MLflow server for {res.name} exited: {tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # noqa: S310 - local
                if r.status == 200:
                    return url
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(
        f"the offline MLflow server for {res.name} did not answer on {url} within {timeout:.0f} s; "
        f"see {res.folder / 'server.log'}"
    )


def stop_server(res: MlflowResource) -> None:
    """Stop the resource's server process (if any). Deletes nothing; its store stays."""
    with _LOCK:
        proc, res.process, res.port = res.process, None, None
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def resolve(arn: str) -> MlflowResource:
    """The running resource behind an ARN, its server started on demand.

    Args:
        arn: an ``mlflow-app`` or ``mlflow-tracking-server`` ARN.

    Returns:
        The resource (its ``url`` is set). Raises ``AwsError`` (ResourceNotFound) for an
        unknown ARN and ``ConflictException`` for a stopped tracking server.
    """
    with _LOCK:
        res = _RESOURCES.get(arn)
    if res is None:
        raise AwsError("ResourceNotFound", f"MLflow resource {arn} does not exist.")
    if res.status in ("Stopped", "Stopping"):
        raise AwsError(
            "ConflictException",
            f"Tracking server {res.name} is {res.status}: StartMlflowTrackingServer first.",
        )
    start_server(res)
    return res


# --------------------------------------------------------------------------- the arn scheme
def _store_for_arn(store_uri: str, artifact_uri: str | None = None) -> Any:
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    url = resolve(store_uri).url
    return RestStore(lambda: MlflowHostCreds(url))


def _registry_for_arn(store_uri: str, tracking_uri: str | None = None) -> Any:
    from mlflow.store.model_registry.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    url = resolve(store_uri).url
    return RestStore(lambda: MlflowHostCreds(url))


_saved_builders: dict[str, Any] | None = None


def install_tracking_uri_scheme() -> None:
    """Let MLflow's client take a SageMaker MLflow ARN as its tracking URI (offline).

    Registers the ``arn`` scheme with MLflow's tracking and model-registry store registries,
    in place of the ``sagemaker-mlflow`` plugin's builder (which would sign the calls and
    send them to AWS); the plugin's builders are put back when the offline account resets.
    Idempotent. Costs nothing.
    """
    global _saved_builders
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    tracking = tracking_utils._tracking_store_registry._registry
    registry = registry_utils._get_store_registry()._registry
    with _LOCK:
        if _saved_builders is None:
            _saved_builders = {"tracking": tracking.get("arn"), "registry": registry.get("arn")}
        tracking["arn"] = _store_for_arn
        registry["arn"] = _registry_for_arn
    tracking_utils._get_tracking_scheme_with_resolved_uri.cache_clear()


def _restore_tracking_uri_scheme() -> None:
    global _saved_builders
    with _LOCK:
        saved, _saved_builders = _saved_builders, None
    if saved is None:
        return
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    for reg, key in (
        (tracking_utils._tracking_store_registry._registry, "tracking"),
        (registry_utils._get_store_registry()._registry, "registry"),
    ):
        if saved[key] is None:
            reg.pop("arn", None)
        else:
            reg["arn"] = saved[key]
    tracking_utils._get_tracking_scheme_with_resolved_uri.cache_clear()


# --------------------------------------------------------------------------- validation
def _check_name(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{field_name}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}",
        )
    return value


def _check_common(p: dict[str, Any]) -> None:
    uri = p.get("ArtifactStoreUri")
    if not isinstance(uri, str) or not _S3.match(uri):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{uri}' at 'artifactStoreUri' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (https|s3)://([^/]+)/?(.*)",
        )
    role = p.get("RoleArn", "")
    if not re.match(r"^arn:aws[a-z\-]*:iam::\d{12}:role/", str(role)):
        raise AwsError("ValidationException", f"RoleArn {role!r} is not an IAM role ARN.")


def _tags(res: MlflowResource) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in res.request.get("Tags") or []}


@handles("sagemaker", "ListTags")
def _list_tags(call: OfflineCall) -> dict[str, Any] | None:
    """ListTags of an MLflow ARN (moto does not know these resources); others go to moto."""
    arn = str(call.params.get("ResourceArn", ""))
    if ":mlflow-app/" not in arn and ":mlflow-tracking-server/" not in arn:
        return None
    with _LOCK:
        res = _RESOURCES.get(arn)
    if res is None:
        raise AwsError("ResourceNotFound", f"Resource {arn} does not exist.")
    return {"Tags": [{"Key": k, "Value": v} for k, v in _tags(res).items()]}


@handles("sagemaker", "AddTags")
def _add_tags(call: OfflineCall) -> dict[str, Any] | None:
    """AddTags on an MLflow ARN; other resources go to moto."""
    arn = str(call.params.get("ResourceArn", ""))
    with _LOCK:
        res = _RESOURCES.get(arn)
    if res is None:
        return None
    merged = {**_tags(res), **{t["Key"]: t["Value"] for t in call.params.get("Tags") or []}}
    res.request["Tags"] = [{"Key": k, "Value": v} for k, v in merged.items()]
    return {"Tags": res.request["Tags"]}


def _find(kind: str, account: str, region: str, name: str) -> MlflowResource | None:
    with _LOCK:
        return next(
            (
                r
                for r in _RESOURCES.values()
                if r.kind == kind and r.name == name and f":{region}:{account}:" in r.arn
            ),
            None,
        )


def _get(call: OfflineCall, kind: str, key: str) -> MlflowResource:
    value = call.params.get(key, "")
    with _LOCK:
        res = _RESOURCES.get(value) if kind == "app" else None
    if res is None and kind == "tracking-server":
        res = _find(kind, call.account_id, call.region, value)
    if res is None or res.kind != kind:
        what = "MLflow App" if kind == "app" else "Tracking server"
        raise AwsError("ResourceNotFound", f"{what} {value} does not exist.")
    return res


# --------------------------------------------------------------------------- MLflow Apps
@handles("sagemaker", "CreateMlflowApp")
def _create_app(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = _check_name("name", p.get("Name"))
    _check_common(p)
    if _find("app", call.account_id, call.region, name):
        raise AwsError("ResourceInUse", f"MLflow App {name} already exists.")
    import hashlib

    app_id = (
        "app-" + hashlib.sha256(f"{call.account_id}{name}{time.time()}".encode()).hexdigest()[:12]
    )
    arn = f"arn:aws:sagemaker:{call.region}:{call.account_id}:mlflow-app/{app_id}"
    now = dt.datetime.now(dt.UTC)
    with _LOCK:
        _RESOURCES[arn] = MlflowResource("app", name, arn, dict(p), now, modified=now)
    install_tracking_uri_scheme()
    return {"Arn": arn}


def _describe_app(res: MlflowResource) -> dict[str, Any]:
    p = res.request
    return {
        "Arn": res.arn,
        "Name": res.name,
        "ArtifactStoreUri": p["ArtifactStoreUri"],
        "MlflowVersion": MLFLOW_VERSION,
        "RoleArn": p["RoleArn"],
        "Status": res.status,
        "ModelRegistrationMode": p.get("ModelRegistrationMode", "AutoModelRegistrationDisabled"),
        "AccountDefaultStatus": p.get("AccountDefaultStatus", "DISABLED"),
        "DefaultDomainIdList": list(p.get("DefaultDomainIdList") or []),
        "CreationTime": res.created,
        "LastModifiedTime": res.modified,
        **({"KmsKeyId": p["KmsKeyId"]} if p.get("KmsKeyId") else {}),
        **(
            {"WeeklyMaintenanceWindowStart": p["WeeklyMaintenanceWindowStart"]}
            if p.get("WeeklyMaintenanceWindowStart")
            else {}
        ),
    }


@handles("sagemaker", "DescribeMlflowApp")
def _describe_app_call(call: OfflineCall) -> dict[str, Any]:
    install_tracking_uri_scheme()
    return _describe_app(_get(call, "app", "Arn"))


@handles("sagemaker", "ListMlflowApps")
def _list_apps(call: OfflineCall) -> dict[str, Any]:
    with _LOCK:
        apps = [
            r
            for r in _RESOURCES.values()
            if r.kind == "app" and f":{call.region}:{call.account_id}:" in r.arn
        ]
    status = call.params.get("Status")
    apps = [r for r in apps if not status or r.status == status]
    apps.sort(key=lambda r: r.created, reverse=call.params.get("SortOrder") != "Ascending")
    return {
        "Summaries": [
            {
                "Arn": r.arn,
                "Name": r.name,
                "Status": r.status,
                "CreationTime": r.created,
                "LastModifiedTime": r.modified,
                "MlflowVersion": MLFLOW_VERSION,
            }
            for r in apps
        ]
    }


@handles("sagemaker", "UpdateMlflowApp")
def _update_app(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "app", "Arn")
    for k, v in call.params.items():
        if k != "Arn" and v is not None:
            res.request[k] = v
    res.modified = dt.datetime.now(dt.UTC)
    return {"Arn": res.arn}


@handles("sagemaker", "DeleteMlflowApp")
def _delete_app(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "app", "Arn")
    _drop(res)
    return {"Arn": res.arn}


@handles("sagemaker", "CreatePresignedMlflowAppUrl")
def _presign_app(call: OfflineCall) -> dict[str, Any]:
    _check_expiry(call.params)
    res = _get(call, "app", "Arn")
    return {"AuthorizedUrl": resolve(res.arn).url + "/"}


def _check_expiry(p: dict[str, Any]) -> None:
    exp = p.get("ExpiresInSeconds")
    if exp is not None and not 5 <= int(exp) <= 300:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{exp}' at 'expiresInSeconds' failed to satisfy "
            "constraint: Member must have value between 5 and 300",
        )
    sess = p.get("SessionExpirationDurationInSeconds")
    if sess is not None and not 1800 <= int(sess) <= 43200:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{sess}' at 'sessionExpirationDurationInSeconds' "
            "failed to satisfy constraint: Member must have value between 1800 and 43200",
        )


def _drop(res: MlflowResource) -> None:
    stop_server(res)
    with _LOCK:
        _RESOURCES.pop(res.arn, None)
    if res.folder is not None:
        shutil.rmtree(res.folder, ignore_errors=True)


# --------------------------------------------------------------------------- tracking servers
@handles("sagemaker", "CreateMlflowTrackingServer")
def _create_server(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = _check_name("trackingServerName", p.get("TrackingServerName"))
    _check_common(p)
    size = p.get("TrackingServerSize", "Small")
    if size not in SIZES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{size}' at 'trackingServerSize' failed to "
            "satisfy constraint: Member must satisfy enum value set: [Small, Medium, Large]",
        )
    if _find("tracking-server", call.account_id, call.region, name):
        raise AwsError("ResourceInUse", f"Tracking server {name} already exists.")
    arn = f"arn:aws:sagemaker:{call.region}:{call.account_id}:mlflow-tracking-server/{name}"
    now = dt.datetime.now(dt.UTC)
    with _LOCK:
        _RESOURCES[arn] = MlflowResource(
            "tracking-server", name, arn, {**p, "TrackingServerSize": size}, now, modified=now
        )
    install_tracking_uri_scheme()
    return {"TrackingServerArn": arn}


@handles("sagemaker", "DescribeMlflowTrackingServer")
def _describe_server(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "tracking-server", "TrackingServerName")
    install_tracking_uri_scheme()
    p = res.request
    return {
        "TrackingServerArn": res.arn,
        "TrackingServerName": res.name,
        "ArtifactStoreUri": p["ArtifactStoreUri"],
        "TrackingServerSize": p["TrackingServerSize"],
        "MlflowVersion": p.get("MlflowVersion") or MLFLOW_VERSION,
        "RoleArn": p["RoleArn"],
        "TrackingServerStatus": res.status,
        "IsActive": "Inactive" if res.status in ("Stopped", "Stopping") else "Active",
        "TrackingServerUrl": res.url
        or f"https://t-{res.name}.{call.region}.experiments.sagemaker.aws",
        "AutomaticModelRegistration": bool(p.get("AutomaticModelRegistration", False)),
        "CreationTime": res.created,
        "LastModifiedTime": res.modified,
    }


@handles("sagemaker", "ListMlflowTrackingServers")
def _list_servers(call: OfflineCall) -> dict[str, Any]:
    with _LOCK:
        found = [
            r
            for r in _RESOURCES.values()
            if r.kind == "tracking-server" and f":{call.region}:{call.account_id}:" in r.arn
        ]
    status = call.params.get("TrackingServerStatus")
    found = [r for r in found if not status or r.status == status]
    found.sort(key=lambda r: r.created, reverse=call.params.get("SortOrder") != "Ascending")
    return {
        "TrackingServerSummaries": [
            {
                "TrackingServerArn": r.arn,
                "TrackingServerName": r.name,
                "CreationTime": r.created,
                "LastModifiedTime": r.modified,
                "TrackingServerStatus": r.status,
                "IsActive": "Inactive" if r.status == "Stopped" else "Active",
                "MlflowVersion": r.request.get("MlflowVersion") or MLFLOW_VERSION,
            }
            for r in found
        ]
    }


@handles("sagemaker", "StopMlflowTrackingServer")
def _stop_server(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "tracking-server", "TrackingServerName")
    if res.status == "Stopped":
        raise AwsError("ConflictException", f"Tracking server {res.name} is already Stopped.")
    stop_server(res)
    res.status, res.modified = "Stopped", dt.datetime.now(dt.UTC)
    return {"TrackingServerArn": res.arn}


@handles("sagemaker", "StartMlflowTrackingServer")
def _start_server(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "tracking-server", "TrackingServerName")
    if res.status != "Stopped":
        raise AwsError(
            "ConflictException", f"Tracking server {res.name} is {res.status}, not Stopped."
        )
    res.status, res.modified = "Started", dt.datetime.now(dt.UTC)
    return {"TrackingServerArn": res.arn}


@handles("sagemaker", "UpdateMlflowTrackingServer")
def _update_server(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "tracking-server", "TrackingServerName")
    for k, v in call.params.items():
        if k != "TrackingServerName" and v is not None:
            res.request[k] = v
    res.status, res.modified = "Updated", dt.datetime.now(dt.UTC)
    return {"TrackingServerArn": res.arn}


@handles("sagemaker", "DeleteMlflowTrackingServer")
def _delete_server(call: OfflineCall) -> dict[str, Any]:
    res = _get(call, "tracking-server", "TrackingServerName")
    _drop(res)
    return {"TrackingServerArn": res.arn}


@handles("sagemaker", "CreatePresignedMlflowTrackingServerUrl")
def _presign_server(call: OfflineCall) -> dict[str, Any]:
    _check_expiry(call.params)
    res = _get(call, "tracking-server", "TrackingServerName")
    return {"AuthorizedUrl": resolve(res.arn).url + "/"}


@on_reset
def _reset() -> None:
    with _LOCK:
        every = list(_RESOURCES.values())
    for res in every:
        _drop(res)
    _restore_tracking_uri_scheme()
