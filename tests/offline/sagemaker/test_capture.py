"""Data capture: JSON Lines in SageMaker's capture format, sampled, under the documented path."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

try:
    from .test_hosting import FAKE_IMAGE, _endpoint, _model, _variant, fake_algo, upload_linear
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import FAKE_IMAGE, _endpoint, _model, _variant, fake_algo, upload_linear

__all__ = ["fake_algo"]


def _capture_cfg(
    lab: Any, pct: int, modes: tuple[str, ...] = ("Input", "Output")
) -> dict[str, Any]:
    return {
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": pct,
            "DestinationS3Uri": f"s3://{lab.bucket}/capture",
            "CaptureOptions": [{"CaptureMode": m} for m in modes],
        }
    }


def test_capture_files_parse_and_match_the_invocations(lab: Any, fake_algo: Any) -> None:
    from mllab.offline.sagemaker import capture

    _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [1.0, 2.0]), image=FAKE_IMAGE)
    _endpoint(lab, "cap", [_variant("m")], **_capture_cfg(lab, 100))
    desc = lab.client("sagemaker").describe_endpoint(EndpointName="cap")
    assert desc["DataCaptureConfig"]["CaptureStatus"] == "Started"
    assert desc["DataCaptureConfig"]["CurrentSamplingPercentage"] == 100

    rt = lab.client("sagemaker-runtime")
    sent = []
    for i in range(5):
        body = f"{i},{i + 1}"
        out = rt.invoke_endpoint(
            EndpointName="cap", Body=body, ContentType="text/csv", InferenceId=f"id-{i}"
        )
        sent.append((body, out["Body"].read().decode()))
    out = rt.invoke_endpoint(
        EndpointName="cap", Body=b"1,1", ContentType="text/csv", Accept="application/json"
    )
    sent.append(("1,1", out["Body"].read().decode()))

    keys = [
        o["Key"]
        for o in lab.client("s3").list_objects_v2(Bucket=lab.bucket, Prefix="capture/")["Contents"]
    ]
    assert keys
    for key in keys:
        assert re.fullmatch(
            r"capture/cap/AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl",
            key,
        )

    records = capture.read_captures(lab.session, "cap")
    assert len(records) == len(sent)
    for rec, (body, answer) in zip(records, sent, strict=True):
        assert rec["eventVersion"] == "0"
        inp, outp = rec["captureData"]["endpointInput"], rec["captureData"]["endpointOutput"]
        assert inp == {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": body,
            "encoding": "CSV",
        }
        assert outp["mode"] == "OUTPUT" and capture.decode_data(outp).decode() == answer
        assert set(rec["eventMetadata"]) >= {"eventId", "inferenceTime"}
        assert rec["eventMetadata"]["inferenceTime"].endswith("Z")
    assert records[0]["eventMetadata"]["inferenceId"] == "id-0"
    assert records[-1]["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert json.loads(records[-1]["captureData"]["endpointOutput"]["data"]) == json.loads(
        sent[-1][1]
    )


def test_sampling_percentage_and_capture_options(lab: Any, fake_algo: Any) -> None:
    from mllab.offline.sagemaker import capture, hosting

    hosting.set_seed(7)
    try:
        _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [1.0]), image=FAKE_IMAGE)
        _endpoint(lab, "half", [_variant("m")], **_capture_cfg(lab, 30, ("Input",)))
        rt = lab.client("sagemaker-runtime")
        n = 400
        for i in range(n):
            rt.invoke_endpoint(EndpointName="half", Body=str(i), ContentType="text/csv")
    finally:
        hosting.set_seed(None)
    records = capture.read_captures(lab.session, "half")
    # Binomial(400, 0.3): mean 120, sd ~9.2
    assert 80 < len(records) < 160
    assert all(set(r["captureData"]) == {"endpointInput"} for r in records)
    values = [int(r["captureData"]["endpointInput"]["data"]) for r in records]
    assert values == sorted(values) and len(set(values)) == len(values)


def test_binary_payloads_are_base64(lab: Any) -> None:
    import datetime as dt

    from mllab.offline.sagemaker import capture
    from mllab.offline.sagemaker.hosting import EndpointRuntime

    rt = EndpointRuntime(
        account_id=lab.account_id,
        region=lab.region,
        name="bin",
        config_name="c",
        variants={},
        rng=__import__("random").Random(0),
        capture=_capture_cfg(lab, 100)["DataCaptureConfig"],
    )
    assert capture.record(
        rt,
        "AllTraffic",
        b"\x00\x01",
        "application/x-npy",
        b"ok",
        "text/csv",
        when=dt.datetime.now(dt.UTC),
    )
    capture.flush_endpoint(rt)
    keys = lab.client("s3").list_objects_v2(Bucket=lab.bucket, Prefix="capture/bin/")["Contents"]
    line = json.loads(
        lab.client("s3").get_object(Bucket=lab.bucket, Key=keys[0]["Key"])["Body"].read()
    )
    assert line["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert capture.decode_data(line["captureData"]["endpointInput"]) == b"\x00\x01"


@pytest.mark.parametrize("pct", [101])
def test_capture_config_is_validated(lab: Any, fake_algo: Any, pct: int) -> None:
    _model(lab, "m", upload_linear(lab, "m/model.tar.gz", [1.0]), image=FAKE_IMAGE)
    with pytest.raises(Exception, match="initialSamplingPercentage"):
        lab.client("sagemaker").create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_variant("m")], **_capture_cfg(lab, pct)
        )
