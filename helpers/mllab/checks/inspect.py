"""State inspectors for check cells: read the real state through the lab session.

Every inspector takes the open lab and a resource name, calls the documented boto3 API (so
it works the same offline on moto and on a real account), and returns the facts a check
needs, with the full describe answer in ``raw``. When the resource is missing it raises
:class:`~mllab.checks.core.CheckFailed` with what was looked for and how to find out.
Inspectors make read-only calls: they cost nothing and change nothing.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from mllab.checks.core import CheckFailed

#: Terminal statuses of SageMaker jobs.
_DONE = {"Completed", "Failed", "Stopped"}


def _region(lab: Any) -> str:
    return str(getattr(lab, "region", "") or "the lab's region")


def _missing(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    msg = err.response.get("Error", {}).get("Message", "")
    return (
        "NotFound" in code
        or code in ("ValidationException", "NoSuchEntity", "EntityNotFoundException")
        and ("not" in msg.lower() or "could not find" in msg.lower())
    )


def _describe(lab: Any, what: str, fix: str, call: Any, **params: Any) -> dict[str, Any]:
    """Call a describe API; turn 'not found' into CheckFailed naming the resource and the fix."""
    try:
        return dict(call(**params))
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        msg = err.response.get("Error", {}).get("Message", "")
        if _missing(err) or code in ("ResourceNotFoundException", "InvalidRequestException"):
            raise CheckFailed(
                f"{what} was not found in {_region(lab)} ({code}: {msg}). {fix}"
            ) from None
        raise


def _wait(describe: Any, status_key: str, timeout: float, longest: float = 10.0) -> dict[str, Any]:
    """Poll a describe call until the status is terminal (or the timeout).

    Offline (no real service to spare) polls stay short; on AWS they back off to ``longest``.
    """
    from mllab import hooks

    lab = hooks.active()
    if lab is not None and lab.backend == "offline":
        longest = 0.5
    deadline = time.monotonic() + timeout
    pause = 0.2
    while True:
        out = describe()
        if out.get(status_key) in _DONE or time.monotonic() >= deadline:
            return out
        time.sleep(pause)
        pause = min(pause * 1.5, longest)


# --------------------------------------------------------------------------- Kinesis
@dataclass
class StreamFacts:
    """A Kinesis data stream (lab 01).

    Attributes:
        name: the stream name.
        status: ``ACTIVE``, ``CREATING``...
        mode: ``PROVISIONED`` or ``ON_DEMAND``.
        shard_count: open shards.
        retention_hours: the retention period.
        encryption: ``NONE`` or ``KMS``.
        consumers: registered enhanced fan-out consumer names.
        arn: the stream ARN.
        raw: ``describe_stream_summary``'s ``StreamDescriptionSummary``.
    """

    name: str
    status: str
    mode: str
    shard_count: int
    retention_hours: int
    encryption: str
    consumers: list[str]
    arn: str
    raw: dict[str, Any] = field(repr=False)


def stream(lab: Any, name: str) -> StreamFacts:
    """Inspect a Kinesis data stream: shards, retention, capacity mode, consumers (lab 01).

    Args:
        lab: the open lab.
        name: the stream name.

    Returns:
        :class:`StreamFacts`.

    Raises:
        CheckFailed: there is no such stream.
    """
    k = lab.client("kinesis")
    summary = _describe(
        lab,
        f"Kinesis stream {name!r}",
        "Create it with kinesis.create_stream(StreamName=..., ...); list yours with "
        "kinesis.list_streams().",
        k.describe_stream_summary,
        StreamName=name,
    )["StreamDescriptionSummary"]
    consumers: list[str] = []
    try:
        for c in k.list_stream_consumers(StreamARN=summary["StreamARN"]).get("Consumers", []):
            consumers.append(c["ConsumerName"])
    except ClientError:
        pass
    return StreamFacts(
        name=name,
        status=summary.get("StreamStatus", ""),
        mode=summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED"),
        shard_count=int(summary.get("OpenShardCount", 0)),
        retention_hours=int(summary.get("RetentionPeriodHours", 24)),
        encryption=summary.get("EncryptionType", "NONE"),
        consumers=consumers,
        arn=summary.get("StreamARN", ""),
        raw=summary,
    )


# --------------------------------------------------------------------------- Firehose
@dataclass
class DeliveryStreamFacts:
    """An Amazon Data Firehose delivery stream with an S3 destination (lab 01).

    Attributes:
        name: the delivery stream name.
        status: ``ACTIVE``, ``CREATING``...
        source: ``DirectPut`` or ``KinesisStreamAsSource``.
        source_stream_arn: the Kinesis stream it reads, when the source is a stream.
        bucket: the destination bucket name.
        prefix: the S3 prefix (may hold ``!{timestamp:...}`` / ``!{partitionKeyFromQuery:...}``).
        error_prefix: ``ErrorOutputPrefix``.
        buffer_mb: ``BufferingHints.SizeInMBs``.
        buffer_seconds: ``BufferingHints.IntervalInSeconds``.
        compression: ``UNCOMPRESSED``, ``GZIP``, ``Snappy``...
        format_conversion: ``None``, or the output format (``parquet``/``orc``) when record
            format conversion is enabled.
        conversion_table: ``(database, table)`` the conversion reads its schema from.
        dynamic_partitioning: whether dynamic partitioning is on.
        processors: processor types (``Lambda``, ``MetadataExtraction``...).
        raw: ``describe_delivery_stream``'s ``DeliveryStreamDescription``.
    """

    name: str
    status: str
    source: str
    source_stream_arn: str | None
    bucket: str
    prefix: str
    error_prefix: str
    buffer_mb: int | None
    buffer_seconds: int | None
    compression: str
    format_conversion: str | None
    conversion_table: tuple[str, str] | None
    dynamic_partitioning: bool
    processors: list[str]
    raw: dict[str, Any] = field(repr=False)


def delivery_stream(lab: Any, name: str) -> DeliveryStreamFacts:
    """Inspect a Firehose delivery stream: source, buffering, prefix, compression, conversion.

    Introduced in lab 01.

    Args:
        lab: the open lab.
        name: the delivery stream name.

    Returns:
        :class:`DeliveryStreamFacts` (of its first, extended S3, destination).

    Raises:
        CheckFailed: there is no such delivery stream, or it has no S3 destination.
    """
    fh = lab.client("firehose")
    desc = _describe(
        lab,
        f"Firehose delivery stream {name!r}",
        "Create it with firehose.create_delivery_stream(...); list yours with "
        "firehose.list_delivery_streams().",
        fh.describe_delivery_stream,
        DeliveryStreamName=name,
    )["DeliveryStreamDescription"]
    dests = desc.get("Destinations", [])
    s3: dict[str, Any] = {}
    for d in dests:
        s3 = d.get("ExtendedS3DestinationDescription") or d.get("S3DestinationDescription") or {}
        if s3:
            break
    if not s3:
        raise CheckFailed(
            f"delivery stream {name!r} has no S3 destination; give it "
            "ExtendedS3DestinationConfiguration when you create it"
        )
    hints = s3.get("BufferingHints", {})
    conv = s3.get("DataFormatConversionConfiguration") or {}
    fmt = None
    table = None
    if conv.get("Enabled", bool(conv)):
        ser = conv.get("OutputFormatConfiguration", {}).get("Serializer", {})
        fmt = "parquet" if "ParquetSerDe" in ser else "orc" if "OrcSerDe" in ser else "unknown"
        sc = conv.get("SchemaConfiguration", {})
        if sc:
            table = (sc.get("DatabaseName", ""), sc.get("TableName", ""))
    processing = s3.get("ProcessingConfiguration") or {}
    processors = (
        [p.get("Type", "") for p in processing.get("Processors", [])]
        if processing.get("Enabled")
        else []
    )
    source = desc.get("Source", {}).get("KinesisStreamSourceDescription", {})
    return DeliveryStreamFacts(
        name=name,
        status=desc.get("DeliveryStreamStatus", ""),
        source=desc.get("DeliveryStreamType", "DirectPut"),
        source_stream_arn=source.get("KinesisStreamARN"),
        bucket=str(s3.get("BucketARN", "")).split(":::")[-1],
        prefix=s3.get("Prefix", "") or "",
        error_prefix=s3.get("ErrorOutputPrefix", "") or "",
        buffer_mb=hints.get("SizeInMBs"),
        buffer_seconds=hints.get("IntervalInSeconds"),
        compression=s3.get("CompressionFormat", "UNCOMPRESSED"),
        format_conversion=fmt,
        conversion_table=table,
        dynamic_partitioning=bool(
            (s3.get("DynamicPartitioningConfiguration") or {}).get("Enabled")
        ),
        processors=processors,
        raw=desc,
    )


# --------------------------------------------------------------------------- S3
@dataclass
class S3Objects:
    """Objects under a prefix of the lab bucket.

    Attributes:
        bucket: the bucket.
        prefix: the prefix listed.
        keys: object keys, sorted.
        sizes: size in bytes per key.
        total_bytes: the sum.
    """

    bucket: str
    prefix: str
    keys: list[str]
    sizes: dict[str, int]
    total_bytes: int

    def __len__(self) -> int:
        return len(self.keys)

    def read(self, lab: Any, key: str) -> bytes:
        """Return one object's bytes (GZIP is not undone)."""
        return bytes(lab.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())


