"""Offline training jobs: ``CreateTrainingJob`` runs for real (introduced in lab 03).

moto stores the job; the ``after`` handler of ``CreateTrainingJob`` marks it
``InProgress`` and starts a background thread that does what SageMaker does:

1. **Starting**: resolve the image (:mod:`~mllab.offline.sagemaker.images`): a built-in
   algorithm emulation (its ``validate`` runs here: a ``ClientError`` fails the job at once),
   script mode on the scikit-learn/XGBoost framework images, or a failure that lists what
   is supported.
2. **Downloading**: every channel is copied from (moto) S3 into ``input/data/<channel>``
   under a temporary root that stands in for ``/opt/ml``. File mode; FastFile and Pipe run
   as File (a log line says so). With more than one instance the job runs host ``algo-1``
   only, with its ``ShardedByS3Key`` shard. Checkpoints are fetched from ``CheckpointConfig``.
3. **Training**: :mod:`~mllab.offline.sagemaker.runner` runs in a subprocess with the
   instance type's memory (``RLIMIT_AS``) and vCPUs as limits, the ``SM_*`` environment,
   and ``MaxRuntimeInSeconds`` as a hard limit. Its output goes to CloudWatch Logs
   (``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<epoch>``); metric lines are
   parsed with the job's ``MetricDefinitions`` and the algorithm's own.
4. **Uploading**: ``model.tar.gz`` and ``output.tar.gz`` go to
   ``<S3OutputPath>/<job>/output/``; checkpoints are synced to S3.

``DescribeTrainingJob`` answers from the live state (status, secondary status transitions,
metrics, times, ``FailureReason``); ``StopTrainingJob`` stops the run. Managed spot
training is simulated: ``BillableTimeInSeconds`` is the training time less
:data:`SPOT_DISCOUNT` (a typical saving, not a quote), and the log says so.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import math
import re
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset
from mllab.offline.sagemaker import cwlogs, images, s3io

#: The fraction of on-demand time a managed spot job is assumed to save (simulated offline;
#: AWS quotes "up to 90%", and the real saving depends on the spot market).
SPOT_DISCOUNT = 0.7

ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
S3_URI_PATTERN = r"^(https|s3)://([^/]+)/?(.*)$"
JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"

_LOCK = threading.RLock()
_RUNS: dict[tuple[str, str, str], TrainingRun] = {}

_TERMINAL = {"Completed", "Failed", "Stopped"}


class JobFailure(Exception):
    """Ends a run as ``Failed`` with this FailureReason."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class TrainingRun:
    """The live state of one offline training job (what DescribeTrainingJob answers).

    Attributes:
        account_id: the offline account.
        region: the job's region.
        request: the CreateTrainingJob request (a deep copy, tags injected).
        tuning_job_arn: set for the trials of a tuning job.
    """

    account_id: str
    region: str
    request: dict[str, Any]
    tuning_job_arn: str | None = None
    status: str = "InProgress"
    secondary: str = "Starting"
    transitions: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str | None = None
    creation_time: dt.datetime = field(default_factory=_now)
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    last_modified: dt.datetime = field(default_factory=_now)
    final_metrics: dict[str, tuple[float, dt.datetime]] = field(default_factory=dict)
    metric_history: dict[str, list[float]] = field(default_factory=dict)
    training_seconds: int | None = None
    billable_seconds: int | None = None
    model_uri: str | None = None
    log_stream: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    metric_definitions: list[dict[str, str]] = field(default_factory=list)
    moto_job: Any = None

    @property
    def name(self) -> str:
        return str(self.request["TrainingJobName"])

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:training-job/{self.name.lower()}"

    def metric(self, name: str) -> float | None:
        """The final value of one metric, or None when the job did not emit it."""
        with _LOCK:
            got = self.final_metrics.get(name)
        return None if got is None else got[0]

    # ---------------------------------------------------------------- state changes
    def transition(self, status: str, message: str) -> None:
        """Move to a new secondary status (closing the previous one), like AWS's transitions."""
        now = _now()
        with _LOCK:
            if self.transitions and self.transitions[-1]["Status"] == status:
                self.transitions = [
                    *self.transitions[:-1],
                    {**self.transitions[-1], "StatusMessage": message},
                ]
                self.last_modified = now
                return
            if self.transitions and "EndTime" not in self.transitions[-1]:
                self.transitions[-1]["EndTime"] = now
            entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": message}
            if status in _TERMINAL or status in {"MaxRuntimeExceeded", "Stopped"}:
                entry["EndTime"] = now
            self.transitions = [*self.transitions, entry]
            self.secondary = status
            self.last_modified = now
            self._mirror()

    def finish(self, status: str, reason: str | None = None) -> None:
        """Set the final TrainingJobStatus (``Completed``, ``Failed`` or ``Stopped``)."""
        now = _now()
        with _LOCK:
            self.status = status
            self.failure_reason = reason[:1024] if reason else None
            self.end_time = now
            self.last_modified = now
            self._mirror()

    def _mirror(self) -> None:
        """Copy the status into moto's job, so ListTrainingJobs filters by it."""
        job = self.moto_job
        if job is None:
            return
        naive = lambda d: d.replace(tzinfo=None) if d else None  # noqa: E731 - moto keeps naive UTC
        job.training_job_status = self.status
        job.secondary_status = self.secondary
        job.last_modified_time = naive(self.last_modified)
        job.training_end_time = naive(self.end_time)
        if self.failure_reason:
            job.failure_reason = self.failure_reason

    # ---------------------------------------------------------------- describe
    def describe(self) -> dict[str, Any]:
        """The DescribeTrainingJob response of this job (fields AWS returns, none of moto's stand-ins)."""
        r = self.request
        with _LOCK:
            algo = copy.deepcopy(r.get("AlgorithmSpecification") or {})
            if self.metric_definitions and not algo.get("MetricDefinitions"):
                algo["MetricDefinitions"] = copy.deepcopy(self.metric_definitions)
            out: dict[str, Any] = {
                "TrainingJobName": self.name,
                "TrainingJobArn": self.arn,
                "ModelArtifacts": {"S3ModelArtifacts": self.model_uri or self.expected_model_uri()},
                "TrainingJobStatus": self.status,
                "SecondaryStatus": self.secondary,
                "HyperParameters": copy.deepcopy(r.get("HyperParameters") or {}),
                "AlgorithmSpecification": algo,
                "RoleArn": r.get("RoleArn"),
                "InputDataConfig": copy.deepcopy(r.get("InputDataConfig") or []),
                "OutputDataConfig": copy.deepcopy(r.get("OutputDataConfig") or {}),
                "ResourceConfig": copy.deepcopy(r.get("ResourceConfig") or {}),
                "StoppingCondition": copy.deepcopy(r.get("StoppingCondition") or {}),
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "SecondaryStatusTransitions": copy.deepcopy(self.transitions),
                "EnableNetworkIsolation": bool(r.get("EnableNetworkIsolation", False)),
                "EnableInterContainerTrafficEncryption": bool(
                    r.get("EnableInterContainerTrafficEncryption", False)
                ),
                "EnableManagedSpotTraining": bool(r.get("EnableManagedSpotTraining", False)),
            }
            if self.final_metrics:
                out["FinalMetricDataList"] = [
                    {"MetricName": k, "Value": v, "Timestamp": ts}
                    for k, (v, ts) in self.final_metrics.items()
                ]
            for key, val in (
                ("TuningJobArn", self.tuning_job_arn),
                ("FailureReason", self.failure_reason),
                ("TrainingStartTime", self.start_time),
                ("TrainingEndTime", self.end_time),
                ("TrainingTimeInSeconds", self.training_seconds),
                ("BillableTimeInSeconds", self.billable_seconds),
            ):
                if val is not None:
                    out[key] = val
            for key in (
                "VpcConfig",
                "CheckpointConfig",
                "Environment",
                "ExperimentConfig",
                "DebugHookConfig",
                "TensorBoardOutputConfig",
                "RetryStrategy",
                "Tags",
            ):
                if r.get(key) and key != "Tags":
                    out[key] = copy.deepcopy(r[key])
        return out

    def expected_model_uri(self) -> str:
        """``<S3OutputPath>/<job>/output/model.tar.gz``."""
        base = str((self.request.get("OutputDataConfig") or {}).get("S3OutputPath", "")).rstrip("/")
        return f"{base}/{self.name}/output/model.tar.gz"


