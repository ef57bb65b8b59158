"""CloudWatch Logs and metrics of offline SageMaker jobs (introduced in lab 03).

Jobs write their log lines where AWS does: group ``/aws/sagemaker/TrainingJobs`` (or
``ProcessingJobs``, ``TransformJobs``), stream ``<job>/algo-1-<epoch>``; training metrics go
to namespace ``/aws/sagemaker/TrainingJobs`` with dimension ``Host=<job>/algo-1``. Both are
written straight into moto's backends (thread-safe here), so a background job never sends
a request through the cost guard and never outlives moto by accident.
"""

from __future__ import annotations

import threading
import time
from typing import Any

TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_GROUP = "/aws/sagemaker/ProcessingJobs"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"

_LOCK = threading.RLock()


class LogStream:
    """One CloudWatch Logs stream a job writes to (buffered; flush often, it is cheap).

    Args:
        account_id: the offline account.
        region: the job's region.
        group: the log group (created if missing).
        stream: the stream name, e.g. ``<job>/algo-1-1700000000``.
    """

    def __init__(self, account_id: str, region: str, group: str, stream: str) -> None:
        self.account_id = account_id
        self.region = region
        self.group = group
        self.stream = stream
        self.lines: list[str] = []
        self._pending: list[dict[str, Any]] = []
        self._ok = True
        try:
            from moto.logs.models import logs_backends

            be = logs_backends[account_id][region]
            with _LOCK:
                if group not in be.groups:
                    be.create_log_group(group, {})
                if stream not in be.groups[group].streams:
                    be.create_log_stream(group, stream)
        except Exception:  # noqa: BLE001 - logging must never fail a job
            self._ok = False

    def write(self, line: str) -> None:
        """Add one line (kept in memory too, for FailureReason tails)."""
        line = line.rstrip("\n")
        self.lines.append(line)
        self._pending.append({"timestamp": int(time.time() * 1000), "message": line})
        if len(self._pending) >= 50:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines to moto's CloudWatch Logs."""
        if not self._pending:
            return
        events, self._pending = self._pending, []
        if not self._ok:
            return
        try:
            from moto.logs.models import logs_backends

            with _LOCK:
                logs_backends[self.account_id][self.region].put_log_events(
                    self.group, self.stream, events
                )
        except Exception:  # noqa: BLE001 - moto stopped (lab closed): drop the lines
            self._ok = False

    def tail(self, n: int = 10) -> list[str]:
        """The last ``n`` lines written."""
        return self.lines[-n:]


def put_metrics(
    account_id: str, region: str, namespace: str, host: str, values: dict[str, float]
) -> None:
    """Publish metric values (one data point each) with dimension ``Host=<host>``.

    Costs nothing offline; on AWS SageMaker publishes these itself.
    """
    if not values:
        return
    try:
        import datetime as dt

        from moto.cloudwatch.models import cloudwatch_backends

        # moto's CloudWatch compares stored timestamps with naive UTC ones
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        data = [
            {
                "MetricName": name,
                "Value": float(value),
                "Timestamp": now,
                "Dimensions": [{"Name": "Host", "Value": host}],
            }
            for name, value in values.items()
        ]
        with _LOCK:
            cloudwatch_backends[account_id][region].put_metric_data(namespace, data)
    except Exception:  # noqa: BLE001 - metrics must never fail a job
        pass
