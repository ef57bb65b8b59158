"""IAM service-specific credentials offline (``mllab.offline.iam_credentials``): Bedrock
long-term API keys are created, listed without their secret, deactivated, reset, expire on the
lab clock and are deleted, with IAM's errors for unknown users, unsupported services, the
quota of two and a user that still holds one."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline import clock

BEDROCK = "bedrock.amazonaws.com"


def _user(lab: Any, name: str = "prototype") -> Any:
    iam = lab.client("iam")
    iam.create_user(UserName=name)
    return iam


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = err.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_create_answers_a_long_term_key_with_its_expiry(lab: Any) -> None:
    iam = _user(lab)
    cred = iam.create_service_specific_credential(
        UserName="prototype", ServiceName=BEDROCK, CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert cred["Status"] == "Active" and cred["ServiceName"] == BEDROCK
    assert cred["UserName"] == "prototype"
    assert cred["ServiceCredentialAlias"] == f"prototype-at-{lab.account_id}"
    assert cred["ServiceCredentialSecret"].startswith("ABSK")
    assert b"BedrockAPIKey-" in base64.b64decode(cred["ServiceCredentialSecret"][4:])
    assert len(cred["ServiceSpecificCredentialId"]) >= 20
    assert cred["ExpirationDate"] - cred["CreateDate"] == dt.timedelta(days=30)
    assert "ServicePassword" not in cred and "ServiceUserName" not in cred


def test_without_an_age_the_key_never_expires(lab: Any) -> None:
    iam = _user(lab)
    cred = iam.create_service_specific_credential(UserName="prototype", ServiceName=BEDROCK)
    assert "ExpirationDate" not in cred["ServiceSpecificCredential"]


def test_list_never_shows_the_secret_and_filters(lab: Any) -> None:
    iam = _user(lab)
    _user(lab, "other")
    made = iam.create_service_specific_credential(UserName="prototype", ServiceName=BEDROCK)
    iam.create_service_specific_credential(UserName="prototype", ServiceName="codecommit.amazonaws.com")  # fmt: skip
    iam.create_service_specific_credential(UserName="other", ServiceName=BEDROCK, CredentialAgeDays=1)  # fmt: skip
    mine = iam.list_service_specific_credentials(UserName="prototype", ServiceName=BEDROCK)
    (listed,) = mine["ServiceSpecificCredentials"]
    assert listed["ServiceSpecificCredentialId"] == made["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]  # fmt: skip
    assert "ServiceCredentialSecret" not in listed and listed["Status"] == "Active"
    assert mine["IsTruncated"] is False
    both = iam.list_service_specific_credentials(UserName="prototype")["ServiceSpecificCredentials"]
    git = next(c for c in both if c["ServiceName"] == "codecommit.amazonaws.com")
    assert git["ServiceUserName"] == f"prototype-at-{lab.account_id}" and "ServicePassword" not in git  # fmt: skip
    everyone = iam.list_service_specific_credentials(AllUsers=True, ServiceName=BEDROCK)
    assert {c["UserName"] for c in everyone["ServiceSpecificCredentials"]} == {"prototype", "other"}
    page = iam.list_service_specific_credentials(AllUsers=True, MaxItems=2)
    assert page["IsTruncated"] and len(page["ServiceSpecificCredentials"]) == 2
    rest = iam.list_service_specific_credentials(AllUsers=True, Marker=page["Marker"])
    assert len(rest["ServiceSpecificCredentials"]) == 1


def test_deactivate_reset_expire_and_delete(lab: Any) -> None:
    iam = _user(lab)
    cred = iam.create_service_specific_credential(
        UserName="prototype", ServiceName=BEDROCK, CredentialAgeDays=1
    )["ServiceSpecificCredential"]
    cid = cred["ServiceSpecificCredentialId"]

    def listed() -> list[dict[str, Any]]:
        return list(iam.list_service_specific_credentials(UserName="prototype")["ServiceSpecificCredentials"])  # fmt: skip

    def status() -> str:
        (c,) = listed()
        return str(c["Status"])

    iam.update_service_specific_credential(UserName="prototype", ServiceSpecificCredentialId=cid, Status="Inactive")  # fmt: skip
    assert status() == "Inactive"
    iam.update_service_specific_credential(UserName="prototype", ServiceSpecificCredentialId=cid, Status="Active")  # fmt: skip
    new = iam.reset_service_specific_credential(UserName="prototype", ServiceSpecificCredentialId=cid)  # fmt: skip
    secret = new["ServiceSpecificCredential"]["ServiceCredentialSecret"]
    assert secret.startswith("ABSK") and secret != cred["ServiceCredentialSecret"]
    try:
        clock.advance(86400 + 1)
        assert status() == "Expired"
    finally:
        clock.reset()
    iam.delete_service_specific_credential(UserName="prototype", ServiceSpecificCredentialId=cid)
    assert listed() == []


def test_errors(lab: Any) -> None:
    iam = _user(lab)
    with pytest.raises(ClientError) as err:
        iam.create_service_specific_credential(UserName="nobody", ServiceName=BEDROCK)
    assert _code(err) == ("NoSuchEntity", 404) and "nobody" in str(err.value)
    with pytest.raises(ClientError) as err:
        iam.create_service_specific_credential(UserName="prototype", ServiceName="s3.amazonaws.com")
    assert _code(err) == ("NotSupportedService", 404)
    with pytest.raises(ClientError) as err:
        iam.create_service_specific_credential(UserName="prototype", ServiceName=BEDROCK, CredentialAgeDays=36601)  # fmt: skip
    assert _code(err)[0] == "ValidationError"
    for _ in range(2):
        iam.create_service_specific_credential(UserName="prototype", ServiceName=BEDROCK, CredentialAgeDays=36600)  # fmt: skip
    with pytest.raises(ClientError) as err:
        iam.create_service_specific_credential(UserName="prototype", ServiceName=BEDROCK)
    assert _code(err) == ("LimitExceeded", 409)
    with pytest.raises(ClientError) as err:
        iam.update_service_specific_credential(UserName="prototype", ServiceSpecificCredentialId="ACCA0000000000000000X", Status="Inactive")  # fmt: skip
    assert _code(err) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as err:
        iam.list_service_specific_credentials(UserName="nobody")
    assert _code(err) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as err:
        iam.list_service_specific_credentials()
    assert _code(err)[0] == "ValidationError"
    with pytest.raises(ClientError) as err:
        iam.delete_user(UserName="prototype")
    assert _code(err) == ("DeleteConflict", 409)
    held = iam.list_service_specific_credentials(UserName="prototype")["ServiceSpecificCredentials"]  # fmt: skip
    for c in held:
        iam.delete_service_specific_credential(UserName="prototype", ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])  # fmt: skip
    iam.delete_user(UserName="prototype")


def test_the_account_reset_forgets_them(lab: Any) -> None:
    from mllab.offline import iam_credentials

    iam = _user(lab)
    iam.create_service_specific_credential(UserName="prototype", ServiceName=BEDROCK)
    assert iam_credentials.credentials(lab.account_id)
    iam_credentials._reset()
    assert iam_credentials.credentials(lab.account_id) == []
