"""How the offline Athena runs a SELECT: resolve, authorise, prune, bill, run (lab 01).

1. **Parse** the SQL as Trino (Athena engine v3) with sqlglot.
2. **Resolve** every table against moto's Glue catalog (``awsdatacatalog.`` and
   ``"db"."table"`` spellings accepted); views are expanded from their stored SQL.
3. **Authorise** with Lake Formation (:mod:`mllab.offline.lakeformation`): the principal
   sees only its permitted columns (and rows, with data cells filters).
4. **Prune**: the WHERE conjuncts that mention only a table's partition keys are
   evaluated over the registered partitions; only surviving partitions' objects are read.
   For Parquet, row groups whose min/max statistics cannot satisfy simple comparisons
   (``col <op> literal``, ``BETWEEN``, ``IN``) are skipped.
5. **Bill**: ``DataScannedInBytes`` is the sum of what is read: whole objects (compressed
   size) for text formats; for Parquet, the footer plus the column chunks
   (``total_compressed_size``) of the referenced columns in the surviving row groups,
   computed from the Parquet metadata with pyarrow. A workgroup's
   ``BytesScannedCutoffPerQuery`` cancels a query whose scan would exceed it.
6. **Run** the query, transpiled Trino -> DuckDB by sqlglot, over DuckDB views that read
   the objects with the table's SerDe settings (delimiter, header skip, quoting, JSON,
   Parquet, gzip) and add the partition columns from each partition's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.athena import catalog as cat

DEFAULT_CATALOG = "awsdatacatalog"


class QueryError(Exception):
    """A query failure in Athena's words (``StateChangeReason``).

    Args:
        message: the reason, e.g. ``"TABLE_NOT_FOUND: line 1:15: Table ... does not exist"``.
        category: AthenaError.ErrorCategory (1 system, 2 user, 3 other).
        error_type: AthenaError.ErrorType.
    """

    def __init__(self, message: str, category: int = 2, error_type: int = 1006) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.error_type = error_type


# --------------------------------------------------------------------------- positions


def position(sql: str, ident: str, start: int = 0) -> tuple[int, int]:
    """Return Trino's (line, column), 1-based, of the first ``ident`` outside string literals."""
    masked = re.sub(r"'(?:[^']|'')*'", lambda m: " " * len(m.group(0)), sql)
    pat = re.compile(r'(?<![\w$])"?' + re.escape(ident) + r'"?(?![\w$])', re.IGNORECASE)
    m = pat.search(masked, start)
    idx = m.start() if m else 0
    line = sql.count("\n", 0, idx) + 1
    col = idx - (sql.rfind("\n", 0, idx) + 1) + 1
    return line, col


def _pos_of(node: Any, sql: str, fallback: str) -> tuple[int, int]:
    meta = getattr(node, "meta", None) or {}
    this = getattr(node, "this", None)
    tmeta = getattr(this, "meta", None) or {} if this is not None else {}
    for m in (meta, tmeta):
        if "line" in m and "col" in m and "start" in m:
            idx = int(m["start"])
            line = sql.count("\n", 0, idx) + 1
            col = idx - (sql.rfind("\n", 0, idx) + 1) + 1
            return line, col
    return position(sql, fallback)


# --------------------------------------------------------------------------- sources


@dataclass
class Source:
    """A catalog table (or view) a query reads."""

    db: str
    name: str
    table: dict[str, Any]
    fake: Any
    columns: list[tuple[str, str]]
    keys: list[tuple[str, str]]
    kind: str  # csv | json | parquet | view
    serde: dict[str, str]
    params: dict[str, str]
    occurrences: list[Any] = field(default_factory=list)  # sqlglot Table nodes
    referenced: set[str] | None = None  # None: all columns
    allowed: Any = None  # lakeformation.Access or None (everything)
    via_view: bool = False  # read through a view: all columns, no pruning

    @property
    def key(self) -> tuple[str, str]:
        return (self.db, self.name)

    @property
    def location(self) -> str:
        return str((self.table.get("StorageDescriptor") or {}).get("Location") or "")


