"""Local runner: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner.

Also a pipeline file for TFX's own CLI::

    tfx pipeline create --engine local --pipeline_path tfx_pipeline/runners/local.py
    tfx run create --engine local --pipeline_name tfx-gan

which runs this file: every setting comes from ``TFXGAN_*`` environment
variables read in ``__main__`` only (see docs/PIPELINE.md).
"""
from __future__ import annotations

import os

from tfx_pipeline.configs import PipelineConfig

# Beam's DirectRunner in multi-processing mode on both cores (the default of `tfxgan run`).
DIRECT_MULTIPROCESSING = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")
DIRECT_IN_MEMORY = ("--direct_running_mode=in_memory",)


def run(config: PipelineConfig, pipeline=None) -> None:
    """Runs ``pipeline`` (by default ``create_pipeline(config)``)."""
    from tfx import v1 as tfx
    from tfx_pipeline.pipeline import create_pipeline
    tfx.orchestration.LocalDagRunner().run(pipeline or create_pipeline(config))


def config_from_env(env=os.environ) -> PipelineConfig:
    """The pipeline that `tfx run create` executes, from TFXGAN_* variables."""
    from tfx_pipeline.configs import PIPELINE_NAME, QUICK, preset_runs
    home = env.get("TFXGAN_HOME", os.path.abspath("outputs"))
    gans = [g for g in env.get("TFXGAN_GANS", "").split(",") if g] or None
    return PipelineConfig(
        pipeline_name=env.get("TFXGAN_PIPELINE_NAME", PIPELINE_NAME),
        pipeline_root=os.path.join(home, "pipeline"),
        serving_root=os.path.join(home, "serving"),
        metadata_path=os.path.join(home, "metadata.sqlite"),
        runs=preset_runs(env.get("TFXGAN_PRESET", QUICK), env.get("TFXGAN_DATA", "data"), gans),
        beam_pipeline_args=DIRECT_MULTIPROCESSING,
    )


if __name__ == "__main__":
    import logging
    logging.basicConfig(level=logging.INFO)
    run(config_from_env())
