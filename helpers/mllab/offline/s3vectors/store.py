"""The vector store behind offline Amazon S3 Vectors: exact search over numpy matrices.

Introduced in the knowledge-base lab (S3 Vectors as the cheap vector store of a knowledge
base). An index keeps its vectors as one float32 matrix (rows appended, deleted rows
compacted lazily) and answers ``QueryVectors`` by *exact* nearest-neighbour search -- every
candidate is scored, nothing approximated. AWS's service uses an approximate index; its
results can differ from these on ties and near-ties (AWS documents average recall above 90%),
so offline results are what a perfect index would return.

The metadata filter language is AWS's (``$eq $ne $gt $gte $lt $lte $in $nin $exists $and
$or``; a bare value means ``$eq``). Filtering happens before the search (pre-filtering), so a
filter never leaves fewer than ``topK`` results when enough vectors match. Nothing here costs
money or deletes anything outside the index it is called on.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mllab.offline.registry import AwsError

#: Documented limits (Amazon S3 User Guide, "S3 Vectors limitations and restrictions").
MAX_DIMENSION = 4096
MAX_METADATA_BYTES = 40 * 1024
MAX_FILTERABLE_METADATA_BYTES = 2 * 1024
MAX_METADATA_KEYS = 50
MAX_NON_FILTERABLE_KEYS = 10
MAX_PUT_BATCH = 500
MAX_DELETE_BATCH = 500
MAX_GET_BATCH = 100
MAX_TOP_K = 100
MAX_LIST_PAGE = 1000

_COMPARE = {"$gt", "$gte", "$lt", "$lte"}
_OPERATORS = {"$eq", "$ne", "$in", "$nin", "$exists"} | _COMPARE


def validation(message: str) -> AwsError:
    """A ``ValidationException`` (HTTP 400) with AWS's wording."""
    return AwsError("ValidationException", message, 400)


