"""Schema inference of the offline Glue crawler: classifiers and type rules (lab 01).

The built-in classifiers are tried in Glue's order on each object's first bytes:

* **gzip** is recognised by its magic number and decompressed first (``compressionType``
  ``gzip``); the text inside is classified as below.
* **Parquet**: the ``PAR1`` magic; the schema comes from the file footer (pyarrow).
* **JSON / JSON Lines**: the first non-blank character is ``{`` or ``[`` and the sampled
  records parse; nested objects become ``struct<...>``, lists ``array<...>``.
* **CSV**: one of ``,`` ``|`` ``\\t`` ``;`` splits the sampled lines into the same number
  (at least 2) of fields. Header rule (Glue's built-in CSV classifier): the first row is a
  header when *every* value of it is a string (not a number, boolean, date or timestamp)
  *and* at least one later row has a value in some column that is not a string; otherwise
  the columns are named ``col0``, ``col1``, ... and the first row is data. Values with
  quotes make the table use ``OpenCSVSerde`` instead of ``LazySimpleSerDe``.

Types: whole numbers -> ``bigint``, other numbers -> ``double``, ``true``/``false`` ->
``boolean``, ``YYYY-MM-DD HH:MM:SS[.fff]`` -> ``timestamp`` and ``YYYY-MM-DD`` -> ``date``
(CSV only: the forms Athena's text SerDe can read; JSON strings stay ``string``), anything
else ``string``. When files of one table disagree, types widen: ``bigint`` + ``double`` ->
``double``, any other mix -> ``string``; struct fields are merged.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

SAMPLE_BYTES = 1 << 20  # Glue samples the first MB of text files

_INT = re.compile(r"^[+-]?\d+$")
_DBL = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class FileSchema:
    """What the classifier found in one object.

    Attributes:
        classification: ``csv``, ``json``, ``parquet`` or ``UNKNOWN``.
        columns: ``[(name, glue_type)]`` in file order.
        compression: ``gzip`` or ``none``.
        records: the number of records (exact: the offline crawler reads the whole object).
        delimiter: the CSV field delimiter.
        header: whether the CSV's first row is a header.
        quoted: whether CSV values are quoted.
        reason: why the object was not classified (UNKNOWN).
    """

    classification: str
    columns: list[tuple[str, str]] = field(default_factory=list)
    compression: str = "none"
    records: int = 0
    delimiter: str = ","
    header: bool = False
    quoted: bool = False
    reason: str = ""


def classify(data: bytes, key: str = "") -> FileSchema:
    """Classify one object's bytes and infer its schema.

    Args:
        data: the whole object.
        key: the object key (used only in messages).

    Returns:
        The :class:`FileSchema`; ``classification == "UNKNOWN"`` when no classifier matched.
    """
    compression = "none"
    if data[:2] == b"\x1f\x8b":
        compression = "gzip"
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return FileSchema("UNKNOWN", compression=compression, reason="corrupt gzip stream")
    if data[:4] == b"PAR1" and data[-4:] == b"PAR1":
        fs = _parquet(data)
        fs.compression = compression if compression != "none" else fs.compression
        return fs
    text = data.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        js = _json(stripped)
        if js is not None:
            js.compression = compression
            return js
    fs = _csv(text)
    fs.compression = compression
    return fs


# --------------------------------------------------------------------------- parquet


def arrow_to_glue(t: Any) -> str:
    """Translate a pyarrow type into a Glue type string."""
    import pyarrow as pa

    if pa.types.is_int64(t) or pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return "bigint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{arrow_to_glue(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{arrow_to_glue(f.type)}" for f in t) + ">"
    if pa.types.is_map(t):
        return f"map<{arrow_to_glue(t.key_type)},{arrow_to_glue(t.item_type)}>"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_dictionary(t):
        return arrow_to_glue(t.value_type)
    return "string"


def _parquet(data: bytes) -> FileSchema:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
    except Exception as err:  # noqa: BLE001 - corrupt file: unclassified
        return FileSchema("UNKNOWN", reason=f"unreadable Parquet footer: {err}")
    schema = pf.schema_arrow
    cols = [(f.name.lower(), arrow_to_glue(f.type)) for f in schema]
    codec = "none"
    if pf.metadata.num_row_groups and pf.metadata.num_columns:
        codec = str(pf.metadata.row_group(0).column(0).compression).lower()
    return FileSchema("parquet", cols, compression=codec, records=pf.metadata.num_rows)


# --------------------------------------------------------------------------- json


def _json_type(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "bigint"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        fields: dict[str, str | None] = {}
        for k, x in v.items():
            fields[k.lower()] = merge_types(fields.get(k.lower()), _json_type(x))
        return "struct<" + ",".join(f"{k}:{t or 'string'}" for k, t in fields.items()) + ">"
    if isinstance(v, list):
        et: str | None = None
        for x in v:
            et = merge_types(et, _json_type(x))
        return f"array<{et or 'string'}>"
    return "string"


def _json(text: str) -> FileSchema | None:
    records: list[Any] = []
    try:
        if text.startswith("["):
            doc = json.loads(text)
            records = doc if isinstance(doc, list) else [doc]
        else:
            for line in text.splitlines():
                if line.strip():
                    records.append(json.loads(line))
    except ValueError:
        try:  # one document spread over several lines
            records = [json.loads(text)]
        except ValueError:
            return None
    if not records or not all(isinstance(r, dict) for r in records):
        return None
    cols: dict[str, str | None] = {}
    for rec in records:
        for k, v in rec.items():
            cols[k.lower()] = merge_types(cols.get(k.lower()), _json_type(v))
    return FileSchema("json", [(k, t or "string") for k, t in cols.items()], records=len(records))


# --------------------------------------------------------------------------- csv


def value_type(v: str) -> str | None:
    """Return the Glue type of one CSV value (None for an empty value)."""
    s = v.strip()
    if s == "":
        return None
    if _INT.match(s):
        return "bigint" if abs(int(s)) < 2**63 else "string"
    if _DBL.match(s):
        return "double"
    if s.lower() in ("true", "false"):
        return "boolean"
    if _TS.match(s):
        return "timestamp"
    if _DATE.match(s):
        return "date"
    return "string"


def merge_types(a: str | None, b: str | None) -> str | None:
    """Widen two inferred types (None means 'no evidence')."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if {a, b} <= {"bigint", "int", "smallint", "tinyint", "double", "float"}:
        return "double" if {a, b} & {"double", "float"} else "bigint"
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    if a.startswith("struct<") and b.startswith("struct<"):
        fa, fb = _struct_fields(a), _struct_fields(b)
        for k, t in fb.items():
            fa[k] = merge_types(fa.get(k), t) or "string"
        return "struct<" + ",".join(f"{k}:{t}" for k, t in fa.items()) + ">"
    if a.startswith("array<") and b.startswith("array<"):
        return f"array<{merge_types(a[6:-1], b[6:-1])}>"
    return "string"


