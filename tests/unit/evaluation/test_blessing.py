"""Blessing decisions: candidate vs trivial baseline vs latest blessed (pure logic, no TF)."""
import math

import pytest

from trainer.blessing import EvalConfig, decide, fd_fraction

CFG = EvalConfig(min_psnr_gain_db=1.0, min_ssim_gain=0.0, max_psnr_regression_db=0.5,
                 max_ssim_regression=0.02, max_fd_fraction=0.5, max_fd_fraction_regression=0.05,
                 min_hole_psnr_gain_db=0.5)
TRIVIAL = {"psnr": 30.0, "ssim": 0.80}


def test_beating_the_trivial_baseline_by_the_margin_blesses():
    d = decide("paired", {"psnr": 31.5, "ssim": 0.85}, TRIVIAL, None, CFG)
    assert d.blessed and d.reasons == []
    assert d.summary().startswith("BLESSED")


@pytest.mark.parametrize("candidate, failing", [
    ({"psnr": 30.0, "ssim": 0.80}, ["psnr", "ssim"]),   # copies the input: a tie is not a win
    ({"psnr": 30.9, "ssim": 0.85}, ["psnr"]),           # better, but by less than the margin
    ({"psnr": 12.0, "ssim": 0.10}, ["psnr", "ssim"]),   # outputs zeros
    ({"psnr": 32.0, "ssim": 0.79}, ["ssim"]),
    ({"psnr": math.nan, "ssim": 0.9}, ["psnr"]),        # non-finite is never blessed
])
def test_not_beating_the_trivial_baseline_is_not_blessed(candidate, failing):
    d = decide("paired", candidate, TRIVIAL, None, CFG)
    assert not d.blessed
    assert [r.split(" ")[0] for r in d.reasons] == failing
    assert all("trivial baseline" in r and "FAILED" in r for r in d.reasons)


def test_regression_against_the_latest_blessed_model():
    latest = {"psnr": 33.0, "ssim": 0.90}
    within = decide("paired", {"psnr": 32.5, "ssim": 0.88}, TRIVIAL, latest, CFG)  # exactly allowed
    assert within.blessed, within.reasons
    worse = decide("paired", {"psnr": 32.4, "ssim": 0.90}, TRIVIAL, latest, CFG)
    assert not worse.blessed
    assert len(worse.reasons) == 1 and "latest blessed" in worse.reasons[0]
    better = decide("paired", {"psnr": 34.0, "ssim": 0.95}, TRIVIAL, latest, CFG)
    assert better.blessed and len(better.checks) == 4


def test_inpainting_compares_hole_psnr():
    trivial = {"hole_psnr": 15.0, "ssim": 0.7}
    assert decide("inpainting", {"hole_psnr": 15.6, "ssim": 0.71}, trivial, None, CFG).blessed
    d = decide("inpainting", {"hole_psnr": 15.4, "ssim": 0.71}, trivial, None, CFG)
    assert not d.blessed and d.reasons[0].startswith("hole_psnr")


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


def test_missing_metrics_and_unknown_kinds_are_errors():
    with pytest.raises(ValueError, match="lack 'ssim'"):
        decide("paired", {"psnr": 1.0}, TRIVIAL, None, CFG)
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
