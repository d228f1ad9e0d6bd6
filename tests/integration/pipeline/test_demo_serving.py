"""The main job's last step: serve what was pushed and ask each generator for images."""
import os

import pytest

pytestmark = pytest.mark.tfx


def test_demo_serves_the_pushed_generators_and_reports_each(tmp_path):
    from serving import testing
    from tfx_pipeline.configs import PipelineConfig, GanRun
    from tfx_pipeline.runners.demo import SAMPLES, serve_and_predict
    from trainer import registry
    serving_root, pipeline_root = tmp_path / "serving", tmp_path / "pipeline"
    runs = []
    for gan, blessed in (("dcgan", True), ("vanilla_gan", False)):
        marker = pipeline_root / f"GanEvaluator_{gan}" / "blessing" / "7"
        marker.mkdir(parents=True)
        (marker / ("BLESSED" if blessed else "NOT_BLESSED")).write_text("")
        if blessed:                                   # what the Pusher wrote
            testing.write_standin_model(serving_root / gan, 3, registry.UNCONDITIONAL,
                                        size=28, model_name=gan)
        runs.append(GanRun(gan=gan, data_root=str(tmp_path / "data" / "digits")))
    config = PipelineConfig(pipeline_name="p", pipeline_root=str(pipeline_root),
                            serving_root=str(serving_root), runs=tuple(runs))
    lines = []
    written = serve_and_predict(config, str(tmp_path / "home"), out=lines.append)
    assert list(written) == ["dcgan"]                 # only the pushed one is served
    assert len(written["dcgan"]) == SAMPLES and all(os.path.isfile(f) for f in written["dcgan"])
    assert any(line.strip().startswith("dcgan") and "served over gRPC" in line and
               os.path.join("predictions", "dcgan") in line for line in lines), lines
    assert lines[-1].startswith("  TF Serving config for these models:")
