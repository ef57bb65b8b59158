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
    return sess
