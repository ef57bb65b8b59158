"""Offline Athena statements other than plain SELECT: DDL, CTAS, INSERT, SHOW, DESCRIBE (lab 01).

Supported: ``CREATE EXTERNAL TABLE`` (columns, ``PARTITIONED BY``, ``ROW FORMAT DELIMITED
FIELDS TERMINATED BY`` / ``ROW FORMAT SERDE ... WITH SERDEPROPERTIES``, ``STORED AS
PARQUET|TEXTFILE|ORC``, ``LOCATION``, ``TBLPROPERTIES``), ``CREATE TABLE AS SELECT``
(``format`` PARQUET/JSON/TEXTFILE, ``external_location``, ``partitioned_by``,
``write_compression``, ``field_delimiter``), ``INSERT INTO ... SELECT``, ``MSCK REPAIR
TABLE``, ``ALTER TABLE ... ADD|DROP PARTITION``, ``CREATE [OR REPLACE] VIEW``, ``DROP
TABLE|VIEW``, ``CREATE|DROP DATABASE``, ``SHOW TABLES|DATABASES|PARTITIONS|COLUMNS|VIEWS``,
``SHOW CREATE TABLE`` and ``DESCRIBE``. Everything goes to moto's Glue catalog.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import TYPE_CHECKING, Any

from mllab.offline.athena import catalog as cat
from mllab.offline.athena.engine import (
    DEFAULT_CATALOG,
    Context,
    QueryError,
    output_names,
    run_select,
)

if TYPE_CHECKING:  # pragma: no cover
    from mllab.offline.athena.service import Execution

PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
TEXT_IO = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
}
ORC_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        "Parameters": {},
    },
}


def _strip(sql: str) -> str:
    sql = re.sub(r"/\*(?!\s*Presto).*?\*/", " ", sql, flags=re.S)
    sql = "\n".join(re.sub(r"--.*$", "", ln) for ln in sql.splitlines())
    return sql.strip().rstrip(";").strip()


def _ddl_error(msg: str) -> QueryError:
    return QueryError(msg, 2, 1006)


def _hive_type(dtype: Any) -> str:
    s = dtype.sql(dialect="hive").lower()
    return re.sub(r"\s*([:,<>()])\s*", r"\1", s)


def _split_name(name: str, ctx: Context) -> tuple[str, str]:
    parts = [p.strip('`"').lower() for p in name.split(".")]
    if parts and parts[0] == DEFAULT_CATALOG and len(parts) == 3:
        parts = parts[1:]
    if len(parts) == 2:
        return parts[0], parts[1]
    return (ctx.database or "default").lower(), parts[-1]


def _glue(ctx: Context) -> Any:
    return cat.glue_backend(ctx.account_id, ctx.region)


def _need_db(ctx: Context, db: str) -> None:
    if cat.get_database(ctx.account_id, ctx.region, db) is None:
        raise _ddl_error(f"FAILED: SemanticException [Error 10072]: Database does not exist: {db}")


def execute(ex: Execution, query: str, ctx: Context) -> None:
    """Run one statement and fill ``ex`` (columns, rows, statement type, scanned bytes)."""
    sql = _strip(query)
    head = sql[:200].upper()
    words = head.split()
    first = words[0] if words else ""
    if first in ("SELECT", "WITH", "VALUES", "(", "TABLE") or head.startswith("("):
        return _select(ex, sql, ctx)
    if re.match(r"^CREATE\s+(OR\s+REPLACE\s+)?VIEW\b", head):
        return _create_view(ex, sql, ctx)
    if re.match(r"^CREATE\s+TABLE\b", head) and re.search(
        r"\bAS\s*\(?\s*(SELECT|WITH)\b", sql, re.I
    ):
        return _ctas(ex, sql, ctx)
    if re.match(r"^CREATE\s+(EXTERNAL\s+)?TABLE\b", head):
        return _create_table(ex, sql, ctx)
    if re.match(r"^INSERT\s+INTO\b", head):
        return _insert(ex, sql, ctx)
    if re.match(r"^CREATE\s+(DATABASE|SCHEMA)\b", head):
        return _create_database(ex, sql, ctx)
    if re.match(r"^DROP\s+(DATABASE|SCHEMA)\b", head):
        return _drop_database(ex, sql, ctx)
    if re.match(r"^DROP\s+(TABLE|VIEW)\b", head):
        return _drop(ex, sql, ctx)
    if re.match(r"^MSCK\s+REPAIR\s+TABLE\b", head):
        return _msck(ex, sql, ctx)
    if re.match(r"^ALTER\s+TABLE\b", head):
        return _alter(ex, sql, ctx)
    if first == "SHOW":
        return _show(ex, sql, ctx)
    if first in ("DESCRIBE", "DESC"):
        return _describe(ex, sql, ctx)
    raise QueryError(
        f"line 1:1: mismatched input '{sql.split()[0] if sql else ''}'. The offline Athena runs "
        "SELECT, CTAS, INSERT INTO, CREATE/DROP TABLE|VIEW|DATABASE, MSCK REPAIR TABLE, "
        "ALTER TABLE ADD/DROP PARTITION, SHOW and DESCRIBE",
        2,
        1001,
    )


def _ddl_result(
    ex: Execution,
    sub: str,
    name: str | None = None,
    rows: list[str] | None = None,
    stype: str = "DDL",
) -> None:
    ex.statement_type, ex.substatement = stype, sub
    ex.header, ex.ext = False, "txt"
    ex.columns = []
    if name is not None:
        from mllab.offline.athena.service import column_info

        ex.columns = [column_info(name, "VARCHAR")]
        ex.columns[0]["Type"] = "string"
    ex.rows = [[r] for r in rows or []]


# --------------------------------------------------------------------------- SELECT


def _select(ex: Execution, sql: str, ctx: Context) -> None:
    from mllab.offline.athena.service import column_info

    res = run_select(sql, ctx)
    ex.statement_type, ex.substatement = "DML", "SELECT"
    ex.scanned = res.scanned
    ex.columns = [column_info(n, t) for n, t in res.columns]
    ex.rows = [[cat.format_value(v) for v in r] for r in res.rows]


# --------------------------------------------------------------------------- CREATE EXTERNAL TABLE


def _create_table(ex: Execution, sql: str, ctx: Context) -> None:
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="athena")
    except Exception as err:  # noqa: BLE001 - Hive DDL syntax error
        raise _ddl_error(
            f"FAILED: ParseException line 1:0 cannot recognize input near: {str(err).splitlines()[0]}"
        ) from None
    schema = tree.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    db = (table.db or ctx.database or "default").lower()
    name = table.name.lower()
    _need_db(ctx, db)
    if cat.get_fake_table(ctx.account_id, ctx.region, db, name) is not None:
        if tree.args.get("exists"):
            return _ddl_result(ex, "CREATE_TABLE")
        raise _ddl_error(
            "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
            f"AlreadyExistsException(message:Table {name} already exists)"
        )
    columns = [
        {"Name": c.name.lower(), "Type": _hive_type(c.args["kind"])}
        for c in (schema.expressions if isinstance(schema, exp.Schema) else [])
    ]
    keys: list[dict[str, str]] = []
    location, fmt, serde_lib, serde_params, tblprops = None, "TEXTFILE", None, {}, {}
    delim = None
    for prop in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            for c in prop.this.expressions:
                keys.append(
                    {
                        "Name": c.name.lower(),
                        "Type": _hive_type(c.args["kind"]) if c.args.get("kind") else "string",
                    }
                )
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.FileFormatProperty):
            fmt = (prop.this.name if prop.this is not None else "TEXTFILE").upper()
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            f = prop.args.get("fields")
            if f is not None:
                delim = _unescape(f.name)
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde_lib = prop.this.name
            sp = prop.args.get("serde_properties")
            if sp is not None:
                serde_params = {p.name: p.args["value"].name for p in sp.expressions}
        elif isinstance(prop, exp.SerdeProperties):
            serde_params.update({p.name: p.args["value"].name for p in prop.expressions})
        elif isinstance(prop, exp.Property):
            tblprops[prop.name] = (
                prop.args["value"].name if prop.args.get("value") is not None else ""
            )
    if not location:
        raise _ddl_error(
            "FAILED: SemanticException: LOCATION is required: give the S3 folder of the data, e.g. LOCATION 's3://bucket/prefix/'"
        )
    if not location.startswith("s3://"):
        raise _ddl_error(
            f"FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. Invalid location {location}: use s3://bucket/prefix/"
        )
    sd: dict[str, Any] = {
        "Columns": columns,
        "Location": location,
        "Compressed": False,
        "NumberOfBuckets": -1,
    }
    classification = "csv"
    if fmt == "PARQUET":
        sd.update(json.loads(json.dumps(PARQUET_SD)))
        classification = "parquet"
    elif fmt == "ORC":
        sd.update(json.loads(json.dumps(ORC_SD)))
        classification = "orc"
    else:
        sd.update(TEXT_IO)
        if serde_lib:
            sd["SerdeInfo"] = {"SerializationLibrary": serde_lib, "Parameters": dict(serde_params)}
            classification = "json" if "json" in serde_lib.lower() else "csv"
        else:
            d = delim if delim is not None else "\x01"
            sd["SerdeInfo"] = {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": d, "serialization.format": d},
            }
    params = {"EXTERNAL": "TRUE", "classification": classification, **tblprops}
    _glue(ctx).create_table(
        db,
        name,
        {
            "Name": name,
            "StorageDescriptor": sd,
            "PartitionKeys": keys,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": params,
        },
    )
    _ddl_result(ex, "CREATE_TABLE")


def _unescape(s: str) -> str:
    if s.startswith("\\") and len(s) > 1:
        if s[1:].isdigit():
            return chr(int(s[1:], 8))
        return {"t": "\t", "n": "\n", "\\": "\\"}.get(s[1], s[1])
    return s


# --------------------------------------------------------------------------- CTAS / INSERT


def _write_rows(
    ctx: Context,
    arrow_table: Any,
    location: str,
    keys: list[str],
    fmt: str,
    compression: str,
    delim: str,
    query_id: str,
) -> tuple[list[tuple[list[str], str]], list[str]]:
    """Write ``arrow_table`` under ``location`` (Hive ``key=value`` folders); return partitions and files."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    written: list[str] = []
    parts: list[tuple[list[str], str]] = []
    data_cols = [c for c in arrow_table.column_names if c not in keys]

    def put(tbl: Any, folder: str, n: int) -> None:
        buf = io.BytesIO()
        if fmt == "PARQUET":
            pq.write_table(
                tbl, buf, compression=None if compression == "NONE" else compression.lower()
            )
            suffix = ""
        else:
            text = _text_rows(tbl, fmt, delim)
            data = text.encode()
            suffix = ""
            if compression == "GZIP":
                import gzip

                data, suffix = gzip.compress(data), ".gz"
            elif compression == "ZSTD":
                raise _ddl_error(
                    "NOT_SUPPORTED: offline TEXTFILE/JSON CTAS writes GZIP or NONE compression"
                )
            buf.write(data)
        uri = f"{folder}{query_id}_{n:05d}{suffix}"
        cat.put_object(ctx.account_id, uri, buf.getvalue())
        written.append(uri)

    base = location if location.endswith("/") else location + "/"
    if not keys:
        put(arrow_table.select(data_cols), base, 0)
        return parts, written
    groups = arrow_table.group_by(keys).aggregate([]).to_pylist()
    for n, g in enumerate(groups):
        mask = None
        for k in keys:
            col = arrow_table[k]
            cond = pc.is_null(col) if g[k] is None else pc.equal(col, pa.scalar(g[k], col.type))
            mask = cond if mask is None else pc.and_(mask, cond)
        sub = arrow_table.filter(mask).select(data_cols)
        values = [
            "__HIVE_DEFAULT_PARTITION__" if g[k] is None else cat.format_value(g[k]) or ""
            for k in keys
        ]
        folder = base + "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) + "/"
        put(sub, folder, n)
        parts.append((values, folder))
    return parts, written


