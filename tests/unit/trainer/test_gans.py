"""Every GAN: one train step, input validation, registry contract, export, NaN guard."""
import dataclasses
import pathlib
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import callbacks, registry
from trainer.gans import pconv_inpainting, unconditional

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))
from tiny_configs import batch_for, tiny  # noqa: E402

NAMES = sorted(registry.GANS)


def _build(name, **extra):
    spec = registry.get(name)
    module = spec.load()
    hp = spec.hparams({**tiny(name), **extra})
    return module, hp, module.build(hp)


def _weights(gan, attrs):
    return {v.path: v.numpy().copy() for a in attrs for v in getattr(gan, a).trainable_variables}


# Variables whose gradient is zero by construction (they may still move by
# round-off): the output bias of a WGAN-GP critic cancels in D(fake) - D(real)
# and does not change ∇ₓD; a RaGAN discriminator's cancels in C(x) - E[C(y)].
ZERO_GRADIENT = {"pix2pix_wgan_gp": {"logits/bias"}, "pconv_inpainting": {"logits/bias"}}
# SRResCycGAN's generators have zero-initialised tail convs (they start as bicubic
# up-sampling / average pooling): on the first step only the tails get a gradient,
# so the update test trains them for two steps.
UPDATE_STEPS = {"srrescycgan": 2}


def _dataset(module, hp, n=4, batch=4, seed=0):
    return tf.data.Dataset.from_tensor_slices(batch_for(module, hp, n, seed)).batch(batch)


