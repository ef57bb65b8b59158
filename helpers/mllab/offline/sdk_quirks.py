"""Everything the SageMaker Python SDK v3 needs to run against the offline backend.

One module, so that each workaround is visible in one place (lab 00 mentions it):

* the SDK's default bucket is the lab's bucket (it would otherwise create
  ``sagemaker-<region>-<account>`` and probe it);
* the execution role is the lab's role;
* fields that moto returns as empty dicts or omits, which sagemaker-core's pydantic
  models reject, are normalised (handlers below, registered as ``after`` handlers of
  the describe calls that need them).

Import is cheap; the SDK itself is imported only inside :func:`make_sm_session`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mllab.lab import Lab


def make_sm_session(lab: Lab) -> Any:
    """Return a SageMaker SDK v3 session bound to ``lab.session`` and the lab's bucket.

    Args:
        lab: an open lab (either backend).

    Returns:
        ``sagemaker.core.helper.session_helper.Session``. Creating it costs nothing and
        creates nothing.
    """
    from sagemaker.core.helper.session_helper import Session

    sess = Session(boto_session=lab.session, default_bucket=lab.bucket)
    # The lab's role, so get_execution_role()/role lookups need no notebook metadata.
    sess.get_caller_identity_arn = lambda: lab.role_arn  # type: ignore[method-assign]
    install_fast_sdk_waits()  # TRAINING section below
    return sess


# --------------------------------------------------------------------------- TRAINING
# Offline jobs end in seconds, but boto3's waiters poll every 30-120 s (training:
# 120 s) and the SDK's ``TrainingJob.wait()`` every 5 s. While an offline lab is open
# the polls are shortened to OFFLINE_POLL_SECONDS (the same total patience); with no
# lab, or on the aws backend, nothing changes.

OFFLINE_POLL_SECONDS = 0.1


def _offline_lab_open() -> bool:
    from mllab import hooks

    lab = hooks.active()
    return lab is not None and lab.backend == "offline"


def _install_fast_waiters() -> None:
    """Shorten boto3 waiter delays while an offline lab is open (installed once, at import)."""
    import botocore.waiter

    original = botocore.waiter.Waiter.wait
    if getattr(original, "_mllab", False):
        return

    def wait(self: Any, **kwargs: Any) -> None:
        if _offline_lab_open():
            cfg = dict(kwargs.get("WaiterConfig") or {})
            if "Delay" not in cfg:
                delay = float(self.config.delay)
                attempts = int(cfg.get("MaxAttempts", self.config.max_attempts))
                cfg["Delay"] = min(delay, OFFLINE_POLL_SECONDS)
                cfg["MaxAttempts"] = max(attempts, int(attempts * delay / cfg["Delay"]))
                kwargs["WaiterConfig"] = cfg
        original(self, **kwargs)

    wait._mllab = True  # type: ignore[attr-defined]
    botocore.waiter.Waiter.wait = wait  # type: ignore[method-assign]


def install_fast_sdk_waits() -> None:
    """Shorten the SDK v3 ``TrainingJob/ProcessingJob/HyperParameterTuningJob.wait`` poll offline.

    Called by :func:`make_sm_session` (the SDK is imported by then). Costs nothing.
    """
    from sagemaker.core import resources

    for cls_name in ("TrainingJob", "ProcessingJob", "HyperParameterTuningJob", "TransformJob"):
        cls = getattr(resources, cls_name, None)
        original = getattr(cls, "wait", None)
        if cls is None or original is None or getattr(original, "_mllab", False):
            continue
        raw = getattr(original, "__wrapped__", original)

        def make(orig: Any, raw_fn: Any) -> Any:
            def wait(self: Any, *args: Any, **kwargs: Any) -> Any:
                if _offline_lab_open() and not args and "poll" not in kwargs:
                    return raw_fn(self, poll=OFFLINE_POLL_SECONDS, **kwargs)  # type: ignore[arg-type]
                return orig(self, *args, **kwargs)

            wait._mllab = True  # type: ignore[attr-defined]
            wait.__doc__ = orig.__doc__
            return wait

        cls.wait = make(original, raw)  # type: ignore[method-assign]


_install_fast_waiters()


# --------------------------------------------------------------------------- HOSTING
# moto answers DescribeModel with empty ``VpcConfig``/container fields, which sagemaker-core's
# pydantic models reject ("vpc_config.subnets: Field required"); empty values are dropped here
# so ``ModelBuilder.build()``/``deploy()`` and ``sagemaker.core.resources.Model.get`` work.


def _drop_empty(obj: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if key in obj and obj[key] in ({}, [], None, ""):
            del obj[key]


def _hosting_describe_model(call: Any) -> None:
    resp = call.response or {}
    _drop_empty(resp, "VpcConfig", "Containers", "PrimaryContainer", "InferenceExecutionConfig")
    containers = list(resp.get("Containers") or [])
    if "PrimaryContainer" in resp:
        containers.append(resp["PrimaryContainer"])
    for c in containers:
        _drop_empty(c, "Environment", "ImageConfig", "ModelDataSource", "MultiModelConfig")


def _hosting_describe_endpoint_config(call: Any) -> None:
    _drop_empty(call.response or {}, "DataCaptureConfig", "AsyncInferenceConfig", "KmsKeyId")


def _register_hosting_quirks() -> None:
    from mllab.offline.registry import handles

    handles("sagemaker", "DescribeModel", "after")(_hosting_describe_model)
    handles("sagemaker", "DescribeEndpointConfig", "after")(_hosting_describe_endpoint_config)


_register_hosting_quirks()


def install_fast_hosting_waits() -> None:
    """Shorten the SDK v3 endpoint-deployment poll (30 s, slept before the first check) offline.

    ``ModelBuilder.deploy()`` waits with ``session_helper._wait_until(..., poll=30)``; while an
    offline lab is open the poll becomes :data:`OFFLINE_POLL_SECONDS`. Installed by
    :func:`make_sm_session`; with no lab, or on the aws backend, nothing changes.
    """
    import sys

    from sagemaker.core.helper import session_helper

    original = session_helper._wait_until
    if getattr(original, "_mllab", False):
        return

    def _wait_until(callable_fn: Any, poll: float = 5) -> Any:
        if _offline_lab_open():
            poll = min(poll, OFFLINE_POLL_SECONDS)
        return original(callable_fn, poll)

    _wait_until._mllab = True  # type: ignore[attr-defined]
    session_helper._wait_until = _wait_until
    builder = sys.modules.get("sagemaker.serve.model_builder")
    if builder is not None and getattr(builder, "_wait_until", None) is original:
        builder._wait_until = _wait_until  # type: ignore[attr-defined]


_make_sm_session_base = make_sm_session


def make_sm_session(lab: Lab) -> Any:  # type: ignore[no-redef]  # noqa: F811
    """Return the SDK v3 session (see the first definition) with the hosting waits shortened too."""
    sess = _make_sm_session_base(lab)
    install_fast_hosting_waits()
    return sess