def _text_rows(tbl: Any, fmt: str, delim: str) -> str:
    rows = tbl.to_pylist()
    if fmt == "JSON":
        import datetime as dt

        def conv(v: Any) -> Any:
            if isinstance(v, dt.datetime | dt.date):
                return cat.format_value(v)
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v

        return "".join(
            json.dumps({k: conv(v) for k, v in r.items()}, default=str) + "\n" for r in rows
        )
    out = []
    for r in rows:
        out.append(delim.join("\\N" if v is None else str(cat.format_value(v)) for v in r.values()))
    return "\n".join(out) + ("\n" if out else "")


def _sd_for(
    fmt: str, compression: str, delim: str, columns: list[dict[str, str]], location: str
) -> dict[str, Any]:
    sd: dict[str, Any] = {
        "Columns": columns,
        "Location": location,
        "Compressed": compression not in ("NONE", ""),
        "NumberOfBuckets": -1,
    }
    if fmt == "PARQUET":
        sd.update(json.loads(json.dumps(PARQUET_SD)))
    elif fmt == "JSON":
        sd.update(TEXT_IO)
        sd["SerdeInfo"] = {
            "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
            "Parameters": {},
        }
    else:
        sd.update(TEXT_IO)
        sd["SerdeInfo"] = {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": delim, "serialization.format": delim},
        }
    return sd