def s3_objects(lab: Any, prefix: str, bucket: str | None = None, *, at_least: int = 0) -> S3Objects:
    """List the objects under a prefix (lab 01 onwards).

    Args:
        lab: the open lab.
        prefix: the key prefix, e.g. ``"raw/clicks/"``.
        bucket: default: the lab bucket.
        at_least: raise CheckFailed when fewer objects are found.

    Returns:
        :class:`S3Objects`.

    Raises:
        CheckFailed: fewer than ``at_least`` objects.
    """
    bucket = bucket or lab.bucket
    s3 = lab.client("s3")
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            sizes[o["Key"]] = int(o["Size"])
    keys = sorted(sizes)
    if len(keys) < at_least:
        raise CheckFailed(
            f"found {len(keys)} object(s) under s3://{bucket}/{prefix}, expected at least "
            f"{at_least}; look with s3.list_objects_v2(Bucket=..., Prefix={prefix!r})"
        )
    return S3Objects(bucket, prefix, keys, sizes, sum(sizes.values()))


# --------------------------------------------------------------------------- Glue
@dataclass
class GlueTableFacts:
    """A Glue Data Catalog table (lab 01).

    Attributes:
        database: the database.
        name: the table.
        columns: ``{name: type}`` of the data columns, in order.
        partition_keys: ``{name: type}`` of the partition columns.
        partitions: partition value lists (``get_partitions``).
        classification: ``Parameters.classification`` (``json``, ``parquet``, ``csv``...).
        location: ``StorageDescriptor.Location``.
        serde: the SerDe library.
        raw: ``get_table``'s ``Table``.
    """

    database: str
    name: str
    columns: dict[str, str]
    partition_keys: dict[str, str]
    partitions: list[list[str]]
    classification: str
    location: str
    serde: str
    raw: dict[str, Any] = field(repr=False)


