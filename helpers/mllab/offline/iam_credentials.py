"""IAM service-specific credentials offline: Bedrock long-term API keys (introduced in lab 06).

moto (5.2) does not implement ``CreateServiceSpecificCredential`` and its siblings, and a
Bedrock long-term API key *is* one: an IAM user's credential for ``bedrock.amazonaws.com``
only. The handlers here keep the credentials beside moto's users, as the IAM API reference
describes them (shapes from botocore's ``iam`` model):

* ``CreateServiceSpecificCredential`` (``UserName``, ``ServiceName``, optional
  ``CredentialAgeDays`` 1-36600): ``NoSuchEntity`` (404) for an unknown user,
  ``NotSupportedService`` (404) for a service without service-specific credentials,
  ``LimitExceeded`` (409) for a third credential of one user for one service (inactive and
  expired ones count). Bedrock and CloudWatch Logs keys answer ``ServiceCredentialAlias``
  (``<user>-at-<account>``) and ``ServiceCredentialSecret`` (the key, returned only here and
  by a reset), with ``ExpirationDate`` when ``CredentialAgeDays`` is given (none: it never
  expires); CodeCommit and Keyspaces credentials answer ``ServiceUserName`` and
  ``ServicePassword`` and take no ``CredentialAgeDays``.
* ``ListServiceSpecificCredentials`` (``UserName``, or ``AllUsers``; ``ServiceName`` filter;
  ``MaxItems``/``Marker``): metadata only, never the secret. A credential past its
  ``ExpirationDate`` on the lab clock is listed ``Expired``.
* ``UpdateServiceSpecificCredential`` (``Active``/``Inactive``),
  ``DeleteServiceSpecificCredential``, ``ResetServiceSpecificCredential`` (a new secret; the
  old one stops working).
* ``DeleteUser`` is refused with ``DeleteConflict`` (409) while the user has any.

Offline the lab itself is not an IAM user, so calls without ``UserName`` are answered with
IAM's answer for non-user callers (``ValidationError``). Approximations: the secret is random
and only shaped like AWS's (an ``ABSK`` prefix, base64); the words of ``LimitExceeded``,
``NotSupportedService`` and the unknown-credential ``NoSuchEntity`` are not documented and
are this module's. The console's side effect of attaching ``AmazonBedrockLimitedAccess`` to
the user is not an API behaviour and is not reproduced; nothing here authenticates a Bedrock
request made with the key (``Authorization: Bearer``).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import string
import threading
from dataclasses import dataclass
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: Services with long-term API keys (alias + secret, optional expiry).
API_KEY_SERVICES = frozenset({"bedrock.amazonaws.com", "logs.amazonaws.com"})
#: Services with a generated user name and password.
PASSWORD_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})
#: Credentials of one user for one service (IAM quota).
PER_USER_PER_SERVICE = 2
MAX_AGE_DAYS = 36600

_LOCK = threading.Lock()


@dataclass
class Credential:
    """One service-specific credential of one user."""

    credential_id: str
    user_name: str
    service_name: str
    created: dt.datetime
    expires: dt.datetime | None
    status: str  # Active | Inactive (Expired is derived from ``expires`` on the lab clock)
    secret: str
    account_id: str

    def current_status(self) -> str:
        if self.expires is not None and clock.now_dt() >= self.expires:
            return "Expired"
        return self.status

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "UserName": self.user_name,
            "Status": self.current_status(),
            "CreateDate": self.created,
            "ServiceSpecificCredentialId": self.credential_id,
            "ServiceName": self.service_name,
        }
        if self.service_name in API_KEY_SERVICES:
            out["ServiceCredentialAlias"] = f"{self.user_name}-at-{self.account_id}"
        else:
            out["ServiceUserName"] = f"{self.user_name}-at-{self.account_id}"
        if self.expires is not None:
            out["ExpirationDate"] = self.expires
        return out

    def with_secret(self) -> dict[str, Any]:
        out = self.metadata()
        if self.service_name in API_KEY_SERVICES:
            out["ServiceCredentialSecret"] = self.secret
        else:
            out["ServicePassword"] = self.secret
        return out


#: account id -> credential id -> credential
_STORE: dict[str, dict[str, Credential]] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STORE.clear()


def _secret(service: str, alias: str) -> str:
    if service in API_KEY_SERVICES:
        body = f"BedrockAPIKey-{alias}:{secrets.token_urlsafe(45)}".encode()
        return "ABSK" + base64.b64encode(body).decode()
    return secrets.token_urlsafe(30)[:40]


def _new_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "ACCA" + "".join(secrets.choice(alphabet) for _ in range(17))


def _require_user(call: OfflineCall, user: Any) -> str:
    if not user:
        raise AwsError("ValidationError", "Must specify userName when calling with non-User credentials")  # fmt: skip
    from moto.iam.models import iam_backends

    name = str(user)
    if name not in iam_backends[call.account_id]["global"].users:
        raise AwsError("NoSuchEntity", f"The user with name {name} cannot be found.", 404)
    return name


def _find(call: OfflineCall) -> Credential:
    user = _require_user(call, call.params.get("UserName"))
    cid = str(call.params.get("ServiceSpecificCredentialId", ""))
    cred = _STORE.get(call.account_id, {}).get(cid)
    if cred is None or cred.user_name != user:
        raise AwsError(
            "NoSuchEntity", f"The Service Specific Credential with id {cid} cannot be found.", 404
        )
    return cred


def credentials(account_id: str) -> list[Credential]:
    """Every credential of the offline account (for tests and the guard's deleter offline)."""
    with _LOCK:
        return list(_STORE.get(account_id, {}).values())


@handles("iam", "CreateServiceSpecificCredential")
def create_service_specific_credential(call: OfflineCall) -> dict[str, Any]:
    """Create a credential; a Bedrock one is a long-term API key."""
    p = call.params
    user = _require_user(call, p.get("UserName"))
    service = str(p.get("ServiceName", ""))
    if service not in API_KEY_SERVICES | PASSWORD_SERVICES:
        raise AwsError(
            "NotSupportedService",
            f"The specified service {service!r} does not support service-specific credentials.",
            404,
        )
    age = p.get("CredentialAgeDays")
    if age is not None:
        if service not in API_KEY_SERVICES:
            raise AwsError(
                "InvalidInput",
                f"CredentialAgeDays is only valid for services with long-term API keys, not {service}.",
            )
        if not isinstance(age, int) or not 1 <= age <= MAX_AGE_DAYS:
            raise AwsError(
                "ValidationError",
                f"1 validation error detected: Value '{age}' at 'credentialAgeDays' failed to "
                f"satisfy constraint: Member must have value less than or equal to {MAX_AGE_DAYS}"
                " and greater than or equal to 1",
            )
    with _LOCK:
        mine = _STORE.setdefault(call.account_id, {})
        held = [c for c in mine.values() if c.user_name == user and c.service_name == service]
        if len(held) >= PER_USER_PER_SERVICE:
            raise AwsError(
                "LimitExceeded",
                "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
                f"{PER_USER_PER_SERVICE}",
                409,
            )
        now = clock.now_dt().replace(microsecond=0)
        cred = Credential(
            credential_id=_new_id(),
            user_name=user,
            service_name=service,
            created=now,
            expires=now + dt.timedelta(days=age) if age is not None else None,
            status="Active",
            secret=_secret(service, f"{user}-at-{call.account_id}"),
            account_id=call.account_id,
        )
        mine[cred.credential_id] = cred
    return {"ServiceSpecificCredential": cred.with_secret()}


@handles("iam", "ListServiceSpecificCredentials")
def list_service_specific_credentials(call: OfflineCall) -> dict[str, Any]:
    """List credential metadata (no secrets) of one user or, with ``AllUsers``, of everyone."""
    p = call.params
    if p.get("AllUsers") and p.get("UserName"):
        raise AwsError("InvalidInput", "AllUsers cannot be specified together with UserName.")
    user = None if p.get("AllUsers") else _require_user(call, p.get("UserName"))
    service = p.get("ServiceName")
    found = sorted(
        (
            c
            for c in credentials(call.account_id)
            if (user is None or c.user_name == user) and (not service or c.service_name == service)
        ),
        key=lambda c: (c.user_name, c.created, c.credential_id),
    )
    start = int(p.get("Marker") or 0)
    size = int(p.get("MaxItems") or 100)
    page = found[start : start + size]
    out: dict[str, Any] = {
        "ServiceSpecificCredentials": [c.metadata() for c in page],
        "IsTruncated": start + size < len(found),
    }
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


@handles("iam", "UpdateServiceSpecificCredential")
def update_service_specific_credential(call: OfflineCall) -> dict[str, Any]:
    """Set a credential ``Active`` or ``Inactive``."""
    status = str(call.params.get("Status", ""))
    if status not in {"Active", "Inactive"}:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Active, Inactive]",
        )
    cred = _find(call)
    with _LOCK:
        cred.status = status
    return {}


@handles("iam", "DeleteServiceSpecificCredential")
def delete_service_specific_credential(call: OfflineCall) -> dict[str, Any]:
    """Delete a credential for good."""
    cred = _find(call)
    with _LOCK:
        _STORE.get(call.account_id, {}).pop(cred.credential_id, None)
    return {}


@handles("iam", "ResetServiceSpecificCredential")
def reset_service_specific_credential(call: OfflineCall) -> dict[str, Any]:
    """Give a credential a new secret (the old one stops working)."""
    cred = _find(call)
    with _LOCK:
        cred.secret = _secret(cred.service_name, f"{cred.user_name}-at-{cred.account_id}")
    return {"ServiceSpecificCredential": cred.with_secret()}


@handles("iam", "DeleteUser")
def _delete_user_with_credentials(call: OfflineCall) -> None:
    """``DeleteUser`` fails while the user still has service-specific credentials."""
    user = str(call.params.get("UserName", ""))
    if any(c.user_name == user for c in credentials(call.account_id)):
        raise AwsError(
            "DeleteConflict",
            "Cannot delete entity, must remove service specific credentials first.",
            409,
        )
    return None
