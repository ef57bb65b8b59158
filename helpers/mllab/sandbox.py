"""Enforcement outside the kernel: an IAM role, its permissions boundary and an AWS Budget.

Introduced in lab 00 for ``MLLAB_BACKEND=aws``. The in-process cost guard prices and explains;
behind it, ``mllab sandbox`` builds from the same admission table a boundary the notebook
cannot remove, so subprocesses, ``!aws ...``, raw HTTP and other SDKs run under it too:

* a role (``MLLabSandboxRole``) the lab assumes with one-hour credentials
  (``MLLAB_SANDBOX_ROLE_ARN``, read by :func:`mllab.backends.aws.make_session`);
* identity policies allowing exactly the admitted operations (reads by ``Describe*``/``List*``/
  ``Get*``/``Head*`` per service, free and billable writes one by one), split to stay under
  IAM's 6,144-character managed-policy limit; anything undeclared is an implicit deny;
* a permissions boundary with the bounds as IAM condition keys: ``sagemaker:InstanceTypes``
  (the allow-list), ``sagemaker:MaxRuntimeInSeconds`` (present and at most the lab's cap),
  ``ec2:InstanceType`` (no EC2 instance at all), and explicit denies of the refused operations;
* an AWS Budgets budget at the monthly amount, with alerts (80% actual, 100% forecasted) and,
  optionally, a budget action that attaches a deny-all policy to the role at 100%.

:func:`plan` costs nothing and sends nothing (the dry run); :func:`apply` creates what the
plan lists (IAM and Budgets have no charge; the first two action-enabled budgets are free);
:func:`status` reads what is in place (``mllab doctor``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ROLE_NAME = "MLLabSandboxRole"
BOUNDARY_NAME = "MLLabSandboxBoundary"
IDENTITY_PREFIX = "MLLabSandboxAllow"
DENY_ALL_NAME = "MLLabSandboxDenyAll"
BUDGET_NAME = "mllab-sandbox"
MAX_POLICY_CHARS = 6144

#: IAM service prefixes of botocore service ids where they differ.
IAM_PREFIX = {
    "cloudwatch-logs": "logs",
    "application-auto-scaling": "application-autoscaling",
    "eventbridge": "events",
    "sagemaker-runtime": "sagemaker",
    "sagemaker-metrics": "sagemaker",
    "sagemaker-featurestore-runtime": "sagemaker",
    "bedrock-runtime": "bedrock",
    "bedrock-agent": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "resource-groups-tagging-api": "tag",
    "auto-scaling": "autoscaling",
    "sfn": "states",
    "elasticsearch-service": "es",
    "opensearch": "es",
    "kinesis-analytics-v2": "kinesisanalytics",
    "opensearchserverless": "aoss",
    "route-53": "route53",
    "elastic-load-balancing": "elasticloadbalancing",
    "elastic-load-balancing-v2": "elasticloadbalancing",
    "cost-explorer": "ce",
}

#: S3 operations whose IAM action has another name.
S3_ACTIONS = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "DeleteObjects": "DeleteObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "SelectObjectContent": "GetObject",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeleteObjectTagging": "DeleteObjectTagging",
}

_READ = ("Describe", "List", "Get", "Head", "Search", "BatchGet", "BatchDescribe", "Query")

#: Operations whose requests carry ``sagemaker:InstanceTypes``.
INSTANCE_TYPED = (
    "CreateTrainingJob",
    "CreateProcessingJob",
    "CreateTransformJob",
    "CreateHyperParameterTuningJob",
    "CreateEndpointConfig",
    "CreateMonitoringSchedule",
    "UpdateMonitoringSchedule",
    "CreateDataQualityJobDefinition",
    "CreateModelQualityJobDefinition",
    "CreateModelBiasJobDefinition",
    "CreateModelExplainabilityJobDefinition",
)
#: Operations whose requests carry ``sagemaker:MaxRuntimeInSeconds``.
RUNTIME_BOUNDED = ("CreateTrainingJob", "CreateProcessingJob", "CreateHyperParameterTuningJob")


def iam_action(service: str, operation: str) -> str:
    """The IAM action of a botocore (service id, operation), e.g. ``logs:PutLogEvents``."""
    prefix = IAM_PREFIX.get(service, service)
    if service == "s3":
        operation = S3_ACTIONS.get(operation, operation)
    return f"{prefix}:{operation}"


@dataclass
class Plan:
    """What ``mllab sandbox`` would create (the dry run prints it)."""

    account_id: str
    boundary: dict[str, Any]
    identity: list[dict[str, Any]]
    trust: dict[str, Any]
    budget: dict[str, Any]
    notifications: list[dict[str, Any]]
    action: dict[str, Any] | None = None
    deny_all: dict[str, Any] = field(
        default_factory=lambda: {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "BudgetSpent", "Effect": "Deny", "Action": "*", "Resource": "*"}],
        }
    )

    def to_json(self) -> str:
        """The plan as indented JSON (what the dry run prints)."""
        return json.dumps(self.__dict__, indent=2, default=str)


def _allowed_actions() -> tuple[list[str], list[str]]:
    """(IAM actions the admission table admits, IAM actions it refuses)."""
    from mllab.guard import admission

    admission.load_all()
    allow: set[str] = set()
    deny: set[str] = set()
    for (service, op), decl in admission.DECLARED.items():
        action = iam_action(service, op)
        if decl.kind == "refused":
            deny.add(action)
        elif decl.kind == "read" and op.startswith(_READ) and service != "s3":
            prefix = next(p for p in _READ if op.startswith(p))
            allow.add(f"{action.split(':')[0]}:{prefix}*")
        else:
            allow.add(action)
    return sorted(allow), sorted(deny - allow)


def _chunks(
    actions: list[str], sid: str, limit: int = MAX_POLICY_CHARS - 300
) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    current: list[str] = []
    for a in actions:
        if current and len(json.dumps(current + [a], separators=(",", ":"))) > limit:
            docs.append(current)  # type: ignore[arg-type]
            current = []
        current.append(a)
    if current:
        docs.append(current)  # type: ignore[arg-type]
    return [
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": f"{sid}{i}", "Effect": "Allow", "Action": c, "Resource": "*"}],
        }
        for i, c in enumerate(docs)
    ]


def plan(
    account_id: str,
    *,
    budget_usd: float,
    email: str | None = None,
    allowed_types: frozenset[str] | None = None,
    max_runtime_seconds: int = 3600,
    budget_action: bool = False,
) -> Plan:
    """Build the role, policies and budget from the admission table (sends nothing).

    Args:
        account_id: the sandbox account.
        budget_usd: the monthly budget (a finite, positive amount).
        email: where budget alerts go (required by AWS Budgets for a subscriber).
        allowed_types: SageMaker instance types allowed (default: the guard's allow-list).
        max_runtime_seconds: the longest job runtime allowed.
        budget_action: also plan a budget action that denies everything at 100%.

    Returns:
        The :class:`Plan`. Costs nothing.
    """
    import math

    from mllab.guard.estimate import DEFAULT_ALLOWED_TYPES

    if not math.isfinite(budget_usd) or budget_usd <= 0:
        raise ValueError(f"budget_usd={budget_usd!r}: give a finite, positive monthly amount")
    types = sorted(allowed_types or DEFAULT_ALLOWED_TYPES)
    allow, deny = _allowed_actions()
    services = sorted({a.split(":")[0] for a in allow})
    boundary_statements: list[dict[str, Any]] = [
        {
            "Sid": "AdmittedServices",
            "Effect": "Allow",
            "Action": [f"{s}:*" for s in services],
            "Resource": "*",
        },
        {
            "Sid": "InstanceTypesOnTheAllowList",
            "Effect": "Deny",
            "Action": [f"sagemaker:{op}" for op in INSTANCE_TYPED],
            "Resource": "*",
            "Condition": {"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": types}},
        },
        {
            "Sid": "RuntimeBounded",
            "Effect": "Deny",
            "Action": [f"sagemaker:{op}" for op in RUNTIME_BOUNDED],
            "Resource": "*",
            "Condition": {
                "NumericGreaterThan": {"sagemaker:MaxRuntimeInSeconds": str(max_runtime_seconds)}
            },
        },
        {
            "Sid": "RuntimeStated",
            "Effect": "Deny",
            "Action": ["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob"],
            "Resource": "*",
            "Condition": {"Null": {"sagemaker:MaxRuntimeInSeconds": "true"}},
        },
        {
            "Sid": "NoEc2Instances",
            "Effect": "Deny",
            "Action": "ec2:*",
            "Resource": "*",
            "Condition": {"Null": {"ec2:InstanceType": "false"}},
        },
    ]
    boundary = {"Version": "2012-10-17", "Statement": boundary_statements}
    # explicit denies of the refused operations, as many as fit in the boundary
    room = MAX_POLICY_CHARS - len(json.dumps(boundary, separators=(",", ":"))) - 120
    listed: list[str] = []
    for a in deny:
        if len(json.dumps(listed + [a], separators=(",", ":"))) > room:
            break
        listed.append(a)
    if listed:
        boundary_statements.append(
            {"Sid": "RefusedOperations", "Effect": "Deny", "Action": listed, "Resource": "*"}
        )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    budget = {
        "BudgetName": BUDGET_NAME,
        "BudgetLimit": {"Amount": f"{budget_usd:.2f}", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }
    subscribers = [{"SubscriptionType": "EMAIL", "Address": email}] if email else []
    notifications = [
        {
            "Notification": {
                "NotificationType": kind,
                "ComparisonOperator": "GREATER_THAN",
                "Threshold": threshold,
                "ThresholdType": "PERCENTAGE",
            },
            "Subscribers": subscribers,
        }
        for kind, threshold in (("ACTUAL", 80.0), ("FORECASTED", 100.0))
    ]
    action = None
    if budget_action:
        action = {
            "BudgetName": BUDGET_NAME,
            "NotificationType": "ACTUAL",
            "ActionType": "APPLY_IAM_POLICY",
            "ActionThreshold": {"ActionThresholdValue": 100.0, "ActionThresholdType": "PERCENTAGE"},
            "Definition": {
                "IamActionDefinition": {
                    "PolicyArn": f"arn:aws:iam::{account_id}:policy/{DENY_ALL_NAME}",
                    "Roles": [ROLE_NAME],
                }
            },
            "ApprovalModel": "AUTOMATIC",
            "Subscribers": subscribers,
        }
    return Plan(
        account_id=account_id,
        boundary=boundary,
        identity=_chunks(allow, "Admitted"),
        trust=trust,
        budget=budget,
        notifications=notifications,
        action=action,
    )


def apply(session: Any, p: Plan, execution_role_arn: str | None = None) -> list[str]:
    """Create what the plan lists (idempotent where AWS allows; existing items are kept).

    Args:
        session: a boto3 session of the sandbox account (administrator credentials).
        p: the plan.
        execution_role_arn: the role AWS Budgets assumes for the budget action.

    Returns:
        One line per item created or found. IAM and Budgets have no charge.
    """
    iam = session.client("iam")
    budgets = session.client("budgets")
    done: list[str] = []

    def policy(name: str, doc: dict[str, Any]) -> str:
        arn = f"arn:aws:iam::{p.account_id}:policy/{name}"
        try:
            iam.create_policy(
                PolicyName=name, PolicyDocument=json.dumps(doc, separators=(",", ":"))
            )
            done.append(f"created policy {name}")
        except iam.exceptions.EntityAlreadyExistsException:
            done.append(f"policy {name} exists")
        return arn

    boundary_arn = policy(BOUNDARY_NAME, p.boundary)
    try:
        iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(p.trust),
            PermissionsBoundary=boundary_arn,
            MaxSessionDuration=3600,
            Description="aws-ml-labs sandbox: what the cost guard admits, bounded by IAM conditions",
        )
        done.append(f"created role {ROLE_NAME} (boundary {BOUNDARY_NAME})")
    except iam.exceptions.EntityAlreadyExistsException:
        iam.put_role_permissions_boundary(RoleName=ROLE_NAME, PermissionsBoundary=boundary_arn)
        done.append(f"role {ROLE_NAME} exists; boundary set")
    for i, doc in enumerate(p.identity):
        arn = policy(f"{IDENTITY_PREFIX}{i}", doc)
        iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=arn)
    policy(DENY_ALL_NAME, p.deny_all)
    try:
        budgets.create_budget(
            AccountId=p.account_id, Budget=p.budget, NotificationsWithSubscribers=p.notifications
        )
        done.append(f"created budget {BUDGET_NAME} ({p.budget['BudgetLimit']['Amount']} USD/month)")
    except budgets.exceptions.DuplicateRecordException:
        done.append(f"budget {BUDGET_NAME} exists")
    if p.action is not None:
        if not execution_role_arn:
            raise ValueError("a budget action needs execution_role_arn (the role Budgets assumes)")
        budgets.create_budget_action(
            AccountId=p.account_id, ExecutionRoleArn=execution_role_arn, **p.action
        )
        done.append("created budget action (deny-all at 100%)")
    return done


def status(session: Any, account_id: str) -> dict[str, Any]:
    """What is in place: the role and its boundary, its policies, the budget (read-only).

    Returns:
        ``{"role": bool, "boundary": str | None, "policies": [...], "budget_usd": str | None,
        "notifications": int}``. Costs nothing.
    """
    iam = session.client("iam")
    budgets = session.client("budgets")
    out: dict[str, Any] = {
        "role": False,
        "boundary": None,
        "policies": [],
        "budget_usd": None,
        "notifications": 0,
    }
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
        out["role"] = True
        out["boundary"] = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        out["policies"] = [
            a["PolicyName"]
            for a in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]
        ]
    except iam.exceptions.NoSuchEntityException:
        pass
    try:
        b = budgets.describe_budget(AccountId=account_id, BudgetName=BUDGET_NAME)["Budget"]
        out["budget_usd"] = b["BudgetLimit"]["Amount"]
        notes = budgets.describe_notifications_for_budget(
            AccountId=account_id, BudgetName=BUDGET_NAME
        )
        out["notifications"] = len(notes.get("Notifications") or [])
    except budgets.exceptions.NotFoundException:
        pass
    return out