def metadata_size(metadata: dict[str, Any]) -> int:
    """Bytes of ``metadata`` as UTF-8 JSON (how the limits are measured here)."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass
class Index:
    """One vector index: configuration, keys, a float32 matrix and per-row metadata.

    Attributes:
        bucket: the vector bucket's name.
        name: the index name.
        arn: the index ARN.
        dimension: vector length (1-4096).
        metric: ``cosine`` or ``euclidean``.
        non_filterable: metadata keys that are stored but cannot be filtered on.
        created: creation time (datetime).
    """

    bucket: str
    name: str
    arn: str
    dimension: int
    metric: str
    non_filterable: frozenset[str]
    created: Any
    data_type: str = "float32"
    encryption: dict[str, Any] = field(default_factory=lambda: {"sseType": "AES256"})
    tags: dict[str, str] = field(default_factory=dict)
    _rows: dict[str, int] = field(default_factory=dict)
    _keys: list[str | None] = field(default_factory=list)
    _meta: list[dict[str, Any] | None] = field(default_factory=list)
    _mat: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    _norm: np.ndarray | None = None
    _dead: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._mat = np.zeros((0, self.dimension), np.float32)

    # ------------------------------------------------------------------ writes
    def check_vector(self, key: str, values: Any) -> np.ndarray:
        """Validate one vector's data; return it as float32."""
        if isinstance(values, np.ndarray) and values.ndim == 1:  # the offline plane's own writes
            values = values.astype(np.float32, copy=False)
        elif not isinstance(values, list | tuple):
            raise validation(f"Invalid record for key '{key}': data.float32 must be a list")
        if len(values) != self.dimension:
            raise validation(
                f"Invalid record for key '{key}': vector must have length {self.dimension}, "
                f"but has length {len(values)}"
            )
        arr = np.asarray(values, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise validation(f"Invalid record for key '{key}': vector contains NaN or Infinity")
        if self.metric == "cosine" and not np.any(arr):
            raise validation(
                f"Invalid record for key '{key}': a zero vector has no cosine distance; "
                "the index's distanceMetric is cosine"
            )
        return arr

    def check_metadata(self, key: str, metadata: Any) -> dict[str, Any]:
        """Validate one vector's metadata against the documented limits; return it."""
        if metadata is None:
            return {}
        if not isinstance(metadata, dict):
            raise validation(f"Invalid record for key '{key}': metadata must be a JSON object")
        if len(metadata) > MAX_METADATA_KEYS:
            raise validation(
                f"Invalid record for key '{key}': metadata has {len(metadata)} keys; "
                f"at most {MAX_METADATA_KEYS} keys are allowed per vector"
            )
        for k, v in metadata.items():
            _check_value(key, k, v)
        total = metadata_size(metadata)
        if total > MAX_METADATA_BYTES:
            raise validation(
                f"Invalid record for key '{key}': metadata is {total} bytes; total metadata "
                f"per vector must be at most {MAX_METADATA_BYTES} bytes (40 KB)"
            )
        filterable = {k: v for k, v in metadata.items() if k not in self.non_filterable}
        size = metadata_size(filterable)
        if size > MAX_FILTERABLE_METADATA_BYTES:
            raise validation(
                f"Invalid record for key '{key}': filterable metadata is {size} bytes; it must "
                f"be at most {MAX_FILTERABLE_METADATA_BYTES} bytes (2 KB). Declare large keys "
                "(e.g. the chunk text) in nonFilterableMetadataKeys when creating the index"
            )
        return dict(metadata)

    def put(self, records: list[tuple[str, np.ndarray, dict[str, Any]]]) -> None:
        """Insert or overwrite vectors (a key that exists is replaced, as AWS does)."""
        with self._lock:
            base = self._mat.shape[0]
            new_vecs: list[np.ndarray] = []
            for key, vec, meta in records:
                row = self._rows.get(key)
                if row is not None:
                    if row < base:
                        self._mat[row] = vec
                    else:
                        new_vecs[row - base] = vec
                    self._meta[row] = meta
                    continue
                self._rows[key] = len(self._keys)
                self._keys.append(key)
                self._meta.append(meta)
                new_vecs.append(vec)
            if new_vecs:
                self._mat = np.vstack([self._mat, np.stack(new_vecs)])
            self._norm = None

    def delete(self, keys: list[str]) -> None:
        """Delete vectors by key (keys that do not exist are ignored, as AWS does)."""
        with self._lock:
            for key in keys:
                row = self._rows.pop(key, None)
                if row is None:
                    continue
                self._keys[row] = None
                self._meta[row] = None
                self._dead += 1
            if self._dead > 64 and self._dead > len(self._keys) // 4:
                self._compact()

    def _compact(self) -> None:
        live = [i for i, k in enumerate(self._keys) if k is not None]
        self._mat = self._mat[live] if live else np.zeros((0, self.dimension), np.float32)
        self._keys = [self._keys[i] for i in live]
        self._meta = [self._meta[i] for i in live]
        self._rows = {k: i for i, k in enumerate(self._keys) if k is not None}
        self._dead = 0
        self._norm = None

    # ------------------------------------------------------------------ reads
    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> tuple[np.ndarray, dict[str, Any]] | None:
        """Return (vector, metadata) of one key, or None."""
        row = self._rows.get(key)
        if row is None:
            return None
        return self._mat[row], self._meta[row] or {}

    def keys(self) -> list[str]:
        """Live keys in insertion order."""
        return [k for k in self._keys if k is not None]

    def query(
        self, vector: Any, top_k: int, flt: dict[str, Any] | None
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """Exact top-k search; returns (key, distance, metadata) nearest first.

        Cosine distance is ``1 - cos(q, v)``; euclidean distance is ``||q - v||``.
        """
        q = self.check_query(vector)
        if flt is not None:
            validate_filter(flt, self.non_filterable)
        with self._lock:
            if flt is None and self._dead == 0:
                rows = np.arange(len(self._keys))
            else:
                live = np.fromiter(
                    (
                        k is not None and (flt is None or matches(flt, self._meta[i] or {}))
                        for i, k in enumerate(self._keys)
                    ),
                    dtype=bool,
                    count=len(self._keys),
                )
                rows = np.nonzero(live)[0]
            if rows.size == 0:
                return []
            if self.metric == "cosine":
                if self._norm is None:
                    norms = np.linalg.norm(self._mat, axis=1)
                    norms[norms == 0] = 1.0
                    self._norm = self._mat / norms[:, None]
                qn = q / float(np.linalg.norm(q))
                every = rows.size == self._norm.shape[0]  # no filter: no copy of the matrix
                dist = 1.0 - (self._norm if every else self._norm[rows]) @ qn
            else:
                diff = (self._mat if rows.size == self._mat.shape[0] else self._mat[rows]) - q
                dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            k = min(top_k, rows.size)
            part = np.argpartition(dist, k - 1)[:k] if k < rows.size else np.arange(rows.size)
            order = part[np.lexsort((rows[part], dist[part]))]
            return [
                (str(self._keys[rows[i]]), float(dist[i]), self._meta[rows[i]] or {}) for i in order
            ]

    def check_query(self, vector: Any) -> np.ndarray:
        """Validate a query vector (dimension, finite, non-zero for cosine)."""
        if not isinstance(vector, dict) or "float32" not in vector:
            raise validation("queryVector must contain float32 data")
        values = vector["float32"]
        if len(values) != self.dimension:
            raise validation(
                f"Query vector contains {len(values)} dimensions, but the index "
                f"{self.name!r} expects {self.dimension} dimensions"
            )
        q = np.asarray(values, dtype=np.float32)
        if not np.all(np.isfinite(q)):
            raise validation("Query vector contains NaN or Infinity")
        if self.metric == "cosine" and not np.any(q):
            raise validation("Query vector is a zero vector; cosine distance is undefined")
        return q


def _check_value(key: str, name: str, value: Any) -> None:
    ok_scalar = isinstance(value, str | bool | int | float)
    if isinstance(value, float) and not math.isfinite(value):
        ok_scalar = False
    if isinstance(value, list):
        if not value or all(isinstance(x, str | bool | int | float) for x in value):
            return
    elif ok_scalar:
        return
    raise validation(
        f"Invalid record for key '{key}': metadata value of {name!r} must be a string, number, "
        "boolean or a list of those"
    )


# --------------------------------------------------------------------------- filters


def validate_filter(flt: Any, non_filterable: frozenset[str] = frozenset()) -> None:
    """Raise ValidationException unless ``flt`` is a well-formed S3 Vectors filter."""
    if not isinstance(flt, dict) or not flt:
        raise validation("Invalid filter: a filter must be a non-empty JSON object")
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise validation(f"Invalid filter: {key} takes a non-empty array of filters")
            for sub in cond:
                validate_filter(sub, non_filterable)
            continue
        if key.startswith("$"):
            raise validation(
                f"Invalid filter: unsupported operator {key!r}; logical operators are $and and $or"
            )
        if key in non_filterable:
            raise validation(
                f"Invalid filter: metadata key {key!r} is non-filterable in this index "
                "(nonFilterableMetadataKeys); it cannot be used in a query filter"
            )
        if isinstance(cond, dict):
            if len(cond) != 1:
                raise validation(
                    f"Invalid filter: the condition on {key!r} must have exactly one operator"
                )
            ((op, arg),) = cond.items()
            if op not in _OPERATORS:
                raise validation(
                    f"Invalid filter: unsupported operator {op!r}; supported: "
                    + ", ".join(sorted(_OPERATORS | {"$and", "$or"}))
                )
            if op in ("$in", "$nin") and (not isinstance(arg, list) or not arg):
                raise validation(f"Invalid filter: {op} on {key!r} takes a non-empty array")
            if op == "$exists" and not isinstance(arg, bool):
                raise validation(f"Invalid filter: $exists on {key!r} takes true or false")
            if op in _COMPARE and (isinstance(arg, bool) or not isinstance(arg, int | float)):
                raise validation(f"Invalid filter: {op} on {key!r} takes a number")
        elif isinstance(cond, list):
            raise validation(f"Invalid filter: use $in to match {key!r} against an array of values")


def _eq(value: Any, arg: Any) -> bool:
    if isinstance(value, list):
        return any(_eq(v, arg) for v in value)
    if isinstance(value, bool) or isinstance(arg, bool):
        return isinstance(value, bool) and isinstance(arg, bool) and value == arg
    return bool(value == arg)


def _cmp(value: Any, op: str, arg: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if op == "$gt":
        return value > arg
    if op == "$gte":
        return value >= arg
    if op == "$lt":
        return value < arg
    return value <= arg


def matches(flt: dict[str, Any], metadata: dict[str, Any]) -> bool:
    """True when ``metadata`` satisfies the (validated) filter ``flt``.

    A list-valued metadata field matches ``$eq``/``$in`` when any element does, and
    ``$ne``/``$nin`` when no element does; a missing key matches only ``$ne``, ``$nin``
    and ``$exists: false``.
    """
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(sub, metadata) for sub in cond):
                return False
            continue
        if key == "$or":
            if not any(matches(sub, metadata) for sub in cond):
                return False
            continue
        present = key in metadata
        value = metadata.get(key)
        if not isinstance(cond, dict):
            if not (present and _eq(value, cond)):
                return False
            continue
        ((op, arg),) = cond.items()
        if op == "$exists":
            ok = present == arg
        elif op == "$eq":
            ok = present and _eq(value, arg)
        elif op == "$ne":
            ok = not (present and _eq(value, arg))
        elif op == "$in":
            ok = present and any(_eq(value, a) for a in arg)
        elif op == "$nin":
            ok = not (present and any(_eq(value, a) for a in arg))
        else:
            ok = present and _cmp(value, op, float(arg))
        if not ok:
            return False
    return True
