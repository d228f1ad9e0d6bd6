"""Beam runner: the same pipeline orchestrated by BeamDagRunner.

Beam pipeline args pass through to every Beam-based component, e.g.
``--runner=DataflowRunner --project=P --region=R --temp_location=gs://...``,
``--runner=FlinkRunner --flink_master=host:8081 --environment_type=LOOPBACK``,
``--runner=SparkRunner --spark_master_url=spark://host:7077`` (docs/PIPELINE.md).
"""
from __future__ import annotations

from tfx_pipeline.configs import PipelineConfig


def run(config: PipelineConfig) -> None:
    from tfx import v1 as tfx
    from tfx_pipeline.pipeline import create_pipeline
    tfx.orchestration.experimental.BeamDagRunner().run(create_pipeline(config))
