"""Beam runner: the same pipeline orchestrated by BeamDagRunner.

Beam pipeline args pass through to every Beam-based component, e.g.
``--runner=DataflowRunner --project=P --region=R --temp_location=gs://...``,
``--runner=FlinkRunner --flink_master=host:8081 --environment_type=LOOPBACK``,
``--runner=SparkRunner --spark_master_url=spark://host:7077`` (docs/PIPELINE.md).
"""
from __future__ import annotations

from tfx_pipeline.configs import PipelineConfig


def run(config: PipelineConfig, pipeline=None) -> None:
    """Runs ``pipeline`` (by default ``create_pipeline(config)``)."""
    # tfx.v1 does not export BeamDagRunner in 1.16; this is its home module.
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
    from tfx_pipeline.pipeline import create_pipeline
    BeamDagRunner().run(pipeline or create_pipeline(config))
