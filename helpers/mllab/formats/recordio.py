"""SageMaker recordIO-protobuf (``application/x-recordio-protobuf``), introduced in lab 02.

The first-party SageMaker algorithms (Linear Learner, K-Means, PCA, Factorization Machines,
...) read training data and inference requests as a stream of ``aialgs.data.Record`` protobuf
messages, each framed as an MXNet RecordIO record. This module writes and reads that format
with the protobuf wire encoding done by hand (no generated code, no ``protobuf`` dependency).

The message layout (proto2, package ``aialgs.data``)::

    Float32Tensor / Float64Tensor / Int32Tensor:
        values = 1  (packed float / double / int32)
        keys   = 2  (packed uint64; non-empty means sparse)
        shape  = 3  (packed uint64; e.g. [feature_dim] for a sparse vector)
    Bytes:  value = 1 (repeated bytes), content_type = 2 (string)
    Value:  oneof float32_tensor = 2 | float64_tensor = 3 | int32_tensor = 7 | bytes = 9
    Record: features = 1 (map<string, Value>), label = 2 (map<string, Value>),
            uid = 3, metadata = 4, configuration = 5 (strings)

RecordIO framing, per record: the magic ``0xced7230a`` (uint32, little endian), then a uint32
whose upper 3 bits are the continuation flag (0 whole record, 1 first part, 2 middle part,
3 last part) and lower 29 bits the part's length, then the bytes, zero-padded to a multiple
of 4. Like MXNet's writer, :func:`frame` splits a payload wherever the magic occurs at a
4-byte aligned offset inside it; :func:`unframe` joins the parts again.

By convention the feature vector lives under the key ``"values"`` in ``features`` and the
label under ``"values"`` in ``label``.

Note: the SageMaker Python SDK v3 still ships ``RecordSerializer`` but its
``write_numpy_to_dense_tensor`` raises ``NotImplementedError``; use :func:`write_dense`
to build request bodies for ``application/x-recordio-protobuf``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LEN_MASK = (1 << 29) - 1

CONTENT_TYPE = "application/x-recordio-protobuf"

# Value oneof field numbers -> tensor type names
_VALUE_FIELDS = {2: "float32", 3: "float64", 7: "int32"}
_VALUE_FIELD_OF = {v: k for k, v in _VALUE_FIELDS.items()}
_BYTES_FIELD = 9


class RecordIOError(ValueError):
    """The bytes are not valid recordIO-protobuf."""


# --------------------------------------------------------------------------- protobuf wire


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int32/int64 negatives are sign-extended to 10 bytes
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise RecordIOError("truncated varint in protobuf message")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise RecordIOError("varint longer than 10 bytes in protobuf message")


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _len_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _packed_varints(values: Sequence[int] | np.ndarray) -> bytes:
    return b"".join(_varint(int(v)) for v in values)


def _fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yield (field number, wire type, value) for each field of one message."""
    pos = 0
    n = len(buf)
    value: Any
    while pos < n:
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value = bytes(buf[pos : pos + 8])
            pos += 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            value = buf[pos : pos + length]
            if len(value) != length:
                raise RecordIOError("truncated length-delimited field in protobuf message")
            pos += length
        elif wire == 5:
            value = bytes(buf[pos : pos + 4])
            pos += 4
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire} (field {field})")
        if pos > n:
            raise RecordIOError("truncated protobuf message")
        yield field, wire, value


def _varints_from(wire: int, value: Any) -> list[int]:
    if wire == 0:
        return [value]
    out = []
    pos = 0
    while pos < len(value):
        v, pos = _read_varint(value, pos)
        out.append(v)
    return out


# --------------------------------------------------------------------------- tensors