def table_kind(table: dict[str, Any]) -> str:
    """Return ``csv``, ``json``, ``parquet``, ``view`` or another format name for a table."""
    if table.get("TableType") == "VIRTUAL_VIEW":
        return "view"
    sd = table.get("StorageDescriptor") or {}
    lib = str((sd.get("SerdeInfo") or {}).get("SerializationLibrary") or "")
    inp = str(sd.get("InputFormat") or "")
    cls = str((table.get("Parameters") or {}).get("classification") or "").lower()
    if "parquet" in lib.lower() or "parquet" in inp.lower() or cls == "parquet":
        return "parquet"
    if "json" in lib.lower() or cls == "json":
        return "json"
    if "orc" in lib.lower() or "orc" in inp.lower() or cls == "orc":
        return "orc"
    if "avro" in lib.lower() or cls == "avro":
        return "avro"
    return "csv"


def make_source(db: str, name: str, fake: Any) -> Source:
    """Build a :class:`Source` from moto's FakeTable."""
    t = fake.as_dict()
    sd = t.get("StorageDescriptor") or {}
    serde = dict((sd.get("SerdeInfo") or {}).get("Parameters") or {})
    return Source(
        db=db,
        name=fake.name,
        table=t,
        fake=fake,
        columns=[(c["Name"].lower(), c["Type"]) for c in sd.get("Columns") or []],
        keys=[(c["Name"].lower(), c.get("Type", "string")) for c in t.get("PartitionKeys") or []],
        kind=table_kind(t),
        serde={k: str(v) for k, v in serde.items()},
        params={k: str(v) for k, v in (t.get("Parameters") or {}).items()},
    )


# --------------------------------------------------------------------------- parse


def parse(sql: str) -> Any:
    """Parse one Trino statement with sqlglot (SYNTAX_ERROR in Athena's shape on failure)."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        trees = [t for t in sqlglot.parse(sql, read="trino") if t is not None]
    except ParseError as err:
        e = (err.errors or [{}])[0]
        line, col = e.get("line", 1), e.get("col", 1)
        desc = str(e.get("description") or err).split("\n")[0]
        raise QueryError(f"line {line}:{col}: mismatched input. {desc}", 2, 1001) from None
    except TokenError as err:
        raise QueryError(f"line 1:1: {err}", 2, 1001) from None
    if len(trees) != 1:
        raise QueryError(
            "line 1:1: Only one sql statement is allowed. Got: " + str(len(trees)), 2, 1001
        )
    return trees[0]


def cte_names(tree: Any) -> set[str]:
    from sqlglot import exp

    return {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}


def table_nodes(tree: Any) -> list[Any]:
    """Return the catalog table references of a tree (not CTE names, not table functions)."""
    from sqlglot import exp

    ctes = cte_names(tree)
    out = []
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            continue
        if not t.args.get("db") and t.name.lower() in ctes:
            continue
        out.append(t)
    return out


def resolve(
    tree: Any,
    sql: str,
    account_id: str,
    region: str,
    default_db: str | None,
    sources: dict[tuple[str, str], Source] | None = None,
    depth: int = 0,
) -> dict[tuple[str, str], Source]:
    """Resolve the tree's tables (and views, recursively) against the Glue catalog.

    Raises:
        QueryError: SCHEMA_NOT_FOUND / TABLE_NOT_FOUND in Athena's words.
    """
    from sqlglot import exp

    sources = {} if sources is None else sources
    if depth > 10:
        raise QueryError("VIEW_IS_RECURSIVE: View is recursive", 2, 1006)
    for node in table_nodes(tree):
        catalog = node.catalog.lower() if node.catalog else DEFAULT_CATALOG
        db = (node.db or default_db or "default").lower()
        name = node.name.lower()
        line, col = _pos_of(node, sql, node.name)
        if catalog != DEFAULT_CATALOG:
            raise QueryError(
                f"CATALOG_NOT_FOUND: line {line}:{col}: Catalog '{catalog}' does not exist", 2, 1006
            )
        if cat.get_database(account_id, region, db) is None:
            raise QueryError(
                f"SCHEMA_NOT_FOUND: line {line}:{col}: Schema '{db}' does not exist", 2, 1006
            )
        fake = cat.get_fake_table(account_id, region, db, name)
        if fake is None:
            raise QueryError(
                f"TABLE_NOT_FOUND: line {line}:{col}: Table '{catalog}.{db}.{name}' does not exist",
                2,
                1006,
            )
        key = (db, fake.name.lower())
        if key not in sources:
            src = make_source(db, fake.name.lower(), fake)
            src.via_view = depth > 0
            sources[key] = src
            if src.kind == "view":
                text = view_sql(src.table)
                resolve(parse(text), text, account_id, region, db, sources, depth + 1)
        elif depth > 0:
            sources[key].via_view = True
        sources[key].occurrences.append(node)
        node.set("catalog", None)
        node.set("db", exp.to_identifier(key[0], quoted=True))
        node.set("this", exp.to_identifier(key[1], quoted=True))
    return sources


def view_sql(table: dict[str, Any]) -> str:
    """Return a view's SQL from its Glue definition (Presto view encoding or plain text)."""
    import base64
    import json

    text = str(table.get("ViewOriginalText") or table.get("ViewExpandedText") or "")
    m = re.match(r"^/\* Presto View: (.*) \*/$", text.strip(), re.S)
    if m:
        return str(json.loads(base64.b64decode(m.group(1)))["originalSql"])
    return text


