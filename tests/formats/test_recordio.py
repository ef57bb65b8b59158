"""recordIO-protobuf: round trips and interop with protobuf and the SageMaker SDK's framing."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import scipy.sparse as sp

from mllab.formats import recordio


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_dense_round_trip_with_labels() -> None:
    X = _rng().normal(size=(25, 6)).astype("float32")
    y = (X[:, 0] > 0).astype("float32")
    data = recordio.write_dense(X, y)
    assert recordio.is_recordio(data)
    X2, y2 = recordio.to_numpy(data)
    np.testing.assert_array_equal(X2.astype("float32"), X)
    np.testing.assert_array_equal(y2, y)
    recs = recordio.read_records(data)
    assert len(recs) == 25
    assert recs[0]["features"]["values"]["type"] == "float32"
    assert recs[0]["features"]["values"]["keys"] is None


def test_dense_without_labels_and_float64_int32() -> None:
    X = _rng().normal(size=(4, 3))
    X2, y2 = recordio.to_numpy(recordio.write_dense(X))
    assert y2 is None
    np.testing.assert_array_equal(X2, X)
    ints = np.array([[1, -2, 3], [400000, 0, -7]], dtype=np.int64)
    recs = recordio.read_records(recordio.write_dense(ints))
    assert recs[1]["features"]["values"]["type"] == "int32"
    np.testing.assert_array_equal(recs[1]["features"]["values"]["values"], [400000, 0, -7])
    assert (
        recordio.read_records(recordio.write_dense(X))[0]["features"]["values"]["type"] == "float64"
    )


def test_sparse_round_trip() -> None:
    dense = np.zeros((6, 10), dtype="float32")
    dense[0, 3] = 1.5
    dense[2, 9] = -2
    dense[5, 0] = 4
    y = np.arange(6, dtype="float32")
    data = recordio.write_sparse(sp.csr_matrix(dense), y)
    recs = recordio.read_records(data)
    assert recs[0]["features"]["values"]["keys"].tolist() == [3]
    assert recs[0]["features"]["values"]["shape"] == [10]
    assert recs[1]["features"]["values"]["keys"] is None  # an empty row has no keys
    X2, y2 = recordio.to_numpy(data, feature_dim=10)
    np.testing.assert_array_equal(X2, dense)
    np.testing.assert_array_equal(y2, y)
    X3, y3 = recordio.to_numpy(recordio.write_sparse(sp.csr_matrix(dense)), feature_dim=10)
    assert y3 is None
    np.testing.assert_array_equal(X3, dense)


def test_framing_is_padded_and_magic_split() -> None:
    payload = b"abcde"
    framed = recordio.frame(payload)
    assert len(framed) % 4 == 0
    magic, lrec = struct.unpack_from("<II", framed)
    assert magic == 0xCED7230A and lrec == 5
    tricky = b"1234" + struct.pack("<I", recordio.MAGIC) + b"5678xy"
    framed = recordio.frame(tricky)
    flags = []
    pos = 0
    while pos < len(framed):
        _, lrec = struct.unpack_from("<II", framed, pos)
        flags.append(lrec >> 29)
        length = lrec & ((1 << 29) - 1)
        pos += 8 + length + (4 - length % 4) % 4
    assert flags == [1, 3]
    assert list(recordio.unframe(framed)) == [tricky]


def test_bad_bytes_raise() -> None:
    with pytest.raises(recordio.RecordIOError, match="magic"):
        recordio.read_records(b"1,2,3\n4,5,6\n")
    with pytest.raises(recordio.RecordIOError, match="truncated"):
        recordio.read_records(recordio.write_dense(np.ones((1, 3), "float32"))[:-4] + b"")


def test_response_style_label_records() -> None:
    data = recordio.write_records(
        [
            {
                "label": {
                    "score": np.array([0.4], "float32"),
                    "predicted_label": np.array([1.0], "float32"),
                }
            }
        ]
    )
    rec = recordio.read_records(data)[0]
    assert rec["features"] == {}
    assert rec["label"]["predicted_label"]["values"].tolist() == [1.0]
    assert rec["label"]["score"]["values"][0] == pytest.approx(0.4)


def _protobuf_record_class():  # type: ignore[no-untyped-def]
    """Build aialgs.data.Record with the protobuf runtime from a hand-written descriptor."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="mllab_test_record.proto", package="aialgs.data")
    fdp.syntax = "proto2"
    for name, scalar in (
        ("Float32Tensor", F.TYPE_FLOAT),
        ("Float64Tensor", F.TYPE_DOUBLE),
        ("Int32Tensor", F.TYPE_INT32),
    ):
        m = fdp.message_type.add(name=name)
        for num, fname, ftype in (
            (1, "values", scalar),
            (2, "keys", F.TYPE_UINT64),
            (3, "shape", F.TYPE_UINT64),
        ):
            f = m.field.add(name=fname, number=num, type=ftype, label=F.LABEL_REPEATED)
            f.options.packed = True
    b = fdp.message_type.add(name="Bytes")
    b.field.add(name="value", number=1, type=F.TYPE_BYTES, label=F.LABEL_REPEATED)
    b.field.add(name="content_type", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    v = fdp.message_type.add(name="Value")
    v.oneof_decl.add(name="value")
    for num, fname, tname in (
        (2, "float32_tensor", "Float32Tensor"),
        (3, "float64_tensor", "Float64Tensor"),
        (7, "int32_tensor", "Int32Tensor"),
        (9, "bytes", "Bytes"),
    ):
        v.field.add(
            name=fname,
            number=num,
            type=F.TYPE_MESSAGE,
            type_name=f".aialgs.data.{tname}",
            label=F.LABEL_OPTIONAL,
            oneof_index=0,
        )
    r = fdp.message_type.add(name="Record")
    for num, fname, entry in ((1, "features", "FeaturesEntry"), (2, "label", "LabelEntry")):
        e = r.nested_type.add(name=entry)
        e.options.map_entry = True
        e.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        e.field.add(
            name="value",
            number=2,
            type=F.TYPE_MESSAGE,
            type_name=".aialgs.data.Value",
            label=F.LABEL_OPTIONAL,
        )
        r.field.add(
            name=fname,
            number=num,
            type=F.TYPE_MESSAGE,
            type_name=f".aialgs.data.Record.{entry}",
            label=F.LABEL_REPEATED,
        )
    for num, fname in ((3, "uid"), (4, "metadata"), (5, "configuration")):
        r.field.add(name=fname, number=num, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


def test_interop_with_protobuf_runtime_and_sdk_framing() -> None:
    pytest.importorskip("google.protobuf")
    from sagemaker.core.serializers import utils as sdk_utils

    Record = _protobuf_record_class()
    X = _rng().normal(size=(5, 4)).astype("float32")
    # Written by the protobuf runtime, framed by the SDK's own _write_recordio: we decode it.
    buf = io.BytesIO()
    for i, row in enumerate(X):
        rec = Record()
        rec.features["values"].float32_tensor.values.extend(row.tolist())
        rec.label["values"].float32_tensor.values.extend([float(i)])
        rec.uid = f"row-{i}"
        sdk_utils._write_recordio(buf, rec.SerializeToString())
    X2, y2 = recordio.to_numpy(buf.getvalue())
    np.testing.assert_array_equal(X2.astype("float32"), X)
    np.testing.assert_array_equal(y2, np.arange(5))
    assert recordio.read_records(buf.getvalue())[3]["uid"] == "row-3"
    # Sparse, Int32 and negative ints written by protobuf decode too.
    rec = Record()
    rec.features["values"].int32_tensor.values.extend([5, -3])
    rec.features["values"].int32_tensor.keys.extend([1, 7])
    rec.features["values"].int32_tensor.shape.extend([9])
    ours = recordio.read_records(recordio.frame(rec.SerializeToString()))[0]["features"]["values"]
    assert (
        ours["values"].tolist() == [5, -3]
        and ours["keys"].tolist() == [1, 7]
        and ours["shape"] == [9]
    )
    # Written by us: the SDK's reader frames it and the protobuf runtime parses it identically.
    y = np.array([0, 1, 0, 1, 1], dtype="float32")
    ours_bytes = recordio.write_sparse(sp.csr_matrix(X * (X > 0)), y)
    payloads = list(sdk_utils.read_recordio(io.BytesIO(ours_bytes)))
    assert len(payloads) == 5
    for i, payload in enumerate(payloads):
        parsed = Record()
        parsed.ParseFromString(payload)
        t = parsed.features["values"].float32_tensor
        np.testing.assert_array_equal(np.asarray(t.keys), np.flatnonzero(X[i] > 0))
        assert list(t.shape) == [4]
        assert parsed.label["values"].float32_tensor.values[0] == y[i]


def test_file_helpers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X = np.eye(3, dtype="float32")
    p = recordio.write_dense_file(tmp_path / "d.rec", X, np.array([1, 2, 3], "float32"))
    assert len(recordio.read_file(p)) == 3
    p2 = recordio.write_sparse_file(tmp_path / "s.rec", sp.csr_matrix(X))
    X2, _ = recordio.to_numpy(p2.read_bytes())
    np.testing.assert_array_equal(X2, X)