def _encode_tensor(
    kind: str,
    values: np.ndarray | Sequence[float],
    keys: np.ndarray | Sequence[int] | None = None,
    shape: Sequence[int] | None = None,
) -> bytes:
    arr = np.asarray(values)
    parts = []
    if arr.size:
        if kind == "float32":
            payload = arr.astype("<f4", copy=False).tobytes()
        elif kind == "float64":
            payload = arr.astype("<f8", copy=False).tobytes()
        elif kind == "int32":
            payload = _packed_varints(arr.astype(np.int64).ravel())
        else:
            raise ValueError(f"unknown tensor type {kind!r}")
        parts.append(_len_delimited(1, payload))
    if keys is not None and len(keys):
        parts.append(_len_delimited(2, _packed_varints(np.asarray(keys, dtype=np.uint64).tolist())))
    if shape:
        parts.append(_len_delimited(3, _packed_varints(list(shape))))
    return b"".join(parts)


def _decode_tensor(kind: str, buf: bytes | memoryview) -> dict[str, Any]:
    values: list[np.ndarray] = []
    keys: list[int] = []
    shape: list[int] = []
    for field, wire, value in _fields(buf):
        if field == 1:
            if kind == "float32":
                raw = value if wire == 2 else value  # packed (2) or single fixed32 (5)
                values.append(np.frombuffer(bytes(raw), dtype="<f4"))
            elif kind == "float64":
                values.append(np.frombuffer(bytes(value), dtype="<f8"))
            else:
                ints = [v - (1 << 64) if v >= 1 << 63 else v for v in _varints_from(wire, value)]
                values.append(np.asarray(ints, dtype=np.int32))
        elif field == 2:
            keys.extend(_varints_from(wire, value))
        elif field == 3:
            shape.extend(_varints_from(wire, value))
    dtype = {"float32": np.float32, "float64": np.float64, "int32": np.int32}[kind]
    vals = np.concatenate(values).astype(dtype) if values else np.zeros(0, dtype=dtype)
    return {
        "type": kind,
        "values": vals,
        "keys": np.asarray(keys, dtype=np.uint64) if keys else None,
        "shape": shape,
    }


def _encode_value(value: Mapping[str, Any] | np.ndarray | Sequence[float] | float) -> bytes:
    """Encode a ``Value``: a tensor dict (type/values/keys/shape), raw bytes, or numbers."""
    if isinstance(value, Mapping):
        if value.get("type") == "bytes":
            items = value.get("values") or []
            body = b"".join(_len_delimited(1, bytes(v)) for v in items)
            if value.get("content_type"):
                body += _len_delimited(2, str(value["content_type"]).encode())
            return _len_delimited(_BYTES_FIELD, body)
        kind = value.get("type") or _resolve_type(np.asarray(value["values"]).dtype)
        body = _encode_tensor(kind, value["values"], value.get("keys"), value.get("shape"))
        return _len_delimited(_VALUE_FIELD_OF[kind], body)
    arr = np.atleast_1d(np.asarray(value))
    kind = _resolve_type(arr.dtype)
    return _len_delimited(_VALUE_FIELD_OF[kind], _encode_tensor(kind, arr))


def _decode_value(buf: bytes | memoryview) -> dict[str, Any]:
    for field, _wire, value in _fields(buf):
        if field in _VALUE_FIELDS:
            return _decode_tensor(_VALUE_FIELDS[field], value)
        if field == _BYTES_FIELD:
            items: list[bytes] = []
            content_type = None
            for f2, _w2, v2 in _fields(value):
                if f2 == 1:
                    items.append(bytes(v2))
                elif f2 == 2:
                    content_type = bytes(v2).decode()
            return {"type": "bytes", "values": items, "content_type": content_type}
    return {"type": "float32", "values": np.zeros(0, dtype=np.float32), "keys": None, "shape": []}


def _resolve_type(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.floating):
        return "float64" if dtype == np.float64 else "float32"
    if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_):
        return "int32"
    raise ValueError(f"Unsupported dtype {dtype} on array")


# --------------------------------------------------------------------------- records


