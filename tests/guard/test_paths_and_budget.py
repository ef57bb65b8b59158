"""Every client bound, nothing leaves the machine offline, budgets that cannot be lifted or
raced, and teardown/sweep after close and after a crash."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from mllab import CostGuardError, Lab, hooks

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/MLLabSageMakerExecutionRole"
GPU = {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10}


def training(name: str = "adv", seconds: int = 600, **rc: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": rc
        or {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": seconds},
    }


@pytest.fixture
def enforce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLAB_GUARD_ENFORCE", "1")


# --------------------------------------------------------------------------- every client bound


def test_client_made_before_the_lab_is_guarded() -> None:
    early = boto3.Session(region_name="us-east-1").client("sagemaker")
    with Lab("early"):
        with pytest.raises(CostGuardError):
            early.create_training_job(**training(**GPU))


def test_client_made_before_import_mllab_is_guarded(tmp_path: Path) -> None:
    code = (
        "import boto3\n"
        "c = boto3.client('sagemaker', region_name='us-east-1')\n"
        "from mllab import Lab, CostGuardError\n"
        "with Lab('pre-import'):\n"
        "    try:\n"
        "        c.create_training_job(TrainingJobName='x', AlgorithmSpecification={'TrainingImage': 'i',"
        " 'TrainingInputMode': 'File'}, RoleArn='arn:aws:iam::123456789012:role/r',"
        " OutputDataConfig={'S3OutputPath': 's3://b/o'}, ResourceConfig={'InstanceType':"
        " 'ml.p4d.24xlarge', 'InstanceCount': 1, 'VolumeSizeInGB': 10},"
        " StoppingCondition={'MaxRuntimeInSeconds': 60})\n"
        "        print('SENT')\n"
        "    except CostGuardError:\n"
        "        print('REFUSED')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert "REFUSED" in out.stdout, out.stdout + out.stderr


def test_client_of_a_closed_lab_raises_instead_of_sending() -> None:
    lab = Lab("closing")
    sm = lab.client("sagemaker")
    sm.list_training_jobs()
    lab.close()
    with pytest.raises(CostGuardError, match="closed"):
        sm.list_training_jobs()


def test_client_of_a_closed_lab_raises_even_inside_another_lab() -> None:
    lab = Lab("first")
    sm = lab.client("sagemaker")
    lab.close()
    with Lab("second"), pytest.raises(CostGuardError, match="closed"):
        sm.create_training_job(**training())


def test_threads_are_guarded(lab: Any) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            boto3.client("sagemaker", region_name="us-east-1").create_training_job(
                **training(**GPU)
            )
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=300)
    assert errors and isinstance(errors[0], CostGuardError)


def test_undeclared_operation_refused_through_any_client(lab: Any, enforce: None) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    with pytest.raises(CostGuardError, match="default-deny"):
        ecs.create_task_set(service="s", cluster="c", taskDefinition="t")


# --------------------------------------------------------------------------- nothing leaves the machine


def test_offline_nothing_reaches_the_network(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake transport records what would go on the wire: a request moto cannot route
    (a custom endpoint) is refused before it gets there."""
    import botocore.httpsession

    sent: list[str] = []
    monkeypatch.setattr(
        botocore.httpsession.URLLib3Session,
        "send",
        lambda self, request: sent.append(request.url),
    )
    rogue = boto3.client(
        "sagemaker", region_name="us-east-1", endpoint_url="https://example.invalid"
    )
    with pytest.raises(CostGuardError, match="nothing leaves"):
        rogue.list_training_jobs()
    assert sent == []


def test_pre_lab_client_signs_with_fake_credentials_offline() -> None:
    early = boto3.Session(
        aws_access_key_id="AKIAREALLOOKINGKEY00", aws_secret_access_key="s", region_name="us-east-1"
    ).client("sts")
    with Lab("creds"):
        ident = early.get_caller_identity()
        assert ident["Account"] == "123456789012"
        assert early._request_signer._credentials.access_key == "testing"
    assert early._request_signer._credentials.access_key == "AKIAREALLOOKINGKEY00"


# --------------------------------------------------------------------------- budgets


@pytest.mark.parametrize("budget", [float("nan"), float("inf"), -1.0, 0.0, "lots", True])
def test_budget_validated(budget: Any) -> None:
    with pytest.raises(ValueError):
        Lab("budget", budget_usd=budget)