# ====================================================================== public API


def get_run(account_id: str, region: str, name: str) -> TrainingRun | None:
    """Return the offline run of a training job, or None when it is not one of ours.

    A run whose moto job is gone (the lab that made it closed, and moto was reset) is
    forgotten.
    """
    with _LOCK:
        run = _RUNS.get((account_id, region, name))
        if (
            run is not None
            and run.moto_job is not None
            and _moto_job(account_id, region, name) is not run.moto_job
        ):
            _RUNS.pop((account_id, region, name), None)
            return None
        return run


def _moto_job(account_id: str, region: str, name: str) -> Any:
    try:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[account_id][region].training_jobs.get(name)
    except Exception:  # noqa: BLE001 - moto stopped
        return None


def runs() -> list[TrainingRun]:
    """Every offline training run of this process (newest last)."""
    with _LOCK:
        return list(_RUNS.values())


def start_training_job(
    account_id: str,
    region: str,
    request: dict[str, Any],
    *,
    tuning_job_arn: str | None = None,
    create_in_moto: bool = False,
) -> TrainingRun:
    """Start running a training job in the background; return its live state.

    Used by the ``CreateTrainingJob`` handler and by tuning jobs for their trials (which are
    created in moto directly, ``create_in_moto=True``, so the cost guard does not charge
    them twice: the tuning job's estimate covers them).

    Args:
        account_id: the offline account.
        region: the region.
        request: a CreateTrainingJob request.
        tuning_job_arn: the tuning job a trial belongs to.
        create_in_moto: also store the job in moto's backend.

    Returns:
        The run; ``run.done`` is set when it has ended. It costs what the instance type
        costs for its duration on AWS (nothing offline).
    """
    request = copy.deepcopy(request)
    if create_in_moto:
        _create_in_moto(account_id, region, request)
    run = TrainingRun(
        account_id=account_id, region=region, request=request, tuning_job_arn=tuning_job_arn
    )
    run.moto_job = _moto_job(account_id, region, run.name)
    with _LOCK:
        _RUNS[(account_id, region, run.name)] = run
        run.transition("Starting", "Starting the training job")
    thread = threading.Thread(
        target=_execute, args=(run,), name=f"mllab-train-{run.name}", daemon=True
    )
    run.thread = thread
    thread.start()
    return run


