"""Unconditional GANs: FD/KID on a domain classifier's features, between the
real-vs-real floor and the real-vs-noise ceiling; class coverage under the same
classifier (mode collapse)."""
import re

import pytest

from trainer import evaluation as E
from trainer.blessing import EvalConfig


@pytest.fixture(scope="module")
def one_digit_model(digits, tmp_path_factory):
    """A collapsed generator: it replays real train images of one digit class only."""
    import tensorflow as tf

    from trainer.export import export_generator

    class Replay:   # Keras-call compatible, as the conftest's stand-ins
        def __call__(self, z, training=False):
            return tf.gather(sevens, tf.argmax(z[:, :count], axis=1))
    data = E.transform_records(digits["tft_output"],
                               E.read_records(str(digits["examples"]), "train"))
    sevens = tf.constant(data["image"][data["label"] == 7][:40])            # [<=40, 28, 28, 1]
    count = int(sevens.shape[0])
    path = str(tmp_path_factory.mktemp("one_digit") / "model")
    export_generator("vanilla_gan", Replay(), digits["hparams"], path, digits["tft_output"])
    return path


@pytest.fixture(scope="module")
def results(digits, digits_models, one_digit_model):
    records = E.read_records(str(digits["examples"]), "eval")
    train = E.read_records(str(digits["examples"]), "train")
    cfg = EvalConfig(num_panels=4)
    models = dict(digits_models, one_digit=one_digit_model)
    return {name: E.evaluate("vanilla_gan", path, records, digits["tft_output"], cfg,
                             train_records=train, dataset="digits")
            for name, path in models.items()}


def test_the_domain_classifier_is_named_with_its_size_and_accuracy(results):
    fx = results["zeros"].feature_extractor
    assert fx["name"] == "domain_classifier"
    assert "trained on digits labels" in fx["description"]
    assert fx["params"] > 1000 and fx["eval_accuracy"] > 0.8


def test_floor_is_below_ceiling(results):
    t = results["zeros"].metrics["trivial_baseline"]
    assert 0 <= t["fd_real_vs_real"] < t["fd_real_vs_noise"]
    assert t["kid_real_vs_real"] < t["kid_real_vs_noise"]
    assert abs(t["kid_real_vs_real"]) < 0.1 * t["kid_real_vs_noise"]   # ~0: same distribution


def test_constant_images_are_not_blessed(results):
    r = results["zeros"]
    assert not r.decision.blessed
    assert r.metrics["candidate"]["fd_fraction"] > 0.5
    assert r.decision.reasons[0].startswith("fd_fraction")


def test_real_looking_samples_are_blessed(results):
    r = results["replay"]
    assert r.decision.blessed, r.decision.reasons
    assert r.metrics["candidate"]["fd_fraction"] < 0.2
    assert r.panels.shape == (2, 28, 4 * 28, 1)


def test_a_generator_that_draws_one_digit_is_refused_as_mode_collapse(results):
    r = results["one_digit"]
    assert not r.decision.blessed
    reasons = " ".join(r.decision.reasons)
    # The classifier (about 0.92 accurate here) labels a few sevens as another digit.
    assert re.search(r"mode collapse: [12] of 10 digits classes generated", reasons), reasons
    assert re.search(r"mode collapse: class 7 is (9\d|100)% of the generated samples", reasons)
    assert r.metrics["candidate"]["class_coverage"] <= 0.2


def test_real_looking_samples_cover_the_classes_and_real_images_set_the_tv_scale(results):
    r = results["replay"]
    coverage = r.gate["mode_collapse"]
    assert coverage["generated"]["covered"] == 10 and coverage["real_eval"]["covered"] == 10
    # Real eval images (111 here) stay below the TV bound; the replay passes both checks.
    assert coverage["real_eval"]["tv"] < r.config.max_class_tv
    assert coverage["generated"]["tv"] < r.config.max_class_tv
    assert "Class coverage: 10 of 10 classes generated" in E.report_markdown(r)
    # The class shares are counted on class_samples generated digits, not only on one
    # per eval record as FD is, and the check says how many.
    assert coverage["generated"]["samples"] == r.config.class_samples == 4096
    shares = coverage["generated"]["generated"]
    assert abs(sum(shares) - 1) < 1e-3
    names = [c.name for c in r.decision.checks]
    assert any("total variation to train over 4096 samples" in name for name in names), names


def test_generate_takes_a_directory_or_the_loaded_saved_model(digits_models):
    import numpy as np
    import tensorflow as tf

    path = digits_models["replay"]
    records = E.seed_records(40)
    from_dir = E.generate(path, records, batch=16)
    loaded = tf.saved_model.load(path)
    assert from_dir.shape == (40, 28, 28, 1)
    np.testing.assert_array_equal(E.generate(loaded, records, batch=16), from_dir)
    # Later seeds of the same loaded model, in other batches, are the same images.
    np.testing.assert_array_equal(E.generate(loaded, E.seed_records(24, first=16), batch=8),
                                  from_dir[16:])
    with pytest.raises(ValueError, match="has no 'serving_tf_example' signature"):
        E.generate(tf.saved_model.load(str(_bare_saved_model(path))), records)


def _bare_saved_model(path):
    """A SavedModel beside ``path`` with a function but no signatures."""
    import pathlib

    import tensorflow as tf
    module = tf.Module()
    module.f = tf.function(lambda: tf.constant(1.0), input_signature=[])
    out = pathlib.Path(path).parent / "bare"
    tf.saved_model.save(module, str(out), signatures={})
    return out
