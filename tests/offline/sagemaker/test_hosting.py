"""Offline hosting: endpoints load model.tar.gz from S3 and answer with real predictions."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _data(n: int = 300, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(float)
    return X, y


def _booster(seed: int = 0, rounds: int = 10) -> Any:
    import xgboost as xgb

    X, y = _data(seed=seed)
    return xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": seed},
        xgb.DMatrix(X, label=y),
        rounds,
    )


def _upload_booster(lab: Any, key: str, booster: Any) -> str:
    raw = booster.save_raw(raw_format="ubj")
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key=key, Body=_tar({"xgboost-model": bytes(raw)})
    )
    return f"s3://{lab.bucket}/{key}"


def _model(lab: Any, name: str, url: str, image: str = XGB_IMAGE, **container: Any) -> None:
    lab.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=lab.role_arn,
        PrimaryContainer={"Image": image, "ModelDataUrl": url, **container},
    )


def _endpoint(
    lab: Any, name: str, variants: list[dict[str, Any]], wait: bool = True, **cfg: Any
) -> None:
    sm = lab.client("sagemaker")
    sm.create_endpoint_config(EndpointConfigName=f"{name}-cfg", ProductionVariants=variants, **cfg)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")
    if wait:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )


def _variant(
    model: str, name: str = "AllTraffic", weight: float = 1.0, n: int = 1
) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": n,
        "InitialVariantWeight": weight,
    }


def _csv(X: np.ndarray) -> str:
    return "\n".join(",".join(f"{v:.6f}" for v in row) for row in X)


def test_endpoint_serves_the_artifacts_predictions(lab: Any) -> None:
    import xgboost as xgb

    booster = _booster()
    url = _upload_booster(lab, "models/xgb/model.tar.gz", booster)
    _model(lab, "xgb", url)
    _endpoint(lab, "xgb-ep", [_variant("xgb")])
    sm = lab.client("sagemaker")
    desc = sm.describe_endpoint(EndpointName="xgb-ep")
    assert desc["EndpointStatus"] == "InService"
    pv = desc["ProductionVariants"][0]
    assert pv["CurrentWeight"] == 1.0 and pv["CurrentInstanceCount"] == 1
    assert pv["DeployedImages"][0]["SpecifiedImage"] == XGB_IMAGE

    X, _ = _data(20, seed=5)
    body = _csv(X)
    rt = lab.client("sagemaker-runtime")
    res = rt.invoke_endpoint(EndpointName="xgb-ep", Body=body, ContentType="text/csv")
    assert isinstance(res["Body"], StreamingBody)
    assert res["ContentType"] == "text/csv"
    assert res["InvokedProductionVariant"] == "AllTraffic"
    got = np.array([float(v) for v in res["Body"].read().decode().split(",")])
    Xr = np.array([[float(f"{v:.6f}") for v in row] for row in X])
    direct = booster.predict(xgb.DMatrix(Xr))
    np.testing.assert_allclose(got, direct, rtol=1e-6)

    # JSON out per Accept; libsvm in
    res = rt.invoke_endpoint(
        EndpointName="xgb-ep", Body=body, ContentType="text/csv", Accept="application/json"
    )
    scores = [p["score"] for p in json.loads(res["Body"].read())["predictions"]]
    np.testing.assert_allclose(scores, direct, rtol=1e-6)
    libsvm = "\n".join(" ".join(f"{j}:{v:.6f}" for j, v in enumerate(row)) for row in X)
    res = rt.invoke_endpoint(EndpointName="xgb-ep", Body=libsvm, ContentType="text/libsvm")
    np.testing.assert_allclose(
        [float(v) for v in res["Body"].read().decode().split(",")], direct, rtol=1e-6
    )


def test_status_moves_creating_to_in_service(lab: Any) -> None:
    from mllab.offline.sagemaker import hosting

    url = _upload_booster(lab, "m/model.tar.gz", _booster())
    _model(lab, "m", url)
    _endpoint(lab, "ep", [_variant("m")], wait=False)
    ep = hosting.backend(lab.account_id, lab.region).endpoints["ep"]
    assert ep.endpoint_status in ("Creating", "InService")
    hosting.wait_loaded(lab.account_id, lab.region, "ep")
    assert (
        lab.client("sagemaker").describe_endpoint(EndpointName="ep")["EndpointStatus"]
        == "InService"
    )


def test_missing_artifact_fails_the_endpoint_with_awss_reason(lab: Any) -> None:
    _model(lab, "gone", f"s3://{lab.bucket}/nothing/model.tar.gz")
    _endpoint(lab, "bad", [_variant("gone")], wait=False)
    sm = lab.client("sagemaker")
    with pytest.raises(Exception, match="Failed"):
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName="bad", WaiterConfig={"Delay": 1, "MaxAttempts": 3}
        )
    desc = sm.describe_endpoint(EndpointName="bad")
    assert desc["EndpointStatus"] == "Failed"
    assert desc["FailureReason"].startswith("Failed to download model data for container")
    assert "nothing/model.tar.gz" in desc["FailureReason"]
    logs = lab.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/bad")["logStreams"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/Endpoints/bad", logStreamName=streams[0]["logStreamName"]
    )
    assert any("Failed to download" in e["message"] for e in events["events"])


def test_unsupported_image_fails(lab: Any) -> None:
    url = _upload_booster(lab, "m/model.tar.gz", _booster())
    _model(
        lab, "odd", url, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-server:latest"
    )
    _endpoint(lab, "odd-ep", [_variant("odd")], wait=False)
    desc = lab.client("sagemaker").describe_endpoint(EndpointName="odd-ep")
    assert desc["EndpointStatus"] == "Failed"
    assert "cannot be served offline" in desc["FailureReason"]


def test_invoke_errors_as_aws_gives_them(lab: Any) -> None:
    url = _upload_booster(lab, "m/model.tar.gz", _booster())
    _model(lab, "m", url)
    _endpoint(lab, "ep", [_variant("m")])
    rt = lab.client("sagemaker-runtime")
    with pytest.raises(ClientError) as err:
        rt.invoke_endpoint(EndpointName="nope", Body=b"1,2,3,4", ContentType="text/csv")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert (
        err.value.response["Error"]["Message"]
        == f"Endpoint nope of account {lab.account_id} not found."
    )

    with pytest.raises(rt.exceptions.ModelError) as err:
        rt.invoke_endpoint(EndpointName="ep", Body=b'{"a": 1}', ContentType="application/json")
    msg = err.value.response["Error"]["Message"]
    assert msg.startswith("Received client error (415) from primary with message")
    assert "/aws/sagemaker/Endpoints/ep" in msg and lab.account_id in msg
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424

    with pytest.raises(rt.exceptions.ModelError, match=r"client error \(400\)"):
        rt.invoke_endpoint(EndpointName="ep", Body=b"f0,f1,f2,f3\n1,2,3,4", ContentType="text/csv")

    with pytest.raises(ClientError) as err:
        rt.invoke_endpoint(
            EndpointName="ep", Body=b"1" * (6 * 1024 * 1024 + 1), ContentType="text/csv"
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "oversize body" in err.value.response["Error"]["Message"]


def test_update_endpoint_switches_models_and_rolls_back_on_failure(lab: Any) -> None:
    import xgboost as xgb

    b1, b2 = _booster(seed=1, rounds=3), _booster(seed=2, rounds=20)
    _model(lab, "m1", _upload_booster(lab, "m1/model.tar.gz", b1))
    _model(lab, "m2", _upload_booster(lab, "m2/model.tar.gz", b2))
    _model(lab, "m3", f"s3://{lab.bucket}/missing/model.tar.gz")
    _endpoint(lab, "ep", [_variant("m1")])
    sm = lab.client("sagemaker")
    sm.create_endpoint_config(EndpointConfigName="cfg2", ProductionVariants=[_variant("m2")])
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg2")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="ep", WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )
    assert sm.describe_endpoint(EndpointName="ep")["EndpointConfigName"] == "cfg2"
    X, _ = _data(5, seed=9)
    Xr = np.array([[float(f"{v:.6f}") for v in row] for row in X])
    out = lab.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="ep", Body=_csv(X), ContentType="text/csv"
    )
    got = [float(v) for v in out["Body"].read().decode().split(",")]
    np.testing.assert_allclose(got, b2.predict(xgb.DMatrix(Xr)), rtol=1e-6)

    sm.create_endpoint_config(EndpointConfigName="cfg3", ProductionVariants=[_variant("m3")])
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg3")
    desc = sm.describe_endpoint(EndpointName="ep")
    assert desc["EndpointStatus"] == "InService"
    assert desc["EndpointConfigName"] == "cfg2"
    assert "Failed to download model data" in desc["FailureReason"]


def test_delete_endpoint_drops_the_model(lab: Any) -> None:
    from mllab.offline.sagemaker import hosting

    _model(lab, "m", _upload_booster(lab, "m/model.tar.gz", _booster()))
    _endpoint(lab, "ep", [_variant("m")])
    rt = hosting.get_runtime(lab.account_id, lab.region, "ep")
    assert rt is not None and rt.root is not None and rt.root.exists()
    lab.client("sagemaker").delete_endpoint(EndpointName="ep")
    assert hosting.get_runtime(lab.account_id, lab.region, "ep") is None
    assert not rt.root.exists()
    with pytest.raises(ClientError, match="not found"):
        lab.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="ep", Body=b"1,2,3,4", ContentType="text/csv"
        )


# --------------------------------------------------------------------------- a fast stand-in algorithm
FAKE_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fake-linear:1"


class LinearAlgo:
    """A tiny built-in-algorithm stand-in: score = w . x, weights in ``weights.json``."""

    @staticmethod
    def load(model_dir: Any) -> dict[str, Any]:
        from pathlib import Path

        return json.loads((Path(model_dir) / "weights.json").read_text())

    @staticmethod
    def predict(
        model: dict[str, Any], body: bytes, content_type: str, accept: str
    ) -> tuple[bytes, str]:
        from mllab.offline.sagemaker.contract import ClientError as AlgoClientError

        ct = content_type.split(";")[0]
        if ct not in ("text/csv", "application/jsonlines"):
            raise AlgoClientError(f"Content type {content_type} is not supported; use text/csv")
        if model.get("block") is not None:
            model["block"].wait(5)
        try:
            lines = body.decode().strip().splitlines()
            if ct == "application/jsonlines":
                rows = [[float(v) for v in json.loads(ln)] for ln in lines]
            else:
                rows = [[float(v) for v in ln.split(",")] for ln in lines]
        except ValueError as err:
            raise AlgoClientError(f"Unable to parse the CSV body: {err}") from None
        scores = [sum(w * x for w, x in zip(model["w"], r, strict=False)) for r in rows]
        if accept.startswith("application/json"):
            return json.dumps(
                {"predictions": [{"score": s} for s in scores]}
            ).encode(), "application/json"
        return "\n".join(repr(s) for s in scores).encode(), "text/csv"


def upload_linear(lab: Any, key: str, w: list[float]) -> str:
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key=key, Body=_tar({"weights.json": json.dumps({"w": w}).encode()})
    )
    return f"s3://{lab.bucket}/{key}"


@pytest.fixture
def fake_algo() -> Any:
    from mllab.offline.sagemaker import hosting

    remove = hosting.register_algorithm("fake-linear", LinearAlgo)
    yield LinearAlgo
    remove()