def _select_arrow(sql_tree: Any, sql: str, ctx: Context) -> tuple[Any, int, list[tuple[str, str]]]:
    """Run a SELECT tree and return (arrow table with Trino column names, scanned, columns)."""
    from mllab.offline.athena.engine import load, map_duckdb_error, prepare, to_duckdb

    tree, con, sources = prepare(sql, ctx, sql_tree)
    try:
        with cat.LocalFiles() as files:
            scanned = load(con, sources, ctx, files)
            try:
                rel = con.sql(to_duckdb(tree))
                names = output_names(tree, len(rel.columns), list(rel.columns))
                types = [str(t) for t in rel.types]
                tbl = rel.arrow()
            except QueryError:
                raise
            except Exception as err:  # noqa: BLE001 - DuckDB's error in Athena's words
                raise map_duckdb_error(err, sql) from None
        if hasattr(tbl, "read_all"):
            tbl = tbl.read_all()
        tbl = tbl.rename_columns(names)
        return tbl, scanned, list(zip(names, types, strict=True))
    finally:
        ctx.con = None
        con.close()


def _create_as_select(sql: str, ctx: Context, missing: str) -> tuple[Any, str, str]:
    """Parse ``CREATE TABLE|VIEW name AS SELECT``; return the tree, database and name."""
    from sqlglot import exp

    from mllab.offline.athena.engine import parse

    tree = parse(sql)
    if not isinstance(tree, exp.Create) or tree.expression is None:
        raise QueryError(f"line 1:1: {missing}", 2, 1001)
    table = tree.this if isinstance(tree.this, exp.Table) else tree.this.this
    return tree, (table.db or ctx.database or "default").lower(), table.name.lower()


