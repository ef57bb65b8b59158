"""Serverless, asynchronous, multi-model and script-mode endpoints."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.hang import HANG_GUARD_S

try:
    from .test_hosting import (
        FAKE_IMAGE,
        SKLEARN_IMAGE,
        _endpoint,
        _model,
        _tar,
        _variant,
        fake_algo,
        upload_linear,
    )
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import (
        FAKE_IMAGE,
        SKLEARN_IMAGE,
        _endpoint,
        _model,
        _tar,
        _variant,
        fake_algo,
        upload_linear,
    )

__all__ = ["fake_algo"]


def _serverless(model: str, memory: int = 2048, concurrency: int = 1) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": memory, "MaxConcurrency": concurrency},
    }


# --------------------------------------------------------------------------- serverless
@pytest.mark.parametrize(
    ("memory", "concurrency", "match"),
    [
        (1500, 1, "memorySizeInMB"),
        (7168, 1, "memorySizeInMB"),
        (2048, 201, "less than or equal to 200"),
    ],
)
def test_serverless_config_is_validated(
    lab: Any, fake_algo: Any, memory: int, concurrency: int, match: str
) -> None:
    _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [1.0]), image=FAKE_IMAGE)
    with pytest.raises(ClientError, match=match):
        lab.client("sagemaker").create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_serverless("m", memory, concurrency)]
        )


def test_serverless_throttles_over_max_concurrency_and_records_cold_start(
    lab: Any, fake_algo: Any
) -> None:
    from mllab.offline.sagemaker import hosting

    _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [2.0, 1.0]), image=FAKE_IMAGE)
    _endpoint(lab, "sl", [_serverless("m", 2048, 1)])
    vr = hosting.get_runtime(lab.account_id, lab.region, "sl").variants["AllTraffic"]
    gate = threading.Event()
    vr.served.model["block"] = gate
    results: list[Any] = []

    def first() -> None:
        client = lab.session.client("sagemaker-runtime")
        results.append(
            client.invoke_endpoint(EndpointName="sl", Body=b"1,1", ContentType="text/csv")
        )

    t = threading.Thread(target=first)
    t.start()
    deadline = time.time() + HANG_GUARD_S
    while vr.in_flight < 1 and time.time() < deadline:
        time.sleep(0.01)
    rt = lab.client("sagemaker-runtime")
    with pytest.raises(ClientError) as err:
        rt.invoke_endpoint(EndpointName="sl", Body=b"1,1", ContentType="text/csv")
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    gate.set()
    t.join(10)
    assert results and results[0]["Body"].read() == b"3.0"
    vr.served.model["block"] = None
    # warm now: a second call works
    assert (
        rt.invoke_endpoint(EndpointName="sl", Body=b"1,2", ContentType="text/csv")["Body"].read()
        == b"4.0"
    )

    now = dt.datetime.now(dt.UTC)
    setup = lab.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelSetupTime",
        Dimensions=[
            {"Name": "EndpointName", "Value": "sl"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(minutes=1),
        Period=3600,
        Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    assert setup and setup[0]["SampleCount"] == 1 and setup[0]["Maximum"] > 0
    # serverless payloads are capped at 4 MB
    with pytest.raises(ClientError, match="oversize body"):
        rt.invoke_endpoint(
            EndpointName="sl", Body=b"1" * (4 * 1024 * 1024 + 1), ContentType="text/csv"
        )


# --------------------------------------------------------------------------- async
def test_async_inference_writes_output_and_failure_objects_and_notifies(
    lab: Any, fake_algo: Any
) -> None:
    from mllab.offline.sagemaker import runtime

    sns, sqs, s3 = lab.client("sns"), lab.client("sqs"), lab.client("s3")
    ok_topic = sns.create_topic(Name="ok")["TopicArn"]
    err_topic = sns.create_topic(Name="err")["TopicArn"]
    queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for topic in (ok_topic, err_topic):
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"}
        )

    _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [1.0, 10.0]), image=FAKE_IMAGE)
    _endpoint(
        lab,
        "as",
        [_variant("m")],
        AsyncInferenceConfig={
            "OutputConfig": {
                "S3OutputPath": f"s3://{lab.bucket}/async/out",
                "S3FailurePath": f"s3://{lab.bucket}/async/fail",
                "NotificationConfig": {"SuccessTopic": ok_topic, "ErrorTopic": err_topic},
            }
        },
    )
    s3.put_object(Bucket=lab.bucket, Key="async/in/good.csv", Body=b"1,2\n3,4")
    s3.put_object(Bucket=lab.bucket, Key="async/in/bad.csv", Body=b"not,numbers")
    rt = lab.client("sagemaker-runtime")
    good = rt.invoke_endpoint_async(
        EndpointName="as",
        InputLocation=f"s3://{lab.bucket}/async/in/good.csv",
        ContentType="text/csv",
        InferenceId="g1",
    )
    bad = rt.invoke_endpoint_async(
        EndpointName="as",
        InputLocation=f"s3://{lab.bucket}/async/in/bad.csv",
        ContentType="text/csv",
    )
    assert good["InferenceId"] == "g1"
    assert good["OutputLocation"].startswith(f"s3://{lab.bucket}/async/out/") and good[
        "OutputLocation"
    ].endswith(".out")
    assert good["FailureLocation"].startswith(f"s3://{lab.bucket}/async/fail/")
    assert runtime.wait_async(30)

    def read(uri: str) -> bytes:
        bucket, key = uri[5:].split("/", 1)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    assert read(good["OutputLocation"]) == b"21.0\n43.0"
    assert b"Unable to parse" in read(bad["FailureLocation"])
    with pytest.raises(ClientError):
        read(bad["OutputLocation"])

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    events = [json.loads(m["Body"]) for m in messages]
    statuses = sorted(e["invocationStatus"] for e in events)
    assert statuses == ["Completed", "Failed"]
    done = next(e for e in events if e["invocationStatus"] == "Completed")
    assert (
        done["inferenceId"] == "g1"
        and done["responseParameters"]["outputLocation"] == good["OutputLocation"]
    )

    with pytest.raises(ClientError, match="asynchronous endpoint"):
        rt.invoke_endpoint(EndpointName="as", Body=b"1,2", ContentType="text/csv")


# --------------------------------------------------------------------------- multi-model
def test_multi_model_endpoint_loads_target_models_on_demand(lab: Any, fake_algo: Any) -> None:
    from mllab.offline.sagemaker import hosting

    upload_linear(lab, "mme/a.tar.gz", [1.0, 0.0])
    upload_linear(lab, "mme/b.tar.gz", [0.0, 1.0])
    lab.client("sagemaker").create_model(
        ModelName="mme",
        ExecutionRoleArn=lab.role_arn,
        PrimaryContainer={
            "Image": FAKE_IMAGE,
            "ModelDataUrl": f"s3://{lab.bucket}/mme/",
            "Mode": "MultiModel",
        },
    )
    _endpoint(lab, "mme-ep", [_variant("mme")])
    rt = lab.client("sagemaker-runtime")
    a = rt.invoke_endpoint(
        EndpointName="mme-ep", Body=b"5,7", ContentType="text/csv", TargetModel="a.tar.gz"
    )
    b = rt.invoke_endpoint(
        EndpointName="mme-ep", Body=b"5,7", ContentType="text/csv", TargetModel="b.tar.gz"
    )
    assert (a["Body"].read(), b["Body"].read()) == (b"5.0", b"7.0")
    vr = hosting.get_runtime(lab.account_id, lab.region, "mme-ep").variants["AllTraffic"]
    assert sorted(vr.mme_models) == ["a.tar.gz", "b.tar.gz"]
    with pytest.raises(ClientError, match="Failed to download model data") as err:
        rt.invoke_endpoint(
            EndpointName="mme-ep", Body=b"5,7", ContentType="text/csv", TargetModel="c.tar.gz"
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError, match="pass TargetModel"):
        rt.invoke_endpoint(EndpointName="mme-ep", Body=b"5,7", ContentType="text/csv")


# --------------------------------------------------------------------------- script mode
_SCRIPT = b"""
import json
import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return model.predict_proba(np.atleast_2d(data))[:, 1]
"""


def _sklearn_model() -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def _joblib_bytes(model: Any) -> bytes:
    import io

    import joblib

    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.getvalue()


def test_sklearn_script_in_model_tarball_serves_predictions(lab: Any) -> None:
    clf, X = _sklearn_model()
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="sk/model.tar.gz",
        Body=_tar({"model.joblib": _joblib_bytes(clf), "code/inference.py": _SCRIPT}),
    )
    _model(lab, "sk", f"s3://{lab.bucket}/sk/model.tar.gz", image=SKLEARN_IMAGE)
    _endpoint(lab, "sk-ep", [_variant("sk")])
    rt = lab.client("sagemaker-runtime")
    res = rt.invoke_endpoint(
        EndpointName="sk-ep", Body=json.dumps(X[:5].tolist()), ContentType="application/json"
    )
    assert res["ContentType"] == "application/json"
    got = json.loads(res["Body"].read())
    np.testing.assert_allclose(got, clf.predict_proba(X[:5].astype(np.float32))[:, 1], rtol=1e-6)
    res = rt.invoke_endpoint(
        EndpointName="sk-ep",
        Body="\n".join(",".join(repr(float(v)) for v in r) for r in X[:3]),
        ContentType="text/csv",
        Accept="text/csv",
    )
    got = [float(v) for v in res["Body"].read().decode().split()]
    np.testing.assert_allclose(got, clf.predict_proba(X[:3].astype(np.float32))[:, 1], rtol=1e-6)
    with pytest.raises(
        rt.exceptions.ModelError, match=r"client error \(415\).*not supported by this framework"
    ):
        rt.invoke_endpoint(EndpointName="sk-ep", Body=b"\x00", ContentType="application/x-image")


def test_sklearn_defaults_with_submit_directory(lab: Any) -> None:
    """Only model_fn in the script: the container's default input/predict/output apply."""
    clf, X = _sklearn_model()
    s3 = lab.client("s3")
    s3.put_object(
        Bucket=lab.bucket, Key="sk2/model.tar.gz", Body=_tar({"model.joblib": _joblib_bytes(clf)})
    )
    script = b"import joblib, os\n\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"
    s3.put_object(Bucket=lab.bucket, Key="sk2/sourcedir.tar.gz", Body=_tar({"serve.py": script}))
    _model(
        lab,
        "sk2",
        f"s3://{lab.bucket}/sk2/model.tar.gz",
        image=SKLEARN_IMAGE,
        Environment={
            "SAGEMAKER_PROGRAM": "serve.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{lab.bucket}/sk2/sourcedir.tar.gz",
        },
    )
    _endpoint(lab, "sk2-ep", [_variant("sk2")])
    rt = lab.client("sagemaker-runtime")
    body = "\n".join(",".join(repr(float(v)) for v in r) for r in X[:4])
    got = json.loads(
        rt.invoke_endpoint(EndpointName="sk2-ep", Body=body, ContentType="text/csv")["Body"].read()
    )
    assert got == clf.predict(X[:4].astype(np.float32)).tolist()
    # one CSV row decodes to a 1-D array, which scikit-learn refuses (as on AWS)
    with pytest.raises(rt.exceptions.ModelError, match=r"server error \(500\).*2D array"):
        rt.invoke_endpoint(EndpointName="sk2-ep", Body=body.splitlines()[0], ContentType="text/csv")


def test_sklearn_without_model_fn_fails_to_start(lab: Any) -> None:
    clf, _ = _sklearn_model()
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="sk3/model.tar.gz",
        Body=_tar({"model.joblib": _joblib_bytes(clf), "code/inference.py": b"x = 1\n"}),
    )
    _model(lab, "sk3", f"s3://{lab.bucket}/sk3/model.tar.gz", image=SKLEARN_IMAGE)
    _endpoint(lab, "sk3-ep", [_variant("sk3")], wait=False)
    desc = lab.client("sagemaker").describe_endpoint(EndpointName="sk3-ep")
    assert desc["EndpointStatus"] == "Failed"
    assert "model_fn" in desc["FailureReason"]
