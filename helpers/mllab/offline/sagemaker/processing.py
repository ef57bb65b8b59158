"""Offline processing jobs: ``CreateProcessingJob`` runs for real (introduced in lab 03).

With the scikit-learn (or XGBoost) processing image, the learner's script runs as
``AppSpecification.ContainerEntrypoint`` + ``ContainerArguments`` would in the container:

* each ``ProcessingInputs[].S3Input`` is downloaded to its ``LocalPath``, each
  ``ProcessingOutputConfig.Outputs[].S3Output.LocalPath`` is created, and after a
  successful run every output folder is uploaded to its ``S3Uri`` (``Continuous`` upload
  mode runs as ``EndOfJob``);
* **paths**: ``/opt/ml`` stands in as a temporary root. Arguments of the entrypoint and
  ``ContainerArguments`` that start with ``/opt/ml/`` are rewritten to the root, and inside
  the script a shim maps any ``/opt/ml/...`` path given to ``open``/``os``/``pathlib`` (see
  :mod:`mllab.offline.sagemaker.runner`), so ``pd.read_csv("/opt/ml/processing/input/x.csv")``
  works unchanged. ``$MLLAB_OPT_ML`` holds the root. ``python``/``python3`` is this
  environment's interpreter;
* the instance's memory and vCPUs are limits, ``MaxRuntimeInSeconds`` a hard limit; log
  lines go to ``/aws/sagemaker/ProcessingJobs``, stream ``<job>/algo-1-<epoch>``.

Other offline modules (Model Monitor, Clarify) run their analysis as a processing job with
an in-process callable: :func:`run_processing_job` (or :func:`register_processing_image`
so that a ``CreateProcessingJob`` with their image runs it).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset
from mllab.offline.sagemaker import cwlogs, images, s3io, training

_LOCK = threading.RLock()
_RUNS: dict[tuple[str, str, str], ProcessingRun] = {}
_WORK_BY_IMAGE: dict[str, Callable[[dict[str, Any]], Callable[[ProcessingEnv], None]]] = {}

OPT_ML_PROCESSING = "/opt/ml/processing"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ProcessingEnv:
    """What a processing job's work sees (the container's ``/opt/ml/processing`` tree, offline).

    Attributes:
        root: the stand-in for ``/opt/ml``.
        job_name: the processing job's name.
        request: the CreateProcessingJob request.
        inputs: input name -> local folder holding the downloaded input.
        outputs: output name -> local folder whose files are uploaded at the end.
        environment: the request's ``Environment``.
        arguments: ``AppSpecification.ContainerArguments`` (paths mapped to ``root``).
        instance_type: e.g. ``ml.m5.large``.
        instance_count: the cluster's instance count (offline one host runs).
        log_lines: what :meth:`log` wrote.
    """

    root: Path
    job_name: str
    request: dict[str, Any]
    inputs: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    stream: cwlogs.LogStream | None = None
    log_lines: list[str] = field(default_factory=list)

    def local(self, container_path: str) -> Path:
        """Map a container path (``/opt/ml/processing/...``) to its local folder."""
        return Path(map_path(str(self.root), container_path))

    def log(self, line: str) -> None:
        """Write a line to the job's CloudWatch Logs stream."""
        self.log_lines.append(line)
        if self.stream is not None:
            self.stream.write(line)


def map_path(root: str, p: str) -> str:
    """Rewrite ``/opt/ml/...`` to ``<root>/...``; other strings are returned unchanged."""
    if p == "/opt/ml" or p.startswith("/opt/ml/"):
        return root + p[len("/opt/ml") :]
    return p