def encode_record(
    features: Mapping[str, Any] | None = None,
    label: Mapping[str, Any] | None = None,
    uid: str | None = None,
    metadata: str | None = None,
    configuration: str | None = None,
) -> bytes:
    """Serialize one ``aialgs.data.Record`` message (without RecordIO framing).

    Args:
        features: name -> a tensor dict (``type``, ``values``, optional ``keys``/``shape``) or
            an array/number (dtype picks Float32/Float64/Int32).
        label: same shape as ``features``.
        uid: optional record id.
        metadata: optional metadata string.
        configuration: optional configuration string.

    Returns:
        The protobuf bytes.
    """
    parts = []
    for field, mapping in ((1, features), (2, label)):
        for name, value in (mapping or {}).items():
            entry = _len_delimited(1, name.encode()) + _len_delimited(2, _encode_value(value))
            parts.append(_len_delimited(field, entry))
    for field, text in ((3, uid), (4, metadata), (5, configuration)):
        if text is not None:
            parts.append(_len_delimited(field, text.encode()))
    return b"".join(parts)


def decode_record(buf: bytes | memoryview) -> dict[str, Any]:
    """Parse one ``aialgs.data.Record`` message.

    Args:
        buf: the protobuf bytes of one record.

    Returns:
        ``{"features": {name: tensor}, "label": {name: tensor}, "uid", "metadata",
        "configuration"}`` where a tensor is ``{"type", "values" (ndarray), "keys"
        (ndarray or None), "shape" (list)}``.
    """
    rec: dict[str, Any] = {
        "features": {},
        "label": {},
        "uid": None,
        "metadata": None,
        "configuration": None,
    }
    for field, wire, value in _fields(buf):
        if field in (1, 2) and wire == 2:
            name = ""
            val: dict[str, Any] | None = None
            for f2, _w2, v2 in _fields(value):
                if f2 == 1:
                    name = bytes(v2).decode()
                elif f2 == 2:
                    val = _decode_value(v2)
            rec["features" if field == 1 else "label"][name] = val or _decode_value(b"")
        elif field in (3, 4, 5) and wire == 2:
            rec[{3: "uid", 4: "metadata", 5: "configuration"}[field]] = bytes(value).decode()
    return rec


# --------------------------------------------------------------------------- RecordIO framing


def frame(payload: bytes, split_magic: bool = True) -> bytes:
    """Frame one payload as MXNet RecordIO (magic, flag+length, data, padding).

    Args:
        payload: the record's bytes.
        split_magic: split at 4-byte aligned occurrences of the magic, as MXNet's writer does.

    Returns:
        The framed bytes (one or more RecordIO parts).
    """
    pieces = [payload]
    if split_magic and _MAGIC_BYTES in payload:
        pieces = []
        start = 0
        for i in range(0, len(payload) - 3, 4):
            if payload[i : i + 4] == _MAGIC_BYTES:
                pieces.append(payload[start:i])
                start = i + 4
        pieces.append(payload[start:])
    out = bytearray()
    for i, piece in enumerate(pieces):
        if len(pieces) == 1:
            cflag = 0
        elif i == 0:
            cflag = 1
        elif i == len(pieces) - 1:
            cflag = 3
        else:
            cflag = 2
        if len(piece) > _LEN_MASK:
            raise ValueError("RecordIO record part longer than 2**29 - 1 bytes")
        out += _MAGIC_BYTES
        out += struct.pack("<I", (cflag << 29) | len(piece))
        out += piece
        out += b"\x00" * ((4 - len(piece) % 4) % 4)
    return bytes(out)


def unframe(data: bytes) -> Iterator[bytes]:
    """Yield the payloads of a RecordIO byte stream, joining continued parts.

    Args:
        data: the whole stream.

    Returns:
        An iterator of payloads.

    Raises:
        RecordIOError: a bad magic number or a truncated record.
    """
    view = memoryview(data)
    pos = 0
    n = len(view)
    pending: list[bytes] | None = None
    while pos < n:
        if pos + 8 > n:
            raise RecordIOError(f"truncated RecordIO header at byte {pos}")
        magic, lrec = struct.unpack_from("<II", view, pos)
        if magic != MAGIC:
            raise RecordIOError(
                f"invalid RecordIO magic number 0x{magic:08x} at byte {pos} (expected 0x{MAGIC:08x})"
            )
        cflag, length = lrec >> 29, lrec & _LEN_MASK
        pos += 8
        if pos + length > n:
            raise RecordIOError(f"truncated RecordIO record at byte {pos - 8}")
        piece = bytes(view[pos : pos + length])
        pos += length + (4 - length % 4) % 4
        if cflag == 0:
            yield piece
        elif cflag == 1:
            pending = [piece]
        elif cflag == 2:
            if pending is None:
                raise RecordIOError("RecordIO middle part without a first part")
            pending.append(piece)
        else:
            if pending is None:
                raise RecordIOError("RecordIO last part without a first part")
            pending.append(piece)
            yield _MAGIC_BYTES.join(pending)
            pending = None
    if pending is not None:
        raise RecordIOError("RecordIO stream ends inside a multi-part record")


