"""Offline S3 data-lake features: lifecycle validation and cost, encryption, bucket policies, S3 Select."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline import clock, s3lake


@pytest.fixture(autouse=True)
def _fresh_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


def _rule(**kw: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"ID": "r1", "Status": "Enabled", "Filter": {"Prefix": "logs/"}}
    rule.update(kw)
    return rule


def _put_rules(lab: Any, *rules: dict[str, Any]) -> None:
    lab.client("s3").put_bucket_lifecycle_configuration(
        Bucket=lab.bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def _error(lab: Any, *rules: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        _put_rules(lab, *rules)
    return err.value.response["Error"]


def test_lifecycle_ia_needs_30_days(lab: Any) -> None:
    e = _error(lab, _rule(Transitions=[{"Days": 10, "StorageClass": "STANDARD_IA"}]))
    assert e["Code"] == "InvalidArgument"
    assert (
        e["Message"]
        == "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"
    )
    e = _error(lab, _rule(Transitions=[{"Days": 29, "StorageClass": "ONEZONE_IA"}]))
    assert "ONEZONE_IA" in e["Message"]
    # Glacier classes have no minimum age for the transition itself
    _put_rules(lab, _rule(Transitions=[{"Days": 0, "StorageClass": "GLACIER"}]))


def test_lifecycle_ordering_gap_expiration_and_shape(lab: Any) -> None:
    e = _error(
        lab,
        _rule(
            Transitions=[
                {"Days": 30, "StorageClass": "STANDARD_IA"},
                {"Days": 45, "StorageClass": "GLACIER"},
            ]
        ),
    )
    assert e["Code"] == "InvalidArgument"
    assert "must be 30 days more than" in e["Message"] and "'GLACIER'" in e["Message"]
    e = _error(
        lab,
        _rule(
            Transitions=[
                {"Days": 30, "StorageClass": "GLACIER"},
                {"Days": 90, "StorageClass": "STANDARD_IA"},
            ]
        ),
    )
    assert e["Code"] == "InvalidArgument" and "GLACIER to STANDARD_IA" in e["Message"]
    e = _error(
        lab,
        _rule(Transitions=[{"Days": 90, "StorageClass": "GLACIER"}], Expiration={"Days": 60}),
    )
    assert e["Message"] == (
        "'Days' in the Expiration action for filter '(prefix=logs/)' must be greater than 'Days' in the Transition action"
    )
    e = _error(
        lab,
        _rule(
            Transitions=[{"Days": 30, "Date": "2030-01-01T00:00:00Z", "StorageClass": "GLACIER"}]
        ),
    )
    assert e["Code"] == "MalformedXML"
    e = _error(lab, _rule(Expiration={"Days": 30}), _rule(Expiration={"Days": 40}))
    assert e["Code"] == "InvalidArgument" and "unique" in e["Message"]
    e = _error(lab, _rule())
    assert e["Code"] == "InvalidRequest"
    _put_rules(
        lab,
        _rule(
            Transitions=[
                {"Days": 30, "StorageClass": "STANDARD_IA"},
                {"Days": 60, "StorageClass": "GLACIER_IR"},
                {"Days": 180, "StorageClass": "DEEP_ARCHIVE"},
            ],
            Expiration={"Days": 365},
        ),
    )
    got = lab.client("s3").get_bucket_lifecycle_configuration(Bucket=lab.bucket)["Rules"]
    assert [t["StorageClass"] for t in got[0]["Transitions"]] == [
        "STANDARD_IA",
        "GLACIER_IR",
        "DEEP_ARCHIVE",
    ]


def test_lifecycle_cost_estimate_against_direct_computation(lab: Any) -> None:
    s3 = lab.client("s3")
    size = 10 * 1024 * 1024  # 10 MiB
    for i in range(3):
        s3.put_object(Bucket=lab.bucket, Key=f"logs/{i}.log", Body=b"x" * size)
    s3.put_object(Bucket=lab.bucket, Key="keep/a.bin", Body=b"x" * size)
    s3.put_object(
        Bucket=lab.bucket, Key="logs/tiny.log", Body=b"x" * 1000
    )  # < 128 KiB: never transitioned
    _put_rules(
        lab,
        _rule(
            Transitions=[
                {"Days": 30, "StorageClass": "STANDARD_IA"},
                {"Days": 90, "StorageClass": "GLACIER"},
            ]
        ),
    )
    est = s3lake.lifecycle_cost_estimate(lab.session, lab.bucket, months=12)
    gb = size / 1024**3
    p = s3lake.STORAGE_PRICES
    standard = (4 * gb + 1000 / 1024**3) * p["STANDARD"]["gb_month"] * 12
    per_log = gb * (
        p["STANDARD"]["gb_month"] * 30 / 30
        + p["STANDARD_IA"]["gb_month"] * 60 / 30
        + p["GLACIER"]["gb_month"] * 270 / 30
    )
    with_rules = (
        3 * per_log
        + (gb + 1000 / 1024**3) * p["STANDARD"]["gb_month"] * 12
        + 3 * (p["STANDARD_IA"]["transition_per_1000"] + p["GLACIER"]["transition_per_1000"]) / 1000
    )
    assert est["objects"] == 5
    assert est["transition_requests"] == 6
    assert est["standard_only_usd"] == pytest.approx(standard, rel=1e-6, abs=1e-8)
    assert est["with_rules_usd"] == pytest.approx(with_rules, rel=1e-6, abs=1e-8)
    assert est["savings_usd"] == pytest.approx(standard - with_rules, rel=1e-6, abs=1e-8)
    assert est["savings_usd"] > 0


def test_early_deletion_charge_when_expiring_inside_minimum_duration(lab: Any) -> None:
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="logs/a", Body=b"x" * (1024 * 1024))
    rules = [
        _rule(Transitions=[{"Days": 0, "StorageClass": "DEEP_ARCHIVE"}], Expiration={"Days": 30})
    ]
    est = s3lake.lifecycle_cost_estimate(lab.session, lab.bucket, months=12, rules=rules)
    gb = 1 / 1024
    early = gb * s3lake.STORAGE_PRICES["DEEP_ARCHIVE"]["gb_month"] * 150 / 30
    assert est["early_deletion_usd"] == pytest.approx(early, rel=1e-6, abs=1e-8)


def test_default_encryption_reported(lab: Any) -> None:
    s3 = lab.client("s3")
    assert s3.put_object(Bucket=lab.bucket, Key="a", Body=b"1")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=lab.bucket, Key="a")["ServerSideEncryption"] == "AES256"
    rule = s3.get_bucket_encryption(Bucket=lab.bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    key_arn = lab.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=lab.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    }
                }
            ]
        },
    )
    put = s3.put_object(Bucket=lab.bucket, Key="b", Body=b"2")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == key_arn
    assert s3.get_object(Bucket=lab.bucket, Key="b")["ServerSideEncryption"] == "aws:kms"


def test_bucket_policy_denying_unencrypted_puts_is_enforced(lab: Any) -> None:
    s3 = lab.client("s3")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyNotKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{lab.bucket}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{lab.bucket}", f"arn:aws:s3:::{lab.bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    s3.put_bucket_policy(Bucket=lab.bucket, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=lab.bucket, Key="plain", Body=b"x")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.put_object(Bucket=lab.bucket, Key="sse-s3", Body=b"x", ServerSideEncryption="AES256")
    ok = s3.put_object(Bucket=lab.bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert ok["ServerSideEncryption"] == "aws:kms"
    # reads over HTTPS are not caught by the conditional deny (moto alone would refuse them)
    assert s3.get_object(Bucket=lab.bucket, Key="kms")["Body"].read() == b"x"


def test_s3_select_csv_json_parquet(lab: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="t.csv", Body=b"name,age\nann,31\nbob,25\ncid,40\n")

    def select(
        key: str, expr: str, inp: dict[str, Any], out: dict[str, Any] | None = None
    ) -> bytes:
        resp = s3.select_object_content(
            Bucket=lab.bucket,
            Key=key,
            Expression=expr,
            ExpressionType="SQL",
            InputSerialization=inp,
            OutputSerialization=out or {"CSV": {}},
        )
        chunks, stats = [], None
        for ev in resp["Payload"]:
            if "Records" in ev:
                chunks.append(ev["Records"]["Payload"])
            if "Stats" in ev:
                stats = ev["Stats"]["Details"]
        assert stats is not None
        return b"".join(chunks)

    got = select(
        "t.csv",
        "SELECT s.name FROM S3Object s WHERE CAST(s.age AS INT) > 30",
        {"CSV": {"FileHeaderInfo": "USE"}},
    )
    assert got == b"ann\ncid\n"
    got = select(
        "t.csv",
        "SELECT s._1 FROM S3Object s WHERE s._2 = '25'",
        {"CSV": {"FileHeaderInfo": "IGNORE"}},
    )
    assert got == b"bob\n"
    s3.put_object(Bucket=lab.bucket, Key="t.json", Body=b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    got = select(
        "t.json",
        "SELECT s.b FROM S3Object[*] s WHERE s.a = 2",
        {"JSON": {"Type": "LINES"}},
        {"JSON": {}},
    )
    assert json.loads(got) == {"b": "y"}
    buf = io.BytesIO()
    pq.write_table(pa.table({"v": [1, 2, 3]}), buf)
    s3.put_object(Bucket=lab.bucket, Key="t.parquet", Body=buf.getvalue())
    assert select("t.parquet", "SELECT SUM(v) FROM S3Object", {"Parquet": {}}) == b"6\n"
