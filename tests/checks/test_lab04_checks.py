"""Lab 04's checks (``mllab.checks.lab04``) on prepared states: wrong and faked ones MISS,
valid alternatives PASS.

States are built with boto3 against an offline lab (small seeded data, real offline jobs),
not by rerunning the notebook. Expensive states (a processing job, training jobs, an MLflow
server) are built once per test and then varied, each variation judged again. The cases of
issues 14 and 18: a pipeline role with ``iam:PassRole`` on ``*`` (evaluated with
``SimulatePrincipalPolicy``), a teardown that leaves a VPC of another CIDR, the pipeline or the
key; drift numbers typed by hand or computed another way, an alarm that lacks a dimension or
watches the wrong namespace; experiment runs whose metrics do not come from the jobs; a
serverless endpoint on a copied artifact, a batch output written by the notebook or with forged
scores, a drill "repaired" by copying the artifact to the typed path; a retraining pipeline whose
gate is a constant, ``>`` or the training metric, never run, run with MinAuc lowered or failed,
whose registered version was approved by hand (a pending one registered by hand beside it) or
whose evaluation.json was rewritten after the job (one real run, the rest derived from it).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import WaiterError

from mllab.checks import lab04 as c
from tests.checks.verdicts import outcome, verdict

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FEATURES = ["amount", "hour", "distance_from_home", "online"]


# --------------------------------------------------------------------------- pipeline role
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
        }
    ],
}


def pipeline_role(lab: Any, statements: list[dict[str, Any]], name: str = "pipe") -> str:
    iam = lab.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return str(arn)


def jobs_statement(lab: Any) -> dict[str, Any]:
    base = f"arn:aws:sagemaker:{lab.region}:{lab.account_id}"
    return {
        "Effect": "Allow",
        "Action": [
            "sagemaker:CreateProcessingJob",
            "sagemaker:CreateTrainingJob",
            "sagemaker:CreateModelPackage",
        ],
        "Resource": [
            f"{base}:processing-job/*",
            f"{base}:training-job/*",
            f"{base}:model-package/*",
        ],
    }


def pass_role(resource: Any, condition: bool = True) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": resource}
    if condition:
        st["Condition"] = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    return st


def test_pipeline_role_scoped_passrole_passes(lab: Any) -> None:
    arn = pipeline_role(lab, [jobs_statement(lab), pass_role(lab.role_arn)])
    assert verdict(c.check_pipeline_role, lab, arn, lab.role_arn) == "PASS"


def test_pipeline_role_alternative_without_condition_and_split_statements_passes(lab: Any) -> None:
    js = jobs_statement(lab)
    split = [
        {**js, "Action": [a], "Resource": r}
        for a, r in zip(js["Action"], js["Resource"], strict=True)
    ]
    arn = pipeline_role(lab, [*split, pass_role([lab.role_arn], condition=False)])
    assert verdict(c.check_pipeline_role, lab, arn, lab.role_arn) == "PASS"


@pytest.mark.parametrize(
    ("statements", "needle"),
    [
        (lambda lab: [jobs_statement(lab), pass_role("*")], "may pass ANY role"),
        (
            lambda lab: [jobs_statement(lab), pass_role(f"arn:aws:iam::{lab.account_id}:role/*")],
            "may pass ANY role",
        ),
        (lambda lab: [pass_role(lab.role_arn)], "may not sagemaker:CreateProcessingJob"),
        (lambda lab: [jobs_statement(lab)], "may not pass"),
        (
            lambda lab: [
                jobs_statement(lab),
                pass_role(lab.role_arn),
                {"Effect": "Allow", "Action": "sagemaker:CreateEndpoint", "Resource": "*"},
            ],
            "allows sagemaker:CreateEndpoint",
        ),
    ],
)
def test_pipeline_role_wrong_policies_miss(
    lab: Any, statements: Callable[[Any], list[dict[str, Any]]], needle: str
) -> None:
    arn = pipeline_role(lab, statements(lab))
    assert needle in verdict(c.check_pipeline_role, lab, arn, lab.role_arn)


# --------------------------------------------------------------------------- teardown
def teardown_state(lab: Any, cidr: str = "10.77.0.0/16") -> dict[str, Any]:
    ec2, kms, iam, cw = (lab.client(s) for s in ("ec2", "kms", "iam", "cloudwatch"))
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]
    key = kms.create_key(Description="t")["KeyMetadata"]["Arn"]
    iam.create_role(RoleName="fraud-exec-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    cw.put_metric_alarm(
        AlarmName="fraud-amount-drift",
        Namespace="FraudModel/Drift",
        MetricName="feature_psi",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold",
    )
    return {"vpc": vpc, "subnet": subnet["SubnetId"], "key": key}


def delete_all(lab: Any, st: dict[str, Any], keep: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    ec2 = lab.client("ec2")
    if "vpc" not in keep:
        ec2.delete_subnet(SubnetId=st["subnet"])
        ec2.delete_vpc(VpcId=st["vpc"])
    if "key" not in keep:
        lab.client("kms").schedule_key_deletion(KeyId=st["key"], PendingWindowInDays=7)
    if "role" not in keep:
        lab.client("iam").delete_role(RoleName="fraud-exec-role")
    if "alarm" not in keep:
        lab.client("cloudwatch").delete_alarms(AlarmNames=["fraud-amount-drift"])


def teardown_verdict(lab: Any, st: dict[str, Any]) -> str:
    return verdict(
        c.check_teardown,
        lab,
        vpc_id=st["vpc"],
        key_arn=st["key"],
        roles=["fraud-exec-role"],
        alarms=["fraud-amount-drift"],
        pipeline="fraud-retrain",
        job_definitions=["fraud-data-quality"],
    )


@pytest.mark.parametrize("cidr", ["10.40.0.0/16", "172.31.0.0/16"])
def test_teardown_everything_gone_passes_whatever_the_cidr(lab: Any, cidr: str) -> None:
    st = teardown_state(lab, cidr)
    delete_all(lab, st)
    assert teardown_verdict(lab, st) == "PASS"


@pytest.mark.parametrize(
    ("keep", "needle"),
    [
        ({"vpc"}, "VPC"),
        ({"key"}, "KMS key is Enabled"),
        ({"role"}, "IAM role fraud-exec-role"),
        ({"alarm"}, "alarm fraud-amount-drift"),
    ],
)
def test_teardown_leftovers_miss(lab: Any, keep: set[str], needle: str) -> None:
    st = teardown_state(lab, "172.20.0.0/16")  # not the notebook's CIDR: found by its id
    delete_all(lab, st, keep)
    assert needle in teardown_verdict(lab, st)


def test_teardown_second_tagged_vpc_and_pipeline_miss(lab: Any) -> None:
    st = teardown_state(lab)
    delete_all(lab, st)
    other = lab.client("ec2").create_vpc(
        CidrBlock="10.41.0.0/16",
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "mllab:run", "Value": lab.run_id}]}
        ],
    )["Vpc"]["VpcId"]
    got = teardown_verdict(lab, st)
    assert f"VPC {other}" in got
    lab.client("ec2").delete_vpc(VpcId=other)
    lab.client("sagemaker").create_pipeline(
        PipelineName="fraud-retrain",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=lab.role_arn,
    )
    assert "pipeline fraud-retrain" in teardown_verdict(lab, st)


# --------------------------------------------------------------------------- drift
def capture_files(lab: Any, rows: np.ndarray) -> str:
    """Capture files in SageMaker's format (what the endpoint writes), for the check's input."""
    uri = f"s3://{lab.bucket}/fraud/capture"
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": ",".join(str(v) for v in r),
                        "encoding": "CSV",
                    },
                    "endpointOutput": {
                        "observedContentType": "text/csv",
                        "mode": "OUTPUT",
                        "data": "0.1",
                        "encoding": "CSV",
                    },
                },
                "eventMetadata": {
                    "eventId": str(uuid.uuid4()),
                    "inferenceTime": "2026-12-02T10:00:00Z",
                },
                "eventVersion": "0",
            }
        )
        for r in rows
    ]
    s3 = lab.client("s3")
    for i, variant in enumerate(("v1", "v2")):
        s3.put_object(
            Bucket=lab.bucket,
            Key=f"fraud/capture/fraud-checkout/{variant}/2026/12/02/10/00-00-000-{i}.jsonl",
            Body=("\n".join(lines[i::2]) + "\n").encode(),
        )
    return uri


DRIFT = """
import json, pathlib
import numpy as np, pandas as pd
from scipy.stats import ks_2samp
base = pd.read_csv("/opt/ml/processing/baseline/base.csv")
rows = [json.loads(l)["captureData"]["endpointInput"]["data"]
        for f in sorted(pathlib.Path("/opt/ml/processing/capture").rglob("*.jsonl"))
        for l in f.read_text().splitlines() if l.strip()]
