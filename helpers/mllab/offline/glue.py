"""Offline AWS Glue: crawlers that really crawl, and Python shell jobs that really run (lab 01).

moto keeps the Glue control plane (crawler and job definitions, the Data Catalog); this
module does the work:

**Crawlers.** ``StartCrawler`` reads the S3 targets' objects from moto S3 in a background
thread, classifies them (:mod:`mllab.offline.athena.infer`: CSV with Glue's header rule,
JSON/JSON Lines, Parquet, gzip), groups them into tables and partitions, and writes the
tables and partitions into moto's catalog. ``GetCrawler`` shows ``RUNNING`` ->
``STOPPING`` -> ``READY`` and then ``LastCrawl``; ``GetCrawlerMetrics`` counts tables
created/updated/deleted. Log lines go to ``/aws-glue/crawlers`` (stream: crawler name).

Table grouping (documented rule, close to Glue's ``CombineCompatibleSchemas``):

* objects directly in the include path make the include path one table, its sub-folders
  partitions;
* otherwise, when every child folder of the include path is a Hive ``key=value`` folder,
  or there are two or more child folders whose schemas are compatible (same format, same
  column names), the include path is one table and the child folders are partitions;
* otherwise each child folder holding data is a table of its own (named after the folder).

Inside a table, each folder level is a partition key: ``key=value`` folders give ``key``,
plain folders ``partition_0``, ``partition_1``, ... as Glue names them. Table names are the
folder name lowercased with characters other than ``a-z0-9_`` replaced by ``_``, prefixed
with the crawler's ``TablePrefix``.

**Jobs** (see the second half of this module): ``pythonshell`` jobs run their script in a
subprocess; ``glueetl``/``gluestreaming`` fail with a clear reason (no Spark offline).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import threading
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles

CRAWLER_LOG_GROUP = "/aws-glue/crawlers"
#: How long a crawler shows STOPPING after its work, in seconds (AWS: tens of seconds).
STOPPING_SECONDS = 0.2

_HIVE = re.compile(r"^([^=/]+)=(.*)$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- logs


def write_log(account_id: str, region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream in moto (creating group and stream).

    Args:
        account_id: the offline account.
        region: the region.
        group: the log group, e.g. ``/aws-glue/crawlers``.
        stream: the log stream.
        lines: the messages, in order.
    """
    if not lines:
        return
    from moto.logs.models import logs_backends

    logs = logs_backends[account_id][region]
    if group not in logs.groups:
        try:
            logs.create_log_group(group, {})
        except Exception:  # noqa: BLE001 - created concurrently
            pass
    if stream not in logs.groups[group].streams:
        try:
            logs.create_log_stream(group, stream)
        except Exception:  # noqa: BLE001 - created concurrently
            pass
    base = int(time.time() * 1000)
    events = [{"timestamp": base + i, "message": m} for i, m in enumerate(lines)]
    logs.put_log_events(group, stream, events)


# --------------------------------------------------------------------------- crawler state


@dataclass
class CrawlState:
    """The offline run state of one crawler (kept on moto's FakeCrawler)."""

    state: str = "READY"
    last: dict[str, Any] | None = None
    started: float = 0.0
    stop_requested: bool = False
    metrics: dict[str, Any] = field(
        default_factory=lambda: {
            "TablesCreated": 0,
            "TablesUpdated": 0,
            "TablesDeleted": 0,
            "LastRuntimeSeconds": 0.0,
            "MedianRuntimeSeconds": 0.0,
        }
    )
    runtimes: list[float] = field(default_factory=list)
    crawls: int = 0


def _state(crawler: Any) -> CrawlState:
    st = getattr(crawler, "_mllab_crawl", None)
    if st is None:
        st = CrawlState()
        crawler._mllab_crawl = st
    return st


def _fake_crawler(call: OfflineCall, name: str) -> Any:
    from mllab.offline.athena.catalog import glue_backend

    crawler = glue_backend(call.account_id, call.region).crawlers.get(name)
    if crawler is None:
        raise AwsError("EntityNotFoundException", f"Crawler with name {name} does not exist")
    return crawler


@handles("glue", "StartCrawler")
def start_crawler(call: OfflineCall) -> dict[str, Any]:
    """Start a real crawl in the background (StartCrawler; Glue bills DPU-hours, 10-min minimum)."""
    name = str(call.params.get("Name"))
    crawler = _fake_crawler(call, name)
    st = _state(crawler)
    if st.state != "READY":
        raise AwsError("CrawlerRunningException", f"Crawler with name {name} has already started")
    st.state = "RUNNING"
    st.started = time.time()
    st.stop_requested = False
    st.crawls += 1
    prefix = str(uuid.uuid4())
    thread = threading.Thread(
        target=_crawl_thread,
        args=(crawler, call.account_id, call.region, prefix),
        name=f"mllab-crawler-{name}",
        daemon=True,
    )
    thread.start()
    return {}


@handles("glue", "StopCrawler")
def stop_crawler(call: OfflineCall) -> dict[str, Any]:
    """Ask a running crawl to stop (it ends CANCELLED)."""
    name = str(call.params.get("Name"))
    st = _state(_fake_crawler(call, name))
    if st.state != "RUNNING":
        raise AwsError("CrawlerNotRunningException", f"Crawler with name {name} isn't running")
    st.stop_requested = True
    st.state = "STOPPING"
    return {}