@dataclass
class ProcessingRun:
    """The live state of one offline processing job."""

    account_id: str
    region: str
    request: dict[str, Any]
    work: Callable[[ProcessingEnv], None] | None = None
    status: str = "InProgress"
    failure_reason: str | None = None
    exit_message: str | None = None
    creation_time: dt.datetime = field(default_factory=_now)
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    last_modified: dt.datetime = field(default_factory=_now)
    stop_event: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    moto_job: Any = None
    log_stream: str | None = None
    result: Any = None

    @property
    def name(self) -> str:
        return str(self.request["ProcessingJobName"])

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:sagemaker:{self.region}:{self.account_id}:processing-job/{self.name.lower()}"
        )

    def finish(
        self, status: str, reason: str | None = None, exit_message: str | None = None
    ) -> None:
        with _LOCK:
            self.status = status
            self.failure_reason = reason[:1024] if reason else None
            self.exit_message = exit_message[:1024] if exit_message else None
            self.end_time = self.last_modified = _now()
            self._mirror()

    def _mirror(self) -> None:
        job = self.moto_job
        if job is None:
            return
        job.processing_job_status = self.status
        job.last_modified_time = self.last_modified.replace(tzinfo=None)
        job.processing_end_time = self.end_time.replace(tzinfo=None) if self.end_time else None

    def describe(self) -> dict[str, Any]:
        """The DescribeProcessingJob response."""
        r = self.request
        with _LOCK:
            out: dict[str, Any] = {
                "ProcessingJobName": self.name,
                "ProcessingJobArn": self.arn,
                "ProcessingJobStatus": self.status,
                "ProcessingInputs": copy.deepcopy(r.get("ProcessingInputs") or []),
                "ProcessingResources": copy.deepcopy(r.get("ProcessingResources") or {}),
                "AppSpecification": copy.deepcopy(r.get("AppSpecification") or {}),
                "RoleArn": r.get("RoleArn"),
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
            }
            for key in (
                "ProcessingOutputConfig",
                "StoppingCondition",
                "Environment",
                "NetworkConfig",
                "ExperimentConfig",
            ):
                if r.get(key):
                    out[key] = copy.deepcopy(r[key])
            for key, val in (
                ("FailureReason", self.failure_reason),
                ("ExitMessage", self.exit_message),
                ("ProcessingStartTime", self.start_time),
                ("ProcessingEndTime", self.end_time),
            ):
                if val is not None:
                    out[key] = val
        return out


# ====================================================================== public API


def register_processing_image(
    repo: str, factory: Callable[[dict[str, Any]], Callable[[ProcessingEnv], None]]
) -> None:
    """Make ``CreateProcessingJob`` with an image of ``repo`` run an in-process callable.

    Args:
        repo: the image repository, e.g. ``"sagemaker-model-monitor-analyzer"``.
        factory: called with the CreateProcessingJob request; returns the work to run.
    """
    _WORK_BY_IMAGE[repo] = factory


def get_run(account_id: str, region: str, name: str) -> ProcessingRun | None:
    """Return the offline run of a processing job, or None (also when moto forgot it)."""
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

        return sagemaker_backends[account_id][region].processing_jobs.get(name)
    except Exception:  # noqa: BLE001
        return None


def _create_in_moto(account_id: str, region: str, r: dict[str, Any]) -> None:
    from moto.sagemaker.models import sagemaker_backends

    be: Any = sagemaker_backends[account_id][region]
    with _LOCK:
        be.create_processing_job(
            app_specification=copy.deepcopy(r.get("AppSpecification") or {}),
            experiment_config=r.get("ExperimentConfig"),
            network_config=r.get("NetworkConfig"),
            processing_inputs=copy.deepcopy(r.get("ProcessingInputs") or []),
            processing_job_name=r["ProcessingJobName"],
            processing_output_config=copy.deepcopy(r.get("ProcessingOutputConfig") or {}),
            role_arn=r.get("RoleArn"),
            tags=r.get("Tags") or [],
            stopping_condition=r.get("StoppingCondition"),
        )


def run_processing_job(
    call_or_params: OfflineCall | dict[str, Any],
    work: Callable[[ProcessingEnv], None] | None = None,
    *,
    account_id: str | None = None,
    region: str | None = None,
    create_in_moto: bool | None = None,
) -> ProcessingRun:
    """Run a processing job in the background: a script per its AppSpecification, or ``work``.

    For other offline modules (Model Monitor, Clarify): pass the CreateProcessingJob request
    and a callable; inputs are downloaded, ``work(env)`` runs in a job thread (in this
    process: no memory limit, and ``MaxRuntimeInSeconds`` is checked when it returns), its
    output folders are uploaded, and the job ends ``Completed``, or ``Failed`` with
    ``ClientError: <message>`` when ``work`` raises
    :class:`~mllab.offline.sagemaker.contract.ClientError` and ``AlgorithmError: <message>``
    for any other exception. ``env.log(line)`` writes to CloudWatch Logs.

    Args:
        call_or_params: the intercepted call (its params, account and region are used), or
            the request parameters (then give ``account_id`` and ``region``).
        work: the callable; None runs ``AppSpecification.ContainerEntrypoint`` in the
            runner subprocess.
        account_id: the offline account (when ``call_or_params`` is a dict).
        region: the region (when ``call_or_params`` is a dict).
        create_in_moto: store the job in moto's backend too (default: True for a dict,
            False for a call, which moto has already stored). Jobs created this way bypass
            the cost guard: the caller's own request was estimated.

    Returns:
        The run; ``run.done`` is set at the end; ``run.result`` holds what ``work`` returned.
    """
    if isinstance(call_or_params, OfflineCall):
        params, account_id, region = (
            call_or_params.params,
            call_or_params.account_id,
            call_or_params.region,
        )
        create = bool(create_in_moto)
    else:
        params = call_or_params
        if account_id is None or region is None:
            raise ValueError(
                "run_processing_job(params, ...): give account_id and region with a request dict"
            )
        create = True if create_in_moto is None else create_in_moto
    request = copy.deepcopy(params)
    if create:
        _create_in_moto(account_id, region, request)
    run = ProcessingRun(account_id=account_id, region=region, request=request, work=work)
    run.moto_job = _moto_job(account_id, region, run.name)
    with _LOCK:
        _RUNS[(account_id, region, run.name)] = run
        run._mirror()
    threading.Thread(
        target=_execute, args=(run,), name=f"mllab-proc-{run.name}", daemon=True
    ).start()
    return run


