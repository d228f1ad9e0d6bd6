"""trainer.evaluation on stand-in CT generators exported with the real serving signatures.

Generators that output zeros or copy the low-dose input are not blessed; nor
is a denoiser that beats the input but not the classical denoiser (non-local
means) of the gate; a candidate worse than the latest blessed generator by
more than the allowed regression is not.
"""
import json
import math
import os

import numpy as np
import pytest

from trainer import evaluation as E
from trainer.blessing import EvalConfig


def eval_records(ct):
    return E.read_records(str(ct["examples"]), "eval")

CFG = EvalConfig(num_panels=3)
# A non-inferiority gate (within 10 dB / any SSIM of the strongest baseline): lets the
# stand-in filters, which lose to non-local means, reach the regression check.
NON_INFERIOR = dict(min_psnr_gain_db=-10.0, min_ssim_gain=-1.0)


@pytest.fixture(scope="module")
def results(ct, ct_models):
    records = eval_records(ct)
    return {name: E.evaluate("pix2pix_wgan_gp", path, records, ct["tft_output"], CFG)
            for name, path in ct_models.items()}


def test_zeros_generator_is_not_blessed(results):
    r = results["zeros"]
    assert not r.decision.blessed
    assert any(reason.startswith("psnr gain over the strongest baseline nlm_denoise")
               for reason in r.decision.reasons)
    assert r.metrics["candidate"]["psnr"] < r.metrics["trivial_baseline"]["psnr"] - 3


def test_copy_of_the_input_ties_the_trivial_baseline_and_is_not_blessed(results):
    r = results["copy"]
    cand, base = r.metrics["candidate"], r.metrics["trivial_baseline"]
    # The exported signature runs the Transform graph on the raw input: a copy of
    # the input is the trivial baseline, to float precision.
    assert cand["psnr"] == pytest.approx(base["psnr"], abs=1e-3)
    assert cand["ssim"] == pytest.approx(base["ssim"], abs=1e-4)
    assert not r.decision.blessed
    assert "the degraded input itself (low-dose CT)" == r.baselines["trivial_baseline"]


def test_a_denoiser_that_beats_the_input_but_not_non_local_means_is_refused(results):
    r = results["blur"]
    assert r.metrics["candidate"]["psnr"] > r.metrics["trivial_baseline"]["psnr"] + 1.0
    assert not r.decision.blessed          # the old gate (vs the input only) blessed it
    nlm = r.metrics["baselines"]["nlm_denoise"]["psnr"]
    assert nlm > r.metrics["candidate"]["psnr"]
    assert r.decision.gain.baseline == "nlm_denoise" and r.decision.gain.high < 0
    assert "not reliably better than nlm_denoise" in r.decision.reasons[0]
    tuning = r.gate["nlm"]
    assert tuning["pairs"] == 0     # evaluate() got no train records: the defaults, and it says so
    assert "defaults: no train pairs" in r.baselines["nlm_denoise"]


def test_nlm_parameters_are_chosen_on_train_pairs(ct, ct_models):
    train = E.read_records(str(ct["examples"]), "train")
    r = E.evaluate("pix2pix_wgan_gp", ct_models["copy"], eval_records(ct), ct["tft_output"],
                   EvalConfig(num_panels=0, nlm_tuning_pairs=4), train_records=train)
    tuning = r.gate["nlm"]
    assert tuning["pairs"] == 4 and len(tuning["grid"]) >= 4
    best = max(tuning["grid"], key=lambda g: g["train_psnr"])
    assert tuning["params"]["h_multiplier"] == best["h_multiplier"]
    assert "chosen on 4 train pairs" in r.baselines["nlm_denoise"]
    assert r.metrics["baselines"]["nlm_denoise"]["psnr"] > r.metrics["trivial_baseline"]["psnr"] + 2


def test_ct_metrics_include_hounsfield_units_and_ms_ssim(results):
    m = results["blur"].metrics["candidate"]
    for key in ("psnr", "ssim", "ms_ssim", "l1", "mae_hu", "rmse_hu", "psnr_hu_window"):
        assert math.isfinite(m[key]), key
    assert m["ms_ssim_scales"] == 3                 # 64 px: three scales fit
    assert results["blur"].metrics["trivial_baseline"]["mae_hu"] > m["mae_hu"] > 0
    assert results["blur"].perceptual.startswith("unavailable (no ImageNet VGG19 weights")


