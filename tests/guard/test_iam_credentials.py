"""IAM users and service-specific credentials (Bedrock long-term API keys): declared free, the
create registered with a deleter that removes the key at lab.close() and in mllab sweep;
general-purpose user credentials stay undeclared."""

from __future__ import annotations

from typing import Any

import pytest

from mllab.guard import admission
from mllab.guard.core import TAG_LAB, TAG_RUN
from mllab.guard.errors import CostGuardError

BEDROCK = "bedrock.amazonaws.com"


def test_declared_as_free_writes_a_read_and_a_create_with_a_deleter() -> None:
    for op in (
        "UpdateServiceSpecificCredential",
        "ResetServiceSpecificCredential",
        "DeleteServiceSpecificCredential",
        "CreateUser",
        "DeleteUser",
        "PutUserPolicy",
        "DeleteUserPolicy",
    ):
        d = admission.classify("iam", op)
        assert d is not None and d.kind == "free", (op, d)
    listed = admission.classify("iam", "ListServiceSpecificCredentials")
    assert listed is not None and listed.kind == "read"
    create = admission.classify("iam", "CreateServiceSpecificCredential")
    assert create is not None and create.kind == "billable"
    assert create.deleter == "iam-service-specific-credential"
    deleter = admission.DELETERS["iam-service-specific-credential"]
    assert ("iam", "CreateServiceSpecificCredential") in deleter.created_by
    for op in ("CreateAccessKey", "CreateLoginProfile"):
        assert admission.classify("iam", op) is None


def _key(lab: Any, user: str = "northpeak-prototype", days: int | None = None) -> Any:
    iam = lab.client("iam")
    iam.create_user(UserName=user)
    iam.create_service_specific_credential(
        UserName=user, ServiceName=BEDROCK, **({"CredentialAgeDays": days} if days else {})
    )
    return iam


def test_costs_nothing_and_the_ledger_names_user_and_service(lab: Any) -> None:
    iam = _key(lab, days=36600)
    (row,) = [
        r
        for r in lab.ledger.rows(run=lab.run_id)
        if r.operation == "CreateServiceSpecificCredential"
    ]
    assert (row.resource, row.estimate_usd) == (f"northpeak-prototype/{BEDROCK}", 0.0)
    assert lab.cost()["spent_usd"] == 0.0
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="northpeak-prototype")["Tags"]}  # fmt: skip
    assert tags[TAG_LAB] == lab.name and tags[TAG_RUN] == lab.run_id


def test_close_deletes_the_key_and_sweep_finds_it(lab: Any) -> None:
    from mllab.teardown import find_tagged, teardown_run

    iam = _key(lab)
    found = find_tagged(lab.session, lab.region, run=lab.run_id)
    assert [(f.kind, f.name) for f in found if f.kind.startswith("iam")] == [
        ("iam-service-specific-credential", f"northpeak-prototype/{BEDROCK}")
    ]
    done = teardown_run(lab, complete=True)
    assert {
        "kind": "iam-service-specific-credential",
        "name": f"northpeak-prototype/{BEDROCK}",
        "action": "deleted",
    } in done, done
    assert iam.list_service_specific_credentials(UserName="northpeak-prototype")["ServiceSpecificCredentials"] == []  # fmt: skip
    assert teardown_run(lab, complete=True) == []  # idempotent
    iam.delete_user(UserName="northpeak-prototype")  # no credential left: no DeleteConflict
    deleter = admission.DELETERS["iam-service-specific-credential"]
    assert deleter.delete(lab.session, lab.region, f"northpeak-prototype/{BEDROCK}") is None


def test_access_keys_are_refused(lab: Any) -> None:
    iam = lab.client("iam")
    iam.create_user(UserName="someone")
    with pytest.raises(CostGuardError, match="default-deny"):
        iam.create_access_key(UserName="someone")
