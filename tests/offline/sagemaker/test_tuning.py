"""Offline hyperparameter tuning: strategies, counters, best job, listing, stop, warm start, SDK tuner."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from tests.hang import wait_for, wait_for_job

FAKE = textwrap.dedent(
    '''
    """An algorithm whose score is a known function of its hyperparameters (tests only)."""
    import time
    from mllab.offline.sagemaker.contract import ClientError

    NAME = "fake-tune"
    METRIC_DEFINITIONS = [{"Name": "validation:score", "Regex": "validation score=([-0-9.e]+)"}]

    def validate(hyperparameters, channels):
        if "x" not in hyperparameters:
            raise ClientError("Missing required hyperparameter: x")

    def train(env):
        hp = env.hyperparameters
        x = float(hp["x"]); n = int(float(hp.get("n", "5"))); kind = hp.get("kind", "a")
        final = -(x - 0.3) ** 2 - 0.01 * (n - 5) ** 2 + (0.1 if kind == "b" else 0.0)
        epochs = int(hp.get("epochs", "1"))
        for e in range(1, epochs + 1):
            print(f"epoch {e}: validation score={final - (epochs - e) * 0.05:.6f}", flush=True)
            if epochs > 1:
                time.sleep(float(hp.get("epoch_seconds", "0.05")))
        (env.model_dir / "m.txt").write_text(str(final))
    '''
)

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/fake-tune:1"


@pytest.fixture
def fake_tune(fake_algorithm: Any) -> Any:
    return fake_algorithm("fake-tune", FAKE)


def _request(
    lab: Any, name: str, strategy: str, ranges: dict[str, Any], jobs: int, par: int = 2, **kw: Any
) -> dict[str, Any]:
    lab.client("s3").put_object(Bucket=lab.bucket, Key="tune/train/a.csv", Body=b"1,2\n")
    cfg: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:score"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": par},
        "ParameterRanges": ranges,
        "RandomSeed": 7,
    }
    cfg.update(kw.pop("config", {}))
    req: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": cfg,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "StaticHyperParameters": kw.pop("static", {}),
            "RoleArn": lab.role_arn,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{lab.bucket}/tune/train/",
                        }
                    },
                    "ContentType": "text/csv",
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/tune-out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        },
    }
    req.update(kw)
    return req


def _wait(sm: Any, name: str) -> dict[str, Any]:
    return wait_for_job(sm, "tuning", name)


X_RANGE = {
    "ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "0.0", "MaxValue": "1.0", "ScalingType": "Linear"}
    ]
}


def test_random_tuning_runs_real_trials(lab: Any, fake_tune: Any) -> None:
    sm = lab.client("sagemaker")
    ranges = {
        **X_RANGE,
        "IntegerParameterRanges": [
            {"Name": "n", "MinValue": "1", "MaxValue": "9", "ScalingType": "Auto"}
        ],
    }
    sm.create_hyper_parameter_tuning_job(**_request(lab, "tune-rand", "Random", ranges, jobs=4))
    d = _wait(sm, "tune-rand")
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-rand",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
    )["TrainingJobSummaries"]
    assert len(trials) == 4
    import re

    assert all(re.fullmatch(r"tune-rand-\d{3}-[0-9a-f]{8}", t["TrainingJobName"]) for t in trials)
    best = d["BestTrainingJob"]
    assert best["TrainingJobName"] == trials[0]["TrainingJobName"]
    # the objective is each trial's own metric, computed from its hyperparameters
    for t in trials:
        x, n = float(t["TunedHyperParameters"]["x"]), int(t["TunedHyperParameters"]["n"])
        expected = -((x - 0.3) ** 2) - 0.01 * (n - 5) ** 2
        assert t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
            expected, abs=1e-5
        )
        job = sm.describe_training_job(TrainingJobName=t["TrainingJobName"])
        assert job["TuningJobArn"] == d["HyperParameterTuningJobArn"]
        assert job["HyperParameters"]["x"] == t["TunedHyperParameters"]["x"]
    # trials are not charged twice by the guard: only the tuning job is in the ledger
    ops = [r.operation for r in lab.ledger.rows(run=lab.run_id)]
    assert ops.count("CreateHyperParameterTuningJob") == 1 and "CreateTrainingJob" not in ops


def test_grid_tries_every_combination(lab: Any, fake_tune: Any) -> None:
    sm = lab.client("sagemaker")
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "kind", "Values": ["a", "b"]},
            {"Name": "n", "Values": ["3", "5"]},
        ]
    }
    sm.create_hyper_parameter_tuning_job(
        **_request(lab, "tune-grid", "Grid", ranges, jobs=10, static={"x": "0.3"})
    )
    d = _wait(sm, "tune-grid")
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-grid"
    )["TrainingJobSummaries"]
    combos = {(t["TunedHyperParameters"]["kind"], t["TunedHyperParameters"]["n"]) for t in trials}
    assert combos == {("a", "3"), ("a", "5"), ("b", "3"), ("b", "5")}
    assert d["BestTrainingJob"]["TunedHyperParameters"] == {"kind": "b", "n": "5"}


def test_grid_rejects_continuous_ranges(lab: Any, fake_tune: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="categorical"):
        lab.client("sagemaker").create_hyper_parameter_tuning_job(
            **_request(lab, "tune-bad", "Grid", X_RANGE, jobs=2)
        )


def test_bayesian_with_warm_start_seeds_optimizer(lab: Any, fake_tune: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_hyper_parameter_tuning_job(
        **_request(lab, "tune-parent", "Bayesian", X_RANGE, jobs=4)
    )
    parent = _wait(sm, "tune-parent")
    assert parent["HyperParameterTuningJobStatus"] == "Completed"
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "tune-parent"}],
        "WarmStartType": "IDENTICAL_DATA_AND_ALGORITHM",
    }
    sm.create_hyper_parameter_tuning_job(
        **_request(lab, "tune-child", "Bayesian", X_RANGE, jobs=3, WarmStartConfig=warm)
    )
    child = _wait(sm, "tune-child")
    assert child["HyperParameterTuningJobStatus"] == "Completed"
    assert child["WarmStartConfig"]["WarmStartType"] == "IDENTICAL_DATA_AND_ALGORITHM"
    from mllab.offline.sagemaker import tuning

    run = tuning.get_tuning(lab.account_id, lab.region, "tune-child")
    assert run is not None and len(run.trials) == 3
    assert (
        run.warm_start_trials == 4
    )  # the TPE sampler was seeded with the parent's finished trials
    assert 0.0 <= float(child["BestTrainingJob"]["TunedHyperParameters"]["x"]) <= 1.0


def test_hyperband_stops_bad_trials_early(lab: Any, fake_tune: Any) -> None:
    sm = lab.client("sagemaker")
    cfg = {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 6}}}
    req = _request(
        lab,
        "tune-hb",
        "Hyperband",
        X_RANGE,
        jobs=6,
        config=cfg,
        static={"epochs": "6", "epoch_seconds": "0.3"},
    )
    sm.create_hyper_parameter_tuning_job(**req)
    d = _wait(sm, "tune-hb")
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    counters = d["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == 6
    assert counters["Stopped"] >= 1  # Hyperband stopped at least one poor trial early


def test_stop_tuning_job(lab: Any, fake_tune: Any) -> None:
    sm = lab.client("sagemaker")
    req = _request(
        lab, "tune-stop", "Random", X_RANGE, jobs=8, static={"epochs": "50", "epoch_seconds": "0.2"}
    )
    sm.create_hyper_parameter_tuning_job(**req)
    wait_for(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop"),
        lambda d: d["TrainingJobStatusCounters"]["InProgress"] > 0,
        "a trial of tune-stop to start",
    )
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop")
    d = _wait(sm, "tune-stop")
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert d["TrainingJobStatusCounters"]["InProgress"] == 0


def test_sdk_v3_tuner(lab: Any, fake_tune: Any) -> None:
    from sagemaker.core.parameter import ContinuousParameter
    from sagemaker.core.training.configs import Compute, InputData, StoppingCondition
    from sagemaker.train.model_trainer import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    lab.client("s3").put_object(Bucket=lab.bucket, Key="tune/train/a.csv", Body=b"1,2\n")
    trainer = ModelTrainer(
        training_image=IMAGE,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=120),
        hyperparameters={"n": 5},
        role=lab.role_arn,
        sagemaker_session=lab.sm_session,
        base_job_name="sdk-tune",
    )
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="validation:score",
        hyperparameter_ranges={"x": ContinuousParameter(0.0, 1.0)},
        metric_definitions=[{"Name": "validation:score", "Regex": "validation score=([-0-9.e]+)"}],
        max_jobs=3,
        max_parallel_jobs=2,
        strategy="Random",
    )
    tuner.tune(
        inputs=[InputData(channel_name="train", data_source=f"s3://{lab.bucket}/tune/train/")],
        wait=True,
    )
    name = tuner.latest_tuning_job.hyper_parameter_tuning_job_name
    d = lab.client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    assert tuner.best_training_job() == d["BestTrainingJob"]["TrainingJobName"]