def stop_run(run: TrainingRun, wait: float = 15.0) -> None:
    """Ask a run to stop (as StopTrainingJob does) and wait up to ``wait`` seconds for it to end."""
    with _LOCK:
        if run.status == "InProgress":
            run.status = "Stopping"
            run.transition("Stopping", "Stopping the training job")
    run.stop_event.set()
    run.done.wait(wait)


def stop_all(wait: float = 15.0) -> None:
    """Stop every run still in progress (lab close, interpreter exit)."""
    for run in runs():
        if not run.done.is_set():
            stop_run(run, wait)


def _create_in_moto(account_id: str, region: str, r: dict[str, Any]) -> None:
    from moto.sagemaker.models import sagemaker_backends

    be: Any = sagemaker_backends[account_id][region]
    with _LOCK:
        be.create_training_job(
            training_job_name=r["TrainingJobName"],
            hyper_parameters=r.get("HyperParameters") or {},
            algorithm_specification=copy.deepcopy(r.get("AlgorithmSpecification") or {}),
            role_arn=r.get("RoleArn"),
            input_data_config=r.get("InputDataConfig") or [],
            output_data_config=r.get("OutputDataConfig") or {},
            resource_config=r.get("ResourceConfig") or {},
            vpc_config=r.get("VpcConfig"),
            stopping_condition=r.get("StoppingCondition") or {},
            tags=r.get("Tags") or [],
            enable_network_isolation=r.get("EnableNetworkIsolation", False),
            enable_inter_container_traffic_encryption=r.get(
                "EnableInterContainerTrafficEncryption", False
            ),
            enable_managed_spot_training=r.get("EnableManagedSpotTraining", False),
            checkpoint_config=r.get("CheckpointConfig"),
            debug_hook_config=r.get("DebugHookConfig"),
            debug_rule_configurations=r.get("DebugRuleConfigurations"),
            tensor_board_output_config=r.get("TensorBoardOutputConfig"),
            experiment_config=r.get("ExperimentConfig"),
        )


# ====================================================================== validation


def _regex_error(value: Any, member: str, pattern: str) -> AwsError:
    return AwsError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}",
    )


def role_exists(account_id: str, role_arn: str) -> bool:
    """True when the role of an ARN exists in (moto's) IAM."""
    try:
        from moto.iam.models import iam_backends

        name = role_arn.rsplit("/", 1)[-1]
        iam_backends[account_id]["global"].get_role(name)
        return True
    except Exception:  # noqa: BLE001 - NoSuchEntity
        return False


def validate_request(account_id: str, region: str, p: dict[str, Any], prefix: str = "") -> None:
    """AWS's synchronous checks of a CreateTrainingJob request that moto does not make.

    Raises:
        AwsError: ``ValidationException`` or ``ResourceInUse``, in AWS's words.
    """
    name = str(p.get("TrainingJobName", ""))
    if not re.match(JOB_NAME_PATTERN, name):
        raise _regex_error(name, f"{prefix}trainingJobName", JOB_NAME_PATTERN)
    role = str(p.get("RoleArn", ""))
    if not re.match(ROLE_ARN_PATTERN, role):
        raise _regex_error(role, f"{prefix}roleArn", ROLE_ARN_PATTERN)
    if not role_exists(account_id, role):
        raise AwsError(
            "ValidationException",
            f"Could not assume role {role}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role.",
        )
    for i, ch in enumerate(p.get("InputDataConfig") or [], start=1):
        s3 = ((ch.get("DataSource") or {}).get("S3DataSource")) or {}
        uri = s3.get("S3Uri")
        if uri is not None and not re.match(S3_URI_PATTERN, str(uri)):
            raise _regex_error(
                uri,
                f"{prefix}inputDataConfig.{i}.member.dataSource.s3DataSource.s3Uri",
                S3_URI_PATTERN,
            )
    out = (p.get("OutputDataConfig") or {}).get("S3OutputPath")
    if out is not None and not re.match(S3_URI_PATTERN, str(out)):
        raise _regex_error(out, f"{prefix}outputDataConfig.s3OutputPath", S3_URI_PATTERN)
    ck = (p.get("CheckpointConfig") or {}).get("S3Uri")
    if ck is not None and not re.match(S3_URI_PATTERN, str(ck)):
        raise _regex_error(ck, f"{prefix}checkpointConfig.s3Uri", S3_URI_PATTERN)
    stop = p.get("StoppingCondition") or {}
    if p.get("EnableManagedSpotTraining"):
        wait_s = stop.get("MaxWaitTimeInSeconds")
        if wait_s is None:
            raise AwsError(
                "ValidationException",
                "Invalid MaxWaitTimeInSeconds. It is required for managed spot training.",
            )
        if int(wait_s) < int(stop.get("MaxRuntimeInSeconds") or 86400):
            raise AwsError(
                "ValidationException",
                "Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal to MaxRuntimeInSeconds",
            )
    names = [c.get("ChannelName") for c in p.get("InputDataConfig") or []]
    if len(names) != len(set(names)):
        raise AwsError(
            "ValidationException", "Channel names must be unique within the InputDataConfig."
        )