# --------------------------------------------------------------------------- columns & predicates


def _column_tables(col: Any, sources: list[Source], alias_of: dict[str, Source]) -> list[Source]:
    q = (col.table or "").lower()
    name = col.name.lower()
    if q and q in alias_of:
        return [alias_of[q]]
    return [s for s in sources if any(c == name for c, _ in s.columns + s.keys)]


def mark_references(
    tree: Any, sources: dict[tuple[str, str], Source], direct: list[Source]
) -> None:
    """Set each directly-queried source's ``referenced`` columns (None = all, e.g. ``*``)."""
    from sqlglot import exp

    alias_of: dict[str, Source] = {}
    for s in direct:
        for node in s.occurrences:
            alias_of[node.alias_or_name.lower()] = s
    for s in direct:
        if s.kind != "view" and not s.via_view:
            s.referenced = set()
    for sel in tree.find_all(exp.Select):
        for e in sel.expressions:
            if isinstance(e, exp.Star):
                for s in direct:
                    s.referenced = None
            elif isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
                q = (e.table or "").lower()
                if q in alias_of:
                    alias_of[q].referenced = None
                else:
                    for s in direct:
                        s.referenced = None
    for col in tree.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        for s in _column_tables(col, direct, alias_of):
            if s.referenced is not None:
                s.referenced.add(col.name.lower())


def _conjuncts(where: Any) -> list[Any]:
    from sqlglot import exp

    if where is None:
        return []
    node = where.this if isinstance(where, exp.Where) else where
    out: list[Any] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, exp.And):
            stack.extend([n.left, n.right])
        elif isinstance(n, exp.Paren) and isinstance(n.this, exp.And):
            stack.append(n.this)
        else:
            out.append(n)
    return out


def occurrence_conjuncts(node: Any, src: Source, names: set[str]) -> list[Any] | None:
    """WHERE conjuncts of the SELECT reading ``node`` that mention only ``names`` of ``src``.

    Returns:
        None when the occurrence is not directly in a SELECT's FROM (no pruning possible).
    """
    from sqlglot import exp

    sel = node.find_ancestor(exp.Select)
    if sel is None:
        return None
    alias = node.alias_or_name.lower()
    out = []
    for c in _conjuncts(sel.args.get("where")):
        if c.find(exp.Subquery, exp.Select):
            continue
        cols = list(c.find_all(exp.Column))
        if not cols:
            continue
        if all(
            col.name.lower() in names and (not col.table or col.table.lower() == alias)
            for col in cols
        ):
            out.append(c)
    return out


def prune_partitions(src: Source, con: Any) -> list[dict[str, Any]]:
    """Return the registered partitions that survive the WHERE conditions on partition keys."""
    from sqlglot import exp

    parts = cat.partitions_of(src.fake)
    if not parts or not src.keys or src.via_view:
        return parts
    key_names = {k for k, _ in src.keys}
    survivors: set[int] = set()
    for node in src.occurrences or [None]:
        conj = occurrence_conjuncts(node, src, key_names) if node is not None else None
        if not conj:
            return parts
        cols = ", ".join(f'"{k}" {cat.glue_to_duckdb(t)}' for k, t in src.keys)
        con.execute(f"CREATE OR REPLACE TEMP TABLE __parts (__idx INTEGER, {cols})")
        rows = [[i, *list(p.get("Values") or [])[: len(src.keys)]] for i, p in enumerate(parts)]
        casts = ", ".join(
            ["CAST(? AS INTEGER)"]
            + [f"TRY_CAST(? AS {cat.glue_to_duckdb(t)})" for _, t in src.keys]
        )
        con.executemany(f"INSERT INTO __parts SELECT {casts}", rows)
        preds = []
        for c in conj:
            c2 = c.copy()
            for col in c2.find_all(exp.Column):
                col.set("table", None)
            preds.append(c2.sql(dialect="duckdb"))
        try:
            got = con.execute(
                "SELECT __idx FROM __parts WHERE " + " AND ".join(f"({p})" for p in preds)
            ).fetchall()
        except Exception:  # noqa: BLE001 - a predicate DuckDB cannot evaluate: no pruning
            return parts
        survivors |= {g[0] for g in got}
    return [p for i, p in enumerate(parts) if i in survivors]


