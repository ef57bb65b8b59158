"""Offline automatic model tuning: ``CreateHyperParameterTuningJob`` runs real trials (lab 03).

moto stores the tuning job; the ``after`` handler starts a background thread that asks an
optimizer for hyperparameters, runs each trial as an offline training job
(:func:`mllab.offline.sagemaker.training.start_training_job`, created straight in moto's
backend so that the cost guard, which estimated the whole tuning job, does not charge the
trials again), reads the objective metric from each trial and tells the optimizer.

Strategies, with `optuna <https://optuna.org>`_ doing the search:

* ``Bayesian``: optuna's TPE sampler (AWS uses a Gaussian-process model; TPE is the same
  family of sequential model-based optimisation);
* ``Random``: optuna's random sampler;
* ``Grid``: every combination of the categorical ranges (AWS allows only categorical ranges);
* ``Hyperband``: random sampling plus optuna's Hyperband pruner on the objective metric's
  intermediate values (each time a trial logs the metric is one step); pruned trials are
  stopped early, as AWS's Hyperband stops them.

``TrainingJobEarlyStoppingType="Auto"`` uses the median stopping rule (optuna's median
pruner). ``MaxParallelTrainingJobs`` is honoured up to this machine's cores. Warm start
(``IDENTICAL_DATA_AND_ALGORITHM``, ``TRANSFER_LEARNING``) seeds the optimizer with the
parent jobs' finished trials. Trial names are ``<tuning-job>-NNN-<8 hex>`` as on AWS.
``ListTrainingJobsForHyperParameterTuningJob`` and ``StopHyperParameterTuningJob``, which
moto lacks, are answered here.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset
from mllab.offline.sagemaker import training

_LOCK = threading.RLock()
_TUNINGS: dict[tuple[str, str, str], TuningRun] = {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Trial:
    """One training job of a tuning job."""

    name: str
    params: dict[str, str]
    run: training.TrainingRun
    optuna_trial: Any = None
    steps_reported: int = 0
    early_stopped: bool = False
    told: bool = False

    def objective(self, metric: str) -> float | None:
        return self.run.metric(metric)


@dataclass
class TuningRun:
    """The live state of one offline tuning job (what DescribeHyperParameterTuningJob answers)."""

    account_id: str
    region: str
    request: dict[str, Any]
    status: str = "InProgress"
    failure_reason: str | None = None
    creation_time: dt.datetime = field(default_factory=_now)
    end_time: dt.datetime | None = None
    last_modified: dt.datetime = field(default_factory=_now)
    trials: list[Trial] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    moto_job: Any = None
    warm_start_trials: int = 0

    @property
    def name(self) -> str:
        return str(self.request["HyperParameterTuningJobName"])

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:hyper-parameter-tuning-job/{self.name.lower()}"

    @property
    def config(self) -> dict[str, Any]:
        return self.request.get("HyperParameterTuningJobConfig") or {}

    @property
    def objective(self) -> dict[str, str]:
        return self.config.get("HyperParameterTuningJobObjective") or {}

    def trial_summary(self, t: Trial) -> dict[str, Any]:
        """A ``HyperParameterTrainingJobSummary`` of one trial."""
        d = t.run.describe()
        out: dict[str, Any] = {
            "TrainingJobName": t.name,
            "TrainingJobArn": t.run.arn,
            "TuningJobName": self.name,
            "CreationTime": d["CreationTime"],
            "TrainingJobStatus": d["TrainingJobStatus"]
            if d["TrainingJobStatus"] != "Stopping"
            else "InProgress",
            "TunedHyperParameters": dict(t.params),
            "ObjectiveStatus": self._objective_status(t),
        }
        for k in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
            if k in d:
                out[k] = d[k]
        value = t.objective(self.objective.get("MetricName", ""))
        if value is not None:
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": self.objective.get("Type", "Maximize"),
                "MetricName": self.objective.get("MetricName"),
                "Value": value,
            }
        return out

    def _objective_status(self, t: Trial) -> str:
        status = t.run.status
        if status in {"InProgress", "Stopping"}:
            return "Pending"
        if t.objective(self.objective.get("MetricName", "")) is None:
            return "Failed"
        return "Succeeded" if status in {"Completed", "Stopped"} else "Failed"

    def best(self) -> Trial | None:
        """The finished trial with the best objective value."""
        metric = self.objective.get("MetricName", "")
        sign = -1.0 if self.objective.get("Type", "Maximize") == "Minimize" else 1.0
        scored = [
            (sign * v, i, t)
            for i, t in enumerate(self.trials)
            if self._objective_status(t) == "Succeeded" and (v := t.objective(metric)) is not None
        ]
        return max(scored, key=lambda s: (s[0], -s[1]))[2] if scored else None

    def describe(self) -> dict[str, Any]:
        """The DescribeHyperParameterTuningJob response."""
        with _LOCK:
            trials = list(self.trials)
            counters = {
                "Completed": 0,
                "InProgress": 0,
                "RetryableError": 0,
                "NonRetryableError": 0,
                "Stopped": 0,
            }
            objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
            for t in trials:
                st = t.run.status
                if st in {"InProgress", "Stopping"}:
                    counters["InProgress"] += 1
                elif st == "Failed":
                    counters["NonRetryableError"] += 1
                else:
                    counters[st] = counters.get(st, 0) + 1
                objective[self._objective_status(t)] += 1
            out: dict[str, Any] = {
                "HyperParameterTuningJobName": self.name,
                "HyperParameterTuningJobArn": self.arn,
                "HyperParameterTuningJobConfig": copy.deepcopy(self.config),
                "HyperParameterTuningJobStatus": self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "TrainingJobStatusCounters": counters,
                "ObjectiveStatusCounters": objective,
            }
            for key in (
                "TrainingJobDefinition",
                "TrainingJobDefinitions",
                "WarmStartConfig",
                "Autotune",
            ):
                if self.request.get(key):
                    out[key] = copy.deepcopy(self.request[key])
            if self.end_time:
                out["HyperParameterTuningEndTime"] = self.end_time
                out["ConsumedResources"] = {
                    "RuntimeInSeconds": int((self.end_time - self.creation_time).total_seconds())
                }
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            best = self.best()
            if best is not None:
                out["BestTrainingJob"] = self.trial_summary(best)
                if self.request.get("WarmStartConfig"):
                    out["OverallBestTrainingJob"] = out["BestTrainingJob"]
        return out


# ====================================================================== public API


def get_tuning(account_id: str, region: str, name: str) -> TuningRun | None:
    """Return the offline run of a tuning job, or None (also when moto forgot it)."""
    with _LOCK:
        run = _TUNINGS.get((account_id, region, name))
        if (
            run is not None
            and run.moto_job is not None
            and _moto_job(account_id, region, name) is not run.moto_job
        ):
            _TUNINGS.pop((account_id, region, name), None)
            return None
        return run


def _moto_job(account_id: str, region: str, name: str) -> Any:
    try:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[account_id][region].hyper_parameter_tuning_jobs.get(name)
    except Exception:  # noqa: BLE001
        return None


def start_tuning_job(account_id: str, region: str, request: dict[str, Any]) -> TuningRun:
    """Start running a tuning job (already stored in moto) in the background.

    Args:
        account_id: the offline account.
        region: the region.
        request: the CreateHyperParameterTuningJob request.

    Returns:
        The run; ``run.done`` is set when it has ended. On AWS it costs its trials'
        instance time (the guard estimated that when the request was made).
    """
    run = TuningRun(account_id=account_id, region=region, request=copy.deepcopy(request))
    run.moto_job = _moto_job(account_id, region, run.name)
    _mirror(run)
    with _LOCK:
        _TUNINGS[(account_id, region, run.name)] = run
    threading.Thread(
        target=_execute, args=(run,), name=f"mllab-tune-{run.name}", daemon=True
    ).start()
    return run


def stop_tuning(run: TuningRun, wait: float = 20.0) -> None:
    """Stop a tuning job and its running trials (what StopHyperParameterTuningJob does)."""
    with _LOCK:
        if run.status == "InProgress":
            run.status = "Stopping"
    run.stop_event.set()
    run.done.wait(wait)


def _mirror(run: TuningRun) -> None:
    job = run.moto_job
    if job is None:
        return
    job.hyper_parameter_tuning_job_status = run.status
    job.last_modified_time = run.last_modified.replace(tzinfo=None)
    job.hyper_parameter_tuning_end_time = (
        run.end_time.replace(tzinfo=None) if run.end_time else None
    )


# ====================================================================== handlers


def _ranges(cfg: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    r = cfg.get("ParameterRanges") or {}
    return {
        "Integer": list(r.get("IntegerParameterRanges") or []),
        "Continuous": list(r.get("ContinuousParameterRanges") or []),
        "Categorical": list(r.get("CategoricalParameterRanges") or []),
    }


def _definition(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("TrainingJobDefinition"):
        return dict(request["TrainingJobDefinition"])
    return dict((request.get("TrainingJobDefinitions") or [{}])[0])


@handles("sagemaker", "CreateHyperParameterTuningJob", "before")
def _create_before(call: OfflineCall) -> None:
    p = call.params
    name = str(p.get("HyperParameterTuningJobName", ""))
    if len(name) > 32:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'hyperParameterTuningJobName' failed to satisfy "
            "constraint: Member must have length less than or equal to 32",
        )
    cfg = p.get("HyperParameterTuningJobConfig") or {}
    strategy = cfg.get("Strategy")
    ranges = _ranges(cfg)
    if strategy == "Grid" and (ranges["Integer"] or ranges["Continuous"]):
        raise AwsError(
            "ValidationException",
            "Grid search strategy only supports categorical parameter ranges; remove the integer and "
            "continuous ranges or choose Bayesian, Random or Hyperband.",
        )
    obj = cfg.get("HyperParameterTuningJobObjective")
    if not obj or not obj.get("MetricName"):
        raise AwsError("ValidationException", "HyperParameterTuningJobObjective is required.")
    d = _definition(p)
    if not d:
        raise AwsError("ValidationException", "A TrainingJobDefinition is required.")
    static = d.get("StaticHyperParameters") or {}
    tuned = {x["Name"] for kind in ranges.values() for x in kind}
    both = tuned & set(static)
    if both:
        raise AwsError(
            "ValidationException",
            f"Hyperparameters {sorted(both)} are both static and tunable; a hyperparameter must be one or the other.",
        )
    for r in ranges["Integer"] + ranges["Continuous"]:
        if float(r["MinValue"]) > float(r["MaxValue"]):
            raise AwsError(
                "ValidationException",
                f"The MinValue of hyperparameter {r['Name']} must be at most its MaxValue.",
            )
    for parent in (p.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs") or []:
        pname = parent.get("HyperParameterTuningJobName")
        if get_tuning(call.account_id, call.region, str(pname)) is None:
            raise AwsError(
                "ResourceNotFound", f"Amazon SageMaker can't find a tuning job named {pname}."
            )
    # each trial's training job must itself be valid (role, S3 URIs)
    probe = {
        "TrainingJobName": "probe",
        "RoleArn": d.get("RoleArn", ""),
        "InputDataConfig": d.get("InputDataConfig") or [],
        "OutputDataConfig": d.get("OutputDataConfig") or {},
        "CheckpointConfig": d.get("CheckpointConfig"),
    }
    training.validate_request(call.account_id, call.region, probe, prefix="trainingJobDefinition.")
    return None


@handles("sagemaker", "CreateHyperParameterTuningJob", "after")
def _create_after(call: OfflineCall) -> None:
    start_tuning_job(call.account_id, call.region, call.params)


@handles("sagemaker", "DescribeHyperParameterTuningJob", "before")
def _describe(call: OfflineCall) -> dict[str, Any] | None:
    run = get_tuning(
        call.account_id, call.region, str(call.params.get("HyperParameterTuningJobName"))
    )
    return None if run is None else run.describe()


@handles("sagemaker", "StopHyperParameterTuningJob", "before")
def _stop(call: OfflineCall) -> dict[str, Any]:
    name = str(call.params.get("HyperParameterTuningJobName"))
    run = get_tuning(call.account_id, call.region, name)
    if run is None:
        raise AwsError(
            "ResourceNotFound", f"Amazon SageMaker can't find a tuning job named {name}."
        )
    if run.status != "InProgress":
        raise AwsError(
            "ValidationException",
            f"The request was rejected because the tuning job is in status {run.status}.",
        )
    stop_tuning(run)
    return {}


@handles("sagemaker", "ListTrainingJobsForHyperParameterTuningJob", "before")
def _list_trials(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = str(p.get("HyperParameterTuningJobName"))
    run = get_tuning(call.account_id, call.region, name)
    if run is None:
        raise AwsError(
            "ResourceNotFound", f"Amazon SageMaker can't find a tuning job named {name}."
        )
    with _LOCK:
        rows = [run.trial_summary(t) for t in run.trials]
    if p.get("StatusEquals"):
        rows = [r for r in rows if r["TrainingJobStatus"] == p["StatusEquals"]]
    sort_by = p.get("SortBy", "CreationTime")
    desc = p.get("SortOrder", "Descending") == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        with_value = [r for r in rows if "FinalHyperParameterTuningJobObjectiveMetric" in r]
        without = [r for r in rows if "FinalHyperParameterTuningJobObjectiveMetric" not in r]
        with_value.sort(
            key=lambda r: r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=desc
        )
        rows = with_value + without
    else:
        key = {"Name": "TrainingJobName", "Status": "TrainingJobStatus"}.get(
            sort_by, "CreationTime"
        )
        rows.sort(key=lambda r: r[key], reverse=desc)
    start = int(p.get("NextToken") or 0)
    size = int(p.get("MaxResults") or 10)
    out: dict[str, Any] = {"TrainingJobSummaries": rows[start : start + size]}
    if start + size < len(rows):
        out["NextToken"] = str(start + size)
    return out


# ====================================================================== the search


def _distributions(cfg: dict[str, Any]) -> dict[str, Any]:
    import optuna

    dists: dict[str, Any] = {}
    for r in _ranges(cfg)["Integer"]:
        log = r.get("ScalingType") == "Logarithmic" and int(r["MinValue"]) > 0
        dists[r["Name"]] = optuna.distributions.IntDistribution(
            int(r["MinValue"]), int(r["MaxValue"]), log=log
        )
    for r in _ranges(cfg)["Continuous"]:
        log = r.get("ScalingType") == "Logarithmic" and float(r["MinValue"]) > 0
        dists[r["Name"]] = optuna.distributions.FloatDistribution(
            float(r["MinValue"]), float(r["MaxValue"]), log=log
        )
    for r in _ranges(cfg)["Categorical"]:
        dists[r["Name"]] = optuna.distributions.CategoricalDistribution(
            [str(v) for v in r["Values"]]
        )
    return dists


def _as_str(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _study(run: TuningRun, dists: dict[str, Any]) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = run.config
    strategy = cfg.get("Strategy", "Bayesian")
    seed = cfg.get("RandomSeed")
    direction: Any = "minimize" if run.objective.get("Type") == "Minimize" else "maximize"
    sampler: Any
    pruner: Any = optuna.pruners.NopPruner()
    if strategy == "Bayesian":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=3, constant_liar=True)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    if strategy == "Hyperband":
        hb = (cfg.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=int(hb.get("MinResource", 1)),
            max_resource=int(hb.get("MaxResource", 10) or 10),
        )
    elif cfg.get("TrainingJobEarlyStoppingType") == "Auto":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
    # warm start: the parents' finished trials seed the optimizer
    for parent in (run.request.get("WarmStartConfig") or {}).get(
        "ParentHyperParameterTuningJobs"
    ) or []:
        prun = get_tuning(
            run.account_id, run.region, str(parent.get("HyperParameterTuningJobName"))
        )
        if prun is None:
            continue
        metric = run.objective.get("MetricName", "")
        for t in prun.trials:
            value = t.objective(metric)
            if value is None or prun._objective_status(t) != "Succeeded":
                continue
            params: dict[str, Any] = {}
            for name, dist in dists.items():
                if name not in t.params:
                    break
                raw = t.params[name]
                try:
                    v: Any = (
                        int(float(raw))
                        if isinstance(dist, optuna.distributions.IntDistribution)
                        else float(raw)
                        if isinstance(dist, optuna.distributions.FloatDistribution)
                        else str(raw)
                    )
                except ValueError:
                    break
                if not dist._contains(dist.to_internal_repr(v)):
                    break  # TRANSFER_LEARNING may change ranges: keep only trials inside them
                params[name] = v
            else:
                study.add_trial(
                    optuna.trial.create_trial(params=params, distributions=dists, value=value)
                )
                run.warm_start_trials += 1
    return study


def _trial_name(run: TuningRun, i: int) -> str:
    return f"{run.name}-{i:03d}-{secrets.token_hex(4)}"


def _trial_request(run: TuningRun, name: str, params: dict[str, str]) -> dict[str, Any]:
    d = _definition(run.request)
    algo = copy.deepcopy(d.get("AlgorithmSpecification") or {})
    hps = {**(d.get("StaticHyperParameters") or {}), **params}
    req: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": algo,
        "HyperParameters": {k: str(v) for k, v in hps.items()},
        "RoleArn": d.get("RoleArn"),
        "InputDataConfig": copy.deepcopy(d.get("InputDataConfig") or []),
        "OutputDataConfig": copy.deepcopy(d.get("OutputDataConfig") or {}),
        "ResourceConfig": copy.deepcopy(d.get("ResourceConfig") or {}),
        "StoppingCondition": copy.deepcopy(d.get("StoppingCondition") or {}),
        "Tags": copy.deepcopy(run.request.get("Tags") or []),
    }
    for key in ("VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
                "EnableManagedSpotTraining", "CheckpointConfig", "Environment", "RetryStrategy"):  # fmt: skip
        if d.get(key) is not None:
            req[key] = copy.deepcopy(d[key])
    return req


def _execute(run: TuningRun) -> None:  # noqa: C901 - the tuning loop, in one place
    from mllab.offline.sagemaker.jobproc import host_cpus

    cfg = run.config
    limits = cfg.get("ResourceLimits") or {}
    strategy = cfg.get("Strategy", "Bayesian")
    metric = run.objective.get("MetricName", "")
    parallel = max(1, min(int(limits.get("MaxParallelTrainingJobs", 1)), host_cpus()))
    deadline = (
        time.monotonic() + float(limits["MaxRuntimeInSeconds"])
        if limits.get("MaxRuntimeInSeconds")
        else None
    )
    try:
        import optuna

        dists = _distributions(cfg)
        grid: list[dict[str, str]] | None = None
        if strategy == "Grid":
            names = list(dists)
            grid = [
                dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(dists[n].choices for n in names))
            ]
        max_jobs = int(
            limits.get("MaxNumberOfTrainingJobs") or (len(grid) if grid is not None else 1)
        )
        if grid is not None:
            max_jobs = min(max_jobs, len(grid))
        study = None if grid is not None else _study(run, dists)
        launched = 0
        running: list[Trial] = []
        while True:
            if run.stop_event.is_set() or (deadline is not None and time.monotonic() > deadline):
                for t in running:
                    training.stop_run(t.run, wait=10)
                break
            # launch
            while len(running) < parallel and launched < max_jobs and not run.stop_event.is_set():
                launched += 1
                ot = None
                if grid is not None:
                    params = {k: str(v) for k, v in grid[launched - 1].items()}
                else:
                    assert study is not None
                    ot = study.ask(dists)
                    params = {k: _as_str(v) for k, v in ot.params.items()}
                name = _trial_name(run, launched)
                req = _trial_request(run, name, params)
                trun = training.start_training_job(
                    run.account_id, run.region, req, tuning_job_arn=run.arn, create_in_moto=True
                )
                trial = Trial(name=name, params=params, run=trun, optuna_trial=ot)
                with _LOCK:
                    run.trials = [*run.trials, trial]
                    run.last_modified = _now()
                running.append(trial)
            if not running:
                break
            # early stopping / Hyperband: report intermediate objective values
            for t in running:
                if (
                    t.optuna_trial is None
                    or study is None
                    or isinstance(study.pruner, optuna.pruners.NopPruner)
                ):
                    continue
                with _LOCK:
                    history = list(t.run.metric_history.get(metric, []))
                for step in range(t.steps_reported, len(history)):
                    t.optuna_trial.report(history[step], step + 1)
                t.steps_reported = len(history)
                if history and not t.run.done.is_set() and t.optuna_trial.should_prune():
                    t.early_stopped = True
                    training.stop_run(t.run, wait=0)
            # collect finished trials
            for t in [t for t in running if t.run.done.is_set()]:
                running.remove(t)
                if study is not None and t.optuna_trial is not None:
                    value = t.objective(metric)
                    if t.early_stopped:
                        study.tell(t.optuna_trial, state=optuna.trial.TrialState.PRUNED)
                    elif value is None or t.run.status != "Completed":
                        study.tell(t.optuna_trial, state=optuna.trial.TrialState.FAIL)
                    else:
                        study.tell(t.optuna_trial, value)
                with _LOCK:
                    run.last_modified = _now()
            time.sleep(0.05)
        with _LOCK:
            if run.stop_event.is_set():
                run.status = "Stopped"
            elif run.best() is None:
                run.status = "Failed"
                run.failure_reason = (
                    f"No training job succeeded after {len(run.trials)} attempts. Please take a look at the "
                    "training job failures to get more details."
                )
            else:
                run.status = "Completed"
    except Exception as err:  # noqa: BLE001 - a defect must still end the tuning job
        with _LOCK:
            run.status = "Failed"
            run.failure_reason = (
                f"InternalServerError: the offline tuning run failed: {type(err).__name__}: {err}"
            )
    finally:
        with _LOCK:
            run.end_time = _now()
            run.last_modified = run.end_time
            _mirror(run)
        run.done.set()


@on_reset
def _reset() -> None:
    """The offline account is wiped: stop running tuning jobs and forget them."""
    for run in list(_TUNINGS.values()):
        if not run.done.is_set():
            stop_tuning(run, wait=5.0)
    _TUNINGS.clear()