@handles("sagemaker", "CreateTrainingJob", "before")
def _create_before(call: OfflineCall) -> None:
    validate_request(call.account_id, call.region, call.params)
    if _in_moto(call.account_id, call.region, str(call.params.get("TrainingJobName"))):
        arn = f"arn:aws:sagemaker:{call.region}:{call.account_id}:training-job/{str(call.params['TrainingJobName']).lower()}"
        raise AwsError(
            "ResourceInUse",
            "Training job names must be unique within an AWS account and region, and a training job "
            f"with this name already exists ({arn})",
        )
    return None


def _in_moto(account_id: str, region: str, name: str) -> bool:
    try:
        from moto.sagemaker.models import sagemaker_backends

        return name in sagemaker_backends[account_id][region].training_jobs
    except Exception:  # noqa: BLE001
        return False


@handles("sagemaker", "CreateTrainingJob", "after")
def _create_after(call: OfflineCall) -> None:
    start_training_job(call.account_id, call.region, call.params)


@handles("sagemaker", "DescribeTrainingJob", "before")
def _describe(call: OfflineCall) -> dict[str, Any] | None:
    run = get_run(call.account_id, call.region, str(call.params.get("TrainingJobName")))
    if run is None:
        return None
    return run.describe()


@handles("sagemaker", "StopTrainingJob", "before")
def _stop(call: OfflineCall) -> dict[str, Any]:
    name = str(call.params.get("TrainingJobName"))
    run = get_run(call.account_id, call.region, name)
    if run is None:
        if _in_moto(call.account_id, call.region, name):
            raise AwsError(
                "ValidationException",
                "The request was rejected because the training job is in status Completed.",
            )
        raise AwsError("ResourceNotFound", f"Requested resource not found: training job {name}")
    with _LOCK:
        status = run.status
    if status != "InProgress":
        raise AwsError(
            "ValidationException",
            f"The request was rejected because the training job is in status {status}.",
        )
    stop_run(run)
    return {}


# ====================================================================== the run


def _log_line(
    run: TrainingRun,
    stream: cwlogs.LogStream,
    line: str,
    patterns: list[tuple[str, re.Pattern[str]]],
) -> None:
    stream.write(line)
    for name, rx in patterns:
        m = rx.search(line)
        if not m:
            continue
        try:
            value = float(m.group(1))
        except (IndexError, ValueError, TypeError):
            continue
        if math.isnan(value) or math.isinf(value):
            continue
        with _LOCK:
            run.final_metrics[name] = (value, _now())
            run.metric_history.setdefault(name, []).append(value)


def _channels(run: TrainingRun) -> dict[str, dict[str, Any]]:
    return {c["ChannelName"]: c for c in run.request.get("InputDataConfig") or []}


@dataclass
class _Plan:
    mode: str  # "algorithm" | "framework-script" | "sourcecode"
    module: Any = None
    framework: str | None = None


def _plan(run: TrainingRun) -> _Plan:
    spec = run.request.get("AlgorithmSpecification") or {}
    image = spec.get("TrainingImage")
    hps = run.request.get("HyperParameters") or {}
    channels = _channels(run)
    if spec.get("AlgorithmName") and not image:
        raise JobFailure(
            f"ClientError: algorithm resources and AWS Marketplace algorithms ({spec['AlgorithmName']}) "
            "have no offline emulation; give a TrainingImage instead."
        )
    fw = images.framework(image)
    if "sm_drivers" in channels and spec.get("ContainerEntrypoint"):
        if fw is None and images.algorithm(image) is None:
            raise JobFailure(images.unsupported_reason(image))
        return _Plan("sourcecode", framework=fw)
    if fw is not None and "sagemaker_program" in hps:
        return _Plan("framework-script", framework=fw)
    module = images.algorithm(image)
    if module is not None:
        from mllab.offline.sagemaker.contract import ClientError

        try:
            module.validate(dict(hps), channels)
        except ClientError as err:
            raise JobFailure(f"ClientError: {err}") from None
        return _Plan("algorithm", module=module)
    if fw is not None:
        raise JobFailure(
            f"ClientError: the {fw} framework image runs your entry script: set the sagemaker_program "
            "(script file name) and sagemaker_submit_directory (s3://.../sourcedir.tar.gz) "
            "hyperparameters, or use the SDK's ModelTrainer with SourceCode."
        )
    raise JobFailure(images.unsupported_reason(image))


