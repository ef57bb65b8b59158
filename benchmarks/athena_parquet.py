"""Offline Athena over partitioned Parquet in moto S3 against DuckDB on local files, as a ratio.

Generates a seeded events data set (numpy), writes it as Hive-partitioned Parquet both to
moto S3 (an offline Lab's bucket, written straight into moto's store) and to a local folder, registers the table with Athena
DDL (``CREATE EXTERNAL TABLE ... STORED AS PARQUET`` + ``MSCK REPAIR TABLE``), then times:

  A. DuckDB alone: the query over the local files (``read_parquet(..., hive_partitioning)``);
  B. the offline Athena: StartQueryExecution -> polling GetQueryExecution -> SUCCEEDED
     (parse, catalog, Lake Formation check, pruning, scan accounting, DuckDB, results CSV).

and prints the medians, B/A (target <= 2x) and what Athena would bill.

Usage: python benchmarks/athena_parquet.py [--gb 1.0] [--runs 3]
       python benchmarks/athena_parquet.py --quick        # 0.05 GB, 1 run (fixed costs dominate)
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time

QUERY = (
    "SELECT category, count(*) AS n, avg(amount) AS avg_amount, sum(qty) AS qty "
    "FROM events WHERE dt >= '2024-01-04' GROUP BY category ORDER BY category"
)


def generate(gb: float, days: int, seed: int = 42):  # noqa: ANN201 - generator of (day, table)
    """Yield (day, pyarrow.Table) partitions totalling about ``gb`` GB of Parquet."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    bytes_per_row = 36  # ~ what the columns below take in Parquet (random data barely compresses)
    rows_per_day = max(1000, int(gb * 1e9 / bytes_per_row / days))
    cats = np.array(["books", "games", "music", "garden", "toys", "food", "tools", "sport"])
    for d in range(days):
        n = rows_per_day
        yield (
            f"2024-01-{d + 1:02d}",
            pa.table(
                {
                    "event_id": np.arange(d * n, (d + 1) * n, dtype="int64"),
                    "user_id": rng.integers(0, 10_000_000, n, dtype="int64"),
                    "category": pa.DictionaryArray.from_arrays(
                        rng.integers(0, len(cats), n).astype("int32"), cats
                    ),
                    "amount": rng.gamma(2.0, 20.0, n),
                    "qty": rng.integers(1, 20, n, dtype="int64"),
                    "score": rng.standard_normal(n),
                    "lat": rng.uniform(-90, 90, n),
                }
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gb", type=float, default=1.0, help="size of the Parquet data set (default 1 GB)"
    )
    parser.add_argument("--days", type=int, default=8, help="number of dt= partitions")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="0.05 GB and 1 run")
    args = parser.parse_args()
    if args.quick:
        args.gb, args.runs = 0.05, 1

    import duckdb
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as local:
        os.environ["MLLAB_HOME"] = home
        from mllab import Lab

        lab = Lab("bench-athena", budget_usd=50)
        try:
            from mllab.offline.athena.catalog import put_object

            total = 0
            t = time.perf_counter()
            for day, tbl in generate(args.gb, args.days):
                buf = io.BytesIO()
                pq.write_table(tbl, buf, compression="snappy", row_group_size=1_000_000)
                data = buf.getvalue()
                total += len(data)
                folder = os.path.join(local, "events", f"dt={day}")
                os.makedirs(folder)
                with open(os.path.join(folder, "part-0.parquet"), "wb") as fh:
                    fh.write(data)
                # straight into moto's store: S3 PutObject of 100+ MB bodies through botocore
                # takes minutes and is not what this benchmark measures
                put_object(
                    lab.account_id, f"s3://{lab.bucket}/bench/events/dt={day}/part-0.parquet", data
                )
                del data, buf
            print(
                f"data: {total / 1e9:.2f} GB of Parquet in {args.days} partitions ({time.perf_counter() - t:.1f} s to generate)"
            )

            ath = lab.client("athena")

            def athena(sql: str) -> dict:
                qid = ath.start_query_execution(
                    QueryString=sql,
                    QueryExecutionContext={"Database": "bench"},
                    ResultConfiguration={"OutputLocation": f"s3://{lab.bucket}/athena/"},
                )["QueryExecutionId"]
                while True:
                    qe = ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
                    if qe["Status"]["State"] not in ("QUEUED", "RUNNING"):
                        return qe
                    time.sleep(0.005)

            lab.client("glue").create_database(DatabaseInput={"Name": "bench"})
            ddl = (
                "CREATE EXTERNAL TABLE events (event_id bigint, user_id bigint, category string, "
                "amount double, qty bigint, score double, lat double) PARTITIONED BY (dt string) "
                f"STORED AS PARQUET LOCATION 's3://{lab.bucket}/bench/events/'"
            )
            for sql in (ddl, "MSCK REPAIR TABLE events"):
                qe = athena(sql)
                assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]

            local_sql = QUERY.replace(
                "FROM events",
                f"FROM read_parquet('{local}/events/*/*.parquet', hive_partitioning=true)",
            )
            duck_times, ath_times = [], []
            expected = None
            scanned = 0
            for _ in range(args.runs):
                t = time.perf_counter()
                con = duckdb.connect()
                expected = con.execute(local_sql).fetchall()
                con.close()
                duck_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                qe = athena(QUERY)
                ath_times.append(time.perf_counter() - t)
                assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]
                scanned = qe["Statistics"]["DataScannedInBytes"]
            got = ath.get_query_results(QueryExecutionId=qe["QueryExecutionId"])["ResultSet"][
                "Rows"
            ][1:]
            assert [r["Data"][0]["VarCharValue"] for r in got] == [str(r[0]) for r in expected]
            d, a = statistics.median(duck_times), statistics.median(ath_times)
            print(f"query: {QUERY}")
            print(f"DuckDB on local files : median {d:.3f} s over {args.runs} runs")
            print(f"offline Athena        : median {a:.3f} s over {args.runs} runs")
            print(f"ratio Athena/DuckDB   : {a / d:.2f}x (target <= 2x)")
            print(
                f"DataScannedInBytes    : {scanned / 1e6:.1f} MB of {total / 1e6:.1f} MB "
                f"({scanned / total:.0%}: partition pruning + column chunks) -> "
                f"${max(scanned, 10_000_000) / 1e12 * 5:.6f} on AWS"
            )
        finally:
            lab.close()


if __name__ == "__main__":
    main()
