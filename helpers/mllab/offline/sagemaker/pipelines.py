"""Offline SageMaker Pipelines: executions run their DAG for real (introduced in lab 04).

moto stores pipelines (``CreatePipeline``, ``UpdatePipeline``, ``DescribePipeline``,
``ListPipelines``, ``DeletePipeline``) and records executions; this module runs them.
``StartPipelineExecution`` starts a background thread that walks the pipeline definition
(``PipelineDefinition`` JSON, version ``2020-12-01``, as the SDK v3
``sagemaker.mlops.workflow.pipeline.Pipeline.definition()`` writes it, or written by hand):

* steps run one at a time in dependency order: ``DependsOn`` plus every step whose
  properties an argument reads (``{"Get": "Steps.<name>...."}``);
* each step calls the real API on the offline backend through a boto3 client, so the
  training/processing/transform emulations do the work and the **cost guard sees every
  job** (a refusal becomes the step's failure, with the guard's message):
  ``Processing`` (CreateProcessingJob; ``PropertyFiles`` are read from the output after
  the job), ``Training``, ``Tuning`` (CreateHyperParameterTuningJob), ``Transform``,
  ``Model`` (CreateModel), ``RegisterModel`` (CreateModelPackage), ``Condition``
  (``Equals``, ``GreaterThan``, ``GreaterThanOrEqualTo``, ``LessThan``,
  ``LessThanOrEqualTo``, ``In``, ``Not``, ``Or``; runs ``IfSteps`` or ``ElseSteps``) and
  ``Fail`` (ends the execution as ``Failed`` with its ``ErrorMessage``);
* expressions: ``{"Get": "Parameters.<name>"}``, ``{"Get": "Execution.<variable>"}``,
  ``{"Get": "Steps.<name>.<property path>"}`` (the Describe response of the step's job,
  e.g. ``ModelArtifacts.S3ModelArtifacts``,
  ``ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri``,
  ``FinalMetricDataList['validation:auc'].Value``), ``{"Std:Join": {"On", "Values"}}`` and
  ``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.<name>.PropertyFiles.<file>"} | "S3Uri",
  "Path"}}``.

Parameters (``String``, ``Integer``, ``Float``, ``Boolean``) take their ``DefaultValue``
unless ``PipelineParameters`` override them. ``DescribePipelineExecution``
(``Executing``/``Succeeded``/``Failed``/``Stopping``/``Stopped``, ``FailureReason``),
``ListPipelineExecutions``, ``ListPipelineExecutionSteps`` (``StepStatus``, times,
``Metadata`` with the job ARNs, ``FailureReason``) and ``StopPipelineExecution`` answer
from the live state. Steps run sequentially (AWS runs independent steps in parallel);
other step types (Lambda, Callback, EMR, ClarifyCheck, QualityCheck...) fail with a
reason that says they have no offline emulation.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: Step types this module runs.
SUPPORTED = (
    "Processing",
    "Training",
    "Tuning",
    "Transform",
    "Model",
    "RegisterModel",
    "Condition",
    "Fail",
)
#: How long DescribePipelineExecution waits for a running execution to end (seconds), so
#: that pollers (the SDK's ``execution.wait()``) see the end on their first poll.
DESCRIBE_WAIT_SECONDS = 5.0
#: Seconds between status polls of a step's job.
POLL_SECONDS = 0.2
#: A step's job is given up after this long (the job's own MaxRuntimeInSeconds applies too).
STEP_TIMEOUT_SECONDS = 3600.0

_LOCK = threading.RLock()
_TERMINAL = {"Succeeded", "Failed", "Stopped"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StepFailure(Exception):
    """Ends a step as ``Failed`` with this reason."""


class _Stopped(Exception):
    pass


@dataclass
class StepRun:
    """The state of one step of an execution (one ``PipelineExecutionSteps`` entry)."""

    name: str
    type: str
    display_name: str | None = None
    description: str | None = None
    status: str = "Starting"
    start_time: dt.datetime = field(default_factory=_now)
    end_time: dt.datetime | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    property_files: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StepName": self.name,
            "StartTime": self.start_time,
            "StepStatus": self.status,
            "Metadata": copy.deepcopy(self.metadata),
            "AttemptCount": 1,
        }
        if self.display_name:
            out["StepDisplayName"] = self.display_name
        if self.description:
            out["StepDescription"] = self.description
        if self.end_time:
            out["EndTime"] = self.end_time
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        return out


@dataclass
class ExecutionRun:
    """The live state of one pipeline execution."""

    account_id: str
    region: str
    pipeline_name: str
    pipeline_arn: str
    arn: str
    definition: dict[str, Any]
    parameters: dict[str, Any]
    display_name: str | None = None
    description: str | None = None
    status: str = "Executing"
    failure_reason: str | None = None
    creation_time: dt.datetime = field(default_factory=_now)
    last_modified: dt.datetime = field(default_factory=_now)
    steps: list[StepRun] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    moto_execution: Any = None

    @property
    def execution_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def set_status(self, status: str, reason: str | None = None) -> None:
        with _LOCK:
            self.status = status
            if reason:
                self.failure_reason = reason[:1300]
            self.last_modified = _now()
            ex = self.moto_execution
            if ex is not None:
                ex.pipeline_execution_status = status
                ex.pipeline_execution_failure_reason = self.failure_reason
                ex.last_modified_time = self.last_modified.replace(tzinfo=None)

    def describe(self) -> dict[str, Any]:
        with _LOCK:
            out: dict[str, Any] = {
                "PipelineArn": self.pipeline_arn,
                "PipelineExecutionArn": self.arn,
                "PipelineExecutionDisplayName": self.display_name
                or f"execution-{int(self.creation_time.timestamp() * 1000)}",
                "PipelineExecutionStatus": self.status,
                "PipelineExperimentConfig": {
                    "ExperimentName": self.pipeline_name,
                    "TrialName": self.execution_id,
                },
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
            }
            if self.description:
                out["PipelineExecutionDescription"] = self.description
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
        return out

    def summary(self) -> dict[str, Any]:
        with _LOCK:
            out: dict[str, Any] = {
                "PipelineExecutionArn": self.arn,
                "StartTime": self.creation_time,
                "PipelineExecutionStatus": self.status,
                "PipelineExecutionDisplayName": self.display_name
                or f"execution-{int(self.creation_time.timestamp() * 1000)}",
            }
            if self.description:
                out["PipelineExecutionDescription"] = self.description
            if self.failure_reason:
                out["PipelineExecutionFailureReason"] = self.failure_reason
        return out


_RUNS: dict[str, ExecutionRun] = {}


def get_execution(arn: str) -> ExecutionRun | None:
    """The offline run of a pipeline execution (by ARN), or None."""
    with _LOCK:
        return _RUNS.get(arn)


def wait(arn: str, timeout: float | None = None) -> bool:
    """Block until an execution ends; True when it did within ``timeout`` seconds."""
    run = get_execution(arn)
    return True if run is None else run.done.wait(timeout)


# ====================================================================== definition parsing


def parse_definition(text: str | dict[str, Any]) -> dict[str, Any]:
    """Parse and check a pipeline definition the way CreatePipeline does.

    Raises:
        AwsError: ``ValidationException`` for invalid JSON, missing ``Steps`` or duplicate
            step names.
    """
    if isinstance(text, dict):
        d = text
    else:
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as err:
            raise AwsError(
                "ValidationException", f"Unable to parse pipeline definition. {err}"
            ) from None
    if not isinstance(d, dict) or not isinstance(d.get("Steps"), list):
        raise AwsError(
            "ValidationException",
            "Unable to parse pipeline definition. Property 'Steps' is required and must be a list.",
        )
    names: list[str] = []
    for step in _all_steps(d["Steps"]):
        if not isinstance(step, dict) or not step.get("Name") or not step.get("Type"):
            raise AwsError(
                "ValidationException",
                "Unable to parse pipeline definition. Every step needs a Name and a Type.",
            )
        names.append(str(step["Name"]))
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise AwsError(
            "ValidationException",
            f"Unable to parse pipeline definition. Duplicate step names: {', '.join(dup)}.",
        )
    for step in _all_steps(d["Steps"]):
        for dep in step.get("DependsOn") or []:
            if dep not in names:
                raise AwsError(
                    "ValidationException",
                    f"Step {step['Name']} depends on step {dep}, which is not in the pipeline definition.",
                )
    return d


def _all_steps(steps: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in steps:
        if not isinstance(s, dict):
            out.append(s)
            continue
        out.append(s)
        if s.get("Type") == "Condition":
            args = s.get("Arguments") or {}
            out += _all_steps(args.get("IfSteps") or [])
            out += _all_steps(args.get("ElseSteps") or [])
    return out


def _referenced(obj: Any) -> set[str]:
    """Names of the steps whose properties an expression reads."""
    found: set[str] = set()
    if isinstance(obj, dict):
        get = obj.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            found.add(get.split(".", 2)[1])
        for k, v in obj.items():
            if k in {"IfSteps", "ElseSteps"}:
                continue
            found |= _referenced(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _referenced(v)
    return found


def _cast(kind: str, value: Any, name: str) -> Any:
    try:
        if kind == "Integer":
            return int(float(value)) if not isinstance(value, bool) else int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            if isinstance(value, bool):
                return value
            low = str(value).strip().lower()
            if low not in {"true", "false"}:
                raise ValueError(value)
            return low == "true"
    except (TypeError, ValueError):
        raise AwsError(
            "ValidationException",
            f"Value {value!r} of pipeline parameter {name} is not a valid {kind}.",
        ) from None
    return str(value)


def resolve_parameters(
    definition: dict[str, Any], given: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The execution's parameter values: defaults, overridden by ``PipelineParameters``.

    Raises:
        AwsError: an unknown parameter, a value of the wrong type, or a parameter without a
            default that was not given.
    """
    declared = {p["Name"]: p for p in definition.get("Parameters") or []}
    values: dict[str, Any] = {}
    for p in given or []:
        name = str(p.get("Name"))
        if name not in declared:
            raise AwsError(
                "ValidationException",
                f"Pipeline parameter {name} is not defined in the pipeline definition. Defined: "
                f"{', '.join(declared) or 'none'}.",
            )
        values[name] = _cast(str(declared[name].get("Type", "String")), p.get("Value"), name)
    for name, p in declared.items():
        if name in values:
            continue
        if "DefaultValue" not in p:
            raise AwsError(
                "ValidationException",
                f"Pipeline parameter {name} has no default value and was not given in PipelineParameters.",
            )
        values[name] = _cast(str(p.get("Type", "String")), p["DefaultValue"], name)
    return values