def glue_table(lab: Any, database: str, table: str) -> GlueTableFacts:
    """Inspect a Glue table: columns, partition keys and partitions, classification (lab 01).

    Args:
        lab: the open lab.
        database: the Glue database.
        table: the table name.

    Returns:
        :class:`GlueTableFacts`.

    Raises:
        CheckFailed: the database or table does not exist.
    """
    glue = lab.client("glue")
    t = _describe(
        lab,
        f"Glue table {database}.{table}",
        "Run your crawler (glue.start_crawler) and wait for it to finish, or create the table; "
        f"list tables with glue.get_tables(DatabaseName={database!r}).",
        glue.get_table,
        DatabaseName=database,
        Name=table,
    )["Table"]
    sd = t.get("StorageDescriptor", {})
    parts: list[list[str]] = []
    if t.get("PartitionKeys"):
        for page in glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=table
        ):
            parts.extend(list(p.get("Values", [])) for p in page.get("Partitions", []))
    params = {**sd.get("Parameters", {}), **t.get("Parameters", {})}
    return GlueTableFacts(
        database=database,
        name=table,
        columns={c["Name"]: c.get("Type", "") for c in sd.get("Columns", [])},
        partition_keys={c["Name"]: c.get("Type", "") for c in t.get("PartitionKeys", [])},
        partitions=sorted(parts),
        classification=str(params.get("classification", "")),
        location=sd.get("Location", ""),
        serde=sd.get("SerdeInfo", {}).get("SerializationLibrary", ""),
        raw=t,
    )


# --------------------------------------------------------------------------- Athena
@dataclass
class AthenaQueryFacts:
    """An Athena query execution (lab 01).

    Attributes:
        execution_id: the id.
        state: ``SUCCEEDED``, ``FAILED``, ``CANCELLED``, ``RUNNING``, ``QUEUED``.
        reason: ``StateChangeReason`` (why it failed).
        query: the SQL.
        workgroup: the workgroup.
        bytes_scanned: ``Statistics.DataScannedInBytes`` (what Athena bills).
        columns: result column names.
        rows: result rows (strings, header excluded; up to ``max_rows``).
        output_location: where the results are.
        raw: ``get_query_execution``'s ``QueryExecution``.
    """

    execution_id: str
    state: str
    reason: str
    query: str
    workgroup: str
    bytes_scanned: int
    columns: list[str]
    rows: list[list[str | None]]
    output_location: str
    raw: dict[str, Any] = field(repr=False)


