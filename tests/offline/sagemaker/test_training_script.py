"""Script mode on the scikit-learn/XGBoost framework images: boto3 and the SDK v3 ModelTrainer."""

from __future__ import annotations

import io
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.hang import wait_for_job

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

TRAIN_PY = textwrap.dedent(
    """
    import argparse, json, os, sys
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import joblib

    p = argparse.ArgumentParser()
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    p.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = p.parse_args()
    print("argv:", sys.argv[1:])
    print("SM_HP_C:", os.environ.get("SM_HP_C"), "hosts:", os.environ["SM_HOSTS"], "cpus:", os.environ["SM_NUM_CPUS"])
    env = json.loads(os.environ["SM_TRAINING_ENV"])
    assert env["hyperparameters"]["C"] == args.C, env["hyperparameters"]
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",")
    clf = LogisticRegression(C=args.C).fit(data[:, 1:], data[:, 0])
    print(f"train-accuracy={clf.score(data[:, 1:], data[:, 0]):.6f}")
    joblib.dump(clf, "/opt/ml/model/model.joblib")   # a hard-coded container path works
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "notes.txt"), "w") as f:
        f.write("done")
    """
)

CKPT_PY = textwrap.dedent(
    """
    import os
    ck = "/opt/ml/checkpoints/epoch.txt"
    start = int(open(ck).read()) if os.path.exists(ck) else 0
    print(f"resuming from epoch {start}")
    os.makedirs("/opt/ml/checkpoints", exist_ok=True)
    open(ck, "w").write(str(start + 2))
    open(os.path.join(os.environ["SM_MODEL_DIR"], "m.txt"), "w").write(str(start + 2))
    """
)


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x @ np.array([1.0, -1.0, 0.5, 0.0]) + rng.normal(scale=0.3, size=n) > 0).astype(float)
    return x, y


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _wait(sm: Any, name: str) -> dict[str, Any]:
    return wait_for_job(sm, "training", name)


def _boto3_job(
    lab: Any, name: str, files: dict[str, str], hps: dict[str, str], **kw: Any
) -> dict[str, Any]:
    s3 = lab.client("s3")
    x, y = _data()
    s3.put_object(
        Bucket=lab.bucket,
        Key="sk/train/train.csv",
        Body="\n".join(",".join(map(str, [yi, *r])) for yi, r in zip(y, x, strict=True)).encode(),
    )
    s3.put_object(Bucket=lab.bucket, Key=f"code/{name}/sourcedir.tar.gz", Body=_tar(files))
    req: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": SKLEARN_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:accuracy", "Regex": "train-accuracy=([0-9.]+)"}],
        },
        "RoleArn": lab.role_arn,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{lab.bucket}/sk/train/",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{lab.bucket}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{lab.bucket}/code/{name}/sourcedir.tar.gz"',
            **hps,
        },
    }
    req.update(kw)
    sm = lab.client("sagemaker")
    sm.create_training_job(**req)
    return _wait(sm, name)


def _log_text(lab: Any, name: str) -> str:
    logs = lab.client("logs")
    stream = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"][0]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
    )
    return "\n".join(e["message"] for e in events["events"])


