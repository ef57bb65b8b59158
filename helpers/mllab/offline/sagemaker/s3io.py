"""S3 reads and writes of offline jobs, straight on moto's backend (introduced in lab 03).

Offline jobs run in background threads. They read their channels and write their artifacts
through moto's S3 backend rather than a boto3 client, so that no request of theirs passes
the cost guard a second time, and none can leave the machine if the lab closes under them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_LOCK = threading.RLock()


class S3Missing(Exception):
    """The S3 location holds no object (AWS: the channel or input is empty or missing)."""


def split_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``.

    Raises:
        ValueError: the URI does not start with ``s3://`` or has no bucket.
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an S3 URI (s3://bucket/prefix)")
    rest = uri[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} has no bucket name")
    return bucket, key


def _backend(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def list_keys(account_id: str, uri: str) -> list[tuple[str, int]]:
    """Return ``(key, size)`` of every object under an S3 prefix, sorted by key.

    Args:
        account_id: the offline account.
        uri: ``s3://bucket/prefix``; a prefix that names one object lists that object.

    Returns:
        The objects; empty when the bucket is missing or nothing matches. Costs nothing.
    """
    bucket, prefix = split_uri(uri)
    be = _backend(account_id)
    with _LOCK:
        try:
            b = be.get_bucket(bucket)
        except Exception:  # noqa: BLE001 - missing bucket: nothing to list
            return []
        keys, _folders, _t, _m = be.list_objects(b, prefix, None, None, None)
        out = [(k.name, int(k.size)) for k in keys if hasattr(k, "value")]
    return sorted(out)


def get_bytes(account_id: str, uri: str) -> bytes:
    """Return one object's bytes.

    Raises:
        S3Missing: there is no such object.
    """
    bucket, key = split_uri(uri)
    be = _backend(account_id)
    with _LOCK:
        try:
            obj = be.get_object(bucket, key)
        except Exception as err:  # noqa: BLE001 - moto raises MissingBucket/MissingKey
            raise S3Missing(f"{uri} does not exist") from err
        if obj is None or not hasattr(obj, "value"):
            raise S3Missing(f"{uri} does not exist")
        return bytes(obj.value)


def put_bytes(account_id: str, uri: str, data: bytes) -> None:
    """Write one object (overwrites). Storage of lab data costs cents a month on AWS."""
    bucket, key = split_uri(uri)
    be = _backend(account_id)
    with _LOCK:
        be.put_object(bucket, key, data)


def download_prefix(account_id: str, uri: str, dest: Path, *, manifest: bool = False) -> list[Path]:
    """Copy every object under ``uri`` into ``dest``, keeping the path below the prefix.

    Args:
        account_id: the offline account.
        uri: ``s3://bucket/prefix`` (S3Prefix) or a manifest file's URI (``manifest=True``,
            S3DataType ``ManifestFile``: a JSON list whose first element is ``{"prefix": ...}``).
        dest: the local folder (created).

    Returns:
        The files written.
    """
    import json

    dest.mkdir(parents=True, exist_ok=True)
    if manifest:
        entries = json.loads(get_bytes(account_id, uri))
        prefix = entries[0]["prefix"]
        keys = [prefix + rel for rel in entries[1:]]
        written = []
        for full in keys:
            target = dest / full.rsplit("/", 1)[-1]
            target.write_bytes(get_bytes(account_id, full))
            written.append(target)
        return written
    bucket, prefix = split_uri(uri)
    written = []
    for key, _size in list_keys(account_id, uri):
        if key.endswith("/"):
            continue
        rel = (
            key[len(prefix) :].lstrip("/")
            if prefix and not prefix.endswith("/")
            else key[len(prefix) :]
        )
        if not rel:
            rel = key.rsplit("/", 1)[-1]
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(get_bytes(account_id, f"s3://{bucket}/{key}"))
        written.append(target)
    return written


def upload_dir(account_id: str, src: Path, uri: str) -> list[str]:
    """Copy every file under ``src`` to ``uri`` + its relative path.

    Returns:
        The S3 URIs written.
    """
    base = uri.rstrip("/")
    out: list[str] = []
    if not src.exists():
        return out
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = f"{base}/{path.relative_to(src).as_posix()}"
        put_bytes(account_id, target, path.read_bytes())
        out.append(target)
    return out