live = pd.DataFrame([[float(v) for v in r.split(",")] for r in rows], columns=base.columns)
def psi(e, a, bins=BINS):
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1))); edges[0], edges[-1] = -np.inf, np.inf
    pe = np.clip(np.histogram(e, edges)[0] / len(e), 1e-4, None)
    pa = np.clip(np.histogram(a, edges)[0] / len(a), 1e-4, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))
out = {"features": {c: {"psi": psi(base[c].to_numpy(), live[c].to_numpy()),
                        "ks": float(ks_2samp(base[c], live[c]).statistic)} for c in base.columns}}
pathlib.Path("/opt/ml/processing/report").mkdir(parents=True, exist_ok=True)
json.dump(out, open("/opt/ml/processing/report/drift.json", "w"))
"""


def drift_state(lab: Any, bins: int = 10, image_repo: str = "sklearn") -> dict[str, Any]:
    import pandas as pd
    from sagemaker.core import image_uris

    rng = np.random.default_rng(4)
    base = pd.DataFrame(
        {
            "amount": rng.lognormal(3.7, 0.9, 1500).round(2),
            "hour": rng.integers(0, 24, 1500).astype(float),
            "distance_from_home": rng.exponential(10, 1500).round(1),
            "online": rng.integers(0, 2, 1500).astype(float),
        }
    )
    live = pd.DataFrame(
        {
            "amount": np.concatenate(
                [rng.lognormal(3.7, 0.9, 400), rng.lognormal(3.7, 0.9, 300) * 3]
            ).round(2),
            "hour": rng.integers(0, 24, 700).astype(float),
            "distance_from_home": rng.exponential(10, 700).round(1),
            "online": rng.integers(0, 2, 700).astype(float),
        }
    )
    capture_uri = capture_files(lab, live.to_numpy())
    s3 = lab.client("s3")
    s3.put_object(
        Bucket=lab.bucket,
        Key="fraud/drift/baseline/base.csv",
        Body=base.to_csv(index=False).encode(),
    )
    s3.put_object(
        Bucket=lab.bucket,
        Key="fraud/drift/code/drift.py",
        Body=DRIFT.replace("BINS", str(bins)).encode(),
    )
    report_uri = f"s3://{lab.bucket}/fraud/drift/report"
    name = lab.job_name("fraud-drift")
    image = (
        image_uris.retrieve("sklearn", region=lab.region, version="1.2-1")
        if image_repo == "sklearn"
        else image_uris.retrieve("xgboost", region=lab.region, version="1.7-1")
    )

    def inp(n: str, uri: str) -> dict[str, Any]:
        return {
            "InputName": n,
            "S3Input": {
                "S3Uri": uri,
                "LocalPath": f"/opt/ml/processing/{n}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }

    sm = lab.client("sagemaker")
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=lab.role_arn,
        AppSpecification={
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/drift.py"],
        },
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        ProcessingInputs=[
            inp("code", f"s3://{lab.bucket}/fraud/drift/code/"),
            inp("baseline", f"s3://{lab.bucket}/fraud/drift/baseline/"),
            inp("capture", f"{capture_uri}/fraud-checkout/"),
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": report_uri,
                        "LocalPath": "/opt/ml/processing/report",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    sm.get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
    )
    report = json.loads(
        s3.get_object(Bucket=lab.bucket, Key="fraud/drift/report/drift.json")["Body"].read()
    )
    return {
        "job": name,
        "capture": capture_uri,
        "base": base,
        "report_uri": report_uri,
        "report": report,
    }


def publish(
    lab: Any, report: dict[str, Any], namespace: str = "FraudModel/Drift", scale: float = 1.0
) -> None:
    lab.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "feature_psi",
                "Dimensions": [
                    {"Name": "Endpoint", "Value": "fraud-checkout"},
                    {"Name": "Feature", "Value": f},
                ],
                "Value": v["psi"] * scale,
                "Timestamp": dt.datetime.now(dt.UTC),
            }
            for f, v in report["features"].items()
        ],
    )


def alarm(lab: Any, dims: dict[str, str] | None = None, **kw: Any) -> None:
    dims = {"Endpoint": "fraud-checkout", "Feature": "amount"} if dims is None else dims
    lab.client("cloudwatch").put_metric_alarm(
        **{
            "AlarmName": "fraud-amount-drift",
            "Namespace": "FraudModel/Drift",
            "MetricName": "feature_psi",
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 1,
            "Threshold": 0.1,
            "ComparisonOperator": "GreaterThanThreshold",
            **kw,
        }
    )


def drift_verdict(lab: Any, st: dict[str, Any]) -> str:
    return verdict(
        c.check_drift, lab, st["job"], st["capture"], st["base"], FEATURES, st["report_uri"]
    )


def test_drift_job_metric_and_alarm_pass_then_wrong_alarms_miss(lab: Any) -> None:
    st = drift_state(lab)
    publish(lab, st["report"])
    alarm(lab)
    assert drift_verdict(lab, st) == "PASS", drift_verdict(lab, st)
    # alternative: >= and a 5-minute period also alarm within the hour
    alarm(lab, ComparisonOperator="GreaterThanOrEqualToThreshold", Period=300, EvaluationPeriods=3)
    assert drift_verdict(lab, st) == "PASS"
    # wrong: the alarm lacks the Feature dimension (it watches no series) -- named in the message
    alarm(lab, dims={"Endpoint": "fraud-checkout"})
    assert "lacks the dimension(s) ['Feature']" in drift_verdict(lab, st)
    # wrong: threshold far above the shift
    alarm(lab, Threshold=0.5)
    assert "use > 0.1" in drift_verdict(lab, st)
    # wrong: a day of evaluation periods
    alarm(lab, EvaluationPeriods=24)
    assert "within the hour" in drift_verdict(lab, st)


def test_drift_published_values_typed_by_hand_miss(lab: Any) -> None:
    st = drift_state(lab)
    publish(lab, st["report"], scale=3.0)  # not what the job computed
    alarm(lab)
    assert "is not amount's PSI" in drift_verdict(lab, st)


def test_drift_faked_report_and_reserved_namespace_miss(lab: Any) -> None:
    from botocore.exceptions import ClientError

    st = drift_state(lab)
    fake = {"features": {f: {"psi": 0.5 if f == "amount" else 0.0, "ks": 0.4} for f in FEATURES}}
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key="fraud/drift/report/drift.json", Body=json.dumps(fake).encode()
    )
    publish(lab, fake)
    alarm(lab)
    assert "scipy.stats.ks_2samp" in drift_verdict(lab, st)
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        publish(lab, st["report"], namespace="AWS/SageMaker")


def test_drift_other_binning_misses(lab: Any) -> None:
    st = drift_state(lab, bins=3)
    publish(lab, st["report"])
    alarm(lab)
    assert "10 bins at the baseline's deciles" in drift_verdict(lab, st)


# --------------------------------------------------------------------------- experiments
def tiny_job(lab: Any, name: str, depth: str) -> str:
    import pandas as pd
    from sagemaker.core import image_uris

    from mllab.datasets import card_transactions, to_builtin_csv

    t = card_transactions(600, seed=4, fraud_rate=0.1)
    cols = ["is_fraud", "amount", "hour", "velocity_1h", "amount_vs_avg"]
    s3 = lab.client("s3")
    for part, rows in (("train", t[:400]), ("validation", t[400:])):
        s3.put_object(
            Bucket=lab.bucket,
            Key=f"x/{part}/{part}.csv",
            Body=to_builtin_csv(pd.DataFrame(rows[cols]), label="is_fraud"),
        )

    def ch(part: str) -> dict[str, Any]:
        return {
            "ChannelName": part,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{lab.bucket}/x/{part}/"}
            },
        }

    sm = lab.client("sagemaker")
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image_uris.retrieve("xgboost", region=lab.region, version="1.7-1"),
            "TrainingInputMode": "File",
        },
        RoleArn=lab.role_arn,
        HyperParameters={
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": "10",
            "max_depth": depth,
        },
        InputDataConfig=[ch("train"), ch("validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{lab.bucket}/x/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
    )
    return name


def log_runs(
    arn: str, jobs: dict[str, str], lab: Any, experiment: str = "fraud-challenger", **override: Any
) -> dict[str, float]:
    import mlflow

    sm = lab.client("sagemaker")
    mlflow.set_tracking_uri(arn)
    mlflow.set_experiment(experiment)
    aucs = {}
    for run, job in jobs.items():
        d = sm.describe_training_job(TrainingJobName=job)
        auc = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}["validation:auc"]
        aucs[run] = auc
        with mlflow.start_run(run_name=run):
            mlflow.log_params(
                {
                    "training_job": job,
                    "num_round": d["HyperParameters"]["num_round"],
                    "max_depth": override.get("max_depth", d["HyperParameters"]["max_depth"]),
                }
            )
            mlflow.log_metric("validation_auc", override.get("auc", auc))
    mlflow.set_tracking_uri(None)
    return aucs


def test_experiments_logged_from_the_jobs_pass_and_hand_typed_miss(lab: Any) -> None:
    sm = lab.client("sagemaker")
    jobs = {
        "v1": tiny_job(lab, lab.job_name("a"), "2"),
        "v2": tiny_job(lab, lab.job_name("b"), "4"),
    }
    arn = sm.create_mlflow_app(
        Name="fraud-experiments", ArtifactStoreUri=f"s3://{lab.bucket}/mlflow", RoleArn=lab.role_arn
    )["Arn"]
    aucs = log_runs(arn, jobs, lab)
    best = max(aucs, key=lambda n: aucs[n])
    worst = min(aucs, key=lambda n: aucs[n])
    assert verdict(c.check_experiments, lab, arn, "fraud-challenger", jobs, best) == "PASS"
    # wrong: the worse run chosen
    assert "by validation_auc the runs rank" in verdict(
        c.check_experiments, lab, arn, "fraud-challenger", jobs, worst
    )
    # wrong: metrics typed by hand in another experiment
    log_runs(arn, jobs, lab, experiment="typed", auc=0.99)
    assert "FinalMetricDataList" in verdict(c.check_experiments, lab, arn, "typed", jobs, best)
    # wrong: params that are not what the job ran
    log_runs(arn, jobs, lab, experiment="params", max_depth="9")
    assert "trained with" in verdict(c.check_experiments, lab, arn, "params", jobs, best)
    # wrong: nothing logged there
    assert "no MLflow experiment" in verdict(c.check_experiments, lab, arn, "nothing", jobs, best)


# --------------------------------------------------------------------------- realtime, async
def hosted(lab: Any) -> tuple[str, str]:
    """Two models (fraud-v1, fraud-v2) from one tiny XGBoost job; returns (image, artifact)."""
    from sagemaker.core import image_uris

    job = tiny_job(lab, lab.job_name("host"), "3")
    sm = lab.client("sagemaker")
    art = sm.describe_training_job(TrainingJobName=job)["ModelArtifacts"]["S3ModelArtifacts"]
    image = image_uris.retrieve("xgboost", region=lab.region, version="1.7-1")
    for name in ("fraud-v1", "fraud-v2"):
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=lab.role_arn,
            PrimaryContainer={"Image": image, "ModelDataUrl": art},
        )
    return image, art


def checkout(
    lab: Any,
    config: str,
    capture_uri: str,
    sampling: int = 100,
    modes: tuple[str, ...] = ("Input", "Output"),
    weights: tuple[float, float] = (0.9, 0.1),
) -> None:
    sm = lab.client("sagemaker")
    key = lab.client("kms").create_key(Description="t")["KeyMetadata"]["Arn"]
    sm.create_endpoint_config(
        EndpointConfigName=config,
        KmsKeyId=key,
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": f"fraud-{v}",
                "InitialVariantWeight": w,
                "InstanceType": "ml.t2.medium",
                "InitialInstanceCount": 1,
            }
            for v, w in zip(("v1", "v2"), weights, strict=True)
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": sampling,
            "DestinationS3Uri": capture_uri,
            "CaptureOptions": [{"CaptureMode": m} for m in modes],
        },
    )


def scale(lab: Any, target: float = 600.0) -> None:
    aas = lab.client("application-autoscaling")
    rid = "endpoint/fraud-checkout/variant/v1"
    dim = "sagemaker:variant:DesiredInstanceCount"
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=dim,
        MinCapacity=1,
        MaxCapacity=2,
    )
    aas.put_scaling_policy(
        PolicyName="p",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=dim,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )


def traffic(lab: Any, n: int, target: str | None = None) -> None:
    from mllab.datasets import card_transactions

    rows = card_transactions(n, seed=9)[["amount", "hour", "velocity_1h", "amount_vs_avg"]]
    rt = lab.client("sagemaker-runtime")
    for r in rows.itertuples(index=False):
        kw = {"TargetVariant": target} if target else {}
        rt.invoke_endpoint(
            EndpointName="fraud-checkout",
            ContentType="text/csv",
            Body=",".join(str(v) for v in r),
            **kw,
        )


def wait_in_service(lab: Any, name: str) -> None:
    lab.client("sagemaker").get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )


def test_realtime_captured_split_passes_then_wrong_states_miss(lab: Any) -> None:
    from botocore.exceptions import ClientError

    sm = lab.client("sagemaker")
    capture_uri = f"s3://{lab.bucket}/fraud/capture"
    hosted(lab)
    checkout(lab, "ab", capture_uri)
    sm.create_endpoint(EndpointName="fraud-checkout", EndpointConfigName="ab")
    wait_in_service(lab, "fraud-checkout")
    scale(lab)
    traffic(lab, 150)
    # too little traffic: CloudWatch counts what the endpoint served
    assert "send at least 300" in verdict(c.check_realtime, lab, capture_uri)
    # faking the count is refused as AWS refuses it
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        lab.client("cloudwatch").put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": "fraud-checkout"},
                        {"Name": "VariantName", "Value": "v1"},
                    ],
                    "Value": 300,
                }
            ],
        )
    traffic(lab, 170)
    assert verdict(c.check_realtime, lab, capture_uri) == "PASS"
    # alternative: the destination written with a trailing slash
    assert verdict(c.check_realtime, lab, capture_uri + "/") == "PASS"
    # the wrong destination
    assert "the text asks for" in verdict(c.check_realtime, lab, f"s3://{lab.bucket}/elsewhere")
    # a capture file edited by hand: the rescored answers differ
    cap = c.read_captures(lab, capture_uri, "fraud-checkout")
    assert len(cap) >= 320
    s3 = lab.client("s3")
    prefix = "fraud/capture/fraud-checkout/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=lab.bucket, Prefix=prefix)["Contents"]]
    forged = []
    for line in s3.get_object(Bucket=lab.bucket, Key=keys[0])["Body"].read().decode().splitlines():
        rec = json.loads(line)
        rec["captureData"]["endpointOutput"]["data"] = "0.999"
        forged.append(json.dumps(rec))
    original = s3.get_object(Bucket=lab.bucket, Key=keys[0])["Body"].read()
    s3.put_object(Bucket=lab.bucket, Key=keys[0], Body="\n".join(forged).encode())
    assert "captured answers differ" in verdict(c.check_realtime, lab, capture_uri, rescore=400)
    s3.put_object(Bucket=lab.bucket, Key=keys[0], Body=original)
    # sampling 50% and input only: both named
    checkout(lab, "ab-half", capture_uri, sampling=50)
    sm.update_endpoint(EndpointName="fraud-checkout", EndpointConfigName="ab-half")
    wait_in_service(lab, "fraud-checkout")
    assert "InitialSamplingPercentage is 50" in verdict(c.check_realtime, lab, capture_uri)
    checkout(lab, "ab-input", capture_uri, modes=("Input",))
    sm.update_endpoint(EndpointName="fraud-checkout", EndpointConfigName="ab-input")
    wait_in_service(lab, "fraud-checkout")
    assert "capture both Input and Output" in verdict(c.check_realtime, lab, capture_uri)


def test_realtime_split_forced_onto_one_variant_misses(lab: Any) -> None:
    sm = lab.client("sagemaker")
    capture_uri = f"s3://{lab.bucket}/fraud/capture"
    hosted(lab)
    checkout(lab, "ab", capture_uri)
    sm.create_endpoint(EndpointName="fraud-checkout", EndpointConfigName="ab")
    wait_in_service(lab, "fraud-checkout")
    scale(lab, target=70.0)
    traffic(lab, 300, target="v1")  # every request sent to v1: no A/B test
    got = verdict(c.check_realtime, lab, capture_uri)
    assert "the text says 600" in got
    lab.client("application-autoscaling").delete_scaling_policy(
        PolicyName="p",
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/fraud-checkout/variant/v1",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    )
    scale(lab)
    assert "send without TargetVariant" in verdict(c.check_realtime, lab, capture_uri)


def test_async_results_and_failure_path(lab: Any) -> None:
    import pandas as pd

    from mllab.datasets import card_transactions, to_builtin_csv

    sm = lab.client("sagemaker")
    hosted(lab)
    out = f"s3://{lab.bucket}/fraud/async/output"
    fail = f"s3://{lab.bucket}/fraud/async/failures"

    def config(name: str, failure: str | None) -> None:
        oc = {"S3OutputPath": out, **({"S3FailurePath": failure} if failure else {})}
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "fraud-v1",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            AsyncInferenceConfig={"OutputConfig": oc},
        )

    config("no-failure-path", None)
    sm.create_endpoint(EndpointName="fraud-disputes", EndpointConfigName="no-failure-path")
    wait_in_service(lab, "fraud-disputes")
    rows = card_transactions(50, seed=3)[["amount", "hour", "velocity_1h", "amount_vs_avg"]]
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="fraud/async/input/s.csv", Body=to_builtin_csv(rows))
    rt = lab.client("sagemaker-runtime")

    def submit(key: str) -> dict[str, Any]:
        ans = rt.invoke_endpoint_async(
            EndpointName="fraud-disputes",
            InputLocation=f"s3://{lab.bucket}/{key}",
            ContentType="text/csv",
        )
        where = ans.get("FailureLocation") if "broken" in key else ans["OutputLocation"]
        if where:
            b, k = where.removeprefix("s3://").split("/", 1)
            s3.get_waiter("object_exists").wait(
                Bucket=b, Key=k, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
        return dict(ans)

    submit("fraud/async/input/s.csv")
    assert "S3FailurePath is not set" in verdict(
        c.check_async, lab, "fraud-disputes", out, fail, 50
    )
    config("with-failure-path", fail)
    sm.update_endpoint(EndpointName="fraud-disputes", EndpointConfigName="with-failure-path")
    wait_in_service(lab, "fraud-disputes")
    # the failure path is configured but nothing failed yet: the check wants the broken statement
    assert "no error file under" in verdict(c.check_async, lab, "fraud-disputes", out, fail, 50)
    broken = pd.DataFrame({"amount": ["n/a"], "hour": ["x"]}).to_csv(index=False).encode()
    s3.put_object(Bucket=lab.bucket, Key="fraud/async/input/broken.csv", Body=broken)
    submit("fraud/async/input/broken.csv")
    assert verdict(c.check_async, lab, "fraud-disputes", out, fail, 50) == "PASS"
    # alternative: paths written with a trailing slash in the text
    assert verdict(c.check_async, lab, "fraud-disputes", out + "/", fail + "/", 50) == "PASS"
    # wrong: a statement of another size was scored
    assert "holds 51 scores" in verdict(c.check_async, lab, "fraud-disputes", out, fail, 51)


# --------------------------------------------------------------------------- security
def exec_policy(
    lab: Any, key: str, s3_resource: str | None = None, extra: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FraudObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": s3_resource or f"arn:aws:s3:::{lab.bucket}/fraud/*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{lab.bucket}",
            },
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"],
                "Resource": key,
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "cloudwatch:PutMetricData",
                ],
                "Resource": "*",
            },
            *(extra or []),
        ],
    }


def secure_state(
    lab: Any,
    policy: Callable[[str], dict[str, Any]] | None = None,
    kms_on_job: bool = True,
    one_az: bool = False,
    open_sg: bool = False,
    isolation: bool = True,
    managed: bool = False,
) -> str:
    """The challenger trained and modelled in a private VPC with a KMS key; returns the job."""
    ec2, iam, sm = lab.client("ec2"), lab.client("iam"), lab.client("sagemaker")
    key = lab.client("kms").create_key(Description="t")["KeyMetadata"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=zones[0 if one_az else i]
        )["Subnet"]["SubnetId"]
        for i in range(2)
    ]
    sg = ec2.create_security_group(GroupName="g", VpcId=vpc, Description="none")["GroupId"]
    rt = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        VpcEndpointType="Gateway",
        ServiceName=f"com.amazonaws.{lab.region}.s3",
        RouteTableIds=[rt["RouteTableId"]],
    )
    if open_sg:  # an inbound rule: the security group admits traffic
        ec2.authorize_security_group_ingress(
            GroupId=sg, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0"
        )
    role = iam.create_role(RoleName="fraud-exec-role", AssumeRolePolicyDocument=json.dumps(TRUST))[
        "Role"
    ]["Arn"]
    doc = json.dumps((policy or (lambda k: exec_policy(lab, k)))(key))
    if managed:  # alternative: a customer-managed policy attached to the role
        parn = iam.create_policy(PolicyName="fraud-lp", PolicyDocument=doc)["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="fraud-exec-role", PolicyArn=parn)
    else:
        iam.put_role_policy(RoleName="fraud-exec-role", PolicyName="lp", PolicyDocument=doc)
    name = tiny_job(lab, lab.job_name("secure"), "3")  # trains as the lab role; described below
    # the secure request, as the text asks (offline the job re-runs with these settings)
    from sagemaker.core import image_uris

    d = sm.describe_training_job(TrainingJobName=name)
    job2 = lab.job_name("fraud-v2")
    req = {
        "TrainingJobName": job2,
        "AlgorithmSpecification": d["AlgorithmSpecification"],
        "RoleArn": role,
        "HyperParameters": d["HyperParameters"],
        "InputDataConfig": d["InputDataConfig"],
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{lab.bucket}/fraud/models",
            **({"KmsKeyId": key} if kms_on_job else {}),
        },
        "ResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 5,
            **({"VolumeKmsKeyId": key} if kms_on_job else {}),
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "EnableNetworkIsolation": True,
        "VpcConfig": {"SecurityGroupIds": [sg], "Subnets": subnets},
    }
    sm.create_training_job(**req)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job2, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
    )
    art = sm.describe_training_job(TrainingJobName=job2)["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(
        ModelName="fraud-v2",
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": image_uris.retrieve("xgboost", region=lab.region, version="1.7-1"),
            "ModelDataUrl": art,
        },
        EnableNetworkIsolation=isolation,
        VpcConfig={"SecurityGroupIds": [sg], "Subnets": subnets},
    )
    return job2


def test_security_passes_and_managed_policy_alternative_passes(lab: Any) -> None:
    job = secure_state(lab, managed=True)
    assert verdict(c.check_security, lab, job) == "PASS", verdict(c.check_security, lab, job)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"policy_kind": "bucket"}, "may read or write"),
        ({"policy_kind": "wildcard"}, "wildcard actions"),
        ({"policy_kind": "passrole"}, "more than a job needs"),
        ({"kms_on_job": False}, "customer-managed key"),
        ({"one_az": True}, "two Availability Zones"),
        ({"open_sg": True}, "admits inbound traffic"),
        ({"isolation": False}, "EnableNetworkIsolation"),
    ],
)
def test_security_wrong_states_miss(lab: Any, kwargs: dict[str, Any], needle: str) -> None:
    kind = kwargs.pop("policy_kind", None)
    policies: dict[str, Callable[[str], dict[str, Any]]] = {
        "bucket": lambda k: exec_policy(lab, k, s3_resource=f"arn:aws:s3:::{lab.bucket}/*"),
        "wildcard": lambda k: exec_policy(
            lab, k, extra=[{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]
        ),
        "passrole": lambda k: exec_policy(
            lab, k, extra=[{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]
        ),
    }
    job = secure_state(lab, policy=policies.get(kind or ""), **kwargs)
    assert needle in verdict(c.check_security, lab, job)


# --------------------------------------------------------------------------- serverless
SCORED = ["amount", "hour", "velocity_1h", "amount_vs_avg"]  # what tiny_job trains on


def deploy(lab: Any, name: str, config: str, variants: list[dict[str, Any]]) -> None:
    """Create ``config`` and point ``name`` at it (created, or updated when it runs)."""
    sm = lab.client("sagemaker")
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=variants)
    names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    if name in names:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=config)
    else:
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    wait_in_service(lab, name)


def serverless(model: str = "fraud-v1", memory: int = 1024, conc: int = 2, **kw: Any) -> Any:
    return [
        {
            "VariantName": kw.get("variant", "AllTraffic"),
            "ModelName": model,
            "ServerlessConfig": {"MemorySizeInMB": memory, "MaxConcurrency": conc},
        }
    ]


def instance(model: str, itype: str = "ml.t2.medium") -> list[dict[str, Any]]:
    return [
        {
            "VariantName": "AllTraffic",
            "ModelName": model,
            "InstanceType": itype,
            "InitialInstanceCount": 1,
        }
    ]


def copy_artifact(lab: Any, art: str, key: str) -> str:
    bucket, src = art.removeprefix("s3://").split("/", 1)
    lab.client("s3").copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": src})
    return f"s3://{bucket}/{key}"


def test_serverless_passes_then_wrong_and_faked_states_miss(lab: Any) -> None:
    image, art = hosted(lab)
    job = lab.job_name("host")

    def judge() -> str:
        return outcome(c.verify_serverless, lab, "fraud-analyst", "fraud-v1", job, SCORED)

    deploy(lab, "fraud-analyst", "s1", serverless())
    assert judge() == "PASS"
    # alternative: another variant name, the endpoint updated onto a second config
    deploy(lab, "fraud-analyst", "s2", serverless(variant="analyst"))
    assert judge() == "PASS"
    # wrong: the stated numbers
    deploy(lab, "fraud-analyst", "s3", serverless(memory=2048))
    assert "MemorySizeInMB is 2048; the text asks for 1024" in judge()
    deploy(lab, "fraud-analyst", "s4", serverless(conc=5))
    assert "MaxConcurrency is 5" in judge()
    # wrong: another model
    deploy(lab, "fraud-analyst", "s5", serverless(model="fraud-v2"))
    assert "serves the model 'fraud-v2'" in judge()
    # fake: a serverless config exists, but the endpoint runs an instance-based one
    lab.client("sagemaker").create_endpoint_config(
        EndpointConfigName="fraud-analyst-serverless", ProductionVariants=serverless()
    )
    deploy(lab, "fraud-analyst", "s6", instance("fraud-v1"))
    assert "no ServerlessConfig" in judge()
    # fake: fraud-v1 re-created from a copy of the artifact placed by hand
    deploy(lab, "fraud-analyst", "s7", serverless())
    sm = lab.client("sagemaker")
    sm.delete_model(ModelName="fraud-v1")
    sm.create_model(
        ModelName="fraud-v1",
        ExecutionRoleArn=lab.role_arn,
        PrimaryContainer={"Image": image, "ModelDataUrl": copy_artifact(lab, art, "x/copy.tar.gz")},
    )
    got = judge()
    assert "not the artifact" in got and "a copy placed by hand" in got


# --------------------------------------------------------------------------- batch transform
def nightly(lab: Any, rows: int = 60) -> str:
    from mllab.datasets import card_transactions

    data = card_transactions(rows, seed=5)[["card_id", *SCORED]]
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="fraud/batch/input/accounts.csv",
        Body=data.to_csv(header=False, index=False).encode(),
    )
    return f"s3://{lab.bucket}/fraud/batch/input/"


def transform(lab: Any, name: str, **kw: Any) -> str:
    sm = lab.client("sagemaker")
    dp = kw.get("dp", {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"})
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="fraud-v1",
        BatchStrategy=kw.get("strategy", "MultiRecord"),
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{lab.bucket}/fraud/batch/input/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": kw.get("split", "Line"),
        },
        TransformOutput={
            "S3OutputPath": f"s3://{lab.bucket}/{kw.get('out', 'fraud/batch/output')}",
            "Accept": "text/csv",
            "AssembleWith": kw.get("assemble", "Line"),
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **({"DataProcessing": dp} if dp else {}),
    )
    try:
        sm.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )
    except WaiterError:
        pass  # a job that fails is a state under test
    return name


def test_batch_passes_then_wrong_settings_miss(lab: Any) -> None:
    hosted(lab)
    src = nightly(lab)
    out = f"s3://{lab.bucket}/fraud/batch/output"

    def judge(job: str, where: str = out) -> str:
        return outcome(c.verify_batch, lab, job, src, where)

    good = transform(lab, "good")
    assert judge(good) == "PASS"
    assert c.verify_batch(lab, good, src, out).startswith("60 lines = input line + score")
    # alternative: one record per request, the whole joined record kept without OutputFilter,
    # the input filter as a closed slice of the 4 feature columns, paths written without the trailing slash
    alt = transform(
        lab,
        "alt",
        strategy="SingleRecord",
        out="fraud/batch/alt",
        dp={"InputFilter": "$[1:5]", "JoinSource": "Input"},
    )
    assert (
        outcome(c.verify_batch, lab, alt, src.rstrip("/"), f"s3://{lab.bucket}/fraud/batch/alt")
        == "PASS"
    )
    # wrong: the stated output path
    assert "the text asks for" in judge(good, f"s3://{lab.bucket}/fraud/batch/out")
    # wrong: no join (scores only)
    nojoin = transform(lab, "nojoin", out="fraud/batch/nojoin", dp={"InputFilter": "$[1:]"})
    assert "JoinSource is None" in judge(nojoin, f"s3://{lab.bucket}/fraud/batch/nojoin")
    # wrong: records not reassembled by line
    glued = transform(lab, "glued", out="fraud/batch/glued", assemble="None")
    assert "AssembleWith is None" in judge(glued, f"s3://{lab.bucket}/fraud/batch/glued")
    # wrong: the model sees the card id too (no input filter): the job fails or scores differ
    seen = transform(lab, "seen", out="fraud/batch/seen", dp={"JoinSource": "Input"})
    got = judge(seen, f"s3://{lab.bucket}/fraud/batch/seen")
    assert "is Failed" in got or "differ from what fraud-v1's artifact scores" in got


def test_batch_output_written_by_the_notebook_misses(lab: Any) -> None:
    hosted(lab)
    src = nightly(lab, rows=30)
    out = f"s3://{lab.bucket}/fraud/batch/output"
    job = transform(lab, "nightly")
    assert outcome(c.verify_batch, lab, job, src, out) == "PASS"
    s3 = lab.client("s3")
    key = "fraud/batch/output/accounts.csv.out"
    written = s3.get_object(Bucket=lab.bucket, Key=key)["Body"].read()
    # fake: the notebook writes the joined file itself (here the job's own bytes, later)
    time.sleep(c.CLOCK_SLACK + 1)
    s3.put_object(Bucket=lab.bucket, Key=key, Body=written)
    assert "outside the job's run" in outcome(c.verify_batch, lab, job, src, out)


def test_batch_scores_not_from_the_model_miss(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    hosted(lab)
    src = nightly(lab, rows=30)
    out = f"s3://{lab.bucket}/fraud/batch/output"
    job = transform(lab, "nightly")
    s3 = lab.client("s3")
    key = "fraud/batch/output/accounts.csv.out"
    lines = s3.get_object(Bucket=lab.bucket, Key=key)["Body"].read().decode().splitlines()
    forged = [ln.rsplit(",", 1)[0] + ",0.5" for ln in lines]
    s3.put_object(Bucket=lab.bucket, Key=key, Body="\n".join(forged).encode())
    monkeypatch.setattr(c, "CLOCK_SLACK", 3600.0)  # judge the content alone
    assert "sampled scores" in outcome(c.verify_batch, lab, job, src, out)


# --------------------------------------------------------------------------- drill
def test_drill_repaired_endpoint_passes_copied_artifact_and_wrong_repairs_miss(lab: Any) -> None:
    image, art = hosted(lab)
    sm = lab.client("sagemaker")
    job = lab.job_name("host")
    typed = f"s3://{lab.bucket}/fraud/models/{job}/model.tar.gz"

    def model(name: str, url: str) -> str:
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=lab.role_arn,
            PrimaryContainer={"Image": image, "ModelDataUrl": url},
        )
        return name

    def judge() -> str:
        return outcome(c.verify_drill, lab, "fraud-staging", job, SCORED)

    def redeploy(config: str, variants: list[dict[str, Any]] | None = None) -> None:
        sm.delete_endpoint(EndpointName="fraud-staging")
        sm.get_waiter("endpoint_deleted").wait(
            EndpointName="fraud-staging", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        if variants is not None:
            sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=variants)
        sm.create_endpoint(EndpointName="fraud-staging", EndpointConfigName=config)
        try:
            wait_in_service(lab, "fraud-staging")
        except Exception:  # noqa: BLE001 - a Failed endpoint is a state under test
            pass

    # the colleague's deployment: the typed path does not exist, the endpoint fails
    sm.create_endpoint_config(
        EndpointConfigName="colleague", ProductionVariants=instance(model("typed", typed))
    )
    sm.create_endpoint(EndpointName="fraud-staging", EndpointConfigName="colleague")
    try:
        wait_in_service(lab, "fraud-staging")
    except Exception:  # noqa: BLE001 - the waiter raises on Failed
        pass
    # wrong: left as it is
    assert "fraud-staging is Failed" in judge()
    # fake: v1's artifact copied by hand to the typed path, the colleague's config reused
    copy_artifact(lab, art, typed.split("/", 3)[3])
    redeploy("colleague")
    assert "a copy of the artifact placed by hand is not the fix" in judge()
    # wrong: repaired on a bigger instance
    redeploy("big", instance(model("fixed", art), "ml.m5.large"))
    assert "one ml.t2.medium instance, as before" in judge()
    # wrong: repaired with another job's artifact
    other = tiny_job(lab, lab.job_name("other"), "2")
    other_art = sm.describe_training_job(TrainingJobName=other)["ModelArtifacts"][
        "S3ModelArtifacts"
    ]
    redeploy("other", instance(model("other", other_art)))
    assert f"not {job}'s artifact" in judge()
    # the fix: a new model on the job's artifact, a new config
    redeploy("fixed", instance("fixed"))
    assert judge() == "PASS"
    # alternative: the existing fraud-v1 model (same artifact) in a config of its own
    redeploy("v1", instance("fraud-v1"))
    assert judge() == "PASS"


# --------------------------------------------------------------------------- pipeline
PREPROCESS = """
import pandas as pd
df = pd.read_csv("/opt/ml/processing/input/raw/transactions.csv")
features = ["amount", "hour", "distance_from_home", "online", "card_present", "velocity_1h",
            "velocity_24h", "amount_vs_avg"]
