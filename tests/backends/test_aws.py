"""The aws backend, with moto standing in for a sandbox account."""

from __future__ import annotations

from typing import Any

import pytest

from mllab import Lab
from mllab.backends.aws import BackendError
from tests.guard.test_guard_refusals import IMAGE


def test_refused_at_once_without_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLLAB_ALLOWED_ACCOUNTS", raising=False)
    import botocore.endpoint

    def no_network(*a: Any, **k: Any) -> Any:
        raise AssertionError("a network call was attempted")

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", no_network)
    with pytest.raises(BackendError, match="MLLAB_ALLOWED_ACCOUNTS"):
        Lab("x", backend="aws")  # refused before any network call (no_network would raise)


def test_malformed_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLAB_ALLOWED_ACCOUNTS", "sandbox")
    with pytest.raises(BackendError, match="12-digit"):
        Lab("x", backend="aws")


def test_account_not_in_allow_list_refused(
    mock_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLLAB_ALLOWED_ACCOUNTS", "111122223333")
    with pytest.raises(BackendError) as err:
        Lab("x", backend="aws")
    assert "123456789012" in str(err.value)
    assert "not in MLLAB_ALLOWED_ACCOUNTS" in str(err.value)


def test_missing_credentials_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("MLLAB_ALLOWED_ACCOUNTS", "123456789012")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(BackendError, match="No AWS credentials"):
        Lab("x", backend="aws")


def test_allowed_account_opens_guards_and_sweep_finds_leftovers(
    mock_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllab.teardown import delete, find_leftovers

    monkeypatch.setenv("MLLAB_ALLOWED_ACCOUNTS", "123456789012")
    lab = Lab("sweepme", backend="aws")
    assert lab.account_id == "123456789012"
    sm = lab.client("sagemaker")
    sm.create_model(
        ModelName="m",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{lab.bucket}/m.tar.gz"},
        ExecutionRoleArn=lab.role_arn,
    )
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    kinesis = lab.client("kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    # the kernel "crashes": the lab is never closed; its hooks go away
    from mllab import hooks

    hooks.pop(lab)
    found = find_leftovers(lab.session)
    kinds = {(r.kind, r.name) for r in found}
    assert {("endpoint", "e"), ("endpoint-config", "c"), ("model", "m")} <= kinds
    assert all(r.lab == "sweepme" for r in found)
    assert find_leftovers(lab.session, lab="another-lab") == []
    import datetime as dt

    assert find_leftovers(lab.session, older_than=dt.timedelta(days=1)) == []
    done = delete(lab.session, found)
    assert all(not d["action"].startswith("error") for d in done)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_models()["Models"] == []
    lab.closed = True
