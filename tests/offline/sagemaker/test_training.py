"""Offline training jobs through boto3: the container contract, results, failures, stop, waiters."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.hang import wait_for, wait_for_job

FAKE_ALGO = textwrap.dedent(
    '''
    """A tiny least-squares 'built-in algorithm' implementing the container contract (tests only)."""
    import json
    import os

    import numpy as np

    from mllab.offline.sagemaker.contract import ClientError

    NAME = "fake-linear"
    METRIC_DEFINITIONS = [
        {"Name": "train:mse", "Regex": "#quality_metric: host=\\\\S+, train mse <loss>=(\\\\S+)"},
        {"Name": "validation:mse", "Regex": "#quality_metric: host=\\\\S+, validation mse <loss>=(\\\\S+)"},
    ]

    def validate(hyperparameters, channels):
        if "feature_dim" not in hyperparameters:
            raise ClientError("Missing required hyperparameter: feature_dim")
        if int(hyperparameters["feature_dim"]) < 1:
            raise ClientError("feature_dim must be >= 1")
        for name, ch in channels.items():
            ctype = ch.get("ContentType") or "text/csv"
            if ctype.split(";")[0] != "text/csv":
                raise ClientError(f"Content type {ctype} is not supported by this algorithm (channel {name}).")

    def _read(folder):
        rows = []
        for f in sorted(os.listdir(folder)):
            for line in open(os.path.join(folder, f)):
                if not line.strip():
                    continue
                try:
                    rows.append([float(x) for x in line.split(",")])
                except ValueError:
                    raise ClientError("Unable to parse CSV: a header row or non-numeric value was found") from None
        if not rows:
            raise ClientError("No training data found in channel")
        a = np.array(rows)
        return a[:, 1:], a[:, 0]

    def train(env):
        print("[fake-linear] hps:", json.dumps(env.hyperparameters), "cpus:", os.environ.get("OMP_NUM_THREADS"))
        x, y = _read(env.channel_dir("train"))
        xb = np.c_[x, np.ones(len(x))]
        w, *_ = np.linalg.lstsq(xb, y, rcond=None)
        print(f"#quality_metric: host={env.current_host}, train mse <loss>={float(np.mean((xb @ w - y) ** 2))}")
        if "validation" in env.channels:
            xv, yv = _read(env.channel_dir("validation"))
            mse = float(np.mean((np.c_[xv, np.ones(len(xv))] @ w - yv) ** 2))
            print(f"#quality_metric: host={env.current_host}, validation mse <loss>={mse}")
        sleep = float(env.hyperparameters.get("sleep", "0"))
        if sleep:
            import time
            time.sleep(sleep)
        (env.model_dir / "model.json").write_text(json.dumps({"w": w.tolist()}))
    '''
)

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/fake-linear:1"


@pytest.fixture
def fake_algo(fake_algorithm: Any) -> Any:
    return fake_algorithm("fake-linear", FAKE_ALGO)


def _data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(scale=0.1, size=n)
    return x, y


def _csv(x: np.ndarray, y: np.ndarray, header: bool = False) -> bytes:
    buf = io.StringIO()
    if header:
        buf.write("y,a,b,c\n")
    for yi, row in zip(y, x, strict=True):
        buf.write(",".join(f"{v:.6f}" for v in [yi, *row]) + "\n")
    return buf.getvalue().encode()


def _put(lab: Any, key: str, body: bytes) -> str:
    lab.client("s3").put_object(Bucket=lab.bucket, Key=key, Body=body)
    return f"s3://{lab.bucket}/{key}"


def _channel(name: str, uri: str, ctype: str = "text/csv", **extra: Any) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": ctype,
        **extra,
    }


def _request(lab: Any, name: str, channels: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": lab.role_arn,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "HyperParameters": {"feature_dim": "3"},
    }
    req.update(kw)
    return req


def _wait(sm: Any, name: str) -> dict[str, Any]:
    return wait_for_job(sm, "training", name)


def _train_val(lab: Any) -> list[dict[str, Any]]:
    x, y = _data()
    xv, yv = _data(100, seed=1)
    return [
        _channel("train", _put(lab, "d/train/part-0.csv", _csv(x, y))),
        _channel("validation", _put(lab, "d/validation/part-0.csv", _csv(xv, yv))),
    ]


def test_builtin_job_completes_with_artifacts_metrics_logs(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_training_job(**_request(lab, "fake-ok", _train_val(lab)))
    assert sm.describe_training_job(TrainingJobName="fake-ok")["TrainingJobStatus"] in {
        "InProgress",
        "Completed",
    }
    d = _wait(sm, "fake-ok")
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert d["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert (
        d["ModelArtifacts"]["S3ModelArtifacts"]
        == f"s3://{lab.bucket}/out/fake-ok/output/model.tar.gz"
    )
    assert (
        d["TrainingTimeInSeconds"] >= 1 and d["BillableTimeInSeconds"] == d["TrainingTimeInSeconds"]
    )
    names = {m["MetricName"] for m in d["FinalMetricDataList"]}
    assert names == {"train:mse", "validation:mse"}
    # fidelity: the reported validation metric is the artifact's score on the validation channel
    body = (
        lab.client("s3")
        .get_object(Bucket=lab.bucket, Key="out/fake-ok/output/model.tar.gz")["Body"]
        .read()
    )
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        w = np.array(json.loads(tar.extractfile("model.json").read())["w"])  # type: ignore[union-attr]
    xv, yv = _data(100, seed=1)
    xv, yv = np.round(xv, 6), np.round(yv, 6)
    mse = float(np.mean((np.c_[xv, np.ones(len(xv))] @ w - yv) ** 2))
    reported = next(
        m["Value"] for m in d["FinalMetricDataList"] if m["MetricName"] == "validation:mse"
    )
    assert reported == pytest.approx(mse, rel=1e-6)
    # same quality as a direct fit
    x, y = _data()
    direct, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)
    assert np.allclose(w, direct, atol=1e-4)
    # logs where AWS puts them, with the thread limit of ml.m5.large (2 vCPU)
    logs = lab.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="fake-ok/"
    )
    (stream,) = streams["logStreams"]
    assert stream["logStreamName"].startswith("fake-ok/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
    )
    text = "\n".join(e["message"] for e in events["events"])
    assert "validation mse <loss>=" in text and "cpus: 2" in text
    # metrics in CloudWatch, and moto's list sees the final status
    cw = lab.client("cloudwatch").list_metrics(Namespace="/aws/sagemaker/TrainingJobs")
    assert {"train:mse", "validation:mse"} <= {m["MetricName"] for m in cw["Metrics"]}
    listed = sm.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]
    assert "fake-ok" in [j["TrainingJobName"] for j in listed]


def test_waiter_polls_at_offline_speed(
    lab: Any, fake_algo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, boto3's training waiter polls every second or less, not every 120 s."""
    import botocore.waiter

    from mllab.offline.sdk_quirks import OFFLINE_POLL_SECONDS

    slept: list[float] = []
    real_sleep = time.sleep

    def recording_sleep(seconds: float) -> None:
        slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(botocore.waiter.time, "sleep", recording_sleep)
    sm = lab.client("sagemaker")
    sm.create_training_job(**_request(lab, "fake-wait", _train_val(lab)))
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="fake-wait")
    assert all(s <= OFFLINE_POLL_SECONDS for s in slept), slept
    assert sm.describe_training_job(TrainingJobName="fake-wait")["TrainingJobStatus"] == "Completed"