df = df[["is_fraud"] + features]
cut = int(len(df) * 0.75)
df.iloc[:cut].to_csv("/opt/ml/processing/train/train.csv", header=False, index=False)
df.iloc[cut:].to_csv("/opt/ml/processing/validation/validation.csv", header=False, index=False)
"""
EVALUATE = """
import json, tarfile
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score
with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
    raw_model = tar.extractfile("xgboost-model").read()
booster = xgb.Booster()
booster.load_model(bytearray(raw_model))
val = pd.read_csv("/opt/ml/processing/validation/validation.csv", header=None)
auc = roc_auc_score(val[0], booster.predict(xgb.DMatrix(val.iloc[:, 1:].to_numpy())))
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as f:
    json.dump({"metrics": {"auc": {"value": auc}}}, f)
"""
AUC = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
        "Path": "metrics.auc.value",
    }
}
MIN_AUC = {"Get": "Parameters.MinAuc"}


def retrain_definition(lab: Any, raw_uri: str) -> dict[str, Any]:
    """The notebook's pipeline, on a small sample: Preprocess, Train, Evaluate, CheckAUC gating
    Register (PendingManualApproval, the evaluation as model quality) with a Fail otherwise."""
    from sagemaker.core import image_uris

    image = image_uris.retrieve("xgboost", region=lab.region, version="1.7-1")
    base = f"s3://{lab.bucket}/fraud/pipeline"

    def out_of(step: str, name: str) -> dict[str, Any]:
        return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"}

    def inp(name: str, uri: Any) -> dict[str, Any]:
        local = f"/opt/ml/processing/input/{name}" if name in ("raw", "code") else None
        return {
            "InputName": name,
            "S3Input": {
                "S3Uri": uri,
                "LocalPath": local or f"/opt/ml/processing/{name}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }

    def out(name: str) -> dict[str, Any]:
        where = {
            "Std:Join": {
                "On": "/",
                "Values": [f"{base}/runs", {"Get": "Execution.PipelineExecutionId"}, name],
            }
        }
        return {
            "OutputName": name,
            "S3Output": {
                "LocalPath": f"/opt/ml/processing/{name}",
                "S3UploadMode": "EndOfJob",
                "S3Uri": where,
            },
        }

    def processing(script: str, inputs: list[Any], outputs: list[str]) -> dict[str, Any]:
        return {
            "RoleArn": lab.role_arn,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 5,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "AppSpecification": {
                "ImageUri": image,
                "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
            },
            "ProcessingInputs": [inp("code", f"{base}/code/{script}"), *inputs],
            "ProcessingOutputConfig": {"Outputs": [out(o) for o in outputs]},
        }

    def channel(name: str) -> dict[str, Any]:
        src = {"S3DataType": "S3Prefix", "S3Uri": out_of("Preprocess", name)}
        return {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": src}}

    artifact = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": "fraud-models",
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": image, "ModelDataUrl": artifact}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": {
                            "Std:Join": {
                                "On": "/",
                                "Values": [out_of("Evaluate", "evaluation"), "evaluation.json"],
                            }
                        },
                    }
                }
            },
        },
    }
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "RawData", "Type": "String", "DefaultValue": raw_uri},
            {"Name": "MinAuc", "Type": "Float", "DefaultValue": 0.75},
        ],
        "Steps": [
            {
                "Name": "Preprocess",
                "Type": "Processing",
                "Arguments": processing(
                    "preprocess.py",
                    [inp("raw", {"Get": "Parameters.RawData"})],
                    ["train", "validation"],
                ),
            },
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
                    "RoleArn": lab.role_arn,
                    "HyperParameters": {
                        "objective": "binary:logistic",
                        "eval_metric": "auc",
                        "num_round": "10",
                        "max_depth": "3",
                    },
                    "InputDataConfig": [channel("train"), channel("validation")],
                    "OutputDataConfig": {"S3OutputPath": f"{base}/models"},
                    "ResourceConfig": {
                        "InstanceType": "ml.m5.large",
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 5,
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
                },
            },
            {
                "Name": "Evaluate",
                "Type": "Processing",
                "Arguments": processing(
                    "evaluate.py",
                    [inp("model", artifact), inp("validation", out_of("Preprocess", "validation"))],
                    ["evaluation"],
                ),
                "PropertyFiles": [
                    {
                        "PropertyFileName": "EvaluationReport",
                        "OutputName": "evaluation",
                        "FilePath": "evaluation.json",
                    }
                ],
            },
            {
                "Name": "CheckAUC",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {"Type": "GreaterThanOrEqualTo", "LeftValue": AUC, "RightValue": MIN_AUC}
                    ],
                    "IfSteps": [register],
                    "ElseSteps": [
                        {
                            "Name": "AucTooLow",
                            "Type": "Fail",
                            "Arguments": {"ErrorMessage": "low AUC"},
                        }
                    ],
                },
            },
        ],
    }


def retrain(lab: Any, name: str = "fraud-retrain", run: bool = True, **params: float) -> str:
    """Create (once) the role, group, data and pipeline ``name``; start and wait for a run."""
    from mllab.datasets import card_transactions

    sm, s3, iam = lab.client("sagemaker"), lab.client("s3"), lab.client("iam")
    raw_uri = f"s3://{lab.bucket}/fraud/pipeline/raw/transactions.csv"
    if not sm.list_model_package_groups(NameContains="fraud-models")[
        "ModelPackageGroupSummaryList"
    ]:
        s3.put_object(
            Bucket=lab.bucket,
            Key="fraud/pipeline/raw/transactions.csv",
            Body=card_transactions(3200, seed=4, fraud_rate=0.02).to_csv(index=False).encode(),
        )
        for script, text in (("preprocess.py", PREPROCESS), ("evaluate.py", EVALUATE)):
            s3.put_object(
                Bucket=lab.bucket, Key=f"fraud/pipeline/code/{script}", Body=text.encode()
            )
        sm.create_model_package_group(ModelPackageGroupName="fraud-models")
        pipeline_role(lab, [jobs_statement(lab), pass_role(lab.role_arn)], "fraud-pipeline-role")
    names = [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]]
    if name not in names:
        sm.create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps(retrain_definition(lab, raw_uri)),
            RoleArn=iam.get_role(RoleName="fraud-pipeline-role")["Role"]["Arn"],
        )
    if run:
        given = [{"Name": k, "Value": str(v)} for k, v in params.items()]
        arn = sm.start_pipeline_execution(
            PipelineName=name, **({"PipelineParameters": given} if given else {})
        )["PipelineExecutionArn"]
        while sm.describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ] in (
            "Executing",
            "Stopping",
        ):
            time.sleep(0.2)
    return raw_uri


class View:
    """The lab as a check sees it, with some SageMaker answers changed: wrong states derived from
    one real pipeline run without running the pipeline again."""

    def __init__(self, lab: Any, **changes: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._lab, self._changes = lab, changes

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._lab, attr)

    def client(self, service: str) -> Any:
        real, changes = self._lab.client(service), self._changes

        class Client:
            def __getattr__(self, op: str) -> Any:
                fn = getattr(real, op)
                if service != "sagemaker" or op not in changes:
                    return fn
                return lambda **kw: changes[op](copy.deepcopy(fn(**kw)))

        return Client()


def redefined(lab: Any, change: Callable[[dict[str, Any]], None]) -> View:
    """``lab`` whose DescribePipeline answers the definition ``change`` edits in place."""

    def answer(d: dict[str, Any]) -> dict[str, Any]:
        definition = json.loads(d["PipelineDefinition"])
        change(definition)
        return {**d, "PipelineDefinition": json.dumps(definition)}

    return View(lab, describe_pipeline=answer)


def gate(d: dict[str, Any]) -> dict[str, Any]:
    return dict(d["Steps"][3]["Arguments"])


def set_gate(conditions: list[Any], swap: bool = False) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        a = d["Steps"][3]["Arguments"]
        a["Conditions"] = conditions
        if swap:
            a["IfSteps"], a["ElseSteps"] = a["ElseSteps"], a["IfSteps"]

    return change


def test_pipeline_gated_registration_passes_then_wrong_and_faked_states_miss(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sm = lab.client("sagemaker")
    raw = retrain(lab)  # one real run: Preprocess, Train, Evaluate, CheckAUC, Register

    def judge(view: Any = lab, **kw: Any) -> str:
        return outcome(c.verify_pipeline, view, raw, **kw)

    assert judge() == "PASS", judge()
    assert c.verify_pipeline(lab, raw).startswith("5 steps Succeeded")
    # alternatives: the same gate written three other ways
    for conditions, swap in (
        (
            [
                {
                    "Type": "Not",
                    "Expression": {"Type": "LessThan", "LeftValue": AUC, "RightValue": MIN_AUC},
                }
            ],
            False,
        ),
        ([{"Type": "LessThanOrEqualTo", "LeftValue": MIN_AUC, "RightValue": AUC}], False),
        ([{"Type": "LessThan", "LeftValue": AUC, "RightValue": MIN_AUC}], True),
    ):
        assert judge(redefined(lab, set_gate(conditions, swap))) == "PASS", conditions

    # wrong definitions: each stated detail of the gate
    def drop_default(d: dict[str, Any]) -> None:
        d["Parameters"][1]["DefaultValue"] = 0.5

    def register_on_top(d: dict[str, Any]) -> None:
        d["Steps"].append(d["Steps"][3]["Arguments"].pop("IfSteps")[0])
        d["Steps"][3]["Arguments"]["IfSteps"] = []

    def no_fail(d: dict[str, Any]) -> None:
        d["Steps"][3]["Arguments"]["ElseSteps"] = []

    def train_auc(d: dict[str, Any]) -> None:
        left = {"Get": "Steps.Train.FinalMetricDataList['validation:auc'].Value"}
        d["Steps"][3]["Arguments"]["Conditions"][0]["LeftValue"] = left

    for change, needle in (
        (
            set_gate([{"Type": "GreaterThan", "LeftValue": AUC, "RightValue": MIN_AUC}]),
            "with AUC 0.75 and MinAuc 0.75 CheckAUC does not register",
        ),
        (
            set_gate([{"Type": "GreaterThanOrEqualTo", "LeftValue": AUC, "RightValue": 0.75}]),
            "with AUC 0.85 and MinAuc 0.9 CheckAUC registers",
        ),
        (train_auc, 'CheckAUC compares {"Get": "Steps.Train.FinalMetricDataList'),
        (drop_default, "with DefaultValue 0.75"),
        (register_on_top, "Register is a top-level step"),
        (no_fail, "without a Fail step"),
    ):
        got = judge(redefined(lab, change))
        assert needle in got, (needle, got)
    # wrong: run with the gate lowered
    lowered = View(
        lab,
        list_pipeline_parameters_for_execution=lambda d: {
            "PipelineParameters": [{"Name": "MinAuc", "Value": "0.5"}]
        },
    )
    assert "ran with MinAuc 0.5" in judge(lowered)

    # wrong: a pipeline with every step that was never executed
    retrain(lab, name="fraud-retrain-draft", run=False)
    assert "fraud-retrain-draft has no execution" in judge(name="fraud-retrain-draft")

    # fake: the pipeline's version approved by hand, a pending version registered by hand after
    # it (the latest of the group looks right; the one the Register step registered does not)
    runs = sm.list_pipeline_executions(PipelineName="fraud-retrain")["PipelineExecutionSummaries"]
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=runs[0]["PipelineExecutionArn"])
    pkg = next(
        s["Metadata"]["RegisterModel"]["Arn"]
        for s in steps["PipelineExecutionSteps"]
        if s["StepName"] == "Register"
    )
    d = sm.describe_model_package(ModelPackageName=pkg)
    sm.update_model_package(ModelPackageArn=pkg, ModelApprovalStatus="Approved")
    sm.create_model_package(
        ModelPackageGroupName="fraud-models",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification=d["InferenceSpecification"],
        ModelMetrics=d["ModelMetrics"],
    )
    assert f"the version the Register step registered ({pkg}) is Approved" in judge()
    sm.update_model_package(ModelPackageArn=pkg, ModelApprovalStatus="PendingManualApproval")
    assert judge() == "PASS"

    # fake: evaluation.json rewritten after the Evaluate job (a better AUC typed in)
    uri = d["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    monkeypatch.setattr(c, "CLOCK_SLACK", 1.0)
    time.sleep(2.5)
    lab.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps({"metrics": {"auc": {"value": 0.99}}}).encode()
    )
    assert "outside the Evaluate job's run" in judge()

    # wrong: the definition changed after the run (UpdatePipeline moves LastModifiedTime)
    sm = lab.client("sagemaker")
    current = sm.describe_pipeline(PipelineName="fraud-retrain")["PipelineDefinition"]
    sm.update_pipeline(PipelineName="fraud-retrain", PipelineDefinition=current)
    assert "after its latest execution started" in judge()

    # wrong: the latest execution failed (the gate at 0.99: the Fail step ends the run)
    retrain(lab, MinAuc=0.99)
    got = judge()
    assert "the latest execution of fraud-retrain is Failed: low AUC" in got, got