def _ctas(ex: Execution, sql: str, ctx: Context) -> None:
    import sqlglot
    from sqlglot import exp

    from mllab.offline.athena.service import column_info

    tree, db, name = _create_as_select(sql, ctx, "CREATE TABLE AS needs a SELECT")
    ex.statement_type, ex.substatement = "DML", "CREATE_TABLE_AS_SELECT"
    if cat.get_database(ctx.account_id, ctx.region, db) is None:
        raise QueryError(f"SCHEMA_NOT_FOUND: line 1:14: Schema '{db}' does not exist", 2, 1006)
    if cat.get_fake_table(ctx.account_id, ctx.region, db, name) is not None:
        if tree.args.get("exists"):
            ex.columns, ex.rows = [column_info("rows", "BIGINT")], [["0"]]
            return
        raise QueryError(
            f"TABLE_ALREADY_EXISTS: line 1:1: Table '{DEFAULT_CATALOG}.{db}.{name}' already exists",
            2,
            1006,
        )
    fmt, location, keys, compression, delim = "PARQUET", None, [], None, "\x01"
    for prop in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            fmt = prop.this.name.upper()
        elif isinstance(prop, exp.PartitionedByProperty):
            arr = prop.this
            keys = [
                e.name.lower() for e in (arr.expressions if hasattr(arr, "expressions") else [])
            ]
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.Property):
            key, val = prop.name.lower(), prop.args["value"]
            sval = val.name if isinstance(val, exp.Literal) else val.sql()
            if key in ("external_location", "location"):
                location = sval
            elif key == "format":
                fmt = sval.upper()
            elif key == "write_compression" or key.endswith("_compression"):
                compression = sval.upper()
            elif key == "field_delimiter":
                delim = sval
            elif key == "partitioned_by":
                keys = [e.name.lower() for e in getattr(val, "expressions", [])]
    if fmt not in ("PARQUET", "JSON", "TEXTFILE"):
        raise QueryError(
            f"NOT_SUPPORTED: format '{fmt}' cannot be written offline; use PARQUET, JSON or TEXTFILE",
            2,
            1006,
        )
    compression = compression or ("SNAPPY" if fmt == "PARQUET" else "GZIP")
    if location is None:
        location = f"{ex.output_dir.rstrip('/')}/tables/{ex.id}/"
    elif cat.list_objects(ctx.account_id, location):
        raise QueryError(
            f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{db}.{name}' already exists: {location}. "
            "You may need to manually clean the data at location "
            f"'{location}' before retrying. Athena will not delete data in your account.",
            2,
            1006,
        )
    select_sql = tree.expression.sql(dialect="trino")
    tbl, scanned, cols = _select_arrow(sqlglot.parse_one(select_sql, read="trino"), select_sql, ctx)
    ex.scanned = scanned
    names = [c for c, _ in cols]
    if keys and names[-len(keys) :] != keys:
        raise QueryError(
            "HIVE_COLUMN_ORDER_MISMATCH: Partition keys must be the last columns in the table and "
            f"in the same order as the table properties: {keys}",
            2,
            1006,
        )
    parts, files = _write_rows(ctx, tbl, location, keys, fmt, compression, delim, ex.id)
    types = dict(cols)
    columns = [{"Name": c, "Type": cat.duckdb_to_glue(types[c])} for c in names if c not in keys]
    key_defs = [{"Name": k, "Type": cat.duckdb_to_glue(types[k])} for k in keys]
    loc = location if location.endswith("/") else location + "/"
    params = {
        "classification": fmt.lower() if fmt != "TEXTFILE" else "csv",
        "has_encrypted_data": "false",
        "EXTERNAL": "TRUE",
    }
    if fmt == "PARQUET":
        params["parquet.compression"] = compression
    glue = _glue(ctx)
    glue.create_table(
        db,
        name,
        {
            "Name": name,
            "StorageDescriptor": _sd_for(fmt, compression, delim, columns, loc),
            "PartitionKeys": key_defs,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": params,
        },
    )
    if parts:
        glue.batch_create_partition(
            db,
            name,
            [
                {
                    "Values": v,
                    "StorageDescriptor": _sd_for(fmt, compression, delim, columns, folder),
                }
                for v, folder in parts
            ],
        )
    manifest = "\n".join(files) + "\n"
    cat.put_object(
        ctx.account_id, f"{ex.output_dir.rstrip('/')}/{ex.id}-manifest.csv", manifest.encode()
    )
    ex.update_count = tbl.num_rows
    ex.columns, ex.rows = [column_info("rows", "BIGINT")], [[str(tbl.num_rows)]]


