"""The cost guard proper: estimate, allow-list, budget, tag, record (introduced in lab 00).

:class:`Guard` is driven by botocore events (see :mod:`mllab.hooks`): ``check`` runs
before a request is built, so a refusal sends nothing; ``record`` runs after AWS (or moto)
accepted it; ``observe`` notes actual use from describe/delete answers.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.model import OperationModel
from botocore.validate import validate_parameters

from mllab.guard import admission, pricing
from mllab.guard.errors import CostGuardError
from mllab.guard.estimate import (
    ESTIMATORS,
    REFUSED,
    Estimate,
    Policy,
    Refusal,
    athena_cost,
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

    #: Guards of the labs this one is nested in (their budgets apply too).
    parents: list[Guard] = field(default_factory=list)
    #: Runs of labs nested in this one (their spending counts against this budget).
    child_runs: set[str] = field(default_factory=set)
    #: Dollars priced at StartPipelineExecution that the executions' steps may still use.
    service_allowance: float = 0.0

    # ------------------------------------------------------------------ budget
    def spent(self) -> float:
        """Dollars charged to this run (and labs nested in it) so far: actual where known,
        else estimates, pending reservations included."""
        return self.ledger.spent_by([self.run, *sorted(self.child_runs)])

    def budgets(self) -> list[tuple[float, list[str]]]:
        """Every budget that applies to this run's requests: its own and each enclosing lab's."""
        own = (self.budget_usd, [self.run, *sorted(self.child_runs)])
        return [own, *(b for g in self.parents for b in g.budgets()[:1])]

    def remaining(self) -> float:
        """Budget left: the smallest remaining budget of this lab and every lab enclosing it."""
        return min(b - self.ledger.spent_by(runs) for b, runs in self.budgets())

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
        region: str | None = None,
    ) -> Estimate | None:
        """Refuse, or tag and return the estimate of, a request about to be built.

        Default-deny: the operation must be declared in the admission table
        (:mod:`mllab.guard.admission`). A billable one is validated, priced by its estimator
        (lookups in the client's ``region``) and its estimate reserved against every budget
        that applies, atomically (:meth:`Ledger.reserve`); ``est.reservation`` is the pending
        ledger row, which :meth:`record` settles and :meth:`release` drops.

        Args:
            for_service: the call is a pipeline step the (offline) pipeline executor makes;
                it draws on what StartPipelineExecution reserved instead of the budget.
            region: the client's region (default: the lab's).

        Raises:
            CostGuardError: the request is refused; nothing is sent.
            botocore.exceptions.ParamValidationError: a billable request is malformed.
        """
        label = f"{service}:{operation}"
        decl = admission.classify(service, operation)
        if decl is None:
            _note_undeclared(service, operation)
            if admission.enforcing():
                raise CostGuardError(
                    label,
                    "the guard does not know this operation, so it refuses it (default-deny: "
                    "an operation is sent only when it is declared read, free, or billable with "
                    "an estimator and a deleter)",
                    f"no lab needs {label}; a maintainer who adds a lab that does declares it in "
                    f"{admission.where_to_declare(service)} (admission.read / free / billable)",
                )
            return None
        if decl.kind == "refused":
            raise CostGuardError(
                label,
                decl.note or REFUSED.get((service, operation), "no lab needs it"),
                "do this part outside the labs; no lab needs it, so the guard always refuses it",
            )
        est: Estimate | None = None
        if decl.kind == "billable":
            estimator = ESTIMATORS.get((service, operation))
            if estimator is None:
                raise CostGuardError(
                    label,
                    "the operation is declared billable but has no estimator",
                    f"register one in {admission.where_to_declare(service)}",
                )
            validate_parameters(params, model.input_shape)
            policy = self.policy
            where = region or self.region
            if where != self.region and self.policy.lookup_in is not None:
                policy = replace(self.policy, lookup=self.policy.lookup_in(where))
            try:
                est = estimator(params, policy)
            except Refusal as r:
                raise CostGuardError(
                    label, r.reason, r.fix, r.estimate_usd, self.remaining()
                ) from None
            if est is not None:
                self._reserve(label, service, operation, est, for_service, where)
        if operation.startswith("Create") or (decl.kind == "billable"):
            self._inject_tags(params, model)
        return est

    def _reserve(
        self,
        label: str,
        service: str,
        operation: str,
        est: Estimate,
        for_service: bool,
        region: str,
    ) -> None:
        """Reserve ``est`` against every budget, or refuse (see :meth:`check`)."""
        if not math.isfinite(est.usd) or est.usd < 0:
            raise CostGuardError(
                label,
                f"the estimate ({est.usd!r}) is not a finite, non-negative amount",
                "report this: an estimator should never produce it",
            )
        if for_service:
            # a pipeline step: its cost was reserved at StartPipelineExecution
            if est.usd > self.service_allowance + 1e-9:
                raise CostGuardError(
                    label,
                    "the pipeline step costs more than what its execution was priced at",
                    "start the pipeline execution again so that it is priced with this step",
                    est.usd,
                    self.service_allowance,
                )
            self.service_allowance -= est.usd
            est.reservation = None
            return
        row, remaining = self.ledger.reserve(
            self.budgets(),
            lab=self.lab,
            run=self.run,
            backend=self.backend,
            region=region,
            service=service,
            operation=operation,
            resource=est.resource or operation,
            estimate_usd=est.usd,
            hourly_usd=est.hourly_usd,
            detail={**est.detail, "family": est.family},
        )
        if row is None:
            raise CostGuardError(
                label,
                "the worst-case estimate exceeds the lab's remaining budget",
                "lower the instance count, runtime or time-to-live, tear down what you "
                "no longer need (lab.teardown()), or raise MLLAB_BUDGET_USD",
                est.usd,
                remaining,
            )
        est.reservation = row
        if operation == "StartPipelineExecution":
            # the executor starts its steps as soon as the execution is accepted
            self.service_allowance += est.usd

    def release(self, est: Estimate | None) -> None:
        """Drop the pending reservation of a request that failed or was never sent."""
        if est is not None and est.reservation is not None:
            self.ledger.drop(est.reservation)
            est.reservation = None
            if est.detail.get("steps") is not None:  # a pipeline execution that never ran
                self.service_allowance = max(0.0, self.service_allowance - est.usd)

    def _inject_tags(self, params: dict[str, Any], model: OperationModel) -> None:
        """Add the run's tags to every tags member the request shape has.

        Services spell it differently: ``Tags`` (SageMaker, Kinesis, Lambda), ``tags`` (Bedrock,
        S3 Vectors, OpenSearch Serverless, AgentCore), ``jobTags``/``customModelTags`` (Bedrock
        jobs); a map, or a list of ``Key``/``Value`` (or ``key``/``value``) pairs.
        """
        shape = model.input_shape
        if shape is None:
            return
        ours = self.tags()
        for name, tags_shape in shape.members.items():
            if not name.lower().endswith("tags") or name.lower().startswith("propagate"):
                continue
            if tags_shape.type_name == "map":
                merged = dict(params.get(name) or {})
                merged.update(ours)
                params[name] = merged
            elif tags_shape.type_name == "list":
                member = tags_shape.member  # type: ignore[attr-defined]
                members = getattr(member, "members", {})
                key = "Key" if "Key" in members else "key" if "key" in members else None
                value = "Value" if "Value" in members else "value" if "value" in members else None
                if key is None or value is None:
                    continue
                kept = [t for t in (params.get(name) or []) if t.get(key) not in ours]
                params[name] = kept + [{key: k, value: v} for k, v in ours.items()]

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
        resource = _created_id(service, operation, parsed) or resource
        if operation == "StartPipelineExecution" and arn:
            resource = arn
        detail = {
            **est.detail,
            "family": est.family,
            "snapshot": pricing.snapshot_label(self.region),
        }
        if est.reservation is not None:
            row_id = est.reservation
            self.ledger.settle(est.reservation, resource=resource, arn=arn, detail=detail)
            est.reservation = None
        else:
            row_id = self.ledger.record(
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
                detail=detail,
            )
        if service == "bedrock-runtime":  # per-token charges settle from the tokens answered
            from mllab.guard.declarations.bedrock_runtime import settle as settle_tokens

            actual = settle_tokens(service, operation, params, parsed)
            row = self.ledger.latest_for(resource, run=self.run) if actual is not None else None
            if row is not None and actual is not None:
                self.ledger.set_actual(row.id, actual)
        elif (service, operation) == ("lambda", "Invoke"):  # the REPORT line's billed duration
            from mllab.guard.declarations.lambda_ import settle_invoke

            actual = settle_invoke(params, parsed)
            if actual is not None and row_id:
                self.ledger.set_actual(row_id, actual)
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
    # Bedrock, S3 Vectors, OpenSearch Serverless, AgentCore spell names in camelCase
    "jobName",
    "customModelName",
    "guardrailName",
    "vectorBucketName",
    "indexName",
    "agentRuntimeName",
    "name",
)


def _note_undeclared(service: str, operation: str) -> None:
    """Append an undeclared operation to ``$MLLAB_GUARD_MISSES`` (a maintainer's aid)."""
    import os

    path = os.environ.get("MLLAB_GUARD_MISSES")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{service} {operation}\n")


def _created_id(service: str, operation: str, parsed: dict[str, Any]) -> str | None:
    """The id AWS gave what a request created, when the request itself cannot name it."""
    if (service, operation) == ("kms", "CreateKey"):
        return str((parsed.get("KeyMetadata") or {}).get("KeyId") or "") or None
    if (service, operation) == ("ec2", "CreateVpcEndpoint"):
        return str((parsed.get("VpcEndpoint") or {}).get("VpcEndpointId") or "") or None
    if (service, operation) == ("ec2", "CreateInternetGateway"):
        return str((parsed.get("InternetGateway") or {}).get("InternetGatewayId") or "") or None
    if (service, operation) == ("glue", "StartJobRun") and parsed.get("JobRunId"):
        return None  # named <job> (the deleter stops its running runs)
    return None


def _created_name(operation: str, params: dict[str, Any]) -> str | None:
    if operation == "CreateEndpoint":
        return str(params.get("EndpointName"))
    for key in _NAME_KEYS:
        if params.get(key):
            return str(params[key])
    return None