# ====================================================================== expressions


_TOKEN = re.compile(r"([A-Za-z0-9_:\-]+)|\[(?:'([^']*)'|\"([^\"]*)\"|(\d+))\]")


def _walk(obj: Any, path: str, where: str) -> Any:
    cur = obj
    pos = 0
    path = path.strip(".")
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _TOKEN.match(path, pos)
        if not m:
            raise StepFailure(f"ClientError: cannot read property path {where}.")
        pos = m.end()
        if m.group(1) is not None:
            if not isinstance(cur, dict) or m.group(1) not in cur:
                raise StepFailure(
                    f"ClientError: property {where} does not exist (no {m.group(1)!r})."
                )
            cur = cur[m.group(1)]
        elif m.group(4) is not None:
            idx = int(m.group(4))
            if not isinstance(cur, list) or idx >= len(cur):
                raise StepFailure(f"ClientError: property {where}: index {idx} out of range.")
            cur = cur[idx]
        else:
            key = m.group(2) if m.group(2) is not None else m.group(3)
            if isinstance(cur, dict):
                if key not in cur:
                    raise StepFailure(f"ClientError: property {where}: no key {key!r}.")
                cur = cur[key]
                continue
            if not isinstance(cur, list):
                raise StepFailure(f"ClientError: property {where}: {key!r} indexes no list.")
            match = [
                item
                for item in cur
                if isinstance(item, dict)
                and any(k.endswith("Name") and v == key for k, v in item.items())
            ]
            if not match:
                raise StepFailure(f"ClientError: property {where}: no element named {key!r}.")
            cur = match[0]
    return cur


