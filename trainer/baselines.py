"""Trivial baselines that a useful generator must beat (images in [-1, 1]).

* low-dose CT: the low-dose input itself (no denoising);
* super-resolution: :func:`bicubic_upsample` of the low-resolution input;
* inpainting: :func:`mean_fill` - every hole pixel set to the mean of the
  image's known pixels, per channel. :func:`biharmonic_fill`
  (``skimage.restoration.inpaint_biharmonic``) is a much stronger classical
  fill; the report shows it for reference, blessing uses the mean fill;
* unconditional GANs: real images from the train split (the floor: how far
  other real images are from the eval images) and :func:`uniform_noise`
  (the ceiling).
"""
from __future__ import annotations

import numpy as np


def bicubic_upsample(images, size: tuple[int, int]) -> np.ndarray:
    """[N, h, w, C] -> [N, H, W, C] with tf.image.resize bicubic, clipped to [-1, 1]."""
    import tensorflow as tf
    up = tf.image.resize(tf.convert_to_tensor(images, tf.float32), size, method="bicubic")
    return np.clip(up.numpy(), -1.0, 1.0)


def mean_fill(images, masks) -> np.ndarray:
    """Holes (mask 0) filled with the per-image, per-channel mean of the known pixels."""
    x = np.asarray(images, np.float32)
    m = np.broadcast_to(np.asarray(masks, np.float32), x.shape)
    known = m.sum(axis=(1, 2), keepdims=True)
    mean = (x * m).sum(axis=(1, 2), keepdims=True) / np.maximum(known, 1.0)  # [N, 1, 1, C]
    return m * x + (1.0 - m) * mean


def biharmonic_fill(images, masks) -> np.ndarray:
    """Holes filled by biharmonic interpolation of the known pixels (scikit-image)."""
    from skimage.restoration import inpaint_biharmonic
    x = np.asarray(images, np.float64)
    m = np.asarray(masks, np.float64)[..., 0]
    out = [inpaint_biharmonic(img, m_i < 0.5, channel_axis=-1) for img, m_i in zip(x, m)]
    return np.clip(np.stack(out).astype(np.float32), -1.0, 1.0)


def uniform_noise(count: int, shape, seed: int = 0) -> np.ndarray:
    """``count`` images [count, *shape] of i.i.d. uniform noise in [-1, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(count, *shape)).astype(np.float32)
