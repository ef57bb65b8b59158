"""mllab sandbox: the generated policies, evaluated offline by the project's IAM evaluator,
allow every request the labs' solutions make and deny the adversarial ones; the budget is
created against moto's AWS Budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from mllab import sandbox as sb
from mllab.offline.iam import condition_holds, evaluate_with_boundary

ACCOUNT = "123456789012"
LAB_OPERATIONS = [
    tuple(line.split())
    for line in (Path(__file__).parent / "lab_operations.txt").read_text().splitlines()
    if line and not line.startswith("#")
]


@pytest.fixture(scope="module")
def plan() -> sb.Plan:
    return sb.plan(ACCOUNT, budget_usd=20.0, email="learner@example.com")


def decide(p: sb.Plan, action: str, context: dict[str, Any] | None = None) -> str:
    return evaluate_with_boundary(p.identity, p.boundary, action, "*", context or {})


def test_policies_fit_iam_limits(plan: sb.Plan) -> None:
    import json

    for doc in [plan.boundary, *plan.identity]:
        assert len(json.dumps(doc, separators=(",", ":"))) <= sb.MAX_POLICY_CHARS


@pytest.mark.parametrize(("service", "op"), LAB_OPERATIONS, ids=lambda x: str(x))
def test_every_lab_solution_request_is_allowed(plan: sb.Plan, service: str, op: str) -> None:
    context: dict[str, Any] = {}
    if op in sb.INSTANCE_TYPED:
        context["sagemaker:InstanceTypes"] = ["ml.m5.large"]
    if op in sb.RUNTIME_BOUNDED:
        context["sagemaker:MaxRuntimeInSeconds"] = 900
    assert decide(plan, sb.iam_action(service, op), context) == "allowed"


ADVERSARIAL = {
    "p4d training": (
        "sagemaker:CreateTrainingJob",
        {"sagemaker:InstanceTypes": ["ml.p4d.24xlarge"], "sagemaker:MaxRuntimeInSeconds": 60},
    ),
    "mixed types tuning": (
        "sagemaker:CreateHyperParameterTuningJob",
        {
            "sagemaker:InstanceTypes": ["ml.m5.large", "ml.g5.48xlarge"],
            "sagemaker:MaxRuntimeInSeconds": 60,
        },
    ),
    "gpu endpoint config": (
        "sagemaker:CreateEndpointConfig",
        {"sagemaker:InstanceTypes": ["ml.g4dn.xlarge"]},
    ),
    "5 day runtime": (
        "sagemaker:CreateTrainingJob",
        {"sagemaker:InstanceTypes": ["ml.m5.large"], "sagemaker:MaxRuntimeInSeconds": 432000},
    ),
    "no runtime": ("sagemaker:CreateProcessingJob", {"sagemaker:InstanceTypes": ["ml.m5.large"]}),
    "monitoring on p3": (
        "sagemaker:UpdateMonitoringSchedule",
        {"sagemaker:InstanceTypes": ["ml.p3.16xlarge"]},
    ),
    "ec2 instance": ("ec2:RunInstances", {"ec2:InstanceType": "p4d.24xlarge"}),
    "ec2 fleet": ("ec2:CreateFleet", {}),
    "notebook instance": ("sagemaker:CreateNotebookInstance", {}),
    "hyperpod nodes": ("sagemaker:BatchAddClusterNodes", {}),
    "stack": ("cloudformation:CreateStack", {}),
    "state machine": ("states:StartExecution", {}),
    "batch": ("batch:CreateComputeEnvironment", {}),
    "eks nodegroup": ("eks:CreateNodegroup", {}),
    "redshift restore": ("redshift:RestoreFromClusterSnapshot", {}),
    "legacy es": ("es:CreateElasticsearchDomain", {}),
    "glue trigger": ("glue:CreateTrigger", {}),
    "undeclared ecs": ("ecs:CreateTaskSet", {}),
    "undeclared dynamodb": ("dynamodb:PutItem", {}),
}


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_adversarial_requests_are_denied(plan: sb.Plan, case: str) -> None:
    action, context = ADVERSARIAL[case]
    assert decide(plan, action, context) in {"explicitDeny", "implicitDeny"}


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"k": "a"}}, {"k": "a"}, True),
        ({"StringEquals": {"k": "a"}}, {"k": "b"}, False),
        ({"StringLike": {"k": "ml.m5.*"}}, {"k": "ml.m5.large"}, True),
        ({"StringNotLike": {"k": ["ml.m5.*", "ml.t3.*"]}}, {"k": "ml.t3.medium"}, False),
        (
            {"ForAnyValue:StringNotLike": {"k": ["ml.m5.*"]}},
            {"k": ["ml.m5.large", "ml.p3.2xlarge"]},
            True,
        ),
        (
            {"ForAllValues:StringLike": {"k": ["ml.m5.*"]}},
            {"k": ["ml.m5.large", "ml.p3.2xlarge"]},
            False,
        ),
        ({"ForAllValues:StringLike": {"k": ["ml.m5.*"]}}, {}, True),
        ({"ForAnyValue:StringLike": {"k": ["ml.m5.*"]}}, {}, False),
        ({"NumericLessThanEquals": {"n": "3600"}}, {"n": 3600}, True),
        ({"NumericLessThanEquals": {"n": "3600"}}, {"n": 3601}, False),
        ({"NumericGreaterThan": {"n": "3600"}}, {"n": "x"}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "True"}, True),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "true"}}, {"k": "v"}, False),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringEquals": {"K": "a"}}, {"k": "a"}, True),
    ],
)
def test_condition_operators(
    condition: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    assert condition_holds(condition, context) is expected


@pytest.mark.parametrize("budget", [0.0, -5.0, float("nan"), float("inf")])
def test_plan_refuses_bad_budgets(budget: float) -> None:
    with pytest.raises(ValueError):
        sb.plan(ACCOUNT, budget_usd=budget)


def test_apply_creates_role_boundary_and_budget_on_moto(mock_aws_env: None) -> None:
    session = boto3.Session(region_name="us-east-1")
    p = sb.plan(ACCOUNT, budget_usd=25.0, email="learner@example.com")
    before = sb.status(session, ACCOUNT)
    assert before["role"] is False and before["budget_usd"] is None
    done = sb.apply(session, p)
    assert any("created role" in d for d in done)
    st = sb.status(session, ACCOUNT)
    assert st["role"] is True
    assert st["boundary"] == f"arn:aws:iam::{ACCOUNT}:policy/{sb.BOUNDARY_NAME}"
    assert len(st["policies"]) == len(p.identity)
    assert float(st["budget_usd"]) == pytest.approx(25.0)
    assert st["notifications"] == 2
    again = sb.apply(session, p)  # idempotent
    assert any("exists" in d for d in again)


def test_sandbox_cli_dry_run_creates_nothing() -> None:
    from mllab.cli import main

    res = CliRunner().invoke(main, ["sandbox", "--budget", "10"])
    assert res.exit_code == 0, res.output
    assert "Dry run: nothing was created" in res.output
    assert "sagemaker:InstanceTypes" in res.output