def test_a_candidate_worse_than_the_latest_blessed_by_more_than_allowed_is_not_blessed(
        ct, ct_models, results):
    strong, wide = results["blur"].metrics["candidate"], results["blur_wide"].metrics["candidate"]
    gap = strong["psnr"] - wide["psnr"]
    assert gap > 0.2, (strong["psnr"], wide["psnr"])
    records = eval_records(ct)
    strict = EvalConfig(num_panels=0, max_psnr_regression_db=gap / 2, max_ssim_regression=1.0,
                        **NON_INFERIOR)
    r = E.evaluate("pix2pix_wgan_gp", ct_models["blur_wide"], records, ct["tft_output"], strict,
                   baseline_model_dir=ct_models["blur"])
    assert r.metrics["latest_blessed"]["psnr"] == pytest.approx(strong["psnr"], abs=1e-4)
    vs_baselines = [c for c in r.decision.checks if "strongest baseline" in c.name]
    assert len(vs_baselines) == 2 and all(c.passed for c in vs_baselines)   # it passes the gate ...
    assert not r.decision.blessed                  # ... but regresses too much
    assert [x.split(" ")[0] for x in r.decision.reasons] == ["psnr"]
    assert "latest blessed" in r.decision.reasons[0]
    lenient = EvalConfig(num_panels=0, max_psnr_regression_db=gap * 2, max_ssim_regression=1.0,
                         **NON_INFERIOR)
    ok = E.evaluate("pix2pix_wgan_gp", ct_models["blur_wide"], records, ct["tft_output"], lenient,
                    baseline_model_dir=ct_models["blur"])
    assert ok.decision.blessed, ok.decision.reasons


def test_outputs_metrics_json_reports_and_tensorboard(results, tmp_path):
    paths = E.write_outputs(results["copy"], str(tmp_path))
    data = json.loads(open(paths[E.METRICS_FILE]).read())
    assert data["blessed"] is False and data["reasons"]
    assert set(data["metrics"]) >= {"candidate", "trivial_baseline", "latest_blessed", "baselines"}
    assert set(data["metrics"]["baselines"]) == {"low_dose_input", "nlm_denoise"}
    gain = data["gain"]
    assert gain["baseline"] == "nlm_denoise" and gain["low"] <= gain["mean"] <= gain["high"]
    assert gain["resamples"] == 2000 and gain["confidence"] == 0.95
    assert set(data["gate"]["nlm"]["params"]) == {"h_multiplier", "patch_size", "patch_distance"}
    assert data["gate"]["failure_modes"]["output_spread_ratio"] > 0.5
    md = open(paths[E.REPORT_MD]).read()
    assert "NOT BLESSED" in md and "| psnr |" in md and E.PANELS_PNG in md
    assert "## Why it was refused" in md and "nlm_denoise (strongest" in md
    assert "Non-local means parameters" in md and "95% bootstrap CI" in md
    html = open(paths[E.REPORT_HTML]).read()
    assert "<table>" in html and E.PANELS_PNG in html and "Why it was refused" in html
    import tensorflow as tf
    png = tf.io.decode_png(open(paths[E.PANELS_PNG], "rb").read()).numpy()
    assert png.shape[0] == 3 * 128 and png.shape[1] == 4 * 128     # 3 rows x 4 columns, x2
    events = [f for f in os.listdir(paths[E.TENSORBOARD_DIR]) if "tfevents" in f]
    assert events
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(os.path.join(paths[E.TENSORBOARD_DIR],
                                                                   events[0])):
        tags |= {v.tag for v in event.summary.value}
    assert {"candidate/psnr", "trivial_baseline/psnr", "blessed", "baselines/nlm_denoise/psnr",
            "gate/psnr_gain_low"} <= tags


def test_panels_show_input_baseline_generated_target(results):
    r = results["blur"]
    assert r.panel_columns == ("input", "strongest baseline (nlm_denoise)", "generated", "target")
    assert r.panels.shape == (3, 64, 4 * 64, 1)
    assert np.abs(r.panels).max() <= 1.0 + 1e-6