def athena_query(
    lab: Any, execution_id: str, *, wait: float = 120.0, max_rows: int = 1000
) -> AthenaQueryFacts:
    """Inspect an Athena query: state, failure reason, bytes scanned, result rows (lab 01).

    Args:
        lab: the open lab.
        execution_id: ``start_query_execution``'s ``QueryExecutionId``.
        wait: seconds to wait for a running query to finish.
        max_rows: result rows to fetch.

    Returns:
        :class:`AthenaQueryFacts` (rows only when the query succeeded).

    Raises:
        CheckFailed: no such query execution.
    """
    athena = lab.client("athena")
    deadline = time.monotonic() + wait
    while True:
        qe = _describe(
            lab,
            f"Athena query execution {execution_id!r}",
            "Pass the QueryExecutionId that athena.start_query_execution returned.",
            athena.get_query_execution,
            QueryExecutionId=execution_id,
        )["QueryExecution"]
        state = qe.get("Status", {}).get("State", "")
        if state not in ("QUEUED", "RUNNING") or time.monotonic() >= deadline:
            break
        time.sleep(0.3)
    columns: list[str] = []
    rows: list[list[str | None]] = []
    if state == "SUCCEEDED":
        res = athena.get_query_results(QueryExecutionId=execution_id, MaxResults=max_rows)
        meta = res.get("ResultSet", {}).get("ResultSetMetadata", {}).get("ColumnInfo", [])
        columns = [c.get("Name", "") for c in meta]
        raw_rows = [
            [d.get("VarCharValue") for d in r.get("Data", [])]
            for r in res.get("ResultSet", {}).get("Rows", [])
        ]
        if raw_rows and columns and raw_rows[0] == columns:
            raw_rows = raw_rows[1:]
        rows = raw_rows
    return AthenaQueryFacts(
        execution_id=execution_id,
        state=state,
        reason=qe.get("Status", {}).get("StateChangeReason", ""),
        query=qe.get("Query", ""),
        workgroup=qe.get("WorkGroup", ""),
        bytes_scanned=int(qe.get("Statistics", {}).get("DataScannedInBytes", 0) or 0),
        columns=columns,
        rows=rows,
        output_location=qe.get("ResultConfiguration", {}).get("OutputLocation", ""),
        raw=qe,
    )


# --------------------------------------------------------------------------- SageMaker jobs
@dataclass
class TrainingJobFacts:
    """A SageMaker training job (lab 03).

    Attributes:
        name: the job name.
        status: ``Completed``, ``Failed``, ``Stopped``, ``InProgress``.
        failure_reason: ``FailureReason`` (empty unless failed).
        image: the training image URI.
        hyperparameters: the hyperparameters as sent (strings).
        instance_type: ``ResourceConfig.InstanceType``.
        instance_count: ``ResourceConfig.InstanceCount``.
        max_runtime: ``StoppingCondition.MaxRuntimeInSeconds``.
        channels: ``{channel: S3 URI}``.
        content_types: ``{channel: ContentType}``.
        metrics: final metrics, ``{"validation:auc": 0.93}``.
        model_artifact: ``ModelArtifacts.S3ModelArtifacts``.
        billable_seconds: ``BillableTimeInSeconds``.
        spot: managed spot training on.
        raw: the ``describe_training_job`` answer.
    """

    name: str
    status: str
    failure_reason: str
    image: str
    hyperparameters: dict[str, str]
    instance_type: str
    instance_count: int
    max_runtime: int | None
    channels: dict[str, str]
    content_types: dict[str, str]
    metrics: dict[str, float]
    model_artifact: str
    billable_seconds: int | None
    spot: bool
    raw: dict[str, Any] = field(repr=False)

    def request_differences(
        self, other: TrainingJobFacts, *, channels: str = "the channels", content_types: bool = True
    ) -> list[str]:
        """Name what of the ``CreateTrainingJob`` request differs from ``other``'s (the drills:
        a repaired job must be the same request as the broken one, apart from what was fixed).

        Args:
            other: the job to compare with.
            channels: how the channel URIs are named in the answer.
            content_types: also compare the channels' ContentType.

        Returns:
            The names of the differing parts (empty when the requests match); nothing is called.
        """
        same = {
            "the image": (self.image, other.image),
            "the role": (self.raw.get("RoleArn"), other.raw.get("RoleArn")),
            "ResourceConfig": (self.raw.get("ResourceConfig"), other.raw.get("ResourceConfig")),
            "StoppingCondition": (
                self.raw.get("StoppingCondition"),
                other.raw.get("StoppingCondition"),
            ),
            "the hyperparameters": (self.hyperparameters, other.hyperparameters),
            channels: (self.channels, other.channels),
        }
        if content_types:
            same["the content types"] = (self.content_types, other.content_types)
        return [k for k, (a, b) in same.items() if a != b]


