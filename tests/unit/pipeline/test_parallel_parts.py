"""The parallel runner's parts: the runs that share a dataset stay together."""
import pytest

from tfx_pipeline.configs import GanRun
from tfx_pipeline.runners.parallel import PartFailed, parts


def run(gan, root):
    return GanRun(gan=gan, data_root=f"/data/{root}")


def test_runs_sharing_a_data_root_form_one_part_largest_first():
    runs = (run("pix2pix_wgan_gp", "ct"), run("vanilla_gan", "digits"),
            run("srrescycgan", "sr"), run("dcgan", "digits"))
    got = [[r.gan for r in part] for part in parts(runs)]
    assert got == [["vanilla_gan", "dcgan"], ["pix2pix_wgan_gp"], ["srrescycgan"]]


def test_one_dataset_is_one_part():
    runs = (run("vanilla_gan", "digits"), run("dcgan", "digits"))
    assert parts(runs) == [runs]


def test_a_failed_part_names_its_component_or_its_gans():
    assert str(PartFailed("Trainer_dcgan", "ValueError: x", ("dcgan",))).startswith(
        "component Trainer_dcgan failed: ValueError: x")
    assert "the part of vanilla_gan, dcgan" in str(
        PartFailed(None, "boom", ("vanilla_gan", "dcgan")))


def test_workers_below_one_are_refused():
    from tfx_pipeline.configs import PipelineConfig
    from tfx_pipeline.runners import parallel
    config = PipelineConfig(pipeline_name="p", pipeline_root="/r", serving_root="/s",
                            metadata_path=None, runs=(run("dcgan", "digits"),))
    with pytest.raises(ValueError, match="workers must be >= 1"):
        parallel.run(config, workers=0)
