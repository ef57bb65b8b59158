"""The cleanup check: prove that a lab run left nothing billable behind (every lab's last cell).

Scoped to one lab run: it looks at what this run created (the guard's record and the ledger,
as :mod:`mllab.teardown` does) and at everything tagged ``mllab:run=<this run>`` in the account
(as ``mllab sweep`` does), then asks AWS whether each is still there or still running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mllab.checks.core import CheckFailed

#: Kinds that bill while they exist or run (models and endpoint configs cost nothing).
BILLABLE = (
    "monitoring-schedule",
    "endpoint",
    "training-job",
    "tuning-job",
    "processing-job",
    "transform-job",
    "stream-consumer",
    "delivery-stream",
    "stream",
    "crawler",
)

_HOW = {
    "endpoint": "sm.delete_endpoint(EndpointName={n!r})",
    "monitoring-schedule": "sm.delete_monitoring_schedule(MonitoringScheduleName={n!r})",
    "training-job": "sm.stop_training_job(TrainingJobName={n!r})",
    "tuning-job": "sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName={n!r})",
    "processing-job": "sm.stop_processing_job(ProcessingJobName={n!r})",
    "transform-job": "sm.stop_transform_job(TransformJobName={n!r})",
    "stream-consumer": "kinesis.deregister_stream_consumer(StreamARN=..., ConsumerName={n!r})",
    "delivery-stream": "firehose.delete_delivery_stream(DeliveryStreamName={n!r})",
    "stream": "kinesis.delete_stream(StreamName={n!r}, EnforceConsumerDeletion=True)",
    "crawler": "glue.stop_crawler(Name={n!r})",
    "model": "sm.delete_model(ModelName={n!r})",
    "endpoint-config": "sm.delete_endpoint_config(EndpointConfigName={n!r})",
}


@dataclass(frozen=True)
class Leftover:
    """A resource of this run that still costs money.

    Attributes:
        kind: ``endpoint``, ``stream``, ``training-job``...
        name: its name.
        state: what AWS says about it (``InService``, ``ACTIVE``, ``InProgress``...).
        fix: the call that removes or stops it.
    """

    kind: str
    name: str
    state: str
    fix: str


def _gone(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    msg = err.response.get("Error", {}).get("Message", "").lower()
    return (
        "NotFound" in code
        or "not found" in msg
        or "could not find" in msg
        or (code == "ValidationException" and ("does not exist" in msg or "not exist" in msg))
    )


def _state(lab: Any, kind: str, name: str, extra: str = "") -> str | None:
    """The resource's billable state, or None when it is gone, finished or idle."""
    from mllab.teardown import JOB_CALLS

    sm = lab.client("sagemaker")
    try:
        if kind == "endpoint":
            return str(sm.describe_endpoint(EndpointName=name)["EndpointStatus"])
        if kind == "monitoring-schedule":
            s = sm.describe_monitoring_schedule(MonitoringScheduleName=name)
            st = str(s.get("MonitoringScheduleStatus", ""))
            return st if st in ("Pending", "Scheduled") else None
        if kind in JOB_CALLS:
            op, _stop, key, status = JOB_CALLS[kind]
            st = str(getattr(sm, op)(**{key: name})[status])
            return st if st in ("InProgress", "Stopping") else None
        if kind == "stream":
            st = lab.client("kinesis").describe_stream_summary(StreamName=name)
            status = str(st["StreamDescriptionSummary"]["StreamStatus"])
            return None if status == "DELETING" else status
        if kind == "stream-consumer":
            if not extra:
                return None
            c = lab.client("kinesis").describe_stream_consumer(StreamARN=extra, ConsumerName=name)
            return str(c["ConsumerDescription"]["ConsumerStatus"])
        if kind == "delivery-stream":
            d = lab.client("firehose").describe_delivery_stream(DeliveryStreamName=name)
            status = str(d["DeliveryStreamDescription"]["DeliveryStreamStatus"])
            return None if status == "DELETING" else status
        if kind == "crawler":
            st = str(lab.client("glue").get_crawler(Name=name)["Crawler"].get("State", ""))
            return st if st in ("RUNNING", "STOPPING") else None
        if kind == "model":
            sm.describe_model(ModelName=name)
            return "exists"
        if kind == "endpoint-config":
            sm.describe_endpoint_config(EndpointConfigName=name)
            return "exists"
    except ClientError as err:
        if _gone(err):
            return None
        raise
    return None


def billable_leftovers(lab: Any, *, include_free: bool = False) -> list[Leftover]:
    """List what this lab run created that still bills (read-only; costs nothing).

    Args:
        lab: the open lab.
        include_free: also list models and endpoint configs (they cost nothing but clutter).

    Returns:
        The leftovers, endpoints first.
    """
    from mllab.teardown import KINDS, find_leftovers, run_resources

    kinds = set(BILLABLE) | ({"model", "endpoint-config"} if include_free else set())
    found = {key: r.extra for key, r in run_resources(lab).items() if r.kind in kinds}
    try:
        for r in find_leftovers(lab.session, lab=lab.name):
            if r.run == lab.run_id and r.kind in kinds:
                found.setdefault((r.kind, r.name), r.extra)
    except ClientError:
        pass
    out = []
    for (kind, name), extra in found.items():
        state = _state(lab, kind, name, extra)
        if state:
            out.append(Leftover(kind, name, state, _HOW.get(kind, "").format(n=name)))
    out.sort(key=lambda r: (KINDS.index(r.kind) if r.kind in KINDS else 99, r.name))
    return out


def nothing_billable_left(lab: Any, *, include_free: bool = False) -> str:
    """Check that this lab run left nothing billable: the check of every lab's cleanup cell.

    Args:
        lab: the open lab.
        include_free: also require models and endpoint configs to be deleted.

    Returns:
        A one-line summary for the PASS line.

    Raises:
        CheckFailed: something still exists or runs; the message lists each with the call
            that removes it (or run ``lab.teardown()``).
    """
    left = billable_leftovers(lab, include_free=include_free)
    if left:
        lines = "\n".join(f"  - {r.kind} {r.name!r} is {r.state}: {r.fix}" for r in left)
        raise CheckFailed(
            f"{len(left)} billable resource(s) of this lab run are still there:\n{lines}\n"
            "Delete them (or call lab.teardown(), which deletes everything this run created)."
        )
    return "nothing billable left by this lab run"
