"""Offline Athena API: StartQueryExecution and friends, with results like Athena's (lab 01).

``StartQueryExecution`` checks the workgroup and the output location synchronously (as
Athena does), then runs the statement in a background thread: ``QUEUED`` -> ``RUNNING`` ->
``SUCCEEDED`` / ``FAILED`` / ``CANCELLED``. A SELECT's results are written to
``<OutputLocation>/<QueryExecutionId>.csv`` (header row, every value in double quotes,
NULL as an empty unquoted field) with ``<id>.csv.metadata`` beside it (JSON of the
ColumnInfo here; AWS writes a binary encoding of the same). DDL writes ``<id>.txt``.
``GetQueryResults`` pages the rows (header row first for SELECT; ``MaxResults`` <= 1000;
``NextToken``). ``GetQueryExecution`` reports ``DataScannedInBytes`` (see
:mod:`mllab.offline.athena.engine`), which the cost guard turns into dollars.

Executions live beside moto's Athena backend (moto's own query handling is bypassed).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.athena import catalog as cat
from mllab.offline.athena.engine import Context, QueryError
from mllab.offline.registry import AwsError, OfflineCall, handles

MAX_RESULTS = 1000
ENGINE = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}


@dataclass
class Execution:
    """One query execution."""

    id: str
    query: str
    workgroup: str
    database: str | None
    catalog: str
    output_dir: str
    principal: str | None
    cutoff: int | None
    submitted: dt.datetime
    state: str = "QUEUED"
    reason: str | None = None
    category: int | None = None
    error_type: int | None = None
    completed: dt.datetime | None = None
    statement_type: str = "DML"
    substatement: str = "SELECT"
    scanned: int = 0
    engine_ms: int = 0
    queue_ms: int = 0
    planning_ms: int = 0
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    header: bool = True
    ext: str = "csv"
    update_count: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    ctx: Context | None = None

    @property
    def output_location(self) -> str:
        return f"{self.output_dir.rstrip('/')}/{self.id}.{self.ext}"

    def describe(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
            status["AthenaError"] = {
                "ErrorCategory": self.category or 2,
                "ErrorType": self.error_type or 1006,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        total = self.engine_ms + self.queue_ms
        out: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "SubstatementType": self.substatement,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {
                "Catalog": self.catalog,
                **({"Database": self.database} if self.database else {}),
            },
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": self.engine_ms,
                "DataScannedInBytes": int(self.scanned),
                "TotalExecutionTimeInMillis": total,
                "QueryQueueTimeInMillis": self.queue_ms,
                "QueryPlanningTimeInMillis": self.planning_ms,
                "ServicePreProcessingTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": dict(ENGINE),
        }
        return out


def _store(account_id: str, region: str) -> dict[str, Execution]:
    from moto.athena.models import athena_backends

    be = athena_backends[account_id][region]
    store = getattr(be, "_mllab_executions", None)
    if store is None:
        store = {}
        be._mllab_executions = store  # type: ignore[attr-defined]
    return store


def _backend(account_id: str, region: str) -> Any:
    from moto.athena.models import athena_backends

    return athena_backends[account_id][region]


def get_execution(account_id: str, region: str, query_id: str) -> Execution | None:
    """Return an offline execution by id (checks and tests read it)."""
    return _store(account_id, region).get(query_id)


def _invalid(msg: str) -> AwsError:
    return AwsError("InvalidRequestException", msg)


# --------------------------------------------------------------------------- handlers


@handles("athena", "StartQueryExecution")
def start_query_execution(call: OfflineCall) -> dict[str, Any]:
    """Start a query (Athena bills $5/TB scanned, 10 MB minimum per query)."""
    from mllab.offline import lakeformation

    p = call.params
    wg_name = str(p.get("WorkGroup") or "primary")
    wg = _backend(call.account_id, call.region).get_work_group(wg_name)
    if wg is None:
        raise _invalid(f"WorkGroup {wg_name} is not found.")
    if str(wg.get("State") or "ENABLED") == "DISABLED":
        raise _invalid(f"WorkGroup {wg_name} is disabled.")
    conf = wg.get("Configuration") or {}
    enforce = bool(conf.get("EnforceWorkGroupConfiguration", True))
    wg_out = (conf.get("ResultConfiguration") or {}).get("OutputLocation")
    req_out = (p.get("ResultConfiguration") or {}).get("OutputLocation")
    output = (wg_out if enforce and wg_out else None) or req_out or wg_out
    if not output:
        raise _invalid(
            "No output location provided. An output location is required either through the "
            "Workgroup result configuration setting or as an API input."
        )
    ctx_in = p.get("QueryExecutionContext") or {}
    query = str(p.get("QueryString") or "")
    params = p.get("ExecutionParameters") or []
    if params:
        query = _bind(query, [str(x) for x in params])
    cutoff = conf.get("BytesScannedCutoffPerQuery")
    ex = Execution(
        id=str(uuid.uuid4()),
        query=str(p.get("QueryString") or ""),
        workgroup=wg_name,
        database=ctx_in.get("Database"),
        catalog=str(ctx_in.get("Catalog") or "AwsDataCatalog"),
        output_dir=str(output),
        principal=lakeformation.caller(call),
        cutoff=int(cutoff) if cutoff else None,
        submitted=dt.datetime.now(dt.UTC),
    )
    _store(call.account_id, call.region)[ex.id] = ex
    threading.Thread(
        target=_run,
        args=(ex, query, call.account_id, call.region),
        name=f"mllab-athena-{ex.id[:8]}",
        daemon=True,
    ).start()
    return {"QueryExecutionId": ex.id}


def _bind(query: str, values: list[str]) -> str:
    """Substitute ExecutionParameters into ``?`` placeholders (outside string literals)."""
    out, i, in_str = [], 0, False
    for ch in query:
        if ch == "'":
            in_str = not in_str
        if ch == "?" and not in_str and i < len(values):
            out.append(values[i])
            i += 1
        else:
            out.append(ch)
    return "".join(out)


def _get(call: OfflineCall, query_id: str) -> Execution:
    ex = _store(call.account_id, call.region).get(query_id)
    if ex is None:
        raise _invalid(f"QueryExecution {query_id} was not found")
    return ex


@handles("athena", "GetQueryExecution")
def get_query_execution(call: OfflineCall) -> dict[str, Any]:
    """Describe a query: state, reason, statistics (DataScannedInBytes)."""
    return {"QueryExecution": _get(call, str(call.params.get("QueryExecutionId"))).describe()}


@handles("athena", "BatchGetQueryExecution")
def batch_get_query_execution(call: OfflineCall) -> dict[str, Any]:
    """Describe several queries."""
    store = _store(call.account_id, call.region)
    found, missing = [], []
    for qid in call.params.get("QueryExecutionIds") or []:
        if qid in store:
            found.append(store[qid].describe())
        else:
            missing.append(
                {"QueryExecutionId": qid, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "not found"}
            )
    return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}


@handles("athena", "ListQueryExecutions")
def list_query_executions(call: OfflineCall) -> dict[str, Any]:
    """List query ids of a workgroup, newest first."""
    wg = str(call.params.get("WorkGroup") or "primary")
    items = sorted(
        (e for e in _store(call.account_id, call.region).values() if e.workgroup == wg),
        key=lambda e: e.submitted,
        reverse=True,
    )
    start = _token_offset(call.params.get("NextToken"))
    size = int(call.params.get("MaxResults") or 50)
    page = items[start : start + size]
    out: dict[str, Any] = {"QueryExecutionIds": [e.id for e in page]}
    if start + size < len(items):
        out["NextToken"] = _token(start + size)
    return out


@handles("athena", "StopQueryExecution")
def stop_query_execution(call: OfflineCall) -> dict[str, Any]:
    """Cancel a running query (you pay for what it scanned until then)."""
    ex = _get(call, str(call.params.get("QueryExecutionId")))
    if ex.state in ("QUEUED", "RUNNING"):
        ex.cancel.set()
        con = ex.ctx.con if ex.ctx is not None else None
        if con is not None:
            try:
                con.interrupt()
            except Exception:  # noqa: BLE001 - finished meanwhile
                pass
    return {}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _token_offset(token: Any) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(str(token).encode()))["o"])
    except Exception:  # noqa: BLE001 - a token we did not issue
        raise _invalid("The NextToken is not valid.") from None


@handles("athena", "GetQueryResults")
def get_query_results(call: OfflineCall) -> dict[str, Any]:
    """Page a finished query's rows (header row first for SELECT)."""
    ex = _get(call, str(call.params.get("QueryExecutionId")))
    if ex.state in ("QUEUED", "RUNNING"):
        raise _invalid(f"Query has not yet finished. Current state: {ex.state}")
    if ex.state != "SUCCEEDED":
        raise _invalid(
            f"Query did not finish successfully. Final query state: {ex.state}\n{ex.reason or ''}".rstrip()
        )
    size = call.params.get("MaxResults")
    size = MAX_RESULTS if size is None else int(size)
    if size > MAX_RESULTS:
        raise _invalid(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_RESULTS}"
        )
    rows = ([[c["Name"] for c in ex.columns]] if ex.header else []) + ex.rows
    start = _token_offset(call.params.get("NextToken"))
    page = rows[start : start + size]
    result: dict[str, Any] = {
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in page],
            "ResultSetMetadata": {"ColumnInfo": ex.columns},
        }
    }
    if ex.update_count is not None:
        result["UpdateCount"] = ex.update_count
    if start + size < len(rows):
        result["NextToken"] = _token(start + size)
    return result