_UPDATABLE = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


@handles("glue", "UpdateCrawler")
def update_crawler(call: OfflineCall) -> dict[str, Any]:
    """Change a crawler's definition (moto lacks UpdateCrawler); refused while it runs."""
    name = str(call.params.get("Name"))
    crawler = _fake_crawler(call, name)
    if _state(crawler).state != "READY":
        raise AwsError("CrawlerRunningException", f"Crawler with name {name} is running")
    for param, attr in _UPDATABLE.items():
        if param in call.params:
            setattr(crawler, attr, call.params[param])
    if "Schedule" in call.params:
        crawler.schedule = call.params["Schedule"]
    crawler.version += 1
    crawler.last_updated = _now()
    return {}


def _amend(crawler_dict: dict[str, Any], crawler: Any) -> None:
    st = _state(crawler)
    crawler_dict["State"] = st.state
    crawler_dict["CrawlElapsedTime"] = (
        int((time.time() - st.started) * 1000) if st.state != "READY" and st.started else 0
    )
    if st.last is not None:
        crawler_dict["LastCrawl"] = dict(st.last)
    else:
        crawler_dict.pop("LastCrawl", None)


@handles("glue", "GetCrawler", "after")
def get_crawler(call: OfflineCall) -> None:
    """Report the crawl's live state and LastCrawl."""
    from mllab.offline.athena.catalog import glue_backend

    if call.response and "Crawler" in call.response:
        c = glue_backend(call.account_id, call.region).crawlers.get(
            call.response["Crawler"]["Name"]
        )
        if c is not None:
            _amend(call.response["Crawler"], c)


@handles("glue", "GetCrawlers", "after")
def get_crawlers(call: OfflineCall) -> None:
    """Report each crawler's live state."""
    from mllab.offline.athena.catalog import glue_backend

    crawlers = glue_backend(call.account_id, call.region).crawlers
    for item in (call.response or {}).get("Crawlers", []):
        if item.get("Name") in crawlers:
            _amend(item, crawlers[item["Name"]])


@handles("glue", "BatchGetCrawlers", "after")
def batch_get_crawlers(call: OfflineCall) -> None:
    """Report each crawler's live state."""
    get_crawlers(call)


@handles("glue", "GetCrawlerMetrics")
def get_crawler_metrics(call: OfflineCall) -> dict[str, Any]:
    """Return TablesCreated/Updated/Deleted and runtimes of the last crawls."""
    from mllab.offline.athena.catalog import glue_backend

    crawlers = glue_backend(call.account_id, call.region).crawlers
    names = call.params.get("CrawlerNameList") or list(crawlers)
    out = []
    for n in names:
        c = crawlers.get(n)
        if c is None:
            continue
        st = _state(c)
        left = 0.0
        out.append(
            {
                "CrawlerName": n,
                "TimeLeftSeconds": left,
                "StillEstimating": st.state == "RUNNING",
                **st.metrics,
            }
        )
    return {"CrawlerMetricsList": out}


# --------------------------------------------------------------------------- the crawl


@dataclass
class _File:
    obj: Any
    rel: str  # path relative to the include path
    schema: Any = None


@dataclass
class _TablePlan:
    name: str
    root: str  # s3://bucket/prefix/ (trailing slash)
    files: list[_File]
    depth: int = 0
    keys: list[str] = field(default_factory=list)


