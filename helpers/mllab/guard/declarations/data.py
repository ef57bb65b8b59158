"""Admission of the data and platform services the labs use (labs 00-04).

Introduced in lab 00 (the lab bucket and role) and lab 01 (Kinesis, Firehose, Glue, Athena,
Lake Formation). Reads are the generated list in :mod:`._reads`; free writes are listed one
by one; billable operations name their estimator and deleter kind. Anything else in these
services is refused (default-deny); reasons for the notable ones are in :mod:`.refused`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from mllab.guard import admission as a
from mllab.guard import estimate as e
from mllab.guard.declarations._reads import READS
from mllab.guard.declarations._util import gone, paginate, quietly, tag_dict

for _service, _ops in READS.items():
    if not _service.startswith("sagemaker"):
        a.read(_service, *_ops, note="describe / list / get / head")

a.read("kinesis", "GetRecords", "SubscribeToShard")
a.read("cloudwatch-logs", "FilterLogEvents")
a.read("iam", "SimulatePrincipalPolicy", "SimulateCustomPolicy")
a.read("sts", "GetCallerIdentity")

# ------------------------------------------------------------------ S3 (storage: cents a month)
a.free(
    "s3",
    "CreateBucket",
    "DeleteBucket",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "PutBucketTagging",
    "DeleteBucketTagging",
    "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketVersioning",
    "PutBucketOwnershipControls",
    note="lab data in the lab bucket: S3 storage costs cents a month",
)
a.billable("s3", "SelectObjectContent", estimator=e.s3_select, deleter=a.NOTHING_PERSISTS)

# ------------------------------------------------------------------ IAM, STS, KMS
a.free(
    "iam",
    "CreateRole",
    "DeleteRole",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "TagRole",
    "UntagRole",
    "TagPolicy",
    "UntagPolicy",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "UpdateRoleDescription",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    note="IAM has no charge",
)
a.free("sts", "AssumeRole", "DecodeAuthorizationMessage", note="STS has no charge")
a.free(
    "kms",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
    "CreateAlias",
    "DeleteAlias",
    "UpdateAlias",
    "TagResource",
    "UntagResource",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DisableKey",
    "EnableKey",
    "PutKeyPolicy",
    note="USD 0.03 per 10,000 requests; the key itself is priced at CreateKey",
)
a.billable("kms", "CreateKey", estimator=e.kms_key, deleter="kms-key")

# ------------------------------------------------------------------ logs, metrics, alarms
a.free(
    "cloudwatch-logs",
    "CreateLogGroup",
    "CreateLogStream",
    "PutLogEvents",
    "DeleteLogGroup",
    "DeleteLogStream",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "TagLogGroup",
    "TagResource",
    "UntagResource",
    note="lab logs are kilobytes (USD 0.50/GB ingested)",
)
a.free("cloudwatch", "PutMetricData", "DeleteAlarms", "TagResource", "UntagResource")
a.billable("cloudwatch", "PutMetricAlarm", estimator=e.metric_alarm, deleter="cloudwatch-alarm")

# ------------------------------------------------------------------ Kinesis, Firehose
a.free(
    "kinesis",
    "DeleteStream",
    "PutRecord",
    "PutRecords",
    "DeregisterStreamConsumer",
    "DecreaseStreamRetentionPeriod",
    "MergeShards",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "TagResource",
    "UntagResource",
    "StartStreamEncryption",
    "StopStreamEncryption",
    note="USD 0.014 per million PUT payload units; the stream is priced per shard-hour",
)
a.billable("kinesis", "CreateStream", estimator=e.kinesis_stream, deleter="kinesis-stream")
a.billable("kinesis", "UpdateShardCount", estimator=e.kinesis_reshard, deleter="kinesis-stream")
a.billable("kinesis", "SplitShard", estimator=e.kinesis_split_shard, deleter="kinesis-stream")
a.billable("kinesis", "UpdateStreamMode", estimator=e.kinesis_stream_mode, deleter="kinesis-stream")
a.billable(
    "kinesis",
    "IncreaseStreamRetentionPeriod",
    estimator=e.kinesis_retention,
    deleter="kinesis-stream",
)
a.billable(
    "kinesis",
    "EnableEnhancedMonitoring",
    estimator=e.kinesis_enhanced_monitoring,
    deleter="kinesis-stream",
)
a.free("kinesis", "DisableEnhancedMonitoring", note="stops the shard-level metrics")
a.billable(
    "kinesis",
    "RegisterStreamConsumer",
    estimator=e.kinesis_consumer,
    deleter="kinesis-stream-consumer",
)
a.free(
    "firehose",
    "DeleteDeliveryStream",
    "PutRecord",
    "PutRecordBatch",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    note="USD 0.029 per GB ingested (recorded from what is put)",
)
a.billable(
    "firehose",
    "CreateDeliveryStream",
    estimator=e.firehose_stream,
    deleter="firehose-delivery-stream",
)

# ------------------------------------------------------------------ Glue, Athena, Lake Formation
a.free(
    "glue",
    "CreateDatabase",
    "UpdateDatabase",
    "DeleteDatabase",
    "CreateTable",
    "UpdateTable",
    "DeleteTable",
    "BatchDeleteTable",
    "CreatePartition",
    "BatchCreatePartition",
    "UpdatePartition",
    "DeletePartition",
    "BatchDeletePartition",
    "DeleteCrawler",
    "StopCrawler",
    "CreateJob",
    "UpdateJob",
    "DeleteJob",
    "BatchStopJobRun",
    "CreateClassifier",
    "DeleteClassifier",
    "TagResource",
    "UntagResource",
    note="the Data Catalog's first million objects are free; job runs are priced at StartJobRun",
)
a.billable(
    "glue",
    "CreateCrawler",
    "UpdateCrawler",
    estimator=e.glue_crawler_definition,
    deleter="glue-crawler",
    note="a crawler without a Schedule runs only when started",
)
a.billable("glue", "StartCrawler", estimator=e.glue_crawler, deleter="glue-crawler")
a.billable("glue", "StartJobRun", estimator=e.glue_job_run, deleter="glue-job-run")
a.free(
    "athena",
    "CreateWorkGroup",
    "UpdateWorkGroup",
    "DeleteWorkGroup",
    "StopQueryExecution",
    "CreateNamedQuery",
    "DeleteNamedQuery",
    "TagResource",
    "UntagResource",
    note="Athena charges per query (priced at StartQueryExecution)",
)
a.billable("athena", "StartQueryExecution", estimator=e.athena_query, deleter=a.NOTHING_PERSISTS)
a.free(
    "lakeformation",
    "GrantPermissions",
    "RevokePermissions",
    "BatchGrantPermissions",
    "BatchRevokePermissions",
    "PutDataLakeSettings",
    "RegisterResource",
    "DeregisterResource",
    "CreateDataCellsFilter",
    "UpdateDataCellsFilter",
    "DeleteDataCellsFilter",
    "CreateLFTag",
    "UpdateLFTag",
    "DeleteLFTag",
    "AddLFTagsToResource",
    "RemoveLFTagsFromResource",
    note="Lake Formation permissions have no charge",
)

# ------------------------------------------------------------------ EC2 networking (lab 04)
a.free(
    "ec2",
    "CreateVpc",
    "DeleteVpc",
    "CreateSubnet",
    "DeleteSubnet",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "CreateRouteTable",
    "DeleteRouteTable",
    "AssociateRouteTable",
    "DisassociateRouteTable",
    "CreateTags",
    "DeleteTags",
    "ModifyVpcAttribute",
    "DeleteVpcEndpoints",
    note="VPCs, subnets, security groups and route tables have no charge",
)
a.billable("ec2", "CreateVpcEndpoint", estimator=e.vpc_endpoint, deleter="ec2-vpc-endpoint")
a.free(
    "ec2",
    "AttachInternetGateway",
    "DetachInternetGateway",
    "DeleteInternetGateway",
    "CreateRoute",
    "ReplaceRoute",
    "DeleteRoute",
    note="internet gateways and routes have no charge (a route lives and dies with its table; "
    "NAT gateways, transit gateways and instances it could point at are refused)",
)


def _internet_gateway(p: dict[str, Any], policy: e.Policy) -> e.Estimate:
    """CreateInternetGateway: no charge, but it stays: the ``ec2-internet-gateway`` deleter
    (detach, then delete) removes it at ``lab.close()``; the id comes from the answer."""
    return e.Estimate(0.0, "", detail={"basis": "an internet gateway has no hourly charge"})


a.billable(
    "ec2",
    "CreateInternetGateway",
    estimator=_internet_gateway,
    deleter="ec2-internet-gateway",
    note="free, but it stays until deleted: registered with a deleter",
)

# ------------------------------------------------------------------ Application Auto Scaling
a.free(
    "application-auto-scaling",
    "PutScalingPolicy",
    "DeleteScalingPolicy",
    "DeregisterScalableTarget",
    "DeleteScheduledAction",
    "TagResource",
    "UntagResource",
    note="scaling stays within the target's MaxCapacity, priced at RegisterScalableTarget",
)
a.billable(
    "application-auto-scaling",
    "RegisterScalableTarget",
    estimator=e.scalable_target,
    deleter="scalable-target",
)
a.billable(
    "application-auto-scaling",
    "PutScheduledAction",
    estimator=e.scheduled_action,
    deleter="scalable-target",
)

# ------------------------------------------------------------------ EventBridge, SNS, SQS, Budgets
a.free(
    "eventbridge",
    "PutRule",
    "DeleteRule",
    "DisableRule",
    "EnableRule",
    "RemoveTargets",
    "TagResource",
    "UntagResource",
    note="a rule without targets starts nothing",
)
a.billable(
    "eventbridge",
    "PutTargets",
    estimator=e.eventbridge_targets,
    deleter=a.NOTHING_PERSISTS,
    note="only queues, topics and log groups: other targets run on the account's behalf",
)
a.free(
    "sns",
    "CreateTopic",
    "DeleteTopic",
    "Publish",
    "Unsubscribe",
    "ConfirmSubscription",
    "TagResource",
    "UntagResource",
    note="the first million publishes a month are free",
)
a.billable(
    "sns",
    "Subscribe",
    estimator=e.sns_subscription,
    deleter=a.NOTHING_PERSISTS,
    note="queue and e-mail subscriptions only deliver; the others are refused",
)
a.free(
    "sqs",
    "CreateQueue",
    "DeleteQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    note="the first million requests a month are free",
)
a.free(
    "budgets",
    "CreateBudget",
    "UpdateBudget",
    "DeleteBudget",
    "CreateNotification",
    "DeleteNotification",
    "CreateSubscriber",
    "DeleteSubscriber",
    "CreateBudgetAction",
    "DeleteBudgetAction",
    note="budgets cost nothing (the first two action-enabled budgets are free)",
)


# --------------------------------------------------------------------------- deleters


def _kinesis(session: Any, region: str) -> Any:
    return session.client("kinesis", region_name=region)


def _find_streams(session: Any, region: str) -> Any:
    k = _kinesis(session, region)
    for summary in paginate(k, "list_streams", "StreamSummaries"):
        name = summary["StreamName"]
        yield name, tag_dict(k.list_tags_for_stream(StreamName=name).get("Tags"))


a.deleter(
    "kinesis-stream",
    created_by=[
        ("kinesis", op)
        for op in (
            "CreateStream",
            "UpdateShardCount",
            "SplitShard",
            "UpdateStreamMode",
            "IncreaseStreamRetentionPeriod",
        )
    ],
    delete=lambda s, r, n: quietly(
        lambda: _kinesis(s, r).delete_stream(
            StreamName=n.split("#")[0], EnforceConsumerDeletion=True
        )
    ),
    find=_find_streams,
    order=70,
)


def _delete_consumer(session: Any, region: str, name: str) -> str | None:
    if not name.startswith("arn:"):
        return None
    return quietly(
        lambda: _kinesis(session, region).deregister_stream_consumer(ConsumerARN=name),
        "deregistered",
    )


def _find_consumers(session: Any, region: str) -> Any:
    k = _kinesis(session, region)
    for summary in paginate(k, "list_streams", "StreamSummaries"):
        tags = tag_dict(k.list_tags_for_stream(StreamName=summary["StreamName"]).get("Tags"))
        for c in paginate(k, "list_stream_consumers", "Consumers", StreamARN=summary["StreamARN"]):
            yield c["ConsumerARN"], tags


a.deleter(
    "kinesis-stream-consumer",
    created_by=[("kinesis", "RegisterStreamConsumer")],
    delete=_delete_consumer,
    find=_find_consumers,
    order=60,
)


def _find_delivery_streams(session: Any, region: str) -> Any:
    f = session.client("firehose", region_name=region)
    start: str | None = None
    while True:
        page = f.list_delivery_streams(
            **({"ExclusiveStartDeliveryStreamName": start} if start else {})
        )
        names = page.get("DeliveryStreamNames") or []
        for name in names:
            tags = f.list_tags_for_delivery_stream(DeliveryStreamName=name).get("Tags")
            yield name, tag_dict(tags)
        if not page.get("HasMoreDeliveryStreams") or not names:
            return
        start = names[-1]


a.deleter(
    "firehose-delivery-stream",
    created_by=[("firehose", "CreateDeliveryStream")],
    delete=lambda s, r, n: quietly(
        lambda: s.client("firehose", region_name=r).delete_delivery_stream(DeliveryStreamName=n)
    ),
    find=_find_delivery_streams,
    order=65,
)


def _stop_crawler(session: Any, region: str, name: str) -> str | None:
    glue = session.client("glue", region_name=region)
    try:
        state = glue.get_crawler(Name=name)["Crawler"].get("State")
    except Exception:  # noqa: BLE001 - gone
        return None
    if state == "RUNNING":
        return quietly(lambda: glue.stop_crawler(Name=name), "stopped")
    return None


def _find_crawlers(session: Any, region: str) -> Any:
    glue = session.client("glue", region_name=region)
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    for c in paginate(glue, "get_crawlers", "Crawlers"):
        arn = f"arn:aws:glue:{region}:{account}:crawler/{c['Name']}"
        yield c["Name"], tag_dict(glue.get_tags(ResourceArn=arn).get("Tags"))


a.deleter(
    "glue-crawler",
    created_by=[("glue", "StartCrawler"), ("glue", "CreateCrawler"), ("glue", "UpdateCrawler")],
    delete=_stop_crawler,
    find=_find_crawlers,
    order=80,
)


def _stop_job_run(session: Any, region: str, name: str) -> str | None:
    """``name`` is ``<job>`` or ``<job>#<run id>``: stop the run(s) still running."""
    glue = session.client("glue", region_name=region)
    job, _, run_id = name.partition("#")
    try:
        runs = glue.get_job_runs(JobName=job).get("JobRuns") or []
    except Exception:  # noqa: BLE001 - the job is gone
        return None
    running = [
        r["Id"]
        for r in runs
        if r.get("JobRunState") in {"STARTING", "RUNNING", "WAITING"}
        and (not run_id or r["Id"] == run_id)
    ]
    if running:
        return quietly(lambda: glue.batch_stop_job_run(JobName=job, JobRunIds=running), "stopped")
    return None


