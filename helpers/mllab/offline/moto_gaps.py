"""Small gaps in moto's control plane that the guard and the labs rely on.

Each handler fills one documented AWS behaviour that moto (5.2) skips; the bigger offline
services live in their own modules.
"""

from __future__ import annotations

from mllab.offline.registry import OfflineCall, handles


@handles("kinesis", "CreateStream", "after")
def _kinesis_create_stream_tags(call: OfflineCall) -> None:
    """CreateStream's ``Tags`` (AWS applies them; moto ignores them)."""
    tags = call.params.get("Tags")
    if not tags:
        return
    from moto.kinesis.models import kinesis_backends

    backend = kinesis_backends[call.account_id][call.region]
    backend.add_tags_to_stream(
        stream_arn=None, stream_name=call.params["StreamName"], tags=dict(tags)
    )


_AWS_POLICIES: dict[str, dict] | None = None  # type: ignore[type-arg]


def _aws_managed_policy_data(name: str) -> dict | None:  # type: ignore[type-arg]
    """The document of an AWS managed policy from moto's copy (parsed once, on first need)."""
    global _AWS_POLICIES
    if _AWS_POLICIES is None:
        import json

        from moto.iam.aws_managed_policies import aws_managed_policies_data

        _AWS_POLICIES = json.loads(aws_managed_policies_data)
    return _AWS_POLICIES.get(name)


def ensure_aws_managed_policy(account_id: str, region: str, arn: str) -> None:
    """Make an AWS managed policy (``arn:aws:iam::aws:policy/...``) exist in the offline account.

    moto only knows them when it loads all ~1,300 at every account reset (seconds per lab),
    so each is added the first time a request names it.
    """
    if not arn.startswith("arn:aws:iam::aws:policy/"):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id]["global"]
    if arn in backend.managed_policies:
        return
    name = arn.rsplit("/", 1)[-1]
    data = _aws_managed_policy_data(name)
    if data is None:
        return
    policy = AWSManagedPolicy.from_data(name, account_id, region, data)
    if policy.arn == arn:
        backend.managed_policies[arn] = policy


def _ensure_named_policy(call: OfflineCall) -> None:
    arn = call.params.get("PolicyArn")
    if isinstance(arn, str):
        ensure_aws_managed_policy(call.account_id, call.region, arn)


for _op in (
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "ListPolicyVersions",
):
    handles("iam", _op)(_ensure_named_policy)


@handles("sagemaker", "CreateModel", "after")
def _model_network_isolation(call: OfflineCall) -> None:
    """CreateModel's ``EnableNetworkIsolation`` (moto always reports False)."""
    from moto.sagemaker.models import sagemaker_backends

    model = sagemaker_backends[call.account_id][call.region]._models.get(
        str(call.params.get("ModelName"))
    )
    if model is not None:
        model.enable_network_isolation = bool(call.params.get("EnableNetworkIsolation", False))


@handles("kms", "ScheduleKeyDeletion")
def _schedule_key_deletion(call: OfflineCall) -> dict | None:  # type: ignore[type-arg]
    """ScheduleKeyDeletion accepts a key ARN as well as a key id (moto only takes the id)."""
    key = str(call.params.get("KeyId", ""))
    if not key.startswith("arn:"):
        return None
    import datetime as dt

    from moto.kms.models import kms_backends

    from mllab.offline.registry import AwsError

    backend = kms_backends[call.account_id][call.region]
    key_id = key.rsplit("/", 1)[-1]
    if key_id not in backend.keys:
        raise AwsError("NotFoundException", f"Key '{key}' does not exist")
    days = int(call.params.get("PendingWindowInDays", 30))
    if not 7 <= days <= 30:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            "satisfy constraint: Member must have value less than or equal to 30 and greater than or equal to 7",
        )
    when = backend.schedule_key_deletion(key_id, days)
    return {
        "KeyId": backend.keys[key_id].arn,
        "DeletionDate": dt.datetime.fromtimestamp(when, tz=dt.UTC),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }


@handles("sagemaker", "DeleteModelPackage")
def _delete_model_package(call: OfflineCall) -> dict:  # type: ignore[type-arg]
    """DeleteModelPackage (moto lacks it): by ARN, or by the name of an unversioned package."""
    from moto.sagemaker.models import sagemaker_backends

    from mllab.offline.registry import AwsError

    backend = sagemaker_backends[call.account_id][call.region]
    ref = str(call.params.get("ModelPackageName", ""))
    for arn, pkg in list(backend.model_packages.items()):
        if ref in (arn, pkg.model_package_name):
            del backend.model_packages[arn]
            return {}
    raise AwsError("ValidationException", f"ModelPackage {ref} does not exist.")
