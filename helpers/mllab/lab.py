"""The lab session: where AWS calls go, and the cost guard in front of them.

Introduced in lab 00 and opened by every lab's first code cell::

    from mllab import Lab
    lab = Lab("03-modeling")

Offline (the default) the lab starts moto in-process and the offline data plane;
on ``MLLAB_BACKEND=aws`` it uses a real sandbox account after checking the account
allow-list. Either way every billable request passes the cost guard.
"""

from __future__ import annotations

import atexit
import json
import math
import secrets
import time
import weakref
from functools import cached_property
from typing import Any

import boto3

from mllab import config, hooks
from mllab.backends import aws as aws_backend
from mllab.backends import offline as offline_backend
from mllab.guard.core import Guard
from mllab.guard.estimate import DEFAULT_ALLOWED_TYPES, Policy
from mllab.guard.ledger import Ledger
from mllab.guard.pricing import instance

ROLE_NAME = "MLLabSageMakerExecutionRole"

_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _role_policy(bucket: str) -> dict[str, Any]:
    """Least-privilege policy of the lab's execution role.

    The lab bucket's objects, SageMaker log groups, and the account-wide actions AWS documents
    for execution roles (metrics, ECR image pulls, VPC network interfaces), which take no
    resource scoping.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LabBucketObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Sid": "LabBucketList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*",
            },
            {
                "Sid": "MetricsAndImagePulls",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:PutMetricData",
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                "Resource": "*",
            },
            {
                "Sid": "VpcNetworkInterfaces",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "Resource": "*",
            },
        ],
    }


class Lab:
    """One lab session (introduced in lab 00).

    Args:
        name: the lab's name, e.g. ``"03-modeling"`` (tag ``mllab:lab``).
        backend: ``"offline"`` or ``"aws"``; default ``$MLLAB_BACKEND`` or offline.
        budget_usd: this run's budget; default ``$MLLAB_BUDGET_USD`` or 5.
        region: default ``$MLLAB_REGION`` or us-east-1.
        allow_gpu: let the guard allow accelerated instance types (still budget-capped).
        allowed_instance_types: replace the default allow-list of small CPU types.
        ttl_hours: how long endpoints, streams and transform jobs are assumed to live
            (the guard's worst case; teardown deletes them). Default 1 hour.

    Opening costs nothing. Offline it starts moto, creates the lab bucket and the
    execution role in moto, and installs the guard; on aws it checks the account
    allow-list (refusing before any network call when it is empty), asks STS for the
    account, and creates the bucket and role only if missing.
    """

    def __init__(
        self,
        name: str,
        *,
        backend: str | None = None,
        budget_usd: float | None = None,
        region: str | None = None,
        allow_gpu: bool = False,
        allowed_instance_types: set[str] | frozenset[str] | None = None,
        ttl_hours: float = 1.0,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("Lab(name): give the lab's name, e.g. Lab('03-modeling')")
        self.name = name.strip()
        self.backend = (backend or config.backend()).strip().lower()
        if self.backend not in config.BACKENDS:
            raise ValueError(
                f"backend={self.backend!r} is not a backend; use 'offline' (default) or 'aws'"
            )
        self.region = region or config.region()
        self.budget_usd = _checked_budget(config.budget_usd() if budget_usd is None else budget_usd)
        _checked_ttl(ttl_hours)
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        allowed = set(allowed_instance_types or DEFAULT_ALLOWED_TYPES)
        if allow_gpu:
            from mllab.guard.pricing import snapshot

            allowed |= {
                t for t in snapshot()["instances"] if (s := instance(t)) and s.is_accelerated
            }
        self.closed = False
        self._restore_default_session: boto3.Session | None = boto3.DEFAULT_SESSION
        self.ledger = Ledger(config.home() / "ledger.sqlite")

        if self.backend == "aws":
            allowed_accounts = config.allowed_accounts()
            aws_backend.require_allow_list(allowed_accounts)

        self.guard = Guard(
            lab=self.name,
            run=self.run_id,
            backend=self.backend,
            region=self.region,
            budget_usd=self.budget_usd,
            policy=Policy(
                allowed_types=frozenset(allowed),
                ttl_hours=float(ttl_hours),
                lookup=self._lookup,
                lookup_in=self._lookup_in,
            ),
            ledger=self.ledger,
        )
        if self.backend == "offline":
            offline_backend.start(self.region)
        hooks.push(self)
        try:
            if self.backend == "offline":
                self.session = boto3.Session(
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    aws_session_token="testing",
                    region_name=self.region,
                )
                self.account_id = offline_backend.OFFLINE_ACCOUNT_ID
            else:
                self.session = aws_backend.make_session(self.region)
                self.account_id = aws_backend.check_account(self.session, allowed_accounts)
            boto3.DEFAULT_SESSION = self.session
            self.bucket = f"mllab-{self.account_id}-{self.region}"
            self._ensure_bucket()
            self.role_arn = self._ensure_role()
        except BaseException:
            self._unwind()
            raise
        _OPEN.add(self)

    # ------------------------------------------------------------------ public API
    def client(self, service: str, **kwargs: Any) -> Any:
        """Return ``lab.session.client(service)`` (guarded; offline on moto)."""
        return self.session.client(service, **kwargs)

    def job_name(self, base: str) -> str:
        """Return ``<base>-<run id suffix>``: a SageMaker job name unique to this lab run.

        Training, processing, transform and tuning jobs can never be deleted, and their names
        must be unique in an account and region, so a lab that runs twice on AWS needs new
        names each time (lab 00). Endpoints, models and streams can reuse names after deletion.

        Args:
            base: the readable part, e.g. ``"orientation-drill"`` (at most 55 characters).

        Returns:
            The name, at most 63 characters (the shortest SageMaker job-name limit). Costs nothing.
        """
        if not base or len(base) > 55:
            raise ValueError("job_name(base): give 1 to 55 characters, e.g. 'fraud-xgb'")
        return f"{base}-{self.run_id.rsplit('-', 1)[-1]}"

    @cached_property
    def sm_session(self) -> Any:
        """The SageMaker SDK v3 session on ``lab.session`` (imported on first use, ~seconds)."""
        from mllab.offline.sdk_quirks import make_sm_session

        return make_sm_session(self)

    def teardown(self) -> list[dict[str, str]]:
        """Delete what this lab run created that costs money, and record actual use.

        Deletes endpoints, endpoint configs, models and monitoring schedules; stops running
        training, tuning, processing and transform jobs; deletes Kinesis streams, stream
        consumers and Firehose delivery streams; stops crawlers. Keeps the bucket and its
        data (S3 storage of lab data costs cents a month) and the execution role.

        Returns:
            One ``{"kind", "name", "action"}`` per resource acted on.
        """
        from mllab.teardown import teardown_run

        return teardown_run(self)

    def close(self) -> list[dict[str, str]]:
        """Tear down every kind the guard admits (alarms, scalable targets, VPC endpoints and
        KMS keys too), then restore boto3's default session (offline: stop moto).

        Returns:
            What teardown deleted. Safe to call twice.
        """
        if self.closed:
            return []
        try:
            from mllab.teardown import teardown_run

            deleted = teardown_run(self, complete=True)  # every kind the guard can admit
        finally:
            self._unwind()
        return deleted

    def cost(self) -> dict[str, float]:
        """Return this run's budget, dollars charged so far (estimates until actuals) and remaining."""
        spent = self.guard.spent()
        return {
            "budget_usd": self.budget_usd,
            "spent_usd": spent,
            "remaining_usd": self.budget_usd - spent,
        }

    def diagram(self) -> Any:
        """Draw what this lab built, from the live inventory (Mermaid in JupyterLab)."""
        from mllab.diagram import diagram

        return diagram(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"Lab({self.name!r}, backend={self.backend!r}, region={self.region!r}, "
            f"budget_usd={self.budget_usd}, {state})"
        )

    # ------------------------------------------------------------------ internals
    def _unwind(self) -> None:
        if self.closed:
            return
        self.closed = True
        _OPEN.discard(self)
        hooks.pop(self)
        if boto3.DEFAULT_SESSION is getattr(self, "session", None):
            boto3.DEFAULT_SESSION = self._restore_default_session
        if self.backend == "offline":
            offline_backend.stop()

    def _ensure_bucket(self) -> None:
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=self.bucket)
            return
        except Exception:  # noqa: BLE001 - missing bucket (404) or no access (403)
            pass
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_tagging(
            Bucket=self.bucket,
            Tagging={"TagSet": [{"Key": "mllab:bucket", "Value": "true"}]},
        )

    def _ensure_role(self) -> str:
        import os

        if self.backend == "aws" and os.environ.get("MLLAB_ROLE_ARN"):
            return os.environ["MLLAB_ROLE_ARN"]
        iam = self.client("iam")
        try:
            return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            pass
        arn = str(
            iam.create_role(
                RoleName=ROLE_NAME,
                AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY),
                Description="Execution role for aws-ml-labs jobs: the lab bucket and logs only.",
                Tags=[{"Key": "mllab:role", "Value": "true"}],
            )["Role"]["Arn"]
        )
        iam.put_role_policy(
            RoleName=ROLE_NAME,
            PolicyName="mllab-lab-bucket",
            PolicyDocument=json.dumps(_role_policy(self.bucket)),
        )
        return arn

    def _lookup_in(self, region: str) -> Any:
        """The guard's lookup in another region (a request is priced where its client sends)."""
        return lambda kind, name: self._lookup(kind, name, region=region)

    def _lookup(self, kind: str, name: str, region: str | None = None) -> dict[str, Any] | None:
        """Describe another resource for the guard's estimates (None when missing).

        Args:
            kind: what to describe (see :class:`mllab.guard.estimate.Policy`).
            name: its name or ARN.
            region: the region of the client whose request is priced (default the lab's).
        """
        if region is not None and region != self.region:
            client = lambda service: self.session.client(service, region_name=region)  # noqa: E731
        else:
            client = self.client
        try:
            if kind == "endpoint":
                return dict(client("sagemaker").describe_endpoint(EndpointName=name))
            if kind == "training_job":
                return dict(client("sagemaker").describe_training_job(TrainingJobName=name))
            if kind == "s3_object":
                bucket, _, key = name.partition("/")
                return dict(client("s3").head_object(Bucket=bucket, Key=key))
            if kind == "endpoint_config":
                return dict(client("sagemaker").describe_endpoint_config(EndpointConfigName=name))
            if kind == "glue_job":
                return dict(client("glue").get_job(JobName=name)["Job"])
            if kind == "stream":
                key = "StreamARN" if name.startswith("arn:") else "StreamName"
                return dict(
                    client("kinesis").describe_stream_summary(**{key: name})[
                        "StreamDescriptionSummary"
                    ]
                )
            if kind == "pipeline":
                return dict(client("sagemaker").describe_pipeline(PipelineName=name))
            if kind == "agent_runtime":  # "<runtime ARN>|<qualifier>": the version it serves
                arn, _, qualifier = name.partition("|")
                rid = arn.rsplit("runtime/", 1)[-1].split("/", 1)[0]
                ctl = client("bedrock-agentcore-control")
                ep = ctl.get_agent_runtime_endpoint(
                    agentRuntimeId=rid, endpointName=qualifier or "DEFAULT"
                )
                return dict(
                    ctl.get_agent_runtime(
                        agentRuntimeId=rid, agentRuntimeVersion=str(ep["liveVersion"])
                    )
                )
            if kind == "workgroup":
                return dict(client("athena").get_work_group(WorkGroup=name)["WorkGroup"])
            if kind == "monitoring_job_definition":
                sm = client("sagemaker")
                for op, key in (
                    ("describe_data_quality_job_definition", "DataQualityJobDefinition"),
                    ("describe_model_quality_job_definition", "ModelQualityJobDefinition"),
                ):
                    try:
                        found = getattr(sm, op)(JobDefinitionName=name)
                        return {
                            "MonitoringResources": found.get("JobResources"),
                            "StoppingCondition": found.get("StoppingCondition"),
                            key: True,
                        }
                    except Exception:  # noqa: BLE001 - try the next kind
                        continue
        except Exception:  # noqa: BLE001 - missing resource: the estimator says so
            return None
        return None


def _checked_budget(value: Any) -> float:
    """A lab budget: a finite, positive number of dollars (``MLLAB_BUDGET_USD=nan`` refused)."""
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"budget_usd={value!r}: give a number of dollars, e.g. 5") from None
    if isinstance(value, bool) or not math.isfinite(budget) or budget <= 0:
        raise ValueError(
            f"budget_usd={value!r}: the budget must be a finite, positive number of dollars "
            "(set MLLAB_BUDGET_USD or Lab(..., budget_usd=5))"
        )
    return budget


def _checked_ttl(value: Any) -> None:
    """``ttl_hours``: finite, more than 0 and at most 168 (the guard's assumed lifetime)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
        or value > 168
    ):
        raise ValueError(
            f"ttl_hours={value!r}: give a finite number of hours, more than 0 and at most 168"
        )


_OPEN: weakref.WeakSet[Lab] = weakref.WeakSet()


@atexit.register
def _close_open_labs() -> None:
    """At interpreter exit (and kernel shutdown), tear down every lab still open."""
    for lab in list(_OPEN):
        try:
            lab.close()
        except Exception:  # noqa: BLE001 - exit must go on
            pass