def test_registry_holds_the_five_seed_gans():
    assert {"pix2pix_wgan_gp", "vanilla_gan", "dcgan", "pconv_inpainting",
            "srrescycgan"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_objective_module_meets_the_contract(name):
    module = registry.check_contract(registry.get(name))
    presets = module.PRESETS
    assert presets.quick_train_steps >= 1
    registry.get(name).hparams(presets.quick)
    registry.get(name).hparams(presets.tiny)


@pytest.mark.parametrize("name", NAMES)
def test_hparams_contract(name):
    module = registry.get(name).load()
    hp = module.HParams()
    assert dataclasses.is_dataclass(hp)
    fields = {f.name for f in dataclasses.fields(hp)}
    assert {"image_size", "channels", "batch_size", "seed"} <= fields
    assert any("learning_rate" in f for f in fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.seed = 1
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['bogus'\]"):
        registry.get(name).hparams({"bogus": 1})
    with pytest.raises(ValueError, match="image_size.*received 0"):
        registry.get(name).hparams({"image_size": 0})
    shapes = module.input_shapes(hp)
    assert set(shapes) == set(registry.get(name).roles)


def test_seed_size_defaults():
    p2p = registry.get("pix2pix_wgan_gp").hparams()
    assert (p2p.image_size, p2p.channels, p2p.lambda_gp, p2p.lambda_l1, p2p.n_critic) == (256, 1, 10, 100, 1)
    van = registry.get("vanilla_gan").hparams()
    assert (van.image_size, van.latent_dim, van.batch_size, van.real_label) == (28, 100, 256, 0.9)
    pc = registry.get("pconv_inpainting").hparams()
    assert (pc.image_size, pc.channels, pc.lambda_adv, pc.perceptual_weights) == (512, 3, 0.01, "imagenet")
    sr = registry.get("srrescycgan").hparams()
    assert (sr.scale, sr.lr_decay_steps, sr.lr_decay_rate) == (4, 10_000, 0.5)
    assert registry.get("srrescycgan").load().input_shapes(sr) == {"input": (64, 64, 1), "target": (256, 256, 1)}


@pytest.mark.parametrize("name", NAMES)
def test_one_train_step_updates_both_players(name):
    module, hp, gan = _build(name)
    g_attrs, d_attrs = gan.PLAYERS
    g0, d0 = _weights(gan, g_attrs), _weights(gan, d_attrs)
    steps = UPDATE_STEPS.get(name, 1)
    history = gan.fit(_dataset(module, hp, n=4 * steps), epochs=1, verbose=0).history
    assert set(history) == {m.name for m in gan.metrics}
    assert {"d_loss", "g_loss"} <= set(history)
    for key, values in history.items():
        assert np.isfinite(values[0]), (key, values)
    for before, after, side in ((g0, _weights(gan, g_attrs), "generator"),
                                (d0, _weights(gan, d_attrs), "discriminator")):
        unchanged = {k for k in before if np.array_equal(before[k], after[k])}
        assert unchanged <= ZERO_GRADIENT.get(name, set()), (side, unchanged)
        assert len(unchanged) < len(before), side


@pytest.mark.parametrize("name", NAMES)
def test_generator_call_signature(name):
    module, hp, gan = _build(name)
    batch = {k: tf.constant(v) for k, v in batch_for(module, hp, 2).items()}
    out = gan.generator(gan.generator_inputs(gan.unpack(batch)), training=False)
    assert out.shape == (2, hp.image_size, hp.image_size, hp.channels)
    assert out.dtype == tf.float32


@pytest.mark.parametrize("name", ["pix2pix_wgan_gp", "srrescycgan", "vanilla_gan"])
def test_wrong_shape_names_expected_and_received(name):
    module, hp, gan = _build(name)
    role, shape = next(iter(module.input_shapes(hp).items()))
    bad = {r: tf.zeros([2, *s]) for r, s in module.input_shapes(hp).items()}
    bad[role] = tf.zeros([2, shape[0] + 2, shape[1], shape[2]])
    expected = rf"\[None, {shape[0]}, {shape[1]}, {shape[2]}\]"
    received = rf"\[2, {shape[0] + 2}, {shape[1]}, {shape[2]}\]"
    with pytest.raises(ValueError, match=rf"{role}.*expected.*{expected}.*received {received}"):
        gan.unpack(bad)
    # fit() reports the same error.
    with pytest.raises(ValueError, match=rf"expected.*{expected}"):
        gan.fit(tf.data.Dataset.from_tensors(bad), epochs=1, verbose=0)


def test_wrong_dtype_and_missing_role_are_named():
    module, hp, gan = _build("pix2pix_wgan_gp")
    shape = (2, hp.image_size, hp.image_size, hp.channels)
    with pytest.raises(ValueError, match="'target' must be float32.*received dtype float64"):
        gan.unpack({"input": tf.zeros(shape), "target": tf.zeros(shape, tf.float64)})
    with pytest.raises(ValueError, match=r"missing \['target'\]"):
        gan.unpack({"input": tf.zeros(shape)})


def test_noise_from_seeds_is_deterministic_per_seed():
    a = unconditional.noise_from_seeds(tf.constant([1, 2, 3], tf.int64), 8).numpy()
    b = unconditional.noise_from_seeds(tf.constant([3, 2], tf.int64), 8).numpy()
    assert a.shape == (3, 8)
    np.testing.assert_array_equal(a[2], b[0])       # same seed, same z, whatever the batch
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], a[1])
    with pytest.raises(ValueError, match=r"received shape \[1, 2\]"):
        unconditional.noise_from_seeds(tf.constant([[1, 2]], tf.int64), 8)


def test_pconv_composite_keeps_known_pixels():
    image = tf.fill([1, 4, 4, 1], 0.5)
    pred = tf.fill([1, 4, 4, 1], -1.0)
    mask = tf.constant(np.pad(np.ones([2, 2]), 1)[None, ..., None], tf.float32)
    out = pconv_inpainting.composite(pred, image, mask).numpy()[0, ..., 0]
    assert out[1, 1] == 0.5 and out[0, 0] == -1.0


def test_srrescycgan_generator_is_g_hr_and_identity_reported():
    module, hp, gan = _build("srrescycgan")
    assert gan.generator is gan.g_hr
    assert "identity_loss" in {m.name for m in gan.metrics}
    _, _, plain = _build("srrescycgan", lambda_identity=0.0)
    assert "identity_loss" not in {m.name for m in plain.metrics}