def _json_path(doc: Any, path: str, where: str) -> Any:
    """Read a JsonGet path (``a.b[0].c``, ``metrics['auc'].value``)."""
    cur = doc
    pos = 0
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _TOKEN.match(path, pos)
        if not m:
            raise StepFailure(f"ClientError: invalid JsonGet path {path!r} ({where}).")
        pos = m.end()
        key: Any = m.group(1) or m.group(2) or m.group(3)
        if m.group(4) is not None:
            key = int(m.group(4))
        try:
            cur = cur[key]
        except (KeyError, IndexError, TypeError):
            raise StepFailure(f"ClientError: JsonGet could not find {path!r} in {where}.") from None
    return cur


class _Context:
    def __init__(self, run: ExecutionRun) -> None:
        self.run = run
        self.steps: dict[str, StepRun] = {}

    def variable(self, name: str) -> Any:
        r = self.run
        variables = {
            "PipelineExecutionId": r.execution_id,
            "PipelineExecutionArn": r.arn,
            "PipelineName": r.pipeline_name,
            "PipelineArn": r.pipeline_arn,
            "StartDateTime": r.creation_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "CurrentDateTime": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if name not in variables:
            raise StepFailure(f"ClientError: unknown execution variable Execution.{name}.")
        return variables[name]

    def get(self, ref: str) -> Any:
        if ref.startswith("Parameters."):
            name = ref.split(".", 1)[1]
            if name not in self.run.parameters:
                raise StepFailure(f"ClientError: pipeline parameter {name} is not defined.")
            return self.run.parameters[name]
        if ref.startswith("Execution."):
            return self.variable(ref.split(".", 1)[1])
        if ref.startswith("Steps."):
            _, name, *rest = ref.split(".", 2)
            step = self.steps.get(name)
            if step is None or step.status != "Succeeded":
                raise StepFailure(
                    f"ClientError: step {name} has not succeeded; {ref} is not available."
                )
            path = rest[0] if rest else ""
            if path.startswith("PropertyFiles."):
                pf = path.split(".", 1)[1]
                if pf not in step.property_files:
                    raise StepFailure(f"ClientError: step {name} has no property file {pf}.")
                return step.property_files[pf]
            return _walk(step.properties, path, ref)
        raise StepFailure(f"ClientError: cannot resolve {{'Get': {ref!r}}}.")

    def resolve(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            if set(obj) == {"Get"}:
                return self.get(str(obj["Get"]))
            if set(obj) == {"Std:Join"}:
                spec = obj["Std:Join"]
                return str(spec.get("On", "")).join(
                    _text(self.resolve(v)) for v in spec.get("Values") or []
                )
            if set(obj) == {"Std:JsonGet"}:
                return self.json_get(obj["Std:JsonGet"])
            return {k: self.resolve(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.resolve(v) for v in obj]
        return obj

    def json_get(self, spec: dict[str, Any]) -> Any:
        path = str(spec.get("Path", ""))
        pf = spec.get("PropertyFile")
        if pf is not None:
            doc = self.resolve(pf)
            return _json_path(doc, path, "the property file")
        uri = self.resolve(spec.get("S3Uri"))
        from mllab.offline.sagemaker import s3io

        try:
            doc = json.loads(s3io.get_bytes(self.run.account_id, str(uri)))
        except (s3io.S3Missing, ValueError) as err:
            raise StepFailure(f"ClientError: JsonGet could not read {uri}: {err}") from None
        return _json_path(doc, path, str(uri))


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _number(v: Any) -> Any:
    if isinstance(v, bool) or isinstance(v, int | float):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def evaluate(cond: dict[str, Any], ctx: _Context) -> bool:
    """Evaluate one condition of a Condition step."""
    kind = cond.get("Type")
    if kind == "Not":
        return not evaluate(cond.get("Condition") or cond.get("Expression") or {}, ctx)
    if kind == "Or":
        return any(evaluate(c, ctx) for c in cond.get("Conditions") or [])
    if kind == "In":
        q = ctx.resolve(cond.get("QueryValue"))
        values = [ctx.resolve(v) for v in cond.get("Values") or []]
        return any(_number(q) == _number(v) or q == v for v in values)
    left = ctx.resolve(cond.get("LeftValue"))
    right = ctx.resolve(cond.get("RightValue"))
    if kind == "Equals":
        return left == right or _number(left) == _number(right)
    ln, rn = _number(left), _number(right)
    try:
        if kind == "GreaterThan":
            return bool(ln > rn)
        if kind == "GreaterThanOrEqualTo":
            return bool(ln >= rn)
        if kind == "LessThan":
            return bool(ln < rn)
        if kind == "LessThanOrEqualTo":
            return bool(ln <= rn)
    except TypeError:
        raise StepFailure(
            f"ClientError: condition {kind} cannot compare {left!r} with {right!r}."
        ) from None
    raise StepFailure(f"ClientError: condition type {kind!r} is not supported.")


# ====================================================================== the execution thread


def _job_name(run: ExecutionRun, step: str) -> str:
    clean = re.sub(r"[^a-zA-Z0-9-]", "-", step).strip("-")[:20] or "step"
    name = f"pipelines-{run.execution_id}-{clean}-{uuid.uuid4().hex[:10]}"
    return re.sub(r"-+", "-", name)[:63].rstrip("-")


def _wait_job(run: ExecutionRun, describe: Any, status_key: str, stop: Any) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
    stopped = False
    while True:
        desc = describe()
        status = desc.get(status_key)
        if status in {"Completed", "Failed", "Stopped"}:
            return dict(desc)
        if run.stop.is_set() and not stopped:
            stopped = True
            try:
                stop()
            except Exception:  # noqa: BLE001 - already ending
                pass
            raise _Stopped()
        if time.monotonic() > deadline:
            raise StepFailure("InternalServerError: the step's job did not end in time.")
        time.sleep(POLL_SECONDS)


def _client_error(err: Exception) -> str:
    resp = getattr(err, "response", None)
    if isinstance(resp, dict) and resp.get("Error"):
        e = resp["Error"]
        return f"{e.get('Code')}: {e.get('Message')}"
    return f"{type(err).__name__}: {err}"


#: Job steps that are one create call, a wait and a describe: (name key, create call, ARN key,
#: metadata key, describe call, status key, stop call).
_SIMPLE_JOBS = {
    "Processing": (
        "ProcessingJobName",
        "create_processing_job",
        "ProcessingJobArn",
        "ProcessingJob",
        "describe_processing_job",
        "ProcessingJobStatus",
        "stop_processing_job",
    ),
    "Training": (
        "TrainingJobName",
        "create_training_job",
        "TrainingJobArn",
        "TrainingJob",
        "describe_training_job",
        "TrainingJobStatus",
        "stop_training_job",
    ),
    "Transform": (
        "TransformJobName",
        "create_transform_job",
        "TransformJobArn",
        "TransformJob",
        "describe_transform_job",
        "TransformJobStatus",
        "stop_transform_job",
    ),
}


def _start_and_wait(
    run: ExecutionRun, sm: Any, kind: str, name: str, args: dict[str, Any], sr: StepRun
) -> dict[str, Any]:
    """Create a step's job, wait for it, and fail the step as its job failed."""
    key, create, arn_key, meta, describe, status, stop = _SIMPLE_JOBS[kind]
    args[key] = name
    try:
        arn = getattr(sm, create)(**args)[arn_key]
    except Exception as err:  # noqa: BLE001 - ClientError or the guard's refusal
        raise StepFailure(_client_error(err)) from None
    sr.metadata = {meta: {"Arn": arn}}
    desc = _wait_job(
        run,
        lambda: getattr(sm, describe)(**{key: name}),
        status,
        lambda: getattr(sm, stop)(**{key: name}),
    )
    sr.properties = desc
    _status_failure(desc, status, kind)
    return desc


def _run_job_step(
    run: ExecutionRun, ctx: _Context, step: dict[str, Any], sr: StepRun, sm: Any
) -> None:
    kind = step["Type"]
    args = ctx.resolve(copy.deepcopy(step.get("Arguments") or {}))
    name = _job_name(run, step["Name"])
    if kind in _SIMPLE_JOBS:
        desc = _start_and_wait(run, sm, kind, name, args, sr)
        for pf in step.get("PropertyFiles") or []:  # only processing steps declare them
            sr.property_files[pf["PropertyFileName"]] = _read_property_file(run, desc, pf)
    elif kind == "Tuning":
        tname = f"{run.execution_id[:12]}-{uuid.uuid4().hex[:8]}"[:32]
        args["HyperParameterTuningJobName"] = tname
        try:
            arn = sm.create_hyper_parameter_tuning_job(**args)["HyperParameterTuningJobArn"]
        except Exception as err:  # noqa: BLE001
            raise StepFailure(_client_error(err)) from None
        sr.metadata = {"TuningJob": {"Arn": arn}}
        desc = _wait_job(
            run,
            lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tname),
            "HyperParameterTuningJobStatus",
            lambda: sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=tname),
        )
        try:
            desc["TrainingJobSummaries"] = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=tname, SortBy="FinalObjectiveMetricValue"
            ).get("TrainingJobSummaries", [])
        except Exception:  # noqa: BLE001 - optional
            pass
        sr.properties = desc
        _status_failure(desc, "HyperParameterTuningJobStatus", "Tuning")
    elif kind == "Model":
        args.setdefault("ModelName", name)
        try:
            arn = sm.create_model(**args)["ModelArn"]
            sr.properties = dict(sm.describe_model(ModelName=args["ModelName"]))
        except Exception as err:  # noqa: BLE001
            raise StepFailure(_client_error(err)) from None
        sr.metadata = {"Model": {"Arn": arn}}
    elif kind == "RegisterModel":
        try:
            arn = sm.create_model_package(**args)["ModelPackageArn"]
            sr.properties = dict(sm.describe_model_package(ModelPackageName=arn))
        except Exception as err:  # noqa: BLE001
            raise StepFailure(_client_error(err)) from None
        sr.metadata = {"RegisterModel": {"Arn": arn}}


