"""The offline data plane's extension point: handlers per service and operation.

moto keeps the AWS *control plane* (what exists, with which configuration). What AWS
would *run* -- a training job, an endpoint's predictions, an Athena query -- is done by
handlers registered here. Each handler is a function of an :class:`OfflineCall`:

* ``phase="before"`` handlers run before moto sees the request. Returning a ``dict``
  answers the call with that response (moto never sees it); raising :class:`AwsError`
  answers with an AWS error; returning ``None`` lets moto answer as usual.
* ``phase="after"`` handlers run after a successful moto answer and may read or amend
  ``call.response`` (and start the real work, e.g. run the training job).

Handlers are registered at import time of their module with :func:`handles`; the modules
under :mod:`mllab.offline` are imported when the first offline lab opens (lab 00 shows
the mechanism).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import boto3

Phase = Literal["before", "after"]


class AwsError(Exception):
    """An error the offline plane answers with, shaped like AWS's.

    Args:
        code: the AWS error code, e.g. ``"ValidationException"``.
        message: the message, in AWS's words where AWS has them.
        status: the HTTP status code (400 for client errors, 500 for service errors).
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class OfflineCall:
    """One intercepted API call.

    Attributes:
        service: botocore's hyphenated service id, e.g. ``"sagemaker"``, ``"sagemaker-runtime"``.
        operation: the API operation name, e.g. ``"CreateTrainingJob"``.
        params: the request parameters as the caller passed them (after tag injection).
        region: the client's region.
        account_id: the offline account id (moto's default).
        session: a boto3 session on the offline backend, for handlers that need clients.
        response: the parsed response (``after`` handlers only; mutable).
        context: botocore's request context for this call.
        access_key: the access key id the caller's client signs with (offline, an assumed
            role's temporary key identifies the role; ``"testing"`` is the lab itself).
    """

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account_id: str
    session: boto3.Session
    response: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    access_key: str | None = None

    def client(self, service: str) -> Any:
        """Return a client of ``service`` on the offline backend, in this call's region."""
        return self.session.client(service, region_name=self.region)


def body_bytes(body: Any) -> bytes:
    """The bytes of a request payload as a caller passed it (bytes, str, or a file object).

    For handlers of operations with a blob ``Body`` (InvokeEndpoint, InvokeModel). Reads a file
    object to its end; costs nothing.
    """
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return bytes(body)


Handler = Callable[[OfflineCall], "dict[str, Any] | None"]

_LOCK = threading.Lock()
_HANDLERS: dict[tuple[str, str, Phase], list[Handler]] = {}


def handles(service: str, operation: str, phase: Phase = "before") -> Callable[[Handler], Handler]:
    """Register the decorated function as the offline handler of one operation.

    Args:
        service: botocore's hyphenated service id (``client.meta.service_model.service_id.hyphenize()``).
        operation: the operation name as in the API reference.
        phase: ``"before"`` (may answer instead of moto) or ``"after"`` (runs after moto).

    Returns:
        A decorator that registers the function and returns it unchanged.
    """

    def decorate(func: Handler) -> Handler:
        with _LOCK:
            chain = _HANDLERS.setdefault((service, operation, phase), [])
            # re-registering the same function (a module reloaded) replaces it
            chain[:] = [
                f
                for f in chain
                if f.__qualname__ != func.__qualname__ or f.__module__ != func.__module__
            ]
            chain.append(func)
        return func

    return decorate


def lookup(service: str, operation: str, phase: Phase) -> Handler | None:
    """Return the handler(s) registered for the operation and phase, as one callable.

    Several modules may register for the same operation: ``before`` handlers are tried in
    registration order and the first answer (non-None) wins; every ``after`` handler runs.
    """
    chain = list(_HANDLERS.get((service, operation, phase), ()))
    if not chain:
        return None
    if len(chain) == 1:
        return chain[0]

    def combined(call: OfflineCall) -> dict[str, Any] | None:
        for func in chain:
            answer = func(call)
            if answer is not None and phase == "before":
                return answer
        return None

    return combined


def registered() -> list[tuple[str, str, Phase]]:
    """Return every registered (service, operation, phase), sorted."""
    return sorted(_HANDLERS)


_RESET_HOOKS: list[Callable[[], None]] = []
_OPEN_HOOKS: list[Callable[[], None]] = []


def on_open(func: Callable[[], None]) -> Callable[[], None]:
    """Register ``func`` to run when the offline account opens (the first lab opened).

    For work that should start in the background before a learner needs it (the job parent
    of :mod:`mllab.offline.sagemaker.jobproc`). ``func`` must return at once: start a thread
    for anything slow, so that opening a lab does not wait. Usable as a decorator.
    """
    with _LOCK:
        if func not in _OPEN_HOOKS:
            _OPEN_HOOKS.append(func)
    return func


def run_open_hooks() -> None:
    """Run every :func:`on_open` hook (called by the offline backend after moto starts)."""
    for func in list(_OPEN_HOOKS):
        try:
            func()
        except Exception:  # noqa: BLE001 - a background warm-up must never block a lab
            import logging

            logging.getLogger(__name__).exception("offline open hook %r failed", func)


def on_reset(func: Callable[[], None]) -> Callable[[], None]:
    """Register ``func`` to run when the offline account is wiped (the last lab closed).

    Modules that keep state beside moto's (running jobs, buffers, endpoints in memory)
    must drop it and stop their background work here, so that the next lab starts empty.
    Usable as a decorator.
    """
    with _LOCK:
        if func not in _RESET_HOOKS:
            _RESET_HOOKS.append(func)
    return func


def run_reset_hooks() -> None:
    """Run every :func:`on_reset` hook (called by the offline backend before moto resets)."""
    for func in list(_RESET_HOOKS):
        try:
            func()
        except Exception:  # noqa: BLE001 - one module's cleanup must not block the others
            import logging

            logging.getLogger(__name__).exception("offline reset hook %r failed", func)
