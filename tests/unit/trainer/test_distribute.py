"""Strategy choice, and N replicas = one device (run in subprocesses: logical
devices and TF_CONFIG must be set before TensorFlow starts).

The two-replica check of vanilla_gan, dcgan and srrescycgan and the
two-process MultiWorkerMirroredStrategy run are marked ``slow``; run them with

    .venv/bin/python -m pytest tests/unit/trainer/test_distribute.py -m slow
"""
import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from trainer import distribute

HELPERS = pathlib.Path(__file__).parent / "helpers"
PYTHON = sys.executable


def test_get_strategy_names():
    assert isinstance(distribute.get_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    assert isinstance(distribute.get_strategy("default"), tf.distribute.OneDeviceStrategy)
    assert isinstance(distribute.get_strategy(), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="unknown strategy 'tpu'; known: default, one_device"):
        distribute.get_strategy("tpu")


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        distribute.get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(ValueError, match="not a valid cluster spec"):
        distribute.get_strategy("multi_worker")


def test_replica_helpers_outside_strategy():
    per_example = tf.constant([1.0, 2.0, 3.0])
    assert distribute.global_batch_mean(per_example).numpy() == pytest.approx(2.0)
    assert distribute.cross_replica_mean(tf.constant([[1.0, 3.0]])).numpy() == pytest.approx(2.0)
    rows = distribute.replica_slice(lambda g: tf.range(g), 3)
    np.testing.assert_array_equal(rows.numpy(), [0, 1, 2])


def _two_replicas(tmp_path, names):
    out = tmp_path / "two.json"
    proc = subprocess.run([PYTHON, str(HELPERS / "two_replicas.py"), str(out), *names],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def _assert_equal_to_one_device(results):
    for name, r in results.items():
        for key, diff in r["loss_rel_diff"].items():
            assert diff < 1e-5, (name, key, r["losses"][key], r["losses_two"][key])
        assert r["weight_max_abs_diff"] < 1e-5, (name, r["weight_max_abs_diff"])
        assert r["moved"] > 1e-5, (name, "the step did not change the weights")


def test_two_replicas_equal_one_device(tmp_path):
    """pix2pix (dropout, synchronised batch norm, gradient penalty; also with two
    critic steps on their own halves of the batch), pconv (cross-replica RaGAN
    means, masks drawn per step), vanilla_gan with DiffAugment and R1
    (augmentations drawn per step for the global batch) and dcgan with the
    minibatch std over groups of 2 (each replica holds whole groups),
    spectral normalisation (power-iteration vectors kept per replica) and
    feature matching (feature means over the global batch), and dcgan
    self-conditioned on clusters, on 2 logical CPUs."""
    _assert_equal_to_one_device(_two_replicas(
        tmp_path, ["pix2pix_wgan_gp", 'pix2pix_wgan_gp:{"n_critic": 2}', "pconv_inpainting",
                   'vanilla_gan:{"diffaugment": "translation,cutout", "r1_gamma": 1.0}',
                   'dcgan:{"minibatch_std": 2, "spectral_norm": true, "feature_matching": 1.0}',
                   'dcgan:{"minibatch_std": 2, "clusters": 2}']))


@pytest.mark.slow
def test_two_replicas_equal_one_device_other_gans(tmp_path):
    _assert_equal_to_one_device(_two_replicas(tmp_path, ["vanilla_gan", "dcgan", "srrescycgan"]))


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_two_processes_end_with_same_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [PYTHON, str(HELPERS / "multi_worker.py"), str(tmp_path), "dcgan", "3"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outputs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-4000:]
    reports = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert [r["replicas"] for r in reports] == [2, 2]
    for r in reports:
        assert all(np.isfinite(v) for v in r["losses"].values()), r
    # Reported losses are aggregated over both workers' replicas: identical.
    assert reports[0]["losses"] == pytest.approx(reports[1]["losses"], rel=1e-6)
    w0, w1 = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert len(w0.files) == len(w1.files) > 0
    for key in w0.files:
        np.testing.assert_allclose(w0[key], w1[key], rtol=0, atol=1e-6, err_msg=key)


def test_check_global_batch():
    distribute.check_global_batch(4, 2)
    distribute.check_global_batch(1, 1)
    with pytest.raises(ValueError, match=r"batch_size 1 does not split evenly over 2 replicas.*e\.g\. 2"):
        distribute.check_global_batch(1, 2)
    with pytest.raises(ValueError, match=r"pix2pix batch_size 3 does not split evenly over 2 "
                                         r"replicas.*multiple of 2 \(e\.g\. 4\).*'one_device'"):
        distribute.check_global_batch(3, 2, "pix2pix batch_size")


UNEVEN_BATCH = """
import sys, pathlib
sys.path.insert(0, {root!r})
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from trainer import registry
two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
spec = registry.get("pix2pix_wgan_gp")
small = dict(image_size=32, channels=1, base_filters=4)
with two.scope():
    spec.load().build(spec.hparams(dict(small, batch_size=2)))   # even: builds
    try:
        spec.load().build(spec.hparams(dict(small, batch_size=1)))  # the seed's batch of 1
    except ValueError as err:
        print("ValueError:", err)
"""


def test_uneven_global_batch_is_rejected_when_built_on_two_replicas():
    """pix2pix's seed batch of 1 under a two-replica MirroredStrategy: the
    loss scale would be halved and the draws shared, so building fails."""
    root = str(pathlib.Path(__file__).resolve().parents[3])
    proc = subprocess.run([PYTHON, "-c", UNEVEN_BATCH.format(root=root)], capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert ("ValueError: pix2pix_wgan_gp batch_size 1 does not split evenly over 2 replicas"
            in proc.stdout), proc.stdout + proc.stderr[-2000:]