def _table_name(folder: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", folder.lower()) or "table"


def _compatible(a: list[_File], b: list[_File]) -> bool:
    def sig(files: list[_File]) -> tuple[str, frozenset[str]]:
        s = next((f.schema for f in files if f.schema.classification != "UNKNOWN"), None)
        if s is None:
            return ("UNKNOWN", frozenset())
        return (s.classification, frozenset(c for c, _ in s.columns))

    return sig(a) == sig(b)


def _plan_tables(include: str, files: list[_File], prefix: str) -> list[_TablePlan]:
    """Group the include path's files into tables (see the module docstring)."""
    include = include if include.endswith("/") else include + "/"
    bucket_and_path = include[len("s3://") :].rstrip("/")
    own_name = bucket_and_path.rsplit("/", 1)[-1]
    direct = [f for f in files if "/" not in f.rel]
    children: dict[str, list[_File]] = {}
    for f in files:
        if "/" in f.rel:
            children.setdefault(f.rel.split("/", 1)[0], []).append(f)
    if not files:
        return []
    if direct or not children:
        return [_TablePlan(prefix + _table_name(own_name), include, files)]
    names = list(children)
    all_hive = all(_HIVE.match(n) for n in names)
    groups = list(children.values())
    combine = all_hive or (len(groups) >= 2 and all(_compatible(groups[0], g) for g in groups[1:]))
    if combine:
        return [_TablePlan(prefix + _table_name(own_name), include, files)]
    plans = []
    for child, cfiles in children.items():
        rel_files = [_File(f.obj, f.rel.split("/", 1)[1], f.schema) for f in cfiles]
        plans.append(_TablePlan(prefix + _table_name(child), include + child + "/", rel_files))
    return plans


def _storage(schema: Any, location: str, columns: list[dict[str, str]]) -> dict[str, Any]:
    sd: dict[str, Any] = {
        "Columns": columns,
        "Location": location,
        "Compressed": schema.compression not in ("none", "uncompressed"),
        "NumberOfBuckets": -1,
        "BucketColumns": [],
        "SortColumns": [],
        "StoredAsSubDirectories": False,
    }
    if schema.classification == "parquet":
        sd.update(
            InputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            OutputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            SerdeInfo={
                "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                "Parameters": {"serialization.format": "1"},
            },
        )
    elif schema.classification == "json":
        sd.update(
            InputFormat="org.apache.hadoop.mapred.TextInputFormat",
            OutputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            SerdeInfo={
                "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                "Parameters": {"paths": ",".join(c["Name"] for c in columns)},
            },
        )
    else:
        serde: dict[str, Any]
        if schema.quoted:
            serde = {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
                "Parameters": {"separatorChar": schema.delimiter, "quoteChar": '"'},
            }
        else:
            serde = {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": schema.delimiter},
            }
        if schema.header:
            serde["Parameters"]["skip.header.line.count"] = "1"
        sd.update(
            InputFormat="org.apache.hadoop.mapred.TextInputFormat",
            OutputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            SerdeInfo=serde,
        )
    return sd


def _build_table(
    plan: _TablePlan, crawler_name: str, log: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Return (TableInput, [PartitionInput]) for a planned table, or None when unclassifiable."""
    from mllab.offline.athena.infer import merge_columns

    known = [f for f in plan.files if f.schema.classification != "UNKNOWN"]
    for f in plan.files:
        if f.schema.classification == "UNKNOWN":
            log.append(
                f"[{crawler_name}] Skipped s3://{f.obj.bucket}/{f.obj.key}: {f.schema.reason}"
            )
    if not known:
        return None
    fmt = Counter(f.schema.classification for f in known).most_common(1)[0][0]
    known = [f for f in known if f.schema.classification == fmt]
    depths = Counter(f.rel.count("/") for f in known)
    depth = max(depths)
    used = [f for f in known if f.rel.count("/") == depth]
    cols: list[tuple[str, str]] = []
    for f in used:
        cols = merge_columns(cols, f.schema.columns)
    first = used[0].schema
    keys: list[str] = []
    for level in range(depth):
        names = {f.rel.split("/")[level] for f in used}
        hive = [_HIVE.match(n) for n in names]
        kset = {m.group(1).lower() for m in hive if m}
        keys.append(kset.pop() if all(hive) and len(kset) == 1 else f"partition_{level}")
    columns = [{"Name": n, "Type": t} for n, t in cols if n not in keys]
    total_bytes = sum(f.obj.size for f in used)
    records = sum(f.schema.records for f in used)
    params = {
        "classification": fmt,
        "compressionType": first.compression if fmt != "parquet" else first.compression,
        "recordCount": str(records),
        "objectCount": str(len(used)),
        "averageRecordSize": str(total_bytes // records if records else 0),
        "sizeKey": str(total_bytes),
        "typeOfData": "file",
        "UPDATED_BY_CRAWLER": crawler_name,
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
    }
    if fmt == "csv":
        params["delimiter"] = first.delimiter
        params["areColumnsQuoted"] = "true" if first.quoted else "false"
        params["columnsOrdered"] = "true"
        if first.header:
            params["skip.header.line.count"] = "1"
    table_input = {
        "Name": plan.name,
        "StorageDescriptor": _storage(first, plan.root, columns),
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
        "Retention": 0,
    }
    partitions: dict[str, dict[str, Any]] = {}
    by_folder: dict[str, list[_File]] = {}
    for f in used:
        folder = f.rel.rsplit("/", 1)[0] if depth else ""
        by_folder.setdefault(folder, []).append(f)
    if depth:
        for folder, pfiles in sorted(by_folder.items()):
            values = []
            for part in folder.split("/"):
                m = _HIVE.match(part)
                values.append(m.group(2) if m else part)
            nrec = sum(f.schema.records for f in pfiles)
            nbytes = sum(f.obj.size for f in pfiles)
            pparams = dict(params)
            pparams.update(
                recordCount=str(nrec),
                objectCount=str(len(pfiles)),
                averageRecordSize=str(nbytes // nrec if nrec else 0),
                sizeKey=str(nbytes),
            )
            partitions[folder] = {
                "Values": values,
                "StorageDescriptor": _storage(first, plan.root + folder + "/", columns),
                "Parameters": pparams,
            }
    return table_input, list(partitions.values())


def _schema_differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def sig(t: dict[str, Any]) -> Any:
        sd = t.get("StorageDescriptor") or {}
        return (
            [(c["Name"], c["Type"]) for c in sd.get("Columns") or []],
            [(c["Name"], c["Type"]) for c in t.get("PartitionKeys") or []],
            (sd.get("SerdeInfo") or {}).get("SerializationLibrary"),
            sd.get("Location"),
        )

    return sig(old) != sig(new)


def _crawl_thread(crawler: Any, account_id: str, region: str, prefix: str) -> None:
    st = _state(crawler)
    start = _now()
    t0 = time.time()
    log = [f"[{prefix}] BENCHMARK : Running Start Crawl for Crawler {crawler.name}"]
    status, error = "SUCCEEDED", None
    counts = {"TablesCreated": 0, "TablesUpdated": 0, "TablesDeleted": 0}
    try:
        _crawl(crawler, account_id, region, prefix, log, counts, st)
        if st.stop_requested:
            status = "CANCELLED"
    except Exception as err:  # noqa: BLE001 - the crawl fails, the lab goes on
        status = "FAILED"
        error = str(getattr(err, "message", None) or err)
        log.append(f"[{prefix}] ERROR : {error}")
        log.append(traceback.format_exc(limit=3))
    log.append(f"[{prefix}] BENCHMARK : Crawler has finished running and is in state {status}")
    st.state = "STOPPING"
    runtime = time.time() - t0
    try:
        write_log(account_id, region, CRAWLER_LOG_GROUP, crawler.name, log)
    except Exception:  # noqa: BLE001 - moto stopped under us
        pass
    time.sleep(STOPPING_SECONDS)
    st.runtimes.append(runtime)
    st.metrics.update(counts)
    st.metrics["LastRuntimeSeconds"] = round(runtime, 3)
    st.metrics["MedianRuntimeSeconds"] = round(sorted(st.runtimes)[len(st.runtimes) // 2], 3)
    last: dict[str, Any] = {
        "Status": status,
        "LogGroup": CRAWLER_LOG_GROUP,
        "LogStream": crawler.name,
        "MessagePrefix": prefix,
        "StartTime": start,
    }
    if error:
        last["ErrorMessage"] = error
    st.last = last
    st.state = "READY"


def _crawl(
    crawler: Any,
    account_id: str,
    region: str,
    prefix: str,
    log: list[str],
    counts: dict[str, int],
    st: CrawlState,
) -> None:
    from mllab.offline.athena.catalog import bucket_exists, glue_backend, list_objects, split_s3
    from mllab.offline.athena.infer import classify

    glue = glue_backend(account_id, region)
    dbname = crawler.database_name
    if not dbname:
        raise ValueError(
            "The crawler has no DatabaseName: update the crawler with a target database"
        )
    if dbname not in glue.databases:
        glue.create_database(dbname, {"Name": dbname})
        log.append(f"[{prefix}] INFO : Created database {dbname}")
    policy = crawler.schema_change_policy or {}
    update_behavior = policy.get("UpdateBehavior", "UPDATE_IN_DATABASE")
    delete_behavior = policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")
    recrawl = (crawler.recrawl_policy or {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
    table_prefix = crawler.table_prefix or ""
    seen_tables: set[str] = set()
    targets = (crawler.targets or {}).get("S3Targets") or []
    if not targets:
        raise ValueError("The crawler has no S3Targets: offline crawlers crawl S3 paths only")
    for target in targets:
        if st.stop_requested:
            return
        path = str(target.get("Path", ""))
        if not path.startswith("s3://"):
            path = "s3://" + path
        bucket, _ = split_s3(path)
        if not bucket_exists(account_id, bucket):
            raise ValueError(
                f"Error Access Denied or bucket not found while crawling {path}: "
                "The specified bucket does not exist"
            )
        include = path if path.endswith("/") else path + "/"
        exclusions = target.get("Exclusions") or []
        files = []
        for obj in list_objects(account_id, include):
            rel = obj.key[len(split_s3(include)[1]) :]
            if any(fnmatch.fnmatch(rel, pat) for pat in exclusions):
                continue
            files.append(_File(obj, rel, classify(obj.read(), obj.key)))
        log.append(f"[{prefix}] INFO : Crawling {include}: {len(files)} objects")
        for plan in _plan_tables(include, files, table_prefix):
            built = _build_table(plan, crawler.name, log)
            if built is None:
                continue
            table_input, partitions = built
            name = table_input["Name"]
            seen_tables.add(name)
            db = glue.databases[dbname]
            existing = db.tables.get(name)
            if existing is None:
                glue.create_table(dbname, name, table_input)
                counts["TablesCreated"] += 1
                log.append(f"[{prefix}] INFO : Created table {name} in database {dbname}")
            else:
                old = existing.as_dict()
                old_params = old.get("Parameters") or {}
                if recrawl == "CRAWL_NEW_FOLDERS_ONLY":
                    log.append(
                        f"[{prefix}] INFO : RecrawlBehavior CRAWL_NEW_FOLDERS_ONLY: schema of {name} kept, new folders only"
                    )
                elif _schema_differs(old, table_input) or "DEPRECATED_BY_CRAWLER" in old_params:
                    if update_behavior == "UPDATE_IN_DATABASE":
                        glue.update_table(dbname, name, table_input)
                        counts["TablesUpdated"] += 1
                        log.append(
                            f"[{prefix}] INFO : Updated table {name} in database {dbname}: schema change"
                        )
                    else:
                        log.append(
                            f"[{prefix}] WARN : Schema change detected for table {name}; "
                            f"UpdateBehavior is {update_behavior}: table not updated"
                        )
                else:
                    # same schema: refresh the statistics
                    if update_behavior == "UPDATE_IN_DATABASE":
                        existing.versions[str(existing._current_version)] = table_input
            fake = db.tables[name]
            present = {str(p["Values"]) for p in partitions}
            new_parts = [p for p in partitions if str(p["Values"]) not in fake.partitions]
            if new_parts:
                glue.batch_create_partition(dbname, name, new_parts)
                log.append(f"[{prefix}] INFO : Added {len(new_parts)} partitions to table {name}")
            if recrawl != "CRAWL_NEW_FOLDERS_ONLY":
                gone = [k for k in list(fake.partitions) if k not in present]
                if gone and delete_behavior == "DELETE_FROM_DATABASE":
                    for k in gone:
                        del fake.partitions[k]
                    log.append(f"[{prefix}] INFO : Deleted {len(gone)} partitions of table {name}")
    if recrawl == "CRAWL_NEW_FOLDERS_ONLY":
        return
    # tables this crawler made earlier whose data is gone
    db = glue.databases[dbname]
    for name, fake in list(db.tables.items()):
        t = fake.as_dict()
        params = t.get("Parameters") or {}
        if params.get("UPDATED_BY_CRAWLER") != crawler.name or name in seen_tables:
            continue
        if delete_behavior == "DELETE_FROM_DATABASE":
            glue.delete_table(dbname, name)
            counts["TablesDeleted"] += 1
            log.append(f"[{prefix}] INFO : Deleted table {name}: its data is gone")
        elif delete_behavior == "DEPRECATE_IN_DATABASE":
            if "DEPRECATED_BY_CRAWLER" not in params:
                newt = {
                    k: v
                    for k, v in t.items()
                    if k
                    in (
                        "Name",
                        "StorageDescriptor",
                        "PartitionKeys",
                        "TableType",
                        "Parameters",
                        "Description",
                    )
                }
                newt["Parameters"] = {**params, "DEPRECATED_BY_CRAWLER": str(st.crawls)}
                glue.update_table(dbname, name, newt)
                counts["TablesDeleted"] += 1
                log.append(f"[{prefix}] INFO : Deprecated table {name}: its data is gone")
        else:
            log.append(f"[{prefix}] WARN : Table {name}'s data is gone; DeleteBehavior LOG: kept")


# =========================================================================== jobs
#
# A ``pythonshell`` job runs its script for real in a subprocess (``sys.executable``, a
# temporary working folder, the job's arguments as ``sys.argv``: ``--JOB_NAME <name>
# --JOB_RUN_ID <id>`` then ``DefaultArguments`` overridden by the run's ``Arguments``).
# A stand-in ``awsglue/utils.py`` implementing only ``getResolvedOptions`` (and
# ``GlueArgumentError``) is put on the subprocess's path; nothing else of ``awsglue``
# exists offline.
#
# boto3 inside the script reaches the offline backend through a bridge: a botocore
# ``before-call`` handler in the subprocess sends each call (service, operation,
# parameters) over a local authenticated socket to the lab process, which makes the same
# call on the lab's session -- so the job's calls pass the cost guard and the offline data
# plane (an Athena query from a job really runs) -- and hands back the answer or the AWS
# error. No request leaves the machine: the subprocess's endpoint is an unroutable local
# address. Timeout (minutes) is enforced on the lab clock (``mllab.offline.clock``), so
# ``clock.advance(...)`` makes a long job time out at once.

JOB_LOG_GROUP = "/aws-glue/python-jobs"

_BOOTSTRAP = r"""
import os, sys, io, pickle, runpy, threading
from multiprocessing.connection import Client

_conn = Client((os.environ["MLLAB_BRIDGE_HOST"], int(os.environ["MLLAB_BRIDGE_PORT"])),
               authkey=bytes.fromhex(os.environ.pop("MLLAB_BRIDGE_KEY")))
_lock = threading.Lock()


def _plain(v):
    if hasattr(v, "read") and not isinstance(v, (bytes, bytearray, str)):
        try:
            pos = v.tell()
        except Exception:
            pos = None
        data = v.read()
        if pos is not None:
            try:
                v.seek(pos)
            except Exception:
                pass
        return data.encode() if isinstance(data, str) else data
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _stash(params, context, **kw):
    if context is not None:
        context["mllab_bridge_params"] = _plain(dict(params))


class _Http:
    def __init__(self, status):
        self.status_code = status
        self.headers = {}
        self.content = b""
        self.raw = None


def _forward(model, context, **kw):
    from botocore.response import StreamingBody

    params = (context or {}).get("mllab_bridge_params", {})
    msg = (model.service_model.service_name, model.name, params, (context or {}).get("client_region"))
    with _lock:
        _conn.send(msg)
        kind, payload = _conn.recv()
    if kind == "exc":
        raise RuntimeError(payload)
    status, parsed = payload

    def revive(v):
        if isinstance(v, dict) and "__mllab_stream__" in v:
            data = v["__mllab_stream__"]
            return StreamingBody(io.BytesIO(data), len(data))
        if isinstance(v, dict):
            return {k: revive(x) for k, x in v.items()}
        if isinstance(v, list):
            return [revive(x) for x in v]
        return v

    return _Http(status), revive(parsed)


from botocore.handlers import BUILTIN_HANDLERS
BUILTIN_HANDLERS.insert(0, ("before-parameter-build", _stash))
BUILTIN_HANDLERS.append(("before-call", _forward))

script = sys.argv[1]
sys.argv = [script] + sys.argv[2:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
runpy.run_path(script, run_name="__main__")
"""

_AWSGLUE_UTILS = r'''
"""Offline stand-in for awsglue.utils: only getResolvedOptions (mllab, lab 01)."""


class GlueArgumentError(Exception):
    pass


def getResolvedOptions(args, options):
    """Return {option: value} for each ``--option value`` (or ``--option=value``) in args."""
    found = {}
    i = 0
    args = list(args)
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            key, eq, val = a[2:].partition("=")
            if not eq:
                val = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            found[key] = val
        i += 1
    missing = [o for o in options if o not in found]
    if missing:
        raise GlueArgumentError(
            "the following arguments are required: " + ", ".join("--" + m for m in missing)
        )
    return {o: found[o] for o in options}
'''


@dataclass
class JobRun:
    """The offline state of one job run (kept on moto's FakeJob)."""

    id: str
    job_name: str
    arguments: dict[str, str]
    timeout: int
    max_capacity: float
    glue_version: str
    started: dt.datetime
    state: str = "STARTING"
    error: str | None = None
    completed: dt.datetime | None = None
    execution_time: int = 0
    proc: Any = None
    stop: bool = False
    #: what StartJobRun passed (GetJobRun shows only these: "for this job run, they replace the
    #: default arguments set in the job definition"); ``arguments`` is what the script sees
    run_arguments: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            "Attempt": 0,
            "JobName": self.job_name,
            "JobMode": "SCRIPT",
            "StartedOn": self.started,
            "LastModifiedOn": self.completed or self.started,
            "JobRunState": self.state,
            "Arguments": dict(self.run_arguments),
            "PredecessorRuns": [],
            "ExecutionTime": self.execution_time,
            "Timeout": self.timeout,
            "MaxCapacity": self.max_capacity,
            "LogGroupName": JOB_LOG_GROUP,
            "GlueVersion": self.glue_version,
        }
        if self.completed:
            out["CompletedOn"] = self.completed
        if self.error:
            out["ErrorMessage"] = self.error
        return out


def _fake_job(call: OfflineCall, name: str) -> Any:
    from mllab.offline.athena.catalog import glue_backend

    job = glue_backend(call.account_id, call.region).jobs.get(name)
    if job is None:
        raise AwsError("EntityNotFoundException", f"Job with name: {name} not found")
    return job


def _runs(job: Any) -> list[JobRun]:
    runs = getattr(job, "_mllab_runs", None)
    if runs is None:
        runs = []
        job._mllab_runs = runs
    return runs


@handles("glue", "StartJobRun")
def start_job_run(call: OfflineCall) -> dict[str, Any]:
    """Start a job run (Glue bills DPU-hours: Python shell 0.0625 or 1 DPU, 1-minute minimum)."""
    p = call.params
    name = str(p.get("JobName"))
    job = _fake_job(call, name)
    runs = _runs(job)
    active = [r for r in runs if r.state in ("STARTING", "RUNNING", "STOPPING")]
    if len(active) >= int((job.execution_property or {}).get("MaxConcurrentRuns", 1)):
        raise AwsError("ConcurrentRunsExceededException", f"Concurrent runs exceeded for {name}")
    args = dict(job.default_arguments or {})
    args.update(p.get("Arguments") or {})
    args.update(job.non_overridable_arguments or {})
    command = job.command or {}
    kind = str(command.get("Name", "glueetl"))
    default_cap = 0.0625 if kind == "pythonshell" else 10.0
    run = JobRun(
        id="jr_" + uuid.uuid4().hex + uuid.uuid4().hex,
        job_name=name,
        arguments=args,
        timeout=int(p.get("Timeout") or job.timeout or 2880),
        max_capacity=float(p.get("MaxCapacity") or job.max_capacity or default_cap),
        glue_version=str(job.glue_version or ("3.0" if kind == "pythonshell" else "4.0")),
        started=_now(),
        run_arguments=dict(p.get("Arguments") or {}),
    )
    runs.append(run)
    threading.Thread(
        target=_job_thread,
        args=(run, dict(command), call.account_id, call.region, call.session),
        name=f"mllab-gluejob-{name}",
        daemon=True,
    ).start()
    return {"JobRunId": run.id}


@handles("glue", "GetJobRun")
def get_job_run(call: OfflineCall) -> dict[str, Any]:
    """Describe a job run: state, ErrorMessage, ExecutionTime."""
    job = _fake_job(call, str(call.params.get("JobName")))
    rid = str(call.params.get("RunId"))
    for r in _runs(job):
        if r.id == rid:
            return {"JobRun": r.describe()}
    raise AwsError("EntityNotFoundException", f"Job run {rid} not found")


@handles("glue", "GetJobRuns")
def get_job_runs(call: OfflineCall) -> dict[str, Any]:
    """List a job's runs, newest first."""
    job = _fake_job(call, str(call.params.get("JobName")))
    return {"JobRuns": [r.describe() for r in reversed(_runs(job))]}


@handles("glue", "BatchStopJobRun")
def batch_stop_job_run(call: OfflineCall) -> dict[str, Any]:
    """Stop runs: the subprocess is killed; the run ends STOPPED."""
    job = _fake_job(call, str(call.params.get("JobName")))
    ok, errors = [], []
    for rid in call.params.get("JobRunIds") or []:
        run = next((r for r in _runs(job) if r.id == rid), None)
        if run is None or run.state not in ("STARTING", "RUNNING"):
            errors.append(
                {
                    "JobName": job.name,
                    "JobRunId": rid,
                    "ErrorDetail": {
                        "ErrorCode": "InvalidInputException",
                        "ErrorMessage": "Job run is not running",
                    },
                }
            )
            continue
        run.stop = True
        run.state = "STOPPING"
        ok.append({"JobName": job.name, "JobRunId": rid})
    return {"SuccessfulSubmissions": ok, "Errors": errors}


#: JobUpdate member -> moto FakeJob attribute (UpdateJob overwrites every one of them).
_JOB_UPDATE_FIELDS = {
    "Description": "description",
    "LogUri": "log_uri",
    "Role": "role",
    "ExecutionProperty": "execution_property",
    "Command": "command",
    "DefaultArguments": "default_arguments",
    "NonOverridableArguments": "non_overridable_arguments",
    "Connections": "connections",
    "MaxRetries": "max_retries",
    "AllocatedCapacity": "allocated_capacity",
    "Timeout": "timeout",
    "MaxCapacity": "max_capacity",
    "WorkerType": "worker_type",
    "NumberOfWorkers": "number_of_workers",
    "SecurityConfiguration": "security_configuration",
    "NotificationProperty": "notification_property",
    "GlueVersion": "glue_version",
    "CodeGenConfigurationNodes": "code_gen_configuration_nodes",
    "ExecutionClass": "execution_class",
    "SourceControlDetails": "source_control_details",
}


@handles("glue", "UpdateJob")
def update_job(call: OfflineCall) -> dict[str, Any]:
    """UpdateJob (moto 5.2 lacks it; lab 01's drill repairs a job with it).

    As AWS documents, "the previous job definition is completely overwritten": every
    ``JobUpdate`` member left out returns to its default (``DefaultArguments`` empty,
    ``Timeout`` unset, so Glue's 2,880 minutes), which is why a repair copies the job from
    ``GetJob`` and changes one field. Runs already started keep the arguments they started
    with. Costs nothing (a job definition is free; its runs bill).
    """
    name = str(call.params.get("JobName", ""))
    update = call.params.get("JobUpdate") or {}
    job = _fake_job(call, name)
    for member in ("Role", "Command"):
        if not update.get(member):
            raise AwsError(
                "InvalidInputException",
                f"JobUpdate.{member} is required: UpdateJob overwrites the whole job definition "
                "(start from get_job()['Job'] and change what must change)",
            )
    for member, attr in _JOB_UPDATE_FIELDS.items():
        value = update.get(member)
        if member in ("ExecutionProperty", "DefaultArguments") and value is None:
            value = {}
        if member == "ExecutionClass" and value is None:
            value = "STANDARD"
        setattr(job, attr, value)
    job.last_modified_on = _now()
    return {"JobName": name}


def _serve_bridge(listener: Any, session: Any, done: threading.Event) -> None:
    """Answer the job subprocess's AWS calls on the lab's session."""
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody

    try:
        conn = listener.accept()
    except Exception:  # noqa: BLE001 - the job never connected (closed listener)
        return
    clients: dict[tuple[str, str | None], Any] = {}

    def plain(v: Any) -> Any:
        if isinstance(v, StreamingBody):
            return {"__mllab_stream__": v.read()}
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    with conn:
        while not done.is_set():
            try:
                if not conn.poll(0.1):
                    continue
                service, op, params, region = conn.recv()
            except (EOFError, OSError):
                return
            try:
                key = (service, region)
                if key not in clients:
                    clients[key] = session.client(service, region_name=region)
                parsed = clients[key]._make_api_call(op, params)
                reply: tuple[str, Any] = ("ok", (200, plain(dict(parsed))))
            except ClientError as err:
                status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
                reply = (
                    "ok",
                    (
                        status,
                        {
                            "Error": err.response.get("Error", {}),
                            "ResponseMetadata": {"HTTPStatusCode": status},
                        },
                    ),
                )
            except Exception as err:  # noqa: BLE001 - e.g. CostGuardError: the script sees it
                reply = ("exc", f"{type(err).__name__}: {err}")
            try:
                conn.send(reply)
            except (OSError, ValueError):
                return


def _job_thread(
    run: JobRun, command: dict[str, Any], account_id: str, region: str, session: Any
) -> None:
    import os
    import secrets
    import subprocess
    import sys
    import tempfile
    from multiprocessing.connection import Listener

    from mllab.offline import clock
    from mllab.offline.athena.catalog import s3_backend, split_s3

    t0 = clock.now()
    out_lines: list[str] = []
    err_lines: list[str] = []
    try:
        kind = str(command.get("Name", ""))
        if kind in ("glueetl", "gluestreaming", "glueray"):
            raise RuntimeError(
                f"Command.Name '{kind}' needs Apache Spark and the Glue ETL runtime, which the offline "
                "backend does not have (no local Spark). Use a Python shell job "
                "(Command.Name='pythonshell') offline, or run this job on a sandbox account "
                "(MLLAB_BACKEND=aws)."
            )
        if kind != "pythonshell":
            raise RuntimeError(f"Unknown Command.Name '{kind}': use 'pythonshell' offline")
        loc = str(command.get("ScriptLocation") or "")
        try:
            bucket, key = split_s3(loc)
            script = s3_backend(account_id).get_object(bucket, key).value
        except Exception:  # noqa: BLE001 - missing bucket/key
            raise RuntimeError(
                f"Script not found in S3: {loc!r} (upload it, then start the run)"
            ) from None
        with tempfile.TemporaryDirectory(prefix="mllab-gluejob-") as work:
            os.makedirs(os.path.join(work, "stub", "awsglue"))
            with open(os.path.join(work, "stub", "awsglue", "__init__.py"), "w") as fh:
                fh.write('"""Offline stand-in: only awsglue.utils.getResolvedOptions exists."""\n')
            with open(os.path.join(work, "stub", "awsglue", "utils.py"), "w") as fh:
                fh.write(_AWSGLUE_UTILS)
            with open(os.path.join(work, "bootstrap.py"), "w") as fh:
                fh.write(_BOOTSTRAP)
            script_path = os.path.join(work, os.path.basename(key) or "script.py")
            with open(script_path, "wb") as fh:
                fh.write(script)
            authkey = secrets.token_bytes(16)
            listener = Listener(("127.0.0.1", 0), authkey=authkey)
            done = threading.Event()
            server = threading.Thread(
                target=_serve_bridge, args=(listener, session, done), daemon=True
            )
            server.start()
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith("AWS_") and not k.startswith("MLLAB_BRIDGE")
            }
            env.update(
                {
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing",
                    "AWS_DEFAULT_REGION": region,
                    "AWS_REGION": region,
                    "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                    "MLLAB_BRIDGE_HOST": "127.0.0.1",
                    "MLLAB_BRIDGE_PORT": str(listener.address[1]),
                    "MLLAB_BRIDGE_KEY": authkey.hex(),
                    "PYTHONPATH": os.pathsep.join(
                        [os.path.join(work, "stub")]
                        + [p for p in sys.path if p and os.path.isdir(p)]
                    ),
                    "PYTHONUNBUFFERED": "1",
                }
            )
            argv = ["--JOB_NAME", run.job_name, "--JOB_RUN_ID", run.id]
            for k, v in run.arguments.items():
                argv += [k if k.startswith("--") else f"--{k}", str(v)]
            with (
                open(os.path.join(work, "stdout"), "wb") as so,
                open(os.path.join(work, "stderr"), "wb") as se,
            ):
                proc = subprocess.Popen(
                    [sys.executable, os.path.join(work, "bootstrap.py"), script_path, *argv],
                    cwd=work,
                    env=env,
                    stdout=so,
                    stderr=se,
                    stdin=subprocess.DEVNULL,
                )
                run.proc = proc
                if run.state == "STARTING":
                    run.state = "RUNNING"
                timed_out = False
                while proc.poll() is None:
                    if run.stop:
                        proc.kill()
                        break
                    if clock.now() - t0 >= run.timeout * 60:
                        proc.kill()
                        timed_out = True
                        break
                    time.sleep(0.05)
                proc.wait()
            done.set()
            listener.close()
            with open(os.path.join(work, "stdout"), encoding="utf-8", errors="replace") as fh:
                out_lines = fh.read().splitlines()
            with open(os.path.join(work, "stderr"), encoding="utf-8", errors="replace") as fh:
                err_lines = fh.read().splitlines()
            if run.stop:
                run.state = "STOPPED"
            elif timed_out:
                run.state = "TIMEOUT"
                run.error = f"Job run timed out: it ran longer than the job's Timeout of {run.timeout} minutes"
            elif proc.returncode != 0:
                run.state = "FAILED"
                last = next(
                    (ln for ln in reversed(err_lines) if ln.strip()), f"exit code {proc.returncode}"
                )
                run.error = last.strip()
            else:
                run.state = "SUCCEEDED"
    except Exception as err:  # noqa: BLE001 - the run fails with the reason
        run.state = "FAILED"
        run.error = str(err)
        err_lines.append(str(err))
    finally:
        run.execution_time = int(max(0.0, clock.now() - t0))
        run.completed = _now()
        try:
            write_log(account_id, region, JOB_LOG_GROUP + "/output", run.id, out_lines)
            write_log(account_id, region, JOB_LOG_GROUP + "/error", run.id, err_lines)
        except Exception:  # noqa: BLE001 - moto stopped under us
            pass