def _literal(node: Any) -> Any:
    import datetime as dt

    from sqlglot import exp

    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return int(node.this)
        except ValueError:
            return float(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        v = _literal(node.this)
        return -v if v is not None else None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        to = node.to.this.name if node.to is not None else ""
        s = node.this.this
        try:
            if to == "DATE":
                return dt.date.fromisoformat(s)
            if to.startswith("TIMESTAMP"):
                return dt.datetime.fromisoformat(s)
        except ValueError:
            return None
    return None


def _cmp_ok(lo: Any, hi: Any, op: str, v: Any) -> bool:
    """Could a value in [lo, hi] satisfy ``x op v``?"""
    import datetime as dt

    def norm(x: Any) -> Any:
        if isinstance(x, bytes):
            return x.decode("utf-8", "replace")
        if isinstance(x, dt.datetime) and x.tzinfo is not None:
            return x.replace(tzinfo=None)
        return x

    lo, hi, v = norm(lo), norm(hi), norm(v)
    num = (int, float)
    if isinstance(v, bool) or isinstance(lo, bool):
        return True
    if isinstance(v, num) and not (isinstance(lo, num) and isinstance(hi, num)):
        return True
    if isinstance(v, str) and not (isinstance(lo, str) and isinstance(hi, str)):
        return True
    if isinstance(v, dt.datetime) and not isinstance(lo, dt.datetime):
        return True
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        if isinstance(lo, dt.datetime) or not isinstance(lo, dt.date):
            return True
    try:
        if op == "eq":
            return lo <= v <= hi
        if op == "gt":
            return hi > v
        if op == "gte":
            return hi >= v
        if op == "lt":
            return lo < v
        if op == "lte":
            return lo <= v
    except TypeError:
        return True
    return True


def rowgroup_filters(src: Source) -> list[tuple[str, str, Any]] | None:
    """Simple ``(column, op, value)`` conditions usable to skip Parquet row groups.

    Returns:
        None when some occurrence has no usable condition (no row group can be skipped).
    """
    from sqlglot import exp

    data_cols = {c for c, _ in src.columns}
    merged: list[tuple[str, str, Any]] | None = None
    for node in src.occurrences:
        conj = occurrence_conjuncts(node, src, data_cols) or []
        conds: list[tuple[str, str, Any]] = []
        for c in conj:
            ops = {exp.EQ: "eq", exp.GT: "gt", exp.GTE: "gte", exp.LT: "lt", exp.LTE: "lte"}
            flip = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq"}
            if type(c) in ops:
                op = ops[type(c)]
                if isinstance(c.left, exp.Column) and _literal(c.right) is not None:
                    conds.append((c.left.name.lower(), op, _literal(c.right)))
                elif isinstance(c.right, exp.Column) and _literal(c.left) is not None:
                    conds.append((c.right.name.lower(), flip[op], _literal(c.left)))
            elif isinstance(c, exp.Between) and isinstance(c.this, exp.Column):
                lo, hi = _literal(c.args.get("low")), _literal(c.args.get("high"))
                if lo is not None and hi is not None:
                    conds += [(c.this.name.lower(), "gte", lo), (c.this.name.lower(), "lte", hi)]
            elif isinstance(c, exp.In) and isinstance(c.this, exp.Column) and c.expressions:
                vals = [_literal(v) for v in c.expressions]
                if all(v is not None for v in vals):
                    conds.append((c.this.name.lower(), "in", vals))
        if not conds:
            return None
        merged = conds if merged is None else merged  # several occurrences: use the first's
    return merged


def rowgroup_survives(rg: Any, conds: list[tuple[str, str, Any]]) -> bool:
    """True unless the row group's statistics prove no row can match ``conds``."""
    stats: dict[str, tuple[Any, Any]] = {}
    for j in range(rg.num_columns):
        ch = rg.column(j)
        st = ch.statistics
        if st is not None and st.has_min_max:
            stats[ch.path_in_schema.lower()] = (st.min, st.max)
    for col, op, v in conds:
        if col not in stats:
            continue
        lo, hi = stats[col]
        if op == "in":
            if not any(_cmp_ok(lo, hi, "eq", x) for x in v):
                return False
        elif not _cmp_ok(lo, hi, op, v):
            return False
    return True


# --------------------------------------------------------------------------- scan plan


@dataclass
class Scan:
    """What one source reads: per partition, the objects and local paths."""

    source: Source
    parts: list[tuple[list[str], list[cat.S3Object]]]  # (values, objects)
    bytes: int = 0
    parquet_cols: dict[str, set[str]] = field(default_factory=dict)  # path -> lowercased names


def plan_scan(src: Source, account_id: str, con: Any, files: cat.LocalFiles) -> Scan:
    """List the objects a source reads after partition pruning and count the bytes scanned."""
    import pyarrow.parquet as pq

    if src.keys:
        parts = [
            (
                list(p.get("Values") or []),
                cat.list_objects(
                    account_id, str((p.get("StorageDescriptor") or {}).get("Location") or "")
                ),
            )
            for p in prune_partitions(src, con)
        ]
    else:
        parts = [([], cat.list_objects(account_id, src.location))] if src.location else []
    scan = Scan(src, parts)
    conds = rowgroup_filters(src) if src.kind == "parquet" and not src.via_view else None
    wanted = (
        None
        if src.referenced is None
        else {c for c in src.referenced if c not in {k for k, _ in src.keys}}
    )
    if src.allowed is not None and wanted is None:
        wanted = set(src.allowed.columns) | set(src.allowed.filter_columns)
    elif src.allowed is not None and wanted is not None:
        wanted |= set(src.allowed.filter_columns)
    for _, objs in parts:
        for o in objs:
            if src.kind != "parquet":
                scan.bytes += o.size
                continue
            path = files.path(o)
            try:
                md = pq.ParquetFile(path).metadata
            except Exception as err:  # noqa: BLE001 - not a Parquet file
                raise QueryError(
                    f"HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split {o.uri}: not a valid Parquet file ({err})",
                    2,
                    1006,
                ) from None
            scan.bytes += md.serialized_size + 8
            names = {md.schema.column(j).path.split(".")[0].lower() for j in range(md.num_columns)}
            scan.parquet_cols[path] = names
            for r in range(md.num_row_groups):
                rg = md.row_group(r)
                if conds and not rowgroup_survives(rg, conds):
                    continue
                for j in range(rg.num_columns):
                    ch = rg.column(j)
                    top = ch.path_in_schema.split(".")[0].lower()
                    if wanted is None or top in wanted:
                        scan.bytes += int(ch.total_compressed_size)
    return scan


# --------------------------------------------------------------------------- DuckDB views


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _csv_opts(src: Source) -> str:
    lib = str(
        ((src.table.get("StorageDescriptor") or {}).get("SerdeInfo") or {}).get(
            "SerializationLibrary"
        )
        or ""
    )
    skip = int(
        src.serde.get("skip.header.line.count") or src.params.get("skip.header.line.count") or 0
    )
    if "OpenCSVSerde" in lib:
        delim = src.serde.get("separatorChar", ",")
        quote = src.serde.get("quoteChar", '"')
        escape = src.serde.get("escapeChar", "\\")
        return f"delim={_q(delim)}, quote={_q(quote)}, escape={_q(escape)}, skip={skip}"
    delim = src.serde.get("field.delim") or src.serde.get("serialization.format") or "\x01"
    if delim.isdigit() and len(delim) > 1:
        delim = chr(int(delim))
    elif delim == "1":
        delim = "\x01"
    return f"delim={_q(delim)}, quote='', escape='', skip={skip}"


def _branch(src: Source, values: list[str], paths: list[tuple[str, str | None]], scan: Scan) -> str:
    """SQL of one partition's rows: typed columns plus partition values."""
    pvals = [
        f"TRY_CAST({_q(v)} AS {cat.glue_to_duckdb(t)}) AS {_ident(k)}"
        for (k, t), v in zip(src.keys, values, strict=False)
    ]
    by_comp: dict[str | None, list[str]] = {}
    for p, comp in paths:
        by_comp.setdefault(comp, []).append(p)
    selects = []
    for comp, group in by_comp.items():
        lst = "[" + ", ".join(_q(p) for p in group) + "]"
        comp_opt = f", compression={_q(comp)}" if comp else ""
        if src.kind == "csv":
            cols = "{" + ", ".join(f"{_q(c)}: 'VARCHAR'" for c, _ in src.columns) + "}"
            reader = (
                f"read_csv({lst}, header=false, {_csv_opts(src)}, columns={cols}, nullstr='\\N', "
                f"null_padding=true, auto_detect=false, strict_mode=false{comp_opt})"
            )
            proj = [
                _ident(c)
                if cat.glue_to_duckdb(t) == "VARCHAR"
                else f"TRY_CAST({_ident(c)} AS {cat.glue_to_duckdb(t)}) AS {_ident(c)}"
                for c, t in src.columns
            ]
        elif src.kind == "json":
            cols = (
                "{"
                + ", ".join(f"{_q(c)}: {_q(cat.glue_to_duckdb(t))}" for c, t in src.columns)
                + "}"
            )
            reader = f"read_json({lst}, format='newline_delimited', columns={cols}{comp_opt})"
            proj = [_ident(c) for c, _ in src.columns]
        elif src.kind == "parquet":
            present: set[str] = set()
            for p in group:
                present |= scan.parquet_cols.get(p, set())
            reader = f"read_parquet({lst}, union_by_name=true, binary_as_string=true)"
            proj = [
                (
                    f"{_ident(c)}::{cat.glue_to_duckdb(t)} AS {_ident(c)}"
                    if c in present
                    else f"CAST(NULL AS {cat.glue_to_duckdb(t)}) AS {_ident(c)}"
                )
                for c, t in src.columns
            ]
        else:
            raise QueryError(
                f"HIVE_UNSUPPORTED_FORMAT: the offline Athena reads CSV/TSV, JSON and Parquet; table "
                f"{src.db}.{src.name} is {src.kind.upper()}",
                2,
                1006,
            )
        selects.append(f"SELECT {', '.join(proj + pvals) or '1'} FROM {reader}")
    return " UNION ALL ".join(selects)


def _empty(src: Source) -> str:
    cols = [
        f"CAST(NULL AS {cat.glue_to_duckdb(t)}) AS {_ident(c)}" for c, t in src.columns + src.keys
    ]
    return f"SELECT {', '.join(cols)} WHERE false"


def register_source(con: Any, scan: Scan, files: cat.LocalFiles) -> None:
    """Create the DuckDB view ``"db"."table"`` that reads a scan's objects."""
    src = scan.source
    branches = []
    for values, objs in scan.parts:
        if not objs:
            continue
        paths = [(files.path(o), cat.compression_of(o.key)) for o in objs]
        branches.append(_branch(src, values, paths, scan))
    body = " UNION ALL ".join(f"({b})" for b in branches) if branches else _empty(src)
    body = lf_wrap(src, body)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(src.db)}")
    con.execute(f"CREATE OR REPLACE VIEW {_ident(src.db)}.{_ident(src.name)} AS {body}")