@pytest.mark.parametrize("raw", ["nan", "inf", "-3", "0"])
def test_env_budget_validated(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLAB_BUDGET_USD", raw)
    with pytest.raises(ValueError):
        Lab("budget")


@pytest.mark.parametrize("ttl", [0, -2, float("nan"), float("inf"), 1000])
def test_ttl_validated(ttl: Any) -> None:
    with pytest.raises(ValueError):
        Lab("ttl", ttl_hours=ttl)


def test_nested_lab_cannot_raise_the_outer_budget() -> None:
    with Lab("outer", budget_usd=0.05) as outer:
        with Lab("inner", budget_usd=100.0) as inner:
            assert inner.guard.remaining() == pytest.approx(0.05)
            with pytest.raises(CostGuardError, match="remaining budget"):
                inner.client("sagemaker").create_training_job(**training(seconds=3600))
        assert outer.guard.remaining() == pytest.approx(0.05)


def test_nested_lab_spending_counts_against_the_outer_budget() -> None:
    with Lab("outer2", budget_usd=0.2), Lab("inner2", budget_usd=100.0) as inner:
        sm = inner.client("sagemaker")
        sm.create_training_job(**training("in-1", seconds=3600))  # 0.115 of the outer 0.2
        with pytest.raises(CostGuardError, match="remaining budget"):
            sm.create_training_job(**training("in-2", seconds=3600))


def test_twelve_concurrent_jobs_against_a_budget_for_two() -> None:
    """The check and the reservation are one SQLite transaction: exactly 2 of 12 pass."""
    with Lab("race", budget_usd=0.25) as lab:  # each job: ml.m5.large for 1 h = 0.115
        barrier = threading.Barrier(12)
        passed: list[str] = []
        refused: list[str] = []

        def job(i: int) -> None:
            sm = lab.client("sagemaker")
            barrier.wait(timeout=120)
            try:
                sm.create_training_job(**training(f"race-{i}", seconds=3600))
                passed.append(f"race-{i}")
            except CostGuardError:
                refused.append(f"race-{i}")

        threads = [threading.Thread(target=job, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert len(passed) == 2, (passed, refused)
        assert len(refused) == 10
        assert lab.guard.spent() == pytest.approx(0.23)


def test_failed_request_drops_its_reservation(lab: Any) -> None:
    from botocore.exceptions import EndpointConnectionError

    sm = lab.client("sagemaker")

    def broken_network(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sagemaker")

    sm.meta.events.register_first("before-send", broken_network)
    with pytest.raises(EndpointConnectionError):
        sm.create_training_job(**training("never-sent", seconds=3600))
    assert lab.ledger.rows(run=lab.run_id) == []
    assert lab.guard.spent() == 0


def test_service_bypass_draws_only_on_what_was_reserved(lab: Any) -> None:
    with hooks.on_behalf_of_a_service(), pytest.raises(CostGuardError, match="pipeline step"):
        lab.client("sagemaker").create_training_job(**training("sneak", seconds=3600))
    assert lab.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


# --------------------------------------------------------------------------- teardown and sweep


def _endpoint(lab: Any, name: str) -> None:
    sm = lab.client("sagemaker")
    sm.create_model(
        ModelName=f"{name}-m",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{lab.bucket}/m.tar.gz"},
        ExecutionRoleArn=lab.role_arn,
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")


def test_sweep_after_a_crash_deletes_from_the_tag_inventory() -> None:
    """A run that never closed (kernel crash): its tagged streams and endpoints are found by
    listing every deleter kind, and deleted through the registry."""
    from mllab.teardown import delete_tagged, find_tagged

    with Lab("crashy") as lab:
        lab.client("kinesis").create_stream(StreamName="crash-stream", ShardCount=1)
        lab.client("firehose").create_delivery_stream(
            DeliveryStreamName="crash-fh",
            ExtendedS3DestinationConfiguration={
                "RoleARN": lab.role_arn,
                "BucketARN": f"arn:aws:s3:::{lab.bucket}",
            },
        )
        _endpoint(lab, "crash-ep")
        lab.guard.created.clear()  # the crash: the kernel's notes are gone
        lab.ledger.path.unlink()  # and so is the ledger
        from mllab.guard.ledger import Ledger

        lab.ledger = lab.guard.ledger = Ledger(lab.ledger.path)
        found = find_tagged(lab.session, lab.region, run=lab.run_id)
        kinds = {f.kind for f in found}
        assert {"kinesis-stream", "firehose-delivery-stream", "sagemaker-endpoint"} <= kinds
        done = delete_tagged(lab.session, found)
        assert all(not d["action"].startswith("error") for d in done), done
        assert lab.client("sagemaker").list_endpoints()["Endpoints"] == []
        streams = lab.client("kinesis").list_streams()["StreamNames"]
        assert (
            "crash-stream" not in streams
            or lab.client("kinesis").describe_stream_summary(StreamName="crash-stream")[
                "StreamDescriptionSummary"
            ]["StreamStatus"]
            == "DELETING"
        )


def test_teardown_and_close_delete_what_the_run_created_through_the_registry() -> None:
    lab = Lab("td")
    _endpoint(lab, "td-ep")
    lab.client("kinesis").create_stream(StreamName="td-stream", ShardCount=1)
    key = lab.client("kms").create_key()["KeyMetadata"]["KeyId"]
    done = lab.teardown()
    acted = {(d["kind"], d["name"]) for d in done}
    assert ("endpoint", "td-ep") in acted
    assert ("stream", "td-stream") in acted
    kms = lab.client("kms")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"  # the lab's to do
    assert all(d["kind"] != "endpoint" for d in lab.teardown())  # idempotent
    state: dict[str, str] = {}
    original = lab._unwind

    def look_before_unwind() -> None:
        state["key"] = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
        original()

    lab._unwind = look_before_unwind  # type: ignore[method-assign]
    closed = lab.close()
    assert ("kms-key", key) in {(d["kind"], d["name"]) for d in closed}
    assert state["key"] == "PendingDeletion"
