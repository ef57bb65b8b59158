"""SimulatePrincipalPolicy evaluates the role's stored policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mllab.offline.iam import evaluate


def test_lab_role_allows_its_bucket_and_denies_others(lab: Any) -> None:
    iam = lab.client("iam")
    res = iam.simulate_principal_policy(
        PolicySourceArn=lab.role_arn,
        ActionNames=["s3:GetObject", "s3:DeleteBucket", "ecr:GetAuthorizationToken"],
        ResourceArns=[f"arn:aws:s3:::{lab.bucket}/data/x.csv", "arn:aws:s3:::other-bucket/x"],
    )["EvaluationResults"]
    got = {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in res}
    assert got[("s3:GetObject", f"arn:aws:s3:::{lab.bucket}/data/x.csv")] == "allowed"
    assert got[("s3:GetObject", "arn:aws:s3:::other-bucket/x")] == "implicitDeny"
    assert got[("s3:DeleteBucket", f"arn:aws:s3:::{lab.bucket}/data/x.csv")] == "implicitDeny"
    assert got[("ecr:GetAuthorizationToken", "arn:aws:s3:::other-bucket/x")] == "allowed"


def test_explicit_deny_wins(lab: Any) -> None:
    iam = lab.client("iam")
    iam.put_role_policy(
        RoleName="MLLabSageMakerExecutionRole",
        PolicyName="deny-delete",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "s3:*Object", "Resource": "*"}],
            }
        ),
    )
    res = iam.simulate_principal_policy(
        PolicySourceArn=lab.role_arn,
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{lab.bucket}/a"],
    )["EvaluationResults"][0]
    assert res["EvalDecision"] == "explicitDeny"


def test_missing_role_is_no_such_entity(lab: Any) -> None:
    iam = lab.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/nope", ActionNames=["s3:GetObject"]
        )


@pytest.mark.parametrize(
    ("stmt", "action", "resource", "decision"),
    [
        (
            {"Effect": "Allow", "Action": "S3:get*", "Resource": "*"},
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            "allowed",
        ),
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            "iam:PassRole",
            "*",
            "implicitDeny",
        ),
        (
            {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"},
            "s3:GetObject",
            "arn:aws:s3:::secret/k",
            "implicitDeny",
        ),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/?"},
            "s3:GetObject",
            "arn:aws:s3:::b/kk",
            "implicitDeny",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            },
            "s3:GetObject",
            "x",
            "implicitDeny",
        ),
    ],
)
def test_evaluate_rules(stmt: dict[str, Any], action: str, resource: str, decision: str) -> None:
    assert evaluate([{"Statement": [stmt]}], action, resource)["EvalDecision"] == decision


def test_aws_managed_policies_attach_and_evaluate(lab: Any) -> None:
    iam = lab.client("iam")
    arn = iam.create_role(RoleName="glue-crawler", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="glue-crawler", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
    )
    attached = iam.list_attached_role_policies(RoleName="glue-crawler")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSGlueServiceRole"]
    res = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["glue:GetTable", "sagemaker:CreateEndpoint"]
    )
    assert {r["EvalActionName"]: r["EvalDecision"] for r in res["EvaluationResults"]} == {
        "glue:GetTable": "allowed",
        "sagemaker:CreateEndpoint": "implicitDeny",
    }
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_role_policy(
            RoleName="glue-crawler", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy"
        )


def test_moto_gaps_network_isolation_key_deletion_by_arn_model_package_deletion(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_model(
        ModelName="iso",
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
        },
        ExecutionRoleArn=lab.role_arn,
        EnableNetworkIsolation=True,
    )
    assert sm.describe_model(ModelName="iso")["EnableNetworkIsolation"] is True
    kms = lab.client("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    res = kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert res["KeyState"] == "PendingDeletion" and res["KeyId"] == arn
    sm.create_model_package_group(ModelPackageGroupName="g")
    pkg = sm.create_model_package(
        ModelPackageGroupName="g",
        InferenceSpecification={
            "Containers": [
                {"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.delete_model_package(ModelPackageName=pkg)
    assert sm.list_model_packages(ModelPackageGroupName="g")["ModelPackageSummaryList"] == []
