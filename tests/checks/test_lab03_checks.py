"""Lab 03's checks (``mllab.checks.lab03``) on prepared states: wrong and faked ones MISS,
valid alternatives PASS.

States are built with boto3 against an offline lab (small seeded data, real offline
training), not by rerunning the notebook. The cases named in issues 14 and 18 are here: a
scores file rewritten from the labels (evaluation and registry), tuning ranges of the
wrong width or scale, DeepAR without its 14-day holdout, the SDK v3 ``ModelTrainer`` job
name with its timestamp suffix, and a teardown that leaves the model the text names.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mllab.checks import lab03 as c
from tests.checks.verdicts import verdict

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def splits() -> tuple[Any, Any, Any]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from mllab.datasets import card_transactions

    raw = card_transactions(10000, seed=0, fraud_rate=0.02)
    table = pd.get_dummies(
        raw.drop(columns=["transaction_id", "card_id"]), columns=["merchant_category"], dtype=int
    )
    train, rest = train_test_split(table, test_size=0.4, stratify=table["is_fraud"], random_state=0)
    validation, test = train_test_split(
        rest, test_size=0.5, stratify=rest["is_fraud"], random_state=0
    )
    return train, validation, test


def upload(lab: Any, splits: Any) -> None:
    from mllab.datasets import to_builtin_csv

    train, validation, test = splits
    s3 = lab.client("s3")
    s3.put_object(
        Bucket=lab.bucket, Key="fraud/train/train.csv", Body=to_builtin_csv(train, label="is_fraud")
    )
    s3.put_object(
        Bucket=lab.bucket,
        Key="fraud/validation/validation.csv",
        Body=to_builtin_csv(validation, label="is_fraud"),
    )
    features = [col for col in test.columns if col != "is_fraud"]
    s3.put_object(Bucket=lab.bucket, Key="fraud/test/test.csv", Body=to_builtin_csv(test[features]))


def image(algo: str, lab: Any, **kw: Any) -> str:
    from sagemaker.core import image_uris

    return str(image_uris.retrieve(algo, region=lab.region, **kw))


def channel(name: str, uri: str, ctype: str, dist: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "ChannelName": name,
        "ContentType": ctype,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": dist}
        },
    }


def wait_training(lab: Any, name: str) -> str:
    sm = lab.client("sagemaker")
    try:
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 900}
        )
    except Exception:  # noqa: BLE001 - a failed job ends the waiter
        pass
    return str(sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"])


def fraud_channels(lab: Any, validation: bool = True) -> list[dict[str, Any]]:
    data = f"s3://{lab.bucket}/fraud"
    out = [channel("train", f"{data}/train/", "text/csv")]
    if validation:
        out.append(channel("validation", f"{data}/validation/", "text/csv"))
    return out


# --------------------------------------------------------------------------- requirement 2
LL_HP = {
    "predictor_type": "binary_classifier",
    "binary_classifier_model_selection_criteria": "precision_at_target_recall",
    "target_recall": "0.9",
    "positive_example_weight_mult": "balanced",
    "epochs": "5",
    "mini_batch_size": "500",
}


def linear(lab: Any, splits: Any, name: str, validation: bool = True, **hp: str) -> str:
    upload(lab, splits)
    params = {**LL_HP, "feature_dim": str(splits[0].shape[1] - 1), **hp}
    lab.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image("linear-learner", lab),
            "TrainingInputMode": "File",
        },
        RoleArn=lab.role_arn,
        InputDataConfig=fraud_channels(lab, validation),
        OutputDataConfig={"S3OutputPath": f"s3://{lab.bucket}/fraud/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={k: v for k, v in params.items() if v},
    )
    wait_training(lab, name)
    return name


def test_linear_learner_passes(lab: Any, splits: Any) -> None:
    base = lab.job_name("fraud-linear")
    linear(lab, splits, base)
    assert verdict(c.check_linear_learner, lab, base) == "PASS"


def test_linear_learner_model_trainer_name_with_timestamp_passes(lab: Any, splits: Any) -> None:
    base = lab.job_name("fraud-linear")
    linear(lab, splits, f"{base}-20261202101500")  # what ModelTrainer(base_job_name=base) names it
    assert c.latest_job(lab, base) == f"{base}-20261202101500"
    assert verdict(c.check_linear_learner, lab, base) == "PASS"


@pytest.mark.parametrize(
    ("hp", "needle"),
    [
        ({"target_recall": "0.5"}, "target_recall is 0.5"),
        ({"positive_example_weight_mult": ""}, "weight the rare positives"),
        (
            {"binary_classifier_model_selection_criteria": "accuracy", "target_recall": ""},
            "precision_at_target_recall",
        ),
    ],
)
def test_linear_learner_wrong_hyperparameters_miss(
    lab: Any, splits: Any, hp: dict[str, str], needle: str
) -> None:
    base = lab.job_name("fraud-linear")
    linear(lab, splits, base, **hp)
    assert needle in verdict(c.check_linear_learner, lab, base)


def test_linear_learner_without_validation_misses(lab: Any, splits: Any) -> None:
    base = lab.job_name("fraud-linear")
    linear(lab, splits, base, validation=False)
    assert "validation" in verdict(c.check_linear_learner, lab, base)


# --------------------------------------------------------------------------- requirement 4
ETA = {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
DEPTH = {"Name": "max_depth", "MinValue": "2", "MaxValue": "6", "ScalingType": "Auto"}


def tune(
    lab: Any,
    splits: Any,
    strategy: str = "Bayesian",
    continuous: list[dict[str, Any]] | None = None,
    integer: list[dict[str, Any]] | None = None,
    categorical: list[dict[str, Any]] | None = None,
    static: dict[str, str] | None = None,
) -> str:
    upload(lab, splits)
    name = lab.job_name("fraud-tune")
    ranges: dict[str, Any] = {
        "ContinuousParameterRanges": [ETA] if continuous is None else continuous
    }
    ranges["IntegerParameterRanges"] = [DEPTH] if integer is None else integer
    if categorical:
        ranges["CategoricalParameterRanges"] = categorical
    sm = lab.client("sagemaker")
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:auc",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off",
            "RandomSeed": 7,
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {
                "TrainingImage": image("xgboost", lab, version="1.7-1"),
                "TrainingInputMode": "File",
            },
            "StaticHyperParameters": {
                "objective": "binary:logistic",
                "num_round": "20",
                "eval_metric": "auc",
                **(static or {}),
            },
            "RoleArn": lab.role_arn,
            "InputDataConfig": fraud_channels(lab),
            "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/fraud/tuning"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    )
    c.tuning_job(lab, name)  # waits for the end
    return name


def test_tuning_passes(lab: Any, splits: Any) -> None:
    assert verdict(c.check_tuning, lab, tune(lab, splits), 0.10) == "PASS"


def test_tuning_random_with_categorical_depth_passes(lab: Any, splits: Any) -> None:
    name = tune(
        lab,
        splits,
        strategy="Random",
        integer=[],
        categorical=[{"Name": "max_depth", "Values": ["2", "3", "4", "5", "6"]}],
    )
    assert verdict(c.check_tuning, lab, name, 0.10) == "PASS"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        (
            {"continuous": [{**ETA, "MinValue": "0.1", "MaxValue": "0.1000001"}]},
            "continuous range 0.05 to 0.5",
        ),
        ({"continuous": [{**ETA, "ScalingType": "Linear"}]}, "logarithmic scale"),
        ({"integer": [{**DEPTH, "MaxValue": "3"}]}, "max_depth searches [2, 3]"),
        ({"static": {"scale_pos_weight": "19"}}, "leave scale_pos_weight out"),
        (
            {
                "strategy": "Grid",
                "continuous": [],
                "integer": [],
                "categorical": [{"Name": "eta", "Values": ["0.1"]}],
            },
            "",
        ),
    ],
)
def test_tuning_wrong_ranges_miss(lab: Any, splits: Any, kw: dict[str, Any], needle: str) -> None:
    try:
        name = tune(lab, splits, **kw)
    except Exception as err:  # noqa: BLE001 - SageMaker itself refuses a Grid over continuous ranges
        assert "Grid" in str(err) or "categorical" in str(err).lower()
        return
    msg = verdict(c.check_tuning, lab, name, 0.10)
    assert msg != "PASS" and needle in msg


# --------------------------------------------------------------------------- requirements 5, 6
def train_and_score(lab: Any, splits: Any) -> tuple[str, str]:
    """A tuned XGBoost, a model from its best trial, and a transform over the test set."""
    tuning = tune(lab, splits)
    sm = lab.client("sagemaker")
    best = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)[
        "BestTrainingJob"
    ]["TrainingJobName"]
    artifact = sm.describe_training_job(TrainingJobName=best)["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(
        ModelName="fraud-xgb-best",
        PrimaryContainer={
            "Image": image("xgboost", lab, version="1.7-1"),
            "ModelDataUrl": artifact,
        },
        ExecutionRoleArn=lab.role_arn,
    )
    name = lab.job_name("fraud-test-scores")
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="fraud-xgb-best",
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{lab.bucket}/fraud/test/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{lab.bucket}/fraud/test-scores/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
    )
    return tuning, name


def scores(lab: Any) -> np.ndarray:
    body = (
        lab.client("s3")
        .get_object(Bucket=lab.bucket, Key="fraud/test-scores/test.csv.out")["Body"]
        .read()
    )
    return np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=1)


def optimum(got: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    def cost(t: float) -> int:
        f = got >= t
        return 500 * int(((~f) & (y == 1)).sum()) + 5 * int((f & (y == 0)).sum())

    cands = np.unique(got)
    costs = [cost(t) for t in cands]
    return float(cands[int(np.argmin(costs))]), cost(0.5) - min(costs)


@pytest.fixture
def scored(lab: Any, splits: Any) -> tuple[Any, str, str]:
    tuning, transform = train_and_score(lab, splits)
    return lab, tuning, transform


def test_evaluation_passes_and_equivalent_threshold_passes(scored: Any, splits: Any) -> None:
    lab, _, transform = scored
    test = splits[2]
    got = scores(lab)
    threshold, saving = optimum(got, test["is_fraud"].to_numpy())
    assert (
        verdict(c.check_evaluation, lab, transform, test, "is_fraud", threshold, saving) == "PASS"
    )
    below = float(
        np.max(got[got < threshold], initial=0.0)
    )  # any cut between two scores is the same
    assert (
        verdict(
            c.check_evaluation, lab, transform, test, "is_fraud", (below + threshold) / 2, saving
        )
        == "PASS"
    )


def test_evaluation_wrong_threshold_or_saving_misses(scored: Any, splits: Any) -> None:
    lab, _, transform = scored
    test = splits[2]
    threshold, saving = optimum(scores(lab), test["is_fraud"].to_numpy())
    assert "the minimum over the scores" in verdict(
        c.check_evaluation, lab, transform, test, "is_fraud", 0.5, saving
    )
    assert "saving is" in verdict(
        c.check_evaluation, lab, transform, test, "is_fraud", threshold, saving + 100
    )


def fake_scores_from_labels(lab: Any, test: Any) -> None:
    body = "\n".join(str(float(v)) for v in test["is_fraud"]) + "\n"
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key="fraud/test-scores/test.csv.out", Body=body.encode()
    )


def test_evaluation_scores_rewritten_from_the_labels_miss(scored: Any, splits: Any) -> None:
    lab, _, transform = scored
    test = splits[2]
    fake_scores_from_labels(lab, test)
    msg = verdict(c.check_evaluation, lab, transform, test, "is_fraud", 1.0, 0)
    assert "differ from what the model" in msg


def test_evaluation_scores_shuffled_miss(scored: Any, splits: Any) -> None:
    lab, _, transform = scored
    test = splits[2]
    got = scores(lab)[::-1]
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="fraud/test-scores/test.csv.out",
        Body=("\n".join(map(str, got)) + "\n").encode(),
    )
    assert "differ from what the model" in verdict(
        c.check_evaluation, lab, transform, test, "is_fraud", 0.5, 0
    )


def register(
    lab: Any,
    tuning: str,
    auc: float,
    approve: bool = True,
    artifact: str | None = None,
    direct: bool = False,
) -> None:
    sm, s3 = lab.client("sagemaker"), lab.client("s3")
    best = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)[
        "BestTrainingJob"
    ]["TrainingJobName"]
    artifact = (
        artifact
        or sm.describe_training_job(TrainingJobName=best)["ModelArtifacts"]["S3ModelArtifacts"]
    )
    report = {"binary_classification_metrics": {"auc": {"value": auc, "standard_deviation": "NaN"}}}
    s3.put_object(
        Bucket=lab.bucket, Key="fraud/evaluation/metrics.json", Body=json.dumps(report).encode()
    )
    sm.create_model_package_group(ModelPackageGroupName="fraud-detector")
    pkg = sm.create_model_package(
        ModelPackageGroupName="fraud-detector",
        InferenceSpecification={
            "Containers": [
                {"Image": image("xgboost", lab, version="1.7-1"), "ModelDataUrl": artifact}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{lab.bucket}/fraud/evaluation/metrics.json",
                }
            }
        },
        ModelApprovalStatus="Approved" if direct else "PendingManualApproval",
    )
    if approve and not direct:
        sm.update_model_package(
            ModelPackageArn=pkg["ModelPackageArn"],
            ModelApprovalStatus="Approved",
            ApprovalDescription="ok",
        )


def registry_verdict(lab: Any, tuning: str, transform: str, test: Any) -> str:
    return verdict(c.check_registry, lab, "fraud-detector", tuning, transform, test, "is_fraud")


def true_auc(lab: Any, test: Any) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(test["is_fraud"], scores(lab)))


def test_registry_passes_and_approved_at_creation_passes(scored: Any, splits: Any) -> None:
    lab, tuning, transform = scored
    register(lab, tuning, true_auc(lab, splits[2]))
    assert registry_verdict(lab, tuning, transform, splits[2]) == "PASS"
    # alternative: a second version, approved at creation (no UpdateModelPackage)
    sm = lab.client("sagemaker")
    pkg = sm.create_model_package(
        ModelPackageGroupName="fraud-detector",
        InferenceSpecification=sm.describe_model_package(
            ModelPackageName=sm.list_model_packages(ModelPackageGroupName="fraud-detector")[
                "ModelPackageSummaryList"
            ][0]["ModelPackageArn"]
        )["InferenceSpecification"],
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{lab.bucket}/fraud/evaluation/metrics.json",
                }
            }
        },
        ModelApprovalStatus="Approved",
    )
    assert pkg["ModelPackageArn"]
    assert registry_verdict(lab, tuning, transform, splits[2]) == "PASS"


def test_registry_with_fake_scores_and_perfect_report_misses(scored: Any, splits: Any) -> None:
    lab, tuning, transform = scored
    fake_scores_from_labels(lab, splits[2])
    register(lab, tuning, 1.0)
    assert "differ from what the model" in registry_verdict(lab, tuning, transform, splits[2])


def test_registry_inflated_report_misses(scored: Any, splits: Any) -> None:
    lab, tuning, transform = scored
    register(lab, tuning, 0.999)
    assert "the report says AUC 0.999" in registry_verdict(lab, tuning, transform, splits[2])


def test_registry_not_approved_misses(scored: Any, splits: Any) -> None:
    lab, tuning, transform = scored
    register(lab, tuning, true_auc(lab, splits[2]), approve=False)
    assert "PendingManualApproval" in registry_verdict(lab, tuning, transform, splits[2])


def test_registry_wrong_artifact_misses(scored: Any, splits: Any) -> None:
    lab, tuning, transform = scored
    register(
        lab,
        tuning,
        true_auc(lab, splits[2]),
        artifact=f"s3://{lab.bucket}/fraud/models/other/model.tar.gz",
    )
    assert "is not the best trial's" in registry_verdict(lab, tuning, transform, splits[2])


# --------------------------------------------------------------------------- requirement 8
def algorithm_jobs(
    lab: Any,
    holdout: int = 14,
    rcf_label: bool = False,
    split_files: bool = False,
    mode: str = "supervised",
) -> tuple[list[dict[str, Any]], tuple[str, str, str]]:
    from mllab.datasets import (
        demand_series,
        logins,
        support_tickets,
        to_blazingtext,
        to_builtin_csv,
        to_jsonlines,
    )

    series = demand_series(n_series=4, length=60, seed=0)
    tickets = support_tickets(200, seed=0)
    events = logins(400, seed=0)
    feats = [
        "hour",
        "failed_attempts",
        "distance_km",
        "session_minutes",
        "mb_downloaded",
        "new_device",
    ]
    s3, sm = lab.client("s3"), lab.client("sagemaker")
    b = lab.bucket
    train = [{**s, "target": s["target"][: len(s["target"]) - holdout]} for s in series]
    if split_files:
        for i, rec in enumerate(train):
            s3.put_object(Bucket=b, Key=f"algos/deepar/train/s{i}.json", Body=to_jsonlines([rec]))
    else:
        s3.put_object(Bucket=b, Key="algos/deepar/train/series.json", Body=to_jsonlines(train))
    s3.put_object(Bucket=b, Key="algos/deepar/test/series.json", Body=to_jsonlines(series))
    s3.put_object(Bucket=b, Key="algos/blazingtext/train/t.txt", Body=to_blazingtext(tickets[:160]))
    s3.put_object(
        Bucket=b, Key="algos/blazingtext/validation/t.txt", Body=to_blazingtext(tickets[160:])
    )
    cols = ["is_anomaly", *feats] if rcf_label else feats
    s3.put_object(
        Bucket=b,
        Key="algos/rcf/train/l.csv",
        Body=to_builtin_csv(events[cols], label="is_anomaly" if rcf_label else None),
    )
    s3.put_object(
        Bucket=b,
        Key="algos/rcf/test/l.csv",
        Body=to_builtin_csv(events[["is_anomaly", *feats]], label="is_anomaly"),
    )
    a = f"s3://{b}/algos"
    names = (
        lab.job_name("demand-deepar"),
        lab.job_name("tickets-blazingtext"),
        lab.job_name("logins-rcf"),
    )
    specs = [
        (
            names[0],
            image("forecasting-deepar", lab),
            "ml.m5.large",
            [
                channel("train", f"{a}/deepar/train/", "application/jsonlines"),
                channel("test", f"{a}/deepar/test/", "application/jsonlines"),
            ],
            {"time_freq": "D", "context_length": "14", "prediction_length": "14", "epochs": "2"},
        ),
        (
            names[1],
            image("blazingtext", lab),
            "ml.c5.xlarge",
            [
                channel("train", f"{a}/blazingtext/train/", "text/plain"),
                channel("validation", f"{a}/blazingtext/validation/", "text/plain"),
            ],
            {"mode": mode, "epochs": "2", "word_ngrams": "2", "buckets": "10000"},
        ),
        (
            names[2],
            image("randomcutforest", lab),
            "ml.c5.xlarge",
            [
                channel("train", f"{a}/rcf/train/", "text/csv;label_size=0", "ShardedByS3Key"),
                channel("test", f"{a}/rcf/test/", "text/csv;label_size=1"),
            ],
            {"feature_dim": "6", "num_trees": "50", "num_samples_per_tree": "100"},
        ),
    ]
    for name, img, itype, chans, hp in specs:
        sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": img, "TrainingInputMode": "File"},
            RoleArn=lab.role_arn,
            InputDataConfig=chans,
            OutputDataConfig={"S3OutputPath": f"{a}/models"},
            ResourceConfig={"InstanceType": itype, "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
            HyperParameters=hp,
        )
    for name in names:
        wait_training(lab, name)
    return series, names


def test_algorithm_choice_passes_and_one_file_per_series_passes(lab: Any) -> None:
    series, names = algorithm_jobs(lab)
    assert verdict(c.check_algorithm_choice, lab, *names, series) == "PASS"


def test_algorithm_choice_one_file_per_series_passes(lab: Any) -> None:
    series, names = algorithm_jobs(lab, split_files=True)
    assert verdict(c.check_algorithm_choice, lab, *names, series) == "PASS"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"holdout": 0}, "without its last 14 days"),
        ({"holdout": 7}, "without its last 14 days"),
        ({"mode": "batch_skipgram"}, ""),
    ],
)
def test_algorithm_choice_wrong_data_misses(lab: Any, kw: dict[str, Any], needle: str) -> None:
    series, names = algorithm_jobs(lab, **kw)
    msg = verdict(c.check_algorithm_choice, lab, *names, series)
    assert msg != "PASS" and needle in msg


# --------------------------------------------------------------------------- teardown
def make_model(lab: Any, name: str = "fraud-xgb-best") -> None:
    lab.client("sagemaker").create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image("xgboost", lab, version="1.7-1"),
            "ModelDataUrl": f"s3://{lab.bucket}/m/model.tar.gz",
        },
        ExecutionRoleArn=lab.role_arn,
    )


def test_teardown_with_the_model_left_misses(lab: Any) -> None:
    make_model(lab)
    msg = verdict(c.check_teardown, lab, ["fraud-xgb-best"])
    assert "model 'fraud-xgb-best'" in msg and "delete_model" in msg


def test_teardown_with_another_model_of_the_run_left_misses(lab: Any) -> None:
    make_model(lab)
    make_model(lab, "fraud-scratch")
    lab.client("sagemaker").delete_model(ModelName="fraud-xgb-best")
    assert "fraud-scratch" in verdict(c.check_teardown, lab, ["fraud-xgb-best"])


def test_teardown_with_a_running_job_left_misses(
    lab: Any, splits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllab.checks import cleanup

    upload(lab, splits)
    make_model(lab)
    lab.client("sagemaker").delete_model(ModelName="fraud-xgb-best")
    real = cleanup._state
    monkeypatch.setattr(
        cleanup,
        "_state",
        lambda lab_, kind, name, extra="": (
            "InProgress" if kind == "training-job" else real(lab_, kind, name, extra)
        ),
    )
    linear(lab, splits, lab.job_name("fraud-linear"))
    assert "training-job" in verdict(c.check_teardown, lab, ["fraud-xgb-best"])


def test_teardown_passes_after_lab_teardown_or_a_delete_by_hand(lab: Any) -> None:
    make_model(lab)
    lab.teardown()
    assert verdict(c.check_teardown, lab, ["fraud-xgb-best"]) == "PASS"
    make_model(lab)
    lab.client("sagemaker").delete_model(ModelName="fraud-xgb-best")
    assert verdict(c.check_teardown, lab, ["fraud-xgb-best"]) == "PASS"


# --------------------------------------------------------------------------- requirement 3
def xgb(lab: Any, splits: Any, name: str, spot: bool = True, ckpt: bool = True, **hp: str) -> str:
    upload(lab, splits)
    train = splits[0]
    ratio = float((train["is_fraud"] == 0).sum() / train["is_fraud"].sum())
    params = {
        "objective": "binary:logistic",
        "num_round": "20",
        "max_depth": "4",
        "eval_metric": "auc",
        "scale_pos_weight": f"{ratio:.1f}",
        **hp,
    }
    spec: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image("xgboost", lab, version="1.7-1"),
            "TrainingInputMode": "File",
        },
        "RoleArn": lab.role_arn,
        "InputDataConfig": fraud_channels(lab),
        "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/fraud/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {
            "MaxRuntimeInSeconds": 600,
            **({"MaxWaitTimeInSeconds": 1200} if spot else {}),
        },
        "HyperParameters": {k: v for k, v in params.items() if v},
        "EnableManagedSpotTraining": spot,
    }
    if ckpt:
        spec["CheckpointConfig"] = {"S3Uri": f"s3://{lab.bucket}/fraud/checkpoints/xgb/"}
    lab.client("sagemaker").create_training_job(**spec)
    wait_training(lab, name)
    return name


def test_xgboost_model_trainer_name_passes(lab: Any, splits: Any) -> None:
    base = lab.job_name("fraud-xgb")
    xgb(lab, splits, f"{base}-20261202101500")
    assert verdict(c.check_xgboost, lab, base) == "PASS"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"spot": False}, "use managed spot training"),
        ({"ckpt": False}, "set CheckpointConfig.S3Uri"),
        ({"scale_pos_weight": ""}, "scale_pos_weight is 1.0"),
        ({"eval_metric": "logloss"}, "set eval_metric=auc"),
    ],
)
def test_xgboost_wrong_settings_miss(
    lab: Any, splits: Any, kw: dict[str, Any], needle: str
) -> None:
    base = lab.job_name("fraud-xgb")
    xgb(lab, splits, base, **kw)
    assert needle in verdict(c.check_xgboost, lab, base)


# --------------------------------------------------------------------------- requirements 1, 7
RIGHT = {"03-framing-type": "B", "03-framing-accuracy": "B", "03-framing-metric": "C"}


def test_framing_passes_in_any_case_and_order(lab: Any) -> None:
    assert verdict(c.check_framing, lab, RIGHT) == "PASS"
    mixed = {"03-framing-metric": "c", "03-framing-type": "b", "03-framing-accuracy": "B"}
    assert verdict(c.check_framing, lab, mixed) == "PASS"


@pytest.mark.parametrize(
    ("answers", "needle"),
    [
        ({**RIGHT, "03-framing-type": "A"}, "is not right"),
        ({**RIGHT, "03-framing-metric": "A"}, "is not right"),
        ({k: v for k, v in RIGHT.items() if k != "03-framing-accuracy"}, "answer the three"),
        ({**RIGHT, "03-framing-type": "E"}, "not an option"),
    ],
)
def test_framing_wrong_answers_miss(lab: Any, answers: dict[str, str], needle: str) -> None:
    assert needle in verdict(c.check_framing, lab, answers)


@pytest.fixture(scope="module")
def houses() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.lognormal(12, 0.3, 500)
    pred = y * rng.normal(1, 0.1, 500)
    pred[:10] *= 10  # a few x10 errors, as the lab's outliers
    return y, pred


def test_regression_metrics_with_sklearn_pass(lab: Any, houses: Any) -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y, p = houses
    err = np.abs(y - p)
    typical = err <= np.quantile(err, 0.98)
    reg = {
        name: {
            "rmse": float(np.sqrt(mean_squared_error(y[m], p[m]))),
            "mae": float(mean_absolute_error(y[m], p[m])),
            "r2": float(r2_score(y[m], p[m])),
        }
        for name, m in (("all", slice(None)), ("typical", typical))
    }
    assert verdict(c.check_regression_metrics, lab, reg, y, p) == "PASS"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r["typical"].update(rmse=r["all"]["rmse"]), "reg['typical']['rmse']"),
        (lambda r: r["all"].update(mae=r["all"]["rmse"]), "reg['all']['mae']"),
        (lambda r: r["typical"].pop("r2"), "reg['typical']['r2'] is None"),
        (lambda r: r["all"].update(r2=complex(r["all"]["r2"]) ** 0.5), "reg['all']['r2']"),
    ],
)
def test_regression_metrics_wrong_values_miss(
    lab: Any, houses: Any, change: Callable[[Any], Any], needle: str
) -> None:
    y, p = houses
    reg = c.regression_metrics(y, p)
    change(reg)
    assert needle in verdict(c.check_regression_metrics, lab, reg, y, p)


# --------------------------------------------------------------------------- drill
def drill_request(lab: Any, name: str, ctype: str) -> dict[str, Any]:
    data = f"s3://{lab.bucket}/fraud"
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image("xgboost", lab, version="1.7-1"),
            "TrainingInputMode": "File",
        },
        "RoleArn": lab.role_arn,
        "InputDataConfig": [
            channel("train", f"{data}/train/", ctype),
            channel("validation", f"{data}/validation/", ctype),
        ],
        "OutputDataConfig": {"S3OutputPath": f"{data}/drill"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "HyperParameters": {
            "objective": "binary:logistic",
            "num_round": "10",
            "eval_metric": "auc",
        },
    }


def run_drill(lab: Any, splits: Any, fixed_ctype: str | None, **changes: Any) -> dict[str, Any]:
    upload(lab, splits)
    sm = lab.client("sagemaker")
    request = drill_request(lab, lab.job_name("fraud-drill"), "text/csv;label_size=0")
    sm.create_training_job(**request)
    wait_training(lab, request["TrainingJobName"])
    if fixed_ctype is not None:
        fixed = drill_request(lab, lab.job_name("fraud-drill-fixed"), fixed_ctype)
        for key, value in changes.items():
            fixed[key] = value
        sm.create_training_job(**fixed)
        wait_training(lab, fixed["TrainingJobName"])
    return request


def drill_verdict(lab: Any, request: dict[str, Any]) -> str:
    return verdict(
        c.check_troubleshooting,
        lab,
        lab.job_name("fraud-drill"),
        lab.job_name("fraud-drill-fixed"),
        request,
    )


@pytest.mark.parametrize("ctype", ["text/csv", "text/csv;label_size=1"])
def test_drill_fixed_content_type_passes(lab: Any, splits: Any, ctype: str) -> None:
    assert drill_verdict(lab, run_drill(lab, splits, ctype)) == "PASS"


def test_drill_not_rerun_misses(lab: Any, splits: Any) -> None:
    assert "fraud-drill-fixed" in drill_verdict(lab, run_drill(lab, splits, None))


def test_drill_other_hyperparameters_miss(lab: Any, splits: Any) -> None:
    hp = {"objective": "binary:logistic", "num_round": "50", "eval_metric": "auc"}
    request = run_drill(lab, splits, "text/csv", HyperParameters=hp)
    assert "rerun the same request" in drill_verdict(lab, request)


def test_drill_other_data_misses(lab: Any, splits: Any) -> None:
    data = f"s3://{lab.bucket}/fraud"
    chans = [
        channel("train", f"{data}/validation/", "text/csv"),
        channel("validation", f"{data}/validation/", "text/csv"),
    ]
    request = run_drill(lab, splits, "text/csv", InputDataConfig=chans)
    assert "the fixed job reads" in drill_verdict(lab, request)
