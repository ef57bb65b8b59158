"""InvokeEndpoint round trip offline vs calling the model's predict directly (target <= 3x).

Deploys an XGBoost model (built-in algorithm image) on an offline endpoint and times, per
request, ``sagemaker-runtime.invoke_endpoint`` (boto3 -> cost guard -> offline plane ->
the algorithm's ``predict``) against the same ``predict`` called directly on the loaded
model with the same body. Prints both and their ratio for a 1-row and a 100-row payload; the two are called
alternately so both see the same machine state, and XGBoost runs one thread.

Run: ``python benchmarks/invoke_endpoint.py [--quick]`` (about 20 s, ``--quick`` a few; nothing
is left running).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tarfile
import tempfile
import time


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _interleaved(a: object, b: object, n: int) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b``, called alternately ``n`` times each."""
    for _ in range(5):
        a()  # type: ignore[operator]
        b()  # type: ignore[operator]
    ta, tb = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        a()  # type: ignore[operator]
        t1 = time.perf_counter()
        b()  # type: ignore[operator]
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return statistics.median(ta), statistics.median(tb)


def main(n: int = 200) -> float:
    """Run the benchmark; return the worst ratio."""
    os.environ.setdefault("MLLAB_HOME", tempfile.mkdtemp(prefix="mllab-bench-"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before xgboost loads: no OpenMP spinning
    import numpy as np
    import xgboost as xgb

    from mllab import Lab
    from mllab.offline.sagemaker import hosting

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 8))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 4}, xgb.DMatrix(X, label=y), 50
    )
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    worst = 0.0
    with Lab("bench-invoke", backend="offline") as lab:
        lab.client("s3").put_object(
            Bucket=lab.bucket,
            Key="bench/model.tar.gz",
            Body=_tar({"xgboost-model": bytes(booster.save_raw("ubj"))}),
        )
        sm = lab.client("sagemaker")
        sm.create_model(
            ModelName="bench",
            ExecutionRoleArn=lab.role_arn,
            PrimaryContainer={
                "Image": image,
                "ModelDataUrl": f"s3://{lab.bucket}/bench/model.tar.gz",
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName="bench",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="bench", WaiterConfig={"Delay": 1})
        served = (
            hosting.get_runtime(lab.account_id, lab.region, "bench").variants["AllTraffic"].served
        )
        # One XGBoost thread: OpenMP start-up and spinning otherwise dominate (and blur) both timings.
        served.model["booster"].set_param({"nthread": 1})
        runtime = lab.client("sagemaker-runtime")
        print(f"{'payload':>10} {'direct ms':>10} {'invoke ms':>10} {'ratio':>7}")
        for rows in (1, 100):
            body = "\n".join(",".join(f"{v:.5f}" for v in r) for r in X[:rows]).encode()

            def direct(body: bytes = body) -> None:
                served.module.predict(served.model, body, "text/csv", "text/csv")

            def invoke(body: bytes = body) -> None:
                runtime.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv")[
                    "Body"
                ].read()

            d, i = _interleaved(direct, invoke, n)
            worst = max(worst, i / d)
            print(f"{rows:>6} row {d * 1e3:>10.3f} {i * 1e3:>10.3f} {i / d:>6.2f}x")
    print(f"worst InvokeEndpoint/direct ratio: {worst:.2f}x (target <= 3x)")
    return worst


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="calls per payload size")
    parser.add_argument("--quick", action="store_true", help="30 calls per payload size")
    args = parser.parse_args()
    main(30 if args.quick else args.requests)
