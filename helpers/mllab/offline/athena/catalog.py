"""Shared plumbing of the offline Glue catalog, Athena and Lake Formation (introduced in lab 01).

Reads moto's state directly (faster than S3 GetObject calls and invisible to the cost
guard, which is right: these are the *service's* reads, not the learner's):

* S3 objects from ``moto.s3.models.s3_backends`` -- their sizes are what Athena bills;
* Glue databases, tables and partitions from ``moto.glue.models.glue_backends``.

It also holds the type plumbing: Glue (Hive) type strings, DuckDB types, and the types
Athena reports in ``ResultSetMetadata.ColumnInfo``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- S3


@dataclass
class S3Object:
    """One object as the offline services see it.

    Attributes:
        bucket: the bucket name.
        key: the object key.
        size: the stored (possibly compressed) size in bytes: what Athena counts as scanned.
        etag: the object's ETag (cache key for local copies).
        fake: moto's ``FakeKey`` (kept so its buffer stays alive while it is read).
    """

    bucket: str
    key: str
    size: int
    etag: str
    fake: Any = field(repr=False, default=None)

    @property
    def uri(self) -> str:
        """The object's ``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    def read(self) -> bytes:
        """Return the object's bytes."""
        return bytes(self.fake.value)


def split_s3(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into ``(bucket, prefix)``.

    Raises:
        ValueError: when ``uri`` is not an ``s3://`` URI.
    """
    m = re.match(r"^s3a?n?://([^/]+)/?(.*)$", uri or "")
    if not m:
        raise ValueError(f"{uri!r} is not an S3 location (s3://bucket/prefix/)")
    return m.group(1), m.group(2)


def s3_backend(account_id: str) -> Any:
    """Return moto's S3 backend of the account."""
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["global"]


def bucket_exists(account_id: str, bucket: str) -> bool:
    """True when ``bucket`` exists in moto."""
    return bucket in s3_backend(account_id).buckets


def list_objects(account_id: str, uri: str, *, hidden: bool = False) -> list[S3Object]:
    """List the objects under an S3 prefix, recursively, sorted by key.

    Args:
        account_id: the offline account.
        uri: ``s3://bucket/prefix`` (a trailing slash is added to folder prefixes).
        hidden: keep Hive-hidden files (names starting with ``_`` or ``.``, ``_$folder$``
            markers) and zero-byte folder markers; Athena and crawlers skip them.

    Returns:
        The latest version of each object (delete markers skipped); [] for a missing bucket.
    """
    from moto.s3.models import FakeKey

    bucket_name, prefix = split_s3(uri)
    backend = s3_backend(account_id)
    bucket = backend.buckets.get(bucket_name)
    if bucket is None:
        return []
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    found = []
    for name, key in list(bucket.keys.items()):
        if not name.startswith(prefix) or not isinstance(key, FakeKey):
            continue
        if not hidden:
            base = name.rsplit("/", 1)[-1]
            rel = name[len(prefix) :]
            if name.endswith("/") or base.endswith("_$folder$"):
                continue
            if any(part.startswith(("_", ".")) for part in rel.split("/")):
                continue
        found.append(S3Object(bucket_name, name, int(key.size), str(key.etag).strip('"'), key))
    found.sort(key=lambda o: o.key)
    return found


def put_object(account_id: str, uri: str, body: bytes, content_type: str | None = None) -> None:
    """Write an object into moto S3 (the service's own write, e.g. Athena results).

    Raises:
        KeyError: when the bucket does not exist.
    """
    bucket, key = split_s3(uri)
    backend = s3_backend(account_id)
    if bucket not in backend.buckets:
        raise KeyError(bucket)
    fake = backend.put_object(bucket, key, body)
    if content_type:
        fake.set_metadata({"Content-Type": content_type})


def delete_prefix(account_id: str, uri: str) -> int:
    """Delete every object under an S3 prefix (CTAS on a non-empty location is refused instead)."""
    objs = list_objects(account_id, uri, hidden=True)
    backend = s3_backend(account_id)
    for o in objs:
        backend.delete_object(o.bucket, o.key)
    return len(objs)


class LocalFiles:
    """Local paths DuckDB and pyarrow can open for moto S3 objects, for one reader.

    moto keeps objects above a few MB in anonymous temporary files: those are reopened
    through ``/proc/self/fd`` (no copy; our own descriptor keeps them readable for the
    reader's lifetime). Smaller objects live in memory and are written once to a cache
    folder keyed by bucket, key and ETag. Use as a context manager.
    """

    _cache_dir: str | None = None
    _cache_lock = threading.Lock()

    def __init__(self) -> None:
        self._fds: list[int] = []
        self._paths: dict[tuple[str, str, str], str] = {}

    @classmethod
    def cache_dir(cls) -> str:
        with cls._cache_lock:
            if cls._cache_dir is None or not os.path.isdir(cls._cache_dir):
                cls._cache_dir = tempfile.mkdtemp(prefix="mllab-s3cache-")
            return cls._cache_dir

    def path(self, obj: S3Object) -> str:
        """Return a local path holding ``obj``'s bytes (the same path for the same object)."""
        ident = (obj.bucket, obj.key, obj.etag)
        if ident not in self._paths:
            self._paths[ident] = self._open(obj)
        return self._paths[ident]

    def _open(self, obj: S3Object) -> str:
        buf = getattr(obj.fake, "_value_buffer", None)
        if buf is not None and getattr(buf, "_rolled", False) and os.path.isdir("/proc/self/fd"):
            try:
                fd = os.open(f"/proc/self/fd/{buf.fileno()}", os.O_RDONLY)
                self._fds.append(fd)
                return f"/proc/self/fd/{fd}"
            except OSError:
                pass
        digest = hashlib.sha1(f"{obj.bucket}/{obj.key}/{obj.etag}".encode()).hexdigest()
        ext = "".join(re.findall(r"(\.[A-Za-z0-9]+)$", obj.key))
        path = os.path.join(self.cache_dir(), digest + ext)
        if not os.path.exists(path):
            tmp = f"{path}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(obj.read())
            os.replace(tmp, path)
        return path

    def close(self) -> None:
        """Close the descriptors opened for this reader."""
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()
        self._paths.clear()

    def __enter__(self) -> LocalFiles:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def compression_of(key: str) -> str | None:
    """Return the compression Athena infers from a file extension (None: uncompressed)."""
    low = key.lower()
    if low.endswith((".gz", ".gzip")):
        return "gzip"
    if low.endswith(".zst"):
        return "zstd"
    if low.endswith(".bz2"):
        return "bzip2"
    if low.endswith(".snappy") and ".parquet" not in low:
        return "snappy"
    return None


# --------------------------------------------------------------------------- Glue catalog


def glue_backend(account_id: str, region: str) -> Any:
    """Return moto's Glue backend."""
    from moto.glue.models import glue_backends

    return glue_backends[account_id][region]


def get_database(account_id: str, region: str, name: str) -> Any | None:
    """Return moto's database object, or None."""
    return glue_backend(account_id, region).databases.get(name.lower()) or glue_backend(
        account_id, region
    ).databases.get(name)


def get_table(account_id: str, region: str, database: str, name: str) -> dict[str, Any] | None:
    """Return the table's description (as GetTable gives it), or None when missing."""
    fake = get_fake_table(account_id, region, database, name)
    return None if fake is None else fake.as_dict()


def get_fake_table(account_id: str, region: str, database: str, name: str) -> Any | None:
    """Return moto's ``FakeTable`` (case-insensitive names, as Athena), or None."""
    db = get_database(account_id, region, database)
    if db is None:
        return None
    t = db.tables.get(name) or db.tables.get(name.lower())
    if t is None:
        for tname, cand in db.tables.items():
            if tname.lower() == name.lower():
                return cand
    return t


def partitions_of(fake_table: Any) -> list[dict[str, Any]]:
    """Return the registered partitions (each a PartitionInput-like dict with Values)."""
    return [p.partition_input for p in list(fake_table.partitions.values())]


# --------------------------------------------------------------------------- types

_SIMPLE_DUCK = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "real": "FLOAT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
    "varbinary": "BLOB",
}


