"""The guard's admission table: every (service, operation) a lab may call, declared once.

Introduced in lab 00 (the cost guard). The guard is default-deny: an operation is sent only
when it is declared here as one of

* **read**: describe / list / get, and what waiters and paginators call;
* **free write**: a write that starts nothing billable (listed one by one);
* **billable**: priced by an estimator *and* paired with a deleter kind, so whatever the guard
  admits, teardown and ``mllab sweep`` can delete. Operations that consume (a Converse call,
  an Athena query) and leave nothing running declare ``deleter=NOTHING_PERSISTS``.

Declarations live in one module per service family under :mod:`mllab.guard.declarations`
(``sagemaker.py``, ``bedrock.py``, ...), which :func:`load_all` imports. A module declares with
:func:`read`, :func:`free` and :func:`billable`, and registers how to find and delete a resource
kind with :func:`deleter`.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import boto3

    from mllab.guard.estimate import Estimator

Kind = Literal["read", "free", "billable", "refused"]

#: The deleter of a billable operation that leaves nothing running (per-token, per-query).
NOTHING_PERSISTS = "nothing-persists"


@dataclass(frozen=True)
class Declaration:
    """How the guard admits one operation.

    Attributes:
        service: botocore's hyphenated service id, e.g. ``"bedrock-runtime"``.
        operation: the operation name, e.g. ``"Converse"``.
        kind: ``read``, ``free``, ``billable`` or ``refused`` (an explicit refusal with a
            reason; anything undeclared is refused too, with a generic one).
        deleter: for billable operations, the resource kind that deletes what it starts
            (a key of :data:`DELETERS`) or :data:`NOTHING_PERSISTS`.
        note: why it is classified so (shown when the guard explains itself).
    """

    service: str
    operation: str
    kind: Kind
    deleter: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Deleter:
    """How teardown and sweep find and delete one kind of resource.

    Attributes:
        kind: a short name, e.g. ``"bedrock-guardrail"``, ``"s3vectors-index"``.
        created_by: the (service, operation) pairs whose requests create this kind.
        delete: ``delete(session, region, name)`` deletes (or stops) one resource and returns
            the action taken ("deleted", "stopped"...) or None when nothing was needed (idempotent: a
            resource already gone is not an error).
        find: ``find(session, region)`` yields ``(name, tags)`` of every resource of this kind
            in the account and region (tags as a dict), for ``mllab sweep``; None when the
            kind is only found from what a run recorded.
        order: lower deletes first (an endpoint before its config, an index before its bucket).
    """

    kind: str
    created_by: tuple[tuple[str, str], ...]
    delete: Callable[[boto3.Session, str, str], str | None]
    find: Callable[[boto3.Session, str], Iterable[tuple[str, dict[str, str]]]] | None = None
    order: int = 50


_LOCK = threading.RLock()
DECLARED: dict[tuple[str, str], Declaration] = {}
DELETERS: dict[str, Deleter] = {}
_loaded = False


def _declare(service: str, operations: Iterable[str], kind: Kind, **kw: Any) -> None:
    """Record declarations. A family module's admission (read / free / billable) wins over a
    generic refusal whichever module is imported first; a refusal never replaces one."""
    from mllab.guard.estimate import REFUSED

    with _LOCK:
        for op in operations:
            existing = DECLARED.get((service, op))
            if kind == "refused" and existing is not None and existing.kind != "refused":
                continue
            if kind != "refused":
                REFUSED.pop((service, op), None)
            DECLARED[(service, op)] = Declaration(service, op, kind, **kw)


def read(service: str, *operations: str, note: str = "") -> None:
    """Declare read-only operations (describe, list, get; what waiters and paginators call)."""
    _declare(service, operations, "read", note=note)


def free(service: str, *operations: str, note: str = "") -> None:
    """Declare writes that start nothing billable (each listed by name)."""
    _declare(service, operations, "free", note=note)


def refuse(service: str, *operations: str, note: str) -> None:
    """Declare operations the guard always refuses, with the reason shown to the learner.

    Undeclared operations are refused anyway (default-deny); an explicit refusal says why
    (e.g. "Studio domains create always-on storage and apps") instead of the generic message.
    """
    from mllab.guard.estimate import ESTIMATORS, REFUSED

    with _LOCK:
        for op in operations:
            existing = DECLARED.get((service, op))
            if existing is not None and existing.kind != "refused":
                continue  # a family module admits it (with an estimator and a deleter)
            REFUSED[(service, op)] = note
            ESTIMATORS.pop((service, op), None)
        _declare(service, operations, "refused", note=note)


def billable(
    service: str,
    *operations: str,
    estimator: Estimator,
    deleter: str,
    note: str = "",
) -> None:
    """Declare billable operations with their estimator and the deleter of what they start.

    Args:
        service: botocore's hyphenated service id.
        *operations: operation names priced by ``estimator``.
        estimator: ``estimator(params, policy) -> Estimate | None``; raises
            :class:`mllab.guard.estimate.Refusal` to refuse.
        deleter: a :class:`Deleter` kind registered with :func:`deleter`, or
            :data:`NOTHING_PERSISTS` for per-use charges that leave nothing running.
        note: why it bills.
    """
    from mllab.guard.estimate import ESTIMATORS

    with _LOCK:
        for op in operations:
            ESTIMATORS[(service, op)] = estimator
    _declare(service, operations, "billable", deleter=deleter, note=note)


def deleter(
    kind: str,
    created_by: Iterable[tuple[str, str]],
    delete: Callable[[boto3.Session, str, str], str | None],
    find: Callable[[boto3.Session, str], Iterable[tuple[str, dict[str, str]]]] | None = None,
    order: int = 50,
) -> None:
    """Register how to find and delete one resource kind (see :class:`Deleter`)."""
    with _LOCK:
        DELETERS[kind] = Deleter(kind, tuple(created_by), delete, find, order)


def classify(service: str, operation: str) -> Declaration | None:
    """Return the declaration of an operation, or None when it is not declared."""
    load_all()
    return DECLARED.get((service, operation))


#: Which declarations module a service's operations belong in (the refusal names it).
_FAMILY = {
    "sagemaker": "sagemaker",
    "sagemaker-runtime": "sagemaker",
    "sagemaker-metrics": "sagemaker",
    "sagemaker-featurestore-runtime": "sagemaker",
    "sagemaker-a2i-runtime": "sagemaker",
    "bedrock-runtime": "bedrock_runtime",
    "bedrock": "bedrock_guardrails",
    "bedrock-agent": "bedrock_kb",
    "bedrock-agent-runtime": "bedrock_kb",
    "s3vectors": "vectors",
    "opensearchserverless": "vectors",
    "bedrock-agentcore": "agentcore",
    "bedrock-agentcore-control": "agentcore",
    "lambda": "lambda_",
}
_DATA = {
    "kinesis", "firehose", "glue", "athena", "s3", "lakeformation", "iam", "sts", "kms",
    "cloudwatch-logs", "cloudwatch", "eventbridge", "sns", "sqs", "ec2",
    "application-auto-scaling", "resource-groups-tagging-api", "ecr", "budgets",
}  # fmt: skip


def family_of(service: str) -> str:
    """Return the declarations module (file name without ``.py``) a service belongs in."""
    if service in _FAMILY:
        return _FAMILY[service]
    if service in _DATA:
        return "data"
    return "refused"


def where_to_declare(service: str) -> str:
    """The path of the declarations module a service's operations are declared in."""
    return f"helpers/mllab/guard/declarations/{family_of(service)}.py"


