"""bench/bench_quality.py, the command docs/EVALUATION.md gives, on two GANs for 2 steps:
it writes the demo data and a Transform graph, trains, exports and scores every run with
the evaluator, twins only where the GAN has one."""
import json

import numpy as np
import pytest

from support.bench import run_bench

pytestmark = pytest.mark.tfx


def test_bench_quality_scores_gans_and_twins_with_the_evaluator(tmp_path):
    out = tmp_path / "q.json"
    proc = run_bench("bench_quality.py", "--gans", "pix2pix_wgan_gp", "dcgan", "--seeds", "0",
                     "--variants", "gan", "twin", "--steps", "pix2pix_wgan_gp=2", "dcgan=2",
                     "--strategy", "mirrored", "--work", str(tmp_path / "work"),
                     "--json", str(out), timeout=900)
    rows = json.loads(out.read_text())
    assert [(r["gan"], r["variant"]) for r in rows] == [
        ("pix2pix_wgan_gp", "gan"), ("pix2pix_wgan_gp", "twin"), ("dcgan", "gan")]  # no dcgan twin
    ct, twin, digits = rows
    assert ct["primary"] == "psnr" and set(ct["baselines"]) == {"low_dose_input", "nlm_denoise"}
    assert ct["gain"]["baseline"] == "nlm_denoise" and ct["gain"]["low"] <= ct["gain"]["mean"]
    ids, gains = zip(*ct["gain"]["per_image"])            # per eval record, by its id
    assert len(set(ids)) == len(ids) > 1 and all(i.startswith("ct/") for i in ids), ids[:3]
    assert np.mean(gains) == pytest.approx(ct["gain"]["mean"])
    assert not ct["blessed"] and ct["reasons"]          # 2 steps do not beat non-local means
    assert ct["ema"] == 0.99 and ct["steps"] == 2        # the quick preset's averaging
    assert {r["strategy"] for r in rows} == {"mirrored"}  # the Trainer's strategy
    assert twin["baselines"] == ct["baselines"]           # same data, same baselines
    assert digits["primary"] == "fd_fraction" and 0 <= digits["extras"]["class_coverage"] <= 1
    assert digits["fd_real_vs_real"] > 0
    assert all(r["serve_ms"] > 0 for r in rows)           # the served model's cost per image
    assert "| pix2pix_wgan_gp | twin | psnr" in proc.stdout and "ms/image" in proc.stdout