def lf_wrap(src: Source, body: str) -> str:
    """Restrict a table's view to what Lake Formation lets the principal see."""
    acc = src.allowed
    if acc is None:
        return body
    out = []
    for c, _ in src.columns + src.keys:
        if c not in acc.columns:
            continue
        cond = acc.cell_conditions.get(c)
        out.append(
            _ident(c) if cond is None else f"CASE WHEN {cond} THEN {_ident(c)} END AS {_ident(c)}"
        )
    where = f" WHERE {acc.row_condition}" if acc.row_condition else ""
    return f"SELECT {', '.join(out) or 'NULL AS __no_columns'} FROM ({body}) AS __lf{where}"


def register_view(con: Any, src: Source) -> None:
    """Create a catalog view (its SQL translated to DuckDB; its tables already registered)."""
    tree = parse(view_sql(src.table))
    for node in table_nodes(tree):
        node.set("catalog", None)
        from sqlglot import exp

        node.set("db", exp.to_identifier((node.db or src.db).lower(), quoted=True))
        node.set("this", exp.to_identifier(node.name.lower(), quoted=True))
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(src.db)}")
    con.execute(f"CREATE OR REPLACE VIEW {_ident(src.db)}.{_ident(src.name)} AS {to_duckdb(tree)}")


def to_duckdb(tree: Any) -> str:
    """Translate a Trino tree to DuckDB SQL (sqlglot), with a few Athena fix-ups."""
    from sqlglot import exp

    tree = tree.copy()
    for fn in tree.find_all(exp.Anonymous):
        name = str(fn.this).lower()
        if name == "from_iso8601_date":
            fn.replace(exp.Cast(this=fn.expressions[0], to=exp.DataType.build("DATE")))
    return tree.sql(dialect="duckdb")


