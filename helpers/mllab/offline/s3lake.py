"""Offline S3 data-lake features the exam tests: lifecycle, encryption, bucket policies, S3 Select.

Introduced in lab 01. moto stores buckets and objects; this module adds what it lacks:

* **Lifecycle validation** (``PutBucketLifecycleConfiguration``) with S3's error codes:
  transitions to STANDARD_IA / ONEZONE_IA need ``Days >= 30``; a transition out of an
  IA class must come at least 30 days after the transition into it; transitions go down
  the storage-class waterfall (STANDARD_IA > INTELLIGENT_TIERING > ONEZONE_IA > GLACIER_IR
  > GLACIER > DEEP_ARCHIVE, and ONEZONE_IA cannot go to GLACIER_IR); one transition per
  storage class in a rule; ``Expiration`` after every transition; ``Days`` and ``Date``
  not both; unique rule IDs; at least one action per rule. :func:`lifecycle_cost_estimate`
  prices what the rules save for the bucket's current bytes.
* **Default encryption as S3 has it since January 2023**: every object is encrypted, with
  SSE-S3 (``AES256``) when the bucket has no configuration of its own, so ``PutObject``,
  ``HeadObject`` and ``GetObject`` report ``ServerSideEncryption`` and
  ``GetBucketEncryption`` answers the SSE-S3 default instead of an error. A bucket's own
  ``PutBucketEncryption`` (SSE-S3 or SSE-KMS) is applied by moto.
* **Bucket policies enforced for writes**: ``Deny`` statements of the bucket policy are
  evaluated for ``PutObject``, ``CopyObject`` and ``CreateMultipartUpload`` with the
  condition keys ``s3:x-amz-server-side-encryption``,
  ``s3:x-amz-server-side-encryption-aws-kms-key-id``, ``s3:x-amz-acl``,
  ``s3:x-amz-storage-class``, ``aws:SecureTransport`` (always ``true`` offline: boto3
  talks HTTPS) and ``aws:PrincipalAccount``, and the operators String(Not)Equals,
  String(Not)Like (with ``IfExists``), ``Null`` and ``Bool``. A statement with a
  condition key or operator outside that list is not enforced (it never denies offline).
  ``Allow`` statements, ACLs and IAM policies are not evaluated.
* **S3 Select** (``SelectObjectContent``) over CSV, JSON (LINES and DOCUMENT) and Parquet,
  GZIP/BZIP2 input, CSV or JSON output, run with DuckDB. CSV columns are strings, as in
  S3 Select (``CAST`` them to compare numbers). ``FROM S3Object[*].path`` JSON paths are
  not supported. Note that AWS closed S3 Select to new customers on 2024-07-25 (Athena is
  the successor); it is here because exam questions still use it.
"""

from __future__ import annotations

import bz2
import csv
import fnmatch
import gzip
import io
import json
import os
import re
import tempfile
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles

# --------------------------------------------------------------------------- prices
#: S3 storage prices, us-east-1, USD per GB-month (first 50 TB tier), lifecycle transition
#: requests per 1,000 and minimum storage duration / billable size. Source: the public
#: price page https://aws.amazon.com/s3/pricing/ and the storage-class page
#: https://aws.amazon.com/s3/storage-classes/, transcribed by hand, snapshot 2025-06-01
#: (the same date as helpers/mllab/guard/pricing.json). Approximate for other regions.
STORAGE_PRICES: dict[str, dict[str, float]] = {
    "STANDARD": {"gb_month": 0.023, "transition_per_1000": 0.0, "min_days": 0, "min_kib": 0},
    "INTELLIGENT_TIERING": {
        "gb_month": 0.023,
        "transition_per_1000": 0.01,
        "min_days": 0,
        "min_kib": 0,
    },
    "STANDARD_IA": {
        "gb_month": 0.0125,
        "transition_per_1000": 0.01,
        "min_days": 30,
        "min_kib": 128,
    },
    "ONEZONE_IA": {"gb_month": 0.01, "transition_per_1000": 0.01, "min_days": 30, "min_kib": 128},
    "GLACIER_IR": {"gb_month": 0.004, "transition_per_1000": 0.02, "min_days": 90, "min_kib": 128},
    "GLACIER": {"gb_month": 0.0036, "transition_per_1000": 0.03, "min_days": 90, "min_kib": 0},
    "DEEP_ARCHIVE": {
        "gb_month": 0.00099,
        "transition_per_1000": 0.05,
        "min_days": 180,
        "min_kib": 0,
    },
}
PRICES_SOURCE = "aws.amazon.com/s3/pricing (us-east-1, first 50 TB), snapshot 2025-06-01"
#: Since September 2024 lifecycle does not transition objects smaller than 128 KiB by default.
MIN_TRANSITION_BYTES = 128 * 1024