a.deleter(
    "glue-job-run",
    created_by=[("glue", "StartJobRun")],
    delete=_stop_job_run,
    order=80,
)


def _delete_key(session: Any, region: str, key_id: str) -> str | None:
    if not key_id or key_id == "kms-key":
        return None
    kms = session.client("kms", region_name=region)
    try:
        if kms.describe_key(KeyId=key_id)["KeyMetadata"].get("KeyState") == "PendingDeletion":
            return None
    except Exception:  # noqa: BLE001 - gone
        return None
    return quietly(
        lambda: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7),
        "scheduled for deletion",
    )


a.deleter("kms-key", created_by=[("kms", "CreateKey")], delete=_delete_key, order=90)
a.deleter(
    "cloudwatch-alarm",
    created_by=[("cloudwatch", "PutMetricAlarm")],
    delete=lambda s, r, n: quietly(
        lambda: s.client("cloudwatch", region_name=r).delete_alarms(AlarmNames=[n])
    ),
    order=85,
)
a.deleter(
    "ec2-vpc-endpoint",
    created_by=[("ec2", "CreateVpcEndpoint")],
    delete=lambda s, r, n: (
        quietly(lambda: s.client("ec2", region_name=r).delete_vpc_endpoints(VpcEndpointIds=[n]))
        if n.startswith("vpce-")
        else None
    ),
    order=85,
)