def training_job(lab: Any, name: str, *, wait: float = 900.0) -> TrainingJobFacts:
    """Inspect a training job, waiting for it to end: status, config, final metrics (lab 03).

    Args:
        lab: the open lab.
        name: the training job name.
        wait: seconds to wait for a running job to reach Completed/Failed/Stopped.

    Returns:
        :class:`TrainingJobFacts`.

    Raises:
        CheckFailed: no such job.
    """
    sm = lab.client("sagemaker")
    fix = "Start it with sagemaker.create_training_job(...) (or ModelTrainer.train()); list jobs with sm.list_training_jobs()."
    d = _wait(
        lambda: _describe(
            lab,
            f"training job {name!r}",
            fix,
            sm.describe_training_job,
            TrainingJobName=name,
        ),
        "TrainingJobStatus",
        wait,
    )
    rc = d.get("ResourceConfig", {})
    channels, ctypes = {}, {}
    for ch in d.get("InputDataConfig", []):
        src = ch.get("DataSource", {}).get("S3DataSource", {})
        channels[ch["ChannelName"]] = src.get("S3Uri", "")
        if ch.get("ContentType"):
            ctypes[ch["ChannelName"]] = ch["ContentType"]
    return TrainingJobFacts(
        name=name,
        status=d.get("TrainingJobStatus", ""),
        failure_reason=d.get("FailureReason", ""),
        image=d.get("AlgorithmSpecification", {}).get("TrainingImage", ""),
        hyperparameters=dict(d.get("HyperParameters", {})),
        instance_type=rc.get("InstanceType", ""),
        instance_count=int(rc.get("InstanceCount", 0) or 0),
        max_runtime=d.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
        channels=channels,
        content_types=ctypes,
        metrics={m["MetricName"]: float(m["Value"]) for m in d.get("FinalMetricDataList", [])},
        model_artifact=d.get("ModelArtifacts", {}).get("S3ModelArtifacts", ""),
        billable_seconds=d.get("BillableTimeInSeconds"),
        spot=bool(d.get("EnableManagedSpotTraining")),
        raw=d,
    )


@dataclass
class TransformJobFacts:
    """A SageMaker batch transform job (lab 04).

    Attributes:
        name: the job name.
        status: ``Completed``, ``Failed``...
        failure_reason: ``FailureReason``.
        model: the model name.
        input_uri: ``TransformInput.DataSource.S3DataSource.S3Uri``.
        content_type: ``TransformInput.ContentType``.
        split_type: ``TransformInput.SplitType``.
        output_uri: ``TransformOutput.S3OutputPath``.
        accept: ``TransformOutput.Accept``.
        assemble_with: ``TransformOutput.AssembleWith``.
        batch_strategy: ``SingleRecord`` or ``MultiRecord``.
        data_processing: ``DataProcessing`` (input/output filters, join source).
        instance_type: ``TransformResources.InstanceType``.
        raw: the ``describe_transform_job`` answer.
    """

    name: str
    status: str
    failure_reason: str
    model: str
    input_uri: str
    content_type: str
    split_type: str
    output_uri: str
    accept: str
    assemble_with: str
    batch_strategy: str
    data_processing: dict[str, Any]
    instance_type: str
    raw: dict[str, Any] = field(repr=False)


