"""Admission of IAM users and their service-specific credentials (introduced in lab 06).

A Bedrock long-term API key is an IAM user's service-specific credential for
``bedrock.amazonaws.com``. IAM has no charge, so every operation here is free, but a key that is
left behind is a standing way into the account's Bedrock (until it expires, or never). So
``CreateServiceSpecificCredential`` is declared the way this table pairs a free create with a
deleter (a zero estimate, as ``CreateFunction`` or ``CreateInternetGateway``): the ledger
keeps ``<user>/<service>`` and the ``iam-service-specific-credential`` deleter removes that
user's credentials for that service at ``lab.close()`` and in ``mllab sweep`` (which finds them
through the users the run tagged). Listing is a read; deactivating, resetting and deleting a
credential are free writes. The users themselves are free writes, as roles are (the lab deletes
them; the other IAM declarations are in :mod:`.data`). ``CreateAccessKey`` and
``CreateLoginProfile`` stay undeclared: labs give users no general-purpose credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mllab.guard import admission as a
from mllab.guard import estimate as e
from mllab.guard.declarations._util import gone, paginate, tag_dict

SERVICE = "iam"
KIND = "iam-service-specific-credential"


def create_credential(params: dict[str, Any], policy: e.Policy) -> e.Estimate:
    """No charge; the resource is ``<user>/<service>`` for the deleter (IAM user names have no
    ``/``)."""
    name = f"{params.get('UserName', '')}/{params.get('ServiceName', '')}"
    return e.Estimate(
        0.0,
        name,
        detail={"basis": "IAM has no charge; the credential is deleted at lab.close()"},
    )


def _delete_credentials(session: Any, region: str, name: str) -> str | None:
    """Delete every credential of one user for one service (``<user>/<service>``)."""
    user, _, service = name.partition("/")
    iam = session.client(SERVICE, region_name=region)
    try:
        listed = iam.list_service_specific_credentials(
            UserName=user, **({"ServiceName": service} if service else {})
        )["ServiceSpecificCredentials"]
    except Exception as err:  # noqa: BLE001 - the user is gone: so are its credentials
        if gone(err):
            return None
        raise
    done = None
    for cred in listed:
        try:
            iam.delete_service_specific_credential(
                UserName=user, ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"]
            )
            done = "deleted"
        except Exception as err:  # noqa: BLE001
            if not gone(err):
                raise
    return done


def _find_credentials(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    """``<user>/<service>`` of every credential of the users that carry tags, with the user's
    tags (credentials have none of their own)."""
    iam = session.client(SERVICE, region_name=region)
    for user in paginate(iam, "list_users", "Users", token_key="Marker"):
        name = str(user["UserName"])
        try:
            tags = tag_dict(iam.list_user_tags(UserName=name).get("Tags"))
            if not tags:
                continue
            listed = iam.list_service_specific_credentials(UserName=name)
        except Exception as err:  # noqa: BLE001
            if gone(err):
                continue
            raise
        services = {str(c["ServiceName"]) for c in listed["ServiceSpecificCredentials"]}
        for service in sorted(services):
            yield f"{name}/{service}", tags


a.deleter(
    KIND,
    created_by=[(SERVICE, "CreateServiceSpecificCredential")],
    delete=_delete_credentials,
    find=_find_credentials,
    order=20,
)
a.billable(
    SERVICE,
    "CreateServiceSpecificCredential",
    estimator=create_credential,
    deleter=KIND,
    note="free, but a long-term key stays until deleted: registered with a deleter",
)
a.read(SERVICE, "ListServiceSpecificCredentials", note="credential metadata, never the secret")
a.free(
    SERVICE,
    "UpdateServiceSpecificCredential",
    "ResetServiceSpecificCredential",
    "DeleteServiceSpecificCredential",
    note="IAM has no charge",
)
a.free(
    SERVICE,
    "CreateUser",
    "DeleteUser",
    "TagUser",
    "UntagUser",
    "PutUserPolicy",
    "DeleteUserPolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    note="IAM has no charge; users get no access keys or passwords in the labs",
)
