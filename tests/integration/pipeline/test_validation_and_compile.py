"""Data that does not fit a GAN is stopped by validation; the Kubeflow V2 spec compiles."""
import json
import os
import re

import pytest

from support.pipeline_run import node_states, tfxgan
from trainer import registry


def test_wrong_data_is_stopped_before_transform_with_named_features(tmp_path):
    data = tmp_path / "data"
    # The SR pairs are RGB, 8-bit, with 16x16 inputs; pix2pix wants 1 channel, 16-bit, 64x64.
    tfxgan("demo-data", "sr", "-o", str(data), "--count", "12", "--no-progress")
    home = tmp_path / "home"
    proc = tfxgan("run", "--home", str(home), "--gans", "pix2pix_wgan_gp",
                  "--data", f"pix2pix_wgan_gp={data / 'sr'}", "--train-steps", "1",
                  "--beam-mode", "in_memory", check=False)
    assert proc.returncode != 0
    message = proc.stderr
    assert "does not match the GAN's schema" in message
    for feature in ("input_channels", "input_bit_depth", "input_height", "target_channels"):
        assert feature in message, feature
    states = node_states(home / "metadata.sqlite")
    assert states["ExampleValidator_pix2pix_wgan_gp"] == ["COMPLETE"]
    assert states["ValidationGate_pix2pix_wgan_gp"] == ["FAILED"]
    assert "Transform_pix2pix_wgan_gp" not in states or not states["Transform_pix2pix_wgan_gp"]
    assert "Trainer_pix2pix_wgan_gp" not in states or not states["Trainer_pix2pix_wgan_gp"]


def test_kubeflow_v2_spec_has_every_component(tmp_path):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    out = tmp_path / "pipeline.json"
    image = "registry.example.com/tfx-gan:0.1.0"
    proc = tfxgan("compile", "--image", image, "--output", str(out), "--home", "gs://bucket/tfx-gan",
                  "--data-root", "gs://bucket/data")
    doc = json.loads(out.read_text())
    spec = json_format.ParseDict(doc["pipelineSpec"], pipeline_spec_pb2.PipelineSpec(),
                                 ignore_unknown_fields=True)
    tasks = set(spec.root.dag.tasks)
    for gan in registry.GANS:
        for component in ("CuratedSchemaGen", "ExampleValidator", "ValidationGate", "Transform",
                          "Trainer", "GanEvaluator", "Pusher"):
            assert f"{component}_{gan}" in tasks, f"{component}_{gan}"
    for dataset in {spec_.dataset for spec_ in registry.GANS.values()}:
        assert f"ImportExampleGen_{dataset}" in tasks
    # Open-source KFP (Argo) rejects Resolver tasks: the spec must hold none.
    resolvers = [name for name, task in spec.root.dag.tasks.items()
                 if "resolver" in name.lower() or "resolver" in task.component_ref.name.lower()]
    assert not resolvers, resolvers
    assert "resolver" not in out.read_text().lower()
    assert len(tasks) == 7 * len(registry.GANS) + 2 * len(
        {spec_.dataset for spec_ in registry.GANS.values()})
    executors = doc["pipelineSpec"]["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {image}
    assert spec.pipeline_info.name == "tfx-gan"
    # Object-store paths stay URIs (not turned into local paths), and no local files appear.
    assert doc["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/tfx-gan/pipeline"
    text = out.read_text()
    assert "gs://bucket/data/ct" in text and "gs://bucket/tfx-gan/serving/pix2pix_wgan_gp" in text
    assert not os.path.exists("gs:")
    # No local path anywhere in the spec: every root is in the object store.
    local = [v for v in _strings(doc) if str(tmp_path) in v or os.getcwd() in v
             or re.search(r"(^|[\s='\"])/(tmp|home|work|data|models|root)/", v)]
    assert not local, local[:5]
    # The command says what it compiled.
    assert f"{len(tasks)} tasks, image {image}" in proc.stdout
    assert "pipeline root: gs://bucket/tfx-gan/pipeline" in proc.stdout
    assert "serving root:  gs://bucket/tfx-gan/serving" in proc.stdout
    assert "gs://bucket/data/ct (pix2pix_wgan_gp)" in proc.stdout


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def test_compile_refuses_local_roots_unless_allowed(tmp_path):
    out = tmp_path / "p.json"
    image = "registry.example.com/tfx-gan:0.1.0"
    proc = tfxgan("compile", "--image", image, "--output", str(out), "--home", "gs://bucket/h",
                  "--data-root", str(tmp_path / "data"), "--gans", "dcgan", check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"data of dcgan (--data-root, --data) = '{tmp_path / 'data' / 'digits'}'" in proc.stderr
    assert "--allow-local-paths" in proc.stderr and "--serving-root" not in proc.stderr
    assert not out.exists()
    proc = tfxgan("compile", "--image", image, "--output", str(out), "--home", str(tmp_path / "h"),
                  "--data-root", str(tmp_path / "data"), "--gans", "dcgan", "--allow-local-paths")
    assert out.exists() and f"pipeline root: {tmp_path / 'h' / 'pipeline'}" in proc.stdout


def test_compile_rejects_unpinned_image(tmp_path):
    proc = tfxgan("compile", "--image", "tfx-gan:latest", "--output", str(tmp_path / "p.json"), check=False)
    assert proc.returncode == 2 and "pinned tag" in proc.stderr
