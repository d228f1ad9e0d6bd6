"""Image-quality metrics of the GAN evaluator.

Images are float32 ``[N, H, W, C]`` in **[-1, 1]** (the Transform output and
the generators' range) unless a function says otherwise.

Paired metrics (TensorFlow's ``tf.image`` implementations, averaged over the
batch):

* :func:`psnr` - ``10 log10(range^2 / MSE)`` per image, range 2, at most
  ``PSNR_CAP_DB`` (58.9 dB, the PSNR of 8-bit rounding noise): an exact
  reconstruction scores that rather than infinity, so means over images stay
  finite and comparable.
* :func:`ssim` - Wang et al. 2004, 11x11 Gaussian window (sigma 1.5),
  K1 0.01, K2 0.03, "valid" window positions, on images mapped to [0, 1]
  (SSIM's luminance term is not offset-invariant; [0, 1] is the convention).
* :func:`ms_ssim` - Wang et al. 2003 multi-scale SSIM. ``tf.image``'s five
  scales need a side of at least 161 px; smaller images use the largest
  number of scales (>= 2) whose coarsest level is still >= 11 px, with the
  first power factors renormalised to sum 1 (the scale count is returned).
* :func:`masked_psnr` / :func:`masked_l1` - over the pixels where a mask is
  1 (the holes of an inpainting mask, the in-window pixels of a CT slice).

Distribution metrics (NumPy/SciPy, on feature matrices ``[N, D]``):

* :func:`frechet_distance` - Heusel et al. 2017 (FID without Inception when
  another feature extractor is used):
  ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``.
* :func:`kernel_distance` - KID, Binkowski et al. 2018: the unbiased MMD^2
  estimator with the cubic polynomial kernel ``k(x, y) = (x.y / D + 1)^3``,
  averaged over subsets; it is ~0 (and can be negative) for two samples of
  one distribution.
"""
from __future__ import annotations

import math

import numpy as np

MAX_VAL = 2.0                  # the value range of [-1, 1] images
# The PSNR of 8-bit rounding noise: an error uniform within half a grey level has
# MSE step^2 / 12 (step = range / 255), so PSNR = 10 log10(12 * 255^2) = 58.9 dB. Closer
# reconstructions, exact ones (MSE 0, else infinite) included, score this: differences
# finer than 8-bit storage are not counted, and means over images stay finite.
PSNR_CAP_DB = 10.0 * math.log10(12.0 * 255.0 ** 2)
SSIM_FILTER_SIZE = 11
MS_SSIM_POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003


def _pair(a, b):
    import tensorflow as tf
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    if a.shape.rank != 4 or a.shape != b.shape:
        raise ValueError(f"expected two [N, H, W, C] batches of one shape, received "
                         f"{a.shape.as_list()} and {b.shape.as_list()}")
    return a, b


def psnr(images, reference, max_val: float = MAX_VAL) -> np.ndarray:
    """PSNR in dB per image [N] (tf.image.psnr), at most ``PSNR_CAP_DB``."""
    import tensorflow as tf
    a, b = _pair(images, reference)
    return np.minimum(tf.image.psnr(a, b, max_val=max_val).numpy(), PSNR_CAP_DB)


def to_unit(x):
    """[-1, 1] -> [0, 1]: SSIM's luminance term depends on the offset, so SSIM and
    MS-SSIM are computed, as usual, on images in [0, 1] with range 1."""
    return (x + 1.0) / 2.0


def ssim(images, reference) -> np.ndarray:
    """SSIM per image [N] (tf.image.ssim on [0, 1] images, channels averaged)."""
    import tensorflow as tf
    a, b = _pair(images, reference)
    return tf.image.ssim(to_unit(a), to_unit(b), max_val=1.0,
                         filter_size=SSIM_FILTER_SIZE).numpy()


def ms_ssim_scales(side: int, filter_size: int = SSIM_FILTER_SIZE) -> int:
    """How many MS-SSIM scales (at most 5) fit an image of ``side`` px; 0 if fewer than 2."""
    scales = 0
    while scales < len(MS_SSIM_POWER_FACTORS) and side // 2 ** scales >= filter_size:
        scales += 1
    # tf.image.ssim_multiscale needs side > (filter_size - 1) * 2^(scales - 1).
    while scales and side <= (filter_size - 1) * 2 ** (scales - 1):
        scales -= 1
    return scales if scales >= 2 else 0