def is_recordio(data: bytes) -> bool:
    """Whether ``data`` starts with the RecordIO magic number."""
    return len(data) >= 8 and struct.unpack_from("<I", data, 0)[0] == MAGIC


# --------------------------------------------------------------------------- public helpers


def write_records(records: Sequence[Mapping[str, Any]]) -> bytes:
    """Frame a list of record dicts (keys as :func:`encode_record` takes).

    Args:
        records: dicts with optional ``features``, ``label``, ``uid``, ``metadata``,
            ``configuration``.

    Returns:
        The RecordIO byte stream.
    """
    return b"".join(frame(encode_record(**dict(r))) for r in records)


def _label_value(v: Any, label_type: str) -> dict[str, Any]:
    return {"type": label_type, "values": np.atleast_1d(np.asarray(v))}


def write_dense(X: Any, y: Any = None) -> bytes:
    """Write a dense matrix (one record per row) as recordIO-protobuf.

    The tensor type follows the dtype as the SageMaker SDK does: float32 -> Float32Tensor,
    float64 -> Float64Tensor, integers -> Int32Tensor. Most algorithms want Float32, so pass
    ``X.astype("float32")``.

    Args:
        X: a 2-D array-like (a 1-D array is one row).
        y: optional labels, one per row.

    Returns:
        The RecordIO byte stream.
    """
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError("Array must be a Matrix")
    kind = _resolve_type(arr.dtype)
    labels = None
    if y is not None:
        labels = np.asarray(y)
        if labels.ndim != 1 or labels.shape[0] != arr.shape[0]:
            raise ValueError(
                f"Label shape {labels.shape} not compatible with array shape {arr.shape}"
            )
        label_type = _resolve_type(labels.dtype)
    out = bytearray()
    for i, row in enumerate(arr):
        features = {"values": {"type": kind, "values": row}}
        label = {"values": _label_value(labels[i], label_type)} if labels is not None else None
        out += frame(encode_record(features, label))
    return bytes(out)


def write_sparse(csr: Any, y: Any = None) -> bytes:
    """Write a scipy sparse matrix (one record per row) as sparse recordIO-protobuf.

    Each record holds the row's non-zero ``values``, their column ``keys`` and
    ``shape=[n_columns]``.

    Args:
        csr: any scipy.sparse matrix.
        y: optional labels, one per row.

    Returns:
        The RecordIO byte stream.
    """
    import scipy.sparse as sp

    if not sp.issparse(csr):
        raise TypeError("Array must be sparse")
    m = csr.tocsr()
    n_rows, n_cols = m.shape
    kind = _resolve_type(m.dtype)
    labels = None
    if y is not None:
        labels = np.asarray(y)
        if labels.ndim != 1 or labels.shape[0] != n_rows:
            raise ValueError(
                f"Label shape {labels.shape} not compatible with array shape {m.shape}"
            )
        label_type = _resolve_type(labels.dtype)
    out = bytearray()
    for i in range(n_rows):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        features = {
            "values": {
                "type": kind,
                "values": m.data[lo:hi],
                "keys": m.indices[lo:hi],
                "shape": [n_cols],
            }
        }
        label = {"values": _label_value(labels[i], label_type)} if labels is not None else None
        out += frame(encode_record(features, label))
    return bytes(out)


