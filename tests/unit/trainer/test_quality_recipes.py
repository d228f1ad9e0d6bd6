"""Training recipes: generator weight averaging, the residual U-Net, the supervised twin."""
import pathlib
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import registry
from trainer.callbacks import GeneratorEMA
from trainer.models.unet import unet_generator

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))
from tiny_configs import batch_for, tiny  # noqa: E402


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


class _Recorder(keras.callbacks.Callback):
    """Records the generator's first kernel after every step (before EMA's own hook)."""

    def __init__(self):
        super().__init__()
        self.kernels = []

    def on_train_batch_end(self, batch, logs=None):
        self.kernels.append(np.array(self.model.generator.weights[0]))


def test_ema_leaves_the_generator_holding_the_warmed_up_average():
    spec = registry.get("pix2pix_wgan_gp")
    module = spec.load()
    hp = spec.hparams({**tiny("pix2pix_wgan_gp"), "g_learning_rate": 1e-2})
    gan = module.build(hp)
    start = np.array(gan.generator.weights[0])
    data = tf.data.Dataset.from_tensor_slices(batch_for(module, hp, 24)).batch(hp.batch_size)
    recorder, decay = _Recorder(), 0.9
    gan.fit(data, epochs=1, verbose=0, callbacks=[recorder, GeneratorEMA(decay)])
    expected = start.astype(np.float64)
    for n, w in enumerate(recorder.kernels, start=1):
        d = min(decay, (1.0 + n) / (10.0 + n))
        expected = d * expected + (1 - d) * w
    final = np.array(gan.generator.weights[0])
    assert not np.allclose(final, recorder.kernels[-1])      # not the raw last weights
    np.testing.assert_allclose(final, expected, rtol=1e-4, atol=1e-6)
    critic_vars = [np.array(v) for v in gan.critic.weights]  # only the generator is averaged
    assert all(np.all(np.isfinite(v)) for v in critic_vars)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_ema_decay_must_be_inside_the_open_interval(decay):
    with pytest.raises(ValueError, match="decay must be in"):
        GeneratorEMA(decay)


def test_residual_unet_is_the_identity_at_init_and_clips():
    x = _images([2, 32, 32, 1])
    g = unet_generator(32, 1, base_filters=4, residual=True, dropout_rate=0.0)
    np.testing.assert_allclose(g(x, training=False).numpy(), x, atol=1e-6)
    plain = unet_generator(32, 1, base_filters=4, dropout_rate=0.0)
    assert g.count_params() == plain.count_params()
    kernel, bias = g.get_layer("residual").get_weights()
    g.get_layer("residual").set_weights([np.full_like(kernel, 3.0), np.full_like(bias, 2.0)])
    y = g(x, training=False).numpy()
    assert y.min() >= -1.0 and y.max() <= 1.0 and np.isclose(y, 1.0).any()


@pytest.mark.parametrize("pixel", [{}, {"lambda_l1": 0.0, "lambda_l2": 3000.0}],
                         ids=["seed_l1", "quick_squared_error"])