@pytest.mark.parametrize(
    ("hps", "ctype", "header", "needle"),
    [
        ({}, "text/csv", False, "ClientError: Missing required hyperparameter: feature_dim"),
        ({"feature_dim": "0"}, "text/csv", False, "ClientError: feature_dim must be >= 1"),
        (
            {"feature_dim": "3"},
            "application/x-parquet",
            False,
            "ClientError: Content type application/x-parquet",
        ),
        ({"feature_dim": "3"}, "text/csv", True, "ClientError: Unable to parse CSV"),
    ],
)
def test_bad_inputs_fail_like_aws(
    lab: Any, fake_algo: Any, hps: dict[str, str], ctype: str, header: bool, needle: str
) -> None:
    sm = lab.client("sagemaker")
    x, y = _data(50)
    ch = _channel("train", _put(lab, "bad/train.csv", _csv(x, y, header=header)), ctype=ctype)
    sm.create_training_job(**_request(lab, "fake-bad", [ch], HyperParameters=hps))
    d = _wait(sm, "fake-bad")
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith(needle), d["FailureReason"]
    assert d["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    assert "model.tar.gz" not in str(
        lab.client("s3").list_objects_v2(Bucket=lab.bucket, Prefix="out/fake-bad")
    )


def test_empty_channel_fails(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_training_job(
        **_request(lab, "fake-empty", [_channel("train", f"s3://{lab.bucket}/nothing/")])
    )
    d = _wait(sm, "fake-empty")
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: Data download failed:No S3 objects found")


def test_unsupported_image_lists_supported(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    req = _request(lab, "no-emul", _train_val(lab))
    req["AlgorithmSpecification"]["TrainingImage"] = (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:latest"
    )
    sm.create_training_job(**req)
    d = _wait(sm, "no-emul")
    assert d["TrainingJobStatus"] == "Failed"
    assert "has no offline emulation" in d["FailureReason"] and "fake-linear" in d["FailureReason"]


def test_synchronous_validation_errors(lab: Any, fake_algo: Any) -> None:
    from botocore.exceptions import ClientError

    sm = lab.client("sagemaker")
    chans = _train_val(lab)
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**_request(lab, "v1", chans, RoleArn="MySageMakerExecutionRole"))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "roleArn" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**_request(lab, "v1", [_channel("train", "/local/data")]))
    assert "s3Uri" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        sm.create_training_job(
            **_request(lab, "v1", chans, RoleArn="arn:aws:iam::123456789012:role/NoSuchRole")
        )
    assert "Could not assume role" in err.value.response["Error"]["Message"]
    sm.create_training_job(**_request(lab, "v1", chans))
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**_request(lab, "v1", chans))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    _wait(sm, "v1")