def _insert(ex: Execution, sql: str, ctx: Context) -> None:
    import sqlglot
    from sqlglot import exp

    from mllab.offline.athena.engine import make_parse_target, parse
    from mllab.offline.athena.service import column_info

    tree = parse(sql)
    ex.statement_type, ex.substatement = "DML", "INSERT"
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    src = make_parse_target(target, sql, ctx)
    kind = src.kind
    if kind not in ("parquet", "json", "csv"):
        raise QueryError(
            f"NOT_SUPPORTED: INSERT INTO a {kind} table is not supported offline", 2, 1006
        )
    if kind == "csv" and int(
        src.serde.get("skip.header.line.count") or src.params.get("skip.header.line.count") or 0
    ):
        raise QueryError(
            "NOT_SUPPORTED: Insert into a table with skip.header.line.count is not supported",
            2,
            1006,
        )
    select_sql = tree.expression.sql(dialect="trino")
    tbl, scanned, cols = _select_arrow(sqlglot.parse_one(select_sql, read="trino"), select_sql, ctx)
    ex.scanned = scanned
    target_cols = [c for c, _ in src.columns] + [k for k, _ in src.keys]
    if tbl.num_columns != len(target_cols):
        raise QueryError(
            f"TYPE_MISMATCH: line 1:1: Insert query has {tbl.num_columns} columns, target table "
            f"'{DEFAULT_CATALOG}.{src.db}.{src.name}' has {len(target_cols)}",
            2,
            1006,
        )
    tbl = tbl.rename_columns(target_cols)
    fmt = {"parquet": "PARQUET", "json": "JSON", "csv": "TEXTFILE"}[kind]
    delim = src.serde.get("field.delim") or "\x01"
    compression = "SNAPPY" if fmt == "PARQUET" else "NONE"
    parts, _ = _write_rows(
        ctx, tbl, src.location, [k for k, _ in src.keys], fmt, compression, delim, ex.id
    )
    existing = {str(p.get("Values")) for p in cat.partitions_of(src.fake)}
    cols = src.table["StorageDescriptor"]["Columns"]
    new = [
        {"Values": v, "StorageDescriptor": _sd_for(fmt, compression, delim, cols, folder)}
        for v, folder in parts
        if str(v) not in existing
    ]
    if new:
        _glue(ctx).batch_create_partition(src.db, src.name, new)
    ex.update_count = tbl.num_rows
    ex.columns, ex.rows = [column_info("rows", "BIGINT")], [[str(tbl.num_rows)]]


# --------------------------------------------------------------------------- views


def _create_view(ex: Execution, sql: str, ctx: Context) -> None:

    tree, db, name = _create_as_select(sql, ctx, "CREATE VIEW needs AS SELECT")
    _ddl_result(ex, "CREATE_VIEW")
    if cat.get_database(ctx.account_id, ctx.region, db) is None:
        raise QueryError(f"SCHEMA_NOT_FOUND: line 1:13: Schema '{db}' does not exist", 2, 1006)
    m = re.search(r"\bAS\s+(\(?\s*(SELECT|WITH)\b.*)$", sql, re.I | re.S)
    body = m.group(1) if m else tree.expression.sql(dialect="trino")
    probe = f"SELECT * FROM ({body}) AS __v LIMIT 0"
    res = run_select(probe, Context(ctx.account_id, ctx.region, db, None, None))
    columns = [{"Name": n, "Type": cat.duckdb_to_glue(t)} for n, t in res.columns]
    existing = cat.get_fake_table(ctx.account_id, ctx.region, db, name)
    if existing is not None and not tree.args.get("replace"):
        raise QueryError(f"line 1:1: View '{DEFAULT_CATALOG}.{db}.{name}' already exists", 2, 1006)
    presto = {
        "originalSql": body,
        "catalog": DEFAULT_CATALOG,
        "schema": db,
        "columns": [{"name": c["Name"], "type": _presto_type(c["Type"])} for c in columns],
    }
    encoded = base64.b64encode(json.dumps(presto).encode()).decode()
    table_input: dict[str, Any] = {
        "Name": name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": f"/* Presto View: {encoded} */",
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {"Columns": columns, "SerdeInfo": {}, "Location": ""},
        "PartitionKeys": [],
    }
    glue = _glue(ctx)
    if existing is not None:
        glue.update_table(db, name, table_input)
    else:
        glue.create_table(db, name, table_input)


