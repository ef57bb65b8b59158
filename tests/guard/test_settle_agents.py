"""Lambda Invoke is priced at its worst case before it is sent and settled to the REPORT
line's Billed Duration x Memory Size after the answer."""

from __future__ import annotations

import base64
import re
from typing import Any

from mllab.guard.declarations import lambda_
from mllab.offline.lambda_ import zip_source

CODE = "def h(event, context):\n    return {'ok': True}\n"


def _usd(memory_mb: float, billed_ms: int) -> float:
    snap = lambda_.prices()["lambda"]
    return snap["usd_per_request"] + memory_mb / 1024 * billed_ms / 1000 * snap["usd_per_gb_second"]


def test_settle_reads_an_aws_log_tail() -> None:
    report = (
        "REPORT RequestId: 3f1c\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 40 MB\tInit Duration: 150.00 ms"
    )
    tail = base64.b64encode(f"START RequestId: 3f1c\nEND RequestId: 3f1c\n{report}\n".encode())
    parsed = {"LogResult": tail.decode(), "ResponseMetadata": {"RequestId": "3f1c"}}
    actual = lambda_.settle_invoke({"FunctionName": "f"}, parsed)
    assert actual is not None and abs(actual - _usd(512, 13)) < 1e-15
    # no tail and no offline record (AWS without LogType=Tail): the estimate stands
    assert lambda_.settle_invoke({"FunctionName": "f"}, {"ResponseMetadata": {}}) is None
    # Event invocations run (and retry) after the answer
    assert lambda_.settle_invoke({"InvocationType": "Event"}, parsed) is None


def test_invoke_settles_to_billed_duration_offline(lab: Any) -> None:
    lam = lab.client("lambda")
    lam.create_function(
        FunctionName="settled", Runtime="python3.12", Role=lab.role_arn, Handler="lambda_function.h",
        Code={"ZipFile": zip_source(CODE)}, MemorySize=256, Timeout=30,
    )  # fmt: skip
    tail = lam.invoke(FunctionName="settled", LogType="Tail")
    text = base64.b64decode(tail["LogResult"]).decode()
    billed = [int(m) for m in re.findall(r"Billed Duration: (\d+) ms", text)]
    lam.invoke(FunctionName="settled", Payload=b"{}")  # no tail: read from the offline plane
    lam.invoke(FunctionName="settled", InvocationType="Event")
    rows = [r for r in lab.ledger.rows(run=lab.run_id) if r.operation == "Invoke"]
    assert len(rows) == 3
    worst = _usd(256, 30_000)
    assert all(abs(r.estimate_usd - worst) < 1e-12 for r in rows[:2])
    assert (
        rows[0].actual_usd is not None and abs(rows[0].actual_usd - _usd(256, billed[-1])) < 1e-15
    )
    assert rows[1].actual_usd is not None and 0 < rows[1].actual_usd < worst
    assert rows[2].actual_usd is None  # Event: the worst case (with two retries) stands
    spent = sum(r.actual_usd if r.actual_usd is not None else r.estimate_usd for r in rows)
    assert abs(lab.cost()["spent_usd"] - spent) < 1e-12
