"""Differentiable augmentation for the discriminator (DiffAugment, Zhao et al. 2020).

With little data a discriminator memorises the real images and its feedback
to the generator degrades. DiffAugment shows the discriminator every image -
real and generated, in the discriminator's and in the generator's update -
through the same random, differentiable transform, so the generator's
gradients pass through it and the generator still learns the un-augmented
distribution (augmenting only the real images would teach it to draw
augmented digits).

Policies (comma-separated, applied in this order):

* ``translation``: shift by up to 1/8 of the image size in each direction,
  zero-padded (as the reference implementation);
* ``cutout``: zero a square of half the image size at a random position
  (clipped at the border).

Every draw is a stateless function of ``seed`` and the global batch, and each
replica keeps its rows (``distribute.replica_slice``), so an example's
transform does not depend on the number of replicas.
"""
from __future__ import annotations

import tensorflow as tf

from trainer import distribute

POLICIES = ("translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ("translation", "cutout"); "" -> (); unknown names raise."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(POLICIES)} (comma-separated)")
    return names


def translate(images: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """Shift each image [B, H, W, C] by ``shifts`` [B, 2] int32 (rows, cols), zero fill."""
    h, w = images.shape[1], images.shape[2]
    r = max(h, w)
    padded = tf.pad(images, [[0, 0], [r, r], [r, r], [0, 0]])
    rows = tf.range(h)[None, :] + r - shifts[:, :1]           # [B, H]
    cols = tf.range(w)[None, :] + r - shifts[:, 1:]           # [B, W]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)       # [B, H, W + 2r, C]
    return tf.gather(out, cols, axis=2, batch_dims=1)         # [B, H, W, C]


def cutout(images: tf.Tensor, centres: tf.Tensor, size: int) -> tf.Tensor:
    """Zero a ``size`` x ``size`` square centred at ``centres`` [B, 2] int32 in each image."""
    h, w = images.shape[1], images.shape[2]
    half = size // 2
    ii = tf.range(h)[None, :, None]
    jj = tf.range(w)[None, None, :]
    cy, cx = centres[:, :1, None], centres[:, 1:, None]
    inside = ((ii >= cy - half) & (ii < cy - half + size)
              & (jj >= cx - half) & (jj < cx - half + size))
    return images * tf.cast(~inside, images.dtype)[..., None]


def diff_augment(images: tf.Tensor, policy: tuple[str, ...], seed: tf.Tensor) -> tf.Tensor:
    """``images`` [B, H, W, C] through ``policy`` with stateless draws from ``seed`` [2]."""
    if not policy:
        return images
    h, w = images.shape[1], images.shape[2]
    if h is None or w is None:
        raise ValueError("diff_augment needs static image height and width")
    local = tf.shape(images)[0]
    for i, name in enumerate(policy):
        seed_i = tf.random.experimental.stateless_fold_in(seed, i)
        # Two uniform [0, 1) draws per example: the shift, or the cutout's centre.
        u = distribute.replica_slice(
            lambda g, seed_i=seed_i: tf.random.stateless_uniform([g, 2], seed_i), local)
        if name == "translation":
            # Integer shifts in [-limit, limit], each value equally likely.
            limit = tf.constant([[h // 8, w // 8]], tf.float32)
            images = translate(images, tf.cast(tf.floor(u * (2 * limit + 1)) - limit, tf.int32))
        else:  # cutout
            centres = tf.cast(tf.floor(u * tf.constant([[h, w]], tf.float32)), tf.int32)
            images = cutout(images, centres, min(h, w) // 2)
    return images