def _split_top(s: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in s:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def glue_to_duckdb(glue_type: str) -> str:
    """Translate a Glue/Hive type (``array<struct<a:int>>``) into a DuckDB type.

    Raises:
        ValueError: for a type with no DuckDB equivalent.
    """
    t = glue_type.strip()
    low = t.lower()
    if low.startswith("array<") and low.endswith(">"):
        return glue_to_duckdb(t[6:-1]) + "[]"
    if low.startswith("map<") and low.endswith(">"):
        k, v = _split_top(t[4:-1])
        return f"MAP({glue_to_duckdb(k)}, {glue_to_duckdb(v)})"
    if low.startswith("struct<") and low.endswith(">"):
        fields = []
        for part in _split_top(t[7:-1]):
            name, _, ftype = part.partition(":")
            fields.append(f'"{name.strip()}" {glue_to_duckdb(ftype)}')
        return f"STRUCT({', '.join(fields)})"
    m = re.match(r"^(decimal)\s*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$", low)
    if m:
        return "DECIMAL" + (m.group(2) or "(10,0)").replace(" ", "")
    base = re.sub(r"\(.*\)$", "", low).strip()
    if base in _SIMPLE_DUCK:
        return _SIMPLE_DUCK[base]
    raise ValueError(f"type {glue_type!r} is not supported by the offline Athena")


def duckdb_to_glue(duck_type: str) -> str:
    """Translate a DuckDB type (as ``str(relation.types[i])``) into a Glue/Hive type string."""
    t = str(duck_type).strip()
    up = t.upper()
    if up.endswith("[]"):
        return f"array<{duckdb_to_glue(t[:-2])}>"
    if up.startswith("STRUCT(") and up.endswith(")"):
        fields = []
        for part in _split_top(t[7:-1]):
            m = re.match(r'^\s*("([^"]*)"|(\S+))\s+(.*)$', part)
            if m:
                fields.append(f"{m.group(2) or m.group(3)}:{duckdb_to_glue(m.group(4))}")
        return f"struct<{','.join(fields)}>"
    if up.startswith("MAP(") and up.endswith(")"):
        k, v = _split_top(t[4:-1])
        return f"map<{duckdb_to_glue(k)},{duckdb_to_glue(v)}>"
    if up.startswith("DECIMAL"):
        return t.lower().replace(" ", "")
    return {
        "VARCHAR": "string",
        "BIGINT": "bigint",
        "HUGEINT": "bigint",
        "UBIGINT": "bigint",
        "UINTEGER": "bigint",
        "INTEGER": "int",
        "USMALLINT": "int",
        "SMALLINT": "smallint",
        "UTINYINT": "smallint",
        "TINYINT": "tinyint",
        "DOUBLE": "double",
        "FLOAT": "float",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "TIMESTAMP_NS": "timestamp",
        "TIMESTAMP_MS": "timestamp",
        "TIMESTAMP_S": "timestamp",
        "TIMESTAMP WITH TIME ZONE": "timestamp",
        "BLOB": "binary",
    }.get(up, "string")


def athena_type(duck_type: str) -> str:
    """Return the type Athena reports in ``ColumnInfo`` for a DuckDB result type."""
    t = str(duck_type).strip()
    up = t.upper()
    if up.endswith("[]"):
        return "array"
    if up.startswith("STRUCT"):
        return "row"
    if up.startswith("MAP"):
        return "map"
    if up.startswith("DECIMAL"):
        return "decimal"
    return {
        "VARCHAR": "varchar",
        "BIGINT": "bigint",
        "HUGEINT": "bigint",
        "UBIGINT": "bigint",
        "UINTEGER": "bigint",
        "INTEGER": "integer",
        "USMALLINT": "integer",
        "SMALLINT": "smallint",
        "UTINYINT": "smallint",
        "TINYINT": "tinyint",
        "DOUBLE": "double",
        "FLOAT": "real",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "TIMESTAMP_NS": "timestamp",
        "TIMESTAMP_MS": "timestamp",
        "TIMESTAMP_S": "timestamp",
        "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
        "TIME": "time",
        "BLOB": "varbinary",
        "INTERVAL": "interval day to second",
        "UUID": "uuid",
        '"NULL"': "unknown",
        "NULL": "unknown",
    }.get(up, "varchar")


#: Precision Athena reports per type (ColumnInfo.Precision).
ATHENA_PRECISION = {
    "varchar": 2147483647,
    "bigint": 19,
    "integer": 10,
    "smallint": 5,
    "tinyint": 3,
    "double": 17,
    "real": 7,
    "boolean": 0,
    "date": 0,
    "timestamp": 3,
    "array": 0,
    "row": 0,
    "map": 0,
}


def java_double(x: float) -> str:
    """Format a double the way Athena (Java's ``Double.toString``) prints it: ``2.0``, ``1.0E7``."""
    import math
    from decimal import Decimal

    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    a = abs(x)
    if 1e-3 <= a < 1e7:
        r = repr(x)
        if "e" in r or "E" in r:
            r = format(Decimal(r), "f")
        if "." not in r:
            r += ".0"
        return r
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    sci = int(exponent) + len(digits) - 1
    mant = ds[0] + "." + (ds[1:] or "0")
    return f"{'-' if sign else ''}{mant}E{sci}"


def format_value(v: Any) -> str | None:
    """Render one result value the way Athena writes it in results (None stays NULL)."""
    import datetime as dt
    from decimal import Decimal

    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double(v)
    if isinstance(v, dt.datetime):
        base = v.strftime("%Y-%m-%d %H:%M:%S") + f".{v.microsecond // 1000:03d}"
        if v.tzinfo is not None:
            base += " UTC"
        return base
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return " ".join(f"{b:02x}" for b in bytes(v))
    if isinstance(v, list | tuple):
        return "[" + ", ".join("null" if e is None else str(format_value(e)) for e in v) + "]"
    if isinstance(v, dict):
        return (
            "{"
            + ", ".join(f"{k}={'null' if e is None else format_value(e)}" for k, e in v.items())
            + "}"
        )
    return str(v)
