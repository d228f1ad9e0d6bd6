"""The pipeline hands the Transform and the Trainer their settings as TransformConfig /
TrainerConfig dicts, which read back into the same dataclasses."""
from __future__ import annotations

import json

import pytest

from tfx_pipeline.configs import GanRun, PipelineConfig
from trainer.config import TrainerConfig, TransformConfig

pytestmark = pytest.mark.tfx


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tfx_pipeline.pipeline import create_pipeline
    root = tmp_path_factory.mktemp("pipe")
    run = GanRun(gan="pix2pix_wgan_gp", data_root=str(root / "ct"), hparams={"image_size": 32},
                 steps_per_epoch=7, ct_window=(40, 400), bit_depth=16)
    config = PipelineConfig(pipeline_name="p", pipeline_root=str(root / "pipeline"),
                            serving_root=str(root / "serving"), runs=(run,),
                            strategy="one_device", materialize=False)
    pipeline = create_pipeline(config)
    return config, run, {c.id: c for c in pipeline.components}


def custom_config(component) -> dict:
    value = component.exec_properties["custom_config"]
    return json.loads(value) if isinstance(value, str) else value


def test_trainer_custom_config_is_a_trainer_config(built):
    from tfx_pipeline.pipeline import code_fingerprint, trainer_config
    config, run, components = built
    stored = TrainerConfig.from_dict(custom_config(components["Trainer_pix2pix_wgan_gp"]))
    assert stored == trainer_config(config, run)
    assert stored.gan == "pix2pix_wgan_gp" and stored.hparams["image_size"] == 32
    assert (stored.strategy, stored.materialized, stored.steps_per_epoch) == ("one_device", False, 7)
    assert (stored.ct_window, stored.bit_depth) == ((40.0, 400.0), 16)
    assert stored.backup_dir == f"{config.backup_root}/pix2pix_wgan_gp"
    assert stored.code == code_fingerprint()


def test_transform_custom_config_is_a_transform_config(built):
    from tfx_pipeline.pipeline import model_shapes
    _, run, components = built
    stored = TransformConfig.from_dict(custom_config(components["Transform_pix2pix_wgan_gp"]))
    assert stored.shapes == {role: tuple(s) for role, s in model_shapes(run).items()}
    assert stored.ct_window == (40.0, 400.0)


def test_a_strategy_the_trainer_cannot_run_fails_when_the_pipeline_is_built(built):
    import dataclasses

    from tfx_pipeline.pipeline import create_pipeline
    config, _, _ = built
    with pytest.raises(ValueError, match="TrainerConfig.strategy must be one of .* received 'tpu'"):
        create_pipeline(dataclasses.replace(config, strategy="tpu"))


def test_quick_runs_carry_the_presets_ema_decay_into_the_trainer_config():
    from trainer import registry
    from tfx_pipeline.configs import QUICK, SEED, PipelineConfig, preset_runs
    from tfx_pipeline.pipeline import trainer_config
    quick = preset_runs(QUICK, "/data")
    seed = preset_runs(SEED, "/data")
    for run in quick:
        assert run.ema_decay == registry.get(run.gan).presets().quick_ema_decay
    assert all(run.ema_decay == 0.0 for run in seed)
    config = PipelineConfig(pipeline_name="p", pipeline_root="/tmp/p", metadata_path="/tmp/m",
                            serving_root="/tmp/s", runs=quick)
    for run in quick:
        assert trainer_config(config, run).ema_decay == run.ema_decay