def transform_job(lab: Any, name: str, *, wait: float = 900.0) -> TransformJobFacts:
    """Inspect a batch transform job, waiting for it to end (lab 04).

    Args:
        lab: the open lab.
        name: the transform job name.
        wait: seconds to wait for it to end.

    Returns:
        :class:`TransformJobFacts`.

    Raises:
        CheckFailed: no such job.
    """
    sm = lab.client("sagemaker")
    d = _wait(
        lambda: _describe(
            lab,
            f"transform job {name!r}",
            "Start it with sagemaker.create_transform_job(...); list jobs with sm.list_transform_jobs().",
            sm.describe_transform_job,
            TransformJobName=name,
        ),
        "TransformJobStatus",
        wait,
    )
    ti, to = d.get("TransformInput", {}), d.get("TransformOutput", {})
    return TransformJobFacts(
        name=name,
        status=d.get("TransformJobStatus", ""),
        failure_reason=d.get("FailureReason", ""),
        model=d.get("ModelName", ""),
        input_uri=ti.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", ""),
        content_type=ti.get("ContentType", ""),
        split_type=ti.get("SplitType", "None"),
        output_uri=to.get("S3OutputPath", ""),
        accept=to.get("Accept", ""),
        assemble_with=to.get("AssembleWith", "None"),
        batch_strategy=d.get("BatchStrategy", ""),
        data_processing=dict(d.get("DataProcessing", {})),
        instance_type=d.get("TransformResources", {}).get("InstanceType", ""),
        raw=d,
    )


@dataclass
class TuningJobFacts:
    """A hyperparameter tuning job (lab 03).

    Attributes:
        name: the tuning job name.
        status: ``Completed``, ``InProgress``, ``Failed``, ``Stopped``.
        strategy: ``Bayesian``, ``Random``, ``Hyperband``, ``Grid``.
        objective: ``(type, metric)``, e.g. ``("Maximize", "validation:auc")``.
        max_jobs: ``ResourceLimits.MaxNumberOfTrainingJobs``.
        max_parallel: ``ResourceLimits.MaxParallelTrainingJobs``.
        ranges: parameter name -> range kind (``Continuous``, ``Integer``, ``Categorical``).
        best_job: the best training job's name.
        best_value: its objective value.
        counts: ``TrainingJobStatusCounters``.
        raw: the ``describe_hyper_parameter_tuning_job`` answer.
    """

    name: str
    status: str
    strategy: str
    objective: tuple[str, str]
    max_jobs: int | None
    max_parallel: int | None
    ranges: dict[str, str]
    best_job: str
    best_value: float | None
    counts: dict[str, int]
    raw: dict[str, Any] = field(repr=False)


def tuning_job(lab: Any, name: str, *, wait: float = 900.0) -> TuningJobFacts:
    """Inspect a tuning job, waiting for it to end: strategy, limits, best job (lab 03).

    Args:
        lab: the open lab.
        name: the tuning job name.
        wait: seconds to wait for it to end.

    Returns:
        :class:`TuningJobFacts`.

    Raises:
        CheckFailed: no such tuning job.
    """
    sm = lab.client("sagemaker")
    d = _wait(
        lambda: _describe(
            lab,
            f"tuning job {name!r}",
            "Start it with sagemaker.create_hyper_parameter_tuning_job(...).",
            sm.describe_hyper_parameter_tuning_job,
            HyperParameterTuningJobName=name,
        ),
        "HyperParameterTuningJobStatus",
        wait,
    )
    cfg = d.get("HyperParameterTuningJobConfig", {})
    obj = cfg.get("HyperParameterTuningJobObjective", {})
    limits = cfg.get("ResourceLimits", {})
    ranges: dict[str, str] = {}
    for kind, key in (
        ("Continuous", "ContinuousParameterRanges"),
        ("Integer", "IntegerParameterRanges"),
        ("Categorical", "CategoricalParameterRanges"),
    ):
        for r in cfg.get("ParameterRanges", {}).get(key, []):
            ranges[r["Name"]] = kind
    best = d.get("BestTrainingJob", {})
    final = best.get("FinalHyperParameterTuningJobObjectiveMetric", {})
    return TuningJobFacts(
        name=name,
        status=d.get("HyperParameterTuningJobStatus", ""),
        strategy=cfg.get("Strategy", ""),
        objective=(obj.get("Type", ""), obj.get("MetricName", "")),
        max_jobs=limits.get("MaxNumberOfTrainingJobs"),
        max_parallel=limits.get("MaxParallelTrainingJobs"),
        ranges=ranges,
        best_job=best.get("TrainingJobName", ""),
        best_value=float(final["Value"]) if "Value" in final else None,
        counts={k: int(v) for k, v in d.get("TrainingJobStatusCounters", {}).items()},
        raw=d,
    )


# --------------------------------------------------------------------------- hosting
@dataclass
class VariantFacts:
    """One production variant of an endpoint."""

    name: str
    model: str
    instance_type: str
    instance_count: int
    weight: float
    serverless: dict[str, Any] | None


