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
