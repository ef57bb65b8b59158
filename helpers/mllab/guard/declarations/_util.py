"""Helpers the declaration modules share to write deleters (find + delete) of resource kinds.

Introduced in lab 00 with the admission table. Nothing here is called at import time; each
function takes a boto3 session and a region, as :class:`mllab.guard.admission.Deleter` needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError


def gone(err: Exception) -> bool:
    """True when an error says the resource is already gone (deleting it again is a no-op)."""
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        msg = str(err.response.get("Error", {}).get("Message", "")).lower()
        if "NotFound" in code or code in {
            "NoSuchEntity",
            "NoSuchBucket",
            "EntityNotFoundException",
        }:
            return True
        return any(s in msg for s in ("not found", "could not find", "does not exist", "not exist"))
    text = str(err)
    return any(s in text for s in ("Could not find", "does not exist", "not found", "NotFound"))


def quietly(call: Callable[[], Any], action: str = "deleted") -> str | None:
    """Run a delete call; a resource already gone is not an error.

    Returns:
        ``action`` when the call ran, None when the resource was already gone.
    """
    try:
        call()
    except Exception as err:  # noqa: BLE001 - re-raised unless the resource is gone
        if not gone(err):
            raise
        return None
    return action


def tag_dict(tags: Any) -> dict[str, str]:
    """Tags as a dict, from AWS's map shape or its list of ``Key``/``Value`` pairs (``key``/``value``
    in Bedrock and OpenSearch Serverless)."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {
        str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value"))) for t in tags or []
    }


def paginate(
    client: Any, op: str, key: str, token_key: str = "NextToken", **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of every page of a list call (the client's paginator when it
    has one, else ``token_key`` -- ``NextToken``, or ``nextToken`` in camelCase APIs -- by hand)."""
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kwargs):
            yield from page.get(key) or []
        return
    token: str | None = None
    while True:
        page = getattr(client, op)(**kwargs, **({token_key: token} if token else {}))
        yield from page.get(key) or []
        token = page.get(token_key)
        if not token:
            return


def sagemaker_find(
    list_op: str, key: str, name_key: str, arn_key: str, **filters: Any
) -> Callable[[Any, str], Iterable[tuple[str, dict[str, str]]]]:
    """A ``find`` for a SageMaker kind: list (paginated), then ``ListTags`` of each."""

    def find(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
        sm = session.client("sagemaker", region_name=region)
        for item in paginate(sm, list_op, key, **filters):
            try:
                tags = tag_dict(sm.list_tags(ResourceArn=item[arn_key]).get("Tags"))
            except ClientError as err:
                if gone(err):
                    continue
                raise
            yield str(item[name_key]), tags

    return find


def sagemaker_stop(
    describe: str, stop: str, name_key: str, status_key: str
) -> Callable[[Any, str, str], str | None]:
    """A ``delete`` for a SageMaker job kind: stop it while it runs (jobs cannot be deleted)."""

    def delete(session: Any, region: str, name: str) -> str | None:
        sm = session.client("sagemaker", region_name=region)
        try:
            status = getattr(sm, describe)(**{name_key: name})[status_key]
        except Exception as err:  # noqa: BLE001
            if gone(err):
                return None
            raise
        if status in {"InProgress", "Executing", "Pending"}:
            return quietly(lambda: getattr(sm, stop)(**{name_key: name}), "stopped")
        return None

    return delete