def test_twin_generator_step_is_the_pure_pixel_loss_step(pixel):
    """lambda_adv = 0: the generator's update does not depend on the critic."""
    spec = registry.get("pix2pix_wgan_gp")
    module = spec.load()
    hp = spec.hparams({**tiny("pix2pix_wgan_gp"), **spec.presets().twin, "dropout_rate": 0.0,
                       **pixel})
    batch = batch_for(module, hp, hp.batch_size)
    results = []
    for critic_seed in (1, 2):
        tf.keras.utils.set_random_seed(0)
        gan = module.build(hp)
        keras.utils.set_random_seed(critic_seed)
        for v in gan.critic.trainable_variables:  # a different critic each time
            v.assign(tf.random.normal(v.shape, stddev=0.1))
        gan.train_on_batch(batch)
        results.append([np.array(v) for v in gan.generator.trainable_variables])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_pix2pix_squared_error_term_is_weighted_into_the_generator_loss():
    """g_loss = λ_l1·L1 + λ_l2·MSE of the step's generator output (no critic term here)."""
    spec = registry.get("pix2pix_wgan_gp")
    module = spec.load()
    for l1_weight, l2_weight in ((0.0, 2.0), (3.0, 2.0)):
        hp = spec.hparams({**tiny("pix2pix_wgan_gp"), "lambda_adv": 0.0, "dropout_rate": 0.0,
                           "generator_norm": "layer", "lambda_l1": l1_weight,
                           "lambda_l2": l2_weight})
        batch = batch_for(module, hp, hp.batch_size)
        tf.keras.utils.set_random_seed(0)
        gan = module.build(hp)
        x, y = batch["input"], batch["target"]
        error = y - np.array(gan.generator(x, training=True))   # before the step's update
        logs = gan.train_on_batch(batch, return_dict=True)
        expected = l1_weight * np.abs(error).mean() + l2_weight * np.square(error).mean()
        assert logs["g_loss"] == pytest.approx(expected, rel=1e-4)
        assert logs["l1_loss"] == pytest.approx(np.abs(error).mean(), rel=1e-4)
        assert logs["l2_loss"] == pytest.approx(np.square(error).mean(), rel=1e-4)
    with pytest.raises(ValueError, match="lambda_l2"):
        spec.hparams({"lambda_l2": -1.0})
    # no squared-error term: nothing logged for it, and compile() cannot add one
    gan = module.build(spec.hparams(tiny("pix2pix_wgan_gp")))
    assert "l2_loss" not in [m.name for m in gan.metrics]
    with pytest.raises(ValueError, match="HParams.lambda_l2 > 0 at build time"):
        gan.compile(lambda_l2=1.0)


def test_twin_presets_are_checked_at_registration():
    spec = registry.get("pix2pix_wgan_gp")
    bad = registry.Presets(quick=spec.presets().quick, quick_train_steps=1,
                           tiny=spec.presets().tiny, twin={"no_such_field": 0})
    module = spec.load()
    original = module.PRESETS
    module.PRESETS = bad
    try:
        with pytest.raises(registry.GanContractError, match="PRESETS.twin"):
            registry.check_contract(spec)
    finally:
        module.PRESETS = original


def test_full_resolution_head_starts_as_the_identity_and_sees_the_input():
    x = _images([2, 32, 32, 1])
    g = unet_generator(32, 1, base_filters=4, residual=True, full_res_filters=8, dropout_rate=0.0)
    np.testing.assert_allclose(g(x, training=False).numpy(), x, atol=1e-6)
    assert g.get_layer("full_res_skip").output.shape[-1] == 8 + 1   # features + the input
    assert g.get_layer("residual").output.shape[1:3] == (32, 32)


@pytest.mark.parametrize("kwargs, match", [
    (dict(full_res_filters=8), "full_res_filters needs residual=True"),
    (dict(residual=True, full_res_filters=-1), "full_res_filters must be >= 0"),
])
def test_full_resolution_head_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet_generator(32, 1, base_filters=4, **kwargs)



def test_harmonic_fill_keeps_known_pixels_and_solves_laplace_in_the_holes():
    from trainer.layers import harmonic_fill
    x = np.linspace(-1, 1, 32, dtype="float32")
    ramp = np.broadcast_to(x[None, :, None], (32, 32, 1))[None].copy()   # harmonic itself
    known = np.ones((1, 32, 32, 1), "float32")
    known[:, 8:20, 10:22] = 0.0
    filled = harmonic_fill(ramp * known, known, iterations=64).numpy()
    np.testing.assert_array_equal(filled[known > 0], ramp[known > 0])
    np.testing.assert_allclose(filled, ramp, atol=2e-3)            # a linear ramp is recovered


