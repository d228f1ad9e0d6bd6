"""Inpainting masks (1 = known pixel, 0 = hole), drawn from stateless seeds.

Two kinds, as in seed 002: ``"rectangle"`` (axis-aligned boxes) and
``"irregular"`` (thick polyline strokes). Each image gets between 1 and
``max_masks`` shapes, each at most ``max_size_ratio`` of the image side;
strokes are 1 to ``max_thickness`` pixels thick.

Drawing is split in two so that training under a distribution strategy stays
replica-independent: :func:`draw_mask_params` draws the shapes for the whole
global batch (small tensors), each replica keeps its rows, and
:func:`rasterize_masks` draws the pixels. :func:`random_masks` does both;
:func:`fixed_masks` is the evaluation set (fixed seed).
"""
from __future__ import annotations

import tensorflow as tf

MASK_TYPES = ("irregular", "rectangle")
_VERTICES = 4  # points per stroke (3 segments)


def validate_mask_args(mask_type: str, max_masks: int, max_size_ratio: float,
                       max_thickness: int) -> None:
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, received {mask_type!r}")
    if max_masks < 1:
        raise ValueError(f"max_masks must be >= 1, received {max_masks}")
    if not 0.0 < max_size_ratio <= 1.0:
        raise ValueError(f"max_size_ratio must be in (0, 1], received {max_size_ratio}")
    if max_thickness < 1:
        raise ValueError(f"max_thickness must be >= 1, received {max_thickness}")


def draw_mask_params(batch_size, seed, max_masks: int = 3, max_size_ratio: float = 0.3,
                     max_thickness: int = 20) -> dict:
    """Random shape parameters in units of the image side, for ``batch_size`` images.

    Returns a dict of float32 tensors with first dimension ``batch_size``:
    ``active`` [B, K], ``start`` [B, K, 2], ``steps`` [B, K, V-1, 2] (stroke
    segments or, for rectangles, the first row is the half-size),
    ``thickness`` [B, K] (pixels).
    """
    k = max_masks
    seeds = tf.random.experimental.stateless_split(tf.convert_to_tensor(seed), 5)
    count = tf.random.stateless_uniform([batch_size, 1], seeds[0], minval=1, maxval=k + 1,
                                        dtype=tf.int32)                              # [B, 1]
    active = tf.cast(tf.range(k)[None, :] < count, tf.float32)                       # [B, K]
    start = tf.random.stateless_uniform([batch_size, k, 2], seeds[1])                # [B, K, 2]
    angle = tf.random.stateless_uniform([batch_size, k, _VERTICES - 1], seeds[2],
                                        maxval=6.283185307)
    length = tf.random.stateless_uniform([batch_size, k, _VERTICES - 1], seeds[3],
                                         minval=0.1, maxval=1.0) * max_size_ratio / (_VERTICES - 1)
    steps = tf.stack([tf.sin(angle) * length, tf.cos(angle) * length], axis=-1)      # [B, K, V-1, 2]
    thickness = tf.random.stateless_uniform([batch_size, k], seeds[4], minval=1.0,
                                            maxval=float(max_thickness) + 1.0)
    return {"active": active, "start": start, "steps": steps, "thickness": thickness}


def _segment_distance(points, p, q):
    """Distance of pixel centres ``points`` [1, H, W, 2] to segments p→q [B, 1, 1, 2]: [B, H, W]."""
    d = q - p
    t = tf.reduce_sum((points - p) * d, -1, keepdims=True) / tf.maximum(
        tf.reduce_sum(d * d, -1, keepdims=True), 1e-12)
    closest = p + tf.clip_by_value(t, 0.0, 1.0) * d
    return tf.norm(points - closest, axis=-1)


def rasterize_masks(params: dict, height: int, width: int, mask_type: str = "irregular",
                    max_size_ratio: float = 0.3) -> tf.Tensor:
    """Masks [B, H, W, 1] float32 (1 known, 0 hole) from :func:`draw_mask_params`."""
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, received {mask_type!r}")
    side = tf.constant([float(height), float(width)])
    ys = (tf.range(height, dtype=tf.float32) + 0.5)
    xs = (tf.range(width, dtype=tf.float32) + 0.5)
    grid = tf.stack(tf.meshgrid(ys, xs, indexing="ij"), axis=-1)[None]          # [1, H, W, 2]
    batch = tf.shape(params["active"])[0]
    hole = tf.zeros([batch, height, width], tf.bool)
    k = params["active"].shape[1]
    for s in range(k):
        active = params["active"][:, s, None, None] > 0.5                        # [B, 1, 1]
        start = params["start"][:, s] * side                                      # [B, 2] pixels
        if mask_type == "rectangle":
            half = tf.abs(params["steps"][:, s, 0]) * side + 1.0                  # [B, 2]
            half = tf.minimum(half, max_size_ratio * side / 2.0 + 1.0)
            lo = (start - half)[:, None, None, :]
            hi = (start + half)[:, None, None, :]
            inside = tf.reduce_all((grid >= lo) & (grid < hi), axis=-1)            # [B, H, W]
        else:
            radius = params["thickness"][:, s, None, None] / 2.0                  # [B, 1, 1]
            inside = tf.zeros([batch, height, width], tf.bool)
            p = start
            for v in range(params["steps"].shape[2]):
                q = p + params["steps"][:, s, v] * side
                dist = _segment_distance(grid, p[:, None, None, :], q[:, None, None, :])
                inside = inside | (dist <= radius)
                p = q
        hole = hole | (inside & active)
    return tf.cast(~hole, tf.float32)[..., None]                                   # [B, H, W, 1]


def random_masks(batch_size: int, height: int, width: int, seed, mask_type: str = "irregular",
                 max_masks: int = 3, max_size_ratio: float = 0.3,
                 max_thickness: int = 20) -> tf.Tensor:
    """``batch_size`` masks [B, H, W, 1] float32 from the stateless ``seed`` [2]."""
    validate_mask_args(mask_type, max_masks, max_size_ratio, max_thickness)
    params = draw_mask_params(batch_size, seed, max_masks, max_size_ratio, max_thickness)
    return rasterize_masks(params, height, width, mask_type, max_size_ratio)


def fixed_masks(count: int, size: int, seed: int = 0, **kwargs) -> tf.Tensor:
    """The evaluation masks: ``count`` square masks [N, size, size, 1], the same
    on every call and machine for a given ``seed`` and arguments."""
    return random_masks(count, size, size, seed=tf.constant([seed, 0], tf.int32), **kwargs)
