"""Offline never reads the user's AWS configuration and never leaves the machine."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import boto3
    from mllab import Lab, CostGuardError
    with Lab("isolation") as lab:
        creds = lab.session.get_credentials()
        assert creds.access_key == "testing", creds.access_key
        assert boto3.client("s3")._request_signer._credentials.access_key == "testing"
        s3 = boto3.client("s3")
        s3.put_object(Bucket=lab.bucket, Key="k.txt", Body=b"offline")
        assert s3.get_object(Bucket=lab.bucket, Key="k.txt")["Body"].read() == b"offline"
        assert lab.client("sts").get_caller_identity()["Account"] == "123456789012"
        print("OK")
    """
)


def test_bogus_profile_real_looking_keys_and_dead_proxy_do_not_matter(tmp_path: Path) -> None:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\\naws_access_key_id = AKIAREALLOOKING00000\\naws_secret_access_key = real\\n"
    )
    (aws / "config").write_text("[default]\\nregion = eu-west-1\\n")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "MLLAB_HOME": str(tmp_path / "mllab"),
        "AWS_PROFILE": "does-not-exist",
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "AWS_ACCESS_KEY_ID": "AKIAREALLOOKING00000",
        "AWS_SECRET_ACCESS_KEY": "real",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "MLLAB_BACKEND": "offline",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("OK")


def test_environment_restored_after_close(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mllab import Lab

    monkeypatch.setenv("AWS_PROFILE", "learner-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSER")
    with Lab("env"):
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_ACCESS_KEY_ID"] != "AKIAUSER"
    assert os.environ["AWS_PROFILE"] == "learner-profile"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAUSER"


def test_offline_state_is_wiped_when_the_last_lab_closes() -> None:
    from mllab import Lab

    with Lab("one") as lab:
        lab.client("s3").put_object(Bucket=lab.bucket, Key="x", Body=b"1")
    with Lab("two") as lab:
        assert lab.client("s3").list_objects_v2(Bucket=lab.bucket).get("KeyCount") == 0