# --------------------------------------------------------------------------- running


def column_info(name: str, duck_type: str) -> dict[str, Any]:
    """Athena's ColumnInfo for one result column."""
    t = cat.athena_type(duck_type)
    info: dict[str, Any] = {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": t,
        "Precision": cat.ATHENA_PRECISION.get(t, 0),
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": t == "varchar",
    }
    if t == "decimal":
        import re

        m = re.search(r"\((\d+),\s*(\d+)\)", duck_type)
        if m:
            info["Precision"], info["Scale"] = int(m.group(1)), int(m.group(2))
    return info


def results_csv(columns: list[dict[str, Any]], rows: list[list[str | None]]) -> bytes:
    """Athena's result CSV: header, every value double-quoted, NULL as an empty field."""

    def q(v: str | None) -> str:
        return "" if v is None else '"' + v.replace('"', '""') + '"'

    lines = [",".join(q(c["Name"]) for c in columns)]
    lines += [",".join(q(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _write_results(ex: Execution, account_id: str) -> None:
    if ex.ext == "csv":
        cat.put_object(account_id, ex.output_location, results_csv(ex.columns, ex.rows), "text/csv")
        meta = json.dumps({"ColumnInfo": ex.columns}).encode()
        cat.put_object(
            account_id, ex.output_location + ".metadata", meta, "application/octet-stream"
        )
    else:
        text = "\n".join("\t".join("" if v is None else v for v in r) for r in ex.rows)
        cat.put_object(
            account_id, ex.output_location, (text + "\n").encode() if text else b"", "text/plain"
        )


def _run(ex: Execution, query: str, account_id: str, region: str) -> None:
    from mllab.offline.athena import ddl

    t0 = time.time()
    time.sleep(0.01)
    ex.queue_ms = int((time.time() - t0) * 1000)
    ex.ctx = Context(account_id, region, ex.database, ex.principal, ex.cutoff)
    t1 = time.time()
    try:
        bucket, _ = cat.split_s3(ex.output_dir)
        if not cat.bucket_exists(account_id, bucket):
            raise QueryError(f"Unable to verify/create output bucket {bucket}", 2, 1006)
        from mllab.offline.iam import principal_allowed

        out_arn = f"arn:aws:s3:::{ex.output_dir[len('s3://') :].rstrip('/')}/{ex.id}.csv"
        if not principal_allowed(account_id, ex.principal, "s3:PutObject", out_arn):
            raise QueryError(
                f"Access denied when writing output to url: {ex.output_dir} . Please ensure you "
                "are allowed to access the S3 bucket. If you are encrypting query results with "
                "KMS key, please ensure you are allowed to access your KMS key",
                2,
                1006,
            )
        if ex.cancel.is_set():
            raise QueryError("Query was cancelled by the user", 2, 1006)
        ex.state = "RUNNING"
        ddl.execute(ex, query, ex.ctx)
        if ex.cancel.is_set():
            raise QueryError("Query was cancelled by the user", 2, 1006)
        _write_results(ex, account_id)
        ex.state = "SUCCEEDED"
    except QueryError as err:
        ex.reason = err.message
        ex.category, ex.error_type = err.category, err.error_type
        ex.scanned = int(getattr(err, "scanned", ex.scanned) or 0)
        ex.rows, ex.update_count = [], None
        ex.state = "CANCELLED" if ex.cancel.is_set() else "FAILED"
    except Exception as err:  # noqa: BLE001 - an offline defect still fails the query, visibly
        ex.reason = f"GENERIC_INTERNAL_ERROR: {type(err).__name__}: {err}"
        ex.category, ex.error_type = 1, 1006
        ex.state = "FAILED"
    finally:
        ex.engine_ms = max(1, int((time.time() - t1) * 1000))
        ex.planning_ms = min(ex.engine_ms, 1)
        ex.completed = dt.datetime.now(dt.UTC)
        ex.ctx = None


@handles("athena", "UpdateWorkGroup")
def update_work_group(call: OfflineCall) -> dict[str, Any]:
    """Change a workgroup's configuration (moto lacks UpdateWorkGroup); free."""
    be = _backend(call.account_id, call.region)
    name = str(call.params.get("WorkGroup"))
    wg = be.work_groups.get(name)
    if wg is None:
        raise _invalid(f"WorkGroup {name} is not found.")
    conf = dict(wg.configuration or {})
    up = call.params.get("ConfigurationUpdates") or {}
    for key in (
        "EnforceWorkGroupConfiguration",
        "PublishCloudWatchMetricsEnabled",
        "RequesterPaysEnabled",
        "EngineVersion",
    ):
        if key in up:
            conf[key] = up[key]
    if "BytesScannedCutoffPerQuery" in up:
        conf["BytesScannedCutoffPerQuery"] = up["BytesScannedCutoffPerQuery"]
    if up.get("RemoveBytesScannedCutoffPerQuery"):
        conf.pop("BytesScannedCutoffPerQuery", None)
    rc_up = up.get("ResultConfigurationUpdates") or {}
    rc = dict(conf.get("ResultConfiguration") or {})
    if "OutputLocation" in rc_up:
        rc["OutputLocation"] = rc_up["OutputLocation"]
    if rc_up.get("RemoveOutputLocation"):
        rc.pop("OutputLocation", None)
    conf["ResultConfiguration"] = rc
    wg.configuration = conf
    if "Description" in call.params:
        wg.description = call.params["Description"]
    if "State" in call.params:
        wg.state = call.params["State"]
    return {}
