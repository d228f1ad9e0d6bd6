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


def _parse(policy: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known)} (comma-separated)")
    return names


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ("translation", "cutout"); "" -> (); unknown names raise."""
    return _parse(policy, POLICIES, "DiffAugment policy")


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


# ------------------------------------------------------------------ paired data
# Augmentation of the training pairs themselves (not DiffAugment): the same random
# transform on the input and its target, so the pair stays a valid example. EDSR and
# most SR work train on the eight flips/rotations of each patch.
PAIR_POLICIES = ("dihedral", "channels")
_CHANNEL_ORDERS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def parse_pair_policy(policy: str) -> tuple[str, ...]:
    """``"dihedral,channels"`` -> ("dihedral", "channels"); "" -> (); unknown names raise."""
    return _parse(policy, PAIR_POLICIES, "pair augmentation")


ORIENTATIONS = 8   # k = 0..7: k % 4 quarter turns, then a left-right flip when k >= 4


def require_square(tensors, what: str) -> None:
    """Raise unless every tensor is [B, S, S, C] with S static: ``what`` turns them."""
    for x in tensors:
        if x.shape.rank != 4 or x.shape[1] is None or x.shape[1] != x.shape[2]:
            raise ValueError(f"{what} needs square images [B, S, S, C] of static size, "
                             f"received shape {x.shape}")


def orient(images: tf.Tensor, k: int) -> tf.Tensor:
    """Square ``images`` [B, S, S, C] all in orientation ``k`` (0..7)."""
    out = tf.image.rot90(images, k % 4)
    return tf.reverse(out, axis=[2]) if k >= 4 else out


def unorient(images: tf.Tensor, k: int) -> tf.Tensor:
    """The inverse of :func:`orient`: ``unorient(orient(x, k), k) == x``."""
    out = tf.reverse(images, axis=[2]) if k >= 4 else images
    return tf.image.rot90(out, (4 - k % 4) % 4)


def dihedral(images: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    """Square ``images`` [B, S, S, C] each in its own orientation, ``k`` [B] in 0..7
    (:func:`orient`)."""
    variants = [orient(images, q) for q in range(ORIENTATIONS)]
    stacked = tf.stack(variants, axis=1)                                   # [B, 8, S, S, C]
    return tf.gather(stacked, k, axis=1, batch_dims=1)


def permute_channels(images: tf.Tensor, order: tf.Tensor) -> tf.Tensor:
    """RGB ``images`` [B, H, W, 3] with their channels in one of the 6 orders, ``order`` [B]."""
    index = tf.gather(tf.constant(_CHANNEL_ORDERS, tf.int32), order)     # [B, 3]
    return tf.gather(images, index, axis=3, batch_dims=1)


def pair_augment(images: list, policy: tuple[str, ...], seed: tf.Tensor) -> list:
    """The same per-example transform on every tensor of ``images`` ([B, S, S, C] each, any
    S): ``dihedral`` flips/rotates (square images), ``channels`` reorders RGB (C = 3; a
    no-op otherwise). Stateless draws from ``seed`` [2], a replica's rows of the global
    batch's draw."""
    if not policy:
        return list(images)
    local = tf.shape(images[0])[0]
    for i, name in enumerate(policy):
        seed_i = tf.random.experimental.stateless_fold_in(seed, i)
        if name == "dihedral":
            require_square(images, "dihedral augmentation")
            k = distribute.replica_slice(lambda g, s=seed_i: tf.random.stateless_uniform(
                [g], s, maxval=ORIENTATIONS, dtype=tf.int32), local)
            images = [dihedral(x, k) for x in images]
        elif all(x.shape[-1] == 3 for x in images):   # channels
            order = distribute.replica_slice(lambda g, s=seed_i: tf.random.stateless_uniform(
                [g], s, maxval=len(_CHANNEL_ORDERS), dtype=tf.int32), local)
            images = [permute_channels(x, order) for x in images]
    return images
