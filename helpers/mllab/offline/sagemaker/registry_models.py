"""Offline SageMaker Model Registry: the gaps moto leaves, and approval events (lab 04).

moto stores model package groups and versioned model packages (``CreateModelPackageGroup``,
``CreateModelPackage`` with ``ModelMetrics``/``InferenceSpecification``,
``ListModelPackages``, ``DescribeModelPackage``). This module adds what AWS does beyond it:

* a versioned package created without ``ModelApprovalStatus`` is ``PendingManualApproval``
  (moto leaves it empty);
* ``UpdateModelPackage`` changes only what the request names (moto clears the approval
  status, description and metadata that are not repeated), checks the status value, and
  keeps ``LastModifiedTime``/``ApprovalDescription``;
* every creation and every approval-status change puts a ``"SageMaker Model Package State
  Change"`` event (``source`` ``aws.sagemaker``, the package's fields as ``detail``) on the
  default EventBridge bus of (moto's) EventBridge, so a rule matching
  ``{"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
  "detail": {"ModelApprovalStatus": ["Approved"]}}`` with an SQS or CloudWatch Logs target
  receives it: the hook a lab uses to deploy approved models.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
DETAIL_TYPE = "SageMaker Model Package State Change"


def _backend(account_id: str, region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id][region]


def _package(account_id: str, region: str, name_or_arn: str) -> Any:
    be = _backend(account_id, region)
    key = be.model_package_name_mapping.get(name_or_arn, name_or_arn)
    return be.model_packages.get(key)


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        d = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
        return d.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(v)


def emit_state_change(account_id: str, region: str, package: Any) -> None:
    """Put a ``SageMaker Model Package State Change`` event on the default bus (moto's).

    Args:
        account_id: the offline account; ``region`` its region.
        package: moto's model package.

    Costs nothing (AWS emits these events itself, free of charge).
    """
    try:
        from moto.events.models import events_backends

        detail = package.gen_response_object()
        detail.setdefault("ModelPackageName", package.model_package_name)
        if package.model_package_group_name:
            detail.setdefault("ModelPackageGroupName", package.model_package_group_name)
        events_backends[account_id][region].put_events(
            [
                {
                    "Source": "aws.sagemaker",
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail, default=_json_default),
                    "Resources": [package.arn],
                    "EventBusName": "default",
                }
            ]
        )
    except Exception:  # noqa: BLE001 - events never fail the API call
        import logging

        logging.getLogger(__name__).debug("model package event not delivered", exc_info=True)


@handles("sagemaker", "CreateModelPackage", "before")
def _create_check(call: OfflineCall) -> None:
    status = call.params.get("ModelApprovalStatus")
    if status is not None and status not in APPROVAL_STATUSES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            "[PendingManualApproval, Approved, Rejected]",
        )
    return None


@handles("sagemaker", "CreateModelPackage", "after")
def _create_after(call: OfflineCall) -> None:
    arn = (call.response or {}).get("ModelPackageArn")
    if not arn:
        return
    pkg = _package(call.account_id, call.region, str(arn))
    if pkg is None:
        return
    if pkg.model_package_group_name and pkg.model_approval_status is None:
        pkg.model_approval_status = "PendingManualApproval"
    if call.params.get("ApprovalDescription") and not pkg.approval_description:
        pkg.approval_description = call.params["ApprovalDescription"]
    emit_state_change(call.account_id, call.region, pkg)


@handles("sagemaker", "UpdateModelPackage", "before")
def _update(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    arn = str(p.get("ModelPackageArn", ""))
    pkg = _package(call.account_id, call.region, arn)
    if pkg is None:
        raise AwsError("ValidationException", f"Model package {arn} not found")
    status = p.get("ModelApprovalStatus")
    if status is not None and status not in APPROVAL_STATUSES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            "[PendingManualApproval, Approved, Rejected]",
        )
    changed = status is not None and status != pkg.model_approval_status
    if status is not None:
        pkg.model_approval_status = status
    if "ApprovalDescription" in p:
        pkg.approval_description = p["ApprovalDescription"]
    if p.get("CustomerMetadataProperties"):
        merged = dict(pkg.customer_metadata_properties or {})
        merged.update(p["CustomerMetadataProperties"])
        pkg.customer_metadata_properties = merged
    for key in p.get("CustomerMetadataPropertiesToRemove") or []:
        (pkg.customer_metadata_properties or {}).pop(key, None)
    if p.get("AdditionalInferenceSpecificationsToAdd"):
        pkg.add_additional_inference_specifications(p["AdditionalInferenceSpecificationsToAdd"])
    if p.get("InferenceSpecification"):
        pkg.inference_specification = p["InferenceSpecification"]
    pkg.modifications_done()
    if changed:
        emit_state_change(call.account_id, call.region, pkg)
    return {"ModelPackageArn": pkg.arn}


def latest_approved(session: Any, group: str) -> dict[str, Any] | None:
    """Describe the newest ``Approved`` version of a model package group (lab 04).

    Args:
        session: the lab's session (``lab.session``) or the lab.
        group: the model package group's name.

    Returns:
        The DescribeModelPackage response, or None when no version is approved. Costs
        nothing.
    """
    session = getattr(session, "session", session)
    sm = session.client("sagemaker")
    found = sm.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )["ModelPackageSummaryList"]
    if not found:
        return None
    return dict(sm.describe_model_package(ModelPackageName=found[0]["ModelPackageArn"]))