_WATERFALL = [
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
]
_IA = {"STANDARD_IA", "ONEZONE_IA"}


# --------------------------------------------------------------------------- lifecycle validation
def _filter_text(rule: dict[str, Any]) -> str:
    flt = rule.get("Filter")
    if flt is None:
        return f"(prefix={rule.get('Prefix', '')})"
    if "And" in flt:
        flt = flt["And"]
    parts = [f"prefix={flt.get('Prefix', '')}"]
    tags = flt.get("Tags") or ([flt["Tag"]] if "Tag" in flt else [])
    for t in tags:
        parts.append(f"tag={t.get('Key')}:{t.get('Value', '')}")
    return "(" + ", ".join(parts) + ")"


def _malformed() -> AwsError:
    return AwsError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )


def validate_lifecycle(rules: list[dict[str, Any]]) -> None:
    """Validate lifecycle rules the way S3 does; raise :class:`AwsError` with S3's code.

    Args:
        rules: ``LifecycleConfiguration["Rules"]`` as given to boto3.

    Returns:
        None when valid. Costs nothing. Introduced in lab 01.
    """
    if not rules:
        raise _malformed()
    if len(rules) > 1000:
        raise AwsError(
            "InvalidRequest",
            "The number of lifecycle rules must not exceed the allowed limit of 1000 rules",
        )
    ids = [r.get("ID") for r in rules if r.get("ID")]
    if len(ids) != len(set(ids)):
        raise AwsError(
            "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule"
        )
    for rule in rules:
        if len(rule.get("ID") or "") > 255:
            raise AwsError("InvalidArgument", "ID length should not exceed allowed limit of 255")
        if rule.get("Status") not in {"Enabled", "Disabled"}:
            raise _malformed()
        if "Filter" in rule and "Prefix" in rule:
            raise _malformed()
        where = _filter_text(rule)
        actions = [
            k
            for k in (
                "Expiration",
                "Transitions",
                "NoncurrentVersionTransitions",
                "NoncurrentVersionExpiration",
                "AbortIncompleteMultipartUpload",
            )
            if rule.get(k)
        ]
        if not actions:
            raise AwsError("InvalidRequest", "At least one action needs to be specified in a rule")
        transitions = rule.get("Transitions") or []
        seen: set[str] = set()
        uses_days = uses_date = False
        for t in transitions:
            cls = t.get("StorageClass")
            if cls not in _WATERFALL:
                raise _malformed()
            if ("Days" in t) == ("Date" in t):
                raise _malformed()
            if cls in seen:
                raise AwsError(
                    "InvalidArgument",
                    f"'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter '{where}'",
                )
            seen.add(cls)
            if "Days" in t:
                uses_days = True
                days = int(t["Days"])
                if days < 0:
                    raise AwsError(
                        "InvalidArgument", "'Days' in Transition action must be nonnegative"
                    )
                if cls in _IA and days < 30:
                    raise AwsError(
                        "InvalidArgument",
                        f"'Days' in Transition action must be greater than or equal to 30 for storageClass '{cls}'",
                    )
            else:
                uses_date = True
        if uses_days and uses_date:
            raise AwsError(
                "InvalidRequest",
                f"Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule for filter '{where}'",
            )
        by_days = sorted((t for t in transitions if "Days" in t), key=lambda t: int(t["Days"]))
        for prev, nxt in zip(by_days, by_days[1:], strict=False):
            a, b = prev["StorageClass"], nxt["StorageClass"]
            if _WATERFALL.index(b) <= _WATERFALL.index(a) or (
                a == "ONEZONE_IA" and b == "GLACIER_IR"
            ):
                raise AwsError(
                    "InvalidArgument",
                    f"Lifecycle cannot transition objects from {a} to {b} (filter '{where}'): transitions go "
                    "down the waterfall STANDARD_IA > INTELLIGENT_TIERING > ONEZONE_IA > GLACIER_IR > GLACIER > DEEP_ARCHIVE.",
                )
            if a in _IA and int(nxt["Days"]) < int(prev["Days"]) + 30:
                raise AwsError(
                    "InvalidArgument",
                    f"'Days' in the Transition action for StorageClass '{b}' for filter '{where}' must be 30 days "
                    f"more than 'filter '{where}'' in the Transition action for StorageClass '{a}'",
                )
        exp = rule.get("Expiration") or {}
        if exp:
            keys = [k for k in ("Days", "Date", "ExpiredObjectDeleteMarker") if k in exp]
            if len(keys) != 1:
                raise _malformed()
            if "Days" in exp:
                if int(exp["Days"]) <= 0:
                    raise AwsError(
                        "InvalidArgument", "'Days' for Expiration action must be a positive integer"
                    )
                if by_days and int(exp["Days"]) <= max(int(t["Days"]) for t in by_days):
                    raise AwsError(
                        "InvalidArgument",
                        f"'Days' in the Expiration action for filter '{where}' must be greater than 'Days' in the Transition action",
                    )
        for t in rule.get("NoncurrentVersionTransitions") or []:
            cls = t.get("StorageClass")
            if cls not in _WATERFALL or "NoncurrentDays" not in t:
                raise _malformed()
            if cls in _IA and int(t["NoncurrentDays"]) < 30:
                raise AwsError(
                    "InvalidArgument",
                    f"'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to 30 for storageClass '{cls}'",
                )
        nve = rule.get("NoncurrentVersionExpiration") or {}
        if nve and int(nve.get("NoncurrentDays", 1)) <= 0:
            raise AwsError(
                "InvalidArgument",
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            )


