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
