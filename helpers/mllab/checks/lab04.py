"""The checks of lab 04 (ML operations), as functions the notebook's check cells call.

Each function takes the open :class:`~mllab.checks.core.Requirement` (``req``), the lab and
what the requirement names, reads the real state through the lab session and calls
``req.expect``. What a learner could type by hand is never the truth: the A/B split is read
from CloudWatch's ``AWS/SageMaker`` metrics (offline CloudWatch refuses ``PutMetricData`` into
``AWS/`` namespaces, as AWS does) and from the endpoint's own data capture, a sample of which
is rescored against the variant that served it; drift is recomputed from the captured
requests and the baseline data; the pipeline role is evaluated with
``SimulatePrincipalPolicy``; experiment runs are compared with the training jobs they
describe; teardown looks up each resource this run created by its id or the run's tag.
The serverless endpoint, the batch transform's output and the repaired staging endpoint are
judged by ``verify_*`` functions that return the PASS note: their answers and output lines are
rescored locally with the training job's own artifact, and the batch output must have been
written while the job ran. The retraining pipeline (``verify_pipeline``) is judged from its
definition (the gate evaluated on a few AUC/MinAuc values), its latest execution, the steps'
jobs and the model package its Register step registered, never from what the group's latest
version looks like.
Kept apart from the notebook so ``tests/checks/test_lab04_checks.py`` can give each check
prepared wrong and alternative states. Every call is read-only; the rescoring sends a few
real-time requests (cents on AWS, free offline).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from mllab.checks.core import need as _need
from mllab.checks.inspect import endpoint, s3_objects


# --------------------------------------------------------------------------- captures
@dataclass
class Captured:
    """One request the endpoint captured: the variant, the CSV it received, what it answered."""

    variant: str
    body: str
    answer: str
    when: str


def read_captures(lab: Any, capture_uri: str, endpoint_name: str) -> list[Captured]:
    """Every captured request of an endpoint, from SageMaker's capture files in S3.

    Args:
        lab: the open lab.
        capture_uri: the config's ``DataCaptureConfig.DestinationS3Uri``.
        endpoint_name: the endpoint.

    Returns:
        The records, oldest file first (``<dest>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``).
        Costs S3 GETs.
    """
    import base64

    bucket, _, prefix = capture_uri.removeprefix("s3://").partition("/")
    prefix = f"{prefix.rstrip('/')}/{endpoint_name}/"
    objs = s3_objects(lab, prefix, bucket)
    out: list[Captured] = []
    for key in sorted(k for k in objs.keys if k.endswith(".jsonl")):
        variant = key[len(prefix) :].split("/", 1)[0]
        for line in objs.read(lab, key).decode("utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            data = rec.get("captureData", {})

            def text(part: dict[str, Any]) -> str:
                raw = str(part.get("data", ""))
                if part.get("encoding") == "BASE64":
                    return base64.b64decode(raw).decode("utf-8", "replace")
                return raw

            out.append(
                Captured(
                    variant,
                    text(data.get("endpointInput", {})),
                    text(data.get("endpointOutput", {})),
                    str(rec.get("eventMetadata", {}).get("inferenceTime", "")),
                )
            )
    return out


def invocations(lab: Any, endpoint_name: str, variant: str, hours: float = 2.0) -> int:
    """Sum of the ``AWS/SageMaker`` ``Invocations`` metric of one variant. Free."""
    now = dt.datetime.now(dt.UTC)
    points = lab.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Statistics=["Sum"],
        Period=60,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint_name},
            {"Name": "VariantName", "Value": variant},
        ],
        StartTime=now - dt.timedelta(hours=hours),
        EndTime=now + dt.timedelta(minutes=1),
    )["Datapoints"]
    return int(sum(p["Sum"] for p in points))


# --------------------------------------------------------------------------- requirement 1
def check_security(
    req: Any,
    lab: Any,
    job_name: str,
    role_name: str = "fraud-exec-role",
    model_name: str = "fraud-v2",
    prefix: str = "fraud",
) -> None:
    """Requirement 1: least-privilege role (evaluated with SimulatePrincipalPolicy), a
    customer-managed key on volume and output, two private subnets in two AZs with an S3
    gateway endpoint and a closed security group, network isolation on job and model.

    Args:
        req: the open requirement.
        lab: the open lab.
        job_name: the challenger's training job (``JOB_V2``).
        role_name: the execution role the text names.
        model_name: the SageMaker model built from the job.
        prefix: the only S3 prefix the role may reach.
    """
    from mllab.checks.inspect import iam_policy, training_job

    iam, kms, ec2, sm = (lab.client(s) for s in ("iam", "kms", "ec2", "sagemaker"))
    PREFIX, JOB_V2 = prefix, job_name  # noqa: N806 - the notebook's names
    role = iam_policy(lab, role_name)
    req.expect(
        "sagemaker.amazonaws.com" in role.trusted,
        f"fraud-exec-role trusts {role.trusted}, not sagemaker.amazonaws.com",
    )
    req.expect(
        not role.wildcard_actions,
        f"the policy allows wildcard actions {role.wildcard_actions}: list each action",
    )
    for doc in role.documents.values():
        for st in doc.get("Statement", []):
            acts = [st["Action"]] if isinstance(st.get("Action"), str) else st.get("Action", [])
            res = (
                [st["Resource"]] if isinstance(st.get("Resource"), str) else st.get("Resource", [])
            )
            if any(a.lower().startswith("s3:") for a in acts):
                req.expect(
                    all(r.startswith(f"arn:aws:s3:::{lab.bucket}") for r in res),
                    f"statement {st.get('Sid', '')} grants S3 on {res}: only the lab bucket is allowed",
                )
    role_arn_of_exec = iam.get_role(RoleName=role_name)["Role"]["Arn"]

    def sim(actions, resource):
        # IAM's verdict per action for fraud-exec-role on one resource
        found = iam.simulate_principal_policy(
            PolicySourceArn=role_arn_of_exec, ActionNames=actions, ResourceArns=[resource]
        )["EvaluationResults"]
        return {r["EvalActionName"]: r["EvalDecision"] for r in found}

    inside = sim(
        ["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{lab.bucket}/{PREFIX}/data/train/train.csv"
    )
    req.expect(
        set(inside.values()) == {"allowed"},
        f"SimulatePrincipalPolicy on objects under {PREFIX}/: {inside}",
    )
    for outside in (
        f"arn:aws:s3:::{lab.bucket}/notes/secret.txt",
        "arn:aws:s3:::some-other-bucket/data.csv",
    ):
        got = sim(["s3:GetObject", "s3:PutObject"], outside)
        req.expect("allowed" not in got.values(), f"the role may read or write {outside}: {got}")
    got = sim(
        ["s3:DeleteBucket", "s3:PutBucketPolicy", "iam:PassRole", "sagemaker:CreateEndpoint"], "*"
    )
    req.expect("allowed" not in got.values(), f"the role allows more than a job needs: {got}")

    job = training_job(lab, JOB_V2)
    req.expect(job.status == "Completed", f"{JOB_V2} is {job.status}: {job.failure_reason}")
    req.expect(
        job.raw["RoleArn"] == role_arn_of_exec,
        f"{JOB_V2} runs as {job.raw['RoleArn']}, not fraud-exec-role",
    )
    for where, key_id in (
        ("ResourceConfig.VolumeKmsKeyId", job.raw["ResourceConfig"].get("VolumeKmsKeyId")),
        ("OutputDataConfig.KmsKeyId", job.raw["OutputDataConfig"].get("KmsKeyId")),
    ):
        req.expect(
            bool(key_id), f"{JOB_V2} has no {where}: the audit wants a customer-managed key there"
        )
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        req.expect(
            meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] == "Enabled",
            f"{where} is {meta['KeyManager']}-managed and {meta['KeyState']}: create your own key",
        )
    req.expect(
        job.raw.get("EnableNetworkIsolation") is True,
        f"{JOB_V2} runs without EnableNetworkIsolation",
    )
    vpc_cfg = job.raw.get("VpcConfig") or {}
    req.expect(
        len(vpc_cfg.get("Subnets", [])) >= 2 and vpc_cfg.get("SecurityGroupIds"),
        f"{JOB_V2} VpcConfig is {vpc_cfg}: two subnets and a security group",
    )
    subnets = ec2.describe_subnets(SubnetIds=vpc_cfg["Subnets"])["Subnets"]
    vpcs = {s["VpcId"] for s in subnets}
    req.expect(
        len({s["AvailabilityZone"] for s in subnets}) >= 2,
        "put the two subnets in two Availability Zones",
    )
    routes = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": list(vpcs)}])[
        "RouteTables"
    ]
    to_internet = [
        r
        for t in routes
        for r in t["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0" or r.get("NatGatewayId")
    ]
    req.expect(not to_internet, f"the subnets have a route to the internet: {to_internet}")
    s3_endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": list(vpcs)}])[
        "VpcEndpoints"
    ]
    req.expect(
        any(e["ServiceName"].endswith(".s3") for e in s3_endpoints),
        "the VPC has no S3 VPC endpoint: with no internet the job cannot reach its data",
    )
    groups = ec2.describe_security_groups(GroupIds=vpc_cfg["SecurityGroupIds"])["SecurityGroups"]
    req.expect(
        not any(g["IpPermissions"] for g in groups), "the security group admits inbound traffic"
    )

    model = sm.describe_model(ModelName=model_name)
    req.expect(
        model["ExecutionRoleArn"] == role_arn_of_exec, "model fraud-v2 must run as fraud-exec-role"
    )
    req.expect(
        set((model.get("VpcConfig") or {}).get("Subnets", [])) == set(vpc_cfg["Subnets"]),
        "model fraud-v2 is not in the job's private subnets (VpcConfig)",
    )
    req.expect(
        model.get("EnableNetworkIsolation") is True,
        "model fraud-v2 has no EnableNetworkIsolation: set it on CreateModel",
    )
    req.note(
        f"role: {len(role.actions)} actions, no wildcards; KMS on volume and output; "
        f"VPC {sorted(vpcs)[0]} with 2 private subnets, S3 endpoint, isolated; v2 metrics {job.metrics}"
    )


# --------------------------------------------------------------------------- requirement 2
def check_realtime(
    req: Any,
    lab: Any,
    capture_uri: str,
    name: str = "fraud-checkout",
    min_requests: int = 300,
    wait_s: float = 0.0,
    rescore: int = 8,
) -> None:
    """Requirement 2: two variants 90/10, KMS, 100% capture of input and output, scaling, traffic.

    Args:
        req: the open requirement.
        lab: the open lab.
        capture_uri: where the text says the captures go.
        name: the endpoint.
        min_requests: the traffic the text asks for.
        wait_s: how long to wait for CloudWatch (AWS lags a minute or two; 0 offline).
        rescore: how many captured requests to send again to the variant that served them.
    """
    sm = lab.client("sagemaker")
    aas = lab.client("application-autoscaling")
    ep = endpoint(lab, name)
    req.expect(ep.status == "InService", f"{name} is {ep.status}: {ep.failure_reason}")
    by = {v.name: v for v in ep.variants}
    req.expect(set(by) == {"v1", "v2"}, f"the variants are {sorted(by)}; name them v1 and v2")
    req.expect(
        by["v1"].model == "fraud-v1" and by["v2"].model == "fraud-v2",
        f"v1 serves {by['v1'].model}, v2 serves {by['v2'].model}: v1 serves fraud-v1, v2 fraud-v2",
    )
    w = ep.weights()
    req.expect(
        abs(w["v2"] - 0.1) < 1e-6,
        f"v2 gets {w['v2']:.0%} of the traffic; the A/B test gives it 10%",
    )
    for v in ep.variants:
        req.expect(
            v.instance_type == "ml.t2.medium" and v.instance_count == 1,
            f"{v.name} runs {v.instance_count} x {v.instance_type}; start with one ml.t2.medium",
        )
    cfg = sm.describe_endpoint_config(EndpointConfigName=ep.config)
    req.expect(
        bool(cfg.get("KmsKeyId")),
        "the endpoint config has no KmsKeyId for the instances' storage",
    )
    cap = cfg.get("DataCaptureConfig") or {}
    req.expect(
        cap.get("EnableCapture") is True,
        "the endpoint config does not capture: DataCaptureConfig.EnableCapture",
    )
    req.expect(
        cap.get("InitialSamplingPercentage") == 100,
        f"InitialSamplingPercentage is {cap.get('InitialSamplingPercentage')}; the text asks for "
        "100% of the requests (drift is computed on what was captured)",
    )
    modes = {o.get("CaptureMode") for o in cap.get("CaptureOptions", [])}
    req.expect(
        modes == {"Input", "Output"},
        f"CaptureOptions capture {sorted(m for m in modes if m)}; capture both Input and Output",
    )
    dest = str(cap.get("DestinationS3Uri", "")).rstrip("/")
    req.expect(
        dest == capture_uri.rstrip("/"),
        f"captures go to {dest or 'nowhere'}; the text asks for {capture_uri}",
    )
    rid = f"endpoint/{name}/variant/v1"
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    req.expect(
        len(targets) == 1,
        "v1 is not a scalable target: application-autoscaling register_scalable_target",
    )
    req.expect(
        targets[0]["MinCapacity"] == 1 and targets[0]["MaxCapacity"] >= 2,
        f"v1 scales {targets[0]['MinCapacity']}..{targets[0]['MaxCapacity']}; allow 1..2",
    )
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)[
        "ScalingPolicies"
    ]
    tracking = [
        p["TargetTrackingScalingPolicyConfiguration"]
        for p in policies
        if p["PolicyType"] == "TargetTrackingScaling"
    ]
    req.expect(bool(tracking), "v1 has no TargetTrackingScaling policy")
    spec = tracking[0].get("PredefinedMetricSpecification", {})
    req.expect(
        spec.get("PredefinedMetricType") == "SageMakerVariantInvocationsPerInstance",
        f"the policy tracks {spec.get('PredefinedMetricType') or 'a custom metric'}; "
        "track SageMakerVariantInvocationsPerInstance",
    )
    req.expect(
        abs(float(tracking[0].get("TargetValue", 0)) - 600) < 1e-6,
        f"the target is {tracking[0].get('TargetValue')} invocations per instance per minute; the text says 600",
    )
    deadline = time.time() + wait_s
    while True:
        counts = {v: invocations(lab, name, v) for v in ("v1", "v2")}
        n = sum(counts.values())
        if n >= min_requests or time.time() > deadline:
            break
        time.sleep(30)
    req.expect(
        n >= min_requests,
        f"CloudWatch counts {n} invocations of {name} (AWS/SageMaker Invocations); send at least {min_requests}",
    )
    sd = math.sqrt(n * 0.1 * 0.9)
    req.expect(
        abs(counts["v2"] - 0.1 * n) <= 4 * sd,
        f"v2 served {counts['v2']} of {n} requests; a 10% split gives {0.1 * n:.0f} +/- {4 * sd:.0f}: "
        "send without TargetVariant so the weights decide",
    )
    captured = read_captures(lab, capture_uri, name)
    per_variant = {v: sum(c.variant == v for c in captured) for v in ("v1", "v2")}
    req.expect(
        len(captured) >= min_requests,
        f"{len(captured)} captured requests under {capture_uri}/{name}/; with 100% sampling every "
        f"one of the {n} requests is captured (on AWS the files appear a few minutes later)",
    )
    runtime = lab.client("sagemaker-runtime")
    idx = np.random.default_rng(0).choice(
        len(captured), size=min(rescore, len(captured)), replace=False
    )
    off = []
    for i in idx:
        c = captured[int(i)]
        again = (
            runtime.invoke_endpoint(
                EndpointName=name, TargetVariant=c.variant, ContentType="text/csv", Body=c.body
            )["Body"]
            .read()
            .decode()
        )
        if abs(float(again) - float(c.answer)) > 1e-4:
            off.append((c.variant, c.body[:40], c.answer, again))
    req.expect(
        not off,
        f"{len(off)} captured answers differ from what their variant answers now: {off[:2]}",
    )
    req.note(
        f"CloudWatch Invocations v1={counts['v1']}, v2={counts['v2']} ({counts['v2'] / n:.1%} on v2); "
        f"{len(captured)} captured ({per_variant}), {len(idx)} rescored alike; target tracking at "
        f"{tracking[0]['TargetValue']:.0f}/instance/minute, 1..{targets[0]['MaxCapacity']} instances"
    )


# --------------------------------------------------------------------------- requirement 3
def psi(expected: Any, actual: Any, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (lab 04's definition).

    Bins: ``bins`` intervals cut at the expected sample's quantiles (``numpy.quantile`` at
    0, 1/bins, ..., 1, duplicate edges dropped), the outer edges opened to -inf/+inf; each
    share floored at 0.0001. PSI = sum((a - e) * ln(a / e)).
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    pe = np.histogram(e, edges)[0] / len(e)
    pa = np.histogram(a, edges)[0] / len(a)
    pe, pa = np.clip(pe, 1e-4, None), np.clip(pa, 1e-4, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def drift_truth(
    baseline: Any, captured: Sequence[Captured], features: Sequence[str]
) -> dict[str, dict[str, float]]:
    """PSI and the two-sample KS statistic per feature: captured requests vs the baseline.

    Args:
        baseline: a DataFrame with the feature columns (the training features).
        captured: the endpoint's captured requests (CSV rows of ``features``, in order).
        features: the column names, in the order checkout sends them.

    Returns:
        ``{feature: {"psi": ..., "ks": ...}}``.
    """
    from scipy.stats import ks_2samp

    rows = np.loadtxt(io.StringIO("\n".join(c.body for c in captured)), delimiter=",", ndmin=2)
    out = {}
    for i, f in enumerate(features):
        base = baseline[f].to_numpy(dtype=float)
        out[f] = {"psi": psi(base, rows[:, i]), "ks": float(ks_2samp(base, rows[:, i]).statistic)}
    return out


def check_drift(
    req: Any,
    lab: Any,
    job_name: str,
    capture_uri: str,
    baseline: Any,
    features: Sequence[str],
    report_uri: str,
    alarm_name: str = "fraud-amount-drift",
    endpoint_name: str = "fraud-checkout",
    threshold: float = 0.1,
) -> None:
    """Requirement 3: drift computed by a processing job, published to CloudWatch, alarmed on.

    The report the job wrote is compared with PSI/KS recomputed here from the endpoint's
    captures and the baseline; the published metric must equal the report's PSI of
    ``amount``; the alarm must watch that metric (namespace, name, every dimension) and be
    set to fire on it within the hour.
    """
    sm = lab.client("sagemaker")
    cw = lab.client("cloudwatch")
    try:
        job = sm.describe_processing_job(ProcessingJobName=job_name)
    except ClientError:
        req.expect(False, f"no processing job {job_name}: run the drift script as a processing job")
        return
    req.expect(
        job["ProcessingJobStatus"] == "Completed",
        f"{job_name} is {job['ProcessingJobStatus']}: {job.get('FailureReason', '')}",
    )
    image = job["AppSpecification"]["ImageUri"]
    req.expect(
        "sagemaker-scikit-learn" in image,
        f"{job_name} runs {image}; run your script on the scikit-learn processing image",
    )
    inputs = [
        i["S3Input"]["S3Uri"].rstrip("/") for i in job.get("ProcessingInputs", []) if "S3Input" in i
    ]
    req.expect(
        any(
            u.startswith(f"{capture_uri.rstrip('/')}/{endpoint_name}")
            or u == capture_uri.rstrip("/")
            for u in inputs
        ),
        f"the job reads {inputs}; give it the endpoint's captured data ({capture_uri}/{endpoint_name}/)",
    )
    outs = [o["S3Output"]["S3Uri"].rstrip("/") for o in job["ProcessingOutputConfig"]["Outputs"]]
    req.expect(
        report_uri.rstrip("/") in outs,
        f"the job writes to {outs}; the text asks for {report_uri}",
    )
    bucket, _, key = f"{report_uri.rstrip('/')}/drift.json".removeprefix("s3://").partition("/")
    s3 = lab.client("s3")
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
        report = json.loads(obj["Body"].read())
    except (ClientError, ValueError) as err:
        req.expect(False, f"no readable drift.json at {report_uri}: {err}")
        return
    started = job.get("ProcessingStartTime") or job.get("CreationTime")
    req.expect(
        started is None or obj["LastModified"] >= started - dt.timedelta(seconds=1),
        f"drift.json was written at {obj['LastModified']}, before {job_name} started: the job must write it",
    )
    captured = read_captures(lab, capture_uri, endpoint_name)
    req.expect(bool(captured), f"no captured requests under {capture_uri}/{endpoint_name}/")
    truth = drift_truth(baseline, captured, features)
    got = report.get("features", report)
    for f in features:
        r = got.get(f) if isinstance(got, dict) else None
        req.expect(
            isinstance(r, dict) and {"psi", "ks"} <= set(r),
            f"drift.json has no psi and ks for {f!r} (found {sorted(got)[:8] if isinstance(got, dict) else got!r})",
        )
        assert isinstance(r, dict)
        req.expect(
            abs(float(r["ks"]) - truth[f]["ks"]) < 1e-6,
            f"KS of {f} is {float(r['ks']):.4f}; scipy.stats.ks_2samp(baseline, captured) gives "
            f"{truth[f]['ks']:.4f} on the {len(captured)} captured requests",
        )
        req.expect(
            abs(float(r["psi"]) - truth[f]["psi"]) <= 0.02 + 0.05 * truth[f]["psi"],
            f"PSI of {f} is {float(r['psi']):.4f}; 10 bins at the baseline's deciles give "
            f"{truth[f]['psi']:.4f} on the {len(captured)} captured requests",
        )
    drifted = sorted(f for f in features if truth[f]["psi"] > threshold)
    req.expect(
        drifted == ["amount"], f"PSI > {threshold} on {drifted}: is the drifted traffic captured?"
    )
    alarms = cw.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    req.expect(bool(alarms), f"no CloudWatch alarm {alarm_name}")
    a = alarms[0]
    req.expect(
        not a["Namespace"].startswith("AWS/"),
        f"the alarm watches {a['Namespace']}: your metric lives in your own namespace",
    )
    dims = {d["Name"]: d["Value"] for d in a.get("Dimensions", [])}
    metrics = cw.list_metrics(Namespace=a["Namespace"], MetricName=a["MetricName"])["Metrics"]
    req.expect(
        bool(metrics),
        f"nothing was published as {a['Namespace']} {a['MetricName']}: put_metric_data first",
    )
    published = [{d["Name"]: d["Value"] for d in m.get("Dimensions", [])} for m in metrics]
    if dims not in published:
        missing = sorted({k for p in published for k in p} - set(dims))
        extra = sorted(set(dims) - {k for p in published for k in p})
        req.expect(
            False,
            f"the alarm's dimensions {dims} match no published series {published}"
            + (f": the alarm lacks the dimension(s) {missing}" if missing else "")
            + (f": the alarm names {extra}, which the metric does not have" if extra else "")
            + " (a metric is identified by namespace, name and every dimension)",
        )
    req.expect(
        dims.get("Feature") == "amount" or "amount" in a["MetricName"].lower(),
        f"the alarm watches {a['MetricName']} {dims}: alarm on the drift of amount",
    )
    now = dt.datetime.now(dt.UTC)
    points = cw.get_metric_statistics(
        Namespace=a["Namespace"],
        MetricName=a["MetricName"],
        Dimensions=a.get("Dimensions", []),
        StartTime=now - dt.timedelta(hours=3),
        EndTime=now + dt.timedelta(minutes=5),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    value = max((p["Maximum"] for p in points), default=None)
    req.expect(value is not None, "no datapoint of the alarm's metric in the last hours")
    assert value is not None
    req.expect(
        abs(value - truth["amount"]["psi"]) <= 0.02 + 0.05 * truth["amount"]["psi"],
        f"the published value {value:.3f} is not amount's PSI ({truth['amount']['psi']:.3f}): "
        "publish what the job computed",
    )
    req.expect(
        a["ComparisonOperator"] in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")
        and abs(a["Threshold"] - threshold) < 1e-9,
        f"the alarm fires when the metric is {a['ComparisonOperator']} {a['Threshold']}; "
        f"use > {threshold} (a PSI above 0.1 is a shift worth acting on)",
    )
    req.expect(
        a.get("Period", 0) <= 3600 and a.get("EvaluationPeriods", 99) * a.get("Period", 0) <= 3600,
        f"the alarm needs {a.get('EvaluationPeriods')} x {a.get('Period')} s: drift must alarm within the hour",
    )
    req.note(
        f"{job_name}: PSI(amount) {truth['amount']['psi']:.2f}, KS {truth['amount']['ks']:.2f} on "
        f"{len(captured)} captured requests; published {a['Namespace']} {a['MetricName']} {dims} = "
        f"{value:.2f} > {a['Threshold']}"
    )


# --------------------------------------------------------------------------- experiments
def check_experiments(
    req: Any, lab: Any, tracking_arn: str, experiment: str, jobs: dict[str, str], best: str
) -> None:
    """Requirement 4: v1 and v2 logged in MLflow on SageMaker AI, compared, the better chosen.

    Args:
        req: the open requirement.
        lab: the open lab.
        tracking_arn: the MLflow App (or tracking server) ARN, used as tracking URI.
        experiment: the experiment name.
        jobs: run name -> training job name (``{"v1": JOB_V1, "v2": JOB_V2}``).
        best: the run name the learner chose.
    """
    from mlflow import MlflowClient

    sm = lab.client("sagemaker")
    kind = "mlflow-app" if ":mlflow-app/" in tracking_arn else "mlflow-tracking-server"
    try:
        if kind == "mlflow-app":
            status = sm.describe_mlflow_app(Arn=tracking_arn)["Status"]
        else:
            status = sm.describe_mlflow_tracking_server(
                TrackingServerName=tracking_arn.rsplit("/", 1)[-1]
            )["TrackingServerStatus"]
    except ClientError as err:
        req.expect(False, f"{tracking_arn} is not an MLflow App or tracking server: {err}")
        return
    req.expect(status in ("Created", "Updated", "Started"), f"{tracking_arn} is {status}")
    client = MlflowClient(tracking_uri=tracking_arn)
    exp = client.get_experiment_by_name(experiment)
    req.expect(exp is not None, f"no MLflow experiment {experiment!r} on {tracking_arn}")
    assert exp is not None
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id], max_results=200)}
    for run_name, job_name in jobs.items():
        req.expect(
            run_name in runs, f"no run named {run_name!r} in {experiment} (runs: {sorted(runs)})"
        )
        run = runs[run_name]
        d = sm.describe_training_job(TrainingJobName=job_name)
        hp = d.get("HyperParameters", {})
        for p in ("num_round", "max_depth"):
            req.expect(
                run.data.params.get(p) == hp.get(p),
                f"run {run_name} logs {p}={run.data.params.get(p)!r}; {job_name} trained with {hp.get(p)!r}",
            )
        req.expect(
            run.data.params.get("training_job") == job_name,
            f"run {run_name} should log the param training_job={job_name!r} (found {run.data.params.get('training_job')!r})",
        )
        final = {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", [])}
        logged = run.data.metrics.get("validation_auc")
        req.expect(
            logged is not None and abs(logged - final["validation:auc"]) < 1e-6,
            f"run {run_name} logs validation_auc={logged}; {job_name} reported validation:auc "
            f"{final.get('validation:auc')} (FinalMetricDataList)",
        )
    aucs = {n: runs[n].data.metrics["validation_auc"] for n in jobs}
    top = max(aucs, key=lambda n: aucs[n])
    req.expect(
        best == top,
        f"you chose {best!r}; by validation_auc the runs rank {sorted(aucs, key=lambda n: -aucs[n])}",
    )
    req.note(
        f"{experiment} on {kind}: "
        + ", ".join(f"{n} AUC {aucs[n]:.4f}" for n in sorted(aucs))
        + f"; best {top}"
    )


# --------------------------------------------------------------------------- requirement 5
def check_async(
    req: Any,
    lab: Any,
    name: str,
    output_uri: str,
    failure_uri: str,
    statement_rows: int,
) -> None:
    """Requirement 5: async endpoint, results under the output path, failures under the failure path."""
    sm = lab.client("sagemaker")
    ep = endpoint(lab, name)
    req.expect(ep.status == "InService", f"{name} is {ep.status}: {ep.failure_reason}")
    req.expect(
        len(ep.variants) == 1
        and ep.variants[0].model == "fraud-v1"
        and ep.variants[0].instance_type == "ml.m5.large",
        f"{name} serves {[(v.model, v.instance_type) for v in ep.variants]}; one ml.m5.large serving fraud-v1",
    )
    cfg = (
        sm.describe_endpoint_config(EndpointConfigName=ep.config).get("AsyncInferenceConfig") or {}
    )
    oc = cfg.get("OutputConfig", {})
    out_path = str(oc.get("S3OutputPath", "")).rstrip("/")
    fail_path = str(oc.get("S3FailurePath", "")).rstrip("/")
    req.expect(
        out_path == output_uri.rstrip("/"),
        f"AsyncInferenceConfig.OutputConfig.S3OutputPath is {out_path!r}; the text asks for {output_uri}",
    )
    req.expect(
        fail_path == failure_uri.rstrip("/"),
        f"AsyncInferenceConfig.OutputConfig.S3FailurePath is {fail_path or 'not set'}; failures "
        f"go to {failure_uri}",
    )
    bucket = lab.bucket
    outputs = s3_objects(lab, out_path.split(f"s3://{bucket}/", 1)[-1] + "/")
    scores = [
        [float(v) for v in outputs.read(lab, k).decode().replace("\n", ",").split(",") if v.strip()]
        for k in outputs.keys
    ]
    full = [s for s in scores if len(s) == statement_rows]
    req.expect(
        bool(full),
        f"no output under {out_path} holds {statement_rows} scores (found {[len(s) for s in scores]})",
    )
    req.expect(
        all(0.0 <= v <= 1.0 for v in full[0]), "the async output holds values outside [0, 1]"
    )
    failures = s3_objects(lab, fail_path.split(f"s3://{bucket}/", 1)[-1] + "/")
    errors = [k for k in failures.keys if k.endswith("-error.out")]
    req.expect(
        bool(errors),
        f"no error file under {fail_path}: submit the broken statement too and wait for its "
        "FailureLocation (the failure path is how the disputes team learns a statement failed)",
    )
    message = failures.read(lab, errors[0]).decode("utf-8", "replace")
    req.note(
        f"{len(outputs)} result object(s), {statement_rows} scores; {len(errors)} failure(s) under "
        f"{fail_path}: {message[:70]}"
    )


# --------------------------------------------------------------------------- requirement 7
def check_pipeline_role(req: Any, lab: Any, role_arn: str, job_role_arn: str) -> None:
    """The pipeline role may start the jobs and pass the job role, and nothing else.

    Evaluated with ``SimulatePrincipalPolicy`` (the offline IAM evaluator), not by reading
    the document: ``iam:PassRole`` on ``*`` lets the pipeline hand any role (an admin role)
    to a job it starts, so passing another role must be denied.
    """
    iam = lab.client("iam")
    region, account = lab.region, lab.account_id

    def sim(
        actions: list[str], resource: str, context: list[dict[str, Any]] | None = None
    ) -> dict[str, str]:
        found = iam.simulate_principal_policy(
            PolicySourceArn=role_arn,
            ActionNames=actions,
            ResourceArns=[resource],
            **({"ContextEntries": context} if context else {}),
        )["EvaluationResults"]
        return {r["EvalActionName"]: r["EvalDecision"] for r in found}

    to_sm = [
        {
            "ContextKeyName": "iam:PassedToService",
            "ContextKeyValues": ["sagemaker.amazonaws.com"],
            "ContextKeyType": "string",
        }
    ]
    must = {
        "sagemaker:CreateProcessingJob": f"arn:aws:sagemaker:{region}:{account}:processing-job/x",
        "sagemaker:CreateTrainingJob": f"arn:aws:sagemaker:{region}:{account}:training-job/x",
        "sagemaker:CreateModelPackage": f"arn:aws:sagemaker:{region}:{account}:model-package/fraud-models/1",
    }
    for action, resource in must.items():
        got = sim([action], resource)
        req.expect(
            got.get(action) == "allowed",
            f"the pipeline role may not {action} ({got}): the pipeline cannot run",
        )
    got = sim(["iam:PassRole"], job_role_arn, to_sm)
    req.expect(
        got.get("iam:PassRole") == "allowed",
        f"the pipeline role may not pass {job_role_arn} to SageMaker: {got}",
    )
    other = f"arn:aws:iam::{account}:role/AdminRole"
    got = sim(["iam:PassRole"], other, to_sm)
    req.expect(
        got.get("iam:PassRole") != "allowed",
        f"the pipeline role may pass ANY role (e.g. {other}) to a job: limit iam:PassRole's "
        "Resource to the lab's execution role",
    )
    for action, resource in (
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{region}:{account}:endpoint/x"),
        (
            "sagemaker:DeleteModelPackageGroup",
            f"arn:aws:sagemaker:{region}:{account}:model-package-group/fraud-models",
        ),
        ("s3:DeleteBucket", f"arn:aws:s3:::{lab.bucket}"),
        ("iam:CreateRole", f"arn:aws:iam::{account}:role/x"),
    ):
        got = sim([action], resource)
        req.expect(
            got.get(action) != "allowed",
            f"the pipeline role allows {action}: it only starts jobs and registers the model",
        )


# --------------------------------------------------------------------------- teardown
def _tagged(lab: Any, tags: dict[str, str]) -> bool:
    return tags.get("mllab:run") == lab.run_id


def check_teardown(
    req: Any,
    lab: Any,
    *,
    vpc_id: str,
    key_arn: str,
    roles: Iterable[str],
    alarms: Iterable[str],
    pipeline: str,
    job_definitions: Iterable[str] = (),
    scalable: Iterable[str] = (),
    mlflow_arns: Iterable[str] = (),
) -> None:
    """Teardown: every resource this run created, found by its id or the run's tag, is gone.

    Args:
        req: the open requirement.
        lab: the open lab.
        vpc_id: the VPC this run created (its subnets, security group and endpoints go with it;
            any other VPC tagged with this run's ``mllab:run`` is looked up too).
        key_arn: the KMS key (must be PendingDeletion).
        roles: IAM role names the run created.
        alarms: CloudWatch alarm names.
        pipeline: the pipeline name.
        job_definitions: data-quality job definitions the run created (the Model Monitor extra).
        scalable: Application Auto Scaling resource ids.
        mlflow_arns: MLflow Apps / tracking servers the run created.
    """
    from mllab.checks.cleanup import billable_leftovers

    left = [f"  - {r.kind} {r.name!r} is {r.state}: {r.fix}" for r in billable_leftovers(lab)]
    ec2, iam, sm = lab.client("ec2"), lab.client("iam"), lab.client("sagemaker")
    vpcs = {vpc_id}
    tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:mllab:run", "Values": [lab.run_id]}])["Vpcs"]
    vpcs |= {v["VpcId"] for v in tagged}
    for v in sorted(vpcs):
        if ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [v]}])["Vpcs"]:
            inside = [{"Name": "vpc-id", "Values": [v]}]
            parts = (
                [s["SubnetId"] for s in ec2.describe_subnets(Filters=inside)["Subnets"]]
                + [
                    e["VpcEndpointId"]
                    for e in ec2.describe_vpc_endpoints(Filters=inside)["VpcEndpoints"]
                ]
                + [
                    g["GroupId"]
                    for g in ec2.describe_security_groups(Filters=inside)["SecurityGroups"]
                    if g["GroupName"] != "default"
                ]
            )
            left.append(
                f"  - VPC {v} still exists (with {parts or 'nothing else'}): delete its parts, then ec2.delete_vpc"
            )
    for name in roles:
        try:
            iam.get_role(RoleName=name)
            left.append(f"  - IAM role {name} still exists: delete_role_policy, then delete_role")
        except ClientError:
            pass
    cw = lab.client("cloudwatch")
    for name in alarms:
        if cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
            left.append(f"  - alarm {name} still exists: cloudwatch.delete_alarms")
    try:
        sm.describe_pipeline(PipelineName=pipeline)
        left.append(f"  - pipeline {pipeline} still exists: sm.delete_pipeline")
    except ClientError:
        pass
    for name in job_definitions:
        try:
            sm.describe_data_quality_job_definition(JobDefinitionName=name)
            left.append(
                f"  - data quality job definition {name} still exists: sm.delete_data_quality_job_definition"
            )
        except ClientError:
            pass
    aas = lab.client("application-autoscaling")
    for rid in scalable:
        if aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
            "ScalableTargets"
        ]:
            left.append(
                f"  - scalable target {rid} is still registered: aas.deregister_scalable_target"
            )
    for arn in mlflow_arns:
        try:
            if ":mlflow-app/" in arn:
                sm.describe_mlflow_app(Arn=arn)
                left.append(f"  - MLflow App {arn} still exists: sm.delete_mlflow_app(Arn=...)")
            else:
                sm.describe_mlflow_tracking_server(TrackingServerName=arn.rsplit("/", 1)[-1])
                left.append(
                    f"  - MLflow tracking server {arn} still exists: delete_mlflow_tracking_server"
                )
        except ClientError:
            pass
    state = lab.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    if state != "PendingDeletion":
        left.append(
            f"  - the KMS key is {state}: kms.schedule_key_deletion(KeyId=..., PendingWindowInDays=7)"
        )
    req.expect(
        not left,
        f"{len(left)} resource(s) of this lab run are still there:\n" + "\n".join(left),
    )
    req.note("every resource this run created is gone (the KMS key pending deletion)")


# --------------------------------------------------------------------------- requirements 5, 7, drill
# These return the note of the PASS line and raise CheckFailed with what is missing
# (``with requirement(...) as req: req.note(lab04.verify_x(lab, ...))``).

#: Seconds of clock difference allowed between S3's LastModified and SageMaker's job times.
CLOCK_SLACK = 5.0


def _aware(t: Any) -> dt.datetime:
    if isinstance(t, dt.datetime):
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(t)).astimezone(dt.UTC)


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def model_artifact(lab: Any, model_name: str) -> str:
    """``PrimaryContainer.ModelDataUrl`` of a SageMaker model (``DescribeModel``). Free."""
    d = lab.client("sagemaker").describe_model(ModelName=model_name)
    container = d.get("PrimaryContainer") or (d.get("Containers") or [{}])[0]
    return str(container.get("ModelDataUrl", ""))


def _job_artifact(lab: Any, job_name: str) -> str:
    d = lab.client("sagemaker").describe_training_job(TrainingJobName=job_name)
    return str(d.get("ModelArtifacts", {}).get("S3ModelArtifacts", ""))


def _same_bytes(lab: Any, a: str, b: str) -> bool:
    s3 = lab.client("s3")
    try:
        heads = [s3.head_object(Bucket=bk, Key=k) for bk, k in (_split_uri(a), _split_uri(b))]
    except ClientError:
        return False
    return bool(heads[0]["ETag"] == heads[1]["ETag"])


def probe_rows(features: Sequence[str], n: int = 3, seed: int = 11) -> Any:
    """``n`` seeded card transactions (the ``features`` columns) to send to an endpoint."""
    from mllab.datasets import card_transactions

    return card_transactions(max(n, 20), seed=seed)[list(features)].head(n)


def local_scores(lab: Any, artifact_uri: str, rows: Any) -> np.ndarray:
    """What the built-in XGBoost artifact at ``artifact_uri`` answers for ``rows`` (no endpoint)."""
    import xgboost as xgb

    from mllab.checks.lab03 import load_xgboost

    booster = load_xgboost(lab, artifact_uri)
    return np.asarray(booster.predict(xgb.DMatrix(np.asarray(rows, dtype=float))), dtype=float)


def _invoke(lab: Any, name: str, row: Sequence[Any]) -> float:
    body = ",".join(str(v) for v in row)
    answer = lab.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=body
    )
    text = answer["Body"].read().decode("utf-8").strip()
    try:
        return float(text.split(",")[0])
    except ValueError:
        from mllab.checks.core import fail

        fail(f"{name} answered {text[:80]!r} to a text/csv row, not a score")
        raise  # unreachable


def _serves(lab: Any, name: str, artifact: str, features: Sequence[str]) -> list[float]:
    """Invoke ``name`` with a few seeded rows; each answer must be what ``artifact`` scores."""
    rows = probe_rows(features)
    want = local_scores(lab, artifact, rows)
    got = [_invoke(lab, name, r) for r in rows.itertuples(index=False)]
    for g, w in zip(got, want, strict=True):
        _need(
            0.0 <= g <= 1.0 and abs(g - w) < 1e-4,
            f"{name} answered {g:.6f} where the model artifact {artifact} scores {w:.6f}: the "
            "endpoint does not serve that model",
        )
    return got


def verify_serverless(
    lab: Any,
    name: str,
    model: str,
    job_name: str,
    features: Sequence[str],
    *,
    memory_mb: int = 1024,
    max_concurrency: int = 2,
) -> str:
    """Requirement 5: ``name`` is a serverless endpoint serving ``model`` (the artifact of
    ``job_name``) with ``memory_mb`` MB and ``max_concurrency`` concurrent invocations.

    Reads ``DescribeEndpoint``, the endpoint's own config and ``DescribeModel``, then invokes the
    endpoint with a few seeded rows and compares each answer with what the training job's
    artifact scores locally. A serverless config that exists but is not the endpoint's, or a
    model made from a copy of the artifact, does not pass. A few serverless requests.
    """
    ep = endpoint(lab, name)
    _need(ep.status == "InService", f"{name} is {ep.status}: {ep.failure_reason}")
    _need(
        len(ep.variants) == 1,
        f"{name} has {len(ep.variants)} production variants; the analyst tool needs one",
    )
    v = ep.variants[0]
    cfg = v.serverless or {}
    _need(
        bool(cfg) and not v.instance_type,
        f"the variant of {name}'s config {ep.config} runs on {v.instance_type or 'nothing'} with "
        "no ServerlessConfig: a serverless variant has ServerlessConfig and no instance type or "
        "count (describe_endpoint_config(EndpointConfigName=...)['ProductionVariants'])",
    )
    _need(
        cfg.get("MemorySizeInMB") == memory_mb,
        f"ServerlessConfig.MemorySizeInMB is {cfg.get('MemorySizeInMB')}; the text asks for "
        f"{memory_mb} MB",
    )
    _need(
        cfg.get("MaxConcurrency") == max_concurrency,
        f"ServerlessConfig.MaxConcurrency is {cfg.get('MaxConcurrency')}; the text allows at most "
        f"{max_concurrency} concurrent invocations",
    )
    _need(v.model == model, f"{name} serves the model {v.model!r}, not {model}")
    url, artifact = model_artifact(lab, v.model), _job_artifact(lab, job_name)
    _need(
        url == artifact,
        f"{model}'s ModelDataUrl is {url}, not the artifact {job_name} wrote ({artifact}; "
        "describe_training_job(...)['ModelArtifacts']['S3ModelArtifacts'])"
        + (
            ": a copy placed by hand is not the job's output"
            if _same_bytes(lab, url, artifact)
            else ""
        ),
    )
    scores = _serves(lab, name, artifact, features)
    return (
        f"serverless {cfg['MemorySizeInMB']} MB, MaxConcurrency {cfg['MaxConcurrency']}, serving "
        f"{model}; {len(scores)} rows scored as the artifact scores them (e.g. {scores[0]:.4f})"
    )


def verify_batch(
    lab: Any,
    job_name: str,
    input_uri: str,
    output_uri: str,
    *,
    model: str = "fraud-v1",
    instance_type: str = "ml.m5.large",
    sample: int = 200,
) -> str:
    """Requirement 7: a batch transform of ``input_uri`` by ``model`` that writes, under
    ``output_uri``, each input line followed by its score.

    Reads ``DescribeTransformJob`` (model, instance, input and output paths, ``SplitType``,
    ``AssembleWith``, ``DataProcessing``), the input and output objects in S3, and rescores a
    sample of the lines locally with the model's artifact (the id column left out). The output
    object must have been written while the job ran (its ``LastModified`` between
    ``TransformStartTime`` and ``TransformEndTime``): a file the notebook wrote, next to a job,
    does not pass. Free apart from the S3 GETs.
    """
    from mllab.checks.inspect import transform_job

    job = transform_job(lab, job_name)
    _need(job.status == "Completed", f"{job_name} is {job.status}: {job.failure_reason}")
    _need(job.model == model, f"{job_name} runs the model {job.model!r}; the text says {model}")
    count = int(job.raw.get("TransformResources", {}).get("InstanceCount", 0))
    _need(
        job.instance_type == instance_type and count == 1,
        f"TransformResources is {count} x {job.instance_type}; the text says one {instance_type}",
    )
    _need(
        job.input_uri.rstrip("/") == input_uri.rstrip("/"),
        f"the job reads {job.input_uri}; the accounts file is under {input_uri} "
        "(TransformInput.DataSource.S3DataSource.S3Uri)",
    )
    _need(
        job.output_uri.rstrip("/") == output_uri.rstrip("/"),
        f"TransformOutput.S3OutputPath is {job.output_uri}; the text asks for {output_uri}",
    )
    _need(
        job.content_type.split(";")[0] == "text/csv",
        f"TransformInput.ContentType is {job.content_type or 'not set'}: the accounts are text/csv",
    )
    _need(
        job.split_type == "Line",
        f"TransformInput.SplitType is {job.split_type}: split the CSV into records by line",
    )
    _need(
        job.assemble_with == "Line",
        f"TransformOutput.AssembleWith is {job.assemble_with}: without Line the output records "
        "are not one per line",
    )
    _need(
        job.data_processing.get("JoinSource") == "Input",
        f"DataProcessing.JoinSource is {job.data_processing.get('JoinSource', 'None')}: join each "
        "prediction to its input record (Input)",
    )
    bucket, in_prefix = _split_uri(input_uri.rstrip("/") + "/")
    ins = s3_objects(lab, in_prefix, bucket, at_least=1)
    _, out_prefix = _split_uri(output_uri.rstrip("/") + "/")
    outs = s3_objects(lab, out_prefix, bucket)
    start = _aware(job.raw.get("TransformStartTime") or job.raw.get("CreationTime"))
    end = _aware(job.raw.get("TransformEndTime") or start)
    artifact = model_artifact(lab, model)
    lines_in, scored = 0, 0
    for key in ins.keys:
        rel = key[len(in_prefix) :]
        out_key = f"{out_prefix}{rel}.out"
        _need(
            out_key in outs.keys,
            f"no {out_key} under {output_uri} for the input {key} (found {outs.keys}): batch "
            "transform writes <input name>.out",
        )
        head = lab.client("s3").head_object(Bucket=bucket, Key=out_key)
        written = _aware(head["LastModified"])
        slack = dt.timedelta(seconds=CLOCK_SLACK)
        _need(
            start - slack <= written <= end + slack,
            f"s3://{bucket}/{out_key} was last written at {written:%H:%M:%S}, outside the job's "
            f"run {start:%H:%M:%S}-{end:%H:%M:%S} (TransformStartTime/TransformEndTime): the "
            "output must be what the transform job wrote; run the job again instead of writing "
            "the file",
        )
        src = ins.read(lab, key).decode("utf-8").splitlines()
        got = outs.read(lab, out_key).decode("utf-8").splitlines()
        _need(
            len(got) == len(src),
            f"{len(src)} input lines in {key} but {len(got)} output lines in {out_key}",
        )
        tails = []
        for i, (s, g) in enumerate(zip(src, got, strict=True)):
            _need(
                g.startswith(s + ","),
                f"output line {i + 1} is {g[:60]!r}: it must start with its input line {s[:40]!r}",
            )
            tail = g[len(s) + 1 :]
            try:
                value = float(tail)
            except ValueError:
                value = float("nan")
            _need(
                "," not in tail and 0.0 <= value <= 1.0,
                f"line {i + 1} ends with {tail!r}, not one score",
            )
            tails.append(value)
        step = max(1, len(src) // sample)
        idx = list(range(0, len(src), step))
        feats = [[float(x) for x in src[i].split(",")[1:]] for i in idx]
        want = local_scores(lab, artifact, feats)
        bad = [i + 1 for i, w in zip(idx, want, strict=True) if abs(tails[i] - w) >= 1e-4]
        _need(
            not bad,
            f"{len(bad)} of {len(idx)} sampled scores (e.g. line {bad[:1]}) differ from what "
            f"{model}'s artifact scores for the line without its first column: the model must "
            "see the features only, not the card id (DataProcessing.InputFilter)",
        )
        lines_in += len(src)
        scored += len(idx)
    return (
        f"{lines_in} lines = input line + score, written by {job_name}; {scored} scores match "
        f"{model}'s artifact"
    )


def verify_drill(
    lab: Any,
    name: str,
    job_name: str,
    features: Sequence[str],
    *,
    instance_type: str = "ml.t2.medium",
) -> str:
    """The drill: ``name`` repaired, serving ``job_name``'s real artifact on one
    ``instance_type``, ``InService`` and answering CSV as that artifact scores.

    Reads ``DescribeEndpoint``, its config, ``DescribeModel`` and the training job's
    ``ModelArtifacts``, then invokes the endpoint with a few seeded rows. An artifact copied by
    hand to the path the colleague typed does not pass (the colleague's model would then load,
    but it still reads a path no training job wrote): the fix is a new model on the job's
    artifact. A few real-time requests.
    """
    ep = endpoint(lab, name)
    _need(
        ep.status == "InService",
        f"{name} is {ep.status}: {ep.failure_reason or 'read describe_endpoint(...)'}"
        + (
            " (a Failed endpoint can only be deleted: delete_endpoint, wait, create it again)"
            if ep.status == "Failed"
            else ""
        ),
    )
    _need(
        len(ep.variants) == 1
        and ep.variants[0].instance_type == instance_type
        and ep.variants[0].instance_count == 1,
        f"{name} runs {[(v.instance_type, v.instance_count) for v in ep.variants]}; one "
        f"{instance_type} instance, as before",
    )
    url, artifact = model_artifact(lab, ep.variants[0].model), _job_artifact(lab, job_name)
    if url != artifact and _same_bytes(lab, url, artifact):
        _need(
            False,
            f"{name}'s model {ep.variants[0].model} still reads {url}: a copy of the artifact "
            "placed by hand is not the fix; create a model whose ModelDataUrl is the job's "
            f"ModelArtifacts.S3ModelArtifacts ({artifact}) and an endpoint config for it",
        )
    _need(
        url == artifact,
        f"{name}'s model {ep.variants[0].model} reads {url}, not {job_name}'s artifact "
        f"({artifact}; describe_training_job(...)['ModelArtifacts']['S3ModelArtifacts'])",
    )
    scores = _serves(lab, name, artifact, features)
    return (
        f"InService on one {instance_type}, model {ep.variants[0].model} on "
        f"{artifact.split('/', 3)[-1]}; answered {scores[0]:.4f} as the artifact scores"
    )


# --------------------------------------------------------------------------- requirement 8
#: (AUC, MinAuc) pairs the CheckAUC condition is evaluated on: registration must happen exactly
#: when AUC >= MinAuc (the equal case, both sides of the default, another parameter value).
GATE_PROBES = ((0.80, 0.75), (0.75, 0.75), (0.74, 0.75), (0.50, 0.75), (0.85, 0.90), (0.95, 0.90))
_COMPARE = {
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "GreaterThan": lambda a, b: a > b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
    "Equals": lambda a, b: a == b,
}


class _Unreadable(Exception):
    pass


def _operand(value: Any, files: set[str], param: str, auc: float, min_auc: float) -> Any:
    """A condition operand for one probe: the AUC from Evaluate's evaluation.json, the MinAuc
    parameter or a literal; anything else is not what the text asks the condition to compare."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        if value.get("Get") == f"Parameters.{param}":
            return min_auc
        got = value.get("Std:JsonGet")
        if isinstance(got, dict):
            pf = got.get("PropertyFile")
            ref = pf.get("Get") if isinstance(pf, dict) else None
            path = str(got.get("Path", "")).removeprefix("$").lstrip(".")
            if ref in {f"Steps.Evaluate.PropertyFiles.{f}" for f in files} and path == (
                "metrics.auc.value"
            ):
                return auc
    raise _Unreadable(json.dumps(value)[:160])


def _holds(cond: dict[str, Any], files: set[str], param: str, auc: float, min_auc: float) -> bool:
    kind = cond.get("Type")
    if kind == "Not":
        inner = cond.get("Expression") or cond.get("Condition") or {}
        return not _holds(inner, files, param, auc, min_auc)
    if kind == "Or":
        return any(_holds(c, files, param, auc, min_auc) for c in cond.get("Conditions") or [])
    if kind == "In":
        q = _operand(cond.get("QueryValue"), files, param, auc, min_auc)
        return any(q == _operand(v, files, param, auc, min_auc) for v in cond.get("Values") or [])
    if kind not in _COMPARE:
        raise _Unreadable(f"a condition of type {kind!r}")
    left = _operand(cond.get("LeftValue"), files, param, auc, min_auc)
    right = _operand(cond.get("RightValue"), files, param, auc, min_auc)
    return bool(_COMPARE[str(kind)](float(left), float(right)))


def _in_steps(steps: list[Any], key: str, value: Any) -> bool:
    return any(isinstance(s, dict) and str(s.get(key, "")) == value for s in steps)


def _mentions(job: dict[str, Any], script: str) -> bool:
    spec = job.get("AppSpecification") or {}
    words = [*(spec.get("ContainerEntrypoint") or []), *(spec.get("ContainerArguments") or [])]
    return any(str(w).rsplit("/", 1)[-1] == script for w in words)


def _s3_inputs(job: dict[str, Any]) -> list[str]:
    return [
        str(i["S3Input"]["S3Uri"]).rstrip("/")
        for i in job.get("ProcessingInputs") or []
        if "S3Input" in i
    ]


def _s3_outputs(job: dict[str, Any]) -> dict[str, str]:
    return {
        str(o.get("OutputName")): str(o["S3Output"]["S3Uri"]).rstrip("/")
        for o in (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        if "S3Output" in o
    }


def verify_pipeline(
    lab: Any,
    raw_uri: str,
    *,
    name: str = "fraud-retrain",
    group: str = "fraud-models",
    role_name: str = "fraud-pipeline-role",
    job_role_arn: str | None = None,
    min_auc: float = 0.75,
) -> str:
    """Requirement 8: ``name`` trains, evaluates and registers a model only when its AUC is
    at least the pipeline parameter ``MinAuc`` (default ``min_auc``), and its last execution did.

    Reads ``DescribePipeline`` (role, ``PipelineDefinition``: the five named steps and their
    types, ``MinAuc``, the ``CheckAUC`` condition, which is evaluated on a few (AUC, MinAuc)
    pairs: ``Register`` must run exactly when AUC >= MinAuc, a ``Fail`` step otherwise),
    ``ListPipelineExecutions`` (the latest must have ``Succeeded``, after the last change to the
    definition, with ``MinAuc`` not lowered: ``ListPipelineParametersForExecution``),
    ``ListPipelineExecutionSteps`` and, through the ARNs in each step's ``Metadata``, the jobs
    the steps ran (scripts, data flow, roles) and the model package the ``Register`` step
    registered (group, approval, artifact, model quality metrics = the evaluation.json that
    the ``Evaluate`` job wrote while it ran). A package registered or approved by hand, an
    evaluation.json rewritten after the job, a gate on a constant, a definition never run or
    run before it was changed do not pass. The pipeline role is evaluated with
    ``SimulatePrincipalPolicy`` (:func:`check_pipeline_role`). Free.
    """
    from mllab.checks.inspect import iam_policy

    sm, s3 = lab.client("sagemaker"), lab.client("s3")
    job_role = job_role_arn or lab.role_arn
    try:
        pipe = sm.describe_pipeline(PipelineName=name)
    except ClientError:
        _need(False, f"no pipeline {name}: sm.create_pipeline(PipelineName={name!r}, ...)")
        raise  # unreachable
    d = json.loads(pipe["PipelineDefinition"])
    top = d.get("Steps") or []
    every = {s.get("Name"): s for s in _all_pipeline_steps(top)}
    kinds = {k: s.get("Type") for k, s in every.items()}
    want = {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckAUC": "Condition",
        "Register": "RegisterModel",
    }
    for step, kind in want.items():
        _need(
            kinds.get(step) == kind,
            f"the definition of {name} has {'a ' + str(kinds[step]) + ' step' if step in kinds else 'no step'} "
            f"named {step}; the text asks for a {kind} step {step} (describe_pipeline(...)"
            f"['PipelineDefinition'], each step's Name and Type; found {kinds})",
        )
    params = {p.get("Name"): p for p in d.get("Parameters") or []}
    p = params.get("MinAuc", {})
    _need(
        p.get("Type") == "Float" and abs(float(p.get("DefaultValue", -1)) - min_auc) < 1e-9,
        f"the definition's Parameters have MinAuc {p or 'missing'}; the text asks for a Float "
        f"parameter MinAuc with DefaultValue {min_auc}",
    )
    cond = every["CheckAUC"]
    args = cond.get("Arguments") or {}
    if_steps, else_steps = args.get("IfSteps") or [], args.get("ElseSteps") or []
    _need(
        not _in_steps(top, "Name", "Register"),
        "Register is a top-level step: it runs whatever CheckAUC decides; put it in CheckAUC's "
        "IfSteps (or ElseSteps) so that only a good model is registered",
    )
    files = {
        str(f.get("PropertyFileName"))
        for f in every["Evaluate"].get("PropertyFiles") or []
        if str(f.get("FilePath", "")).rsplit("/", 1)[-1] == "evaluation.json"
    }
    _need(
        bool(files),
        "Evaluate declares no PropertyFiles entry for evaluation.json: the condition cannot read "
        "the AUC (PropertyFiles: PropertyFileName, OutputName, FilePath)",
    )
    for auc, gate in GATE_PROBES:
        try:
            holds = all(_holds(c, files, "MinAuc", auc, gate) for c in args.get("Conditions") or [])
        except _Unreadable as err:
            _need(
                False,
                f"CheckAUC compares {err}: compare the AUC read from Evaluate's evaluation.json "
                "(Std:JsonGet on its property file, Path metrics.auc.value) with "
                "{'Get': 'Parameters.MinAuc'}",
            )
            raise  # unreachable
        branch = if_steps if holds else else_steps
        registers = _in_steps(branch, "Name", "Register")
        _need(
            registers == (auc >= gate),
            f"with AUC {auc} and MinAuc {gate} CheckAUC {'registers' if registers else 'does not register'} "
            f"the model (Conditions {json.dumps(args.get('Conditions'))[:200]}): register exactly "
            "when AUC >= MinAuc, the parameter, not a constant",
        )
        _need(
            registers or _in_steps(branch, "Type", "Fail"),
            f"with AUC {auc} below MinAuc {gate} the run takes a branch without a Fail step: "
            "put a Fail step (Type Fail, ErrorMessage) in the other branch of CheckAUC",
        )
    role_arn = str(pipe.get("RoleArn", ""))
    _need(
        role_arn.rsplit("/", 1)[-1] == role_name,
        f"{name} runs as {role_arn}; the text gives it its own role {role_name}",
    )
    role = iam_policy(lab, role_arn)
    _need(
        not role.wildcard_actions,
        f"the pipeline role allows wildcard actions {role.wildcard_actions}: list each action",
    )
    check_pipeline_role(_Expect(), lab, role_arn, job_role)

    runs = sm.list_pipeline_executions(PipelineName=name).get("PipelineExecutionSummaries", [])
    _need(
        bool(runs),
        f"{name} has no execution (list_pipeline_executions): sm.start_pipeline_execution"
        f"(PipelineName={name!r}), then wait until describe_pipeline_execution says Succeeded",
    )
    last = max(runs, key=lambda r: _aware(r["StartTime"]))
    arn = last["PipelineExecutionArn"]
    desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
            "PipelineExecutionSteps"
        ]
    }
    status = {k: v.get("StepStatus") for k, v in steps.items()}
    _need(
        desc["PipelineExecutionStatus"] == "Succeeded",
        f"the latest execution of {name} is {desc['PipelineExecutionStatus']}"
        f"{': ' + desc['FailureReason'] if desc.get('FailureReason') else ''}; steps {status} "
        "(list_pipeline_execution_steps: each step's StepStatus and FailureReason)",
    )
    changed = _aware(pipe.get("LastModifiedTime") or pipe.get("CreationTime"))
    started = _aware(last["StartTime"])
    _need(
        changed <= started + dt.timedelta(seconds=CLOCK_SLACK),
        f"{name} was changed at {changed:%H:%M:%S} (LastModifiedTime), after its latest execution "
        f"started ({started:%H:%M:%S}): that run is not of this definition; start it again",
    )
    given = {
        str(q.get("Name")): q.get("Value")
        for q in sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn).get(
            "PipelineParameters", []
        )
    }
    used = float(given.get("MinAuc", p.get("DefaultValue")))
    _need(
        used >= min_auc - 1e-9,
        f"the latest execution ran with MinAuc {used} (list_pipeline_parameters_for_execution): "
        f"a gate below {min_auc} registers worse models; run it with the default",
    )
    for step in want:
        _need(
            status.get(step) == "Succeeded",
            f"step {step} of the latest execution is {status.get(step, 'missing')}"
            f"{': ' + steps[step]['FailureReason'] if steps.get(step, {}).get('FailureReason') else ''}"
            " (list_pipeline_execution_steps)",
        )

    def job_of(step: str, kind: str) -> dict[str, Any]:
        ref = (steps[step].get("Metadata") or {}).get(kind, {}).get("Arn", "")
        _need(bool(ref), f"step {step} records no {kind} ARN in its Metadata")
        job_name = str(ref).rsplit("/", 1)[-1]
        if kind == "TrainingJob":
            return dict(sm.describe_training_job(TrainingJobName=job_name))
        return dict(sm.describe_processing_job(ProcessingJobName=job_name))

    pre, train, ev = (
        job_of("Preprocess", "ProcessingJob"),
        job_of("Train", "TrainingJob"),
        job_of("Evaluate", "ProcessingJob"),
    )
    for step, job in (("Preprocess", pre), ("Train", train), ("Evaluate", ev)):
        _need(
            job.get("RoleArn") == job_role,
            f"the {step} job runs as {job.get('RoleArn')}; the jobs run as lab.role_arn "
            f"({job_role}): set RoleArn in the step's Arguments",
        )
    raw = raw_uri.rstrip("/")
    _need(
        _mentions(pre, "preprocess.py") and any(raw.startswith(u) for u in _s3_inputs(pre)),
        f"the Preprocess job runs {(pre.get('AppSpecification') or {}).get('ContainerEntrypoint')} "
        f"on {_s3_inputs(pre)}: it must run preprocess.py on the raw transactions ({raw_uri}) "
        "(describe_processing_job: AppSpecification, ProcessingInputs)",
    )
    image = str(train.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
    _need("sagemaker-xgboost" in image, f"the Train job runs {image}, not built-in XGBoost")
    pre_out = set(_s3_outputs(pre).values())
    channels = {
        c["ChannelName"]: str(c["DataSource"]["S3DataSource"]["S3Uri"]).rstrip("/")
        for c in train.get("InputDataConfig") or []
    }
    _need(
        bool(channels) and set(channels.values()) <= pre_out,
        f"the Train job reads {channels}, not Preprocess's outputs {sorted(pre_out)}: give each "
        "channel {'Get': \"Steps.Preprocess.ProcessingOutputConfig.Outputs['...'].S3Output.S3Uri\"}",
    )
    artifact = str(train.get("ModelArtifacts", {}).get("S3ModelArtifacts", ""))
    _need(
        _mentions(ev, "evaluate.py") and artifact.rstrip("/") in _s3_inputs(ev),
        f"the Evaluate job runs {(ev.get('AppSpecification') or {}).get('ContainerEntrypoint')} on "
        f"{_s3_inputs(ev)}: it must run evaluate.py on the Train job's artifact ({artifact})",
    )
    pkg_arn = (steps["Register"].get("Metadata") or {}).get("RegisterModel", {}).get("Arn", "")
    _need(bool(pkg_arn), "step Register records no RegisterModel ARN in its Metadata")
    pkg = sm.describe_model_package(ModelPackageName=pkg_arn)
    _need(
        pkg.get("ModelPackageGroupName") == group,
        f"Register registered {pkg_arn} in group {pkg.get('ModelPackageGroupName')}, not {group}",
    )
    _need(
        pkg.get("ModelApprovalStatus") == "PendingManualApproval",
        f"the version the Register step registered ({pkg_arn}) is "
        f"{pkg.get('ModelApprovalStatus')}: register it PendingManualApproval and leave the "
        "decision to a human (describe_model_package(...)['ModelApprovalStatus'])",
    )
    urls = [
        c.get("ModelDataUrl")
        for c in (pkg.get("InferenceSpecification") or {}).get("Containers", [])
    ]
    _need(
        urls == [artifact],
        f"the registered version serves {urls}, not the Train job's artifact {artifact}",
    )
    stats = (pkg.get("ModelMetrics") or {}).get("ModelQuality", {}).get("Statistics", {})
    stats_uri = str(stats.get("S3Uri", ""))
    written = {f"{u}/evaluation.json" for u in _s3_outputs(ev).values()}
    _need(
        stats_uri in written,
        f"the registered version's ModelMetrics.ModelQuality.Statistics.S3Uri is "
        f"{stats_uri or 'not set'}; it must be the evaluation.json the Evaluate job wrote "
        f"({sorted(written)})",
    )
    bucket, key = _split_uri(stats_uri)
    obj = s3.get_object(Bucket=bucket, Key=key)
    at = _aware(obj["LastModified"])
    slack = dt.timedelta(seconds=CLOCK_SLACK)
    ev_start = _aware(ev.get("ProcessingStartTime") or ev.get("CreationTime"))
    ev_end = _aware(ev.get("ProcessingEndTime") or ev_start)
    _need(
        ev_start - slack <= at <= ev_end + slack,
        f"{stats_uri} was last written at {at:%H:%M:%S}, outside the Evaluate job's run "
        f"{ev_start:%H:%M:%S}-{ev_end:%H:%M:%S}: the model quality metrics must be what the job "
        "wrote",
    )
    auc = float(json.loads(obj["Body"].read())["metrics"]["auc"]["value"])
    _need(auc >= used, f"the registered model's AUC is {auc:.3f}, below the {used} gate")
    return (
        f"{len(status)} steps Succeeded ({', '.join(status)}); CheckAUC registers exactly when "
        f"AUC >= MinAuc (default {min_auc}); version {pkg.get('ModelPackageVersion')} registered "
        f"by the pipeline at AUC {auc:.3f}, PendingManualApproval; role {role_name} least privilege"
    )


class _Expect:
    """A requirement-like object whose ``expect`` raises as ``_need`` (for ``check_*`` reuse)."""

    @staticmethod
    def expect(ok: Any, message: str) -> None:
        _need(ok, message)

    def note(self, text: str) -> None:
        pass


def _all_pipeline_steps(steps: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in steps:
        if isinstance(s, dict):
            out.append(s)
            if s.get("Type") == "Condition":
                a = s.get("Arguments") or {}
                out += _all_pipeline_steps([*(a.get("IfSteps") or []), *(a.get("ElseSteps") or [])])
    return out