def test_biharmonic_fill_recovers_a_parabola_the_harmonic_fill_cannot():
    from trainer.layers import biharmonic_fill, harmonic_fill
    x = np.linspace(-1, 1, 32, dtype="float32")
    bowl = (x[:, None] ** 2 + 0.5 * x[None, :] ** 2)[None, :, :, None]   # biharmonic, not harmonic
    known = np.ones((1, 32, 32, 1), "float32")
    known[:, 8:20, 10:22] = 0.0
    filled = biharmonic_fill(bowl * known, known).numpy()
    np.testing.assert_array_equal(filled[known > 0], bowl[known > 0])
    np.testing.assert_allclose(filled, bowl, atol=1e-4)
    assert np.abs(harmonic_fill(bowl * known, known, iterations=64).numpy() - bowl).max() > 0.02


def test_biharmonic_fill_agrees_with_scikit_image_away_from_the_border():
    from scipy.ndimage import gaussian_filter
    from skimage.restoration import inpaint_biharmonic

    from trainer.layers import biharmonic_fill
    rng = np.random.default_rng(0)   # smooth images in about [-1.5, 1.5]
    image = (4 * gaussian_filter(rng.uniform(-1, 1, (2, 32, 32, 3)), (0, 2, 2, 0))).astype("float32")
    known = np.ones((2, 32, 32, 1), "float32")
    known[0, 5:15, 6:9] = 0.0                       # a stroke
    known[0, 20:26, 18:29] = 0.0                    # and a box
    known[1, 3:29, 15:17] = 0.0                     # a long thin stroke
    ours = biharmonic_fill(image * known, known, iterations=300).numpy()
    for img, k, got in zip(image, known, ours):
        want = inpaint_biharmonic(img, k[..., 0] < 0.5, channel_axis=-1)
        np.testing.assert_allclose(got, want, atol=1e-3)   # the fills differ from the truth by 0.06-0.4


@pytest.mark.parametrize("prior", ["harmonic", "biharmonic"])
def test_pconv_prior_starts_as_its_classical_fill(prior):
    from trainer import layers
    from trainer.models.pconv_unet import pconv_unet
    g = pconv_unet(32, 3, base_filters=4, prior=prior)
    image = _images([2, 32, 32, 3])
    mask = np.ones((2, 32, 32, 1), "float32")
    mask[:, 4:16, 4:16] = 0.0
    out = g([image * mask, mask], training=False).numpy()
    fill = getattr(layers, f"{prior}_fill")(image * mask, mask).numpy()
    np.testing.assert_allclose(out, np.clip(fill, -1, 1), atol=1e-5)
    with pytest.raises(ValueError, match="prior must be one of"):
        pconv_unet(32, 3, base_filters=4, prior="triharmonic")


def test_pconv_step_solves_its_prior_once():
    # The classical-fill prior is most of a quick-preset step: the generator runs once
    # per step, so the traced step holds one conjugate-gradient loop, not one per update.
    spec = registry.get("pconv_inpainting")
    module = spec.load()
    hp = spec.hparams({**tiny("pconv_inpainting"), "prior": "biharmonic", "prior_iterations": 3})
    gan = module.build(hp)
    gan.compile()
    batch = {k: tf.constant(v[:hp.batch_size]) for k, v in batch_for(module, hp, 4).items()}
    graph = tf.function(gan.train_step).get_concrete_function(batch).graph
    loops = [op for op in graph.get_operations() if op.type in ("While", "StatelessWhile")]
    assert len(loops) == 1


