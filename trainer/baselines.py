"""Baselines that a useful generator must beat (images in [-1, 1]).

The gate (:func:`trainer.blessing.decide`) compares a candidate with the
*strongest* baseline of its task - the simple method a user would otherwise
use - not only with the trivial one:

* CT denoising (same-size paired CT records): the low-dose input itself, and
  :func:`nlm_denoise` - scikit-image non-local means (``fast_mode``, noise
  sigma from :func:`estimate_sigma`, the wavelet estimator of scikit-image's
  ``estimate_sigma``) with its parameters chosen on a few *train* pairs by
  :func:`tune_nlm`;
* super-resolution: :func:`bicubic_upsample` and :func:`lanczos_upsample`
  of the low-resolution input;
* inpainting: :func:`biharmonic_fill` (``skimage.restoration.
  inpaint_biharmonic``); :func:`mean_fill` - every hole pixel set to the
  mean of the image's known pixels - is shown for reference;
* unconditional GANs: real images from the train split (the floor: how far
  other real images are from the eval images) and :func:`uniform_noise`
  (the ceiling).
"""
from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np

from trainer import metrics as M

# The non-local-means grid searched on train pairs: h = multiplier x estimated sigma.
NLM_H_MULTIPLIERS = (0.6, 0.8, 1.0, 1.2, 1.5, 2.0)
NLM_PATCH_SIZES = (5, 7)
NLM_PATCH_DISTANCES = (6,)


def bicubic_upsample(images, size: tuple[int, int]) -> np.ndarray:
    """[N, h, w, C] -> [N, H, W, C] with tf.image.resize bicubic, clipped to [-1, 1]."""
    return _resize(images, size, "bicubic")


def lanczos_upsample(images, size: tuple[int, int]) -> np.ndarray:
    """[N, h, w, C] -> [N, H, W, C] with tf.image.resize lanczos3, clipped to [-1, 1]."""
    return _resize(images, size, "lanczos3")


def _resize(images, size, method) -> np.ndarray:
    import tensorflow as tf
    up = tf.image.resize(tf.convert_to_tensor(images, tf.float32), size, method=method)
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


# Daubechies-2 high-pass decomposition filter (PyWavelets' ``pywt.Wavelet("db2").dec_hi``).
DB2_DEC_HI = np.array([-0.48296291314453416, 0.836516303737469, -0.22414386804185735,
                       -0.12940952255092145])


def estimate_sigma(image) -> float:
    """Gaussian noise sigma of one [H, W, C] image, averaged over channels: Donoho &
    Johnstone's robust wavelet estimator ``median(|HH|) / 0.6745`` on the finest
    diagonal db2 detail coefficients - what ``skimage.restoration.estimate_sigma``
    computes, here with SciPy (scikit-image's version needs PyWavelets, which is
    not a dependency of this project). Boundaries use half-sample symmetric
    extension, as PyWavelets' default mode."""
    from scipy.ndimage import convolve1d
    x = np.asarray(image, np.float64)
    if x.ndim != 3:
        raise ValueError(f"estimate_sigma expects one [H, W, C] image, received shape {x.shape}")
    sigmas = []
    for c in range(x.shape[-1]):
        hh = convolve1d(convolve1d(x[..., c], DB2_DEC_HI, axis=0, mode="reflect"),
                        DB2_DEC_HI, axis=1, mode="reflect")[1::2, 1::2]      # [H/2, W/2]
        sigmas.append(np.median(np.abs(hh)) / 0.6744897501960817)
    return float(np.mean(sigmas))


@dataclasses.dataclass(frozen=True)
class NlmParams:
    """Parameters of :func:`nlm_denoise` (scikit-image ``denoise_nl_means``)."""
    h_multiplier: float = 0.8   # filter strength h = h_multiplier x estimated noise sigma
    patch_size: int = 5
    patch_distance: int = 6

    def describe(self) -> str:
        return (f"h = {self.h_multiplier:g} x estimated sigma, patch {self.patch_size}, "
                f"distance {self.patch_distance}")


def nlm_denoise(images, params: NlmParams = NlmParams()) -> np.ndarray:
    """Non-local means per image (``fast_mode``, sigma from ``estimate_sigma``), in [-1, 1]."""
    from skimage.restoration import denoise_nl_means
    x = np.asarray(images, np.float64)
    if x.ndim != 4:
        raise ValueError(f"nlm_denoise expects [N, H, W, C] images, received shape {x.shape}")
    out = []
    for img in x:
        sigma = estimate_sigma(img)
        out.append(denoise_nl_means(img, h=params.h_multiplier * sigma, sigma=sigma,
                                    fast_mode=True, patch_size=params.patch_size,
                                    patch_distance=params.patch_distance,
                                    channel_axis=-1).reshape(img.shape))
    return np.clip(np.stack(out).astype(np.float32), -1.0, 1.0)


def tune_nlm(inputs, targets) -> tuple[NlmParams, dict]:
    """The :data:`NLM_H_MULTIPLIERS` x :data:`NLM_PATCH_SIZES` x
    :data:`NLM_PATCH_DISTANCES` grid point with the best mean PSNR on these
    (train) pairs (PSNR with range 2, as :func:`trainer.metrics.psnr`); returns (params, {"grid": [...], "pairs": n, "seconds": s})."""
    x = np.asarray(inputs, np.float32)
    y = np.asarray(targets, np.float32)
    if x.shape != y.shape or x.ndim != 4 or len(x) < 1:
        raise ValueError(f"tune_nlm expects inputs and targets of one [N, H, W, C] shape, "
                         f"received {x.shape} and {y.shape}")
    start = time.monotonic()
    grid = []
    for h, size, dist in itertools.product(NLM_H_MULTIPLIERS, NLM_PATCH_SIZES,
                                           NLM_PATCH_DISTANCES):
        params = NlmParams(h, size, dist)
        mse = np.mean((nlm_denoise(x, params) - y) ** 2, axis=(1, 2, 3))          # [N]
        score = float(np.mean(np.minimum(10.0 * np.log10(4.0 / np.maximum(mse, 1e-30)),
                                          M.PSNR_CAP_DB)))
        grid.append({**dataclasses.asdict(params), "train_psnr": score})
    best = max(grid, key=lambda g: g["train_psnr"])
    params = NlmParams(best["h_multiplier"], best["patch_size"], best["patch_distance"])
    return params, {"grid": grid, "pairs": int(len(x)),
                    "seconds": round(time.monotonic() - start, 2)}


def uniform_noise(count: int, shape, seed: int = 0) -> np.ndarray:
    """``count`` images [count, *shape] of i.i.d. uniform noise in [-1, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(count, *shape)).astype(np.float32)
