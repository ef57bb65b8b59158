"""The checks of lab 03 (modeling), as functions the notebook's check cells call.

Each function takes the open :class:`~mllab.checks.core.Requirement` (``req``), the lab and
what the requirement names, reads the real state through the lab session and calls
``req.expect``. Scores are checked against the model itself (a sample of test rows scored
with the trained artifact, loaded with the ``xgboost`` library as the container does), so a
scores file written by hand does not pass; teardown asks the account for what this run
created. Kept apart from the notebook so ``tests/checks/test_lab03_checks.py`` can give each
check prepared wrong and alternative states. Every call is read-only and free (reading a
model artifact from S3 costs a GET).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from mllab.checks.inspect import (
    model_package,
    s3_objects,
    training_job,
    transform_job,
    tuning_job,
)


def latest_job(lab: Any, prefix: str) -> str:
    """The newest training job whose name starts with ``prefix`` (the SDK v3 ``ModelTrainer``
    appends a timestamp to its base job name), else ``prefix`` itself. Free."""
    found = lab.client("sagemaker").list_training_jobs(
        NameContains=prefix, SortBy="CreationTime", SortOrder="Descending"
    )
    names = [j["TrainingJobName"] for j in found["TrainingJobSummaries"]]
    return next((n for n in names if n == prefix), None) or next(
        (n for n in names if n.startswith(prefix)), prefix
    )


# --------------------------------------------------------------------------- requirement 1
FRAMING = ("03-framing-type", "03-framing-accuracy", "03-framing-metric")


def check_framing(req: Any, lab: Any, framing: dict[str, str]) -> None:
    """Requirement 1: the three framing questions answered (graded by the answer key)."""
    from mllab.checks.choices import choice

    req.expect(
        set(framing) == set(FRAMING),
        "answer the three questions: framing = {'03-framing-type': ..., ...}",
    )
    for qid in FRAMING:
        choice(qid, framing[qid], lab)
        req.note(f"{qid}={framing[qid]}")


# --------------------------------------------------------------------------- requirement 2
def check_linear_learner(req: Any, lab: Any, prefix: str) -> None:
    """Requirement 2: Linear Learner, binary, precision at recall 0.9, balanced weights.

    The job is found by its name or, on the ``ModelTrainer`` route, by that name plus the
    SDK's timestamp suffix.
    """
    job = training_job(lab, latest_job(lab, prefix))
    req.expect(job.status == "Completed", f"{job.name} is {job.status}: {job.failure_reason}")
    req.expect(
        "linear-learner" in job.image, f"the job runs {job.image}, not the Linear Learner image"
    )
    hp = job.hyperparameters
    req.expect(
        hp.get("predictor_type") == "binary_classifier", "predictor_type must be binary_classifier"
    )
    req.expect(
        hp.get("binary_classifier_model_selection_criteria") == "precision_at_target_recall",
        "choose the threshold with binary_classifier_model_selection_criteria=precision_at_target_recall",
    )
    req.expect(
        float(hp.get("target_recall", 0)) >= 0.9,
        f"target_recall is {hp.get('target_recall')}; the business asks for 0.9",
    )
    req.expect(
        hp.get("positive_example_weight_mult") in ("balanced", "auto"),
        "weight the rare positives: positive_example_weight_mult=balanced",
    )
    req.expect(
        job.instance_type == "ml.m5.large", f"the job runs on {job.instance_type}; use ml.m5.large"
    )
    runtime = (job.raw.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400)
    req.expect(runtime <= 600, f"MaxRuntimeInSeconds is {runtime}; bound the run at 10 minutes")
    req.expect(
        "validation" in job.channels, "add the validation channel: the threshold is chosen on it"
    )
    m = job.metrics
    req.expect(
        "validation:roc_auc_score" in m and "validation:recall" in m,
        f"no validation metrics reported ({sorted(m)}); read FinalMetricDataList of describe_training_job",
    )
    req.expect(
        m["validation:recall"] >= 0.85,
        f"validation recall is {m['validation:recall']:.2f}; the target is 0.9",
    )
    req.note(
        f"{job.name}: validation AUC {m['validation:roc_auc_score']:.3f}, recall "
        f"{m['validation:recall']:.2f}, precision {m.get('validation:precision', float('nan')):.3f}"
    )


# --------------------------------------------------------------------------- requirement 3
def check_xgboost(
    req: Any, lab: Any, prefix: str, train_key: str = "fraud/train/train.csv"
) -> None:
    """Requirement 3: built-in XGBoost on managed spot with checkpoints, weighted for the classes.

    ``scale_pos_weight`` is compared with the class ratio counted from the training data in
    S3 (label = first column), not with a number the notebook computed.
    """
    import pandas as pd

    job = training_job(lab, latest_job(lab, prefix))
    req.expect(job.status == "Completed", f"{job.name} is {job.status}: {job.failure_reason}")
    req.expect(
        "xgboost" in job.image, f"{job.name} runs {job.image}, not the built-in XGBoost image"
    )
    raw = job.raw
    stop = raw.get("StoppingCondition", {})
    req.expect(
        raw.get("EnableManagedSpotTraining") is True,
        "use managed spot training (EnableManagedSpotTraining)",
    )
    req.expect(
        stop.get("MaxWaitTimeInSeconds", 0) >= stop.get("MaxRuntimeInSeconds", 1),
        f"MaxWaitTimeInSeconds ({stop.get('MaxWaitTimeInSeconds')}) must be >= "
        f"MaxRuntimeInSeconds ({stop.get('MaxRuntimeInSeconds')})",
    )
    ckpt = raw.get("CheckpointConfig", {}).get("S3Uri", "")
    req.expect(
        ckpt.startswith(f"s3://{lab.bucket}/"),
        "set CheckpointConfig.S3Uri so a spot interruption resumes",
    )
    saved = s3_objects(lab, ckpt.split(f"s3://{lab.bucket}/", 1)[-1])
    req.expect(len(saved) > 0, f"no checkpoint objects under {ckpt}")
    hp = job.hyperparameters
    body = lab.client("s3").get_object(Bucket=lab.bucket, Key=train_key)["Body"].read()
    labels = pd.read_csv(io.BytesIO(body), header=None)[0]
    ratio = float((labels == 0).sum() / (labels == 1).sum())
    spw = float(hp.get("scale_pos_weight", 1))
    req.expect(
        abs(spw - ratio) / ratio < 0.2,
        f"scale_pos_weight is {spw}; negatives/positives in the training data is {ratio:.0f}",
    )
    req.expect("auc" in hp.get("eval_metric", ""), "set eval_metric=auc")
    req.expect(
        "validation" in job.channels, "add the validation channel: validation:auc is computed on it"
    )
    auc = job.metrics.get("validation:auc")
    req.expect(auc is not None, f"no validation:auc metric ({sorted(job.metrics)})")
    assert auc is not None
    req.expect(auc >= 0.85, f"validation:auc is {auc:.3f}; expected >= 0.85")
    req.note(
        f"{job.name}: validation AUC {auc:.3f}, scale_pos_weight {spw}, spot: billable "
        f"{raw.get('BillableTimeInSeconds')} s of {raw.get('TrainingTimeInSeconds')} s, "
        f"{len(saved)} checkpoint object(s)"
    )


# --------------------------------------------------------------------------- requirement 4
def _range(ranges: dict[str, Any], name: str) -> tuple[str, dict[str, Any]] | None:
    for kind in (
        "ContinuousParameterRanges",
        "IntegerParameterRanges",
        "CategoricalParameterRanges",
    ):
        for r in ranges.get(kind, []) or []:
            if r.get("Name") == name:
                return kind, r
    return None


def _close(a: float, b: float, rel: float = 0.1) -> bool:
    return abs(a - b) <= rel * abs(b)


def check_tuning(req: Any, lab: Any, name: str, budget_usd: float) -> None:
    """Requirement 4: maximise validation:auc over eta 0.05-0.5 (log) and max_depth 2-6, 4 jobs.

    The ranges are read from the tuning job and compared with the text (a range the width
    of a rounding error misses); ``max_depth`` may be integer or the categorical 2..6.
    """
    t = tuning_job(lab, name)
    req.expect(t.status == "Completed", f"{name} is {t.status}: {t.raw.get('FailureReason', '')}")
    req.expect(
        t.objective == ("Maximize", "validation:auc"),
        f"the objective is {t.objective}; maximise validation:auc",
    )
    req.expect(
        t.strategy in ("Bayesian", "Random"), f"strategy {t.strategy}: use Bayesian or Random here"
    )
    ranges = t.raw.get("HyperParameterTuningJobConfig", {}).get("ParameterRanges", {})
    eta = _range(ranges, "eta")
    req.expect(eta is not None, f"tune eta (ranges: {t.ranges})")
    assert eta is not None
    kind, r = eta
    req.expect(
        kind == "ContinuousParameterRanges"
        and _close(float(r["MinValue"]), 0.05)
        and _close(float(r["MaxValue"]), 0.5),
        f"eta searches {r.get('MinValue', r.get('Values'))}..{r.get('MaxValue', '')}; the "
        "requirement asks for the continuous range 0.05 to 0.5",
    )
    req.expect(
        r.get("ScalingType") == "Logarithmic",
        f"eta's ScalingType is {r.get('ScalingType')}; a range spanning a factor of ten is "
        "searched on a logarithmic scale",
    )
    depth = _range(ranges, "max_depth")
    req.expect(depth is not None, f"tune max_depth (ranges: {t.ranges})")
    assert depth is not None
    kind, r = depth
    if kind == "CategoricalParameterRanges":
        values = {int(v) for v in r.get("Values", [])}
    else:
        values = set(range(int(float(r["MinValue"])), int(float(r["MaxValue"])) + 1))
    req.expect(
        values == {2, 3, 4, 5, 6},
        f"max_depth searches {sorted(values)}; the requirement asks for 2 to 6",
    )
    req.expect(
        t.max_jobs is not None and t.max_jobs <= 4 and (t.max_parallel or 1) <= 2,
        f"keep it small: {t.max_jobs} jobs, {t.max_parallel} in parallel; the lab allows 4 and 2",
    )
    static = t.raw.get("TrainingJobDefinition", {}).get("StaticHyperParameters", {})
    req.expect(
        "scale_pos_weight" not in static,
        "leave scale_pos_weight out: the threshold handles the imbalance in requirement 5",
    )
    runtime = (
        t.raw.get("TrainingJobDefinition", {})
        .get("StoppingCondition", {})
        .get("MaxRuntimeInSeconds", 86400)
    )
    req.expect(
        runtime <= 300, f"each trial is bounded at {runtime} s; the requirement says 5 minutes"
    )
    req.expect(
        bool(t.best_job) and t.best_value is not None,
        "no BestTrainingJob: did every trial fail? list them with "
        "list_training_jobs_for_hyper_parameter_tuning_job",
    )
    row = lab.ledger.latest_for(name, run=lab.run_id)
    req.expect(
        row is not None, f"the ledger has no row for {name}: was it created while the lab was open?"
    )
    per_job = row.detail.get("per_job_usd", 0)
    req.expect(
        abs(row.estimate_usd - per_job * t.max_jobs) < 1e-6,
        "the estimate should be MaxNumberOfTrainingJobs x one job's worst case",
    )
    spent = sum(
        r.estimate_usd
        for r in lab.ledger.rows(run=lab.run_id)
        if r.operation in ("CreateTrainingJob", "CreateHyperParameterTuningJob")
    )
    req.expect(
        spent <= budget_usd,
        f"the fraud models' worst case is USD {spent:.3f}, over the USD {budget_usd:.2f} budget: "
        "lower MaxRuntimeInSeconds or MaxNumberOfTrainingJobs",
    )
    req.note(
        f"{t.strategy}: best {t.best_job} validation:auc {t.best_value:.4f}; guard worst case "
        f"USD {row.estimate_usd:.4f} ({t.max_jobs} x USD {per_job:.4f}); fraud models USD "
        f"{spent:.3f} of USD {budget_usd:.2f}"
    )


# --------------------------------------------------------------------------- requirements 5, 6
def load_xgboost(lab: Any, artifact_uri: str) -> Any:
    """Load a built-in XGBoost model artifact (``model.tar.gz`` holding ``xgboost-model``).

    Args:
        lab: the open lab.
        artifact_uri: ``s3://bucket/.../model.tar.gz``.

    Returns:
        An ``xgboost.Booster``. Costs one S3 GET.
    """
    import xgboost as xgb

    bucket, key = artifact_uri.removeprefix("s3://").split("/", 1)
    body = lab.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and "xgboost-model" in m.name)
        raw = tar.extractfile(member).read()  # type: ignore[union-attr]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def read_scores(lab: Any, output_uri: str) -> np.ndarray:
    """The transform job's scores (one per line, first column) under its output prefix."""
    import pandas as pd

    prefix = output_uri.split(f"s3://{lab.bucket}/", 1)[-1].rstrip("/") + "/"
    outs = s3_objects(lab, prefix, at_least=1)
    key = next((k for k in outs.keys if k.endswith(".out")), outs.keys[0])
    return pd.read_csv(io.BytesIO(outs.read(lab, key)), header=None)[0].to_numpy(dtype=float)


