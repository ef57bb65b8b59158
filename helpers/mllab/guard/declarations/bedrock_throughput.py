"""Hourly Bedrock capacity for custom models, priced (replaces part 1's refusal).

Introduced in the model-customisation lab. ``bedrock_runtime`` refuses
``CreateProvisionedModelThroughput`` and ``CreateCustomModelDeployment`` "until part 2 prices
them"; this module, loaded after it (declarations load in alphabetical order), prices them:
model units x the hourly price of the base model x the lab's ttl, with no commitment term
(a commitment is refused), and registers the deleter that stops the billing.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from mllab.guard import admission
from mllab.guard.declarations._util import quietly
from mllab.guard.declarations.vectors import prices as _prices
from mllab.guard.estimate import REFUSED, Estimate, Policy, Refusal

BEDROCK = "bedrock"


def _base_of(model_id: str) -> str:
    m = re.search(r"custom-model/([^/]+)/", model_id)
    return m.group(1) if m else "default"


def provisioned_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateProvisionedModelThroughput: model units x hourly price x ttl (no commitment).

    The custom model's base model is read from its ARN (``custom-model/<base>/<id>``); a name
    prices at the snapshot's default hourly rate.
    """
    if params.get("commitmentDuration"):
        raise Refusal(
            f"commitmentDuration {params['commitmentDuration']} commits to a month or more of "
            "hourly billing",
            "omit commitmentDuration (no-commitment Provisioned Throughput, deleted at teardown)",
        )
    units = int(params.get("modelUnits") or 1)
    if units > 1:
        raise Refusal(f"modelUnits is {units}; labs use 1", "set modelUnits=1")
    table = _prices()["customization"]["provisioned_throughput_usd_per_model_unit_hour"]
    base = _base_of(str(params.get("modelId", "")))
    hourly = float(table.get(base, table["default"])) * units
    return Estimate(
        hourly * policy.ttl_hours,
        str(params.get("provisionedModelName", "")),
        hourly_usd=hourly,
        family="bedrock-provisioned-throughput",
        detail={"model_units": units, "base_model": base, "ttl_hours": policy.ttl_hours},
    )


def deployment_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateCustomModelDeployment (on-demand Nova custom models): no hourly charge.

    On-demand custom-model deployments bill per token at the base model's rates, like the
    base model; the deployment itself costs nothing while idle. Priced at zero here, the
    tokens are priced at Converse.
    """
    return Estimate(
        0.0,
        str(params.get("modelDeploymentName", "")),
        detail={"basis": "on-demand: tokens are priced per Converse call"},
    )


def _delete_pt(session: Any, region: str, name: str) -> None:
    br = session.client(BEDROCK, region_name=region)
    quietly(partial(br.delete_provisioned_model_throughput, provisionedModelId=name))


def _find_pt(session: Any, region: str) -> Any:
    br = session.client(BEDROCK, region_name=region)
    for pt in br.list_provisioned_model_throughputs().get("provisionedModelSummaries", []):
        yield pt["provisionedModelName"], {}


def _delete_dep(session: Any, region: str, name: str) -> None:
    br = session.client(BEDROCK, region_name=region)
    quietly(partial(br.delete_custom_model_deployment, customModelDeploymentIdentifier=name))


for _op in ("CreateProvisionedModelThroughput", "CreateCustomModelDeployment"):
    REFUSED.pop((BEDROCK, _op), None)
admission.deleter(
    "bedrock-provisioned-throughput",
    created_by=[(BEDROCK, "CreateProvisionedModelThroughput")],
    delete=_delete_pt,
    find=_find_pt,
    order=5,
)
admission.deleter(
    "bedrock-custom-model-deployment",
    created_by=[(BEDROCK, "CreateCustomModelDeployment")],
    delete=_delete_dep,
    order=6,
)
admission.billable(
    BEDROCK,
    "CreateProvisionedModelThroughput",
    estimator=provisioned_cost,
    deleter="bedrock-provisioned-throughput",
    note="model units bill every hour until deleted",
)
admission.billable(
    BEDROCK,
    "CreateCustomModelDeployment",
    estimator=deployment_cost,
    deleter="bedrock-custom-model-deployment",
    note="on-demand: per token at Converse",
)