def test_boto3_framework_script_mode(lab: Any) -> None:
    d = _boto3_job(lab, "sk-ok", {"train.py": TRAIN_PY}, {"C": "0.5"})
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    text = _log_text(lab, "sk-ok")
    assert "argv: ['--C', '0.5']" in text
    assert "SM_HP_C: 0.5" in text and 'hosts: ["algo-1"]' in text and "cpus: 2" in text
    s3 = lab.client("s3")
    body = s3.get_object(Bucket=lab.bucket, Key="out/sk-ok/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["model.joblib"]
        import joblib

        clf = joblib.load(tar.extractfile("model.joblib"))  # type: ignore[arg-type]
    out = s3.get_object(Bucket=lab.bucket, Key="out/sk-ok/output/output.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        assert tar.getnames() == ["notes.txt"]
    # fidelity: the reported metric is the artifact's score, and equals a direct run
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    direct = LogisticRegression(C=0.5).fit(x, y).score(x, y)
    reported = d["FinalMetricDataList"][0]["Value"]
    assert reported == pytest.approx(clf.score(x, y), abs=1e-6) == pytest.approx(direct, abs=1e-6)


def test_script_error_reads_like_aws(lab: Any) -> None:
    d = _boto3_job(lab, "sk-err", {"train.py": "raise ValueError('bad column count')\n"}, {})
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError:")
    assert "ValueError: bad column count" in d["FailureReason"]
    assert "Traceback" in _log_text(lab, "sk-err")


def test_requirements_naming_missing_package_fails(lab: Any) -> None:
    files = {"train.py": TRAIN_PY, "requirements.txt": "numpy\nsurely-not-installed-pkg==1.0\n"}
    d = _boto3_job(lab, "sk-req", files, {})
    assert d["TrainingJobStatus"] == "Failed"
    assert "InstallRequirementsError" in d["FailureReason"]
    assert (
        "surely-not-installed-pkg" in d["FailureReason"]
        and "numpy" not in d["FailureReason"].split(":")[-1]
    )


def test_memory_limit_of_instance_type(lab: Any) -> None:
    script = "x = bytearray(9 * 2**30)\nprint('allocated')\n"
    d = _boto3_job(lab, "sk-oom", {"train.py": script}, {})
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith(
        "OutOfMemoryError: Please use an instance type with more memory"
    )
    assert "8 GiB of memory of ml.m5.large" in _log_text(lab, "sk-oom")


def test_checkpoints_resume_from_s3(lab: Any) -> None:
    ck = {"S3Uri": f"s3://{lab.bucket}/ckpt/run1"}
    d1 = _boto3_job(lab, "ck-1", {"train.py": CKPT_PY}, {}, CheckpointConfig=ck)
    assert d1["TrainingJobStatus"] == "Completed", d1.get("FailureReason")
    assert "resuming from epoch 0" in _log_text(lab, "ck-1")
    d2 = _boto3_job(lab, "ck-2", {"train.py": CKPT_PY}, {}, CheckpointConfig=ck)
    assert d2["TrainingJobStatus"] == "Completed"
    assert "resuming from epoch 2" in _log_text(lab, "ck-2")
    body = lab.client("s3").get_object(Bucket=lab.bucket, Key="ckpt/run1/epoch.txt")["Body"].read()
    assert body == b"4"


def test_sklearn_image_without_program_fails_clearly(lab: Any) -> None:
    sm = lab.client("sagemaker")
    lab.client("s3").put_object(Bucket=lab.bucket, Key="x/train.csv", Body=b"1,2\n")
    sm.create_training_job(
        TrainingJobName="sk-noprog",
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=lab.role_arn,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{lab.bucket}/x/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{lab.bucket}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    d = _wait(sm, "sk-noprog")
    assert d["TrainingJobStatus"] == "Failed" and "sagemaker_program" in d["FailureReason"]


def test_sdk_model_trainer_source_code(lab: Any, tmp_path: Path) -> None:
    from sagemaker.core.training.configs import Compute, InputData, SourceCode, StoppingCondition
    from sagemaker.train.model_trainer import ModelTrainer

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN_PY)
    x, y = _data()
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="sdk/train/train.csv",
        Body="\n".join(",".join(map(str, [yi, *r])) for yi, r in zip(y, x, strict=True)).encode(),
    )
    trainer = ModelTrainer(
        training_image=SKLEARN_IMAGE,
        source_code=SourceCode(source_dir=str(src), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
        hyperparameters={"C": 0.5},
        role=lab.role_arn,
        sagemaker_session=lab.sm_session,
        base_job_name="sdk-sk",
    )
    trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=f"s3://{lab.bucket}/sdk/train/")
        ],
        wait=True,
        logs=False,
    )
    job = trainer._latest_training_job
    d = lab.client("sagemaker").describe_training_job(TrainingJobName=job.training_job_name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert "argv: ['--C', '0.5']" in _log_text(lab, job.training_job_name)
    key = d["ModelArtifacts"]["S3ModelArtifacts"].split(lab.bucket + "/", 1)[1]
    body = lab.client("s3").get_object(Bucket=lab.bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "model.joblib" in tar.getnames()


def test_sdk_model_trainer_builtin_xgboost_matches_direct_run(lab: Any) -> None:
    """Built-in XGBoost via the SDK: the reported validation metric equals the artifact's score."""
    pytest.importorskip("mllab.offline.sagemaker.algorithms.xgboost")
    import xgboost as xgb
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, StoppingCondition
    from sagemaker.train.model_trainer import ModelTrainer
    from sklearn.metrics import roc_auc_score

    x, y = _data(400)
    xv, yv = _data(200, seed=1)
    s3 = lab.client("s3")
    for name, (a, b) in {"train": (x, y), "validation": (xv, yv)}.items():
        body = "\n".join(",".join(f"{v:.6f}" for v in [yi, *r]) for yi, r in zip(b, a, strict=True))
        s3.put_object(Bucket=lab.bucket, Key=f"xgb/{name}/data.csv", Body=body.encode())
    hps = {
        "objective": "binary:logistic",
        "num_round": 20,
        "max_depth": 3,
        "eta": 0.3,
        "eval_metric": "auc",
    }
    trainer = ModelTrainer(
        training_image=image_uris.retrieve("xgboost", lab.region, version="1.7-1"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
        hyperparameters=hps,
        role=lab.role_arn,
        sagemaker_session=lab.sm_session,
        base_job_name="sdk-xgb",
    )
    inputs = [
        InputData(
            channel_name=c, data_source=f"s3://{lab.bucket}/xgb/{c}/", content_type="text/csv"
        )
        for c in ("train", "validation")
    ]
    trainer.train(input_data_config=inputs, wait=True, logs=False)
    name = trainer._latest_training_job.training_job_name
    d = lab.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    reported = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}
    assert "validation:auc" in reported
    key = d["ModelArtifacts"]["S3ModelArtifacts"].split(lab.bucket + "/", 1)[1]
    with tarfile.open(
        fileobj=io.BytesIO(s3.get_object(Bucket=lab.bucket, Key=key)["Body"].read())
    ) as tar:
        member = tar.getnames()[0]
        raw = tar.extractfile(member).read()  # type: ignore[union-attr]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    xv6, yv6 = np.round(xv, 6), yv
    auc = roc_auc_score(yv6, booster.predict(xgb.DMatrix(xv6)))
    assert reported["validation:auc"] == pytest.approx(auc, abs=1e-4)
    direct = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 2},
        xgb.DMatrix(np.round(x, 6), label=y),
        num_boost_round=20,
    )
    assert roc_auc_score(yv6, direct.predict(xgb.DMatrix(xv6))) == pytest.approx(auc, abs=0.02)
