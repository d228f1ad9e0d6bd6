"""The same pipeline under BeamDagRunner (multi-processing DirectRunner) and through
TFX's own CLI. Minutes each: `pytest -m slow tests/e2e/test_runners_slow.py`."""
import os
import subprocess
import sys

import pytest

from support.pipeline_run import node_states, tfxgan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    tfxgan("demo-data", "digits", "-o", str(data), "--count", "48", "--no-progress")
    return data


def test_beam_dag_runner_multi_processing(tmp_path, digits):
    home = tmp_path / "home"
    proc = tfxgan("run", "--runner", "beam", "--home", str(home), "--data-root", str(digits),
                  "--gans", "vanilla_gan", "--train-steps", "2",
                  "--hparams", 'vanilla_gan={"batch_size": 8}', timeout=2400)
    states = node_states(home / "metadata.sqlite")
    for node in ("ImportExampleGen_digits", "Transform_vanilla_gan", "Trainer_vanilla_gan",
                 "GanEvaluator_vanilla_gan", "Pusher_vanilla_gan"):
        assert states[node] == ["COMPLETE"], (node, states.get(node))
    assert "vanilla_gan" in proc.stdout


def test_tfx_cli_local_engine(tmp_path, digits):
    env = dict(os.environ, HOME=str(tmp_path), TFXGAN_HOME=str(tmp_path / "home"),
               TFXGAN_DATA=str(digits), TFXGAN_GANS="vanilla_gan", TF_CPP_MIN_LOG_LEVEL="2")
    tfx = os.path.join(os.path.dirname(sys.executable), "tfx")
    pipeline_file = os.path.join(os.path.dirname(__file__), "..", "..", "tfx_pipeline", "runners", "local.py")
    for args in (["pipeline", "create", "--engine", "local", "--pipeline_path", pipeline_file],
                 ["run", "create", "--engine", "local", "--pipeline_name", "tfx-gan"]):
        proc = subprocess.run([tfx, *args], env=env, capture_output=True, text=True, timeout=2400)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    states = node_states(tmp_path / "home" / "metadata.sqlite")
    assert states["Trainer_vanilla_gan"] == ["COMPLETE"]