@handles("s3", "PutBucketLifecycleConfiguration")
def _put_lifecycle(call: OfflineCall) -> None:
    validate_lifecycle((call.params.get("LifecycleConfiguration") or {}).get("Rules") or [])
    return None


# --------------------------------------------------------------------------- lifecycle cost
def _rule_applies(rule: dict[str, Any], key: str, size: int, tags: dict[str, str]) -> bool:
    if rule.get("Status") != "Enabled":
        return False
    flt = rule.get("Filter")
    if flt is None:
        return key.startswith(rule.get("Prefix") or "")
    if "And" in flt:
        flt = flt["And"]
    if not key.startswith(flt.get("Prefix") or ""):
        return False
    wanted = flt.get("Tags") or ([flt["Tag"]] if "Tag" in flt else [])
    if any(tags.get(t["Key"]) != t.get("Value", "") for t in wanted):
        return False
    if "ObjectSizeGreaterThan" in flt and not size > int(flt["ObjectSizeGreaterThan"]):
        return False
    return not ("ObjectSizeLessThan" in flt and not size < int(flt["ObjectSizeLessThan"]))


def _timeline(rules: list[dict[str, Any]], size: int) -> tuple[list[tuple[int, str]], int | None]:
    """Return ([(age_days, class)] sorted, expiration age) for an object under the rules."""
    steps: dict[int, str] = {0: "STANDARD"}
    expire: int | None = None
    for rule in rules:
        for t in rule.get("Transitions") or []:
            if "Days" not in t or size < MIN_TRANSITION_BYTES:
                continue
            d, cls = int(t["Days"]), t["StorageClass"]
            cur = steps.get(d)
            # when rules conflict on the same day, S3 picks the cheaper class
            if cur is None or STORAGE_PRICES[cls]["gb_month"] < STORAGE_PRICES[cur]["gb_month"]:
                steps[d] = cls
        days = (rule.get("Expiration") or {}).get("Days")
        if days is not None:
            expire = int(days) if expire is None else min(expire, int(days))
    ordered = sorted(steps.items())
    # a later step to a dearer class than one already reached does not apply
    cleaned: list[tuple[int, str]] = []
    for d, cls in ordered:
        if (
            cleaned
            and STORAGE_PRICES[cls]["gb_month"] >= STORAGE_PRICES[cleaned[-1][1]]["gb_month"]
        ):
            continue
        cleaned.append((d, cls))
    if expire is not None:
        cleaned = [(d, c) for d, c in cleaned if d < expire]
    return cleaned, expire