def _delete_internet_gateway(session: Any, region: str, name: str) -> str | None:
    """Detach an internet gateway from its VPCs, then delete it (gone already is fine)."""
    if not name.startswith("igw-"):
        return None
    ec2 = session.client("ec2", region_name=region)
    try:
        found = ec2.describe_internet_gateways(InternetGatewayIds=[name])["InternetGateways"]
    except Exception as err:  # noqa: BLE001 - re-raised unless it is gone
        if gone(err) or "InvalidInternetGatewayID" in str(err):
            return None
        raise
    for igw in found:
        for att in igw.get("Attachments") or []:
            quietly(
                partial(ec2.detach_internet_gateway, InternetGatewayId=name, VpcId=att["VpcId"])
            )
    return quietly(lambda: ec2.delete_internet_gateway(InternetGatewayId=name))


a.deleter(
    "ec2-internet-gateway",
    created_by=[("ec2", "CreateInternetGateway")],
    delete=_delete_internet_gateway,
    order=85,
)


def _deregister_target(session: Any, region: str, resource_id: str) -> str | None:
    aas = session.client("application-autoscaling", region_name=region)
    return quietly(
        lambda: aas.deregister_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        ),
        "deregistered",
    )


a.deleter(
    "scalable-target",
    created_by=[
        ("application-auto-scaling", "RegisterScalableTarget"),
        ("application-auto-scaling", "PutScheduledAction"),
    ],
    delete=_deregister_target,
    order=12,  # before the endpoint: a target keeps scaling what it points at
)