def stop_run(run: ProcessingRun, wait: float = 15.0) -> None:
    """Stop a processing job (StopProcessingJob) and wait up to ``wait`` seconds for it."""
    with _LOCK:
        if run.status == "InProgress":
            run.status = "Stopping"
            run._mirror()
    run.stop_event.set()
    run.done.wait(wait)


# ====================================================================== handlers

_LOCAL_PATH = r"^/opt/ml/processing/.*"


def validate_request(account_id: str, p: dict[str, Any]) -> None:
    """AWS's synchronous checks of a CreateProcessingJob request that moto does not make."""
    name = str(p.get("ProcessingJobName", ""))
    if not re.match(training.JOB_NAME_PATTERN, name):
        raise training._regex_error(name, "processingJobName", training.JOB_NAME_PATTERN)
    role = str(p.get("RoleArn", ""))
    if not re.match(training.ROLE_ARN_PATTERN, role):
        raise training._regex_error(role, "roleArn", training.ROLE_ARN_PATTERN)
    if not training.role_exists(account_id, role):
        raise AwsError(
            "ValidationException",
            f"Could not assume role {role}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role.",
        )
    for i, inp in enumerate(p.get("ProcessingInputs") or [], start=1):
        s3 = inp.get("S3Input") or {}
        if s3:
            if not re.match(training.S3_URI_PATTERN, str(s3.get("S3Uri", ""))):
                raise training._regex_error(
                    s3.get("S3Uri"),
                    f"processingInputs.{i}.member.s3Input.s3Uri",
                    training.S3_URI_PATTERN,
                )
            if not str(s3.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise AwsError(
                    "ValidationException",
                    f"LocalPath {s3.get('LocalPath')} of input {inp.get('InputName')} must be under /opt/ml/processing.",
                )
    for i, out in enumerate((p.get("ProcessingOutputConfig") or {}).get("Outputs") or [], start=1):
        s3 = out.get("S3Output") or {}
        if s3:
            if not re.match(training.S3_URI_PATTERN, str(s3.get("S3Uri", ""))):
                raise training._regex_error(
                    s3.get("S3Uri"),
                    f"processingOutputConfig.outputs.{i}.member.s3Output.s3Uri",
                    training.S3_URI_PATTERN,
                )
            if not str(s3.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise AwsError(
                    "ValidationException",
                    f"LocalPath {s3.get('LocalPath')} of output {out.get('OutputName')} must be under /opt/ml/processing.",
                )


@handles("sagemaker", "CreateProcessingJob", "before")
def _create_before(call: OfflineCall) -> None:
    validate_request(call.account_id, call.params)
    name = str(call.params.get("ProcessingJobName"))
    if _moto_job(call.account_id, call.region, name) is not None:
        raise AwsError(
            "ResourceInUse",
            f"Job name must be unique within an AWS account and region, and a job with this name already exists "
            f"(arn:aws:sagemaker:{call.region}:{call.account_id}:processing-job/{name.lower()})",
        )
    return None


@handles("sagemaker", "CreateProcessingJob", "after")
def _create_after(call: OfflineCall) -> None:
    image = (call.params.get("AppSpecification") or {}).get("ImageUri")
    factory = _WORK_BY_IMAGE.get(images.repository(image))
    work = factory(call.params) if factory else None
    run_processing_job(call, work)


@handles("sagemaker", "DescribeProcessingJob", "before")
def _describe(call: OfflineCall) -> dict[str, Any] | None:
    run = get_run(call.account_id, call.region, str(call.params.get("ProcessingJobName")))
    return None if run is None else run.describe()


@handles("sagemaker", "StopProcessingJob", "before")
def _stop(call: OfflineCall) -> dict[str, Any] | None:
    name = str(call.params.get("ProcessingJobName"))
    run = get_run(call.account_id, call.region, name)
    if run is None:
        return None
    if run.status != "InProgress":
        raise AwsError(
            "ValidationException",
            f"The request was rejected because the processing job is in status {run.status}.",
        )
    stop_run(run)
    return {}


# ====================================================================== the run


def _download_inputs(run: ProcessingRun, env: ProcessingEnv) -> None:
    for inp in run.request.get("ProcessingInputs") or []:
        s3 = inp.get("S3Input")
        if not s3:
            raise training.JobFailure(
                f"ClientError: input {inp.get('InputName')}: only S3Input is emulated offline (DatasetDefinition "
                "needs Athena or Redshift)."
            )
        local = env.local(str(s3["LocalPath"]))
        env.inputs[str(inp.get("InputName"))] = local
        uri = str(s3["S3Uri"])
        if s3.get("S3InputMode") == "Pipe":
            env.log(
                f"mllab offline: Pipe input mode runs as File mode offline: input {inp.get('InputName')}"
            )
        files = s3io.download_prefix(
            run.account_id, uri, local, manifest=s3.get("S3DataType") == "ManifestFile"
        )
        if not files:
            raise training.JobFailure(
                f'ClientError: Data download failed:No S3 objects found under S3 URL "{uri}" given in input data '
                f"source. Please ensure that the bucket exists in the selected region ({run.region}), that objects "
                f'exist under that S3 prefix, and that the role "{run.request.get("RoleArn")}" has "s3:ListBucket" '
                f'permissions on bucket "{s3io.split_uri(uri)[0]}".'
            )
        if s3.get("S3CompressionType") == "Gzip":
            import gzip

            for f in files:
                if f.suffix == ".gz":
                    f.with_suffix("").write_bytes(gzip.decompress(f.read_bytes()))
                    f.unlink()


def _script_spec(run: ProcessingRun, env: ProcessingEnv) -> dict[str, Any]:
    app = run.request.get("AppSpecification") or {}
    entry = [str(a) for a in app.get("ContainerEntrypoint") or []]
    args = [map_path(str(env.root), str(a)) for a in app.get("ContainerArguments") or []]
    if not entry:
        raise training.JobFailure(
            "ClientError: AppSpecification.ContainerEntrypoint is required offline: give the command that runs "
            'your script, e.g. ["python3", "/opt/ml/processing/input/code/preprocess.py"].'
        )
    entry = [map_path(str(env.root), a) for a in entry]
    exe = Path(entry[0]).name
    if re.fullmatch(r"python(3(\.\d+)?)?", exe) and len(entry) > 1 and entry[1].endswith(".py"):
        program = entry[1]
        if not Path(program).is_file():
            raise training.JobFailure(
                f"AlgorithmError: python3: can't open file '{app['ContainerEntrypoint'][1]}': [Errno 2] No such file "
                "or directory. Add a ProcessingInput that puts your script there."
            )
        return {
            "mode": "script",
            "script": {
                "program": program,
                "args": entry[2:] + args,
                "cwd": str(Path(program).parent),
            },
        }
    if re.fullmatch(r"python(3(\.\d+)?)?", exe):
        entry[0] = sys.executable
    return {
        "mode": "command",
        "command": {"shell": " ".join(shlex.quote(a) for a in entry + args), "cwd": str(env.root)},
    }


def _execute(run: ProcessingRun) -> None:  # noqa: C901 - the job's life, in one place
    import json

    from mllab.guard.pricing import instance
    from mllab.offline.sagemaker.contract import ClientError
    from mllab.offline.sagemaker.jobproc import JobProcess, child_env

    cluster = (run.request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    itype = str(cluster.get("InstanceType") or "ml.m5.large")
    spec_i = instance(itype)
    vcpu = spec_i.vcpu if spec_i else 2
    mem = spec_i.memory_gib if spec_i else 8.0
    stream_name = f"{run.name}/algo-1-{int(time.time())}"
    stream = cwlogs.LogStream(run.account_id, run.region, cwlogs.PROCESSING_GROUP, stream_name)
    jobdir = Path(tempfile.mkdtemp(prefix="mllab-proc-"))
    root = jobdir / "ml"
    env = ProcessingEnv(
        root=root,
        job_name=run.name,
        request=run.request,
        environment={k: str(v) for k, v in (run.request.get("Environment") or {}).items()},
        arguments=[
            map_path(str(root), str(a))
            for a in (run.request.get("AppSpecification") or {}).get("ContainerArguments") or []
        ],
        instance_type=itype,
        instance_count=int(cluster.get("InstanceCount") or 1),
        stream=stream,
    )
    with _LOCK:
        run.log_stream = stream_name
        run.start_time = _now()
    max_rt = (run.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    try:
        (root / "output").mkdir(parents=True, exist_ok=True)
        cfg = root / "config"
        cfg.mkdir(parents=True, exist_ok=True)
        (cfg / "processingjobconfig.json").write_text(json.dumps(run.request, default=str))
        hosts = [f"algo-{i}" for i in range(1, env.instance_count + 1)]
        (cfg / "resourceconfig.json").write_text(
            json.dumps({"current_host": "algo-1", "hosts": hosts})
        )
        for out in (run.request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            s3 = out.get("S3Output") or {}
            if s3:
                local = env.local(str(s3["LocalPath"]))
                local.mkdir(parents=True, exist_ok=True)
                env.outputs[str(out.get("OutputName"))] = local
        _download_inputs(run, env)
        if env.instance_count > 1:
            env.log(
                f"mllab offline: {env.instance_count} instances requested; host algo-1 runs here"
            )
        if run.stop_event.is_set():
            raise training._Stopped()
        if run.work is not None:
            t0 = time.monotonic()
            try:
                run.result = run.work(env)
            except ClientError as err:
                raise training.JobFailure(f"ClientError: {err}") from None
            except training.JobFailure:
                raise
            except Exception as err:  # noqa: BLE001 - the analysis failed
                import traceback

                env.log(traceback.format_exc())
                raise training.JobFailure(f"AlgorithmError: {type(err).__name__}: {err}") from None
            if max_rt and time.monotonic() - t0 > float(max_rt):
                run.finish("Stopped", None, "The job exceeded MaxRuntimeInSeconds")
                return
        else:
            image = (run.request.get("AppSpecification") or {}).get("ImageUri")
            if images.repository(image) not in images.PROCESSING_REPOS:
                raise training.JobFailure(
                    f"ClientError: the processing image {image!r} has no offline emulation. Offline, processing "
                    "runs your script on the scikit-learn and XGBoost processing images (sagemaker-scikit-learn, "
                    "sagemaker-xgboost) with an AppSpecification.ContainerEntrypoint."
                )
            spec = _script_spec(run, env)
            spec.update({"root": str(root), "memory_bytes": int(mem * 2**30), "cpus": vcpu})
            extra = {**env.environment, "MLLAB_OPT_ML": str(root), "MLLAB_MEMORY_GIB": str(mem)}
            proc = JobProcess(
                jobdir,
                spec,
                child_env(vcpu, extra),
                stream.write,
                float(max_rt) if max_rt else None,
                run.stop_event,
            )
            result = proc.run()
            stream.flush()
            if result.timed_out:
                run.finish("Stopped", None, "The job exceeded MaxRuntimeInSeconds")
                return
            if result.stopped:
                raise training._Stopped()
            if result.exit_code != 0 or result.failure:
                detail = result.failure or "\n".join(stream.tail(8))
                if detail.startswith("OutOfMemoryError"):
                    stream.write(
                        f"mllab offline: the job ran out of the {mem:g} GiB of memory of {itype}"
                    )
                    raise training.JobFailure(detail)
                if detail.startswith("ClientError"):
                    raise training.JobFailure(detail)
                run.finish("Failed", "AlgorithmError: See job logs for more information", detail)
                return
        for out in (run.request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            s3 = out.get("S3Output") or {}
            if s3:
                s3io.upload_dir(run.account_id, env.local(str(s3["LocalPath"])), str(s3["S3Uri"]))
        run.finish("Completed")
    except training._Stopped:
        run.finish("Stopped")
    except training.JobFailure as f:
        stream.write(str(f))
        run.finish("Failed", str(f))
    except Exception as err:  # noqa: BLE001 - a defect must still end the job
        import traceback

        stream.write(traceback.format_exc())
        run.finish(
            "Failed",
            f"InternalServerError: the offline processing run failed: {type(err).__name__}: {err}",
        )
    finally:
        stream.flush()
        shutil.rmtree(jobdir, ignore_errors=True)
        run.done.set()


@on_reset
def _reset() -> None:
    """The offline account is wiped: stop running processing jobs and forget them."""
    for run in list(_RUNS.values()):
        if not run.done.is_set():
            stop_run(run, wait=5.0)
    _RUNS.clear()
