"""tf.Transform ``preprocessing_fn``: stored records -> float32 images in [-1, 1].

The same graph runs in the Transform component (training data) and, through
``transform_features_layer()``, inside the exported serving signatures, so
training and serving preprocessing cannot drift.

Per image role, with the record contract of :mod:`trainer.features`:

1. decode the lossless PNG (8- or 16-bit, read from the PNG header; JPEG/BMP
   at serving time are 8-bit) and check its channel count;
2. physical value = stored * value_scale + value_offset (HU for CT);
3. normalise: CT records (``modality == "CT"``) are windowed,
   ``clip((HU - (L - W/2)) / W, 0, 1)``; others are divided by 2^bits - 1;
   then mapped to [-1, 1];
4. resize to the model's size for that role (area-averaging when shrinking).

``custom_config`` (from the pipeline) is a :class:`trainer.config.TransformConfig`
as a dict: ``{"shapes": {role: [H, W, C]}, "ct_window": [level, width], "code": ...}``.
"""
from __future__ import annotations

from typing import Mapping

import tensorflow as tf

from trainer import features as F
from trainer.config import TransformConfig

DEFAULT_CT_WINDOW = F.DEFAULT_CT_WINDOW
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bit_depth(encoded: tf.Tensor) -> tf.Tensor:
    """Bit depth [B] int32 of each encoded image: PNG IHDR byte 24, else 8 (JPEG, BMP)."""
    is_png = tf.strings.substr(encoded, 0, 8) == PNG_SIGNATURE
    padded = encoded + b"\0" * 25  # so that short (invalid) strings reach the decoder's error
    depth = tf.io.decode_raw(tf.strings.substr(padded, 24, 1, unit="BYTE"), tf.uint8)
    depth = tf.cast(tf.reshape(depth, [-1]), tf.int32)
    return tf.where(is_png, depth, 8)


def decode_images(encoded: tf.Tensor, shape, role: str) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode [B] encoded images and resize them to ``shape`` = (H, W, C).

    Returns (stored values float32 [B, H, W, C], bit depths [B]). Resizing
    area-averages the stored values (a linear map, so it commutes with the
    later scale/offset). Raises InvalidArgumentError naming ``role`` when an
    image does not decode or has another channel count.
    """
    h, w, channels = (int(v) for v in shape)
    encoded = tf.reshape(encoded, [-1])
    depth = png_bit_depth(encoded)

    def decode(data, bits):
        img = tf.cond(
            bits == 16,
            lambda: tf.cast(tf.io.decode_png(data, dtype=tf.uint16), tf.float32),
            lambda: tf.cast(tf.io.decode_image(data, dtype=tf.uint8, expand_animations=False),
                            tf.float32))
        check = tf.debugging.assert_equal(
            tf.shape(img)[-1], channels,
            message=f"{role}: expected {channels} channel(s) per image")
        with tf.control_dependencies([check]):
            img = tf.image.resize(img, [h, w], method="area")
        return tf.ensure_shape(img, [h, w, channels])

    def one(args):
        # An empty string is an absent role: serving feeds only the input role
        # and the Transform layer fills the others with ''. Training data never
        # has one (the schema requires every role).
        data, bits = args
        return tf.cond(tf.strings.length(data) > 0, lambda: decode(data, bits),
                       lambda: tf.zeros([h, w, channels], tf.float32))

    images = tf.map_fn(one, (encoded, depth),
                       fn_output_signature=tf.TensorSpec([h, w, channels], tf.float32))
    return images, depth


def normalize(stored: tf.Tensor, bits: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor,
              is_ct: tf.Tensor, ct_window=DEFAULT_CT_WINDOW) -> tf.Tensor:
    """Stored values [B, H, W, C] -> [-1, 1] (windowed HU for CT rows, full range otherwise)."""
    def per_row(v):  # [B] -> [B, 1, 1, 1]
        return tf.reshape(tf.cast(v, tf.float32), [-1, 1, 1, 1])
    level, width = (float(x) for x in ct_window)
    if width <= 0:
        raise ValueError(f"ct_window width must be > 0, got {ct_window}")
    hu = stored * per_row(scale) + per_row(offset)
    ct01 = tf.clip_by_value((hu - (level - width / 2.0)) / width, 0.0, 1.0)
    full_range = per_row(tf.pow(2.0, tf.cast(bits, tf.float32)) - 1.0)
    plain01 = stored / full_range
    unit = tf.where(per_row(is_ct) > 0, ct01, plain01)
    return unit * 2.0 - 1.0


def denormalize_ct(x: tf.Tensor, ct_window=DEFAULT_CT_WINDOW) -> tf.Tensor:
    """Inverse of the CT window: [-1, 1] -> HU."""
    level, width = (float(v) for v in ct_window)
    return (x + 1.0) / 2.0 * width + (level - width / 2.0)


def _dense(x) -> tf.Tensor:
    """A raw feature as a dense [B] tensor (TFT gives [B, 1] for fixed-length features)."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x)
    return tf.reshape(x, [-1])


def transform_role(inputs: Mapping[str, tf.Tensor], role: str, shape, ct_window) -> tf.Tensor:
    h, w, c = (int(v) for v in shape)
    stored, bits = decode_images(_dense(inputs[F.key(role, F.ENCODED)]), shape, role)
    is_ct = tf.cast(_dense(inputs[F.MODALITY]) == b"CT", tf.float32)
    out = normalize(stored, bits, _dense(inputs[F.key(role, F.VALUE_OFFSET)]),
                    _dense(inputs[F.key(role, F.VALUE_SCALE)]), is_ct, ct_window)
    return tf.reshape(out, [-1, h, w, c])  # [B, H, W, C]: fully known shape for the Trainer


def preprocessing_fn(inputs, custom_config=None):
    """tf.Transform entry point (Transform component ``preprocessing_fn``)."""
    config = TransformConfig.from_dict(custom_config)
    outputs = {}
    for role, shape in config.shapes.items():
        outputs[F.transformed_key(role)] = transform_role(inputs, role, shape, config.ct_window)
    if F.LABEL in inputs:
        outputs[F.TRANSFORMED_LABEL] = tf.cast(_dense(inputs[F.LABEL]), tf.int64)
    return outputs
