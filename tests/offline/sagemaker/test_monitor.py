"""Offline Model Monitor: baselines equal direct computation, drift and constraint violations."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from tests.hang import HANG_GUARD_S

ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=n),
            "income": rng.normal(50_000, 12_000, size=n).round(2),
            "score": rng.uniform(0, 1, size=n),
            "plan": rng.choice(["basic", "plus", "pro"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )


def _feature(stats: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in stats["features"] if f["name"] == name)


def test_baseline_statistics_match_pandas() -> None:
    from mllab.offline.sagemaker import monitor

    df = _frame()
    df.loc[[3, 7, 11], "income"] = np.nan
    stats, cons = monitor.baseline(df)
    assert stats["dataset"]["item_count"] == len(df)
    for col in ("age", "income", "score"):
        s = df[col].dropna()
        num = _feature(stats, col)["numerical_statistics"]
        assert num["common"]["num_present"] == s.count()
        assert num["common"]["num_missing"] == df[col].isna().sum()
        assert num["mean"] == pytest.approx(s.mean())
        assert num["sum"] == pytest.approx(s.sum())
        assert num["std_dev"] == pytest.approx(s.std(ddof=0))  # population, as Deequ
        assert num["min"] == s.min() and num["max"] == s.max()
        kll = num["distribution"]["kll"]
        assert len(kll["buckets"]) == 10
        assert sum(b["count"] for b in kll["buckets"]) == s.count()
        assert sorted(kll["sketch"]["data"][0]) == sorted(s.tolist())
    assert _feature(stats, "age")["inferred_type"] == "Integral"
    assert _feature(stats, "income")["inferred_type"] == "Fractional"
    plan = _feature(stats, "plan")
    assert plan["inferred_type"] == "String"
    st = plan["string_statistics"]
    assert st["distinct_count"] == 3
    counts = {b["value"]: b["count"] for b in st["distribution"]["categorical"]["buckets"]}
    assert counts == df["plan"].value_counts().to_dict()

    by_name = {f["name"]: f for f in cons["features"]}
    assert by_name["income"]["completeness"] == pytest.approx(df["income"].notna().mean())
    assert by_name["age"]["num_constraints"] == {"is_non_negative": True}
    assert sorted(by_name["plan"]["string_constraints"]["domains"]) == ["basic", "plus", "pro"]
    mc = cons["monitoring_config"]
    assert mc["distribution_constraints"]["comparison_method"] == "Robust"
    assert mc["distribution_constraints"]["comparison_threshold"] == 0.1
    assert mc["emit_metrics"] == "Enabled"


def test_drift_is_flagged_on_exactly_the_drifted_feature() -> None:
    from mllab.offline.sagemaker import monitor

    base_stats, cons = monitor.baseline(_frame(600, seed=1))
    same = _frame(300, seed=2)
    _, violations, drift = monitor.compare(same, base_stats, cons)
    assert violations == []
    drifted = same.copy()
    drifted["income"] = drifted["income"] + 15_000
    _, violations, drift = monitor.compare(drifted, base_stats, cons)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("income", "baseline_drift_check")
    ]
    assert drift["income"] > 0.1 > max(d for k, d in drift.items() if k != "income")
    # the distance is the two-sample KS statistic
    from scipy.stats import ks_2samp

    expected = ks_2samp(_frame(600, seed=1)["income"], drifted["income"]).statistic
    assert drift["income"] == pytest.approx(expected)
    assert "exceeds threshold: 0.1" in violations[0]["description"]


def test_categorical_drift_and_unknown_values() -> None:
    from mllab.offline.sagemaker import monitor

    base_stats, cons = monitor.baseline(_frame(600, seed=1))
    cur = _frame(300, seed=3)
    cur["plan"] = np.where(np.arange(300) % 2 == 0, "enterprise", "pro")
    _, violations, drift = monitor.compare(cur, base_stats, cons)
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert kinds == {("plan", "baseline_drift_check"), ("plan", "categorical_values_check")}
    pb = _frame(600, seed=1)["plan"].value_counts(normalize=True)
    pc = cur["plan"].value_counts(normalize=True)
    expected = max(abs(pb.get(k, 0.0) - pc.get(k, 0.0)) for k in set(pb.index) | set(pc.index))
    assert drift["plan"] == pytest.approx(expected)  # L-infinity over category frequencies


def test_missing_column_type_and_completeness_violations() -> None:
    from mllab.offline.sagemaker import monitor

    base_stats, cons = monitor.baseline(_frame(400))
    cur = _frame(200, seed=5).drop(columns=["score"])
    cur["age"] = cur["age"].astype(object)
    cur.loc[:19, "age"] = "unknown"
    cur.loc[20:59, "income"] = np.nan
    _, violations, _ = monitor.compare(cur, base_stats, cons)
    by = {(v["feature_name"], v["constraint_check_type"]): v["description"] for v in violations}
    assert ("score", "missing_column_check") in by
    assert ("age", "data_type_check") in by
    assert "Only 90% of data is Integral" in by[("age", "data_type_check")]
    assert ("income", "completeness_check") in by
    assert "Only 80% of data is present" in by[("income", "completeness_check")]
    cur2 = _frame(200, seed=5)
    cur2["extra"] = 1
    _, violations, _ = monitor.compare(cur2, base_stats, cons)
    assert [v["constraint_check_type"] for v in violations] == ["extra_column_check"]


# ------------------------------------------------------------------ processing jobs and schedules


def _wait_job(sm: Any, name: str, timeout: float = HANG_GUARD_S) -> None:
    """Poll DescribeProcessingJob until the job ends (any end: Completed, Failed, Stopped)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
        if status in {"Completed", "Failed", "Stopped"}:
            return
        time.sleep(0.2)
    raise AssertionError(f"hang guard: processing job {name} did not end within {timeout:.0f} s")