def scores_from_model(
    req: Any, lab: Any, transform_name: str, features: Any, sample: int = 64
) -> np.ndarray:
    """The transform job's scores, after checking a sample of them against its model.

    Args:
        req: the open requirement.
        lab: the open lab.
        transform_name: the batch transform job.
        features: the test features in the order sent (a DataFrame or 2-D array).
        sample: how many rows to rescore (seeded choice).

    Returns:
        The scores file's values.
    """
    import xgboost as xgb

    tj = transform_job(lab, transform_name)
    req.expect(tj.status == "Completed", f"{transform_name} is {tj.status}: {tj.failure_reason}")
    scores = read_scores(lab, tj.output_uri)
    X = np.asarray(features, dtype=float)
    req.expect(len(scores) == len(X), f"{len(scores)} scores for {len(X)} test rows")
    model = lab.client("sagemaker").describe_model(ModelName=tj.raw["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    booster = load_xgboost(lab, container["ModelDataUrl"])
    rows = np.random.default_rng(0).choice(len(X), size=min(sample, len(X)), replace=False)
    want = booster.predict(xgb.DMatrix(X[rows]))
    off = int((np.abs(want - scores[rows]) > 1e-4).sum())
    req.expect(
        off == 0,
        f"{off} of {len(rows)} sampled scores differ from what the model "
        f"{tj.raw['ModelName']} gives for those rows: the scores must be the transform job's output",
    )
    return scores


def check_evaluation(
    req: Any,
    lab: Any,
    transform_name: str,
    test: Any,
    label: str,
    threshold: float,
    saving: float,
) -> None:
    """Requirement 5: the batch transform scored the test set; the threshold minimises the cost."""
    from sklearn.metrics import roc_auc_score

    tj = transform_job(lab, transform_name)
    req.expect(
        tj.content_type == "text/csv" and tj.split_type == "Line" and tj.accept == "text/csv",
        f"send text/csv split by Line and accept text/csv (got {tj.content_type}, {tj.split_type}, {tj.accept})",
    )
    features = test.drop(columns=[label])
    got = scores_from_model(req, lab, transform_name, features)
    y = test[label].to_numpy()

    def cost_at(t: float) -> int:
        flagged = got >= t
        return 500 * int(((~flagged) & (y == 1)).sum()) + 5 * int((flagged & (y == 0)).sum())

    best = min(cost_at(t) for t in np.unique(got))
    auc = roc_auc_score(y, got)
    req.expect(auc >= 0.85, f"test AUC is {auc:.3f}; expected >= 0.85")
    req.expect(
        cost_at(threshold) == best,
        f"at threshold {threshold:.4f} the cost is USD {cost_at(threshold):,}; the minimum over "
        f"the scores is USD {best:,}",
    )
    req.expect(
        abs(saving - (cost_at(0.5) - best)) < 1,
        f"saving is {saving}; recomputed: {cost_at(0.5) - best}",
    )
    req.note(
        f"test AUC {auc:.3f}; cost USD {cost_at(0.5):,} at 0.5 -> USD {best:,} at {threshold:.3f} "
        f"(saves USD {cost_at(0.5) - best:,} per {len(y):,} transactions)"
    )


def check_registry(
    req: Any, lab: Any, group: str, tuning_name: str, transform_name: str, test: Any, label: str
) -> None:
    """Requirement 6: an approved version of the best trial, whose report's AUC is the model's."""
    from sklearn.metrics import roc_auc_score

    pkg = model_package(lab, group)
    req.expect(
        pkg.approval == "Approved",
        f"version {pkg.version} is {pkg.approval}; approve it with update_model_package",
    )
    req.expect(
        any("xgboost" in i for i in pkg.images),
        f"the inference container is {pkg.images}, not XGBoost",
    )
    tuned = tuning_job(lab, tuning_name).best_job
    sm = lab.client("sagemaker")
    artifact = sm.describe_training_job(TrainingJobName=tuned)["ModelArtifacts"]["S3ModelArtifacts"]
    req.expect(
        artifact in pkg.model_data,
        f"the package's model data {pkg.model_data} is not the best trial's {artifact}",
    )
    stats = pkg.metrics.get("ModelQuality", {}).get("Statistics", {})
    req.expect(
        stats.get("S3Uri", "").startswith(f"s3://{lab.bucket}/"),
        "add ModelMetrics.ModelQuality.Statistics with the report's S3Uri",
    )
    key = stats["S3Uri"].split(f"s3://{lab.bucket}/", 1)[-1]
    try:
        reported = json.loads(
            lab.client("s3").get_object(Bucket=lab.bucket, Key=key)["Body"].read()
        )
        auc_reg = float(reported["binary_classification_metrics"]["auc"]["value"])
    except (ClientError, ValueError, KeyError, TypeError) as err:
        req.expect(
            False, f"the report at {stats['S3Uri']} is not SageMaker's model-quality JSON: {err!r}"
        )
        return
    scores = scores_from_model(req, lab, transform_name, test.drop(columns=[label]))
    auc_real = roc_auc_score(test[label], scores)
    req.expect(
        abs(auc_reg - auc_real) < 0.005,
        f"the report says AUC {auc_reg:.3f}; the model's test scores give {auc_real:.3f}",
    )
    req.note(
        f"{group} v{pkg.version} Approved, AUC {auc_reg:.3f} ({pkg.raw.get('ApprovalDescription', '')})"
    )


# --------------------------------------------------------------------------- requirement 8
def _jsonl(lab: Any, uri: str) -> list[dict[str, Any]]:
    prefix = uri.split(f"s3://{lab.bucket}/", 1)[-1]
    objs = s3_objects(lab, prefix, at_least=1)
    return [
        json.loads(line)
        for k in objs.keys
        for line in objs.read(lab, k).decode().splitlines()
        if line.strip()
    ]


def _first_line(lab: Any, uri: str) -> str:
    prefix = uri.split(f"s3://{lab.bucket}/", 1)[-1]
    found = s3_objects(lab, prefix, at_least=1)
    return found.read(lab, found.keys[0]).decode().splitlines()[0]


def check_algorithm_choice(
    req: Any,
    lab: Any,
    deepar: str,
    blazingtext: str,
    rcf: str,
    series: Sequence[dict[str, Any]],
    horizon: int = 14,
) -> None:
    """Requirement 8: DeepAR (14-day holdout), BlazingText supervised, RCF without labels."""
    expected = {
        deepar: (
            "forecasting-deepar",
            ["time_freq", "context_length", "prediction_length", "epochs"],
        ),
        blazingtext: ("blazingtext", ["mode"]),
        rcf: ("randomcutforest", ["feature_dim", "num_trees", "num_samples_per_tree"]),
    }
    jobs = {}
    for name, (algo, required) in expected.items():
        job = training_job(lab, name)
        jobs[name] = job
        req.expect(algo in job.image, f"{name} runs {job.image}; it needs the {algo} image")
        req.expect(job.status == "Completed", f"{name} is {job.status}: {job.failure_reason}")
        missing = [h for h in required if h not in job.hyperparameters]
        req.expect(not missing, f"{name} lacks the hyperparameters {missing}")
    d = jobs[deepar]
    hp = d.hyperparameters
    req.expect(
        hp["prediction_length"] == str(horizon)
        and hp["time_freq"] == "D"
        and hp["context_length"] == str(horizon),
        f"forecast {horizon} days ahead at daily frequency with a {horizon}-day context "
        f"(got prediction_length={hp['prediction_length']}, time_freq={hp['time_freq']}, "
        f"context_length={hp['context_length']})",
    )
    req.expect("test" in d.channels, "give DeepAR a test channel with the full series")
    train_recs, test_recs = _jsonl(lab, d.channels["train"]), _jsonl(lab, d.channels["test"])
    req.expect(
        all({"start", "target"} <= set(r) for r in train_recs),
        f"a DeepAR record needs start and target (got {sorted(train_recs[0]) if train_recs else []})",
    )
    full = [json.dumps(list(s["target"])) for s in series]
    test_ok = sorted(json.dumps(list(r["target"])) for r in test_recs) == sorted(full)
    req.expect(
        test_ok,
        f"the test channel holds {len(test_recs)} series; it must hold the {len(full)} full series",
    )
    heads = sorted(json.dumps(list(s["target"])[: len(s["target"]) - horizon]) for s in series)
    got = sorted(json.dumps(list(r["target"])) for r in train_recs)
    lengths = sorted({len(r["target"]) for r in train_recs})
    req.expect(
        got == heads,
        f"the train channel must hold each of the {len(full)} series without its last {horizon} "
        f"days ({len(train_recs)} records of length {lengths}; the full series have "
        f"{sorted({len(s['target']) for s in series})})",
    )
    bt = jobs[blazingtext]
    req.expect(
        bt.hyperparameters["mode"] == "supervised",
        "ticket routing is supervised classification: mode=supervised",
    )
    req.expect(
        bt.hyperparameters.get("word_ngrams") == "2"
        and bt.hyperparameters.get("buckets") == "10000",
        f"word bigrams hashed into 10,000 buckets (got word_ngrams={bt.hyperparameters.get('word_ngrams')}, "
        f"buckets={bt.hyperparameters.get('buckets')})",
    )
    req.expect(
        _first_line(lab, bt.channels["train"]).startswith("__label__"),
        "BlazingText lines start with __label__<class>",
    )
    r = jobs[rcf]
    req.expect(
        r.content_types.get("train", "").replace(" ", "") == "text/csv;label_size=0",
        "declare the unlabelled CSV as text/csv;label_size=0",
    )
    dist = [
        c["DataSource"]["S3DataSource"].get("S3DataDistributionType")
        for c in r.raw.get("InputDataConfig", [])
        if c["ChannelName"] == "train"
    ]
    req.expect(dist == ["ShardedByS3Key"], f"the RCF train channel is {dist}; shard it by S3 key")
    width = len(_first_line(lab, r.channels["train"]).split(","))
    req.expect(
        width == int(r.hyperparameters["feature_dim"]) == 6,
        f"the train CSV has {width} columns; feature_dim must match and there is no label",
    )
    req.note(
        f"DeepAR holds out {horizon} days of {len(full)} series, test:RMSE "
        f"{d.metrics.get('test:RMSE', float('nan')):.1f}; BlazingText validation:accuracy "
        f"{bt.metrics.get('validation:accuracy', float('nan')):.2f}; RCF test:f1 "
        f"{r.metrics.get('test:f1', float('nan')):.2f}"
    )


# --------------------------------------------------------------------------- requirement 7
def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, dict[str, float]]:
    """RMSE, MAE and R² for all rows and for the typical ones (absolute error <= its 98th
    percentile), recomputed with numpy (requirement 7's truth)."""
    yt_all, yp_all = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    err = np.abs(yt_all - yp_all)
    keep = err <= np.quantile(err, 0.98)
    out = {}
    for name, rows in (("all", np.ones_like(keep)), ("typical", keep)):
        yt, yp = yt_all[rows], yp_all[rows]
        out[name] = {
            "rmse": float(np.sqrt(np.mean((yt - yp) ** 2))),
            "mae": float(np.mean(np.abs(yt - yp))),
            "r2": float(1 - np.sum((yt - yp) ** 2) / np.sum((yt - yt.mean()) ** 2)),
        }
    return out


def check_regression_metrics(req: Any, lab: Any, reg: Any, y_true: Any, y_pred: Any) -> None:
    """Requirement 7: ``reg`` holds RMSE, MAE and R² for all and for typical rows."""
    del lab
    want = regression_metrics(y_true, y_pred)
    for name, metrics in want.items():
        for k, v in metrics.items():
            mine = (reg or {}).get(name, {}).get(k) if isinstance(reg, dict) else None
            try:
                close = mine is not None and bool(np.isclose(float(mine), v, rtol=1e-6))
            except (TypeError, ValueError):
                close = False  # not a real number (a complex root, a string)
            req.expect(
                close,
                f"reg[{name!r}][{k!r}] is {mine}; recomputed {v:,.4f}",
            )
    rmse_drop = 1 - reg["typical"]["rmse"] / reg["all"]["rmse"]
    mae_drop = 1 - reg["typical"]["mae"] / reg["all"]["mae"]
    req.note(
        f"dropping 2% of rows cuts RMSE by {rmse_drop:.0%} but MAE by {mae_drop:.0%}; "
        f"R2 {reg['all']['r2']:.2f} -> {reg['typical']['r2']:.2f}"
    )


# --------------------------------------------------------------------------- drill
def check_troubleshooting(
    req: Any, lab: Any, broken_name: str, fixed_name: str, request: dict[str, Any]
) -> None:
    """The drill: the given job failed; the same request with only the content types fixed runs."""
    broken = training_job(lab, broken_name)
    req.expect(
        broken.status == "Failed",
        "the provided job should have failed; rerun the cell that launches it",
    )
    fixed = training_job(lab, fixed_name)
    req.expect(
        fixed.status == "Completed", f"{fixed_name} is {fixed.status}: {fixed.failure_reason}"
    )
    req.expect(
        fixed.hyperparameters == request["HyperParameters"]
        and fixed.instance_type == request["ResourceConfig"]["InstanceType"],
        "rerun the same request: only the channels' content type should change",
    )
    want = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]]
    got = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in fixed.raw.get("InputDataConfig", [])]
    req.expect(got == want, f"the fixed job reads {got}; the request read {want}")
    req.expect(
        all(
            ct.split(";")[0].strip() == "text/csv" and "label_size=0" not in ct.replace(" ", "")
            for ct in fixed.content_types.values()
        ),
        f"content types: {fixed.content_types}",
    )
    req.note(
        f"was: {broken.failure_reason[:100]}...; now Completed, validation:auc "
        f"{fixed.metrics.get('validation:auc', float('nan')):.3f}"
    )


# --------------------------------------------------------------------------- teardown
def check_teardown(req: Any, lab: Any, models: Iterable[str]) -> None:
    """Teardown: the models the text names are gone and nothing this run created still bills.

    What the run created is found through the guard's record and the run's ``mllab:run`` tag
    (:func:`mllab.checks.cleanup.billable_leftovers`, models included).
    """
    from mllab.checks.cleanup import billable_leftovers

    sm = lab.client("sagemaker")
    left = [
        r for r in billable_leftovers(lab, include_free=True) if r.kind not in ("endpoint-config",)
    ]
    for name in models:
        try:
            sm.describe_model(ModelName=name)
        except ClientError:
            continue
        if not any(r.kind == "model" and r.name == name for r in left):
            from mllab.checks.cleanup import Leftover

            left.append(Leftover("model", name, "exists", f"sm.delete_model(ModelName={name!r})"))
    lines = "\n".join(f"  - {r.kind} {r.name!r} is {r.state}: {r.fix}" for r in left)
    req.expect(
        not left,
        f"{len(left)} resource(s) of this lab run are still there:\n{lines}\n"
        "Delete them (lab.teardown() deletes what this run created).",
    )
    req.note("the model and every job of this run are gone; nothing billable left")
