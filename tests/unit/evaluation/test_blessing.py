"""Blessing decisions: candidate vs the strongest baseline (a bootstrap interval of the
per-image gain) vs latest blessed (pure logic, no TF)."""
import math
import re

import numpy as np
import pytest

from trainer.blessing import Check, EvalConfig, bootstrap_mean_ci, decide, fd_fraction

CFG = EvalConfig(min_psnr_gain_db=1.0, min_ssim_gain=0.0, max_psnr_regression_db=0.5,
                 max_ssim_regression=0.02, max_fd_fraction=0.5, max_fd_fraction_regression=0.05,
                 min_hole_psnr_gain_db=0.5)
N = 64


def per_image(mean, spread=0.2, seed=0):
    """N per-image values around ``mean`` with a small, fixed spread."""
    return mean + spread * np.random.default_rng(seed).standard_normal(N)


def paired(candidate_psnr, candidate_ssim, *, gain_spread=0.2):
    """decide() inputs: two baselines (the input at 30 dB, a denoiser at 32 dB); the
    candidate's per-image PSNR is the denoiser's plus a gain of (candidate - 32) dB."""
    base = per_image(32.0, 1.0, seed=1)
    per = {"candidate": base + per_image(candidate_psnr - 32.0, gain_spread, seed=2),
           "input": base - 2.0, "denoiser": base}
    baselines = {"input": {"psnr": float(per["input"].mean()), "ssim": 0.80},
                 "denoiser": {"psnr": float(base.mean()), "ssim": 0.84}}
    candidate = {"psnr": float(per["candidate"].mean()), "ssim": candidate_ssim}
    return candidate, baselines, per


def test_beating_the_strongest_baseline_by_the_margin_blesses():
    cand, bases, per = paired(33.5, 0.86)
    d = decide("paired", cand, bases, None, CFG, per_image=per)
    assert d.blessed and d.reasons == []
    assert d.summary().startswith("BLESSED")
    assert d.gain.baseline == "denoiser" and d.gain.low > 1.0
    # The summary line shows every baseline and the gain with its interval.
    assert re.search(r"95% CI \[\+1\.\d+, \+1\.\d+\] over 64 images; baselines: "
                     r"input 2\d\.\d+, denoiser 3\d\.\d+\)", d.summary()), d.summary()


@pytest.mark.parametrize("psnr, ssim, failing", [
    (32.0, 0.84, ["psnr", "ssim"]),    # equals the strongest baseline: a tie is not a win
    (32.8, 0.86, ["psnr"]),            # better, but by less than the margin
    (31.5, 0.86, ["psnr"]),            # beats the input by 1.5 dB, loses to the denoiser
    (12.0, 0.10, ["psnr", "ssim"]),    # outputs zeros
    (34.0, 0.83, ["ssim"]),            # SSIM below the strongest baseline's
])
def test_not_beating_the_strongest_baseline_is_not_blessed(psnr, ssim, failing):
    cand, bases, per = paired(psnr, ssim)
    d = decide("paired", cand, bases, None, CFG, per_image=per)
    assert not d.blessed
    assert [r.split(" ")[0] for r in d.reasons] == failing
    assert all("strongest baseline" in r and "FAILED" in r for r in d.reasons)


def test_a_non_finite_candidate_is_never_blessed():
    cand, bases, per = paired(34.0, 0.9)
    per["candidate"][3] = math.nan
    d = decide("paired", dict(cand, psnr=math.nan), bases, None, CFG, per_image=per)
    assert not d.blessed and d.reasons[0].startswith("psnr gain over the strongest baseline")


def test_bootstrap_clear_gain_passes_and_a_wide_interval_is_refused():
    clear = per_image(1.5, 0.3)                      # +1.5 dB on every image, give or take
    mean, low, high = bootstrap_mean_ci(clear, resamples=2000, seed=0)
    assert low > 1.0 and low < mean < high
    # Mean gain above the 1 dB margin, but carried by a few images: wide interval.
    wide = np.full(N, -0.5)
    wide[:6] = 17.0                                  # mean = 1.14 dB
    mean, low, high = bootstrap_mean_ci(wide, resamples=2000, seed=0)
    assert mean > 1.0 and low < 1.0
    base = per_image(30.0, 1.0, seed=1)
    bases = {"classical": {"psnr": float(base.mean()), "ssim": 0.8}}
    for gains, blessed in ((clear, True), (wide, False)):
        per = {"candidate": base + gains, "classical": base}
        d = decide("paired", {"psnr": float(per["candidate"].mean()), "ssim": 0.9}, bases, None,
                   CFG, per_image=per)
        assert d.blessed is blessed, d.reasons
        assert d.gain.mean == pytest.approx(float(np.mean(gains)))
        np.testing.assert_allclose(d.gain.per_image, gains, atol=1e-9)  # which images lose
    assert "not reliably better than classical" in d.reasons[0]


def test_bootstrap_interval_is_seeded_and_needs_two_values():
    x = per_image(0.7, 1.0)
    assert bootstrap_mean_ci(x, seed=3) == bootstrap_mean_ci(x, seed=3)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([1.0, math.inf]))
    with pytest.raises(ValueError, match="at least 2 values, received 1"):
        bootstrap_mean_ci([1.0])