def _status_failure(desc: dict[str, Any], key: str, what: str) -> None:
    status = desc.get(key)
    if status == "Failed":
        raise StepFailure(str(desc.get("FailureReason") or f"{what} job failed"))
    if status == "Stopped":
        raise _Stopped()


def _read_property_file(run: ExecutionRun, desc: dict[str, Any], pf: dict[str, Any]) -> Any:
    from mllab.offline.sagemaker import s3io

    outputs = (desc.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    out = next((o for o in outputs if o.get("OutputName") == pf.get("OutputName")), None)
    if out is None:
        raise StepFailure(
            f"ClientError: property file {pf.get('PropertyFileName')}: the processing job has no "
            f"output named {pf.get('OutputName')}."
        )
    uri = f"{str(out['S3Output']['S3Uri']).rstrip('/')}/{str(pf.get('FilePath', '')).lstrip('/')}"
    try:
        return json.loads(s3io.get_bytes(run.account_id, uri))
    except s3io.S3Missing:
        raise StepFailure(
            f"ClientError: property file {pf.get('PropertyFileName')}: {uri} was not written by the "
            "processing job."
        ) from None
    except ValueError as err:
        raise StepFailure(
            f"ClientError: property file {pf.get('PropertyFileName')}: {uri} is not JSON ({err})."
        ) from None


def _execute(run: ExecutionRun, sm: Any) -> None:
    from mllab.hooks import on_behalf_of_a_service

    with on_behalf_of_a_service():  # priced at StartPipelineExecution, as on AWS
        _execute_steps(run, sm)


def _execute_steps(run: ExecutionRun, sm: Any) -> None:
    ctx = _Context(run)
    top = list(run.definition.get("Steps") or [])
    # what may run: the top-level steps, plus the chosen branch of each condition that ran
    eligible: list[dict[str, Any]] = list(top)
    all_steps = {s["Name"]: s for s in _all_steps(top)}
    deps = {
        name: set(s.get("DependsOn") or []) | (_referenced(s.get("Arguments")) - {name})
        for name, s in all_steps.items()
    }
    for name, s in all_steps.items():
        if s.get("Type") == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                for child in (s.get("Arguments") or {}).get(branch) or []:
                    deps[child["Name"]].add(name)
    done: set[str] = set()
    failed: StepRun | None = None
    fail_message: str | None = None
    try:
        while True:
            if run.stop.is_set():
                raise _Stopped()
            ready = [
                s for s in eligible if s["Name"] not in done and deps.get(s["Name"], set()) <= done
            ]
            if not ready:
                break
            step = ready[0]
            sr = StepRun(
                name=step["Name"],
                type=step["Type"],
                display_name=step.get("DisplayName"),
                description=step.get("Description"),
            )
            with _LOCK:
                run.steps.append(sr)
                ctx.steps[sr.name] = sr
                sr.status = "Executing"
            try:
                if step["Type"] == "Condition":
                    args = step.get("Arguments") or {}
                    outcome = all(evaluate(c, ctx) for c in args.get("Conditions") or [])
                    sr.metadata = {"Condition": {"Outcome": "True" if outcome else "False"}}
                    sr.properties = {"Outcome": outcome}
                    eligible += list(args.get("IfSteps" if outcome else "ElseSteps") or [])
                elif step["Type"] == "Fail":
                    msg = _text(ctx.resolve((step.get("Arguments") or {}).get("ErrorMessage", "")))
                    sr.metadata = {"Fail": {"ErrorMessage": msg}}
                    fail_message = msg
                    raise StepFailure(msg)
                elif step["Type"] in SUPPORTED:
                    _run_job_step(run, ctx, step, sr, sm)
                else:
                    raise StepFailure(
                        f"ClientError: step type {step['Type']} has no offline emulation; "
                        f"offline pipelines run {', '.join(SUPPORTED)} steps."
                    )
            except StepFailure as err:
                with _LOCK:
                    sr.status = "Failed"
                    sr.failure_reason = str(err)[:1024]
                    sr.end_time = _now()
                failed = sr
                break
            except _Stopped:
                with _LOCK:
                    sr.status = "Stopped"
                    sr.end_time = _now()
                raise
            with _LOCK:
                sr.status = "Succeeded"
                sr.end_time = _now()
            done.add(sr.name)
        if failed is not None:
            reason = (
                fail_message
                if fail_message is not None
                else f"Step failure: One or multiple steps failed. Step {failed.name}: {failed.failure_reason}"
            )
            run.set_status("Failed", reason)
        else:
            run.set_status("Succeeded")
    except _Stopped:
        run.set_status("Stopped")
    except Exception as err:  # noqa: BLE001 - a defect must still end the execution
        run.set_status("Failed", f"InternalServerError: {type(err).__name__}: {err}")
    finally:
        run.done.set()


# ====================================================================== handlers


def _moto_pipelines(account_id: str, region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id][region].pipelines


@handles("sagemaker", "CreatePipeline", "before")
def _create_pipeline(call: OfflineCall) -> None:
    if call.params.get("PipelineDefinition"):
        parse_definition(call.params["PipelineDefinition"])
    return None


@handles("sagemaker", "UpdatePipeline", "before")
def _update_pipeline(call: OfflineCall) -> None:
    if call.params.get("PipelineDefinition"):
        parse_definition(call.params["PipelineDefinition"])
    return None


@handles("sagemaker", "UpdatePipeline", "after")
def _update_pipeline_after(call: OfflineCall) -> None:
    # moto leaves LastModifiedTime at creation; AWS moves it with every update (a check that a
    # run used the current definition compares the two).
    name = str(call.params.get("PipelineName", "")).rsplit("/", 1)[-1]
    pipe = _moto_pipelines(call.account_id, call.region).get(name)
    if pipe is not None:
        from moto.core.utils import utcnow

        pipe.last_modified_time = utcnow()


@handles("sagemaker", "StartPipelineExecution", "before")
def _start_check(call: OfflineCall) -> None:
    name = str(call.params.get("PipelineName", "")).rsplit("/", 1)[-1]
    pipe = _moto_pipelines(call.account_id, call.region).get(name)
    if pipe is None:
        return None  # moto answers ResourceNotFound
    definition = parse_definition(pipe.pipeline_definition)
    resolve_parameters(definition, call.params.get("PipelineParameters"))
    return None


@handles("sagemaker", "StartPipelineExecution", "after")
def _start_after(call: OfflineCall) -> None:
    assert call.response is not None
    arn = str(call.response["PipelineExecutionArn"])
    name = str(call.params.get("PipelineName", "")).rsplit("/", 1)[-1]
    pipe = _moto_pipelines(call.account_id, call.region)[name]
    definition = parse_definition(pipe.pipeline_definition)
    params = resolve_parameters(definition, call.params.get("PipelineParameters"))
    run = ExecutionRun(
        account_id=call.account_id,
        region=call.region,
        pipeline_name=name,
        pipeline_arn=pipe.arn,
        arn=arn,
        definition=definition,
        parameters=params,
        display_name=call.params.get("PipelineExecutionDisplayName"),
        description=call.params.get("PipelineExecutionDescription"),
        moto_execution=pipe.pipeline_executions.get(arn),
    )
    run.set_status("Executing")
    with _LOCK:
        _RUNS[arn] = run
    sm = call.client("sagemaker")
    thread = threading.Thread(
        target=_execute, args=(run, sm), name=f"mllab-pipeline-{name}", daemon=True
    )
    run.thread = thread
    thread.start()


def _run_or_missing(call: OfflineCall) -> ExecutionRun:
    arn = str(call.params.get("PipelineExecutionArn", ""))
    run = get_execution(arn)
    if run is None:
        raise AwsError("ResourceNotFound", f"Pipeline execution {arn} does not exist.")
    return run


@handles("sagemaker", "DescribePipelineExecution", "before")
def _describe_execution(call: OfflineCall) -> dict[str, Any] | None:
    run = get_execution(str(call.params.get("PipelineExecutionArn", "")))
    if run is None:
        return None
    run.done.wait(DESCRIBE_WAIT_SECONDS)
    return run.describe()


@handles("sagemaker", "ListPipelineExecutionSteps", "before")
def _list_steps(call: OfflineCall) -> dict[str, Any]:
    run = _run_or_missing(call)
    with _LOCK:
        steps = [s.summary() for s in run.steps]
    steps.sort(
        key=lambda s: s["StartTime"],
        reverse=(call.params.get("SortOrder") or "Descending") == "Descending",
    )
    start = int(call.params.get("NextToken") or 0)
    size = int(call.params.get("MaxResults") or 100)
    out: dict[str, Any] = {"PipelineExecutionSteps": steps[start : start + size]}
    if start + size < len(steps):
        out["NextToken"] = str(start + size)
    return out


@handles("sagemaker", "ListPipelineExecutions", "before")
def _list_executions(call: OfflineCall) -> dict[str, Any] | None:
    name = str(call.params.get("PipelineName", "")).rsplit("/", 1)[-1]
    pipe = _moto_pipelines(call.account_id, call.region).get(name)
    if pipe is None:
        return None
    sums = []
    for arn, ex in pipe.pipeline_executions.items():
        run = get_execution(arn)
        if run is not None:
            sums.append(run.summary())
        else:
            sums.append(
                {
                    "PipelineExecutionArn": arn,
                    "StartTime": ex.start_time.replace(tzinfo=dt.UTC),
                    "PipelineExecutionStatus": ex.pipeline_execution_status,
                }
            )
    p = call.params
    for key, cmp in (("CreatedAfter", "gt"), ("CreatedBefore", "lt")):
        t = p.get(key)
        if isinstance(t, dt.datetime):
            t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
            sums = [s for s in sums if (s["StartTime"] > t if cmp == "gt" else s["StartTime"] < t)]
    sums.sort(
        key=lambda s: s["StartTime"], reverse=(p.get("SortOrder") or "Descending") == "Descending"
    )
    start = int(p.get("NextToken") or 0)
    size = int(p.get("MaxResults") or 100)
    out: dict[str, Any] = {"PipelineExecutionSummaries": sums[start : start + size]}
    if start + size < len(sums):
        out["NextToken"] = str(start + size)
    return out


@handles("sagemaker", "StopPipelineExecution", "before")
def _stop_execution(call: OfflineCall) -> dict[str, Any]:
    run = _run_or_missing(call)
    with _LOCK:
        status = run.status
    if status in _TERMINAL:
        raise AwsError(
            "ValidationException",
            f"Pipeline execution {run.arn} is in status {status} and cannot be stopped.",
        )
    run.set_status("Stopping")
    run.stop.set()
    return {"PipelineExecutionArn": run.arn}


@on_reset
def _reset() -> None:
    """Stop every execution thread and forget the executions (the lab closed)."""
    with _LOCK:
        runs = list(_RUNS.values())
        _RUNS.clear()
    for run in runs:
        run.stop.set()
    for run in runs:
        if run.thread is not None and run.thread.is_alive():
            run.thread.join(timeout=10)