def _put(lab: Any, key: str, body: str | bytes) -> str:
    lab.client("s3").put_object(Bucket=lab.bucket, Key=key, Body=body)
    return f"s3://{lab.bucket}/{key}"


def _get_json(lab: Any, key: str) -> Any:
    return json.loads(lab.client("s3").get_object(Bucket=lab.bucket, Key=key)["Body"].read())


def _baseline_job(lab: Any, name: str = "baseline-1") -> str:
    df = _frame(500, seed=1)
    _put(lab, "mm/train/train.csv", df.to_csv(index=False))
    sm = lab.client("sagemaker")
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=lab.role_arn,
        AppSpecification={"ImageUri": ANALYZER},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 20,
            }
        },
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
        Environment={
            "dataset_format": json.dumps(
                {"csv": {"header": True, "output_columns_position": "START"}}
            ),
            "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Disabled",
        },
        ProcessingInputs=[
            {
                "InputName": "baseline_dataset_input",
                "S3Input": {
                    "S3Uri": f"s3://{lab.bucket}/mm/train/train.csv",
                    "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {
                        "S3Uri": f"s3://{lab.bucket}/mm/baseline",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    sm.get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return f"s3://{lab.bucket}/mm/baseline"


def test_baselining_processing_job_writes_statistics_and_constraints(lab: Any) -> None:
    uri = _baseline_job(lab)
    desc = lab.client("sagemaker").describe_processing_job(ProcessingJobName="baseline-1")
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["Environment"]["dataset_source"].endswith("baseline_dataset_input")
    stats = _get_json(lab, "mm/baseline/statistics.json")
    cons = _get_json(lab, "mm/baseline/constraints.json")
    assert stats["dataset"]["item_count"] == 500
    assert {f["name"] for f in cons["features"]} == {"age", "income", "score", "plan"}
    assert uri.endswith("mm/baseline")


def test_baselining_job_fails_with_a_reason_when_the_input_is_empty(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_processing_job(
        ProcessingJobName="baseline-empty",
        RoleArn=lab.role_arn,
        AppSpecification={"ImageUri": ANALYZER},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 20,
            }
        },
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Environment={
            "dataset_format": '{"csv": {"header": true}}',
            "output_path": "/opt/ml/processing/output",
        },
        ProcessingInputs=[
            {
                "InputName": "baseline_dataset_input",
                "S3Input": {
                    "S3Uri": f"s3://{lab.bucket}/nothing-here/",
                    "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
    )
    _wait_job(sm, "baseline-empty")
    desc = sm.describe_processing_job(ProcessingJobName="baseline-empty")
    assert desc["ProcessingJobStatus"] == "Failed"
    assert "No S3 objects found" in desc["FailureReason"]


def _write_captures(lab: Any, endpoint: str, rows: pd.DataFrame, when: dt.datetime) -> None:
    lines = []
    for i, row in enumerate(rows.itertuples(index=False)):
        lines.append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": ",".join(str(v) for v in row),
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv",
                            "mode": "OUTPUT",
                            "data": "0.5",
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": {
                        "eventId": f"e{i}",
                        "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    },
                    "eventVersion": "0",
                }
            )
        )
    key = f"capture/{endpoint}/AllTraffic/{when.strftime('%Y/%m/%d/%H')}/{when.strftime('%M-%S')}-000-x.jsonl"
    _put(lab, key, "\n".join(lines) + "\n")


def _capture_endpoint(lab: Any, name: str) -> None:
    """An endpoint (moto control plane only) whose config captures to s3://bucket/capture."""
    from moto.sagemaker.models import sagemaker_backends

    be = sagemaker_backends[lab.account_id][lab.region]
    sm = lab.client("sagemaker")
    sm.create_model(
        ModelName="m",
        ExecutionRoleArn=lab.role_arn,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{lab.bucket}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    be.create_endpoint(endpoint_name=name, endpoint_config_name=f"{name}-cfg", tags=[])


def _schedule(lab: Any, name: str, endpoint: str, baseline_uri: str) -> None:
    sm = lab.client("sagemaker")
    sm.create_data_quality_job_definition(
        JobDefinitionName=f"{name}-def",
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"{baseline_uri}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{baseline_uri}/statistics.json"},
        },
        DataQualityAppSpecification={"ImageUri": ANALYZER},
        DataQualityJobInput={
            "EndpointInput": {
                "EndpointName": endpoint,
                "LocalPath": "/opt/ml/processing/input/endpoint",
            }
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{lab.bucket}/mm/reports",
                        "LocalPath": "/opt/ml/processing/output",
                    }
                }
            ]
        },
        JobResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 20,
            }
        },
        RoleArn=lab.role_arn,
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": f"{name}-def",
            "MonitoringType": "DataQuality",
        },
    )


