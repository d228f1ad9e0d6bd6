"""TensorProto <-> numpy, with the checks TF Serving applies when it parses a request.

Numeric tensors travel packed in ``tensor_content`` (raw little-endian bytes);
string tensors in ``string_val`` (``TensorProto`` has no packed form for
strings). Responses are decoded with ``tf.make_ndarray``.
"""
from __future__ import annotations

import numpy as np

from serving.errors import invalid

# A request tensor above this many elements is refused before any allocation.
MAX_ELEMENTS = 1 << 31
# Types whose numpy view is not a plain reinterpretation of tensor_content (bfloat16, quantized,
# complex, resources, variants): left to tf.make_ndarray.
_MAKE_NDARRAY_ONLY = frozenset({  # tensorflow.DataType enum values
    14,               # DT_BFLOAT16
    8, 18,            # DT_COMPLEX64, DT_COMPLEX128
    11, 12, 13, 15, 16,  # DT_QINT8, DT_QUINT8, DT_QINT32, DT_QINT16, DT_QUINT16
    20, 21,           # DT_RESOURCE, DT_VARIANT
})


def _tf():
    import tensorflow as tf
    return tf


def dtype_enum(array: np.ndarray) -> int:
    """TF ``DataType`` enum for a numpy array (object / bytes arrays are DT_STRING)."""
    from tensorflow.core.framework import types_pb2

    if array.dtype.kind in ("O", "S", "U"):
        return types_pb2.DT_STRING
    return _tf().as_dtype(array.dtype).as_datatype_enum


def dtype_name(enum: int) -> str:
    """TF's own type name (``DataTypeString``): float, double, int64, string, ..."""
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(enum)[len("DT_"):].lower()


def numpy_dtype(enum: int):
    from tensorflow.core.framework import types_pb2

    if enum == types_pb2.DT_STRING:
        return np.dtype(object)
    return np.dtype(_tf().dtypes.as_dtype(enum).as_numpy_dtype)


def to_tensor_proto(value) -> "TensorProto":  # noqa: F821
    """numpy array -> TensorProto: numeric data packed into ``tensor_content``."""
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    a = np.asarray(value)
    proto = tensor_pb2.TensorProto(dtype=dtype_enum(a), tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in a.shape]))
    if a.dtype.kind in ("O", "S", "U"):
        proto.string_val.extend(
            v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in a.reshape(-1))
    else:
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        proto.tensor_content = np.ascontiguousarray(a).tobytes()
    return proto


def from_tensor_proto(name: str, proto, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """Request TensorProto -> numpy, failing like TF Serving ("tensor parsing error: <name>")."""
    from tensorflow.core.framework import types_pb2

    dims = [d.size for d in proto.tensor_shape.dim]
    err = invalid(f"tensor parsing error: {name}")
    if proto.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        raise err
    n = 1
    for d in dims:
        n *= d
        if n > max_elements:
            raise invalid(f"tensor parsing error: {name} (shape {dims} has more than "
                          f"{max_elements} elements)")
    if proto.dtype in (types_pb2.DT_INVALID,) or proto.dtype >= 100:
        raise err
    if proto.dtype == types_pb2.DT_STRING:
        if len(proto.string_val) != n:
            raise invalid(f"tensor parsing error: {name} ({len(proto.string_val)} string values "
                          f"for shape {dims})")
    elif proto.tensor_content:
        itemsize = numpy_dtype(proto.dtype).itemsize
        if len(proto.tensor_content) != n * itemsize:
            raise invalid(f"tensor parsing error: {name} (tensor_content has "
                          f"{len(proto.tensor_content)} bytes, shape {dims} needs {n * itemsize})")
        if proto.dtype not in _MAKE_NDARRAY_ONLY:  # fast path: a copy of the packed bytes
            return np.frombuffer(proto.tensor_content, dtype=numpy_dtype(proto.dtype)
                                 ).reshape(dims).copy()
    try:
        return _tf().make_ndarray(proto)
    except Exception as e:  # noqa: BLE001 - any malformed proto is the client's error
        raise invalid(f"tensor parsing error: {name} ({e})") from None


def decode(proto) -> np.ndarray:
    """Response TensorProto -> numpy (``tf.make_ndarray``)."""
    return _tf().make_ndarray(proto)
