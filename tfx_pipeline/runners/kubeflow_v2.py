"""Kubeflow Pipelines v2: compile the pipeline into a pipeline spec (JSON).

The container image must hold this project (see Dockerfile); the spec is
submitted to a KFP 2 or Vertex AI Pipelines endpoint (docs/DEPLOY.md).
"""
from __future__ import annotations

import os

from tfx_pipeline.configs import PipelineConfig


def check_image(image: str) -> None:
    """The image must be pinned (a tag other than latest, or a digest)."""
    if not image or image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
        raise ValueError(f"give the container image with a pinned tag or digest, got {image!r}")


def compile_pipeline(config: PipelineConfig, image: str, output_file: str) -> str:
    from tfx import v1 as tfx
    from tfx_pipeline.pipeline import create_pipeline
    check_image(image)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output_file)),
        output_filename=os.path.basename(output_file))
    runner.run(create_pipeline(config), write_out=True)
    return output_file