# --------------------------------------------------------------------------- errors


def map_duckdb_error(err: Exception, sql: str) -> QueryError:
    """Translate a DuckDB error into Athena's (Trino's) wording."""
    msg = str(err)
    m = re.search(r'Referenced column "([^"]+)" not found', msg) or re.search(
        r'does not have a column named "([^"]+)"', msg
    )
    if m:
        line, col = position(sql, m.group(1))
        return QueryError(
            f"COLUMN_NOT_FOUND: line {line}:{col}: Column '{m.group(1)}' cannot be resolved or "
            "requester is not authorized to access requested resources",
            2,
            1006,
        )
    m = re.search(r"(?:Scalar|Aggregate|Table) Function with name (\w+) does not exist", msg)
    if m:
        line, col = position(sql, m.group(1))
        return QueryError(
            f"FUNCTION_NOT_FOUND: line {line}:{col}: Function '{m.group(1).lower()}' not registered "
            "(the offline Athena runs Trino SQL on DuckDB; this function has no translation)",
            2,
            1006,
        )
    if "Conversion Error" in msg:
        return QueryError(
            "INVALID_CAST_ARGUMENT: " + msg.split("\n")[0].split(": ", 1)[-1], 2, 1006
        )
    if "Binder Error" in msg and "GROUP BY" in msg:
        return QueryError(
            "EXPRESSION_NOT_AGGREGATE: " + msg.split("\n")[0].split(": ", 1)[-1], 2, 1006
        )
    if "Invalid Input Error" in msg and ("JSON" in msg or "CSV" in msg):
        return QueryError("HIVE_BAD_DATA: " + msg.split("\n")[0], 2, 1006)
    if "Parser Error" in msg:
        return QueryError("SYNTAX_ERROR: " + msg.split("\n")[0], 2, 1001)
    if "INTERRUPT" in msg.upper():
        return QueryError("Query was cancelled by the user", 2, 1006)
    return QueryError("GENERIC_INTERNAL_ERROR: " + msg.split("\n")[0], 1, 1006)