def ms_ssim(images, reference) -> tuple[np.ndarray | None, int]:
    """(MS-SSIM per image [N], number of scales), or (None, 0) when the image is too small."""
    import tensorflow as tf
    a, b = _pair(images, reference)
    scales = ms_ssim_scales(min(a.shape[1], a.shape[2]))
    if not scales:
        return None, 0
    factors = np.asarray(MS_SSIM_POWER_FACTORS[:scales])
    factors = (factors / factors.sum()).tolist()
    value = tf.image.ssim_multiscale(to_unit(a), to_unit(b), max_val=1.0,
                                     power_factors=factors, filter_size=SSIM_FILTER_SIZE)
    return value.numpy(), scales


def _masked(images, reference, mask):
    a = np.asarray(images, np.float64)
    b = np.asarray(reference, np.float64)
    m = np.broadcast_to(np.asarray(mask, np.float64), a.shape)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"expected two [N, H, W, C] batches of one shape, received "
                         f"{a.shape} and {b.shape}")
    return a, b, m


def masked_mse(images, reference, mask) -> np.ndarray:
    """Mean squared error per image [N] over the pixels where ``mask`` is 1 (NaN when none)."""
    a, b, m = _masked(images, reference, mask)
    count = m.sum(axis=(1, 2, 3))
    err = ((a - b) ** 2 * m).sum(axis=(1, 2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, err / np.maximum(count, 1), np.nan)


def masked_psnr(images, reference, mask, max_val: float = MAX_VAL) -> np.ndarray:
    """PSNR in dB per image [N] over the pixels where ``mask`` is 1, at most
    ``PSNR_CAP_DB`` (NaN where the mask is empty)."""
    mse = masked_mse(images, reference, mask)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(10.0 * np.log10(max_val ** 2 / mse), PSNR_CAP_DB)


def masked_l1(images, reference, mask) -> np.ndarray:
    """Mean absolute error per image [N] over the pixels where ``mask`` is 1."""
    a, b, m = _masked(images, reference, mask)
    count = m.sum(axis=(1, 2, 3))
    err = (np.abs(a - b) * m).sum(axis=(1, 2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, err / np.maximum(count, 1), np.nan)


def hu_errors(images, reference, ct_window) -> dict[str, float]:
    """CT errors in Hounsfield units over the pixels whose *reference* lies inside the window.

    ``[-1, 1]`` maps linearly onto ``[L - W/2, L + W/2]`` HU; pixels saturated at
    either end of the window (air, dense bone) carry no error information and
    are left out. Returns MAE and RMSE in HU, the fraction of pixels used, and
    the PSNR over those pixels with the window width as the range.
    """
    level, width = (float(v) for v in ct_window)
    ref = np.asarray(reference, np.float64)
    inside = (np.abs(ref) < 1.0 - 1e-3).astype(np.float64)
    scale = width / 2.0   # HU per unit of [-1, 1]
    mae = masked_l1(images, reference, inside) * scale
    rmse = np.sqrt(masked_mse(images, reference, inside)) * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        psnr_hu = np.minimum(20.0 * np.log10(width / rmse), PSNR_CAP_DB)
    return {"mae_hu": float(np.nanmean(mae)), "rmse_hu": float(np.nanmean(rmse)),
            "psnr_hu_window": float(np.nanmean(psnr_hu)),
            "window_fraction": float(inside.mean())}


# ----------------------------------------------------------- distributions
def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (unbiased, float64) of features [N, D]."""
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be [N >= 2, D], received shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    from scipy import linalg
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics differ in shape: {mu1.shape} vs {mu2.shape}, "
                         f"{sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        # Singular product (few samples): offset both diagonals, as in the reference FID code.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance(features1, features2) -> float:
    """Fréchet distance between Gaussians fitted to features [N1, D] and [N2, D]."""
    return frechet_distance_from_stats(*feature_statistics(features1),
                                       *feature_statistics(features2))


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0):
    """``(x.y / D + coef0)^degree`` [N, M] (the KID kernel)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x, y, degree: int = 3) -> float:
    """Unbiased MMD^2 between samples x [N, D] and y [M, D] with the polynomial kernel."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need two samples [N >= 2, D] with one D, received {x.shape}, {y.shape}")
    kxx, kyy, kxy = polynomial_kernel(x, x, degree), polynomial_kernel(y, y, degree), \
        polynomial_kernel(x, y, degree)
    sum_xx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    sum_yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(sum_xx + sum_yy - 2.0 * kxy.mean())


def kernel_distance(features1, features2, subsets: int = 20, subset_size: int = 200,
                    seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation of unbiased MMD^2 over random subsets.

    ``subset_size`` is capped at the smaller sample; subsets are drawn without
    replacement within a subset, with a fixed ``seed`` (deterministic).
    """
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    size = min(subset_size, x.shape[0], y.shape[0])
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(x[rng.choice(x.shape[0], size, replace=False)],
                            y[rng.choice(y.shape[0], size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