def _presto_type(glue_type: str) -> str:
    return {"string": "varchar", "int": "integer", "float": "real"}.get(glue_type, glue_type)


# --------------------------------------------------------------------------- drop, databases


def _drop(ex: Execution, sql: str, ctx: Context) -> None:
    m = re.match(r"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?([`\"\w.]+)", sql, re.I)
    if not m:
        raise QueryError("line 1:1: DROP TABLE|VIEW [IF EXISTS] name", 2, 1001)
    kind, if_exists, full = m.group(1).upper(), bool(m.group(2)), m.group(3)
    db, name = _split_name(full, ctx)
    _ddl_result(ex, f"DROP_{kind}")
    fake = cat.get_fake_table(ctx.account_id, ctx.region, db, name)
    if fake is None or (kind == "VIEW") != (fake.as_dict().get("TableType") == "VIRTUAL_VIEW"):
        if if_exists:
            return
        if kind == "VIEW":
            raise QueryError(
                f"line 1:1: View '{DEFAULT_CATALOG}.{db}.{name}' does not exist", 2, 1006
            )
        raise _ddl_error(f"FAILED: SemanticException [Error 10001]: Table not found {db}.{name}")
    _glue(ctx).delete_table(db, fake.name)


def _create_database(ex: Execution, sql: str, ctx: Context) -> None:
    m = re.match(
        r"^CREATE\s+(?:DATABASE|SCHEMA)\s+(IF\s+NOT\s+EXISTS\s+)?([`\"\w]+)(?:.*?LOCATION\s+'([^']+)')?",
        sql,
        re.I | re.S,
    )
    if not m:
        raise QueryError("line 1:1: CREATE DATABASE [IF NOT EXISTS] name", 2, 1001)
    name = m.group(2).strip('`"').lower()
    _ddl_result(ex, "CREATE_DATABASE")
    if cat.get_database(ctx.account_id, ctx.region, name) is not None:
        if m.group(1):
            return
        raise _ddl_error(
            "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
            f"Database {name} already exists"
        )
    db_input: dict[str, Any] = {"Name": name}
    if m.group(3):
        db_input["LocationUri"] = m.group(3)
    _glue(ctx).create_database(name, db_input)


def _drop_database(ex: Execution, sql: str, ctx: Context) -> None:
    m = re.match(
        r"^DROP\s+(?:DATABASE|SCHEMA)\s+(IF\s+EXISTS\s+)?([`\"\w]+)\s*(CASCADE)?", sql, re.I
    )
    if not m:
        raise QueryError("line 1:1: DROP DATABASE [IF EXISTS] name [CASCADE]", 2, 1001)
    name = m.group(2).strip('`"').lower()
    _ddl_result(ex, "DROP_DATABASE")
    db = cat.get_database(ctx.account_id, ctx.region, name)
    if db is None:
        if m.group(1):
            return
        raise _ddl_error(
            f"FAILED: SemanticException [Error 10072]: Database does not exist: {name}"
        )
    if db.tables and not m.group(3):
        raise _ddl_error(
            "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
            f"InvalidOperationException(message:Database {name} is not empty. One or more tables exist.)"
        )
    _glue(ctx).delete_database(db.name)


# --------------------------------------------------------------------------- partitions


def _table_or_fail(ctx: Context, full: str) -> tuple[str, str, Any]:
    db, name = _split_name(full, ctx)
    fake = cat.get_fake_table(ctx.account_id, ctx.region, db, name)
    if fake is None:
        raise _ddl_error(f"FAILED: SemanticException [Error 10001]: Table not found {db}.{name}")
    return db, fake.name, fake


def _msck(ex: Execution, sql: str, ctx: Context) -> None:
    m = re.match(r"^MSCK\s+REPAIR\s+TABLE\s+([`\"\w.]+)", sql, re.I)
    if not m:
        raise QueryError("line 1:1: MSCK REPAIR TABLE name", 2, 1001)
    db, name, fake = _table_or_fail(ctx, m.group(1))
    t = fake.as_dict()
    keys = [k["Name"].lower() for k in t.get("PartitionKeys") or []]
    _ddl_result(ex, "MSCK_REPAIR_TABLE")
    if not keys:
        raise _ddl_error(
            f"FAILED: SemanticException [Error 10241]: Table is not partitioned but partition spec exists: {name}"
        )
    location = t["StorageDescriptor"]["Location"]
    loc = location if location.endswith("/") else location + "/"
    _, prefix = cat.split_s3(loc)
    found: dict[tuple[str, ...], str] = {}
    for obj in cat.list_objects(ctx.account_id, loc):
        rel = obj.key[len(prefix) :].split("/")[:-1]
        if len(rel) < len(keys):
            continue
        values = []
        for k, folder in zip(keys, rel, strict=False):
            mm = re.match(r"^([^=]+)=(.*)$", folder)
            if not mm or mm.group(1).lower() != k:
                break
            values.append(mm.group(2))
        else:
            found.setdefault(tuple(values), loc + "/".join(rel[: len(keys)]) + "/")
    existing = {str(p.get("Values")) for p in cat.partitions_of(fake)}
    sd = t["StorageDescriptor"]
    new = [
        {"Values": list(v), "StorageDescriptor": {**sd, "Location": where}}
        for v, where in sorted(found.items())
        if str(list(v)) not in existing
    ]
    lines = [
        f"Partitions not in metastore:\t{name}:"
        + "/".join(f"{k}={x}" for k, x in zip(keys, p["Values"], strict=True))
        for p in new
    ]
    if new:
        _glue(ctx).batch_create_partition(db, name, new)
    lines += [
        f"Repair: Added partition to metastore {name}:"
        + "/".join(f"{k}={x}" for k, x in zip(keys, p["Values"], strict=True))
        for p in new
    ]
    ex.rows = [[ln] for ln in lines]


