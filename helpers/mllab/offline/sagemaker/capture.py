"""Offline data capture of endpoints, in SageMaker's capture format (introduced in lab 04).

An endpoint config with ``DataCaptureConfig`` makes the endpoint write each sampled request
(``InitialSamplingPercentage``) as one JSON line::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "1.0,2.0", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.73", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2025-01-01T12:00:00Z"},
     "eventVersion": "0"}

``endpointInput``/``endpointOutput`` appear as ``CaptureOptions`` ask (Input, Output). Data of
the ``CaptureContentTypeHeader`` CSV or JSON content types (default ``text/csv`` and
``application/json``) is kept as text (encoding ``CSV``/``JSON``); anything else is base64
(encoding ``BASE64``). Files go to
``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``.

Flushing: AWS buffers a few minutes before a file appears. Offline each file is rewritten in
S3 after every captured request (so a lab can read its captures immediately), and a new file
starts every :data:`RECORDS_PER_FILE` records and every hour. Capture costs S3 storage only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import boto3

    from mllab.offline.sagemaker.hosting import EndpointRuntime

#: Records per capture file before a new file starts.
RECORDS_PER_FILE = 100

_LOCK = threading.Lock()


@dataclass
class _File:
    uri: str
    hour: str
    lines: list[str] = field(default_factory=list)


_FILES: dict[tuple[str, str, str, str], _File] = {}


def _base(ct: str | None) -> str:
    return (ct or "").split(";")[0].strip().lower()


def _encode(data: bytes, content_type: str | None, cfg: dict[str, Any]) -> tuple[str, str]:
    header = cfg.get("CaptureContentTypeHeader") or {}
    csv_types = {_base(c) for c in header.get("CsvContentTypes") or ["text/csv"]}
    json_types = {_base(c) for c in header.get("JsonContentTypes") or ["application/json"]}
    base = _base(content_type)
    for types, label in ((csv_types, "CSV"), (json_types, "JSON")):
        if base in types:
            try:
                return data.decode("utf-8"), label
            except UnicodeDecodeError:
                break
    return base64.b64encode(data).decode("ascii"), "BASE64"


def capture_prefix(destination: str, endpoint: str, variant: str | None = None) -> str:
    """Return the S3 prefix under which an endpoint's (variant's) captures are written.

    Args:
        destination: the config's ``DataCaptureConfig.DestinationS3Uri``.
        endpoint: the endpoint name.
        variant: a production variant name (all variants when None).

    Returns:
        ``<DestinationS3Uri>/<endpoint>/[<variant>/]``.
    """
    base = f"{destination.rstrip('/')}/{endpoint}/"
    return base + (f"{variant}/" if variant else "")


def record(
    rt: EndpointRuntime,
    variant: str,
    request: bytes,
    request_type: str | None,
    response: bytes | None,
    response_type: str | None,
    *,
    inference_id: str | None = None,
    when: dt.datetime | None = None,
) -> bool:
    """Capture one request/response pair when the endpoint's config samples it.

    Args:
        rt: the endpoint's runtime (its ``capture`` config and RNG decide).
        variant: the production variant that answered.
        request: the request body; ``request_type`` its content type.
        response: the response body; ``response_type`` its content type.
        inference_id: the caller's ``InferenceId`` (kept in ``eventMetadata.inferenceId``).
        when: the inference time (default now).

    Returns:
        True when the record was written. Costs S3 storage only.
    """
    cfg = rt.capture
    if not cfg or not cfg.get("EnableCapture", True):
        return False
    pct = float(cfg.get("InitialSamplingPercentage", 0))
    if pct <= 0 or (pct < 100 and rt.rng.random() * 100.0 >= pct):
        return False
    modes = {str(o.get("CaptureMode", "")).lower() for o in cfg.get("CaptureOptions") or []}
    when = when or dt.datetime.now(dt.UTC)
    data: dict[str, Any] = {}
    if "input" in modes:
        text, enc = _encode(request, request_type, cfg)
        data["endpointInput"] = {
            "observedContentType": request_type or "",
            "mode": "INPUT",
            "data": text,
            "encoding": enc,
        }
    if "output" in modes and response is not None:
        text, enc = _encode(response, response_type, cfg)
        data["endpointOutput"] = {
            "observedContentType": response_type or "",
            "mode": "OUTPUT",
            "data": text,
            "encoding": enc,
        }
    meta: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
    }
    if inference_id:
        meta["inferenceId"] = inference_id
    line = json.dumps(
        {"captureData": data, "eventMetadata": meta, "eventVersion": "0"}, separators=(",", ":")
    )
    _append(rt, variant, cfg, line, when)
    return True


def _append(
    rt: EndpointRuntime, variant: str, cfg: dict[str, Any], line: str, when: dt.datetime
) -> None:
    from mllab.offline.sagemaker import s3io

    key = (rt.account_id, rt.region, rt.name, variant)
    hour = when.strftime("%Y/%m/%d/%H")
    with _LOCK:
        f = _FILES.get(key)
        if f is None or f.hour != hour or len(f.lines) >= RECORDS_PER_FILE:
            stamp = when.strftime("%M-%S-") + f"{when.microsecond // 1000:03d}"
            uri = (
                capture_prefix(str(cfg["DestinationS3Uri"]), rt.name, variant)
                + f"{hour}/{stamp}-{uuid.uuid4()}.jsonl"
            )
            f = _FILES[key] = _File(uri=uri, hour=hour)
        f.lines.append(line)
        payload = ("\n".join(f.lines) + "\n").encode("utf-8")
        uri = f.uri
    try:
        s3io.put_bytes(rt.account_id, uri, payload)
    except Exception:  # noqa: BLE001 - a missing bucket: AWS drops captures silently too
        pass


def flush_endpoint(rt: EndpointRuntime) -> None:
    """Close the endpoint's open capture files (files are already in S3; this ends them)."""
    with _LOCK:
        for key in [k for k in _FILES if k[:3] == (rt.account_id, rt.region, rt.name)]:
            _FILES.pop(key, None)


def read_captures(
    session: boto3.Session, endpoint: str, variant: str | None = None
) -> list[dict[str, Any]]:
    """Read back an endpoint's captured records, oldest file first (lab 04, lab 06 monitoring).

    Args:
        session: the lab's session (``lab.session``).
        endpoint: the endpoint's name; its current config says where captures go.
        variant: only this production variant.

    Returns:
        The parsed JSON lines. Costs S3 GET/LIST requests on AWS (fractions of a cent).
    """
    sm = session.client("sagemaker")
    desc = sm.describe_endpoint(EndpointName=endpoint)
    dest = (desc.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
    if not dest:
        cfg = sm.describe_endpoint_config(EndpointConfigName=desc["EndpointConfigName"])
        dest = (cfg.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
    if not dest:
        return []
    prefix = capture_prefix(dest, endpoint, variant)
    bucket, _, key_prefix = prefix[5:].partition("/")
    s3 = session.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".jsonl")]
    out: list[dict[str, Any]] = []
    for key in sorted(keys):
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        out += [json.loads(line) for line in text.splitlines() if line.strip()]
    return out


def decode_data(part: dict[str, Any]) -> bytes:
    """Return the raw bytes of a captured ``endpointInput``/``endpointOutput``."""
    if part.get("encoding") == "BASE64":
        return base64.b64decode(part.get("data", ""))
    return str(part.get("data", "")).encode("utf-8")


def _reset() -> None:
    """The offline account is wiped: forget the open capture files."""
    with _LOCK:
        _FILES.clear()


from mllab.offline.registry import on_reset  # noqa: E402 - registered after the state it resets

on_reset(_reset)
