"""Teardown of one lab run, and the sweep of every mllab-tagged leftover.

Introduced in lab 00. Both work from the admission table's deleters
(:data:`mllab.guard.admission.DELETERS`), so whatever the guard can admit, teardown and
sweep can delete:

* :func:`teardown_run` deletes what one run created: what the guard noted and the ledger
  recorded (mapped to a deleter kind by the operation that created it), plus everything
  the tag inventory finds tagged ``mllab:run=<run>`` in every kind that can be listed;
* :func:`find_tagged` and :func:`delete_tagged` serve ``mllab sweep``: every kind's
  ``find`` (listing with pagination, then each resource's tags) in the account and region.

:func:`find_leftovers` and :func:`run_resources` keep the SageMaker/Kinesis/Firehose view
that the cleanup check inspects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mllab.guard.core import TAG_CREATED, TAG_LAB, TAG_RUN

if TYPE_CHECKING:  # pragma: no cover
    import boto3

    from mllab.lab import Lab

#: Kinds in the order they are deleted (an endpoint before its config before its model).
KINDS = (
    "monitoring-schedule",
    "endpoint",
    "endpoint-config",
    "model",
    "training-job",
    "tuning-job",
    "processing-job",
    "transform-job",
    "stream-consumer",
    "delivery-stream",
    "stream",
    "crawler",
    "glue-job-run",
)

_FROM_OPERATION = {
    ("sagemaker", "CreateMonitoringSchedule"): "monitoring-schedule",
    ("sagemaker", "CreateEndpoint"): "endpoint",
    ("sagemaker", "CreateEndpointConfig"): "endpoint-config",
    ("sagemaker", "CreateModel"): "model",
    ("sagemaker", "CreateTrainingJob"): "training-job",
    ("sagemaker", "CreateHyperParameterTuningJob"): "tuning-job",
    ("sagemaker", "CreateProcessingJob"): "processing-job",
    ("sagemaker", "CreateTransformJob"): "transform-job",
    ("kinesis", "RegisterStreamConsumer"): "stream-consumer",
    ("firehose", "CreateDeliveryStream"): "delivery-stream",
    ("kinesis", "CreateStream"): "stream",
    ("glue", "StartCrawler"): "crawler",
    ("glue", "StartJobRun"): "glue-job-run",
}


@dataclass(frozen=True)
class Resource:
    """A billable resource found or created by a lab."""

    kind: str
    name: str
    lab: str = ""
    run: str = ""
    created: str = ""
    extra: str = ""  # e.g. the stream ARN of a consumer


#: Jobs teardown stops while they run: (describe call, stop call, name key, status key).
JOB_CALLS = {
    "training-job": (
        "describe_training_job",
        "stop_training_job",
        "TrainingJobName",
        "TrainingJobStatus",
    ),
    "tuning-job": (
        "describe_hyper_parameter_tuning_job",
        "stop_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
    "processing-job": (
        "describe_processing_job",
        "stop_processing_job",
        "ProcessingJobName",
        "ProcessingJobStatus",
    ),
    "transform-job": (
        "describe_transform_job",
        "stop_transform_job",
        "TransformJobName",
        "TransformJobStatus",
    ),
}


def _gone(err: Exception) -> bool:
    text = str(err)
    return any(
        s in text
        for s in (
            "Could not find",
            "does not exist",
            "not found",
            "NotFound",
            "ResourceNotFound",
            "ValidationException",
        )
    )


def _act(session: boto3.Session, res: Resource) -> str | None:
    """Delete or stop one resource; return the action taken, or None when nothing was needed."""
    sm = session.client("sagemaker")
    k, n = res.kind, res.name
    try:
        if k == "monitoring-schedule":
            sm.delete_monitoring_schedule(MonitoringScheduleName=n)
            return "deleted"
        if k == "endpoint":
            sm.delete_endpoint(EndpointName=n)
            return "deleted"
        if k == "endpoint-config":
            sm.delete_endpoint_config(EndpointConfigName=n)
            return "deleted"
        if k == "model":
            sm.delete_model(ModelName=n)
            return "deleted"
        if k in JOB_CALLS:
            describe, stop, key, status_key = JOB_CALLS[k]
            if getattr(sm, describe)(**{key: n})[status_key] == "InProgress":
                getattr(sm, stop)(**{key: n})
                return "stopped"
            return None
        if k == "stream-consumer":
            session.client("kinesis").deregister_stream_consumer(
                StreamARN=res.extra, ConsumerName=n
            )
            return "deregistered"
        if k == "delivery-stream":
            session.client("firehose").delete_delivery_stream(DeliveryStreamName=n)
            return "deleted"
        if k == "stream":
            session.client("kinesis").delete_stream(StreamName=n, EnforceConsumerDeletion=True)
            return "deleted"
        if k == "crawler":
            glue = session.client("glue")
            if glue.get_crawler(Name=n)["Crawler"].get("State") == "RUNNING":
                glue.stop_crawler(Name=n)
                return "stopped"
            return None
        if k == "glue-job-run":
            return None  # a run ends by its Timeout, which the guard bounded
    except Exception as err:  # noqa: BLE001
        if _gone(err):
            return None
        raise
    return None


def run_resources(lab: Lab) -> dict[tuple[str, str], Resource]:
    """What one lab run created, from the guard's notes and the ledger (read-only, free).

    Args:
        lab: the open lab.

    Returns:
        ``{(kind, name): Resource}``; a stream consumer's ``extra`` is its stream's ARN.
    """
    found: dict[tuple[str, str], Resource] = {}
    for service, operation, name in lab.guard.created:
        kind = _FROM_OPERATION.get((service, operation))
        if kind and name:
            found.setdefault((kind, name), Resource(kind, name, lab.name, lab.run_id))
    for row in lab.ledger.rows(run=lab.run_id):
        kind = _FROM_OPERATION.get((row.service, row.operation))
        if kind and row.resource:
            found.setdefault(
                (kind, row.resource), Resource(kind, row.resource, lab.name, lab.run_id)
            )
    for key, res in list(found.items()):
        if res.kind == "stream-consumer":
            # a consumer is named within its stream: the stream ARN prefixes the consumer ARN
            consumer = lab.ledger.latest_for(res.name, run=lab.run_id)
            if consumer and consumer.arn:
                found[key] = replace(res, extra=consumer.arn.split("/consumer/")[0])
    return found


#: Display names of the registry's kinds that the cleanup check and older notebooks know.
LEGACY_KIND = {
    "sagemaker-monitoring-schedule": "monitoring-schedule",
    "sagemaker-endpoint": "endpoint",
    "sagemaker-endpoint-config": "endpoint-config",
    "sagemaker-model": "model",
    "sagemaker-training-job": "training-job",
    "sagemaker-tuning-job": "tuning-job",
    "sagemaker-processing-job": "processing-job",
    "sagemaker-transform-job": "transform-job",
    "kinesis-stream-consumer": "stream-consumer",
    "firehose-delivery-stream": "delivery-stream",
    "kinesis-stream": "stream",
    "glue-crawler": "crawler",
    "glue-job-run": "glue-job-run",
}

#: Kinds teardown does not delete at the end of a run: free records a learner keeps.
_KEPT_AT_TEARDOWN = frozenset({"sagemaker-pipeline", "sagemaker-monitoring-job-definition"})


def _creators() -> dict[tuple[str, str], str]:
    from mllab.guard import admission

    admission.load_all()
    return {op: d.kind for d in admission.DELETERS.values() for op in d.created_by}


def run_targets(lab: Lab, *, inventory: bool = True) -> dict[tuple[str, str, str], None]:
    """What one run created, as ``(deleter kind, region, name)`` (read-only, costs nothing).

    Args:
        lab: the open lab.
        inventory: also list every kind's resources and keep those tagged with this run.
    """
    from mllab.guard import admission

    creators = _creators()
    found: dict[tuple[str, str, str], None] = {}
    for service, operation, name in lab.guard.created:
        kind = creators.get((service, operation))
        if kind and name:
            found[(kind, lab.region, name)] = None
    for row in lab.ledger.rows(run=lab.run_id):
        kind = creators.get((row.service, row.operation))
        if not kind or not row.resource:
            continue
        name = row.arn if kind == "kinesis-stream-consumer" and row.arn else row.resource
        found[(kind, row.region or lab.region, name)] = None
    if inventory:
        for kind, d in admission.DELETERS.items():
            if d.find is None:
                continue
            try:
                for name, tags in d.find(lab.session, lab.region):
                    if tags.get(TAG_RUN) == lab.run_id:
                        found[(kind, lab.region, name)] = None
            except Exception:  # noqa: BLE001 - a service the backend cannot list
                continue
    return found


#: Services whose kinds ``lab.teardown()`` deletes mid-notebook; the rest (alarms, scalable
#: targets, VPC endpoints, KMS keys, ...) the labs delete themselves, in order, and
#: ``lab.close()`` (``complete=True``) deletes whatever is still there.
_TEARDOWN_PREFIXES = ("sagemaker-", "kinesis-", "firehose-", "glue-")


def teardown_run(lab: Lab, complete: bool = False) -> list[dict[str, str]]:
    """Delete or stop what one lab run created, through the admission table's deleters.

    Args:
        lab: the open lab.
        complete: every kind the registry knows (at ``lab.close()``); otherwise the SageMaker,
            Kinesis, Firehose and Glue kinds that ``lab.teardown()`` documents.

    Returns:
        ``{"kind", "name", "action"}`` for each resource acted on (kinds named as
        :data:`LEGACY_KIND` where one exists). Errors on one resource do not stop the
        others; they are reported with action ``"error: ..."``. Deletes endpoints, their
        configs and models, monitoring schedules, scalable targets, streams, consumers,
        delivery streams, VPC endpoints, KMS keys (scheduled), alarms; stops jobs, tuning
        jobs and pipeline executions; keeps pipelines, job definitions, the bucket and role.
    """
    from mllab.guard import admission

    found = run_targets(lab)
    done: list[dict[str, str]] = []
    order = sorted(
        found,
        key=lambda t: (admission.DELETERS[t[0]].order if t[0] in admission.DELETERS else 99, t),
    )
    for kind, region, name in order:
        if kind in _KEPT_AT_TEARDOWN or kind not in admission.DELETERS:
            continue
        if not complete and not kind.startswith(_TEARDOWN_PREFIXES):
            continue
        try:
            action = admission.DELETERS[kind].delete(lab.session, region, name)
        except Exception as err:  # noqa: BLE001 - keep tearing down the rest
            action = f"error: {err}"
        if action:
            done.append({"kind": LEGACY_KIND.get(kind, kind), "name": name, "action": action})
    _settle_open_rows(lab)
    return done


def _settle_open_rows(lab: Lab) -> None:
    """Ask for the final state of this run's jobs so that the guard records actual use."""
    sm = lab.client("sagemaker")
    for row in lab.ledger.rows(run=lab.run_id, open_only=True):
        try:
            if row.operation == "CreateTrainingJob":
                sm.describe_training_job(TrainingJobName=row.resource)
            elif row.operation == "CreateProcessingJob":
                sm.describe_processing_job(ProcessingJobName=row.resource)
            elif row.operation == "CreateTransformJob":
                sm.describe_transform_job(TransformJobName=row.resource)
        except Exception:  # noqa: BLE001 - a job that vanished keeps its estimate
            continue