def _download(run: TrainingRun, env: Any, stream: cwlogs.LogStream) -> None:
    rc = run.request.get("ResourceConfig") or {}
    count = int(rc.get("InstanceCount") or 1)
    for name, ch in _channels(run).items():
        mode = ch.get("InputMode") or (run.request.get("AlgorithmSpecification") or {}).get(
            "TrainingInputMode", "File"
        )
        if mode in {"Pipe", "FastFile"}:
            stream.write(
                f"mllab offline: {mode} input mode runs as File mode offline: channel {name} is downloaded to {env.channel_dir(name)}"
            )
        src = (ch.get("DataSource") or {}).get("S3DataSource")
        if not src:
            raise JobFailure(
                f"ClientError: channel {name}: only S3DataSource channels are emulated offline "
                "(FileSystemDataSource needs EFS/FSx)."
            )
        uri = str(src["S3Uri"])
        dest = env.channel_dir(name)
        dtype = src.get("S3DataType", "S3Prefix")
        try:
            if dtype in {"ManifestFile", "AugmentedManifestFile"}:
                files = s3io.download_prefix(
                    run.account_id, uri, dest, manifest=dtype == "ManifestFile"
                )
                if dtype == "AugmentedManifestFile":
                    bucket, key = s3io.split_uri(uri)
                    (dest / key.rsplit("/", 1)[-1]).write_bytes(s3io.get_bytes(run.account_id, uri))
                    files = [dest / key.rsplit("/", 1)[-1]]
            else:
                keys = [k for k, _ in s3io.list_keys(run.account_id, uri) if not k.endswith("/")]
                if count > 1 and src.get("S3DataDistributionType") == "ShardedByS3Key":
                    keys = keys[0::count]
                    stream.write(
                        f"mllab offline: {count} instances requested; host algo-1 runs here with its "
                        f"ShardedByS3Key shard of channel {name} ({len(keys)} objects)"
                    )
                bucket, prefix = s3io.split_uri(uri)
                files = []
                for key in keys:
                    rel = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(s3io.get_bytes(run.account_id, f"s3://{bucket}/{key}"))
                    files.append(target)
        except s3io.S3Missing:
            files = []
        if not files:
            raise JobFailure(
                f'ClientError: Data download failed:No S3 objects found under S3 URL "{uri}" given in input data '
                f"source. Please ensure that the bucket exists in the selected region ({run.region}), that objects "
                f'exist under that S3 prefix, and that the role "{run.request.get("RoleArn")}" has "s3:ListBucket" '
                f'permissions on bucket "{s3io.split_uri(uri)[0]}".'
            )