def output_names(tree: Any, n: int, duck_names: list[str]) -> list[str]:
    """Trino's result column names: aliases and column names lowercased, others ``_colN``."""
    from sqlglot import exp

    sel = tree
    while isinstance(sel, exp.Union | exp.Subquery):
        sel = sel.this if isinstance(sel, exp.Subquery) else sel.left
    if not isinstance(sel, exp.Select):
        return [d.lower() for d in duck_names]
    exprs = sel.expressions
    if len(exprs) != n or any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in exprs
    ):
        return [d.lower() for d in duck_names]
    names = []
    for i, e in enumerate(exprs):
        if isinstance(e, exp.Alias):
            names.append(e.alias.lower() if not e.args["alias"].quoted else e.alias)
        elif isinstance(e, exp.Column):
            names.append(e.name.lower())
        else:
            names.append(f"_col{i}")
    return names


# --------------------------------------------------------------------------- orchestration


@dataclass
class Context:
    """Who runs a query where, and its limits."""

    account_id: str
    region: str
    database: str | None
    principal: str | None = None
    cutoff: int | None = None
    con: Any = None  # the DuckDB connection while running (StopQueryExecution interrupts it)


@dataclass
class Result:
    """A finished SELECT: columns ``(name, duckdb_type)``, rows, bytes scanned."""

    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]
    scanned: int
    relation: Any = None


class ScanLimitExceeded(QueryError):
    """The workgroup's BytesScannedCutoffPerQuery was hit."""

    def __init__(self, cutoff: int) -> None:
        super().__init__("Query cancelled! : Bytes scanned limit was exceeded", 2, 1006)
        self.scanned = cutoff


