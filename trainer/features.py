"""The tf.Example contract and every name that several packages share.

Nothing here imports TensorFlow: ingestion, the serving config, the Kubernetes
tests and the CLI read these names without paying for a TF import.

Stored record (written by ``tfxgan ingest`` / ``tfxgan demo-data``)
--------------------------------------------------------------------
Each record holds one or two *image roles*. Unpaired datasets (digits,
photographs) have the single role ``image``; paired datasets (low-dose ->
normal-dose CT, LR -> HR) have ``input`` and ``target``. For every role R:

=====================  =======  ==============================================
feature                type     meaning
=====================  =======  ==============================================
``R_encoded``          bytes    lossless PNG, 8- or 16-bit, 1 or 3 channels
``R_height``           int64    rows of the stored image
``R_width``            int64    columns of the stored image
``R_channels``         int64    1 (grayscale) or 3 (RGB)
``R_bit_depth``        int64    8 or 16
``R_value_offset``     float    physical value = stored * R_value_scale
``R_value_scale``      float        + R_value_offset (HU for CT; 0/1 else)
=====================  =======  ==============================================

plus, once per record:

=================  =======  ===================================================
``id``             bytes    stable id (relative source path, or dataset/index);
                            the train/eval split is a hash of it
``label``          int64    class label, ``-1`` when unknown
``modality``       bytes    ``CT``, ``MR``, ``photo``, ``digit``, ``other``
=================  =======  ===================================================
"""
from __future__ import annotations

# ---------------------------------------------------------------- image roles
IMAGE = "image"      # unpaired datasets
INPUT = "input"      # paired: the degraded side (low-dose CT, low resolution)
TARGET = "target"    # paired: the clean side (normal-dose CT, high resolution)
UNPAIRED_ROLES = (IMAGE,)
PAIRED_ROLES = (INPUT, TARGET)

# ------------------------------------------------------- per-role feature keys
ENCODED = "encoded"
HEIGHT = "height"
WIDTH = "width"
CHANNELS = "channels"
BIT_DEPTH = "bit_depth"
VALUE_OFFSET = "value_offset"
VALUE_SCALE = "value_scale"
ROLE_INT_FIELDS = (HEIGHT, WIDTH, CHANNELS, BIT_DEPTH)
ROLE_FLOAT_FIELDS = (VALUE_OFFSET, VALUE_SCALE)

# --------------------------------------------------------- per-record features
ID = "id"
LABEL = "label"
MODALITY = "modality"
NO_LABEL = -1
MODALITIES = ("CT", "MR", "photo", "digit", "other")

# CT values are stored as uint16 = HU + 32768 so the whole int16 range is kept
# losslessly; value_offset = -32768 undoes it.
CT_STORAGE_OFFSET = -32768.0
# The CT window the Transform maps to [-1, 1] unless a run sets another:
# level, width in HU, air (-1000) .. bone (+1000).
DEFAULT_CT_WINDOW = (0.0, 2000.0)


def key(role: str, field: str) -> str:
    """Feature key of ``field`` for image ``role``, e.g. ``key('input', 'encoded')``."""
    return f"{role}_{field}"


def role_keys(role: str) -> list[str]:
    return [key(role, f) for f in (ENCODED, *ROLE_INT_FIELDS, *ROLE_FLOAT_FIELDS)]


# ------------------------------------------------------------ dataset layout
# ImportExampleGen reads <root>/Span-{SPAN}/{split}/*.tfrecord
SPLITS = ("train", "eval")
SPAN_DIR = "Span-{span}"
SHARD_PATTERN = "data-{index:05d}-of-{count:05d}.tfrecord"
SPAN_GLOB = "Span-{SPAN}"

# ---------------------------------------------------- Transform output features
# The preprocessing_fn emits, per role present, a float32 tensor in [-1, 1] of
# shape [B, H, W, C] under the role's name, plus the label when present.
TRANSFORMED_LABEL = "label"


def transformed_key(role: str) -> str:
    return role


# ------------------------------------------------------------------ serving
SERVING_SIGNATURE = "serving_default"        # raw client data (bytes / seeds)
EXAMPLE_SIGNATURE = "serving_tf_example"     # serialized tf.Example
PREDICT_METHOD = "tensorflow/serving/predict"
# Signature inputs
IN_IMAGES = "images"      # [B] string: encoded PNG/JPEG
IN_MASKS = "masks"        # [B] string: encoded PNG mask (inpainting), 255 = known
IN_SEEDS = "seeds"        # [B] int64: one generated image per seed (unconditional)
IN_EXAMPLES = "examples"  # [B] string: serialized tf.Example
# Signature outputs
OUT_GENERATED = "generated"   # [B, H, W, C] float32 in [-1, 1]
OUT_PIXELS = "pixels"         # [B, H, W, C] uint8 / uint16 in the input's range
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"


# ---------------------------------------------------- tf.train.Feature builders
# Shared by ingestion (tfx_pipeline/ingest/records.py) and serving's DICOM path
# (serving/dicom_series.py), which must write byte-identical records.
def bytes_feature(value: bytes):
    import tensorflow as tf
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def int64_feature(value: int):
    import tensorflow as tf
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def float_feature(value: float):
    import tensorflow as tf
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
