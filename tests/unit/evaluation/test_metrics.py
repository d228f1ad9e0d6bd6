"""trainer.metrics against scikit-image and direct NumPy/SciPy computations."""
import numpy as np
import pytest

from trainer import metrics as M


def real_images(count=4, size=64, seed=0):
    """Crops of scikit-image photographs in [-1, 1], [N, size, size, 1] and a noisy copy."""
    from skimage import data
    rng = np.random.default_rng(seed)
    photos = [data.camera(), data.moon(), data.coins()]
    crops = []
    for i in range(count):
        img = photos[i % len(photos)].astype(np.float32) / 127.5 - 1.0
        y, x = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        crops.append(img[y:y + size, x:x + size, None])
    clean = np.stack(crops)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), -1, 1).astype(np.float32)
    return noisy, clean


def random_images(shape, seed):
    rng = np.random.default_rng(seed)
    clean = rng.uniform(-1, 1, shape).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.2, shape), -1, 1).astype(np.float32)
    return noisy, clean


@pytest.fixture(params=["random_gray", "random_rgb", "real"])
def pair(request):
    if request.param == "real":
        return real_images()
    channels = 3 if request.param == "random_rgb" else 1
    return random_images((3, 48, 48, channels), seed=1)


def test_psnr_matches_skimage(pair):
    from skimage.metrics import peak_signal_noise_ratio
    a, b = pair
    ours = M.psnr(a, b)
    theirs = [peak_signal_noise_ratio(y, x, data_range=2.0) for x, y in zip(a, b)]
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_ssim_matches_skimage(pair):
    from skimage.metrics import structural_similarity
    a, b = pair
    ours = M.ssim(a, b)
    theirs = [structural_similarity((x + 1) / 2, (y + 1) / 2, data_range=1.0, channel_axis=-1,
                                    gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
              for x, y in zip(a, b)]
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


def test_ssim_of_identical_images_is_one_and_drops_with_noise():
    a, b = real_images()
    np.testing.assert_allclose(M.ssim(b, b), 1.0, atol=1e-5)
    assert (M.ssim(a, b) < 0.99).all()


def test_ms_ssim_scales_follow_the_image_size():
    assert M.ms_ssim_scales(256) == 5
    assert M.ms_ssim_scales(176) == 5      # coarsest level 11 px
    assert M.ms_ssim_scales(161) == 4
    assert M.ms_ssim_scales(64) == 3
    assert M.ms_ssim_scales(28) == 2
    assert M.ms_ssim_scales(16) == 0


def test_ms_ssim_is_finite_at_64px_and_unavailable_when_too_small():
    a, b = real_images(size=64)
    value, scales = M.ms_ssim(a, b)
    assert scales == 3 and np.isfinite(value).all() and (value < 1).all()
    same, _ = M.ms_ssim(b, b)
    np.testing.assert_allclose(same, 1.0, atol=1e-5)
    tiny = np.zeros((2, 16, 16, 1), np.float32)
    assert M.ms_ssim(tiny, tiny) == (None, 0)


def test_masked_psnr_and_l1_count_only_the_mask():
    a, b = random_images((2, 16, 16, 1), seed=3)
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 4:8, 4:8] = 1.0
    inside = (slice(None), slice(4, 8), slice(4, 8))
    mse = ((a[inside] - b[inside]) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(M.masked_psnr(a, b, mask), 10 * np.log10(4.0 / mse), rtol=1e-6)
    np.testing.assert_allclose(M.masked_l1(a, b, mask),
                               np.abs(a[inside] - b[inside]).mean(axis=(1, 2, 3)), rtol=1e-6)
    # Differences outside the mask do not count.
    c = a.copy()
    c[:, :4] = 5.0
    np.testing.assert_allclose(M.masked_l1(c, b, mask), M.masked_l1(a, b, mask))


def test_an_exact_reconstruction_scores_the_cap_not_infinity():
    a, b = random_images((3, 16, 16, 1), seed=4)
    b[1] = a[1]                                    # image 1 reproduced exactly
    mask = np.ones_like(a)
    for scores in (M.psnr(a, b), M.masked_psnr(a, b, mask)):
        assert scores[1] == pytest.approx(M.PSNR_CAP_DB) and np.isfinite(scores).all()
        assert scores[0] < 30.0 and scores[2] < 30.0
    # Below 8-bit rounding noise a difference is not counted: a quarter grey level off
    # ties with exact; a whole grey level (2 / 255 on [-1, 1]) does not.
    level = 2.0 / 255.0
    assert M.psnr(a + 0.25 * level, a)[0] == pytest.approx(M.PSNR_CAP_DB)
    assert M.psnr(a + level, a)[0] == pytest.approx(10 * np.log10(4.0 / level ** 2), rel=1e-5)
    assert M.PSNR_CAP_DB == pytest.approx(58.92, abs=0.01)
    # An empty mask still has no PSNR at all.
    assert np.isnan(M.masked_psnr(a, b, np.zeros_like(a))).all()


def test_hu_errors_in_hounsfield_units_inside_the_window():
    window = (0.0, 2000.0)                     # [-1, 1] <-> [-1000, 1000] HU
    target = np.full((1, 8, 8, 1), 0.1, np.float32)
    target[:, :2] = -1.0                       # saturated air: excluded
    images = target + 0.05                     # +50 HU everywhere
    out = M.hu_errors(images, target, window)
    assert out["mae_hu"] == pytest.approx(50.0, rel=1e-4)
    assert out["rmse_hu"] == pytest.approx(50.0, rel=1e-4)
    assert out["window_fraction"] == pytest.approx(0.75)
    assert out["psnr_hu_window"] == pytest.approx(20 * np.log10(2000 / 50), rel=1e-4)


def direct_frechet(x, y):
    from scipy import linalg
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2))))


def test_frechet_distance_matches_a_direct_scipy_computation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    y = rng.normal(0.5, 2.0, size=(300, 8)) @ rng.normal(size=(8, 8))
    assert M.frechet_distance(x, y) == pytest.approx(direct_frechet(x, y), rel=1e-6)


def test_frechet_distance_of_two_gaussians_in_closed_form():
    # Diagonal covariances: FD = |mu1-mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)).
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    expected = 13.0 + (1 + 9 - 2 * 3) + (4 + 1 - 2 * 2)
    assert M.frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected)
    assert M.frechet_distance_from_stats(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_kid_is_unbiased_for_two_samples_of_one_distribution():
    rng = np.random.default_rng(0)
    values = [M.mmd2_unbiased(rng.normal(size=(100, 16)), rng.normal(size=(100, 16)))
              for _ in range(200)]
    stderr = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values)) < 3 * stderr          # zero mean: unbiased
    assert min(values) < 0 < max(values)              # an unbiased estimator goes below zero
    shifted = M.mmd2_unbiased(rng.normal(size=(100, 16)), rng.normal(0.5, 1, size=(100, 16)))
    assert shifted > 10 * np.std(values)


def test_kid_matches_a_direct_unbiased_estimator():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 5)), rng.normal(0.3, 1.0, size=(40, 5))
    k = lambda a, b: (a @ b.T / 5 + 1) ** 3  # noqa: E731
    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    expected = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                - 2 * k(x, y).mean())
    assert M.mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-9)
    mean, std = M.kernel_distance(x, y, subsets=5, subset_size=25, seed=0)
    assert np.isfinite(mean) and std >= 0


def test_bad_shapes_are_rejected_with_the_shapes_named():
    with pytest.raises(ValueError, match=r"\[2, 8, 8, 1\]"):
        M.psnr(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="N >= 2"):
        M.feature_statistics(np.zeros((1, 4)))