def enforcing() -> bool:
    """True when undeclared operations are refused (the default).

    ``MLLAB_GUARD_ENFORCE=0`` turns default-deny off for a maintainer who records what a
    notebook calls (with ``MLLAB_GUARD_RECORD``) in order to declare it; the guard still
    prices and refuses what it knows.
    """
    import os

    return os.environ.get("MLLAB_GUARD_ENFORCE", "1").strip() not in {"0", "false", "no"}


def load_all() -> None:
    """Import every module under :mod:`mllab.guard.declarations` (once)."""
    global _loaded
    if _loaded:
        return
    with _LOCK:
        if _loaded:
            return
        import mllab.guard.declarations as pkg

        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
        _loaded = True


@dataclass
class _Report:
    """What :func:`coverage` found: declared and undeclared operations of some services."""

    declared: dict[str, list[str]] = field(default_factory=dict)
    undeclared: dict[str, list[str]] = field(default_factory=dict)


def coverage(services: Iterable[str]) -> _Report:
    """Compare the declarations with botocore's service models.

    Args:
        services: botocore service names (``boto3.Session().get_available_services()`` names).

    Returns:
        For each service, the declared and the undeclared operation names.
    """
    import botocore.session

    load_all()
    bc = botocore.session.get_session()
    report = _Report()
    for name in services:
        model = bc.get_service_model(name)
        sid = model.service_id.hyphenize()
        for op in model.operation_names:
            bucket = report.declared if (sid, op) in DECLARED else report.undeclared
            bucket.setdefault(sid, []).append(op)
    return report