# --------------------------------------------------------------------------- sweep


def _tag_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t.get("Key")): str(t.get("Value")) for t in tags or []}


def find_leftovers(
    session: boto3.Session, lab: str | None = None, older_than: dt.timedelta | None = None
) -> list[Resource]:
    """List billable resources tagged ``mllab:lab`` in the session's account and region.

    Args:
        session: a boto3 session (offline or aws backend).
        lab: only this lab's resources.
        older_than: only resources whose ``mllab:created`` tag is older than this.

    Returns:
        The resources, in deletion order. Costs nothing; deletes nothing.
    """
    out: list[Resource] = []
    sm = session.client("sagemaker")

    def keep(tags: dict[str, str]) -> bool:
        if TAG_LAB not in tags:
            return False
        if lab is not None and tags[TAG_LAB] != lab:
            return False
        if older_than is not None:
            created = tags.get(TAG_CREATED)
            if not created:
                return True
            when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            return dt.datetime.now(dt.UTC) - when >= older_than
        return True

    def add(kind: str, name: str, arn: str, tags: dict[str, str], extra: str = "") -> None:
        if keep(tags):
            out.append(
                Resource(
                    kind,
                    name,
                    tags.get(TAG_LAB, ""),
                    tags.get(TAG_RUN, ""),
                    tags.get(TAG_CREATED, ""),
                    extra,
                )
            )

    def sm_tags(arn: str) -> dict[str, str]:
        return _tag_dict(sm.list_tags(ResourceArn=arn).get("Tags"))

    for page in sm.get_paginator("list_endpoints").paginate():
        for e in page["Endpoints"]:
            add("endpoint", e["EndpointName"], e["EndpointArn"], sm_tags(e["EndpointArn"]))
    for page in sm.get_paginator("list_endpoint_configs").paginate():
        for e in page["EndpointConfigs"]:
            add(
                "endpoint-config",
                e["EndpointConfigName"],
                e["EndpointConfigArn"],
                sm_tags(e["EndpointConfigArn"]),
            )
    for page in sm.get_paginator("list_models").paginate():
        for m in page["Models"]:
            add("model", m["ModelName"], m["ModelArn"], sm_tags(m["ModelArn"]))
    for page in sm.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress"):
        for j in page["TrainingJobSummaries"]:
            add(
                "training-job",
                j["TrainingJobName"],
                j["TrainingJobArn"],
                sm_tags(j["TrainingJobArn"]),
            )
    for page in sm.get_paginator("list_processing_jobs").paginate(StatusEquals="InProgress"):
        for j in page["ProcessingJobSummaries"]:
            add(
                "processing-job",
                j["ProcessingJobName"],
                j["ProcessingJobArn"],
                sm_tags(j["ProcessingJobArn"]),
            )
    try:
        for page in sm.get_paginator("list_transform_jobs").paginate(StatusEquals="InProgress"):
            for j in page["TransformJobSummaries"]:
                add(
                    "transform-job",
                    j["TransformJobName"],
                    j["TransformJobArn"],
                    sm_tags(j["TransformJobArn"]),
                )
    except Exception:  # noqa: BLE001 - not offered by every backend version
        pass
    kinesis = session.client("kinesis")
    for name in kinesis.list_streams().get("StreamNames", []):
        desc = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        tags = _tag_dict(kinesis.list_tags_for_stream(StreamName=name).get("Tags"))
        add("stream", name, desc["StreamARN"], tags)
    firehose = session.client("firehose")
    for name in firehose.list_delivery_streams().get("DeliveryStreamNames", []):
        tags = _tag_dict(
            firehose.list_tags_for_delivery_stream(DeliveryStreamName=name).get("Tags")
        )
        add("delivery-stream", name, "", tags)
    out.sort(key=lambda r: KINDS.index(r.kind))
    return out


