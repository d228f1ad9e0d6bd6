"""Records and their tf.Example form (the contract in trainer/features.py)."""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Mapping

import numpy as np

from trainer import features as F
from tfx_pipeline.ingest.decode import BadInput, Decoded, check_png_readable

# A serialized tf.Example over 2 GiB cannot be parsed (protobuf's limit);
# keep 1 MiB for the other features.
MAX_ENCODED_BYTES = 2**31 - 2**20


@dataclasses.dataclass
class Record:
    id: str                          # stable id; decides the split
    images: Mapping[str, Decoded]    # role -> decoded image
    label: int = F.NO_LABEL
    modality: str | None = None      # default: the first image's modality


def split_of(record_id: str, eval_fraction: float) -> str:
    """Deterministic split from a hash of the id (same id -> same split, always)."""
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    return "eval" if u < eval_fraction else "train"


def shard_of(record_id: str, num_shards: int) -> int:
    digest = hashlib.sha256(b"shard:" + record_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def encode_png(pixels: np.ndarray) -> bytes:
    import tensorflow as tf
    return tf.io.encode_png(pixels).numpy()


def to_example_bytes(record: Record) -> bytes:
    """Serialize ``record`` as a tf.Example (lossless PNG per role).

    Raises BadInput for an image that tf.io.decode_png could not read back
    (too large) and for a record over protobuf's 2 GiB limit, so that nothing
    is written that the pipeline cannot read.
    """
    import tensorflow as tf

    b, i, f = F.bytes_feature, F.int64_feature, F.float_feature

    feats = {}
    encoded_bytes = 0
    for role, img in record.images.items():
        h, w, c = img.pixels.shape
        check_png_readable(w, h, f"the {role} PNG would be")
        png = encode_png(img.pixels)
        encoded_bytes += len(png)
        if encoded_bytes > MAX_ENCODED_BYTES:
            raise BadInput(f"record too large: {encoded_bytes:,} bytes of PNG, over the "
                           f"{MAX_ENCODED_BYTES:,} a tf.Example can hold (protobuf's 2 GiB limit)")
        feats[F.key(role, F.ENCODED)] = b(png)
        feats[F.key(role, F.HEIGHT)] = i(h)
        feats[F.key(role, F.WIDTH)] = i(w)
        feats[F.key(role, F.CHANNELS)] = i(c)
        feats[F.key(role, F.BIT_DEPTH)] = i(img.bit_depth)
        feats[F.key(role, F.VALUE_OFFSET)] = f(img.value_offset)
        feats[F.key(role, F.VALUE_SCALE)] = f(img.value_scale)
    modality = record.modality or next(iter(record.images.values())).modality
    if modality not in F.MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; known: {F.MODALITIES}")
    feats[F.ID] = b(record.id.encode("utf-8"))
    feats[F.LABEL] = i(record.label)
    feats[F.MODALITY] = b(modality.encode("utf-8"))
    example = tf.train.Example(features=tf.train.Features(feature=feats))
    return example.SerializeToString(deterministic=True)  # stable map order -> stable bytes


def _example_id(fmap) -> str:
    feature = fmap.get(F.ID)
    if feature is None or not feature.bytes_list.value:
        raise ValueError(f"the tf.train.Example has no {F.ID!r} feature; records written by "
                         "to_example_bytes always carry one")
    return feature.bytes_list.value[0].decode("utf-8")


def example_id(data: bytes) -> str:
    """The ``id`` of a serialized tf.train.Example from :func:`to_example_bytes`, pixels unread."""
    import tensorflow as tf
    return _example_id(tf.train.Example.FromString(data).features.feature)


def parse_example_bytes(data: bytes) -> dict:
    """Inverse of :func:`to_example_bytes` for tests and tools: role -> pixels, plus metadata."""
    import tensorflow as tf
    ex = tf.train.Example.FromString(data)
    fmap = ex.features.feature
    out: dict = {"id": _example_id(fmap),
                 "label": fmap[F.LABEL].int64_list.value[0],
                 "modality": fmap[F.MODALITY].bytes_list.value[0].decode(), "images": {}}
    for role in (*F.UNPAIRED_ROLES, *F.PAIRED_ROLES):
        k = F.key(role, F.ENCODED)
        if k not in fmap:
            continue
        depth = fmap[F.key(role, F.BIT_DEPTH)].int64_list.value[0]
        dtype = tf.uint16 if depth == 16 else tf.uint8
        pixels = tf.io.decode_png(fmap[k].bytes_list.value[0], dtype=dtype).numpy()
        out["images"][role] = Decoded(
            pixels,
            value_offset=fmap[F.key(role, F.VALUE_OFFSET)].float_list.value[0],
            value_scale=fmap[F.key(role, F.VALUE_SCALE)].float_list.value[0],
            modality=out["modality"])
    return out
