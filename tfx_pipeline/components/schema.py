"""The curated input schema: what a GAN's records must look like.

ExampleValidator compares the statistics of the ingested data with this
schema, so a dataset whose images have the wrong channels or bit depth, or
are smaller than the model's input, is stopped before Transform with an
anomaly that names the feature (see ``validation_gate``).
"""
from __future__ import annotations

from typing import Mapping

from trainer import features as F

MAX_SIDE = 65535


def curated_schema(shapes: Mapping[str, tuple[int, int, int]], bit_depth: int):
    """Schema proto for records with image ``shapes`` = {role: (H, W, C)} at ``bit_depth``."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    schema = schema_pb2.Schema()

    def add(name, ftype, lo=None, hi=None):
        f = schema.feature.add(name=name, type=ftype)
        f.presence.min_fraction = 1.0
        f.presence.min_count = 1
        f.shape.dim.add(size=1)
        if lo is not None:
            f.int_domain.min, f.int_domain.max = int(lo), int(hi)
        return f

    for role, (h, w, c) in shapes.items():
        add(F.key(role, F.ENCODED), schema_pb2.BYTES)
        add(F.key(role, F.HEIGHT), schema_pb2.INT, h, MAX_SIDE)
        add(F.key(role, F.WIDTH), schema_pb2.INT, w, MAX_SIDE)
        add(F.key(role, F.CHANNELS), schema_pb2.INT, c, c)
        add(F.key(role, F.BIT_DEPTH), schema_pb2.INT, bit_depth, bit_depth)
        add(F.key(role, F.VALUE_OFFSET), schema_pb2.FLOAT)
        add(F.key(role, F.VALUE_SCALE), schema_pb2.FLOAT)
    add(F.ID, schema_pb2.BYTES)
    add(F.LABEL, schema_pb2.INT)
    add(F.MODALITY, schema_pb2.BYTES)
    return schema


def anomaly_messages(anomalies) -> list[str]:
    """'feature: description' lines of an Anomalies proto (empty when clean)."""
    out = []
    for name, info in sorted(anomalies.anomaly_info.items()):
        reasons = "; ".join(f"{r.short_description}: {r.description}" for r in info.reason) \
            or info.description or info.short_description
        out.append(f"{name}: {reasons}")
    if anomalies.HasField("dataset_anomaly_info"):
        out.append(f"(dataset): {anomalies.dataset_anomaly_info.description}")
    return out
