"""The prod manifest's pipeline command is the tested command.

The Job's `tfxgan` arguments are taken from the rendered kubernetes/overlays/prod
(kubectl kustomize), its $(VARS) resolved from the rendered ConfigMap and the
Downward API, with the object store's gs:// roots (overlays/prod/object-store.env)
swapped for the same paths on the loopback S3 server. Only what the test must add
is appended: one GAN, a tiny training run and a gate that lets its generator through.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from support.pipeline_run import PASS_ANY, node_states, tfxgan, tiny_hparams

# Beam in multi-processing mode, as in prod: 4-5 CPU minutes (4-12 min wall on 2 shared cores).
pytestmark = [pytest.mark.tfx, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]
GAN = "dcgan"


def prod_pipeline_args(env_override) -> tuple[list[str], list[str], dict]:
    """(command, args with $(VAR) resolved, the resolved environment) of the prod Job."""
    from deploy import validate_manifests as vm
    objs = vm.render(ROOT / "kubernetes" / "overlays" / "prod")
    (job,) = [o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "pipeline-run"]
    (container,) = [c for c in job["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "pipeline"]
    env = {k: env_override(k, v) for k, v in vm.container_env(container, objs).items()}
    unresolved = {k: v for k, v in env.items() if not isinstance(v, str)}
    assert not unresolved, unresolved
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in container["args"]]
    return container["command"], args, env


def test_prod_job_command_runs_on_the_object_store(s3, tmp_path):
    object_store = dict(line.split("=", 1) for line in (
        ROOT / "kubernetes/overlays/prod/object-store.env").read_text().splitlines()
        if line and not line.startswith("#"))
    gs_prefix = os.path.commonprefix(list(object_store.values()))  # gs://<bucket>/
    assert gs_prefix.startswith("gs://") and gs_prefix.endswith("/"), gs_prefix
    s3_prefix = s3.uri("prod") + "/"
    metadata = tmp_path / "metadata" / "metadata.sqlite"

    def override(name, value):
        if isinstance(value, str) and value.startswith(gs_prefix):
            return s3_prefix + value[len(gs_prefix):]
        if name == "METADATA_PATH":   # the pipeline PVC in the cluster
            return str(metadata)
        if isinstance(value, tuple) and value[2] == "limits.cpu":  # Downward API: this machine
            return str(os.cpu_count() or 1)
        return value

    command, args, env = prod_pipeline_args(override)
    assert command == ["tfxgan"] and args[0] == "run"
    assert env["DATA_ROOT"] == s3_prefix + "data" and env["MODEL_BASE_PATH"].startswith(s3_prefix)
    # the data the Job expects, in the layout `tfxgan demo-data` / `tfxgan ingest` write
    local = tmp_path / "ingested"
    tfxgan("demo-data", "digits", "-o", str(local), "--count", "40", "--no-progress")
    client = s3.client()
    for dirpath, _, files in os.walk(local / "digits"):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), local)
            client.upload_file(os.path.join(dirpath, name), s3.bucket,
                               f"prod/data/{rel.replace(os.sep, '/')}")
    extra = ["--gans", GAN, "--train-steps", "2",
             "--hparams", f"{GAN}={json.dumps(tiny_hparams(GAN))}",
             "--evaluation", f"{GAN}={json.dumps(PASS_ANY)}"]
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    proc = tfxgan(*args, *extra, cwd=workdir)
    states = node_states(metadata)
    for node in ("ImportExampleGen_digits", "StatisticsGen_digits", f"CuratedSchemaGen_{GAN}",
                 f"ExampleValidator_{GAN}", f"ValidationGate_{GAN}", f"Transform_{GAN}",
                 f"Trainer_{GAN}", f"GanEvaluator_{GAN}", f"Pusher_{GAN}"):
        assert states.get(node) == ["COMPLETE"], (node, states, proc.stdout[-2000:])
    keys = s3.keys("prod/")
    assert any(k.startswith(f"prod/pipelines/Transform_{GAN}/") for k in keys)
    assert [k for k in keys if k.startswith(f"prod/serving/{GAN}/")
            and k.endswith("/saved_model.pb")]
    # the working directory (/tmp in the image) holds only the run's console log and
    # report (default --home ./outputs); no data, artifact or model, no ./s3:/ folder
    assert set(os.listdir(workdir)) <= {"outputs"}
    if (workdir / "outputs").exists():
        assert set(os.listdir(workdir / "outputs")) <= {"logs", "report"}
