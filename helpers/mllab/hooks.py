"""botocore event wiring shared by the cost guard and the offline data plane.

Every client is bound while a lab is open, whoever made it and whenever: ``import mllab``
wraps ``botocore.client.BaseClient._make_api_call`` (below every client's own event system),
and the wrapper, inert while no lab is open, registers these handlers on the client's
events at its first call during a lab (clients made before the lab, before ``import mllab``,
or cached by the SageMaker SDK included):

* ``before-parameter-build``: the guard checks (and may refuse) and tags the request;
  the parameters are stashed in the request context.
* ``before-call``: offline, a registered handler may answer instead of moto.
* ``after-call``: the guard records the accepted request; offline, a registered
  ``after`` handler may do the real work.

Offline, a bound client signs with the fake credentials while the lab is open. A client of
the lab's own session raises :class:`~mllab.guard.errors.CostGuardError` once that lab is
closed instead of sending. A request that fails or raises drops its budget reservation.
Offline, ``botocore.endpoint.Endpoint._send`` (reached only when nothing answered a request)
is wrapped too: a client made before moto was imported is handed to moto's stubber there,
and anything else is refused, so no request reaches the network. The handlers act for the
innermost open lab (:func:`active`).
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import TYPE_CHECKING, Any

from botocore.client import BaseClient
from botocore.credentials import Credentials
from botocore.endpoint import Endpoint

from mllab.guard.errors import CostGuardError
from mllab.offline.registry import AwsError, OfflineCall, lookup

if TYPE_CHECKING:  # pragma: no cover
    from mllab.lab import Lab

_STACK: list[Lab] = []
_service_made = threading.local()


class on_behalf_of_a_service:  # noqa: N801 - used as a context manager, reads like a phrase
    """Calls made inside are what an AWS service would make itself (e.g. a pipeline's steps).

    On AWS the guard never sees them: SageMaker Pipelines starts its steps' jobs. Offline the
    executor makes them through the lab session, so inside this block the guard still checks
    them (allow-list, bounds) and writes no ledger row: their cost was reserved at
    StartPipelineExecution. They draw on what the lab's executions were priced at
    (``Guard.service_allowance``), so notebook code entering this block cannot spend more
    than what was already reserved.
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
    """Make ``lab`` the active lab (nested in the labs already open)."""
    with _LOCK:
        for outer in _STACK:
            outer.guard.child_runs.add(lab.run_id)
        lab.guard.parents = [outer.guard for outer in _STACK]
        _STACK.append(lab)
    install()


def pop(lab: Lab) -> None:
    """Remove ``lab`` from the active labs."""
    with _LOCK:
        if lab in _STACK:
            _STACK.remove(lab)
        if not any(open_lab.backend == "offline" for open_lab in _STACK):
            for client in list(_SWAPPED):
                _unbind_credentials(client)
            _SWAPPED.clear()


# --------------------------------------------------------------------------- client binding

_ORIGINAL_MAKE_API_CALL = BaseClient._make_api_call
_ORIGINAL_SEND = Endpoint._send
_FAKE = Credentials("testing", "testing", "testing")
_calls = threading.local()
_SWAPPED: weakref.WeakSet[Any] = weakref.WeakSet()


def _frames() -> list[dict[str, Any]]:
    stack = getattr(_calls, "stack", None)
    if stack is None:
        stack = _calls.stack = []
    return stack


def _owner(client: Any, lab: Lab | None) -> None:
    """Note the lab whose session made ``client`` (its credentials are the session's)."""
    if lab is None or getattr(client, "_mllab_owner", None) is not None:
        return
    creds = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    try:
        mine = creds is not None and creds is lab.session.get_credentials()
    except AttributeError:  # the lab is still opening: its session does not exist yet
        mine = False
    if mine:
        client._mllab_owner = weakref.ref(lab)


def _bind(client: Any, lab: Lab) -> None:
    """Register the handlers on one client (once) and, offline, give it the fake credentials."""
    events = client.meta.events
    if not getattr(client, "_mllab_hooked", False):
        for event, handler in _SPECS:
            events.register(event, handler, unique_id=f"mllab-{event}")
        client._mllab_hooked = True
    signer = getattr(client, "_request_signer", None)
    born = getattr(client, "_mllab_born_in", None)
    if lab.backend == "offline" and signer is not None and born is None:
        # made before the lab opened (or before import mllab): its credentials may be real
        if not hasattr(client, "_mllab_real_credentials"):
            client._mllab_real_credentials = signer._credentials
        signer._credentials = _FAKE
        _SWAPPED.add(client)


def _unbind_credentials(client: Any) -> None:
    real = client.__dict__.pop("_mllab_real_credentials", None)
    signer = getattr(client, "_request_signer", None)
    if signer is not None and real is not None:
        signer._credentials = real


def _guarded_make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
    lab = active()
    ref = getattr(self, "_mllab_owner", None)
    owner = ref() if ref is not None else None
    if ref is not None and (owner is None or owner.closed) and lab is not owner:
        service = self.meta.service_model.service_id.hyphenize()
        raise CostGuardError(
            f"{service}:{operation_name}",
            "this client belongs to a lab that was closed, so the guard no longer watches it",
            "open a lab and make a new client from it (lab.client(...))",
        )
    if lab is None:
        if "_mllab_real_credentials" in self.__dict__:
            _unbind_credentials(self)
        return _ORIGINAL_MAKE_API_CALL(self, operation_name, api_params)
    _owner(self, lab)
    _bind(self, lab)
    frame: dict[str, Any] = {}
    frames = _frames()
    frames.append(frame)
    try:
        return _ORIGINAL_MAKE_API_CALL(self, operation_name, api_params)
    except BaseException:
        est = frame.get("estimate")
        guard = frame.get("guard")
        if est is not None and guard is not None:
            guard.release(est)
        raise
    finally:
        frames.pop()


_ORIGINAL_INIT = BaseClient.__init__


def _noting_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL_INIT(self, *args, **kwargs)
    lab = active()
    self._mllab_born_in = lab  # a client made while a lab is open keeps its credentials
    _owner(self, lab)


_installed = False


def install() -> None:
    """Wrap ``BaseClient._make_api_call`` (once; done at ``import mllab``). Inert without a lab."""
    global _installed
    with _LOCK:
        if not _installed:
            BaseClient._make_api_call = _guarded_make_api_call  # type: ignore[method-assign]
            Endpoint._send = _guarded_send  # type: ignore[method-assign]
            BaseClient.__init__ = _noting_init  # type: ignore[method-assign]
            _installed = True


def _guarded_send(self: Any, request: Any) -> Any:
    """Below every client's events: offline, a request nothing answered is never sent.

    botocore reaches ``Endpoint._send`` only when no ``before-send`` handler (moto's stubber,
    the offline plane) answered. While an offline lab is open, a request from a client made
    before moto was imported is handed to moto's stubber here; anything else is refused, so
    no request reaches the network.
    """
    lab = active()
    if lab is None or lab.backend != "offline":
        return _ORIGINAL_SEND(self, request)
    try:
        from moto.core.models import botocore_stubber

        answer = botocore_stubber(event_name="before-send", request=request)
    except ImportError:  # pragma: no cover - moto is a dependency
        answer = None
    if answer is not None:
        return answer
    raise CostGuardError(
        f"{request.method} {request.url.split('?')[0]}",
        "offline, neither the offline plane nor moto answers this request, and nothing leaves "
        "the machine",
        "use an operation the offline backend emulates, or run the lab with MLLAB_BACKEND=aws",
    )


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
    if lab is None or context is None or "mllab" in context:
        return
    service, op = _service(model), model.name
    _record_operation(service, op)
    for_service = lab.backend == "offline" and getattr(_service_made, "on", False)
    est = lab.guard.check(
        service,
        op,
        params,
        model,
        for_service=for_service,
        region=context.get("client_region") or lab.region,
    )
    context["mllab"] = {
        "service": service,
        "operation": op,
        "params": params,
        "estimate": est,
        "guard": lab.guard,
        "for_service": for_service,
    }
    frames = _frames()
    if frames:
        frames[-1]["estimate"] = est
        frames[-1]["guard"] = lab.guard


def _record_operation(service: str, operation: str) -> None:
    """Append ``service operation`` to ``$MLLAB_GUARD_RECORD`` (a maintainer's aid for declaring)."""
    import os

    path = os.environ.get("MLLAB_GUARD_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{service} {operation}\n")


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
    info = context["mllab"]
    if info.get("recorded"):
        return
    info["recorded"] = True
    if getattr(http_response, "status_code", 500) >= 300:
        info["guard"].release(info["estimate"])
        return
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
                info["guard"].release(info["estimate"])
                return
    estimate = None if info.get("for_service") else info["estimate"]
    info["guard"].record(info["service"], info["operation"], info["params"], parsed, estimate)


_SPECS = [
    ("before-parameter-build", _before_parameter_build),
    ("before-call", _before_call),
    ("after-call", _after_call),
]

install()