def _spec(text: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r"([`\"\w]+)\s*=\s*('(?:[^']|'')*'|[^,\s)]+)", text):
        v = m.group(2)
        out[m.group(1).strip('`"').lower()] = v[1:-1].replace("''", "'") if v.startswith("'") else v
    return out


def _alter(ex: Execution, sql: str, ctx: Context) -> None:
    m = re.match(
        r"^ALTER\s+TABLE\s+([`\"\w.]+)\s+(ADD|DROP)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?(.*)$",
        sql,
        re.I | re.S,
    )
    if not m or "PARTITION" not in m.group(4).upper():
        raise QueryError(
            "line 1:1: the offline Athena supports ALTER TABLE name ADD|DROP PARTITION (...)",
            2,
            1001,
        )
    db, name, fake = _table_or_fail(ctx, m.group(1))
    t = fake.as_dict()
    keys = [k["Name"].lower() for k in t.get("PartitionKeys") or []]
    action, lenient, rest = m.group(2).upper(), bool(m.group(3)), m.group(4)
    _ddl_result(ex, f"ALTER_TABLE_{action}_PARTITION")
    specs = re.findall(r"PARTITION\s*\(([^)]*)\)\s*(?:LOCATION\s*'([^']*)')?", rest, re.I)
    glue = _glue(ctx)
    sd = t["StorageDescriptor"]
    base = sd["Location"] if sd["Location"].endswith("/") else sd["Location"] + "/"
    for spec_text, where in specs:
        spec = _spec(spec_text)
        if set(spec) != set(keys):
            raise _ddl_error(
                f"FAILED: SemanticException [Error 10098]: Partition spec {spec} contains non-partition "
                f"columns or misses some; the partition keys are {keys}"
            )
        values = [spec[k] for k in keys]
        exists = str(values) in fake.partitions
        if action == "ADD":
            if exists:
                if lenient:
                    continue
                raise _ddl_error(
                    "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
                    "AlreadyExistsException(message:Partition already exists)"
                )
            location = where or base + "/".join(f"{k}={spec[k]}" for k in keys) + "/"
            glue.create_partition(
                db, name, {"Values": values, "StorageDescriptor": {**sd, "Location": location}}
            )
        else:
            if not exists:
                if lenient:
                    continue
                raise _ddl_error(
                    f"FAILED: SemanticException [Error 10006]: Partition not found {spec}"
                )
            del fake.partitions[str(values)]


# --------------------------------------------------------------------------- SHOW / DESCRIBE


