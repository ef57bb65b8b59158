"""botocore event wiring shared by the cost guard and the offline data plane.

While a lab is open, three handlers are added to botocore's built-in handlers, so every
session created from then on (the lab's, boto3's default, one the SageMaker SDK makes)
carries them:

* ``before-parameter-build``: the guard checks (and may refuse) and tags the request;
  the parameters are stashed in the request context.
* ``before-call``: offline, a registered handler may answer instead of moto.
* ``after-call``: the guard records the accepted request; offline, a registered
  ``after`` handler may do the real work.

The handlers act for the innermost open lab (:func:`active`), and do nothing when none is.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

from botocore.handlers import BUILTIN_HANDLERS

from mllab.offline.registry import AwsError, OfflineCall, lookup

if TYPE_CHECKING:  # pragma: no cover
    from mllab.lab import Lab

_STACK: list[Lab] = []
_service_made = threading.local()


class on_behalf_of_a_service:  # noqa: N801 - used as a context manager, reads like a phrase
    """Calls made inside are what an AWS service would make itself (e.g. a pipeline's steps).

    On AWS the guard never sees them: SageMaker Pipelines starts its steps' jobs. Offline the
    executor makes them through the lab session, so inside this block the guard still checks
    them but writes no ledger row: their cost was estimated at StartPipelineExecution.
    """

    def __enter__(self) -> None:
        self._before = getattr(_service_made, "on", False)
        _service_made.on = True

    def __exit__(self, *exc: Any) -> None:
        _service_made.on = self._before


_LOCK = threading.RLock()
_local = threading.local()


def active() -> Lab | None:
    """Return the innermost open lab, or None."""
    return _STACK[-1] if _STACK else None


def push(lab: Lab) -> None:
    """Make ``lab`` the active lab and make sure the handlers are installed."""
    with _LOCK:
        _STACK.append(lab)
        for spec in _SPECS:
            if spec not in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.append(spec)


def pop(lab: Lab) -> None:
    """Remove ``lab`` from the active labs; uninstall the handlers after the last one."""
    with _LOCK:
        if lab in _STACK:
            _STACK.remove(lab)
        if not _STACK:
            for spec in _SPECS:
                while spec in BUILTIN_HANDLERS:
                    BUILTIN_HANDLERS.remove(spec)


class _FakeHttp:
    """The minimal HTTP response botocore needs from a short-circuited call."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.raw = None


def _safe_copy(params: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the request, keeping file objects (e.g. a PutObject ``Body``) as they are."""
    try:
        return copy.deepcopy(params)
    except (TypeError, copy.Error):
        return {k: v if hasattr(v, "read") else copy.deepcopy(v) for k, v in params.items()}


def _service(model: Any) -> str:
    return model.service_model.service_id.hyphenize()


def _before_parameter_build(
    params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    lab = active()
    if lab is None or context is None:
        return
    service, op = _service(model), model.name
    est = lab.guard.check(
        service, op, params, model, for_service=getattr(_service_made, "on", False)
    )
    context["mllab"] = {"service": service, "operation": op, "params": params, "estimate": est}


def _access_key(request_signer: Any) -> str | None:
    creds = getattr(request_signer, "_credentials", None)
    key = getattr(creds, "access_key", None) if creds is not None else None
    return str(key) if key else None


def _before_call(model: Any, context: dict[str, Any], request_signer: Any = None, **_: Any) -> Any:
    lab = active()
    if lab is None or lab.backend != "offline" or not context or "mllab" not in context:
        return None
    info = context["mllab"]
    info["access_key"] = _access_key(request_signer)
    handler = lookup(info["service"], info["operation"], "before")
    if handler is None:
        return None
    call = OfflineCall(
        service=info["service"],
        operation=info["operation"],
        params=_safe_copy(info["params"]),
        region=context.get("client_region") or lab.region,
        account_id=lab.account_id,
        session=lab.session,
        context=context,
        access_key=info["access_key"],
    )
    try:
        answer = handler(call)
    except AwsError as err:
        return _FakeHttp(err.status), {
            "Error": {"Code": err.code, "Message": err.message},
            "ResponseMetadata": {"HTTPStatusCode": err.status, "RequestId": "mllab-offline"},
        }
    if answer is None:
        return None
    answer.setdefault("ResponseMetadata", {"HTTPStatusCode": 200, "RequestId": "mllab-offline"})
    return _FakeHttp(200), answer


def _after_call(
    http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    lab = active()
    if lab is None or not context or "mllab" not in context:
        return
    if getattr(http_response, "status_code", 500) >= 300:
        return
    info = context["mllab"]
    if lab.backend == "offline":
        handler = lookup(info["service"], info["operation"], "after")
        if handler is not None:
            call = OfflineCall(
                service=info["service"],
                operation=info["operation"],
                params=info["params"],
                region=context.get("client_region") or lab.region,
                account_id=lab.account_id,
                session=lab.session,
                response=parsed,
                context=context,
                access_key=info.get("access_key"),
            )
            try:
                handler(call)
            except AwsError as err:
                parsed.clear()
                parsed.update(
                    {
                        "Error": {"Code": err.code, "Message": err.message},
                        "ResponseMetadata": {"HTTPStatusCode": err.status},
                    }
                )
                http_response.status_code = err.status
                return
    estimate = None if getattr(_service_made, "on", False) else info["estimate"]
    lab.guard.record(info["service"], info["operation"], info["params"], parsed, estimate)


_SPECS = [
    ("before-parameter-build", _before_parameter_build),
    ("before-call", _before_call),
    ("after-call", _after_call),
]
