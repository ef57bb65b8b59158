"""Offline batch transform: splitting, batching, join and filters, against direct computation."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

try:
    from .test_hosting import (
        FAKE_IMAGE,
        _booster,
        _model,
        _upload_booster,
        fake_algo,
        upload_linear,
    )
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import FAKE_IMAGE, _booster, _model, _upload_booster, fake_algo, upload_linear

__all__ = ["fake_algo"]


def _job(
    lab: Any, name: str, model: str, uri: str, out: str, wait: bool = True, **kw: Any
) -> dict[str, Any]:
    split = kw.pop("SplitType", "Line")
    content_type = kw.pop("ContentType", "text/csv")
    accept = kw.pop("Accept", "text/csv")
    assemble = kw.pop("AssembleWith", "Line")
    sm = lab.client("sagemaker")
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": kw.pop("S3DataType", "S3Prefix"), "S3Uri": uri}
            },
            "ContentType": content_type,
            "SplitType": split,
        },
        TransformOutput={"S3OutputPath": out, "Accept": accept, "AssembleWith": assemble},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **kw,
    )
    if wait:
        from botocore.exceptions import WaiterError

        try:
            sm.get_waiter("transform_job_completed_or_stopped").wait(
                TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        except WaiterError as err:
            assert "Failed" in str(err)  # the caller checks the FailureReason
    return sm.describe_transform_job(TransformJobName=name)


def _get(lab: Any, key: str) -> str:
    return lab.client("s3").get_object(Bucket=lab.bucket, Key=key)["Body"].read().decode()


def _frame(seed: int, n: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, 4)), 4)
    df = pd.DataFrame(X, columns=["f0", "f1", "f2", "f3"])
    df.insert(0, "id", np.arange(seed * 1000, seed * 1000 + n))
    return df


def test_join_and_filters_match_pandas(lab: Any) -> None:
    import pandas as pd
    import xgboost as xgb

    booster = _booster()
    _model(lab, "xgb", _upload_booster(lab, "m/model.tar.gz", booster))
    s3 = lab.client("s3")
    frames = {"batch/in/a.csv": _frame(1, 40), "batch/in/sub/b.csv": _frame(2, 25)}
    for key, df in frames.items():
        s3.put_object(Bucket=lab.bucket, Key=key, Body=df.to_csv(header=False, index=False))
    desc = _job(
        lab,
        "tj",
        "xgb",
        f"s3://{lab.bucket}/batch/in",
        f"s3://{lab.bucket}/batch/out",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
    )
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TransformEndTime"] >= desc["TransformStartTime"]
    for key, df in frames.items():
        out_key = key.replace("batch/in/", "batch/out/") + ".out"
        got = pd.read_csv(io.StringIO(_get(lab, out_key)), header=None, names=["id", "score"])
        expected = booster.predict(xgb.DMatrix(df[["f0", "f1", "f2", "f3"]].to_numpy()))
        assert got["id"].tolist() == df["id"].tolist()
        np.testing.assert_allclose(got["score"].to_numpy(), expected, rtol=1e-6)

    logs = lab.client("logs")
    streams = [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs")[
            "logStreams"
        ]
    ]
    assert any(s.startswith("tj/") and s.endswith("/data-log") for s in streams)


def test_single_record_without_join(lab: Any) -> None:
    import xgboost as xgb

    booster = _booster(seed=3)
    _model(lab, "xgb", _upload_booster(lab, "m/model.tar.gz", booster))
    df = _frame(3, 12)
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="in/x.csv",
        Body=df[["f0", "f1", "f2", "f3"]].to_csv(header=False, index=False),
    )
    desc = _job(
        lab,
        "single",
        "xgb",
        f"s3://{lab.bucket}/in/x.csv",
        f"s3://{lab.bucket}/out",
        BatchStrategy="SingleRecord",
    )
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    lines = _get(lab, "out/x.csv.out").splitlines()
    np.testing.assert_allclose(
        [float(v) for v in lines],
        booster.predict(xgb.DMatrix(df[["f0", "f1", "f2", "f3"]].to_numpy())),
        rtol=1e-6,
    )


def test_json_lines_join_puts_output_under_sagemaker_output(lab: Any, fake_algo: Any) -> None:
    _model(lab, "lin", upload_linear(lab, "m/model.tar.gz", [1.0, 2.0]), image=FAKE_IMAGE)
    rows = [{"id": i, "features": [i, i + 1]} for i in range(5)]
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="j/in/rows.jsonl",
        Body="\n".join(json.dumps(r) for r in rows).encode(),
    )
    desc = _job(
        lab,
        "jj",
        "lin",
        f"s3://{lab.bucket}/j/in/",
        f"s3://{lab.bucket}/j/out",
        ContentType="application/jsonlines",
        Accept="application/json",
        DataProcessing={
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    )
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    got = [json.loads(ln) for ln in _get(lab, "j/out/rows.jsonl.out").splitlines()]
    assert got == [
        {"id": r["id"], "SageMakerOutput": {"score": r["features"][0] + 2 * r["features"][1]}}
        for r in rows
    ]


def test_csv_in_json_out_join(lab: Any, fake_algo: Any) -> None:
    _model(lab, "lin", upload_linear(lab, "m/model.tar.gz", [1.0, 2.0]), image=FAKE_IMAGE)
    rows = [(f"r{i}", i, i + 1) for i in range(4)]
    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="c/in/rows.csv",
        Body="\n".join(f"{a},{b},{c}" for a, b, c in rows).encode(),
    )
    desc = _job(
        lab,
        "cj",
        "lin",
        f"s3://{lab.bucket}/c/in/",
        f"s3://{lab.bucket}/c/out",
        Accept="application/json",
        BatchStrategy="SingleRecord",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
    )
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    lines = _get(lab, "c/out/rows.csv.out").splitlines()
    assert [ln.split(",", 1)[0] for ln in lines] == [r[0] for r in rows]
    assert [json.loads(ln.split(",", 1)[1])["predictions"][0]["score"] for ln in lines] == [
        b + 2 * c for _, b, c in rows
    ]


def test_jsonpath_subset() -> None:
    from mllab.offline.sagemaker.transform import jsonpath

    rec = ["id7", "1", "2", "3"]
    assert jsonpath(rec, "$[1:]") == ["1", "2", "3"]
    assert jsonpath(rec, "$[0,-1]") == ["id7", "3"]
    assert jsonpath(rec, "$[2]") == "2"
    obj = {"id": 1, "features": [1, 2, 3], "SageMakerOutput": {"predicted_label": 1, "score": 0.9}}
    assert jsonpath(obj, "$.features[0:2]") == [1, 2]
    assert jsonpath(obj, "$['id','SageMakerOutput']") == {
        "id": 1,
        "SageMakerOutput": obj["SageMakerOutput"],
    }
    assert jsonpath(obj, "$.SageMakerOutput['predicted_label']") == 1
    with pytest.raises(ValueError):
        jsonpath(obj, "$.missing")


def test_failures_as_aws_reports_them(lab: Any) -> None:
    _model(lab, "xgb", _upload_booster(lab, "m/model.tar.gz", _booster()))
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="bad/in/x.json", Body=b'{"a": 1}')
    desc = _job(
        lab,
        "badct",
        "xgb",
        f"s3://{lab.bucket}/bad/in",
        f"s3://{lab.bucket}/bad/out",
        ContentType="application/json",
    )
    assert desc["TransformJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError:")

    desc = _job(lab, "empty", "xgb", f"s3://{lab.bucket}/nothing/here", f"s3://{lab.bucket}/o")
    assert desc["TransformJobStatus"] == "Failed"
    assert "No S3 objects found under S3 URL" in desc["FailureReason"]

    with pytest.raises(ClientError, match="Could not find model"):
        _job(
            lab, "nomodel", "ghost", f"s3://{lab.bucket}/bad/in", f"s3://{lab.bucket}/o", wait=False
        )
    with pytest.raises(ClientError, match="splitType"):
        _job(
            lab,
            "badsplit",
            "xgb",
            f"s3://{lab.bucket}/bad/in",
            f"s3://{lab.bucket}/o",
            SplitType="Lines",
            wait=False,
        )


def test_recordio_split() -> None:
    from mllab.offline.sagemaker.transform import split_records

    def frame(payload: bytes) -> bytes:
        import struct

        pad = (4 - len(payload) % 4) % 4
        return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\x00" * pad

    data = frame(b"abc") + frame(b"defgh")
    assert split_records(data, "RecordIO") == [frame(b"abc"), frame(b"defgh")]
    assert split_records(b"a\n\nb\n", "Line") == [b"a", b"b"]
    assert split_records(b"whole", "None") == [b"whole"]
