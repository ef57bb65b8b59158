"""Offline Model Registry: versions, metrics, approval, and the approval event on EventBridge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _register(sm: Any, lab: Any, **extra: Any) -> str:
    return str(
        sm.create_model_package(
            ModelPackageGroupName="churn",
            InferenceSpecification={
                "Containers": [{"Image": XGB, "ModelDataUrl": f"s3://{lab.bucket}/m/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{lab.bucket}/eval/evaluation.json",
                    }
                }
            },
            **extra,
        )["ModelPackageArn"]
    )


def _queue_for_approvals(lab: Any) -> str:
    sqs = lab.client("sqs")
    url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = lab.client("events")
    events.put_rule(
        Name="on-approval",
        EventPattern=json.dumps(
            {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelApprovalStatus": ["Approved"]},
            }
        ),
    )
    events.put_targets(Rule="on-approval", Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def test_versions_metrics_and_approval_with_event(lab: Any) -> None:
    from mllab.offline.sagemaker import registry_models

    sm = lab.client("sagemaker")
    url = _queue_for_approvals(lab)
    sm.create_model_package_group(
        ModelPackageGroupName="churn", ModelPackageGroupDescription="churn models"
    )
    v1 = _register(sm, lab)
    v2 = _register(sm, lab, ModelApprovalStatus="PendingManualApproval")
    d1 = sm.describe_model_package(ModelPackageName=v1)
    assert d1["ModelPackageVersion"] == 1
    assert d1["ModelApprovalStatus"] == "PendingManualApproval"  # AWS's default
    assert d1["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("evaluation.json")
    assert sm.describe_model_package(ModelPackageName=v2)["ModelPackageVersion"] == 2
    listed = sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    assert sorted(p["ModelPackageVersion"] for p in listed) == [1, 2]
    assert registry_models.latest_approved(lab, "churn") is None

    sqs = lab.client("sqs")
    assert not sqs.receive_message(QueueUrl=url).get("Messages")  # creations are not approvals

    sm.update_model_package(
        ModelPackageArn=v2, ModelApprovalStatus="Approved", ApprovalDescription="AUC 0.91 >= 0.85"
    )
    d2 = sm.describe_model_package(ModelPackageName=v2)
    assert d2["ModelApprovalStatus"] == "Approved"
    assert d2["ApprovalDescription"] == "AUC 0.91 >= 0.85"
    assert "LastModifiedTime" in d2
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(msgs) == 1
    event = json.loads(msgs[0]["Body"])
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["detail"]["ModelPackageArn"] == v2
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert event["detail"]["ModelPackageGroupName"] == "churn"
    assert registry_models.latest_approved(lab, "churn")["ModelPackageArn"] == v2

    # updating only metadata keeps the approval (moto alone clears it)
    sm.update_model_package(ModelPackageArn=v2, CustomerMetadataProperties={"owner": "ml-team"})
    assert sm.describe_model_package(ModelPackageName=v2)["ModelApprovalStatus"] == "Approved"
    approved = sm.list_model_packages(ModelPackageGroupName="churn", ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [v2]

    sm.update_model_package(
        ModelPackageArn=v1, ModelApprovalStatus="Rejected", ApprovalDescription="older"
    )
    assert sm.describe_model_package(ModelPackageName=v1)["ModelApprovalStatus"] == "Rejected"
    assert not sqs.receive_message(QueueUrl=url).get("Messages")  # rejections do not match the rule
    with pytest.raises(ClientError) as err:
        sm.update_model_package(ModelPackageArn=v1, ModelApprovalStatus="Maybe")
    assert err.value.response["Error"]["Code"] == "ValidationException"
