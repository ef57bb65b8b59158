"""The cost guard proper: estimate, allow-list, budget, tag, record (introduced in lab 00).

:class:`Guard` is driven by botocore events (see :mod:`mllab.hooks`): ``check`` runs
before a request is built, so a refusal sends nothing; ``record`` runs after AWS (or moto)
accepted it; ``observe`` notes actual use from describe/delete answers.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel
from botocore.validate import validate_parameters

from mllab.guard import pricing
from mllab.guard.errors import CostGuardError
from mllab.guard.estimate import (
    ESTIMATORS,
    REFUSED,
    Estimate,
    Policy,
    Refusal,
    athena_cost,
    is_billable,
)
from mllab.guard.ledger import Ledger

TAG_LAB = "mllab:lab"
TAG_RUN = "mllab:run"
TAG_CREATED = "mllab:created"

#: Operations whose answer carries the ARN of what they created.
_ARN_KEYS = (
    "TrainingJobArn",
    "HyperParameterTuningJobArn",
    "ProcessingJobArn",
    "TransformJobArn",
    "EndpointArn",
    "MonitoringScheduleArn",
    "CompilationJobArn",
    "DeliveryStreamARN",
    "ConsumerARN",
    "JobRunId",
    "QueryExecutionId",
)


@dataclass
class Guard:
    """The guard of one lab run.

    Attributes:
        lab: the lab name (tag ``mllab:lab``).
        run: this run's id (tag ``mllab:run``).
        backend: ``offline`` or ``aws``.
        region: the lab's region.
        budget_usd: the run's budget.
        policy: the allow-list and bounds.
        ledger: where allowed requests are recorded.
    """

    lab: str
    run: str
    backend: str
    region: str
    budget_usd: float
    policy: Policy
    ledger: Ledger
    created: list[tuple[str, str, str]] = field(default_factory=list)
    _firehose_bytes: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ budget
    def spent(self) -> float:
        """Dollars charged to this run so far (actual where known, else estimates)."""
        return self.ledger.spent(self.run)

    def remaining(self) -> float:
        """Budget left for this run."""
        return self.budget_usd - self.spent()

    def tags(self) -> dict[str, str]:
        """The tags put on everything this run creates."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {TAG_LAB: self.lab, TAG_RUN: self.run, TAG_CREATED: now}

    # ------------------------------------------------------------------ before
    def check(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        model: OperationModel,
        for_service: bool = False,
    ) -> Estimate | None:
        """Refuse, or tag and return the estimate of, a request about to be built.

        Raises:
            CostGuardError: the request is refused; nothing is sent.
            botocore.exceptions.ParamValidationError: a billable request is malformed.
        """
        label = f"{service}:{operation}"
        if (service, operation) in REFUSED:
            raise CostGuardError(
                label,
                REFUSED[(service, operation)],
                "do this part outside the labs; no lab needs it, so the guard always refuses it",
            )
        est: Estimate | None = None
        if (service, operation) in ESTIMATORS:
            validate_parameters(params, model.input_shape)
            try:
                est = ESTIMATORS[(service, operation)](params, self.policy)
            except Refusal as r:
                raise CostGuardError(
                    label, r.reason, r.fix, r.estimate_usd, self.remaining()
                ) from None
            if est is not None and not for_service:  # a pipeline's steps were priced at its start
                remaining = self.remaining()
                if est.usd > remaining + 1e-12:
                    raise CostGuardError(
                        label,
                        "the worst-case estimate exceeds the lab's remaining budget",
                        "lower the instance count, runtime or time-to-live, tear down what you "
                        "no longer need (lab.teardown()), or raise MLLAB_BUDGET_USD",
                        est.usd,
                        remaining,
                    )
        if operation.startswith("Create") or is_billable(service, operation):
            self._inject_tags(params, model)
        return est

    def _inject_tags(self, params: dict[str, Any], model: OperationModel) -> None:
        shape = model.input_shape
        if shape is None or "Tags" not in shape.members:
            return
        tags_shape = shape.members["Tags"]
        ours = self.tags()
        if tags_shape.type_name == "map":
            merged = dict(params.get("Tags") or {})
            merged.update(ours)
            params["Tags"] = merged
        elif tags_shape.type_name == "list":
            member = tags_shape.member  # type: ignore[attr-defined]
            if "Key" not in member.members or "Value" not in member.members:
                return
            kept = [t for t in (params.get("Tags") or []) if t.get("Key") not in ours]
            params["Tags"] = kept + [{"Key": k, "Value": v} for k, v in ours.items()]

    # ------------------------------------------------------------------ after
    def record(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        est: Estimate | None,
    ) -> None:
        """Record an allowed, accepted request in the ledger and note what it created."""
        if operation.startswith("Create"):
            name = _created_name(operation, params)
            if name:
                self.created.append((service, operation, name))
        if est is None:
            self._observe(service, operation, params, parsed)
            return
        arn = next((str(parsed[k]) for k in _ARN_KEYS if k in parsed), None)
        resource = est.resource or (arn or operation)
        if operation == "StartQueryExecution" and arn:
            resource = arn  # the query execution id identifies the query
        self.ledger.record(
            lab=self.lab,
            run=self.run,
            backend=self.backend,
            region=self.region,
            service=service,
            operation=operation,
            resource=resource,
            arn=arn,
            estimate_usd=est.usd,
            hourly_usd=est.hourly_usd,
            detail={
                **est.detail,
                "family": est.family,
                "snapshot": pricing.snapshot_label(self.region),
            },
        )
        if operation in {
            "StartJobRun",
            "StartCrawler",
            "RegisterStreamConsumer",
        } or not operation.startswith("Create"):
            self.created.append((service, operation, resource))

    def _observe(
        self, service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        """Record actual use from answers that reveal it."""
        if service == "sagemaker" and operation == "DescribeTrainingJob":
            if parsed.get("TrainingJobStatus") in {"Completed", "Failed", "Stopped"}:
                self._settle(
                    parsed.get("TrainingJobName", ""), seconds=parsed.get("BillableTimeInSeconds")
                )
        elif service == "sagemaker" and operation == "DescribeProcessingJob":
            if parsed.get("ProcessingJobStatus") in {"Completed", "Failed", "Stopped"}:
                self._settle(
                    parsed.get("ProcessingJobName", ""),
                    span=(parsed.get("ProcessingStartTime"), parsed.get("ProcessingEndTime")),
                )
        elif service == "sagemaker" and operation == "DescribeTransformJob":
            if parsed.get("TransformJobStatus") in {"Completed", "Failed", "Stopped"}:
                self._settle(
                    parsed.get("TransformJobName", ""),
                    span=(parsed.get("TransformStartTime"), parsed.get("TransformEndTime")),
                )
        elif service == "sagemaker" and operation == "DeleteEndpoint":
            self._settle_elapsed(str(params.get("EndpointName", "")))
        elif service == "kinesis" and operation == "DeleteStream":
            name = params.get("StreamName") or str(params.get("StreamARN", "")).rsplit("/", 1)[-1]
            self._settle_elapsed(str(name))
            self._settle_elapsed(f"{name}#retention")
        elif service == "kinesis" and operation == "DeregisterStreamConsumer":
            self._settle_elapsed(str(params.get("ConsumerName", "")))
        elif service == "athena" and operation == "GetQueryExecution":
            qe = parsed.get("QueryExecution") or {}
            if (qe.get("Status") or {}).get("State") in {"SUCCEEDED", "FAILED", "CANCELLED"}:
                row = self.ledger.latest_for(str(qe.get("QueryExecutionId")), run=self.run)
                if row is not None and row.actual_usd is None:
                    scanned = int((qe.get("Statistics") or {}).get("DataScannedInBytes") or 0)
                    self.ledger.set_actual(row.id, athena_cost(scanned))
        elif service == "firehose" and operation in {"PutRecord", "PutRecordBatch"}:
            name = str(params.get("DeliveryStreamName", ""))
            records = (
                [params.get("Record")] if operation == "PutRecord" else params.get("Records") or []
            )
            size = sum(len((r or {}).get("Data") or b"") for r in records)
            self._firehose_bytes[name] = self._firehose_bytes.get(name, 0) + size
        elif service == "firehose" and operation == "DeleteDeliveryStream":
            name = str(params.get("DeliveryStreamName", ""))
            row = self.ledger.latest_for(name, run=self.run)
            if row is not None and row.actual_usd is None:
                gb = self._firehose_bytes.pop(name, 0) / 1e9
                self.ledger.set_actual(row.id, gb * pricing.price("firehose_usd_per_gb_ingested"))

    def _settle(self, name: str, seconds: Any = None, span: tuple[Any, Any] | None = None) -> None:
        row = self.ledger.latest_for(name, run=self.run)
        if row is None or row.actual_usd is not None or row.hourly_usd is None:
            return
        if seconds is None and span and span[0] and span[1]:
            seconds = (span[1] - span[0]).total_seconds()
        if seconds is None:
            seconds = 0
        self.ledger.set_actual(row.id, row.hourly_usd * float(seconds) / 3600.0)

    def _settle_elapsed(self, name: str) -> None:
        row = self.ledger.latest_for(name, run=self.run)
        if row is None or row.actual_usd is not None or row.hourly_usd is None:
            return
        hours = max(0.0, time.time() - row.created) / 3600.0
        self.ledger.set_actual(row.id, row.hourly_usd * hours)


_NAME_KEYS = (
    "TrainingJobName",
    "HyperParameterTuningJobName",
    "ProcessingJobName",
    "TransformJobName",
    "EndpointName",
    "EndpointConfigName",
    "ModelName",
    "MonitoringScheduleName",
    "JobDefinitionName",
    "CompilationJobName",
    "ModelPackageGroupName",
    "PipelineName",
    "StreamName",
    "DeliveryStreamName",
    "Name",
    "WorkGroup",
)


def _created_name(operation: str, params: dict[str, Any]) -> str | None:
    if operation == "CreateEndpoint":
        return str(params.get("EndpointName"))
    for key in _NAME_KEYS:
        if params.get(key):
            return str(params[key])
    return None
