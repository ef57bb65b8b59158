"""The admission table against botocore's service models: every operation of every service a
lab uses or that can bill is classified (read / free / billable / refused) or, undeclared,
refused by default-deny; every billable declaration has an estimator and a deleter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest

from mllab.guard import admission
from mllab.guard.core import Guard
from mllab.guard.errors import CostGuardError
from mllab.guard.estimate import ESTIMATORS, Policy
from mllab.guard.ledger import Ledger

#: botocore names of the services the labs use and of the services that can bill.
SERVICES = (
    "sagemaker",
    "sagemaker-runtime",
    "bedrock",
    "bedrock-runtime",
    "bedrock-agent",
    "bedrock-agent-runtime",
    "bedrock-agentcore",
    "bedrock-agentcore-control",
    "ec2",
    "autoscaling",
    "ecs",
    "eks",
    "batch",
    "emr",
    "emr-serverless",
    "lambda",
    "stepfunctions",
    "events",
    "scheduler",
    "cloudformation",
    "opensearch",
    "es",
    "opensearchserverless",
    "redshift",
    "redshift-serverless",
    "rds",
    "dynamodb",
    "kinesis",
    "firehose",
    "kinesisanalyticsv2",
    "kafka",
    "glue",
    "athena",
    "s3",
    "s3vectors",
    "lakeformation",
    "iam",
    "sts",
    "kms",
    "logs",
    "cloudwatch",
    "application-autoscaling",
    "elasticache",
    "comprehend",
    "rekognition",
)

_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Search", "BatchGet", "BatchDescribe", "Query")
_WRITE_PREFIXES = ("Create", "Start", "Run", "Put", "Purchase", "Request", "Allocate", "Restore")

_BC = botocore.session.get_session()


def _ops(name: str) -> tuple[str, list[str]]:
    model = _BC.get_service_model(name)
    return model.service_id.hyphenize(), list(model.operation_names)


def _all_service_ids() -> dict[str, str]:
    out = {}
    for name in _BC.get_available_services():
        out[_BC.get_service_model(name).service_id.hyphenize()] = name
    return out


@pytest.fixture(scope="module")
def guard(tmp_path_factory: pytest.TempPathFactory) -> Guard:
    ledger = Ledger(Path(tmp_path_factory.mktemp("adm")) / "ledger.sqlite")
    return Guard("adm", "run-adm", "offline", "us-east-1", 5.0, Policy(), ledger)


def test_every_declaration_names_a_real_operation() -> None:
    admission.load_all()
    ids = _all_service_ids()
    wrong = []
    for service, op in admission.DECLARED:
        name = ids.get(service)
        if name is None or op not in _BC.get_service_model(name).operation_names:
            wrong.append(f"{service}:{op}")
    assert wrong == [], f"declared operations botocore does not know: {wrong[:20]}"


def test_every_billable_declaration_has_an_estimator_and_a_deleter() -> None:
    admission.load_all()
    missing = []
    for (service, op), decl in admission.DECLARED.items():
        if decl.kind != "billable":
            continue
        if (service, op) not in ESTIMATORS:
            missing.append(f"{service}:{op} has no estimator")
        if decl.deleter != admission.NOTHING_PERSISTS and decl.deleter not in admission.DELETERS:
            missing.append(f"{service}:{op} names deleter {decl.deleter!r}, not registered")
    assert missing == []


def test_every_deleter_is_created_by_declared_operations() -> None:
    admission.load_all()
    for kind, d in admission.DELETERS.items():
        assert d.created_by, kind
        for op in d.created_by:
            assert op in admission.DECLARED, f"{kind} is created by undeclared {op}"


def test_reads_are_reads() -> None:
    admission.load_all()
    bad = [
        f"{s}:{o}"
        for (s, o), d in admission.DECLARED.items()
        if d.kind == "read" and o.startswith(_WRITE_PREFIXES) and not o.startswith(_READ_PREFIXES)
    ]
    assert bad == []


@pytest.mark.parametrize("name", SERVICES)
def test_every_operation_is_classified_or_refused(
    name: str, guard: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walk the service model: declared operations have a kind; undeclared ones are refused
    by the guard before anything is built (a sample of up to five per service is sent through
    ``Guard.check``, all of them are classified)."""
    monkeypatch.setenv("MLLAB_GUARD_ENFORCE", "1")
    sid, ops = _ops(name)
    model = _BC.get_service_model(name)
    undeclared = []
    for op in ops:
        decl = admission.classify(sid, op)
        if decl is None:
            undeclared.append(op)
        else:
            assert decl.kind in {"read", "free", "billable", "refused"}
    for op in undeclared[:: max(1, len(undeclared) // 5)][:5]:
        with pytest.raises(CostGuardError) as err:
            guard.check(sid, op, {}, model.operation_model(op))
        text = str(err.value)
        assert f"{sid}:{op}" in text
        assert "helpers/mllab/guard/declarations/" in text
        assert "default-deny" in text


@pytest.mark.parametrize(
    ("service", "op"),
    [
        ("sagemaker", "CreateNotebookInstance"),
        ("sagemaker", "BatchAddClusterNodes"),
        ("sagemaker", "CreateTrainingPlan"),
        ("ec2", "RunInstances"),
        ("ec2", "CreateFleet"),
        ("ec2", "RequestSpotFleet"),
        ("ec2", "CreateCapacityReservation"),
        ("ec2", "AllocateHosts"),
        ("ec2", "PurchaseReservedInstancesOffering"),
        ("auto-scaling", "CreateAutoScalingGroup"),
        ("eks", "CreateNodegroup"),
        ("batch", "CreateComputeEnvironment"),
        ("redshift", "RestoreFromClusterSnapshot"),
        ("elasticsearch-service", "CreateElasticsearchDomain"),
        ("cloudformation", "CreateStack"),
        ("sfn", "CreateStateMachine"),
        ("scheduler", "CreateSchedule"),
        ("glue", "CreateTrigger"),
    ],
)
def test_launchers_and_always_on_capacity_are_refused_with_a_reason(
    service: str, op: str, guard: Guard
) -> None:
    sid_to_name = _all_service_ids()
    model = _BC.get_service_model(sid_to_name[service]).operation_model(op)
    with pytest.raises(CostGuardError) as err:
        guard.check(service, op, {}, model)
    assert f"{service}:{op}" in str(err.value)
    assert "Nothing was sent" in str(err.value)


def _model(service: str, op: str) -> Any:
    return _BC.get_service_model(_all_service_ids()[service]).operation_model(op)


@pytest.mark.parametrize(
    ("service", "op", "params", "refused"),
    [
        # a rule target runs on the account's behalf unless it only receives the event
        (
            "eventbridge",
            "PutTargets",
            {
                "Rule": "r",
                "Targets": [{"Id": "f", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}],
            },
            True,
        ),
        (
            "eventbridge",
            "PutTargets",
            {
                "Rule": "r",
                "Targets": [
                    {"Id": "p", "Arn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p"}
                ],
            },
            True,
        ),
        (
            "eventbridge",
            "PutTargets",
            {
                "Rule": "r",
                "Targets": [
                    {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"},
                    {"Id": "s", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"},
                ],
            },
            True,
        ),
        (
            "eventbridge",
            "PutTargets",
            {"Rule": "r", "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}]},
            False,
        ),
        (
            "eventbridge",
            "PutTargets",
            {"Rule": "r", "Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:123456789012:t"}]},
            False,
        ),
        # an SNS subscription that invokes or texts bills per message
        (
            "sns",
            "Subscribe",
            {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Protocol": "lambda",
                "Endpoint": "arn:aws:lambda:us-east-1:123456789012:function:f",
            },
            True,
        ),
        (
            "sns",
            "Subscribe",
            {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Protocol": "sms",
                "Endpoint": "+15555550100",
            },
            True,
        ),
        (
            "sns",
            "Subscribe",
            {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Protocol": "https",
                "Endpoint": "https://example.com",
            },
            True,
        ),
        (
            "sns",
            "Subscribe",
            {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Protocol": "sqs",
                "Endpoint": "arn:aws:sqs:us-east-1:123456789012:q",
            },
            False,
        ),
        # shard-level metrics of a stream the guard cannot see cannot be priced
        (
            "kinesis",
            "EnableEnhancedMonitoring",
            {"StreamName": "ghost", "ShardLevelMetrics": ["ALL"]},
            True,
        ),
    ],
)
def test_launch_on_behalf_writes_admitted_only_when_nothing_runs(
    service: str, op: str, params: dict[str, Any], refused: bool, guard: Guard
) -> None:
    if refused:
        with pytest.raises(CostGuardError) as err:
            guard.check(service, op, params, _model(service, op))
        assert f"{service}:{op}" in str(err.value) and "Nothing was sent" in str(err.value)
    else:
        est = guard.check(service, op, params, _model(service, op))
        assert est is not None and est.usd == 0.0


def test_shard_level_metrics_are_priced_per_shard_and_metric(tmp_path: Path) -> None:
    """3 shards x 2 metrics at USD 0.30 a metric-month over the 1-hour time-to-live."""
    from mllab.guard import pricing

    streams = {"events": {"OpenShardCount": 3}}
    policy = Policy(lookup=lambda kind, name: streams.get(name) if kind == "stream" else None)
    guard = Guard("adm", "run-km", "offline", "us-east-1", 5.0, policy, Ledger(tmp_path / "l.db"))
    params = {"StreamName": "events", "ShardLevelMetrics": ["IncomingRecords", "IncomingBytes"]}
    est = guard.check(
        "kinesis", "EnableEnhancedMonitoring", params, _model("kinesis", "EnableEnhancedMonitoring")
    )
    assert est is not None
    expected = 3 * 2 * 0.30 / pricing.price("hours_per_month") * 1.0
    assert abs(est.usd - expected) <= 0.2 * expected, (est.usd, expected)
    all_metrics = dict(params, ShardLevelMetrics=["ALL"])
    est_all = guard.check(
        "kinesis",
        "EnableEnhancedMonitoring",
        all_metrics,
        _model("kinesis", "EnableEnhancedMonitoring"),
    )
    assert est_all is not None and abs(est_all.usd - expected * 7 / 2) <= 0.2 * expected * 7 / 2


def test_undeclared_operation_passes_only_with_enforcement_off(
    guard: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    model: Any = _BC.get_service_model("ecs").operation_model("CreateTaskSet")
    assert admission.classify("ecs", "CreateTaskSet") is None
    monkeypatch.setenv("MLLAB_GUARD_ENFORCE", "1")
    with pytest.raises(CostGuardError, match="default-deny"):
        guard.check("ecs", "CreateTaskSet", {}, model)
    monkeypatch.setenv("MLLAB_GUARD_ENFORCE", "0")
    assert guard.check("ecs", "CreateTaskSet", {}, model) is None


def test_where_to_declare_names_the_family_module() -> None:
    assert admission.where_to_declare("sagemaker").endswith("declarations/sagemaker.py")
    assert admission.where_to_declare("kinesis").endswith("declarations/data.py")
    assert admission.where_to_declare("bedrock-runtime").endswith("bedrock_runtime.py")
    assert admission.where_to_declare("batch").endswith("declarations/refused.py")
