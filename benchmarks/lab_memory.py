"""Peak memory of one learner per lab: what an instructor sizes a JupyterHub node by.

Runs each lab's worked solution headless (``mllab run NN --solution``, a fresh kernel, offline)
and samples the whole process tree it starts (runner, kernel, the job parent and its job
processes, any local servers) every 0.2 s from /proc. Prints, per lab, the peak RSS of the
kernel alone and the peak of the tree's sum (shared pages counted once per process, so the
sum overstates what the node needs; the kernel figure understates it). Nothing is asserted.

Usage: python benchmarks/lab_memory.py [--labs 00 01 ...] [--quick]
       (--quick: lab 00 only)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _labs() -> list[str]:
    return sorted(p.name[:2] for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _measure(lab: str) -> tuple[float, float, float, int]:
    """Run one lab; return (kernel peak MiB, tree peak MiB, seconds, exit code)."""
    import psutil

    env = dict(os.environ, MLLAB_HOME=tempfile.mkdtemp(prefix=f"mllab-mem-{lab}-"))
    mllab = Path(sys.executable).with_name("mllab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(mllab), "run", lab, "--solution"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peaks = {"kernel": 0, "tree": 0}
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    cmd = " ".join(p.cmdline())
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                if "ipykernel" in cmd:
                    peaks["kernel"] = max(peaks["kernel"], rss)
            peaks["tree"] = max(peaks["tree"], total)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    done.set()
    sampler.join()
    mib = 1024 * 1024
    return peaks["kernel"] / mib, peaks["tree"] / mib, time.perf_counter() - t0, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="*", default=None, help="lab numbers (default: all)")
    parser.add_argument("--quick", action="store_true", help="lab 00 only")
    args = parser.parse_args()
    labs = ["00"] if args.quick else (args.labs or _labs())
    print(f"{'lab':>4} {'kernel peak MiB':>16} {'tree peak MiB':>14} {'seconds':>8}  result")
    for lab in labs:
        kernel, tree, seconds, code = _measure(lab)
        result = "ok" if code == 0 else f"exit {code}"
        print(f"{lab:>4} {kernel:16.0f} {tree:14.0f} {seconds:8.1f}  {result}")


if __name__ == "__main__":
    main()
