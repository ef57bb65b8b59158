"""Two learners on one host: two labs at once, in separate processes, do not collide (issue 17).

What a JupyterHub node shares between users: the machine's ports, /tmp, the job parent's
mechanism, CPU. Each learner has their own ``MLLAB_HOME``. Each process here opens an offline
lab, trains a real (small) built-in XGBoost job through the job parent, writes S3 objects,
and closes; the test checks that each home holds only its own ledger rows and study results,
that both jobs completed through job parents of their own, and that neither left a process
behind. (Job folders come from ``tempfile.mkdtemp`` and local servers bind port 0, so
neither can collide by construction.)
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LEARNER = textwrap.dedent(
    """
    import io, json, os, sys
    import numpy as np
    from sagemaker.core import image_uris
    from mllab import Lab
    from mllab.checks import requirement
    from mllab.offline.sagemaker import jobproc

    who = sys.argv[1]
    lab = Lab("cohort-" + who)
    rng = np.random.default_rng(0 if who == "a" else 1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] > 0).astype(int)
    buf = io.StringIO()
    np.savetxt(buf, np.c_[y, x], delimiter=",", fmt="%.5f")
    s3 = lab.client("s3")
    s3.put_object(Bucket=lab.bucket, Key="cohort/train/train.csv", Body=buf.getvalue().encode())
    sm = lab.client("sagemaker")
    name = lab.job_name("cohort-" + who)
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image_uris.retrieve("xgboost", lab.region, version="1.7-1"),
            "TrainingInputMode": "File",
        },
        RoleArn=lab.role_arn,
        InputDataConfig=[{
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{lab.bucket}/cohort/train/"}},
            "ContentType": "text/csv",
        }],
        OutputDataConfig={"S3OutputPath": f"s3://{lab.bucket}/cohort/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={"objective": "binary:logistic", "num_round": "10"},
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name)
    d = sm.describe_training_job(TrainingJobName=name)
    with requirement(lab, "trained") as req:
        req.expect(d["TrainingJobStatus"] == "Completed", d.get("FailureReason", "not completed"))
    zygote_pid = jobproc._ZYGOTE._proc.pid if jobproc._ZYGOTE is not None else None
    lab.close()
    print(json.dumps({
        "status": d["TrainingJobStatus"], "job": name,
        "zygote": zygote_pid, "pid": os.getpid(),
    }))
    """
)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql))
    finally:
        con.close()


@pytest.mark.slow
def test_two_labs_at_once_in_separate_processes(tmp_path: Path) -> None:
    homes = {who: tmp_path / f"home-{who}" for who in ("a", "b")}
    script = tmp_path / "learner.py"
    script.write_text(LEARNER)
    procs = {}
    for who, home in homes.items():
        home.mkdir()
        env = {
            k: v
            for k, v in __import__("os").environ.items()
            if not k.startswith(("AWS_", "MLLAB_"))
        }
        env.update(MLLAB_HOME=str(home), MLLAB_BACKEND="offline", MLLAB_ZYGOTE="1")
        procs[who] = subprocess.Popen(
            [sys.executable, str(script), who],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for who, proc in procs.items():
        out, err = proc.communicate(timeout=900)  # hang guard, not a speed check
        assert proc.returncode == 0, f"learner {who} failed:\n{err[-3000:]}"
        results[who] = json.loads(out.strip().splitlines()[-1])

    a, b = results["a"], results["b"]
    assert a["status"] == b["status"] == "Completed"
    # each learner had a job parent of their own, gone with their process
    assert a["zygote"] and b["zygote"] and a["zygote"] != b["zygote"]
    for info in (a, b):
        for pid in (info["pid"], info["zygote"]):
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
            ), f"process {pid} outlived its lab"

    # ledgers and study stores are per home, and hold only their own lab
    for who, home in homes.items():
        ledger = home / "ledger.sqlite"
        assert ledger.exists(), f"no ledger in {home}"
        labs = {r[0] for r in _rows(ledger, "SELECT DISTINCT lab FROM charges")}
        assert labs == {f"cohort-{who}"}, labs
        study = home / "study.sqlite"
        assert study.exists(), f"no study store in {home}"
        results_labs = {r[0] for r in _rows(study, "SELECT DISTINCT lab FROM lab_results")}
        assert results_labs == {f"cohort-{who}"}, results_labs