@dataclass
class EndpointFacts:
    """A SageMaker real-time endpoint (lab 04).

    Attributes:
        name: the endpoint name.
        status: ``InService``, ``Creating``, ``Updating``, ``Failed``...
        failure_reason: ``FailureReason``.
        config: the endpoint config name.
        variants: :class:`VariantFacts` per production variant (current weights and counts).
        data_capture: the config's ``DataCaptureConfig`` (or None).
        raw: the ``describe_endpoint`` answer.
    """

    name: str
    status: str
    failure_reason: str
    config: str
    variants: list[VariantFacts]
    data_capture: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    def weights(self) -> dict[str, float]:
        """Variant name -> traffic share (weights normalised to sum to 1)."""
        total = sum(v.weight for v in self.variants) or 1.0
        return {v.name: v.weight / total for v in self.variants}


def endpoint(lab: Any, name: str, *, wait: float = 600.0) -> EndpointFacts:
    """Inspect an endpoint: status, variants with instance types, weights, data capture (lab 04).

    Args:
        lab: the open lab.
        name: the endpoint name.
        wait: seconds to wait while it is Creating/Updating.

    Returns:
        :class:`EndpointFacts`.

    Raises:
        CheckFailed: no such endpoint.
    """
    sm = lab.client("sagemaker")
    deadline = time.monotonic() + wait
    while True:
        d = _describe(
            lab,
            f"endpoint {name!r}",
            "Create it with sagemaker.create_endpoint(EndpointName=..., EndpointConfigName=...); "
            "list yours with sm.list_endpoints().",
            sm.describe_endpoint,
            EndpointName=name,
        )
        if d.get("EndpointStatus") not in ("Creating", "Updating", "SystemUpdating"):
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    cfg_name = d.get("EndpointConfigName", "")
    cfg: dict[str, Any] = {}
    try:
        cfg = dict(sm.describe_endpoint_config(EndpointConfigName=cfg_name))
    except ClientError:
        pass
    by_name = {v["VariantName"]: v for v in cfg.get("ProductionVariants", [])}
    variants = []
    for v in d.get("ProductionVariants", []) or list(by_name.values()):
        c = by_name.get(v["VariantName"], {})
        variants.append(
            VariantFacts(
                name=v["VariantName"],
                model=c.get("ModelName", ""),
                instance_type=c.get("InstanceType", ""),
                instance_count=int(
                    v.get("CurrentInstanceCount", c.get("InitialInstanceCount", 0)) or 0
                ),
                weight=float(v.get("CurrentWeight", c.get("InitialVariantWeight", 1.0))),
                serverless=c.get("ServerlessConfig"),
            )
        )
    return EndpointFacts(
        name=name,
        status=d.get("EndpointStatus", ""),
        failure_reason=d.get("FailureReason", ""),
        config=cfg_name,
        variants=variants,
        data_capture=d.get("DataCaptureConfig") or cfg.get("DataCaptureConfig"),
        raw=d,
    )


@dataclass
class ModelPackageFacts:
    """A model package (a version in the Model Registry, lab 05).

    Attributes:
        arn: the model package ARN.
        group: the model package group.
        version: the version number.
        approval: ``Approved``, ``Rejected``, ``PendingManualApproval``.
        images: inference container images.
        model_data: artifact URIs.
        metrics: ``ModelMetrics`` as registered.
        raw: the ``describe_model_package`` answer.
    """

    arn: str
    group: str
    version: int | None
    approval: str
    images: list[str]
    model_data: list[str]
    metrics: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)