def _decode(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    try:
        return json.loads(v)
    except (json.JSONDecodeError, ValueError):
        return v


def _serialize(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def sm_environment(
    env: Any, hps: dict[str, str], *, module_name: str = "", entry: str = "", code_dir: str = ""
) -> dict[str, str]:
    """The ``SM_*`` variables the SageMaker framework containers (training toolkit) set.

    Args:
        env: the job's :class:`~mllab.offline.sagemaker.contract.TrainingEnv`.
        hps: the hyperparameters as the request gives them (strings).
        module_name: the entry script's module name (``train`` for ``train.py``).
        entry: the entry script's file name.
        code_dir: where the code is.

    Returns:
        The variables (paths are the job's real folders, not ``/opt/ml``).
    """
    user = {k: _decode(v) for k, v in hps.items() if not k.startswith("sagemaker_")}
    channels = list(env.channels)
    root = env.root
    rc = {"current_host": env.current_host, "hosts": env.hosts, "current_instance_type": env.instance_type,
          "network_interface_name": "eth0"}  # fmt: skip
    idc = json.loads((env.config_dir / "inputdataconfig.json").read_text())
    args: list[str] = []
    for k, v in user.items():
        args += [f"--{k}", _serialize(v)]
    training_env = {
        "additional_framework_parameters": {
            k: _decode(v) for k, v in hps.items() if k.startswith("sagemaker_")
        },
        "channel_input_dirs": {c: str(env.channel_dir(c)) for c in channels},
        "current_host": env.current_host,
        "current_instance_type": env.instance_type,
        "framework_module": "",
        "hosts": env.hosts,
        "hyperparameters": user,
        "input_config_dir": str(env.config_dir),
        "input_data_config": idc,
        "input_dir": str(env.input_dir),
        "is_master": env.current_host == env.hosts[0],
        "job_name": env.job_name,
        "log_level": 20,
        "master_hostname": env.hosts[0],
        "model_dir": str(env.model_dir),
        "module_dir": code_dir,
        "module_name": module_name,
        "network_interface_name": "eth0",
        "num_cpus": env.num_cpus,
        "num_gpus": 0,
        "num_neurons": 0,
        "output_data_dir": str(env.output_data_dir),
        "output_dir": str(root / "output"),
        "output_intermediate_dir": str(root / "output" / "intermediate"),
        "resource_config": rc,
        "user_entry_point": entry,
    }
    out = {
        "SM_HOSTS": json.dumps(env.hosts),
        "SM_CURRENT_HOST": env.current_host,
        "SM_CURRENT_INSTANCE_TYPE": env.instance_type,
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_HPS": json.dumps(user),
        "SM_USER_ARGS": json.dumps(args),
        "SM_USER_ENTRY_POINT": entry,
        "SM_ENTRY_SCRIPT": entry,
        "SM_MODULE_NAME": module_name,
        "SM_MODULE_DIR": code_dir,
        "SM_SOURCE_DIR": code_dir,
        "SM_FRAMEWORK_PARAMS": json.dumps(training_env["additional_framework_parameters"]),
        "SM_RESOURCE_CONFIG": json.dumps(rc),
        "SM_INPUT_DATA_CONFIG": json.dumps(idc),
        "SM_CHANNELS": json.dumps(channels),
        "SM_NUM_CPUS": str(env.num_cpus),
        "SM_NUM_GPUS": "0",
        "SM_NUM_NEURONS": "0",
        "SM_LOG_LEVEL": "20",
        "SM_INPUT_DIR": str(env.input_dir),
        "SM_INPUT_CONFIG_DIR": str(env.config_dir),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(env.output_data_dir),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(root / "output" / "intermediate"),
        "SM_MODEL_DIR": str(env.model_dir),
        "SM_CHECKPOINT_DIR": str(env.checkpoint_dir),
        "SM_TRAINING_ENV": json.dumps(training_env),
        "SM_IS_MASTER": "true",
        "SM_MASTER_ADDR": env.hosts[0],
        "TRAINING_JOB_NAME": env.job_name,
        "MLLAB_MEMORY_GIB": str(env.memory_gib),
        "MLLAB_OPT_ML": str(root),
    }
    for c in channels:
        out[f"SM_CHANNEL_{c.upper().replace('-', '_')}"] = str(env.channel_dir(c))
    for k, v in user.items():
        out[f"SM_HP_{k.upper().replace('-', '_')}"] = _serialize(v)
    return out


def _extract_tar(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        tar.extractall(dest, filter="data")


def _script_spec(
    run: TrainingRun, plan: _Plan, env: Any, stream: cwlogs.LogStream
) -> tuple[dict[str, Any], dict[str, str]]:
    """Build the runner's spec and SM env for the script modes."""
    hps = run.request.get("HyperParameters") or {}
    if plan.mode == "framework-script":
        program = str(_decode(hps["sagemaker_program"]))
        submit = _decode(hps.get("sagemaker_submit_directory"))
        code = env.root / "code"
        code.mkdir(parents=True, exist_ok=True)
        if submit:
            submit = str(submit)
            if not submit.startswith("s3://"):
                raise JobFailure(
                    f"ClientError: sagemaker_submit_directory {submit!r} is not an S3 URI; upload your "
                    "code as a tar.gz (s3://.../sourcedir.tar.gz)."
                )
            try:
                data = s3io.get_bytes(run.account_id, submit)
            except s3io.S3Missing:
                raise JobFailure(
                    f"ClientError: sagemaker_submit_directory {submit} does not exist; upload your code as a tar.gz there."
                ) from None
            try:
                _extract_tar(data, code)
            except tarfile.TarError:
                raise JobFailure(
                    f"ClientError: sagemaker_submit_directory {submit} is not a tar.gz archive."
                ) from None
        if not (code / program).is_file():
            raise JobFailure(
                f"AlgorithmError: ExecuteUserScriptError:\nExitCode 2\nErrorMessage \"can't open file "
                f"'{program}': [Errno 2] No such file or directory\""
            )
        user = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
        args: list[str] = []
        for k, v in user.items():
            args += [f"--{k}", _serialize(_decode(v))]
        extra = sm_environment(
            env, hps, module_name=program.rsplit(".", 1)[0], entry=program, code_dir=str(code)
        )
        spec = {
            "mode": "script",
            "script": {
                "program": program,
                "args": args,
                "cwd": str(code),
                "requirements": "requirements.txt",
            },
        }
        return spec, extra
    # SDK v3 ModelTrainer with SourceCode: sm_drivers/sourcecode.json says what to run
    drivers = env.channel_dir("sm_drivers")
    sc_file = drivers / "sourcecode.json"
    source = json.loads(sc_file.read_text()) if sc_file.is_file() else {}
    code = env.channel_dir("code")
    code.mkdir(parents=True, exist_ok=True)
    src_dir = str(source.get("source_dir") or "")
    if src_dir.endswith(".tar.gz"):
        tarball = code / Path(src_dir).name
        if tarball.is_file():
            _extract_tar(tarball.read_bytes(), code)
    entry = source.get("entry_script") or ""
    command = source.get("command")
    req = source.get("requirements")
    extra = sm_environment(
        env, hps, module_name=str(entry).rsplit(".", 1)[0], entry=str(entry), code_dir=str(code)
    )
    if command:
        import shlex

        parts = str(command).split() + [shlex.quote(str(a)) for a in source.get("args") or []]
        spec = {"mode": "command", "command": {"shell": " ".join(parts), "cwd": str(code)}}
        if req:
            from mllab.offline.sagemaker.runner import check_requirements

            if (code / req).is_file() and (missing := check_requirements(code / req)):
                raise JobFailure(
                    "AlgorithmError: InstallRequirementsError:\n"
                    f"{req} names packages that are not installed offline: {', '.join(missing)}. Offline jobs "
                    f"download nothing: install them into the lab environment (pip install {' '.join(missing)}) "
                    f"or remove them from {req}."
                )
        return spec, extra
    if not entry:
        raise JobFailure("ClientError: SourceCode has neither entry_script nor command.")
    if str(entry).endswith(".sh"):
        spec = {
            "mode": "command",
            "command": {
                "shell": f"sh {entry} " + " ".join(json.loads(extra["SM_USER_ARGS"])),
                "cwd": str(code),
            },
        }
        return spec, extra
    args = []
    for k, v in hps.items():
        args += [f"--{k}", _serialize(_decode(v))]
    spec = {
        "mode": "script",
        "script": {"program": entry, "args": args, "cwd": str(code), "requirements": req},
    }
    return spec, extra


def _tar_dir(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(src).as_posix())
    return buf.getvalue()


def _upload(run: TrainingRun, env: Any, ok: bool, stream: cwlogs.LogStream) -> None:
    out_cfg = run.request.get("OutputDataConfig") or {}
    base = str(out_cfg.get("S3OutputPath", "")).rstrip("/")
    prefix = f"{base}/{run.name}/output"
    has_model = env.model_dir.exists() and any(p.is_file() for p in env.model_dir.rglob("*"))
    if ok and has_model:
        if out_cfg.get("CompressionType") == "NONE":
            s3io.upload_dir(run.account_id, env.model_dir, f"{prefix}/model")
            with _LOCK:
                run.model_uri = f"{prefix}/model/"
        else:
            s3io.put_bytes(run.account_id, f"{prefix}/model.tar.gz", _tar_dir(env.model_dir))
            with _LOCK:
                run.model_uri = f"{prefix}/model.tar.gz"
    out_data = env.output_data_dir
    if out_data.exists() and any(p.is_file() for p in out_data.rglob("*")):
        s3io.put_bytes(run.account_id, f"{prefix}/output.tar.gz", _tar_dir(out_data))


def _sync_checkpoints(run: TrainingRun, env: Any, direction: str) -> None:
    ck = run.request.get("CheckpointConfig") or {}
    uri = ck.get("S3Uri")
    if not uri:
        return
    if direction == "down":
        s3io.download_prefix(run.account_id, str(uri), env.checkpoint_dir)
    else:
        s3io.upload_dir(run.account_id, env.checkpoint_dir, str(uri))


def _execute(run: TrainingRun) -> None:
    """The job thread: Starting, Downloading, Training, Uploading, and the end."""
    from mllab.guard.pricing import instance
    from mllab.offline.sagemaker.contract import TrainingEnv
    from mllab.offline.sagemaker.jobproc import JobProcess, child_env

    rc = run.request.get("ResourceConfig") or {}
    itype = str(rc.get("InstanceType") or "ml.m5.large")
    spec_i = instance(itype)
    vcpu = spec_i.vcpu if spec_i else 2
    mem = spec_i.memory_gib if spec_i else 8.0
    count = int(rc.get("InstanceCount") or 1)
    epoch = int(time.time())
    stream_name = f"{run.name}/algo-1-{epoch}"
    stream = cwlogs.LogStream(run.account_id, run.region, cwlogs.TRAINING_GROUP, stream_name)
    with _LOCK:
        run.log_stream = stream_name
    jobdir = Path(tempfile.mkdtemp(prefix="mllab-train-"))
    t0 = time.monotonic()
    env: Any = None
    try:
        plan = _plan(run)
        if plan.module is not None:
            defs = list(getattr(plan.module, "METRIC_DEFINITIONS", []) or [])
            user = (run.request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
            merged = {d["Name"]: d for d in defs}
            merged.update({d["Name"]: d for d in user})
            with _LOCK:
                run.metric_definitions = list(merged.values())
        else:
            with _LOCK:
                run.metric_definitions = list(
                    (run.request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
                )
        patterns = []
        for d in run.metric_definitions:
            try:
                patterns.append((d["Name"], re.compile(d["Regex"])))
            except re.error:
                stream.write(
                    f"mllab offline: metric {d.get('Name')}: invalid regex {d.get('Regex')!r}, ignored"
                )
        run.transition("Starting", "Preparing the instances for training")
        hosts = [f"algo-{i}" for i in range(1, count + 1)]
        env = TrainingEnv(
            root=jobdir / "ml",
            hyperparameters=dict(run.request.get("HyperParameters") or {}),
            channels={
                c["ChannelName"]: {**c, "InputMode": c.get("InputMode") or "File"}
                for c in run.request.get("InputDataConfig") or []
            },
            current_host="algo-1",
            hosts=hosts,
            num_cpus=vcpu,
            memory_gib=mem,
            instance_type=itype,
            job_name=run.name,
        )
        env.write_config()
        if run.stop_event.is_set():
            raise _Stopped()
        run.transition("Downloading", "Downloading input data")
        with _LOCK:
            run.start_time = _now()
        _download(run, env, stream)
        _sync_checkpoints(run, env, "down")
        if plan.mode == "algorithm":
            spec: dict[str, Any] = {
                "mode": "algorithm",
                "algorithm": {
                    "module": plan.module.__name__,
                    "file": getattr(plan.module, "__file__", None),
                },
            }
            extra = sm_environment(env, dict(run.request.get("HyperParameters") or {}))
        else:
            spec, extra = _script_spec(run, plan, env, stream)
        spec.update({"root": str(env.root), "memory_bytes": int(mem * 2**30), "cpus": vcpu})
        extra.update({k: str(v) for k, v in (run.request.get("Environment") or {}).items()})
        if run.stop_event.is_set():
            raise _Stopped()
        run.transition("Training", "Training image download completed. Training in progress.")
        max_rt = (run.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        proc = JobProcess(
            jobdir,
            spec,
            child_env(vcpu, extra),
            lambda line: _log_line(run, stream, line, patterns),
            float(max_rt) if max_rt else None,
            run.stop_event,
        )
        result = proc.run()
        stream.flush()
        if result.timed_out:
            run.transition("Uploading", "Uploading generated training model")
            _sync_checkpoints(run, env, "up")
            _upload(run, env, True, stream)
            run.transition(
                "MaxRuntimeExceeded", "Training job stopped because it exceeded MaxRuntimeInSeconds"
            )
            run.finish("Stopped")
            return
        if result.stopped:
            raise _Stopped()
        if result.exit_code != 0 or result.failure:
            reason = result.failure or _exit_reason(result.exit_code, stream)
            if result.exit_code in (-9, 137) and not result.failure:
                from mllab.offline.sagemaker.runner import OOM_REASON

                reason = OOM_REASON
            if reason.startswith("OutOfMemoryError"):
                stream.write(
                    f"mllab offline: the job ran out of the {mem:g} GiB of memory of {itype}"
                )
            _sync_checkpoints(run, env, "up")
            _upload(run, env, False, stream)
            raise JobFailure(reason)
        run.transition("Uploading", "Uploading generated training model")
        _sync_checkpoints(run, env, "up")
        _upload(run, env, True, stream)
        if not (env.model_dir.exists() and any(p.is_file() for p in env.model_dir.rglob("*"))):
            stream.write(
                "mllab offline: the job wrote nothing to the model folder; no model.tar.gz was uploaded"
            )
        run.transition("Completed", "Training job completed")
        run.finish("Completed")
    except _Stopped:
        if env is not None:
            try:
                _sync_checkpoints(run, env, "up")
                _upload(run, env, True, stream)
            except Exception:  # noqa: BLE001
                pass
        run.transition("Stopped", "Training job stopped")
        run.finish("Stopped")
    except JobFailure as f:
        reason = str(f)
        stream.write(reason)
        run.transition("Failed", "Training job failed")
        run.finish("Failed", reason)
    except Exception as err:  # noqa: BLE001 - a defect here must still end the job
        import traceback

        stream.write(traceback.format_exc())
        run.transition("Failed", "Training job failed")
        run.finish(
            "Failed",
            f"InternalServerError: the offline training run failed: {type(err).__name__}: {err}",
        )
    finally:
        stream.flush()
        seconds = max(1, int(round(time.monotonic() - t0)))
        with _LOCK:
            run.training_seconds = seconds
            billable = seconds
            if run.request.get("EnableManagedSpotTraining"):
                billable = max(1, math.ceil(seconds * (1 - SPOT_DISCOUNT)))
            run.billable_seconds = billable
        if run.request.get("EnableManagedSpotTraining"):
            stream.write(
                f"mllab offline: managed spot training is simulated: billable {billable} s of {seconds} s "
                f"({SPOT_DISCOUNT:.0%} saving assumed; real spot savings vary, up to 90%)"
            )
            stream.flush()
        try:
            metrics = {k: v for k, (v, _) in run.final_metrics.items()}
            cwlogs.put_metrics(
                run.account_id, run.region, cwlogs.TRAINING_GROUP, f"{run.name}/algo-1", metrics
            )
        except Exception:  # noqa: BLE001
            pass
        shutil.rmtree(jobdir, ignore_errors=True)
        run.done.set()


class _Stopped(Exception):
    pass


def _exit_reason(code: int | None, stream: cwlogs.LogStream) -> str:
    tail = "\n".join(stream.tail(8))
    if code is not None and code < 0:
        return f"AlgorithmError: the training process was killed by signal {-code}. Last log lines:\n{tail}"
    return f"AlgorithmError: the training process exited with code {code}. Last log lines:\n{tail}"


@on_reset
def _reset() -> None:
    """The offline account is wiped: stop running jobs and forget them."""
    stop_all(wait=5.0)
    with _LOCK:
        _RUNS.clear()