def prepare(
    sql: str, ctx: Context, tree: Any | None = None
) -> tuple[Any, Any, dict[tuple[str, str], Source]]:
    """Parse, resolve, authorise; return ``(tree, duckdb_connection, sources)``."""
    import duckdb

    from mllab.offline import lakeformation as lf

    tree = parse(sql) if tree is None else tree
    sources = resolve(tree, sql, ctx.account_id, ctx.region, ctx.database)
    direct = [s for s in sources.values() if not s.via_view and s.kind != "view"]
    mark_references(tree, sources, direct)
    for s in sources.values():
        if s.kind != "view":
            s.allowed = lf.access_for(ctx.account_id, ctx.region, ctx.principal, s, sql)
            _check_s3_read(ctx, s)
    con = duckdb.connect()
    ctx.con = con
    return tree, con, sources


def _check_s3_read(ctx: Context, src: Source) -> None:
    """An assumed role reads a table's S3 data with its own IAM rights, unless Lake Formation
    governs the location (then Lake Formation vends the credentials)."""
    from mllab.offline import lakeformation as lf
    from mllab.offline.iam import principal_allowed

    location = str(src.location or "")
    if ctx.principal is None or not location.startswith("s3://"):
        return
    if lf._location_registered(ctx.account_id, ctx.region, location):
        return
    path = location[len("s3://") :].rstrip("/")
    if not principal_allowed(
        ctx.account_id, ctx.principal, "s3:GetObject", f"arn:aws:s3:::{path}/object"
    ):
        raise QueryError(f"Permission denied on S3 path: {location}", 2, 1006)


def load(
    con: Any, sources: dict[tuple[str, str], Source], ctx: Context, files: cat.LocalFiles
) -> int:
    """Plan the scans, enforce the cutoff and register every source; return bytes scanned."""
    scans = [plan_scan(s, ctx.account_id, con, files) for s in sources.values() if s.kind != "view"]
    scanned = sum(sc.bytes for sc in scans)
    if ctx.cutoff and scanned > ctx.cutoff:
        raise ScanLimitExceeded(int(ctx.cutoff))
    for sc in scans:
        register_source(con, sc, files)
    pending = [s for s in sources.values() if s.kind == "view"]
    for _ in range(len(pending) + 1):
        left = []
        for v in pending:
            try:
                register_view(con, v)
            except QueryError:
                raise
            except Exception:  # noqa: BLE001 - depends on a view not registered yet
                left.append(v)
        pending = left
        if not pending:
            break
    if pending:
        register_view(con, pending[0])  # raises the real error
    return scanned


def run_select(sql: str, ctx: Context, tree: Any | None = None) -> Result:
    """Run a SELECT (or any query returning rows) offline.

    Args:
        sql: the Trino SQL as the learner wrote it.
        ctx: account, region, default database, principal and scan cutoff.
        tree: an already parsed tree (CTAS passes its SELECT).

    Returns:
        The :class:`Result`. Costs the Athena price of ``Result.scanned`` on AWS.

    Raises:
        QueryError: in Athena's words.
    """
    tree, con, sources = prepare(sql, ctx, tree)
    try:
        with cat.LocalFiles() as files:
            scanned = load(con, sources, ctx, files)
            try:
                rel = con.sql(to_duckdb(tree))
                if rel is None:
                    return Result([], [], scanned)
                names = output_names(tree, len(rel.columns), list(rel.columns))
                types = [str(t) for t in rel.types]
                rows = rel.fetchall()
            except QueryError:
                raise
            except Exception as err:  # noqa: BLE001 - DuckDB's error, in Athena's words
                raise map_duckdb_error(err, sql) from None
            return Result(list(zip(names, types, strict=True)), rows, scanned)
    finally:
        ctx.con = None
        con.close()


def make_parse_target(node: Any, sql: str, ctx: Context) -> Source:
    """Resolve the target table of INSERT INTO (TABLE_NOT_FOUND when missing)."""
    db = (node.db or ctx.database or "default").lower()
    name = node.name.lower()
    fake = cat.get_fake_table(ctx.account_id, ctx.region, db, name)
    if fake is None:
        line, col = position(sql, node.name)
        raise QueryError(
            f"TABLE_NOT_FOUND: line {line}:{col}: Table '{DEFAULT_CATALOG}.{db}.{name}' does not exist",
            2,
            1006,
        )
    return make_source(db, fake.name.lower(), fake)
