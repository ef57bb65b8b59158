"""EC2 internet gateways and routes: declared free, the gateway registered with a deleter that
detaches and deletes it at lab.close(); NAT gateways (hourly) stay refused."""

from __future__ import annotations

from typing import Any

import pytest

from mllab.guard import admission
from mllab.guard.errors import CostGuardError


def test_declared_as_free_writes_with_a_deleter() -> None:
    for op in (
        "AttachInternetGateway",
        "DetachInternetGateway",
        "DeleteInternetGateway",
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
    ):
        d = admission.classify("ec2", op)
        assert d is not None and d.kind == "free", (op, d)
    create = admission.classify("ec2", "CreateInternetGateway")
    assert create is not None and create.kind == "billable"
    assert create.deleter == "ec2-internet-gateway"
    deleter = admission.DELETERS["ec2-internet-gateway"]
    assert ("ec2", "CreateInternetGateway") in deleter.created_by
    nat = admission.classify("ec2", "CreateNatGateway")
    assert nat is not None and nat.kind == "refused"


def _vpc_with_internet(lab: Any) -> tuple[str, str, str]:
    ec2 = lab.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    return vpc, igw, table


def test_costs_nothing_and_the_ledger_keeps_the_gateway_id(lab: Any) -> None:
    vpc, igw, table = _vpc_with_internet(lab)
    ec2 = lab.client("ec2")
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert any(r.get("GatewayId") == igw for r in routes)
    (row,) = [r for r in lab.ledger.rows(run=lab.run_id) if r.operation == "CreateInternetGateway"]
    assert (row.resource, row.estimate_usd) == (igw, 0.0)
    assert lab.cost()["spent_usd"] == 0.0
    # the learner's own undo: every step is admitted
    ec2.replace_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0")
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    assert admission.DELETERS["ec2-internet-gateway"].delete(lab.session, lab.region, igw) is None


def test_close_detaches_and_deletes_the_gateway(lab: Any) -> None:
    from mllab.teardown import teardown_run

    vpc, igw, _table = _vpc_with_internet(lab)
    done = teardown_run(lab, complete=True)
    assert {"kind": "ec2-internet-gateway", "name": igw, "action": "deleted"} in done, done
    gateways = lab.client("ec2").describe_internet_gateways()["InternetGateways"]
    assert igw not in {g["InternetGatewayId"] for g in gateways}
    assert teardown_run(lab, complete=True) == []  # idempotent


def test_nat_gateway_refused_with_its_reason(lab: Any) -> None:
    with pytest.raises(CostGuardError, match="bills every hour"):
        lab.client("ec2").create_nat_gateway(SubnetId="subnet-12345678")
