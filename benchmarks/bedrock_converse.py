"""Offline Bedrock overhead: Converse through boto3 vs the stand-in model called directly.

Times, on seeded prompts of about 1,000 and 8,000 input tokens (a retrieval-augmented prompt
built from generated product facts):

  A. the stand-in directly: ``mllab.models.foundation.generate(...)``;
  B. the offline ``bedrock-runtime`` Converse through boto3 in an open offline Lab (request
     validation, the cost guard's token estimate and settlement, quotas, metrics, logs);

and, to show where the difference goes, the offline handler called without botocore and the
cost guard (the API emulation alone: checks, quotas, metrics, logs). The guard's ledger writes
(a reservation before the call, its settlement after: SQLite commits) are most of B - A.

For embeddings:

  C. wordllama directly (``mllab.models.embeddings.embed``, 1,024 dimensions);
  D. ``InvokeModel`` on ``amazon.titan-embed-text-v2:0`` through boto3.

It prints the medians and the ratios B/A (target <= 1.5x) and D/C (target <= 1.3x). Nothing
is asserted: the machine is shared, so timings are noisy.

Usage: python benchmarks/bedrock_converse.py [--runs 7]
       python benchmarks/bedrock_converse.py --quick     # 3 runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

MODEL = "us.amazon.nova-micro-v1:0"


def facts(n: int, seed: int = 7) -> list[str]:
    """``n`` seeded product facts (sentences)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    things = ["tent", "stove", "backpack", "lantern", "sleeping bag", "kayak", "jacket", "boot"]
    colors = ["red", "green", "blue", "orange", "black", "grey"]
    out = []
    for i in range(n):
        t, c = things[i % len(things)], colors[int(rng.integers(len(colors)))]
        out.append(
            f"The {c} {t} model X{i} weighs {int(rng.integers(1, 40))} kilograms and carries a "
            f"{int(rng.integers(1, 10))} year warranty."
        )
    return out


def prompt(tokens_wanted: int) -> list[dict[str, Any]]:
    """A RAG prompt of about ``tokens_wanted`` input tokens."""
    from mllab.models import tokens

    sentences: list[str] = []
    n = 8
    while True:
        sentences = facts(n)
        text = (
            "<context>\n"
            + "\n".join(sentences)
            + "\n</context>\n\nQuestion: How heavy is model X3?"
        )
        if tokens.count(text) >= tokens_wanted:
            return [{"role": "user", "content": [{"text": text}]}]
        n = int(n * 1.5) + 1


def median_time(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="3 runs")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs

    import os
    import tempfile

    os.environ.setdefault("MLLAB_HOME", tempfile.mkdtemp(prefix="mllab-bench-"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

    from mllab import Lab
    from mllab.models import embeddings, foundation, tokens
    from mllab.offline.bedrock import runtime
    from mllab.offline.registry import OfflineCall

    lab = Lab("bench-bedrock", backend="offline", budget_usd=5.0)
    try:
        rt = lab.client("bedrock-runtime")

        def handler(op: str, params: dict[str, Any]) -> Any:
            call = OfflineCall(
                "bedrock-runtime", op, params, lab.region, lab.account_id, lab.session
            )
            return runtime._converse(call) if op == "Converse" else runtime._invoke_model(call)

        head = f"{'measurement':<36}{'direct ms':>10}{'handler ms':>11}{'boto3 ms':>10}{'ratio':>7}  target"
        print(head)
        for size in (1000, 8000):
            msgs = prompt(size)
            n = tokens.count(msgs[0]["content"][0]["text"])
            a = median_time(lambda m=msgs: foundation.generate(MODEL, m), runs)
            h = median_time(
                lambda m=msgs: handler("Converse", {"modelId": MODEL, "messages": m}), runs
            )
            b = median_time(lambda m=msgs: rt.converse(modelId=MODEL, messages=m), runs)
            label = f"Converse, {n} input tokens"
            print(
                f"{label:<36}{a * 1000:>10.1f}{h * 1000:>11.1f}{b * 1000:>10.1f}{b / a:>7.2f}  <= 1.5"
            )
        text = " ".join(facts(40))
        n = tokens.count(text)
        body = json.dumps({"inputText": text, "dimensions": 1024})
        emb = "amazon.titan-embed-text-v2:0"
        c = median_time(lambda: embeddings.embed([text], dimensions=1024), runs)
        h = median_time(
            lambda: handler("InvokeModel", {"modelId": emb, "body": body})["body"].read(), runs
        )
        d = median_time(lambda: rt.invoke_model(modelId=emb, body=body)["body"].read(), runs)
        label = f"Titan embeddings, {n} tokens"
        print(
            f"{label:<36}{c * 1000:>10.1f}{h * 1000:>11.1f}{d * 1000:>10.1f}{d / c:>7.2f}  <= 1.3"
        )
        print(f"runs per measurement: {runs} (median); ledger total: USD {lab.guard.spent():.6f}")
    finally:
        lab.close()


if __name__ == "__main__":
    main()
