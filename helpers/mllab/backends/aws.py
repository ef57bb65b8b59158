"""The aws backend: a real sandbox account, checked before the first billable call.

Introduced in lab 00. The account must be listed in ``$MLLAB_ALLOWED_ACCOUNTS``; this is
checked before any network call (an empty list refuses at once) and again against the
caller's identity from STS.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)


class BackendError(RuntimeError):
    """The aws backend cannot be used as configured; the message says what to set."""


def require_allow_list(allowed: list[str]) -> None:
    """Refuse at once (no network call) when no sandbox account is allowed.

    Raises:
        BackendError: ``MLLAB_ALLOWED_ACCOUNTS`` is empty.
    """
    if not allowed:
        raise BackendError(
            "MLLAB_BACKEND=aws needs MLLAB_ALLOWED_ACCOUNTS: set it to the 12-digit id of your "
            "sandbox account (comma-separate several), e.g. MLLAB_ALLOWED_ACCOUNTS=111122223333. "
            "This stops a lab from running in a work or production account by mistake. "
            "Nothing was sent to AWS."
        )
    bad = [a for a in allowed if not (a.isdigit() and len(a) == 12)]
    if bad:
        raise BackendError(
            f"MLLAB_ALLOWED_ACCOUNTS has {', '.join(bad)}, which is not a 12-digit account id. "
            "Nothing was sent to AWS."
        )


def make_session(region: str) -> boto3.Session:
    """Return a boto3 session pinned to ``region`` from the standard credential chain.

    Raises:
        BackendError: credentials or the profile are missing.
    """
    try:
        session = boto3.Session(region_name=region)
    except ProfileNotFound as err:
        raise BackendError(
            f"{err}. Set AWS_PROFILE to a profile in ~/.aws/config or unset it."
        ) from None
    if session.get_credentials() is None:
        raise BackendError(
            "No AWS credentials were found for MLLAB_BACKEND=aws. Configure your sandbox "
            "credentials (aws configure sso, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
            "or use MLLAB_BACKEND=offline."
        )
    import os

    role = os.environ.get("MLLAB_SANDBOX_ROLE_ARN", "").strip()
    if role:
        return assume_sandbox_role(session, role, region)
    return session


def assume_sandbox_role(session: boto3.Session, role_arn: str, region: str) -> boto3.Session:
    """Return a session on the sandbox role (``mllab sandbox``) with one-hour credentials.

    Everything the lab, its subprocesses and other SDKs do with these credentials is bounded
    by the role's permissions boundary, whatever happens in the kernel. Costs nothing (STS).

    Raises:
        BackendError: the role cannot be assumed.
    """
    try:
        creds = session.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName="mllab-lab", DurationSeconds=3600
        )["Credentials"]
    except (ClientError, NoCredentialsError) as err:
        raise BackendError(
            f"Could not assume MLLAB_SANDBOX_ROLE_ARN={role_arn} ({err}). Run `mllab sandbox "
            "--apply` with administrator credentials first, or unset MLLAB_SANDBOX_ROLE_ARN."
        ) from None
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def check_account(session: boto3.Session, allowed: list[str]) -> str:
    """Ask STS who the caller is and refuse unless the account is allowed.

    Returns:
        The account id.

    Raises:
        BackendError: with the fix, for missing/expired credentials, an unknown region,
            no network, or an account not in the allow-list.
    """
    try:
        ident: dict[str, Any] = session.client("sts").get_caller_identity()
    except (NoCredentialsError, PartialCredentialsError):
        raise BackendError(
            "No usable AWS credentials: configure the sandbox account's credentials or use "
            "MLLAB_BACKEND=offline."
        ) from None
    except TokenRetrievalError:
        raise BackendError(
            "Your SSO token has expired: run `aws sso login` (with your sandbox profile) and retry."
        ) from None
    except NoRegionError:
        raise BackendError("No region is set: set MLLAB_REGION, e.g. us-east-1.") from None
    except EndpointConnectionError as err:
        raise BackendError(
            f"Could not reach AWS STS ({err}). Check MLLAB_REGION is a real region and that you "
            "are online, or use MLLAB_BACKEND=offline."
        ) from None
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            raise BackendError(
                "Your AWS session token has expired: refresh your credentials "
                "(aws sso login, or new temporary keys) and retry."
            ) from None
        if code in {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"}:
            raise BackendError(
                f"AWS rejected the credentials ({code}): check AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY or your profile."
            ) from None
        raise BackendError(f"STS GetCallerIdentity failed: {err}") from None
    account = str(ident["Account"])
    if account not in allowed:
        raise BackendError(
            f"The credentials belong to account {account}, which is not in MLLAB_ALLOWED_ACCOUNTS "
            f"({', '.join(allowed)}). Use your sandbox account's credentials, or add {account} "
            "to MLLAB_ALLOWED_ACCOUNTS only if it is a sandbox you may spend in."
        )
    return account