def test_regression_against_the_latest_blessed_model():
    latest = {"psnr": 34.0, "ssim": 0.90}
    cand, bases, per = paired(33.5, 0.88)
    within = decide("paired", cand, bases, dict(latest, psnr=cand["psnr"] + 0.5), CFG,
                    per_image=per)                                      # exactly allowed
    assert within.blessed, within.reasons
    worse = decide("paired", cand, bases, dict(latest, psnr=cand["psnr"] + 0.6), CFG,
                   per_image=per)
    assert not worse.blessed
    assert len(worse.reasons) == 1 and "latest blessed" in worse.reasons[0]
    cand, bases, per = paired(35.0, 0.95)
    better = decide("paired", cand, bases, latest, CFG, per_image=per)
    assert better.blessed and len(better.checks) == 4


def test_inpainting_compares_hole_psnr_with_the_strongest_fill():
    base = per_image(22.0, 2.0, seed=4)
    bases = {"biharmonic_fill": {"hole_psnr": float(base.mean()), "ssim": 0.7},
             "mean_fill": {"hole_psnr": float(base.mean()) - 4, "ssim": 0.6}}
    per = {"candidate": base + 0.8 + 0.1 * per_image(0, seed=5), "biharmonic_fill": base,
           "mean_fill": base - 4}
    cand = {"hole_psnr": float(per["candidate"].mean()), "ssim": 0.71}
    d = decide("inpainting", cand, bases, None, CFG, per_image=per)
    assert d.blessed, d.reasons
    assert d.gain.baseline == "biharmonic_fill" and d.gain.metric == "hole_psnr"
    # 4 dB over the mean fill but below the biharmonic fill: refused.
    per["candidate"] = base - 1.0
    d = decide("inpainting", dict(cand, hole_psnr=float(base.mean()) - 1), bases, None, CFG,
               per_image=per)
    assert not d.blessed and d.reasons[0].startswith("hole_psnr gain over the strongest "
                                                     "baseline biharmonic_fill")


def test_failure_mode_checks_refuse_with_their_reason_in_words():
    cand, bases, per = paired(34.0, 0.9)
    collapse = Check("class coverage", 0.3, 0.9, True, why="mode collapse: 3 of 10 classes")
    d = decide("paired", cand, bases, None, CFG, per_image=per, failure_checks=[collapse])
    assert not d.blessed
    assert d.reasons == ["class coverage: 0.3 > 0.9 required - FAILED (mode collapse: 3 of 10 "
                         "classes)"]


def test_unconditional_uses_the_fraction_between_real_floor_and_noise_ceiling():
    assert fd_fraction(10.0, 10.0, 110.0) == 0.0
    assert fd_fraction(60.0, 10.0, 110.0) == 0.5
    assert math.isnan(fd_fraction(60.0, 10.0, 10.0))
    assert decide("unconditional", {"fd_fraction": 0.2}, {}, None, CFG).blessed
    assert not decide("unconditional", {"fd_fraction": 0.7}, {}, None, CFG).blessed
    assert not decide("unconditional", {"fd_fraction": math.nan}, {}, None, CFG).blessed
    latest = {"fd_fraction": 0.1}
    assert decide("unconditional", {"fd_fraction": 0.15}, {}, latest, CFG).blessed
    d = decide("unconditional", {"fd_fraction": 0.2}, {}, latest, CFG)
    assert not d.blessed and "latest blessed" in d.reasons[0]
    assert d.gain is None


def test_missing_metrics_per_image_values_and_unknown_kinds_are_errors():
    cand, bases, per = paired(34.0, 0.9)
    with pytest.raises(ValueError, match="lack 'ssim'"):
        decide("paired", {"psnr": 1.0}, bases, None, CFG, per_image=per)
    with pytest.raises(ValueError, match="need per_image psnr values"):
        decide("paired", cand, bases, None, CFG)
    with pytest.raises(ValueError, match=r"per_image lacks \['denoiser'\]"):
        decide("paired", cand, bases, None, CFG,
               per_image={k: v for k, v in per.items() if k != "denoiser"})
    with pytest.raises(ValueError, match="unknown GAN kind 'other'"):
        decide("other", {}, {}, None, CFG)


def test_eval_config_json_round_trip_and_validation():
    cfg = EvalConfig(min_psnr_gain_db=2.0)
    assert EvalConfig.from_json(cfg.to_json()) == cfg
    assert EvalConfig.from_json("") == EvalConfig()
    with pytest.raises(ValueError, match="unknown EvalConfig key"):
        EvalConfig.from_dict({"min_psnr_gain": 1.0})
    with pytest.raises(ValueError, match="max_psnr_regression_db must be >= 0"):
        EvalConfig(max_psnr_regression_db=-1.0)
    with pytest.raises(ValueError, match="finite number"):
        EvalConfig(max_fd_fraction=math.inf)
    with pytest.raises(ValueError, match="confidence must be in"):
        EvalConfig(confidence=1.0)
    with pytest.raises(ValueError, match="bootstrap_resamples must be >= 100, received 10"):
        EvalConfig(bootstrap_resamples=10)
    with pytest.raises(ValueError, match="min_class_coverage must be in"):
        EvalConfig(min_class_coverage=9)