def test_stop_training_job(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    req = _request(
        lab, "fake-stop", _train_val(lab), HyperParameters={"feature_dim": "3", "sleep": "30"}
    )
    sm.create_training_job(**req)
    wait_for(
        lambda: sm.describe_training_job(TrainingJobName="fake-stop"),
        lambda d: d["SecondaryStatus"] == "Training",
        "fake-stop to start training",
    )
    sm.stop_training_job(TrainingJobName="fake-stop")
    d = _wait(sm, "fake-stop")
    assert d["TrainingJobStatus"] == "Stopped"
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="status Stopped"):
        sm.stop_training_job(TrainingJobName="fake-stop")


def test_max_runtime_is_a_hard_limit(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    req = _request(
        lab,
        "fake-slow",
        _train_val(lab),
        HyperParameters={"feature_dim": "3", "sleep": "60"},
        StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    sm.create_training_job(**req)
    d = _wait(sm, "fake-slow")
    assert d["TrainingJobStatus"] == "Stopped"
    assert d["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_spot_billable_time_is_discounted(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    req = _request(
        lab,
        "fake-spot",
        _train_val(lab),
        EnableManagedSpotTraining=True,
        HyperParameters={"feature_dim": "3", "sleep": "2"},
        StoppingCondition={"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": 600},
    )
    sm.create_training_job(**req)
    d = _wait(sm, "fake-spot")
    assert d["TrainingJobStatus"] == "Completed"
    assert d["EnableManagedSpotTraining"] is True
    assert d["BillableTimeInSeconds"] < d["TrainingTimeInSeconds"]


def test_lab_close_stops_running_job(fake_algo: Any) -> None:
    from mllab import Lab
    from mllab.offline.sagemaker import training

    lab = Lab("close-test")
    sm = lab.client("sagemaker")
    sm.create_training_job(
        **_request(
            lab, "fake-close", _train_val(lab), HyperParameters={"feature_dim": "3", "sleep": "60"}
        )
    )
    run = [r for r in training.runs() if r.name == "fake-close"][-1]
    lab.close()
    # stopped, not waited for: the job would sleep 60 s and end Completed otherwise
    assert run.done.is_set() and run.status == "Stopped"
    assert training.runs() == []  # the wiped offline account forgets its jobs


def test_multi_instance_sharded(lab: Any, fake_algo: Any) -> None:
    sm = lab.client("sagemaker")
    x, y = _data(40)
    for i in range(4):
        _put(
            lab,
            f"shard/train/part-{i}.csv",
            _csv(x[i * 10 : (i + 1) * 10], y[i * 10 : (i + 1) * 10]),
        )
    ch = _channel("train", f"s3://{lab.bucket}/shard/train/")
    ch["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    ch["InputMode"] = "Pipe"
    req = _request(lab, "fake-shard", [ch])
    req["ResourceConfig"]["InstanceCount"] = 2
    sm.create_training_job(**req)
    d = _wait(sm, "fake-shard")
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    logs = lab.client("logs")
    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="fake-shard/"
    )["logStreams"][0]["logStreamName"]
    text = "\n".join(
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream
        )["events"]
    )
    assert "Pipe input mode runs as File mode" in text
    assert "ShardedByS3Key shard of channel train (2 objects)" in text


def test_runner_child_does_not_import_boto3(tmp_path: Path) -> None:
    import subprocess
    import sys

    from mllab.offline.sagemaker import jobproc

    root = tmp_path / "ml"
    (root / "output").mkdir(parents=True)
    code = tmp_path / "code"
    code.mkdir()
    (code / "probe.py").write_text(
        "import sys, os\nprint('boto3' in sys.modules, 'mllab.lab' in sys.modules)\n"
        "open('/opt/ml/output/hello.txt', 'w').write('hi')\n"
    )
    (tmp_path / "job.json").write_text(
        json.dumps(
            {
                "mode": "script",
                "root": str(root),
                "script": {"program": "probe.py", "args": [], "cwd": str(code)},
            }
        )
    )
    out = subprocess.run(
        [sys.executable, str(jobproc.RUNNER), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False False"
    assert (root / "output" / "hello.txt").read_text() == "hi"  # /opt/ml paths map to the job root