EMA_TWO_REPLICAS = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
sys.path.insert(0, sys.argv[1])
from tiny_configs import batch_for, tiny
from trainer import registry
from trainer.callbacks import GeneratorEMA
spec = registry.get("pix2pix_wgan_gp")
module = spec.load()
hp = spec.hparams(tiny("pix2pix_wgan_gp"))
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    gan = module.build(hp)
data = tf.data.Dataset.from_tensor_slices(batch_for(module, hp, 12)).batch(hp.batch_size)
recorder = []
class Record(tf.keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        recorder.append(np.array(gan.generator.weights[0]))
gan.fit(data, epochs=1, verbose=0, callbacks=[Record(), GeneratorEMA(0.5)])
values = gan.generator.weights[0].value.values           # one per replica
print(json.dumps({"replicas": len(values),
                  "equal": bool(np.array_equal(values[0].numpy(), values[1].numpy())),
                  "not_last": not np.allclose(values[0].numpy(), recorder[-1])}))
"""


def test_ema_under_two_replicas_leaves_every_replica_holding_the_average():
    import json
    import os
    import subprocess
    helpers = pathlib.Path(__file__).parent / "helpers"
    proc = subprocess.run([sys.executable, "-c", EMA_TWO_REPLICAS, str(helpers)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"replicas": 2, "equal": True, "not_last": True}


def test_minibatch_std_is_the_mean_std_of_each_group_of_consecutive_examples():
    from trainer.layers import MinibatchStdDev
    x = _images((8, 3, 3, 2))
    y = MinibatchStdDev(4)(x).numpy()
    assert y.shape == (8, 3, 3, 3)
    np.testing.assert_array_equal(y[..., :2], x)
    for group in range(2):
        rows = x[4 * group:4 * group + 4]
        expected = np.mean(np.sqrt(rows.var(axis=0) + 1e-8))
        np.testing.assert_allclose(y[4 * group:4 * group + 4, ..., 2], expected, rtol=1e-5)
    # Whole groups: each half of the batch (one replica's share) gets the same values.
    np.testing.assert_allclose(MinibatchStdDev(4)(x[4:]).numpy(), y[4:], rtol=1e-6)
    # A batch smaller than the group is one group.
    np.testing.assert_allclose(MinibatchStdDev(16)(x[:4]).numpy(), y[:4], rtol=1e-6)
    # A group of copies of one image has no spread.
    copies = np.repeat(x[:1], 4, axis=0)
    assert np.abs(MinibatchStdDev(4)(copies).numpy()[..., 2]).max() < 1e-3


def test_minibatch_std_names_a_bad_group_size_and_a_batch_it_does_not_divide():
    from trainer.gans import dcgan
    from trainer.layers import MinibatchStdDev
    with pytest.raises(ValueError, match="group_size must be an int >= 2, received 1"):
        MinibatchStdDev(1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of the group size 4"):
        MinibatchStdDev(4)(_images((6, 2, 2, 1)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of the group size 4"):
        MinibatchStdDev(4)(_images((10, 2, 2, 1)))
    with pytest.raises(ValueError, match="minibatch_std must be 0 .off. or a group size >= 2"):
        dcgan.HParams(minibatch_std=1)
    with pytest.raises(ValueError, match="minibatch_std=8 must divide batch_size=12"):
        dcgan.HParams(batch_size=12, minibatch_std=8)
    assert dcgan.HParams(batch_size=4, minibatch_std=16).minibatch_std == 16  # one group of 4


def test_dcgan_discriminator_with_minibatch_std_trains():
    from trainer.gans import dcgan
    hp = dcgan.HParams(**{**dcgan.PRESETS.tiny, "minibatch_std": 2})
    model = dcgan.build(hp)
    assert "minibatch_std" in [layer.name for layer in model.discriminator.layers]
    before = [np.array(w) for w in model.discriminator.trainable_weights]
    model.fit(tf.data.Dataset.from_tensors({"image": _images((4, 28, 28, 1))}).repeat(),
              steps_per_epoch=2, epochs=1, verbose=0)
    after = model.discriminator.trainable_weights
    assert any(np.abs(a - np.array(b)).max() > 0 for a, b in zip(before, after))


def test_pack_stacks_each_run_of_consecutive_images_in_channels():
    from trainer.gans.unconditional import pack_examples
    x = _images((6, 3, 3, 2))
    y = pack_examples(tf.constant(x), 3).numpy()
    assert y.shape == (2, 3, 3, 6)
    for p in range(2):
        for k in range(3):
            np.testing.assert_array_equal(y[p, ..., 2 * k:2 * k + 2], x[3 * p + k])
    assert pack_examples(x, 1) is x
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of pack=4"):
        pack_examples(tf.constant(x), 4)


def test_dcgan_pack_names_a_bad_value_and_its_discriminator_judges_packs():
    from trainer.gans import dcgan
    for bad in (0, 3, True, 2.0):
        with pytest.raises(ValueError, match="pack must be an int >= 1 that divides batch_size=4"):
            dcgan.HParams(batch_size=4, pack=bad)
    with pytest.raises(ValueError, match="minibatch_std=8 must divide batch_size=24 / pack=2"):
        dcgan.HParams(batch_size=24, pack=2, minibatch_std=8)   # 12 packs
    assert dcgan.HParams(batch_size=24, pack=2, minibatch_std=4).pack == 2
    hp = dcgan.HParams(**{**dcgan.PRESETS.tiny, "pack": 2, "r1_gamma": 1.0})
    model = dcgan.build(hp)
    assert model.discriminator.input_shape == (None, 28, 28, 2)
    real = tf.constant(_images((4, 28, 28, 1)))
    logits, r1 = model.real_logits_and_r1(real)
    assert logits.shape == (2, 1) and r1.shape == (2,) and (r1.numpy() > 0).all()
    before = [np.array(w) for w in model.discriminator.trainable_weights]
    history = model.fit(tf.data.Dataset.from_tensors({"image": real}).repeat(),
                        steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][-1])
    after = model.discriminator.trainable_weights
    assert any(np.abs(a - np.array(b)).max() > 0 for a, b in zip(before, after))


@pytest.mark.parametrize("make, shape", [
    (lambda: keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu"),
     (4, 8, 8, 3)),
    (lambda: keras.layers.Dense(5), (4, 7)),
])
def test_spectral_norm_runs_the_layer_with_its_kernel_over_its_largest_singular_value(make, shape):
    from trainer.layers import SpectralNorm
    layer = make()
    sn = SpectralNorm(layer)
    x = tf.constant(_images(shape))
    sn(x)
    raw = np.array(layer.kernel)
    sigma = np.linalg.svd(raw.reshape(-1, raw.shape[-1]), compute_uv=False)[0]
    assert abs(float(sn.sigma()) - sigma) / sigma > 1e-3  # u starts random: not yet converged
    for _ in range(30):  # one power iteration per training call
        sn(x, training=True)
    assert float(sn.sigma()) == pytest.approx(sigma, rel=1e-4)
    np.testing.assert_array_equal(np.array(layer.kernel), raw)  # the variable keeps its value
    layer.kernel.assign(raw / sigma)
    expected = layer(x).numpy()  # the plain layer with the normalised kernel
    layer.kernel.assign(raw)
    np.testing.assert_allclose(sn(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    # The gradient passes through sigma: scaling the kernel leaves the output unchanged,
    # so the gradient is orthogonal to the kernel.
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.square(sn(x)))
    grad = tape.gradient(y, layer.kernel).numpy()
    assert np.abs(grad).max() > 1e-4
    assert abs(np.sum(grad * raw)) < 1e-3 * np.abs(grad).sum() * np.abs(raw).max()


def test_spectral_norm_names_what_it_cannot_wrap():
    from trainer.gans import dcgan
    from trainer.layers import SpectralNorm
    with pytest.raises(ValueError, match="wraps a Conv2D or Dense layer, received ReLU"):
        SpectralNorm(keras.layers.ReLU())
    with pytest.raises(ValueError, match="power_iterations must be an int >= 1, received 0"):
        SpectralNorm(keras.layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="spectral_norm must be a bool"):
        dcgan.HParams(spectral_norm=1)


def test_dcgan_spectral_norm_wraps_every_discriminator_kernel():
    from trainer.gans import dcgan
    from trainer.layers import SpectralNorm
    model = dcgan.build(dcgan.HParams(**{**dcgan.PRESETS.tiny, "spectral_norm": True}))
    wrapped = [layer.name for layer in model.discriminator.layers if isinstance(layer, SpectralNorm)]
    assert wrapped == ["down0_sn", "down1_sn", "logit_sn"]
    u_before = [np.array(layer.u) for layer in model.discriminator.layers
                if isinstance(layer, SpectralNorm)]
    model.fit(tf.data.Dataset.from_tensors({"image": _images((4, 28, 28, 1))}).repeat(),
              steps_per_epoch=2, epochs=1, verbose=0)
    u_after = [np.array(layer.u) for layer in model.discriminator.layers
               if isinstance(layer, SpectralNorm)]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(u_before, u_after))
    assert not any(isinstance(layer, SpectralNorm) for layer in model.generator.layers)


def test_dcgan_feature_matching_reports_the_distance_and_moves_the_generator():
    from trainer.gans import dcgan
    with pytest.raises(ValueError, match="feature_matching"):
        dcgan.HParams(feature_matching=-1.0)
    hp = dcgan.HParams(**{**dcgan.PRESETS.tiny, "minibatch_std": 2, "feature_matching": 1.0})
    model = dcgan.build(hp)
    assert "feature_matching" in [m.name for m in model.metrics]
    # The feature model shares the discriminator's weights (one set of variables).
    assert ({id(v) for v in model.critic_features_model.trainable_variables}
            == {id(v) for v in model.discriminator.trainable_variables})
    before = [np.array(w) for w in model.generator.trainable_weights]
    history = model.fit(tf.data.Dataset.from_tensors({"image": _images((4, 28, 28, 1))}).repeat(),
                        steps_per_epoch=2, epochs=1, verbose=0)
    fm = history.history["feature_matching"][-1]
    assert np.isfinite(fm) and fm > 0
    after = model.generator.trainable_weights
    assert any(np.abs(a - np.array(b)).max() > 0 for a, b in zip(before, after))
    # Off (the default): no extra metric, no feature model.
    plain = dcgan.build(dcgan.HParams(**dcgan.PRESETS.tiny))
    assert "feature_matching" not in [m.name for m in plain.metrics]
    assert not hasattr(plain, "critic_features_model")


def _trains_with_pair_augment(module, extra, lr, hr, generator):
    """``module``'s tiny GAN refuses an unknown pair augmentation and, with ``extra``,
    takes two finite steps on (lr, hr) that move ``generator(model)``'s weights."""
    from trainer import features as F
    with pytest.raises(ValueError, match="'mirror'"):
        module.HParams(**{**module.PRESETS.tiny, "pair_augment": "mirror"})
    model = module.build(module.HParams(**{**module.PRESETS.tiny, **extra}))
    before = [np.array(w) for w in generator(model).trainable_weights]
    history = model.fit(tf.data.Dataset.from_tensors({F.INPUT: lr, F.TARGET: hr}).repeat(),
                        steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all()
    assert any(np.abs(a - np.array(b)).max() > 0
               for a, b in zip(before, generator(model).trainable_weights))


def test_pix2pix_pair_augment_trains_and_names_a_bad_policy():
    from trainer.gans import pix2pix_wgan_gp as p2p
    x = _images((4, 32, 32, 1))
    _trains_with_pair_augment(p2p, {"pair_augment": "dihedral"}, x, x, lambda m: m.generator)


def test_sr_pair_augment_trains_and_names_a_bad_policy():
    from trainer.gans import srrescycgan
    hr = _images((4, 32, 32, 3))
    lr = hr.reshape(4, 8, 4, 8, 4, 3).mean(axis=(2, 4))
    _trains_with_pair_augment(srrescycgan, {"channels": 3, "pair_augment": "dihedral,channels"},
                              lr, hr, lambda m: m.g_hr)
