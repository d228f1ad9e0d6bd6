"""TensorProto <-> numpy, with the checks TF Serving applies when it parses a request.

Numeric tensors travel packed in ``tensor_content`` (raw little-endian bytes);
string tensors in ``string_val`` (``TensorProto`` has no packed form for
strings). Responses are decoded with ``tf.make_ndarray``.
"""
from __future__ import annotations

import numpy as np

from serving.errors import invalid

# A request tensor above this many elements is refused before any allocation (the server
# also checks each tensor's shape against the signature and its limits before decoding).
MAX_ELEMENTS = 1 << 31
# Highest rank accepted in a request (TensorShape's own limit is 254; no model here needs 32).
MAX_RANK = 32
# DataType enums a request may carry: the ones with a numpy value type. DT_RESOURCE,
# DT_VARIANT, the *_REF types and newer or unknown enums are refused with INVALID_ARGUMENT.
REQUEST_DTYPES = frozenset({
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10,  # float, double, int32, uint8, int16, int8, string,
                                    # complex64, int64, bool
    11, 12, 13, 14, 15, 16, 17, 18, 19,  # qint8, quint8, qint32, bfloat16, qint16, quint16,
                                         # uint16, complex128, half
    22, 23,  # uint32, uint64
})
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


def proto_shape(name: str, proto, max_elements: int = MAX_ELEMENTS) -> tuple[int, ...]:
    """A request TensorProto's dtype and shape, checked without decoding any value.

    Raises INVALID_ARGUMENT ("tensor parsing error: <name>", as TF Serving) for an
    unknown rank, a negative dimension, a rank above ``MAX_RANK``, more than
    ``max_elements`` elements or a dtype that is not a request value type.
    """
    dims = tuple(d.size for d in proto.tensor_shape.dim)
    if proto.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        raise invalid(f"tensor parsing error: {name} (shape {list(dims)})")
    if len(dims) > MAX_RANK:
        raise invalid(f"tensor parsing error: {name} (rank {len(dims)} is above the maximum "
                      f"rank {MAX_RANK})")
    n = 1
    for d in dims:
        n *= d
        if n > max_elements:
            raise invalid(f"tensor parsing error: {name} (shape {list(dims)} has more than "
                          f"{max_elements} elements)")
    if proto.dtype not in REQUEST_DTYPES:
        raise invalid(f"tensor parsing error: {name} (dtype {_enum_name(proto.dtype)} is not "
                      f"a request value type)")
    return dims


def _enum_name(enum: int) -> str:
    from tensorflow.core.framework import types_pb2

    try:
        return types_pb2.DataType.Name(enum)
    except ValueError:
        return str(enum)


def from_tensor_proto(name: str, proto, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """Request TensorProto -> numpy, failing like TF Serving ("tensor parsing error: <name>").

    Shape, dtype and ``tensor_content`` length are checked before anything is allocated.
    """
    from tensorflow.core.framework import types_pb2

    dims = list(proto_shape(name, proto, max_elements))
    n = int(np.prod(dims, dtype=object)) if dims else 1
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
