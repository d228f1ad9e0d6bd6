"""Unconditional GANs: FD/KID on a domain classifier's features, between the
real-vs-real floor and the real-vs-noise ceiling."""
import pytest

from trainer import evaluation as E
from trainer.blessing import EvalConfig


@pytest.fixture(scope="module")
def results(digits, digits_models):
    records = E.read_records(str(digits["examples"]), "eval")
    train = E.read_records(str(digits["examples"]), "train")
    cfg = EvalConfig(num_panels=4)
    return {name: E.evaluate("vanilla_gan", path, records, digits["tft_output"], cfg,
                             train_records=train, dataset="digits")
            for name, path in digits_models.items()}


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
