"""The Transform's and Trainer's custom_config: frozen dataclasses that round-trip through
JSON, refuse unknown keys by name and name the field of a malformed value."""
from __future__ import annotations

import dataclasses
import json
import types

import pytest

from trainer.config import STRATEGIES, TrainerConfig, TransformConfig


def trainer_config(**overrides) -> TrainerConfig:
    values = dict(gan="pix2pix_wgan_gp", hparams={"batch_size": 4, "image_size": 32},
                  backup_dir="/tmp/backup/pix2pix_wgan_gp", steps_per_epoch=10,
                  strategy="one_device", materialized=False, ct_window=[40, 400], bit_depth=16,
                  code="0123abcd")
    values.update(overrides)
    return TrainerConfig(**values)


def test_trainer_config_round_trips_through_json():
    config = trainer_config()
    data = config.to_dict()
    assert json.loads(json.dumps(data)) == data          # what TFX stores must be plain JSON
    assert data["ct_window"] == [40.0, 400.0]
    assert TrainerConfig.from_dict(data) == config
    assert TrainerConfig.from_json(config.to_json()) == config
    assert config.ct_window == (40.0, 400.0)


def test_trainer_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        trainer_config().gan = "dcgan"


def test_trainer_config_defaults_are_the_documented_ones():
    config = TrainerConfig.from_dict({"gan": "dcgan", "hparams": {}, "backup_dir": "/b"})
    assert (config.strategy, config.materialized, config.steps_per_epoch, config.bit_depth) == (
        "mirrored", True, 50, 8)
    assert config.strategy in STRATEGIES


def test_unknown_keys_are_refused_by_name():
    data = trainer_config().to_dict()
    data["stepz_per_epoch"] = 5
    data["lr"] = 1e-3
    with pytest.raises(ValueError, match=r"unknown TrainerConfig key\(s\) \['lr', 'stepz_per_epoch'\]"):
        TrainerConfig.from_dict(data)


def test_a_missing_required_key_is_refused():
    with pytest.raises(TypeError, match="backup_dir"):
        TrainerConfig.from_dict({"gan": "dcgan", "hparams": {}})


@pytest.mark.parametrize("field, value, match", [
    ("steps_per_epoch", "50", r"TrainerConfig.steps_per_epoch must be an integer >= 1, received '50'"),
    ("steps_per_epoch", 0, r"TrainerConfig.steps_per_epoch must be an integer >= 1, received 0"),
    ("strategy", "tpu", r"TrainerConfig.strategy must be one of .*, received 'tpu'"),
    ("materialized", "yes", r"TrainerConfig.materialized must be true or false, received 'yes'"),
    ("ct_window", [40], r"TrainerConfig.ct_window must be \[level, width\].*received \[40\]"),
    ("ct_window", [40, 0], r"TrainerConfig.ct_window width must be > 0, received \[40, 0\]"),
    ("bit_depth", 12, r"TrainerConfig.bit_depth must be 8 or 16, received 12"),
    ("gan", "", r"TrainerConfig.gan must be a non-empty string, received ''"),
    ("hparams", [1, 2], r"TrainerConfig.hparams must be a dict, received \[1, 2\]"),
    ("ema_decay", 1.0, r"TrainerConfig.ema_decay must be 0 \(off\) or in \(0, 1\), received 1.0"),
    ("ema_decay", -0.5, r"TrainerConfig.ema_decay must be 0 \(off\) or in \(0, 1\), received -0.5"),
    ("ema_decay", "0.99", r"TrainerConfig.ema_decay must be 0 \(off\) or in \(0, 1\), received '0.99'"),
])
def test_malformed_values_are_refused_naming_the_field(field, value, match):
    data = trainer_config().to_dict()
    data[field] = value
    with pytest.raises(ValueError, match=match):
        TrainerConfig.from_dict(data)


def test_a_non_dict_custom_config_is_refused():
    with pytest.raises(ValueError, match="TrainerConfig needs a dict, received str"):
        TrainerConfig.from_dict("gan=dcgan")


def test_transform_config_round_trips_and_checks_shapes():
    config = TransformConfig(shapes={"input": (32, 32, 1), "target": [32, 32, 1]}, code="x")
    data = config.to_dict()
    assert data == {"shapes": {"input": [32, 32, 1], "target": [32, 32, 1]},
                    "ct_window": [0.0, 2000.0], "code": "x"}
    assert TransformConfig.from_dict(data) == config
    with pytest.raises(ValueError, match=r"unknown TransformConfig key\(s\) \['window'\]"):
        TransformConfig.from_dict({**data, "window": [1, 2]})
    with pytest.raises(ValueError, match=r"TransformConfig.shapes\['input'\] must be \[H, W, C\]"):
        TransformConfig.from_dict({**data, "shapes": {"input": [32, 32]}})
    with pytest.raises(ValueError, match=r"TransformConfig.shapes must be a non-empty"):
        TransformConfig.from_dict({**data, "shapes": {}})


def test_run_fn_refuses_a_bad_custom_config_before_reading_anything():
    from trainer import task
    fn_args = types.SimpleNamespace(
        custom_config={**trainer_config().to_dict(), "strategy": "tpu"},
        transform_output="/nonexistent/transform", model_run_dir="/nonexistent/run",
        serving_model_dir="/nonexistent/serving", train_files=[], eval_files=[])
    with pytest.raises(ValueError, match="TrainerConfig.strategy .* received 'tpu'"):
        task.run_fn(fn_args)


def test_backup_dir_depends_on_settings_and_data_not_on_the_backup_root():
    from trainer.task import backup_dir
    a = backup_dir(trainer_config(), ["a.gz"])
    assert a.startswith("/tmp/backup/pix2pix_wgan_gp/")
    assert backup_dir(trainer_config(backup_dir="/elsewhere"), ["a.gz"]).rsplit("/", 1)[1] == \
        a.rsplit("/", 1)[1]
    assert backup_dir(trainer_config(steps_per_epoch=11), ["a.gz"]) != a
    assert backup_dir(trainer_config(), ["b.gz"]) != a


def test_the_trainer_draws_initial_weights_from_the_seed_hyper_parameter():
    import numpy as np
    import tensorflow as tf

    from trainer import registry
    from trainer.task import build_model
    spec = registry.get("vanilla_gan")
    module = spec.load()

    def initial(seed):
        tf.random.normal([3])  # whatever ran before must not matter
        model = build_model(module, spec.hparams({**spec.presets().tiny, "seed": seed}),
                            tf.distribute.get_strategy())
        return [v.numpy() for v in model.generator.trainable_variables]

    first, again, other = initial(0), initial(0), initial(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
