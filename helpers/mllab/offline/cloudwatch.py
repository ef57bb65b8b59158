"""Offline CloudWatch: what moto accepts and AWS refuses (introduced in lab 04).

``PutMetricData`` into a namespace that starts with ``AWS/`` is refused as AWS refuses it:
those namespaces are reserved for AWS services, so a learner cannot fake an endpoint's
``AWS/SageMaker`` ``Invocations`` (or any service metric) by publishing it by hand. AWS's
answer is ``InvalidParameterValue`` (HTTP 400) "The value AWS/SageMaker for parameter
Namespace is invalid."; moto stores such data without complaint. The offline services that
publish ``AWS/...`` metrics (SageMaker hosting, Kinesis, Bedrock) write to moto's backend
directly, as AWS's own services do, and are not affected. Costs nothing.
"""

from __future__ import annotations

from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles

RESERVED_PREFIX = "AWS/"


@handles("cloudwatch", "PutMetricData")
def _reserved_namespace(call: OfflineCall) -> dict[str, Any] | None:
    """Refuse ``PutMetricData`` into a reserved ``AWS/`` namespace; let moto store the rest."""
    namespace = str(call.params.get("Namespace", ""))
    if namespace.startswith(RESERVED_PREFIX):
        raise AwsError(
            "InvalidParameterValue",
            f"The value {namespace} for parameter Namespace is invalid.",
            400,
        )
    return None
