"""GAN failure modes: mode collapse, output collapse, discriminator wins, divergence."""
import json
import math
import os

import numpy as np
import pytest

from trainer import failure_modes as FM
from trainer.blessing import EvalConfig

CFG = EvalConfig()
RNG = np.random.default_rng(0)
TRAIN_LABELS = RNG.integers(0, 10, size=2000)


def test_one_digit_generator_is_flagged_as_mode_collapse():
    predicted = np.full(256, 3)
    cov = FM.class_coverage(predicted, TRAIN_LABELS, 10, CFG.min_class_share_ratio)
    assert cov["covered"] == 1 and cov["missing"] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert cov["tv"] == pytest.approx(0.9, abs=0.02)
    checks = FM.mode_collapse_checks(cov, CFG, "digits")
    assert [c.passed for c in checks] == [False, False]
    assert "mode collapse: 1 of 10 digits classes generated" in checks[0].describe()
    assert "class 3 is 100% of the generated samples" in checks[1].describe()


def test_three_classes_fail_coverage():
    predicted = RNG.choice([1, 4, 7], size=256)
    cov = FM.class_coverage(predicted, TRAIN_LABELS, 10)
    (coverage, tv) = FM.mode_collapse_checks(cov, CFG, "digits")
    assert not coverage.passed and "3 of 10 digits classes generated" in coverage.describe()


def test_real_samples_are_not_flagged():
    for seed in range(5):
        real = np.random.default_rng(seed + 1).integers(0, 10, size=256)
        cov = FM.class_coverage(real, TRAIN_LABELS, 10, CFG.min_class_share_ratio)
        assert cov["covered"] == 10
        checks = FM.mode_collapse_checks(cov, CFG, "digits", real_tv=cov["tv"])
        assert all(c.passed for c in checks), [c.describe() for c in checks]


def test_one_class_in_a_third_of_the_samples_exceeds_the_tv_bound():
    # Every class is drawn, but class 2 takes a third of the samples (train: a tenth).
    predicted = np.concatenate([np.full(86, 2), np.repeat(np.arange(10), 17)])
    cov = FM.class_coverage(predicted, TRAIN_LABELS, 10)
    coverage, tv = FM.mode_collapse_checks(cov, CFG, "digits")
    assert coverage.passed and not tv.passed
    assert cov["tv"] > CFG.max_class_tv


def test_class_histogram_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), received values from 0 "
                                         r"to 12"):
        FM.class_histogram([0, 12], 10)


def test_output_collapse_fires_when_every_input_gives_the_same_image():
    targets = RNG.uniform(-1, 1, size=(32, 16, 16, 1))
    same = np.repeat(targets[:1], 32, axis=0) + 0.01 * RNG.standard_normal((32, 16, 16, 1))
    assert FM.output_spread_ratio(targets, targets) == pytest.approx(1.0)
    ratio = FM.output_spread_ratio(same, targets)
    assert ratio < 0.05
    check = FM.output_collapse_check(ratio, CFG)
    assert not check.passed and "output collapse" in check.describe()
    assert FM.output_collapse_check(FM.output_spread_ratio(targets * 0.9, targets), CFG).passed
    with pytest.raises(ValueError, match=r"received \(1, 16, 16, 1\)"):
        FM.output_spread_ratio(targets[:1], targets[:1])


def loss_history(steps=400, win_from=None, seed=0):
    """A healthy non-saturating GAN's d_loss around 1.2; D wins (loss ~0.01) from ``win_from``."""
    rng = np.random.default_rng(seed)
    d = 1.2 + 0.1 * rng.standard_normal(steps)
    if win_from is not None:
        d[win_from:] = 0.01 + 0.005 * rng.random(steps - win_from)
    return d