@pytest.mark.parametrize("name", ["pix2pix_wgan_gp", "vanilla_gan"])
def test_generator_exports_with_saved_model(name, tmp_path):
    module, hp, gan = _build(name)
    gen = gan.generator
    if name == "vanilla_gan":
        class Export(tf.Module):
            def __init__(self):
                super().__init__()
                self.generator = gen

            @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
            def serve(self, seeds):
                return self.generator(unconditional.noise_from_seeds(seeds, hp.latent_dim),
                                      training=False)
        probe = tf.constant([4, 5], tf.int64)
    else:
        class Export(tf.Module):
            def __init__(self):
                super().__init__()
                self.generator = gen

            @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 1], tf.float32)])
            def serve(self, images):
                return self.generator(images, training=False)
        probe = tf.random.stateless_uniform([2, 32, 32, 1], seed=[0, 0], minval=-1, maxval=1)
    module_ = Export()
    tf.saved_model.save(module_, str(tmp_path), signatures={"serving_default": module_.serve})
    loaded = tf.saved_model.load(str(tmp_path))
    np.testing.assert_allclose(loaded.serve(probe).numpy(), module_.serve(probe).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_nan_guard_stops_within_one_step_naming_the_loss():
    module, hp, gan = _build("vanilla_gan")
    data = batch_for(module, hp, 20)
    data["image"][8:] = np.nan                       # batches 3, 4, 5 are poisoned
    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    ds = tf.data.Dataset.from_tensor_slices(data).batch(4)
    with pytest.raises(callbacks.NonFiniteLossError, match=r"step 3 .*non-finite loss .*d_loss=nan"):
        gan.fit(ds, epochs=1, verbose=0, callbacks=[callbacks.NonFiniteLossGuard(), counter])
    assert seen == [0, 1]                            # the third step never finished normally


def test_nan_guard_without_raising_sets_stop_training():
    module, hp, gan = _build("vanilla_gan")
    data = batch_for(module, hp, 12)
    data["image"][:] = np.inf
    ds = tf.data.Dataset.from_tensor_slices(data).batch(4)
    history = gan.fit(ds, epochs=3, verbose=0,
                      callbacks=[callbacks.NonFiniteLossGuard(raise_error=False)])
    assert len(history.history["d_loss"]) == 1       # stopped in the first epoch


def test_image_grid_callback_writes_summary(tmp_path):
    module, hp, gan = _build("dcgan")
    batch = batch_for(module, hp, 4)
    grid = callbacks.image_grid(np.zeros([5, 4, 4, 1]) - 1.0)
    assert grid.shape == (1, 8, 12, 1) and grid.dtype == np.uint8     # 2 rows × 3 columns
    cb = callbacks.ImageGridCallback(str(tmp_path), batch)
    gan.fit(tf.data.Dataset.from_tensor_slices(batch).batch(4), epochs=1, verbose=0, callbacks=[cb])
    assert list(tmp_path.glob("events.out.tfevents.*"))


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", NAMES)
def test_generators_output_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    module, hp, gan = _build(name)
    batch = {k: tf.constant(v) for k, v in batch_for(module, hp, 2).items()}
    out = gan.generator(gan.generator_inputs(gan.unpack(batch)), training=False)
    assert out.dtype == tf.float32


def test_pix2pix_trains_under_mixed_bfloat16(mixed_bfloat16):
    module, hp, gan = _build("pix2pix_wgan_gp")
    history = gan.fit(_dataset(module, hp), epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in history.values()), history


class _RecordingCritic:
    """Stands in for a critic network and records the images it scores."""

    def __init__(self, critic):
        self.critic, self.images = critic, []

    def __call__(self, inputs, training=False):
        self.images.append(inputs[1].numpy())
        return self.critic(inputs, training=training)

    @property
    def trainable_variables(self):
        return self.critic.trainable_variables


def test_pix2pix_each_critic_step_sees_its_own_real_pairs():
    """With n_critic = 2 the two critic steps train on disjoint real pairs
    (every second example), not twice on the same batch."""
    module, hp, gan = _build("pix2pix_wgan_gp", n_critic=2, batch_size=4)
    batch = {k: tf.constant(v) for k, v in batch_for(module, hp, 4, seed=5).items()}
    recorder = _RecordingCritic(gan.critic)
    object.__setattr__(gan, "critic", recorder)   # bypass Keras attribute tracking
    logs = gan.train_step(batch)
    target = batch["target"].numpy()
    real_batches = [im for im in recorder.images
                    if im.shape[0] < 4 and any(np.array_equal(im[0], t) for t in target)]
    # The two critic steps' real images: examples (0, 2) then (1, 3).
    assert len(real_batches) == 2, [im.shape for im in recorder.images]
    np.testing.assert_array_equal(real_batches[0], target[0::2])
    np.testing.assert_array_equal(real_batches[1], target[1::2])
    # No critic call ever scores the whole real batch.
    assert not any(im.shape[0] == 4 and np.array_equal(im, target) for im in recorder.images)
    assert np.isfinite(float(logs["d_loss"])) and np.isfinite(float(logs["gp"]))


def test_pix2pix_batch_must_be_a_multiple_of_n_critic():
    spec = registry.get("pix2pix_wgan_gp")
    with pytest.raises(ValueError, match="batch_size 3 must be a multiple of n_critic 2"):
        spec.hparams({**tiny("pix2pix_wgan_gp"), "batch_size": 3, "n_critic": 2})


@pytest.mark.parametrize("name", ["vanilla_gan", "dcgan"])
def test_r1_penalty_is_half_gamma_times_the_squared_input_gradient(name):
    module, hp, gan = _build(name, r1_gamma=4.0)
    real = tf.constant(next(iter(_dataset(module, hp)))["image"])
    logits, r1 = gan.real_logits_and_r1(real)
    with tf.GradientTape() as tape:
        tape.watch(real)
        again = gan.discriminator(real, training=True)
        total = tf.reduce_sum(again)
    grads = tape.gradient(total, real)
    if name == "vanilla_gan":  # no dropout: the two forward passes agree
        np.testing.assert_allclose(logits.numpy(), again.numpy(), rtol=1e-6)
        np.testing.assert_allclose(r1.numpy(), 2.0 * tf.reduce_sum(grads ** 2, [1, 2, 3]).numpy(),
                                   rtol=1e-5)
    assert r1.shape == [real.shape[0]] and (r1.numpy() > 0).all()
    _, off = _build(name)[2].real_logits_and_r1(real)
    np.testing.assert_array_equal(off.numpy(), 0.0)


@pytest.mark.parametrize("name", ["vanilla_gan", "dcgan"])
def test_diffaugment_and_r1_train_both_players(name):
    module, hp, gan = _build(name, diffaugment="translation,cutout", r1_gamma=1.0)
    before = {role: _weights(gan, [role]) for role in ("generator", "discriminator")}
    logs = gan.fit(_dataset(module, hp), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    for role, weights in before.items():
        after = _weights(gan, [role])
        moved = [k for k in weights if not np.array_equal(weights[k], after[k])]
        assert moved, f"{role} did not train"


def test_bad_diffaugment_policy_and_negative_r1_are_named():
    with pytest.raises(ValueError, match="'flip'"):
        registry.get("dcgan").hparams({"diffaugment": "flip"})
    with pytest.raises(ValueError, match="r1_gamma must be >= 0"):
        registry.get("vanilla_gan").hparams({"r1_gamma": -1.0})


def test_dcgan_generator_adam_beta_1_is_a_hyper_parameter():
    assert _build("dcgan", g_beta_1=0.5)[2].g_optimizer.beta_1 == 0.5
    assert _build("dcgan")[2].g_optimizer.beta_1 == 0.9  # Keras' default, as before
    with pytest.raises(ValueError, match="g_beta_1 must be in"):
        registry.get("dcgan").hparams({"g_beta_1": 1.0})