def _struct_fields(t: str) -> dict[str, str]:
    from mllab.offline.athena.catalog import _split_top

    out = {}
    for part in _split_top(t[7:-1]):
        name, _, ftype = part.partition(":")
        out[name] = ftype
    return out


def _csv(text: str) -> FileSchema:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return FileSchema("UNKNOWN", reason="the object is empty")
    sample = lines[:2000]
    best: tuple[str, list[list[str]]] | None = None
    for delim in (",", "|", "\t", ";", "\x01"):
        rows = list(csv.reader(io.StringIO("\n".join(sample)), delimiter=delim))
        widths = {len(r) for r in rows}
        if len(widths) == 1 and widths.pop() >= 2:
            best = (delim, rows)
            break
    if best is None:
        return FileSchema(
            "UNKNOWN",
            reason="no classifier matched: not Parquet or JSON, and no delimiter (, | tab ;) "
            "splits every line into the same number (at least 2) of columns",
        )
    delim, rows = best
    quoted = '"' in "".join(sample[:200])
    first, rest = rows[0], rows[1:]
    first_all_strings = all(value_type(v) == "string" for v in first)
    ncol = len(first)
    types: list[str | None] = [None] * ncol
    for r in rest:
        for i, v in enumerate(r):
            types[i] = merge_types(types[i], value_type(v))
    header = first_all_strings and any(t not in (None, "string") for t in types)
    if header:
        names = [_clean_name(v) or f"col{i}" for i, v in enumerate(first)]
    else:
        names = [f"col{i}" for i in range(ncol)]
        for i, v in enumerate(first):
            types[i] = merge_types(types[i], value_type(v))
    records = len(lines) - (1 if header else 0)
    return FileSchema(
        "csv",
        [(n, t or "string") for n, t in zip(names, types, strict=True)],
        records=records,
        delimiter=delim,
        header=header,
        quoted=quoted,
    )


def _clean_name(v: str) -> str:
    return re.sub(r"\s+", "_", v.strip().strip('"').lower())


def merge_columns(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Union two column lists by name, keeping a's order and widening types."""
    out = dict(a)
    for name, t in b:
        out[name] = merge_types(out.get(name), t) or "string"
    return list(out.items())