def delete(session: boto3.Session, resources: list[Resource]) -> list[dict[str, str]]:
    """Delete or stop each resource (what ``mllab sweep --yes`` does).

    Returns:
        ``{"kind", "name", "action"}`` per resource; errors are reported, not raised.
    """
    done = []
    for res in resources:
        try:
            action = _act(session, res) or "nothing to do"
        except Exception as err:  # noqa: BLE001
            action = f"error: {err}"
        done.append({"kind": res.kind, "name": res.name, "action": action})
    return done


# --------------------------------------------------------------------------- sweep (registry)


@dataclass(frozen=True)
class Tagged:
    """A resource found by a deleter kind's ``find``, with its mllab tags."""

    kind: str
    region: str
    name: str
    lab: str = ""
    run: str = ""
    created: str = ""


def find_tagged(
    session: boto3.Session,
    region: str,
    lab: str | None = None,
    older_than: dt.timedelta | None = None,
    run: str | None = None,
) -> list[Tagged]:
    """Every resource tagged ``mllab:lab`` of every kind the admission table can delete.

    Args:
        session: a boto3 session.
        region: the region to list.
        lab: only this lab's resources; run: only this run's.
        older_than: only resources whose ``mllab:created`` tag is older than this.

    Returns:
        The resources in deletion order. Costs nothing (list and tag calls); deletes nothing.
    """
    from mllab.guard import admission

    admission.load_all()
    out: list[Tagged] = []
    now = dt.datetime.now(dt.UTC)
    for kind, d in sorted(admission.DELETERS.items(), key=lambda kv: (kv[1].order, kv[0])):
        if d.find is None:
            continue
        try:
            items = list(d.find(session, region))
        except Exception:  # noqa: BLE001 - a service this backend cannot list
            continue
        for name, tags in items:
            if TAG_LAB not in tags or (lab is not None and tags[TAG_LAB] != lab):
                continue
            if run is not None and tags.get(TAG_RUN) != run:
                continue
            created = tags.get(TAG_CREATED, "")
            if older_than is not None and created:
                when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
                if now - when < older_than:
                    continue
            out.append(Tagged(kind, region, name, tags[TAG_LAB], tags.get(TAG_RUN, ""), created))
    return out


def delete_tagged(session: boto3.Session, found: list[Tagged]) -> list[dict[str, str]]:
    """Delete or stop each resource through its kind's deleter (``mllab sweep --yes``).

    Returns:
        ``{"kind", "name", "action"}`` per resource; errors are reported, not raised.
    """
    from mllab.guard import admission

    done = []
    for res in found:
        try:
            action = admission.DELETERS[res.kind].delete(session, res.region, res.name)
            action = action or "nothing to do"
        except Exception as err:  # noqa: BLE001
            action = f"error: {err}"
        done.append({"kind": res.kind, "name": res.name, "action": action})
    return done
