"""Offline Bedrock quotas and model access: requests and tokens per minute, on the lab clock.

Bedrock limits on-demand use per model and account with Service Quotas such as "On-demand
model inference requests per minute for Amazon Nova Micro" and "... tokens per minute ...".
Offline, each model id (a base model and each inference profile count separately, as on AWS)
has a requests-per-minute (RPM) and tokens-per-minute (TPM) quota over a sliding 60-second
window of the lab clock (:mod:`mllab.offline.clock`): past either, the call is answered with
``ThrottlingException`` ("Too many requests, please wait before trying again." / "Too many
tokens, please wait before trying again."). Tokens count input + output tokens of each call.

The defaults are indicative (the order of magnitude of new-account defaults; yours differ:
check Service Quotas). A lab shows them with :func:`show` and changes them with
:func:`set_quota`; :func:`revoke_access` makes a model answer ``AccessDeniedException``, as
when model access was never granted, for the troubleshooting drill.

Introduced in lab 05 (quotas, throttling and retries).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from mllab.offline import clock
from mllab.offline.registry import AwsError, on_reset

WINDOW_SECONDS = 60.0

#: Indicative default quotas per base model: (requests per minute, tokens per minute).
DEFAULTS: dict[str, tuple[int, int]] = {
    "amazon.nova-micro-v1:0": (2000, 4_000_000),
    "amazon.nova-lite-v1:0": (2000, 4_000_000),
    "amazon.nova-pro-v1:0": (250, 1_000_000),
    "amazon.nova-premier-v1:0": (100, 400_000),
    "amazon.titan-text-express-v1": (400, 300_000),
    "anthropic.claude-3-haiku-20240307-v1:0": (1000, 2_000_000),
    "anthropic.claude-3-5-haiku-20241022-v1:0": (400, 400_000),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": (250, 400_000),
    "anthropic.claude-haiku-4-5-20251001-v1:0": (250, 1_000_000),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": (200, 200_000),
    "anthropic.claude-sonnet-4-6": (200, 200_000),
    "meta.llama3-8b-instruct-v1:0": (800, 300_000),
    "meta.llama3-70b-instruct-v1:0": (400, 300_000),
    "meta.llama3-1-8b-instruct-v1:0": (800, 300_000),
    "meta.llama3-2-1b-instruct-v1:0": (800, 300_000),
    "meta.llama3-3-70b-instruct-v1:0": (400, 300_000),
    "amazon.titan-embed-text-v2:0": (2000, 300_000),
    "cohere.embed-english-v3": (2000, 300_000),
    "cohere.embed-multilingual-v3": (2000, 300_000),
}
FALLBACK = (200, 200_000)


@dataclass
class Quota:
    """The quota of one model id in one account and region."""

    requests_per_minute: int
    tokens_per_minute: int


_LOCK = threading.Lock()
_OVERRIDES: dict[tuple[str, str, str], Quota] = {}
_USE: dict[tuple[str, str, str], deque[tuple[float, int]]] = {}
_REVOKED: set[tuple[str, str]] = set()


@on_reset
def _reset() -> None:
    with _LOCK:
        _OVERRIDES.clear()
        _USE.clear()
        _REVOKED.clear()


def _account(account_id: str | None) -> str:
    if account_id:
        return account_id
    from mllab.backends.offline import OFFLINE_ACCOUNT_ID

    return str(OFFLINE_ACCOUNT_ID)


def _base(model_id: str) -> str:
    from mllab.models import catalog

    prof = catalog.profile(model_id)
    return prof.base_model_id if prof is not None else model_id


def quota(model_id: str, *, account_id: str | None = None, region: str = "us-east-1") -> Quota:
    """The quota in force for ``model_id`` (an override, else the default).

    Args:
        model_id: a base model or inference-profile id.
        account_id: the offline account (moto's default when None).
        region: the region.

    Returns:
        The quota. Costs nothing.
    """
    key = (_account(account_id), region, model_id)
    with _LOCK:
        if key in _OVERRIDES:
            q = _OVERRIDES[key]
            return Quota(q.requests_per_minute, q.tokens_per_minute)
    rpm, tpm = DEFAULTS.get(_base(model_id), FALLBACK)
    if model_id != _base(model_id):  # cross-region profiles get about double the capacity
        rpm, tpm = rpm * 2, tpm * 2
    return Quota(rpm, tpm)


def set_quota(
    model_id: str,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    *,
    account_id: str | None = None,
    region: str = "us-east-1",
) -> Quota:
    """Change the offline quota of one model id (lab 05's throttling drill).

    Args:
        model_id: a base model or inference-profile id.
        requests_per_minute: new RPM (None keeps the current value).
        tokens_per_minute: new TPM (None keeps the current value).
        account_id: the offline account (moto's default when None).
        region: the region.

    Returns:
        The quota now in force. Costs nothing; offline only (on AWS quotas change through
        Service Quotas requests).
    """
    current = quota(model_id, account_id=account_id, region=region)
    new = Quota(
        int(requests_per_minute)
        if requests_per_minute is not None
        else current.requests_per_minute,
        int(tokens_per_minute) if tokens_per_minute is not None else current.tokens_per_minute,
    )
    if new.requests_per_minute < 1 or new.tokens_per_minute < 1:
        raise ValueError("quotas must be at least 1 request and 1 token per minute")
    with _LOCK:
        _OVERRIDES[(_account(account_id), region, model_id)] = new
    return new


def show(*, account_id: str | None = None, region: str = "us-east-1") -> list[dict[str, object]]:
    """Every catalogued text/embedding model's quota and its use in the last minute.

    Returns:
        Rows ``{"modelId", "requestsPerMinute", "tokensPerMinute", "requestsLastMinute",
        "tokensLastMinute", "access"}``. Costs nothing.
    """
    from mllab.models import catalog

    acct = _account(account_id)
    rows = []
    for mid in catalog.ids():
        q = quota(mid, account_id=acct, region=region)
        reqs, toks = _usage(acct, region, mid)
        rows.append(
            {
                "modelId": mid,
                "requestsPerMinute": q.requests_per_minute,
                "tokensPerMinute": q.tokens_per_minute,
                "requestsLastMinute": reqs,
                "tokensLastMinute": toks,
                "access": "revoked" if (acct, _base(mid)) in _REVOKED else "granted",
            }
        )
    return rows


def _usage(account_id: str, region: str, model_id: str) -> tuple[int, int]:
    now = clock.now()
    with _LOCK:
        q = _USE.get((account_id, region, model_id))
        if not q:
            return 0, 0
        while q and q[0][0] <= now - WINDOW_SECONDS:
            q.popleft()
        return len(q), sum(t for _, t in q)


def admit(account_id: str, region: str, model_id: str, input_tokens: int) -> None:
    """Raise ``ThrottlingException`` when a call would exceed the quota; else count the request.

    Args:
        account_id: the offline account.
        region: the region.
        model_id: the id the caller invoked.
        input_tokens: the request's input tokens (checked against the token quota).
    """
    q = quota(model_id, account_id=account_id, region=region)
    reqs, toks = _usage(account_id, region, model_id)
    if reqs + 1 > q.requests_per_minute:
        raise AwsError(
            "ThrottlingException", "Too many requests, please wait before trying again.", 429
        )
    if toks + input_tokens > q.tokens_per_minute:
        raise AwsError(
            "ThrottlingException", "Too many tokens, please wait before trying again.", 429
        )


def consume(account_id: str, region: str, model_id: str, total_tokens: int) -> None:
    """Count one served call and its tokens in the current minute."""
    with _LOCK:
        _USE.setdefault((account_id, region, model_id), deque()).append(
            (clock.now(), int(total_tokens))
        )


def revoke_access(model_id: str, *, account_id: str | None = None) -> None:
    """Make calls to ``model_id`` (and its inference profiles) answer ``AccessDeniedException``.

    Offline every model is granted; a lab revokes one to practise the "model access" error.
    Costs nothing; offline only.
    """
    with _LOCK:
        _REVOKED.add((_account(account_id), _base(model_id)))


def grant_access(model_id: str, *, account_id: str | None = None) -> None:
    """Undo :func:`revoke_access`. Costs nothing; offline only."""
    with _LOCK:
        _REVOKED.discard((_account(account_id), _base(model_id)))


def check_access(account_id: str, model_id: str) -> None:
    """Raise ``AccessDeniedException`` when access to the model was revoked."""
    with _LOCK:
        revoked = (account_id, _base(model_id)) in _REVOKED
    if revoked:
        raise AwsError(
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
            403,
        )