def lifecycle_cost_estimate(
    session: Any,
    bucket: str,
    *,
    months: int = 12,
    rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Estimate in dollars what a bucket's lifecycle rules save on its current objects.

    Each object ages from its ``LastModified`` (on the lab clock) over the next ``months``
    (30-day months); the rules move it down the storage classes and expire it. Compared
    with keeping everything in S3 Standard for the same months. Counts storage (with the
    128 KiB minimum billable size of IA and Glacier IR), lifecycle transition requests, and
    the early-deletion charge when an object leaves a class before its minimum duration.
    Objects under 128 KiB are not transitioned (S3's default since September 2024). Prices:
    :data:`STORAGE_PRICES` (us-east-1).

    Args:
        session: a boto3 session (``lab.session``); reads the bucket listing, its lifecycle
            configuration and, when a rule filters on tags, the objects' tags.
        bucket: the bucket.
        months: how far ahead to price (default 12).
        rules: price these rules instead of the bucket's configuration (to compare designs).

    Returns:
        ``{"bucket", "objects", "bytes", "months", "standard_only_usd", "with_rules_usd",
        "savings_usd", "transition_requests", "early_deletion_usd", "gb_months_by_class",
        "prices_source"}``. Costs a few requests (LIST/GET, fractions of a cent on AWS);
        deletes nothing. Introduced in lab 01.
    """
    s3 = session.client("s3")
    if rules is None:
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
        except Exception as err:  # noqa: BLE001 - NoSuchLifecycleConfiguration: no rules
            if "NoSuchLifecycleConfiguration" not in str(err):
                raise
            rules = []
    needs_tags = any(
        "Tag" in (r.get("Filter") or {}) or "Tags" in ((r.get("Filter") or {}).get("And") or {})
        for r in rules
    )
    now = clock.now()
    horizon = int(months) * 30
    gb_months: dict[str, float] = {}
    standard_usd = with_rules_usd = early_usd = 0.0
    transitions = 0
    requests_usd = 0.0
    count = total_bytes = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            count += 1
            size = int(obj["Size"])
            total_bytes += size
            gb = size / 1024**3
            age0 = max(0, int((now - obj["LastModified"].timestamp()) // 86400))
            standard_usd += gb * STORAGE_PRICES["STANDARD"]["gb_month"] * horizon / 30
            tags: dict[str, str] = {}
            if needs_tags:
                tagset = s3.get_object_tagging(Bucket=bucket, Key=obj["Key"]).get("TagSet", [])
                tags = {t["Key"]: t["Value"] for t in tagset}
            applicable = [r for r in rules if _rule_applies(r, obj["Key"], size, tags)]
            steps, expire = _timeline(applicable, size)
            # walk the object's ages within the horizon
            end_age = age0 + horizon if expire is None else min(age0 + horizon, max(expire, age0))
            for i, (start, cls) in enumerate(steps):
                stop = (
                    steps[i + 1][0]
                    if i + 1 < len(steps)
                    else (expire if expire is not None else 10**9)
                )
                lo, hi = max(start, age0), min(stop, end_age)
                price = STORAGE_PRICES[cls]
                billable_gb = max(size, price["min_kib"] * 1024) / 1024**3
                if hi > lo:
                    gb_months[cls] = gb_months.get(cls, 0.0) + billable_gb * (hi - lo) / 30
                    with_rules_usd += billable_gb * price["gb_month"] * (hi - lo) / 30
                if cls != "STANDARD" and age0 <= start < age0 + horizon:
                    transitions += 1
                    requests_usd += price["transition_per_1000"] / 1000
                left_at = stop if (i + 1 < len(steps) or expire is not None) else None
                if (
                    left_at is not None
                    and age0 <= left_at < age0 + horizon
                    and left_at - start < price["min_days"]
                ):
                    early = (
                        billable_gb
                        * price["gb_month"]
                        * (price["min_days"] - (left_at - start))
                        / 30
                    )
                    early_usd += early
    with_rules_usd += requests_usd + early_usd
    return {
        "bucket": bucket,
        "objects": count,
        "bytes": total_bytes,
        "months": months,
        "standard_only_usd": round(standard_usd, 9),
        "with_rules_usd": round(with_rules_usd, 9),
        "savings_usd": round(standard_usd - with_rules_usd, 9),
        "transition_requests": transitions,
        "early_deletion_usd": round(early_usd, 9),
        "gb_months_by_class": {k: round(v, 9) for k, v in sorted(gb_months.items())},
        "prices_source": PRICES_SOURCE,
    }


# --------------------------------------------------------------------------- default encryption
def _s3_backend(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


@handles("s3", "GetBucketEncryption")
def _get_bucket_encryption(call: OfflineCall) -> dict[str, Any] | None:
    """S3 encrypts every bucket with SSE-S3 by default (since 2023-01-05): report it."""
    try:
        bucket = _s3_backend(call.account_id).get_bucket(call.params["Bucket"])
    except Exception:  # noqa: BLE001 - NoSuchBucket: let moto answer
        return None
    if bucket.encryption:
        return None
    return {
        "ServerSideEncryptionConfiguration": {
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": False,
                }
            ]
        }
    }


def _default_sse(call: OfflineCall) -> None:
    if call.response is not None and not call.response.get("ServerSideEncryption"):
        call.response["ServerSideEncryption"] = "AES256"


for _op in ("PutObject", "HeadObject", "GetObject", "CopyObject", "CompleteMultipartUpload"):
    handles("s3", _op, "after")(_default_sse)


# --------------------------------------------------------------------------- bucket policy
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, account_id: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        values = [v for vs in principal.values() for v in _as_list(vs)]
        return any(v == "*" or account_id in str(v) for v in values)
    return False


def _condition_holds(
    op: str, key: str, expected: Any, context: dict[str, str | None]
) -> bool | None:
    """True/False when the condition can be evaluated, None when it cannot (unknown key/op)."""
    if key.lower() not in context:
        return None
    actual = context[key.lower()]
    values = [str(v) for v in _as_list(expected)]
    if_exists = op.endswith("IfExists")
    base = op[: -len("IfExists")] if if_exists else op
    if base == "Null":
        want_null = values[0].lower() == "true"
        return (actual is None) == want_null
    if actual is None:
        if if_exists:
            return True
        return base.startswith("StringNot")  # a missing key never equals a value
    if base == "StringEquals":
        return actual in values
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringLike":
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base == "StringNotLike":
        return not any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base == "Bool":
        return actual.lower() in [v.lower() for v in values]
    return None


def _denied(call: OfflineCall, action: str, key: str, bucket_name: str) -> bool:
    try:
        bucket = _s3_backend(call.account_id).get_bucket(bucket_name)
    except Exception:  # noqa: BLE001 - missing bucket: moto answers NoSuchBucket
        return False
    raw = getattr(bucket, "policy", None)
    if not raw:
        return False
    try:
        policy = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        return False
    p = call.params
    context: dict[str, str | None] = {
        "s3:x-amz-server-side-encryption": p.get("ServerSideEncryption"),
        "s3:x-amz-server-side-encryption-aws-kms-key-id": p.get("SSEKMSKeyId"),
        "s3:x-amz-acl": p.get("ACL"),
        "s3:x-amz-storage-class": p.get("StorageClass"),
        "aws:securetransport": "true",
        "aws:principalaccount": call.account_id,
    }
    resource = f"arn:aws:s3:::{bucket_name}/{key}"
    for st in _as_list(policy.get("Statement")):
        if st.get("Effect") != "Deny" or not _principal_matches(
            st.get("Principal"), call.account_id
        ):
            continue
        actions = [a.lower() for a in _as_list(st.get("Action"))]
        if "Action" in st and not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
            continue
        if "NotAction" in st and any(
            fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(st["NotAction"])
        ):
            continue
        resources = _as_list(st.get("Resource"))
        if "Resource" in st and not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        verdicts = [
            _condition_holds(op, k, v, context)
            for op, block in (st.get("Condition") or {}).items()
            for k, v in block.items()
        ]
        if any(v is None for v in verdicts):
            continue  # cannot evaluate offline: do not enforce
        if all(verdicts):
            return True
    return False


def _enforce_write(call: OfflineCall) -> None:
    if _denied(call, "s3:PutObject", call.params.get("Key", ""), call.params.get("Bucket", "")):
        raise AwsError("AccessDenied", "Access Denied", 403)
    return None


for _op in ("PutObject", "CopyObject", "CreateMultipartUpload"):
    handles("s3", _op)(_enforce_write)

_patched = False


@handles("s3", "PutBucketPolicy", "after")
def _patch_moto_policy_check(call: OfflineCall) -> None:
    """Stop moto from denying on ``Deny`` statements whose conditions it cannot evaluate.

    moto treats a conditional Deny (e.g. "deny unless aws:SecureTransport") as an
    unconditional one and refuses every GET/PUT of the bucket. The conditions are
    evaluated here instead (writes), so moto only sees the unconditional statements.
    """
    global _patched
    if _patched:
        return
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original(self, action, resource)
        try:
            doc = json.loads(
                self.policy.decode() if isinstance(self.policy, bytes) else self.policy
            )
            statements = _as_list(doc.get("Statement"))
        except (ValueError, AttributeError):
            return original(self, action, resource)
        kept = [st for st in statements if not (st.get("Effect") == "Deny" and st.get("Condition"))]
        if len(kept) == len(statements):
            return original(self, action, resource)
        from moto.iam.access_control import IAMPolicy, PermissionResult

        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**doc, "Statement": kept})).is_action_permitted(
            action, resource
        )

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    _patched = True


# --------------------------------------------------------------------------- S3 Select
class SelectObjectContentEventStream:
    """The offline answer of ``SelectObjectContent``: iterate it like botocore's EventStream."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = events

    def __iter__(self) -> Any:
        return iter(self._events)

    def close(self) -> None:
        """Nothing to release offline."""


def _select_error(code: str, message: str) -> AwsError:
    return AwsError(code, message, 400)


def _run_select(data: bytes, expression: str, inp: dict[str, Any], out: dict[str, Any]) -> bytes:
    import duckdb

    compression = (inp.get("CompressionType") or "NONE").upper()
    if compression == "GZIP":
        data = gzip.decompress(data)
    elif compression == "BZIP2":
        data = bz2.decompress(data)
    m = re.search(r"\bFROM\s+S3Object(\[\*\])?(\.[\w.\[\]*]+)?", expression, re.I)
    if not m:
        raise _select_error(
            "InvalidQuery", "The query must read FROM S3Object (e.g. SELECT * FROM S3Object s)."
        )
    if m.group(2):
        raise _select_error(
            "InvalidQuery", "Offline S3 Select does not support JSON paths after S3Object[*]."
        )
    sql = expression[: m.start()] + "FROM s3object" + expression[m.end() :]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "object")
        with open(path, "wb") as fh:
            fh.write(data)
        con = duckdb.connect()
        try:
            if "CSV" in inp:
                c = inp["CSV"] or {}
                header = (c.get("FileHeaderInfo") or "NONE").upper()
                delim = c.get("FieldDelimiter") or ","
                quote = c.get("QuoteCharacter") or '"'
                text = data.decode("utf-8")
                first = next(csv.reader(io.StringIO(text), delimiter=delim, quotechar=quote), [])
                opts = f"delim={_sql_str(delim)}, quote={_sql_str(quote)}, all_varchar=true"
                if header == "USE":
                    source = f"read_csv({_sql_str(path)}, header=true, {opts})"
                else:
                    names = "[" + ", ".join(f"'_{i + 1}'" for i in range(len(first))) + "]"
                    source = f"read_csv({_sql_str(path)}, header={'true' if header == 'IGNORE' else 'false'}, names={names}, {opts})"
            elif "JSON" in inp:
                kind = ((inp["JSON"] or {}).get("Type") or "DOCUMENT").upper()
                fmt = "newline_delimited" if kind == "LINES" else "auto"
                source = f"read_json_auto({_sql_str(path)}, format={_sql_str(fmt)})"
            elif "Parquet" in inp:
                source = f"read_parquet({_sql_str(path)})"
            else:
                raise _select_error(
                    "InvalidRequest", "InputSerialization must give CSV, JSON or Parquet."
                )
            con.execute(f"CREATE VIEW s3object AS SELECT * FROM {source}")
            try:
                cur = con.execute(sql)
            except duckdb.Error as err:
                raise _select_error(
                    "InvalidQuery", f"The SQL expression could not be run: {err}"
                ) from err
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            con.close()
    buf = io.StringIO()
    if "JSON" in out:
        delim = (out["JSON"] or {}).get("RecordDelimiter") or "\n"
        for row in rows:
            buf.write(json.dumps(dict(zip(cols, row, strict=True)), default=str) + delim)
    else:
        c = out.get("CSV") or {}
        writer = csv.writer(
            buf,
            delimiter=c.get("FieldDelimiter") or ",",
            quotechar=c.get("QuoteCharacter") or '"',
            lineterminator=c.get("RecordDelimiter") or "\n",
            quoting=csv.QUOTE_ALL
            if (c.get("QuoteFields") or "ASNEEDED") == "ALWAYS"
            else csv.QUOTE_MINIMAL,
        )
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode("utf-8")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@handles("s3", "SelectObjectContent")
def _select(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    if (p.get("ExpressionType") or "SQL") != "SQL":
        raise _select_error("InvalidExpressionType", "The ExpressionType must be SQL.")
    try:
        key = _s3_backend(call.account_id).get_object(p["Bucket"], p["Key"])
    except Exception as err:  # noqa: BLE001
        raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404) from err
    if key is None:
        raise AwsError("NoSuchKey", "The specified key does not exist.", 404)
    data = key.value
    payload = _run_select(
        data, p["Expression"], p.get("InputSerialization") or {}, p.get("OutputSerialization") or {}
    )
    events: list[dict[str, Any]] = []
    for i in range(0, len(payload), 64 * 1024):
        events.append({"Records": {"Payload": payload[i : i + 64 * 1024]}})
    stats = {"BytesScanned": len(data), "BytesProcessed": len(data), "BytesReturned": len(payload)}
    events.append({"Stats": {"Details": stats}})
    events.append({"End": {}})
    return {"Payload": SelectObjectContentEventStream(events)}
