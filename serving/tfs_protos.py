"""TF Serving config messages that the ``tensorflow-serving-api`` wheel does not ship.

The wheel carries ``tensorflow_serving.config.model_server_config_pb2`` (used
directly by :mod:`serving.config`) but not ``monitoring_config_pb2`` nor
``session_bundle_config_pb2``. ``tensorflow_model_server`` reads
``--monitoring_config_file`` as a ``tensorflow.serving.MonitoringConfig`` and
``--batching_parameters_file`` as a ``tensorflow.serving.BatchingParameters``
text proto, so this module declares those messages with the same full names,
field names, numbers and types as TF Serving's sources:

* ``tensorflow_serving/config/monitoring_config.proto``
* ``tensorflow_serving/servables/tensorflow/session_bundle_config.proto``
  (``BatchingParameters`` fields 1-7; later releases only append fields)

They are built from descriptors at run time (no ``protoc`` needed) in a private
descriptor pool, so they can never clash with generated modules of the same
names. ``text_format`` parsing with these classes rejects any field TF Serving
does not know, which is what the config tests rely on.
"""
from __future__ import annotations

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, wrappers_pb2

try:  # protobuf >= 4.21
    from google.protobuf.message_factory import GetMessageClass as _message_class
except ImportError:  # protobuf 3.20 (the pinned set)
    from google.protobuf import message_factory as _mf

    _FACTORY = _mf.MessageFactory()

    def _message_class(descriptor):
        return _FACTORY.GetPrototype(descriptor)

_FD = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow.serving"


def _field(msg, name, number, ftype, type_name=None, repeated=False):
    f = msg.field.add(name=name, number=number, type=ftype,
                      label=_FD.LABEL_REPEATED if repeated else _FD.LABEL_OPTIONAL)
    if type_name:
        f.type_name = type_name


@functools.lru_cache(maxsize=None)
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)

    monitoring = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/config/monitoring_config.proto",
        package=_PACKAGE, syntax="proto3")
    prom = monitoring.message_type.add(name="PrometheusConfig")
    _field(prom, "enable", 1, _FD.TYPE_BOOL)
    _field(prom, "path", 2, _FD.TYPE_STRING)
    mon = monitoring.message_type.add(name="MonitoringConfig")
    _field(mon, "prometheus_config", 1, _FD.TYPE_MESSAGE, f".{_PACKAGE}.PrometheusConfig")
    pool.Add(monitoring)

    batching = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package=_PACKAGE, syntax="proto3", dependency=[wrappers.name])
    bp = batching.message_type.add(name="BatchingParameters")
    i64, s = ".google.protobuf.Int64Value", ".google.protobuf.StringValue"
    _field(bp, "max_batch_size", 1, _FD.TYPE_MESSAGE, i64)
    _field(bp, "batch_timeout_micros", 2, _FD.TYPE_MESSAGE, i64)
    _field(bp, "max_enqueued_batches", 3, _FD.TYPE_MESSAGE, i64)
    _field(bp, "num_batch_threads", 4, _FD.TYPE_MESSAGE, i64)
    _field(bp, "thread_pool_name", 5, _FD.TYPE_MESSAGE, s)
    _field(bp, "allowed_batch_sizes", 6, _FD.TYPE_INT64, repeated=True)
    _field(bp, "pad_variable_length_inputs", 7, _FD.TYPE_BOOL)
    pool.Add(batching)
    return pool


def _cls(name: str):
    return _message_class(_pool().FindMessageTypeByName(f"{_PACKAGE}.{name}"))


def MonitoringConfig(**kwargs):  # noqa: N802 - mirrors the generated class name
    return _cls("MonitoringConfig")(**kwargs)


def PrometheusConfig(**kwargs):  # noqa: N802
    return _cls("PrometheusConfig")(**kwargs)


def BatchingParameters(**kwargs):  # noqa: N802
    return _cls("BatchingParameters")(**kwargs)
