"""Adding a GAN is three files: a sixth GAN defined in the test tree (LSGAN,
tests/support/lsgan/) goes through build -> one train step on two replicas ->
export_generator -> the serving contract over gRPC -> the serving config,
with no file under trainer/, serving/ or tfx_pipeline/ knowing its name."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from support import lsgan
from trainer import features as F
from trainer import registry

ROOT = pathlib.Path(__file__).resolve().parents[3]
HELPERS = ROOT / "tests" / "unit" / "trainer" / "helpers"


@pytest.fixture(scope="module")
def spec():
    added = lsgan.SPEC.name not in registry.GANS
    spec = lsgan.register()
    yield spec
    if added:
        registry.unregister(spec.name)


def test_registration_checks_the_contract(spec):
    assert registry.get("lsgan") is spec
    with pytest.raises(ValueError, match="already registered"):
        registry.register(spec)
    module = registry.check_contract(spec)
    assert module.PRESETS.tiny["units"] == 16


def test_pipeline_presets_come_from_the_objective(spec, tmp_path):
    from tfx_pipeline.configs import QUICK, preset_runs
    (run,) = preset_runs(QUICK, str(tmp_path), ["lsgan"])
    assert run.train_steps == 1000 and run.hparams == {"batch_size": 64}
    assert run.data_root == str(tmp_path / "digits")


def test_one_step_on_two_replicas_equals_one_device(spec, tmp_path):
    out = tmp_path / "two.json"
    proc = subprocess.run([sys.executable, str(HELPERS / "two_replicas.py"), str(out),
                           "--register", "support.lsgan", "lsgan"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(out.read_text())["lsgan"]
    assert all(d < 1e-5 for d in r["loss_rel_diff"].values()), r
    assert r["weight_max_abs_diff"] < 1e-5 and r["moved"] > 1e-5, r


def test_export_serve_and_config(spec, tmp_path):
    import tensorflow as tf
    from serving.client import GrpcClient
    from serving.config import MODELS_CONFIG, parse_model_server_config, write_serving_configs
    from serving.server import LocalServer, ServerOptions
    from trainer import export
    hp = spec.hparams(spec.presets().tiny)
    gan = spec.load().build(hp)
    data = tf.data.Dataset.from_tensor_slices(
        {F.IMAGE: np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")}).batch(4)
    history = gan.fit(data, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0])

    base = tmp_path / "serving"
    export.export_generator(spec.name, gan.generator, hp, str(base / spec.name / "1"))
    paths = write_serving_configs(tmp_path / "config", str(base), gans=[spec.name])
    cfg = parse_model_server_config(paths[MODELS_CONFIG])
    assert [m.name for m in cfg.model_config_list.config] == ["lsgan"]

    expected = gan.generator(spec.load().noise_from_seeds(tf.constant([3, 4], tf.int64), hp.latent_dim))
    with LocalServer(ServerOptions(model_config_file=str(paths[MODELS_CONFIG]), rest_port=None,
                                   poll_seconds=0)) as server, GrpcClient(server.grpc_address) as client:
        out = client.predict("lsgan", {F.IN_SEEDS: np.array([3, 4], np.int64)})
    assert out[F.OUT_GENERATED].shape == (2, 28, 28, 1)
    np.testing.assert_allclose(out[F.OUT_GENERATED], expected.numpy(), atol=1e-5)
    assert out[F.OUT_PIXELS].dtype == np.uint8


def test_contract_errors_name_what_is_missing(spec, monkeypatch):
    """An unconditional objective without noise_from_seeds is refused at
    registration (not at export, after training)."""
    import types
    fake = types.ModuleType("fake_gan_objective")
    real = spec.load()
    for name in ("HParams", "build", "input_shapes", "PRESETS"):
        setattr(fake, name, getattr(real, name))
    monkeypatch.setitem(sys.modules, "fake_gan_objective", fake)
    broken = registry.GanSpec("broken_gan", "fake_gan_objective", registry.UNCONDITIONAL, "digits", "x")
    with pytest.raises(registry.GanContractError, match="noise_from_seeds"):
        registry.register(broken)
    assert "broken_gan" not in registry.GANS
    fake.noise_from_seeds = real.noise_from_seeds
    fake.PRESETS = registry.Presets(quick={"bogus": 1}, quick_train_steps=5, tiny={})
    with pytest.raises(registry.GanContractError, match=r"PRESETS.quick is not valid.*bogus"):
        registry.register(broken)
    paired = registry.GanSpec("broken_gan", "fake_gan_objective", registry.PAIRED, "ct", "x")
    fake.PRESETS = real.PRESETS
    with pytest.raises(registry.GanContractError, match=r"roles \['image'\], its kind needs"):
        registry.register(paired)
    with pytest.raises(ValueError, match="lower-case"):
        registry.register(registry.GanSpec("Bad Name", "fake_gan_objective",
                                           registry.UNCONDITIONAL, "digits", "x"))


def test_manifests_and_rendered_configs_need_no_edit(spec):
    """With the sixth GAN registered, every overlay still validates and the
    committed serving configs are current: TF Serving reads the model list the
    pipeline writes next to the pushed models, not one committed per GAN."""
    from deploy import render_configs, validate_manifests
    for overlay in validate_manifests.OVERLAYS:
        assert validate_manifests.check_overlay(overlay) == [], overlay
    assert render_configs.main(["--check"]) == 0