def test_discriminator_wins_on_a_sustained_near_zero_loss():
    f = FM.discriminator_wins(loss_history(win_from=250), min_steps=50)
    assert f.detected and f.details["start"] == 250 and f.details["steps"] == 150
    assert "discriminator wins: D loss < 0.05 for 150 consecutive steps from step 250" in f.message
    quiet = FM.discriminator_wins(loss_history(), min_steps=50)
    assert not quiet.detected and "no sustained discriminator win" in quiet.message
    short = loss_history()
    short[100:130] = 0.01                                       # a brief dip is not flagged
    assert not FM.discriminator_wins(short, min_steps=50).detected


def test_discriminator_wins_from_its_accuracy_for_a_critic_loss():
    steps = 300
    critic = -5.0 + np.random.default_rng(1).standard_normal(steps)   # negative: WGAN critic
    d_real, d_fake = np.full(steps, 0.6), np.full(steps, 0.4)
    d_real[200:], d_fake[200:] = 0.999, 0.001
    f = FM.discriminator_wins(critic, d_real=d_real, d_fake=d_fake, min_steps=50)
    assert f.detected and f.details["start"] == 200 and f.details["criteria"] == [
        "D accuracy > 0.98"]
    assert not FM.discriminator_wins(critic, min_steps=50).detected


def test_divergence_on_non_finite_and_exploding_losses():
    d = loss_history()
    assert not FM.divergence({"d_loss": d, "g_loss": d}).detected
    nan = d.copy()
    nan[321] = math.nan
    f = FM.divergence({"d_loss": d, "g_loss": nan})
    assert f.detected and f.message == "divergence: g_loss is nan at step 321"
    boom = d.copy()
    boom[200:] = 1e4
    f = FM.divergence({"d_loss": boom}, window=50, explode_factor=100)
    assert f.detected and f.details["step"] == 224       # the running median crosses mid-window


def test_running_means_are_turned_back_into_per_step_values():
    x = np.array([3.0, 1.0, 2.0, 6.0])
    means = np.cumsum(x) / np.arange(1, 5)
    np.testing.assert_allclose(FM.steps_from_running_means(means), x)


def test_training_health_callback_writes_scalars_text_and_a_summary_file(tmp_path):
    import tensorflow as tf
    cb = FM.TrainingHealth(str(tmp_path), min_steps=20)
    d = loss_history(steps=60, win_from=30)
    for epoch in range(2):
        cb.on_epoch_begin(epoch)
        values = d[epoch * 30:(epoch + 1) * 30]
        for b in range(30):   # Keras logs running means within the epoch
            cb.on_train_batch_end(b, {"d_loss": values[:b + 1].mean(), "g_loss": 0.7})
        cb.on_epoch_end(epoch)
    assert [f.detected for f in cb.findings] == [True, False]
    assert cb.findings[0].details["start"] == 30
    data = json.load(open(tmp_path / FM.HEALTH_FILE))
    assert data["steps"] == 60 and data["findings"][0]["name"] == "discriminator wins"
    events = [f for f in os.listdir(tmp_path) if "tfevents" in f]
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(str(tmp_path / events[0]))
            for v in e.summary.value}
    assert {"failure_modes/discriminator_wins", "failure_modes/divergence",
            "failure_modes/summary"} <= tags


def test_read_training_health_reads_what_the_callback_wrote(tmp_path):
    import json

    from trainer.failure_modes import HEALTH_FILE, discriminator_wins, read_training_health
    assert read_training_health(str(tmp_path)) is None            # a run without the callback
    wins = discriminator_wins([0.001] * 60)
    (tmp_path / HEALTH_FILE).write_text(json.dumps({"steps": 60, "findings": [wins.to_json()]}))
    (found,) = read_training_health(str(tmp_path))
    assert found["detected"] and found["message"] == wins.message and found["steps"] == 60
    (tmp_path / HEALTH_FILE).write_text(json.dumps(["not", "findings"]))
    with pytest.raises(ValueError, match="expected {'findings'"):
        read_training_health(str(tmp_path))