def test_schedule_tick_reports_drift_and_publishes_metrics(lab: Any) -> None:
    from mllab.offline.sagemaker import monitor

    baseline_uri = _baseline_job(lab)
    _capture_endpoint(lab, "ep")
    _schedule(lab, "dq", "ep", baseline_uri)
    sm = lab.client("sagemaker")
    desc = sm.describe_monitoring_schedule(MonitoringScheduleName="dq")
    assert desc["MonitoringScheduleStatus"] == "Scheduled"
    assert desc["EndpointName"] == "ep"
    assert desc["MonitoringType"] == "DataQuality"

    now = dt.datetime.now(dt.UTC)
    cur = _frame(300, seed=9)
    cur["score"] = cur["score"] * 0.3 + 0.7  # drifted
    _write_captures(lab, "ep", cur, now)
    _write_captures(lab, "ep", _frame(50, seed=4).assign(age="x"), now - dt.timedelta(hours=3))

    got = monitor.tick(lab, "dq")
    assert got["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert got["ProcessingJobArn"].startswith("arn:aws:sagemaker:us-east-1:")
    hour = now.strftime("%Y/%m/%d/%H")
    assert got["ReportUri"] == f"s3://{lab.bucket}/mm/reports/ep/dq/{hour}/"
    report = _get_json(lab, f"mm/reports/ep/dq/{hour}/constraint_violations.json")
    kinds = [(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]]
    assert kinds == [("score", "baseline_drift_check")]  # the 3-hour-old captures are outside
    stats = _get_json(lab, f"mm/reports/ep/dq/{hour}/statistics.json")
    assert stats["dataset"]["item_count"] == 300
    assert [f["name"] for f in stats["features"]] == ["age", "income", "score", "plan"]

    execs = sm.list_monitoring_executions(MonitoringScheduleName="dq")[
        "MonitoringExecutionSummaries"
    ]
    assert [e["MonitoringExecutionStatus"] for e in execs] == ["CompletedWithViolations"]
    job = got["ProcessingJobArn"].rsplit("/", 1)[-1]
    pj = sm.describe_processing_job(ProcessingJobName=job)
    assert pj["ProcessingJobStatus"] == "Completed"
    assert pj["MonitoringScheduleArn"] == desc["MonitoringScheduleArn"]
    last = sm.describe_monitoring_schedule(MonitoringScheduleName="dq")[
        "LastMonitoringExecutionSummary"
    ]
    assert last["MonitoringExecutionStatus"] == "CompletedWithViolations"

    cw = lab.client("cloudwatch")
    metrics = cw.list_metrics(Namespace="aws/sagemaker/Endpoints/data-metrics")["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert "feature_baseline_drift_score" in names
    dims = {
        d["Name"]: d["Value"]
        for d in next(m for m in metrics if m["MetricName"] == "feature_baseline_drift_score")[
            "Dimensions"
        ]
    }
    assert dims == {"Endpoint": "ep", "MonitoringSchedule": "dq"}

    # all captured data: the old rows' "x" ages now fail the type check
    got = monitor.tick(lab, "dq", window=None)
    report = _get_json(lab, f"mm/reports/ep/dq/{hour}/constraint_violations.json")
    assert ("age", "data_type_check") in {
        (v["feature_name"], v["constraint_check_type"]) for v in report["violations"]
    }

    sm.stop_monitoring_schedule(MonitoringScheduleName="dq")
    assert (
        sm.describe_monitoring_schedule(MonitoringScheduleName="dq")["MonitoringScheduleStatus"]
        == "Stopped"
    )
    with pytest.raises(ClientError):
        monitor.tick(lab, "dq")
    sm.start_monitoring_schedule(MonitoringScheduleName="dq")
    summaries = sm.list_monitoring_schedules(EndpointName="ep")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in summaries] == ["dq"]
    sm.delete_monitoring_schedule(MonitoringScheduleName="dq")
    with pytest.raises(ClientError) as err:
        sm.describe_monitoring_schedule(MonitoringScheduleName="dq")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_tick_without_captures_fails_the_execution(lab: Any) -> None:
    from mllab.offline.sagemaker import monitor

    baseline_uri = _baseline_job(lab)
    _capture_endpoint(lab, "quiet")
    _schedule(lab, "dq-quiet", "quiet", baseline_uri)
    got = monitor.tick(lab, "dq-quiet")
    assert got["MonitoringExecutionStatus"] == "Failed"
    assert "No data to analyze" in got["FailureReason"]


def test_one_time_schedule_needs_its_analysis_window(lab: Any) -> None:
    from botocore.exceptions import ClientError

    baseline_uri = _baseline_job(lab)
    _capture_endpoint(lab, "ep-now")
    _schedule(lab, "dq-now", "ep-now", baseline_uri)  # also creates dq-now-def
    sm = lab.client("sagemaker")
    with pytest.raises(ClientError, match="DataAnalysisStartTime and DataAnalysisEndTime"):
        sm.create_monitoring_schedule(
            MonitoringScheduleName="dq-once",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "NOW"},
                "MonitoringJobDefinitionName": "dq-now-def",
                "MonitoringType": "DataQuality",
            },
        )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="dq-once",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "dq-now-def",
            "MonitoringType": "DataQuality",
        },
    )
    assert (
        sm.describe_monitoring_schedule(MonitoringScheduleName="dq-once")["MonitoringScheduleName"]
        == "dq-once"
    )
