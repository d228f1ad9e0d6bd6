"""The pipeline end to end on an object store: data, pipeline root and serving root on the
loopback S3 server, then the local model server loads the pushed generator from the bucket.

Only ML Metadata's SQLite file (and temp files) may land on local disk.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pytest

from support.pipeline_run import PASS_ANY, node_states, run_pipeline, tfxgan

pytestmark = pytest.mark.tfx
GAN = "dcgan"
COMPONENTS = ("ImportExampleGen_digits", "StatisticsGen_digits", f"CuratedSchemaGen_{GAN}",
              f"ExampleValidator_{GAN}", f"ValidationGate_{GAN}", f"Transform_{GAN}",
              f"Trainer_{GAN}", f"GanEvaluator_{GAN}", f"Pusher_{GAN}")


def upload_tree(s3, local_dir: str, prefix: str) -> list[str]:
    client, keys = s3.client(), []
    for dirpath, _, files in os.walk(local_dir):
        for name in files:
            path = os.path.join(dirpath, name)
            key = prefix + "/" + os.path.relpath(path, local_dir).replace(os.sep, "/")
            client.upload_file(path, s3.bucket, key)
            keys.append(key)
    return keys


@pytest.fixture(scope="module")
def s3_run(s3, tmp_path_factory):
    local = tmp_path_factory.mktemp("s3run")
    tfxgan("demo-data", "digits", "-o", str(local / "ingested"), "--count", "40", "--no-progress")
    uploaded = upload_tree(s3, str(local / "ingested" / "digits"), "run/data/digits")
    assert any(k.startswith("run/data/digits/Span-0/train/") for k in uploaded)
    workdir = local / "cwd"
    workdir.mkdir()
    tmp_before = set(os.listdir(tempfile.gettempdir()))
    proc, seconds = run_pipeline(
        local / "home", s3.uri("run", "data"), [GAN], cwd=workdir,
        extra=["--pipeline-root", s3.uri("run", "pipeline"),
               "--serving-root", s3.uri("run", "serving"),
               "--metadata", str(local / "home" / "metadata.sqlite"),
               # 2 training steps are never blessed by the default gate; this run checks wiring
               "--evaluation", f"{GAN}={json.dumps(PASS_ANY)}"])
    return {"local": local, "workdir": workdir, "proc": proc, "seconds": seconds,
            "tmp_before": tmp_before}


def test_every_component_completes_on_s3(s3_run):
    states = node_states(s3_run["local"] / "home" / "metadata.sqlite")
    assert {n: states.get(n) for n in COMPONENTS} == {n: ["COMPLETE"] for n in COMPONENTS}, (
        s3_run["proc"].stdout[-3000:])


def test_artifacts_and_the_pushed_generator_are_in_the_bucket(s3, s3_run):
    keys = s3.keys("run/")
    for component in COMPONENTS:
        if component.startswith(("ValidationGate", "Pusher")):
            continue  # no output files of their own (the Pusher's is the serving root)
        assert any(k.startswith(f"run/pipeline/{component}/") for k in keys), component
    pushed = [k for k in keys if k.startswith(f"run/serving/{GAN}/")
              and k.endswith("/saved_model.pb")]
    assert len(pushed) == 1, pushed
    assert any(k.startswith("run/pipeline/GanEvaluator_dcgan/blessing/") and k.endswith("/BLESSED")
               for k in keys)


def test_nothing_but_metadata_on_local_disk(s3_run):
    local, workdir = s3_run["local"], s3_run["workdir"]
    assert os.listdir(workdir) == []  # e.g. no ./s3:/bucket/... from a path mangled to s3:/
    # HOME is local here: ML Metadata, and the run's console log and report
    # (tfx_pipeline/progress.py, report.py); no data, artifact or model
    home = set(os.listdir(local / "home"))
    assert "metadata.sqlite" in home and home <= {"metadata.sqlite", "logs", "report"}, home
    for dirpath, _, files in os.walk(local / "home"):
        for name in files:
            assert not name.startswith(("saved_model", "data_tfrecord", "transform_fn")) and (
                ".tfrecord" not in name and not name.endswith(".gz")), (dirpath, name)
    new_in_tmp = set(os.listdir(tempfile.gettempdir())) - s3_run["tmp_before"]
    assert not any(name.startswith("s3:") for name in new_in_tmp), new_in_tmp
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), "s3:"))


def test_local_server_serves_the_generator_from_the_bucket(s3, s3_run, tmp_path, monkeypatch):
    from serving.client import GrpcClient, build_inputs
    from serving.server import LocalServer, ServerOptions
    from trainer import features as F
    from trainer import registry
    monkeypatch.chdir(tmp_path)
    base = s3.uri("run", "serving", GAN)
    with LocalServer(ServerOptions(model_name=GAN, model_base_path=base, rest_port=None,
                                   poll_seconds=0)) as server:
        with GrpcClient(server.grpc_address, timeout=60) as client:
            inputs, _ = build_inputs(registry.get(GAN).kind, count=2, seed=0)
            prediction = client.predict(GAN, inputs)
    generated = np.asarray(prediction[F.OUT_GENERATED])
    assert generated.ndim == 4 and generated.shape[0] == 2, generated.shape  # [B, H, W, C]
    assert np.isfinite(generated).all() and np.abs(generated).max() <= 1.0
    assert prediction.version is not None and prediction.version > 0
    assert os.listdir(tmp_path) == []