def read_records(data: bytes) -> list[dict[str, Any]]:
    """Parse every record of a recordIO-protobuf byte stream.

    Args:
        data: the stream (a file's content or a request body).

    Returns:
        One dict per record, as :func:`decode_record` returns.

    Raises:
        RecordIOError: the bytes are not recordIO-protobuf.
    """
    return [decode_record(p) for p in unframe(data)]


def to_numpy(
    data: bytes | list[dict[str, Any]],
    feature_dim: int | None = None,
    feature_key: str = "values",
    label_key: str = "values",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a recordIO-protobuf stream into a dense feature matrix and a label vector.

    Sparse records are filled with zeros up to ``feature_dim`` (or the tensor's ``shape``, or
    the largest key + 1).

    Args:
        data: the stream, or records from :func:`read_records`.
        feature_dim: the width of the matrix; inferred when None.
        feature_key: which ``features`` entry holds the vector.
        label_key: which ``label`` entry holds the label.

    Returns:
        ``(X, y)``: X is float64 of shape (records, feature_dim); y is a float64 vector, or None
        when no record has a label (a label vector of length > 1 keeps its first value).

    Raises:
        RecordIOError: malformed bytes, a record without ``features[feature_key]``, or rows of
            different widths.
    """
    records = read_records(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    rows: list[tuple[np.ndarray, np.ndarray | None, int]] = []
    width = feature_dim
    inferred = 0
    for i, rec in enumerate(records):
        tensor = rec["features"].get(feature_key)
        if tensor is None or tensor.get("type") == "bytes":
            raise RecordIOError(f"record {i} has no numeric features[{feature_key!r}] tensor")
        vals = np.asarray(tensor["values"], dtype=np.float64)
        keys = tensor["keys"]
        if keys is None and vals.size == 0 and tensor["shape"]:
            keys = np.zeros(0, dtype=np.uint64)  # an all-zero sparse row has no keys
        if keys is None:
            n = int(np.prod(tensor["shape"])) if tensor["shape"] else vals.size
            rows.append((vals, None, n))
            inferred = max(inferred, n)
        else:
            keys = keys.astype(np.int64)
            n = (
                int(tensor["shape"][0])
                if tensor["shape"]
                else (int(keys.max()) + 1 if keys.size else 0)
            )
            rows.append((vals, keys, n))
            inferred = max(inferred, n)
    if width is None:
        width = inferred
    X = np.zeros((len(rows), width), dtype=np.float64)
    for i, (vals, keys, _n) in enumerate(rows):
        if keys is None:
            if vals.size != width:
                raise RecordIOError(
                    f"record {i} has {vals.size} features; expected {width} (feature_dim)"
                )
            X[i] = vals
        else:
            if keys.size and int(keys.max()) >= width:
                raise RecordIOError(
                    f"record {i} has a feature index {int(keys.max())} >= feature_dim {width}"
                )
            X[i, keys] = vals
    y = None
    if any(rec["label"].get(label_key) is not None for rec in records):
        y = np.full(len(records), np.nan)
        for i, rec in enumerate(records):
            t = rec["label"].get(label_key)
            if t is not None and t.get("type") != "bytes" and len(t["values"]):
                y[i] = float(t["values"][0])
    return X, y


def read_file(path: str | Path) -> list[dict[str, Any]]:
    """Read all records of one recordIO-protobuf file.

    Args:
        path: the file.

    Returns:
        The records (see :func:`read_records`).
    """
    return read_records(Path(path).read_bytes())


def write_dense_file(path: str | Path, X: Any, y: Any = None) -> Path:
    """Write ``X`` (and labels) to ``path`` as dense recordIO-protobuf.

    Args:
        path: the file to create (overwritten).
        X: the matrix.
        y: optional labels.

    Returns:
        The path written.
    """
    p = Path(path)
    p.write_bytes(write_dense(X, y))
    return p


def write_sparse_file(path: str | Path, csr: Any, y: Any = None) -> Path:
    """Write a scipy sparse matrix (and labels) to ``path`` as sparse recordIO-protobuf.

    Args:
        path: the file to create (overwritten).
        csr: the sparse matrix.
        y: optional labels.

    Returns:
        The path written.
    """
    p = Path(path)
    p.write_bytes(write_sparse(csr, y))
    return p
