"""Offline Lab() start-up against bare moto, each from a fresh interpreter, as a ratio.

Measures, in fresh processes (so import time counts, as it does for a learner's kernel):
  A. ``import boto3, moto; mock_aws().start(); boto3.client("s3")``  (bare moto)
  B. ``from mllab import Lab; Lab("bench").client("s3")``  (the lab: moto + guard + bucket + role
     + offline plane handlers)
and prints the medians and B/A. Target (issue 2): within 2x.

Usage: python benchmarks/lab_startup.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

BARE = """
import time; t = time.perf_counter()
import boto3, moto
m = moto.mock_aws(); m.start()
boto3.client("s3", region_name="us-east-1").list_buckets()
print(time.perf_counter() - t)
"""

LAB = """
import time; t = time.perf_counter()
from mllab import Lab
lab = Lab("bench")
lab.client("s3").list_buckets()
print(time.perf_counter() - t)
"""


def measure(code: str, runs: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(runs):
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "MLLAB_HOME": home,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
        }
        measure(LAB, 1, env)  # warm the file cache for both
        bare = measure(BARE, runs, env)
        lab = measure(LAB, runs, env)
    b, l_ = statistics.median(bare), statistics.median(lab)
    print(f"bare moto start-up : median {b:.3f} s over {runs} runs")
    print(f"Lab() start-up     : median {l_:.3f} s over {runs} runs")
    print(f"ratio Lab/bare     : {l_ / b:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