def model_package(lab: Any, group_or_arn: str, version: int | None = None) -> ModelPackageFacts:
    """Inspect a registered model version (lab 05).

    Args:
        lab: the open lab.
        group_or_arn: a model package ARN, or a model package group name.
        version: with a group: this version (default: the latest).

    Returns:
        :class:`ModelPackageFacts`.

    Raises:
        CheckFailed: no such group, no version in it, or no such package.
    """
    sm = lab.client("sagemaker")
    arn = group_or_arn
    if ":model-package/" not in group_or_arn:
        _describe(
            lab,
            f"model package group {group_or_arn!r}",
            "Create it with sagemaker.create_model_package_group(ModelPackageGroupName=...).",
            sm.describe_model_package_group,
            ModelPackageGroupName=group_or_arn,
        )
        found = sm.list_model_packages(
            ModelPackageGroupName=group_or_arn, SortBy="CreationTime", SortOrder="Descending"
        ).get("ModelPackageSummaryList", [])
        if version is not None:
            found = [p for p in found if p.get("ModelPackageVersion") == version]
        if not found:
            which = f"version {version}" if version is not None else "any version"
            raise CheckFailed(
                f"model package group {group_or_arn!r} has no {which}; register one with "
                "sagemaker.create_model_package(ModelPackageGroupName=..., ...)"
            )
        arn = found[0]["ModelPackageArn"]
    d = _describe(
        lab,
        f"model package {arn!r}",
        "Register it with sagemaker.create_model_package(...).",
        sm.describe_model_package,
        ModelPackageName=arn,
    )
    containers = d.get("InferenceSpecification", {}).get("Containers", [])
    return ModelPackageFacts(
        arn=d.get("ModelPackageArn", arn),
        group=d.get("ModelPackageGroupName", ""),
        version=d.get("ModelPackageVersion"),
        approval=d.get("ModelApprovalStatus", ""),
        images=[c.get("Image", "") for c in containers],
        model_data=[c.get("ModelDataUrl", "") for c in containers if c.get("ModelDataUrl")],
        metrics=dict(d.get("ModelMetrics", {})),
        raw=d,
    )


# --------------------------------------------------------------------------- IAM
@dataclass
class IamPolicyFacts:
    """The permissions of an IAM role (lab 05 security).

    Attributes:
        role: the role name.
        documents: ``{policy name or ARN: policy document}``, inline and attached.
        actions: every allowed action (as written, e.g. ``s3:GetObject``, ``s3:*``).
        wildcard_actions: allowed actions with a ``*`` (``*``, ``s3:*``, ``s3:Get*``).
        wildcard_resources: statements allowing ``Resource: "*"``, as ``"sid or #n: actions"``.
        trusted: the services and principals in the trust policy.
    """

    role: str
    documents: dict[str, dict[str, Any]]
    actions: list[str]
    wildcard_actions: list[str]
    wildcard_resources: list[str]
    trusted: list[str]

    def allows(self, action: str) -> bool:
        """Whether some Allow statement names ``action`` (wildcards honoured, conditions not)."""
        import fnmatch

        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)


def _doc(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return dict(json.loads(urllib.parse.unquote(value)))
    return dict(value or {})


def _listify(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list) else [v] if v is not None else []


def iam_policy(lab: Any, role_name: str) -> IamPolicyFacts:
    """Inspect a role's inline and attached policies: actions, wildcards, trust (lab 05).

    Args:
        lab: the open lab.
        role_name: the role name (not the ARN; the part after ``role/`` is taken).

    Returns:
        :class:`IamPolicyFacts`.

    Raises:
        CheckFailed: no such role.
    """
    role_name = role_name.split("/")[-1]
    iam = lab.client("iam")
    role = _describe(
        lab,
        f"IAM role {role_name!r}",
        "Create it with iam.create_role(...); list roles with iam.list_roles().",
        iam.get_role,
        RoleName=role_name,
    )["Role"]
    docs: dict[str, dict[str, Any]] = {}
    for name in iam.list_role_policies(RoleName=role_name).get("PolicyNames", []):
        docs[name] = _doc(
            iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        )
    for p in iam.list_attached_role_policies(RoleName=role_name).get("AttachedPolicies", []):
        pol = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]
        ver = iam.get_policy_version(PolicyArn=p["PolicyArn"], VersionId=pol["DefaultVersionId"])
        docs[p["PolicyArn"]] = _doc(ver["PolicyVersion"]["Document"])
    actions: list[str] = []
    wild_res: list[str] = []
    for doc in docs.values():
        for i, st in enumerate(_listify(doc.get("Statement"))):
            if st.get("Effect") != "Allow":
                continue
            acts = [str(a) for a in _listify(st.get("Action"))]
            actions.extend(acts)
            if "*" in [str(r) for r in _listify(st.get("Resource"))]:
                wild_res.append(f"{st.get('Sid') or f'#{i}'}: {', '.join(acts)}")
    trust = _doc(role.get("AssumeRolePolicyDocument"))
    trusted: list[str] = []
    for st in _listify(trust.get("Statement")):
        for v in (
            (st.get("Principal") or {}).values() if isinstance(st.get("Principal"), dict) else []
        ):
            trusted.extend(str(x) for x in _listify(v))
    return IamPolicyFacts(
        role=role_name,
        documents=docs,
        actions=sorted(set(actions)),
        wildcard_actions=sorted({a for a in actions if "*" in a}),
        wildcard_resources=wild_res,
        trusted=sorted(set(trusted)),
    )