def _show(ex: Execution, sql: str, ctx: Context) -> None:
    up = sql.upper()
    glue = _glue(ctx)
    if re.match(r"^SHOW\s+(DATABASES|SCHEMAS)", up):
        names = sorted(glue.databases)
        m = re.search(r"LIKE\s+'([^']*)'", sql, re.I)
        if m:
            pat = re.compile("^" + m.group(1).replace("*", ".*").replace("%", ".*") + "$", re.I)
            names = [n for n in names if pat.match(n)]
        return _ddl_result(ex, "SHOW_DATABASES", "database_name", names)
    m = re.match(
        r"^SHOW\s+(TABLES|VIEWS)(?:\s+(?:IN|FROM)\s+([`\"\w]+))?(?:\s+(?:LIKE\s+)?'([^']*)')?",
        sql,
        re.I,
    )
    if m:
        db = (m.group(2) or ctx.database or "default").strip('`"').lower()
        _need_db(ctx, db)
        views = m.group(1).upper() == "VIEWS"
        names = []
        database = cat.get_database(ctx.account_id, ctx.region, db)
        for n, fake in (database.tables if database is not None else {}).items():
            is_view = fake.as_dict().get("TableType") == "VIRTUAL_VIEW"
            if views and not is_view:
                continue
            names.append(n)
        if m.group(3):
            pat = re.compile("^(" + m.group(3).replace("*", ".*") + ")$", re.I)
            names = [n for n in names if pat.match(n)]
        return _ddl_result(
            ex,
            "SHOW_VIEWS" if views else "SHOW_TABLES",
            "views" if views else "tab_name",
            sorted(names),
        )
    m = re.match(r"^SHOW\s+PARTITIONS\s+([`\"\w.]+)", sql, re.I)
    if m:
        _, name, fake = _table_or_fail(ctx, m.group(1))
        keys = [k["Name"] for k in fake.as_dict().get("PartitionKeys") or []]
        if not keys:
            raise _ddl_error(
                f"FAILED: SemanticException [Error 10241]: Table {name} is not a partitioned table"
            )
        rows = [
            "/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=False))
            for p in cat.partitions_of(fake)
        ]
        return _ddl_result(ex, "SHOW_PARTITIONS", "partition", sorted(rows))
    m = re.match(r"^SHOW\s+COLUMNS\s+(?:IN|FROM)\s+([`\"\w.]+)", sql, re.I)
    if m:
        _, _, fake = _table_or_fail(ctx, m.group(1))
        t = fake.as_dict()
        cols = [c["Name"] for c in (t.get("StorageDescriptor") or {}).get("Columns") or []]
        cols += [k["Name"] for k in t.get("PartitionKeys") or []]
        return _ddl_result(ex, "SHOW_COLUMNS", "field", cols)
    m = re.match(r"^SHOW\s+CREATE\s+(TABLE|VIEW)\s+([`\"\w.]+)", sql, re.I)
    if m:
        db, name, fake = _table_or_fail(ctx, m.group(2))
        return _ddl_result(
            ex,
            "SHOW_CREATE_TABLE",
            "createtab_stmt",
            _show_create(db, name, fake.as_dict()).splitlines(),
        )
    raise QueryError(
        "line 1:1: SHOW TABLES|VIEWS|DATABASES|PARTITIONS|COLUMNS|CREATE TABLE", 2, 1001
    )


def _show_create(db: str, name: str, t: dict[str, Any]) -> str:
    from mllab.offline.athena.engine import view_sql

    if t.get("TableType") == "VIRTUAL_VIEW":
        return f'CREATE VIEW "{db}"."{name}" AS\n{view_sql(t)}'
    sd = t.get("StorageDescriptor") or {}
    cols = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in sd.get("Columns") or [])
    out = [f"CREATE EXTERNAL TABLE `{db}`.`{name}`(", cols, ")"]
    keys = t.get("PartitionKeys") or []
    if keys:
        out.append(
            "PARTITIONED BY ( \n" + ",\n".join(f"  `{k['Name']}` {k['Type']}" for k in keys) + ")"
        )
    serde = sd.get("SerdeInfo") or {}
    out.append("ROW FORMAT SERDE \n  '" + str(serde.get("SerializationLibrary", "")) + "' ")
    if serde.get("Parameters"):
        props = ", \n".join(f"  '{k}'='{v}'" for k, v in serde["Parameters"].items())
        out.append("WITH SERDEPROPERTIES ( \n" + props + ") ")
    out.append(
        f"STORED AS INPUTFORMAT \n  '{sd.get('InputFormat', '')}' \nOUTPUTFORMAT \n  '{sd.get('OutputFormat', '')}'"
    )
    out.append(f"LOCATION\n  '{sd.get('Location', '')}'")
    params = t.get("Parameters") or {}
    if params:
        out.append(
            "TBLPROPERTIES (\n" + ", \n".join(f"  '{k}'='{v}'" for k, v in params.items()) + ")"
        )
    return "\n".join(out)


def _describe(ex: Execution, sql: str, ctx: Context) -> None:
    m = re.match(r"^DESC(?:RIBE)?\s+(?:FORMATTED\s+|EXTENDED\s+)?([`\"\w.]+)", sql, re.I)
    if not m:
        raise QueryError("line 1:1: DESCRIBE name", 2, 1001)
    _, _, fake = _table_or_fail(ctx, m.group(1))
    t = fake.as_dict()

    def line(a: str, b: str, c: str = "") -> str:
        return f"{a:<20}\t{b:<20}\t{c:<20}"

    cols = (t.get("StorageDescriptor") or {}).get("Columns") or []
    keys = t.get("PartitionKeys") or []
    rows = [line(c["Name"], c["Type"], c.get("Comment", "")) for c in cols + keys]
    if keys:
        rows += ["", "# Partition Information", line("# col_name", "data_type", "comment"), ""]
        rows += [line(k["Name"], k["Type"], k.get("Comment", "")) for k in keys]
    _ddl_result(ex, "DESCRIBE_TABLE", "col_name", rows, stype="UTILITY")
