"""Benchmark: an offline built-in XGBoost training job against xgboost in-process (lab 03).

Trains the same model twice on 100,000 rows x 8 features, 200 rounds:

* ``direct``: ``xgboost.train`` in this process (2 threads, the vCPUs of ml.m5.large);
* ``offline job``: ``CreateTrainingJob`` with the built-in XGBoost image through an offline
  lab, from the call to ``Completed`` (upload, subprocess start, CSV parsing, training,
  model.tar.gz upload, polling).

Two ratios are printed, against the direct run:

* **first job**: the first job of a fresh session (a new interpreter opens a lab, makes and
  uploads its data as a notebook would, then trains; the job parent warms in the background
  from ``Lab()`` on). Target <= 1.5x.
* **warm**: a later job of the same session. Goal 1.3x.

Also the phases of the warm job. A script that prints: nothing is asserted.
Run: ``python benchmarks/training_xgboost.py [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from typing import Any

import numpy as np

ROWS, FEATURES, ROUNDS = 100_000, 8, 200
HPS = {
    "objective": "binary:logistic",
    "num_round": str(ROUNDS),
    "max_depth": "6",
    "eta": "0.2",
    "eval_metric": "auc",
}


def _data(rows: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    logits = x @ rng.normal(size=FEATURES) + 0.5 * np.sin(3 * x[:, 0])
    y = (logits + rng.normal(scale=0.5, size=rows) > 0).astype(np.float32)
    return x, y


def direct(x: np.ndarray, y: np.ndarray, rounds: int = ROUNDS) -> float:
    """Seconds to train the model in-process (parsing the same CSV bytes included)."""
    import pandas as pd
    import xgboost as xgb

    csv = _csv(x, y)
    t0 = time.perf_counter()
    frame = pd.read_csv(io.BytesIO(csv), header=None).to_numpy(dtype=np.float32)
    dtrain = xgb.DMatrix(frame[:, 1:], label=frame[:, 0], nthread=2)
    params = {k: v for k, v in HPS.items() if k != "num_round"}
    params.update({"nthread": 2, "max_depth": 6, "eta": 0.2})
    xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dtrain, "train")], verbose_eval=False)
    return time.perf_counter() - t0


def _csv(x: np.ndarray, y: np.ndarray) -> bytes:
    buf = io.StringIO()
    np.savetxt(buf, np.c_[y, x], delimiter=",", fmt="%.6g")
    return buf.getvalue().encode()


def first_job(rows: int, rounds: int) -> float:
    """Seconds of the first job of a fresh session, measured in a new interpreter."""
    out = subprocess.run(
        [sys.executable, __file__, "--first-job", "--rows", str(rows), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def _first_job_child(rows: int, rounds: int) -> None:
    """In the new interpreter: open a lab, make and upload data, time the first job."""
    from sagemaker.core import image_uris

    from mllab import Lab

    lab = Lab("bench-training-first")
    try:
        x, y = _data(rows)
        image = image_uris.retrieve("xgboost", lab.region, version="1.7-1")
        lab.client("s3").put_object(Bucket=lab.bucket, Key="first/train/train.csv", Body=_csv(x, y))
        sm = lab.client("sagemaker")
        t0 = time.perf_counter()
        _job(sm, lab, image, "bench-first", "first", rounds)
        elapsed = time.perf_counter() - t0
        status = sm.describe_training_job(TrainingJobName="bench-first")["TrainingJobStatus"]
        if status != "Completed":
            raise SystemExit(f"first job ended {status}")
    finally:
        lab.close()
    print(json.dumps({"seconds": elapsed}))


def offline_job(
    x: np.ndarray, y: np.ndarray, rounds: int = ROUNDS
) -> tuple[float, dict[str, float]]:
    """Seconds from CreateTrainingJob to Completed, and the secondary-status phases."""
    from sagemaker.core import image_uris

    from mllab import Lab

    lab = Lab("bench-training-xgboost")
    try:
        image = image_uris.retrieve("xgboost", lab.region, version="1.7-1")
        sm = lab.client("sagemaker")
        # warm-up: a small job first, as the direct run warms its imports (the offline plane
        # keeps a pre-warmed parent for job processes after the first job of a session)
        lab.client("s3").put_object(
            Bucket=lab.bucket, Key="warm/train/train.csv", Body=_csv(x[:500], y[:500])
        )
        _job(sm, lab, image, "bench-warm", "warm", rounds)
        lab.client("s3").put_object(Bucket=lab.bucket, Key="bench/train/train.csv", Body=_csv(x, y))
        t0 = time.perf_counter()
        _job(sm, lab, image, "bench-xgb", "bench", rounds)
        elapsed = time.perf_counter() - t0
        d = sm.describe_training_job(TrainingJobName="bench-xgb")
        if d["TrainingJobStatus"] != "Completed":
            raise SystemExit(f"job ended {d['TrainingJobStatus']}: {d.get('FailureReason')}")
        phases = {
            t["Status"]: (t["EndTime"] - t["StartTime"]).total_seconds()
            for t in d["SecondaryStatusTransitions"]
            if "EndTime" in t
        }
        return elapsed, phases
    finally:
        lab.close()


def _job(sm: Any, lab: Any, image: str, name: str, prefix: str, rounds: int = ROUNDS) -> None:
    """Start a training job on ``s3://<bucket>/<prefix>/train/`` and wait for it to end."""
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=lab.role_arn,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{lab.bucket}/{prefix}/train/",
                    }
                },
                "ContentType": "text/csv",
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{lab.bucket}/bench/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={**HPS, "num_round": str(rounds)},
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name)


def main() -> None:
    """Print the direct time, the first-job and warm-job times, their ratios and phases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 50 rounds")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--first-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows, rounds = (20_000, 50) if args.quick else (args.rows, args.rounds)
    if args.first_job:
        _first_job_child(rows, rounds)
        return
    x, y = _data(rows)
    direct(x[:2000], y[:2000], rounds)  # warm imports, as a notebook kernel would have them
    t_direct = direct(x, y, rounds)
    t_first = first_job(rows, rounds)
    t_job, phases = offline_job(x, y, rounds)
    print(f"data: {rows} rows x {FEATURES} features, {rounds} rounds, binary:logistic, 2 threads")
    print(f"direct xgboost.train (CSV parse + train):   {t_direct:.2f} s")
    print(f"first job of a session, -> Completed:       {t_first:.2f} s")
    print(f"warm job (a later one), -> Completed:       {t_job:.2f} s")
    print(f"first-job ratio: {t_first / t_direct:.2f}x (target <= 1.5x)")
    print(f"warm ratio:      {t_job / t_direct:.2f}x (goal 1.3x)")
    print("warm job phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))


if __name__ == "__main__":
    main()
