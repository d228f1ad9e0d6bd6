"""Golden values of the pure losses, and the gradient penalty analytically."""
import math

import numpy as np
import pytest
import tensorflow as tf

from trainer import losses


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _bce(logit, label):
    p = _sigmoid(logit)
    return -(label * math.log(p) + (1 - label) * math.log(1 - p))


def test_bce_label_smoothing_golden():
    real = tf.constant([[2.0], [-0.5]])
    fake = tf.constant([[-1.0], [3.0]])
    got = losses.minimax_discriminator_loss(real, fake, real_label=0.9).numpy()
    want = [_bce(2.0, 0.9) + _bce(-1.0, 0.0), _bce(-0.5, 0.9) + _bce(3.0, 0.0)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Hand value: -0.9 log σ(2) - 0.1 log(1-σ(2)) - log(1-σ(-1)) = 0.640190
    assert got[0] == pytest.approx(0.640190, abs=1e-5)
    np.testing.assert_allclose(losses.minimax_generator_loss(fake).numpy(),
                               [_bce(-1.0, 1.0), _bce(3.0, 1.0)], rtol=1e-6)


def test_bce_rejects_bad_label():
    with pytest.raises(ValueError, match="received 1.5"):
        losses.minimax_discriminator_loss(tf.zeros([1, 1]), tf.zeros([1, 1]), real_label=1.5)


def test_wasserstein_golden():
    real = tf.constant([[[[1.0]], [[3.0]]]])      # [1, 2, 1, 1] patch map, mean 2
    fake = tf.constant([[[[-1.0]], [[0.0]]]])     # mean -0.5
    assert losses.wasserstein_discriminator_loss(real, fake).numpy() == pytest.approx([-2.5])
    assert losses.wasserstein_generator_loss(fake).numpy() == pytest.approx([0.5])


def test_ragan_golden():
    real = tf.constant([1.0, 2.0])
    fake = tf.constant([0.0, -2.0])
    mr, mf = 1.5, -1.0
    sp = lambda v: math.log1p(math.exp(v))
    want_d = [sp(-(1.0 - mf)) + sp(0.0 - mr), sp(-(2.0 - mf)) + sp(-2.0 - mr)]
    want_g = [sp(-(0.0 - mr)) + sp(1.0 - mf), sp(-(-2.0 - mr)) + sp(2.0 - mf)]
    np.testing.assert_allclose(losses.relativistic_average_discriminator_loss(real, fake).numpy(),
                               want_d, rtol=1e-6)
    np.testing.assert_allclose(losses.relativistic_average_generator_loss(real, fake).numpy(),
                               want_g, rtol=1e-6)
    # Explicit (e.g. cross-replica) means replace the local ones.
    got = losses.relativistic_average_discriminator_loss(real, fake, real_mean=0.0, fake_mean=0.0)
    np.testing.assert_allclose(got.numpy(), [sp(-1.0) + sp(0.0), sp(-2.0) + sp(-2.0)], rtol=1e-6)


def test_l1_l2_golden():
    a = tf.constant([[[[0.0], [1.0]]], [[[0.5], [-0.5]]]])   # [2, 1, 2, 1]
    b = tf.constant([[[[1.0], [1.0]]], [[[0.0], [0.5]]]])
    np.testing.assert_allclose(losses.l1_loss(a, b).numpy(), [0.5, 0.75])
    np.testing.assert_allclose(losses.l2_loss(a, b).numpy(), [0.5, 0.625])


def test_l1_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[1, 4, 4, 1\] and \[1, 2, 2, 1\]"):
        losses.l1_loss(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 2, 2, 1]))


def test_total_variation_golden():
    gen = tf.constant([[[0.0, 1.0], [2.0, 4.0]]])[..., None]     # [1, 2, 2, 1]
    tgt = tf.zeros([1, 2, 2, 1])
    # horizontal diffs of gen: 1, 2 -> mean 1.5; vertical: 2, 3 -> mean 2.5
    assert losses.total_variation_loss(gen, tgt).numpy() == pytest.approx([4.0])
    # A constant offset has the target's gradients: zero loss.
    assert losses.total_variation_loss(gen + 3.0, gen).numpy() == pytest.approx([0.0])


def test_cycle_golden():
    lr = tf.zeros([1, 2, 2, 1])
    hr = tf.zeros([1, 4, 4, 1])
    got = losses.cycle_loss(lr, lr + 0.25, hr, hr - 0.5)
    assert got.numpy() == pytest.approx([0.75])


def test_identity_golden_and_shape_check():
    ref = tf.ones([2, 4, 4, 1])
    assert losses.identity_loss(ref * 0.5, ref).numpy() == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError, match=r"\[2, 1, 1, 1\].*\[2, 4, 4, 1\]"):
        losses.identity_loss(tf.ones([2, 1, 1, 1]), ref)


def test_perceptual_golden():
    f1 = [tf.fill([2, 2, 2, 3], 1.0), tf.fill([2, 1, 1, 4], 2.0)]
    f2 = [tf.fill([2, 2, 2, 3], 0.0), tf.fill([2, 1, 1, 4], 0.5)]
    assert losses.perceptual_loss(f1, f2, "l2").numpy() == pytest.approx([1.0 + 2.25] * 2)
    assert losses.perceptual_loss(f1, f2, "l1").numpy() == pytest.approx([1.0 + 1.5] * 2)
    # A single feature map is accepted as a one-layer list.
    assert losses.perceptual_loss(f1[0], f2[0]).numpy() == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="'cos'"):
        losses.perceptual_loss(f1, f2, "cos")


# ----------------------------------------------------------- gradient penalty
def _linear_critic(w):
    w = tf.constant(w, tf.float32)
    return lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])     # D(x) = <w, x>, [B]


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (2.0, 1.0), (3.0, 4.0)])
def test_gradient_penalty_linear_critic(norm, expected):
    rng = np.random.default_rng(0)
    direction = rng.normal(size=(1, 4, 4, 2))
    w = norm * direction / np.linalg.norm(direction)
    real = tf.constant(rng.normal(size=(3, 4, 4, 2)), tf.float32)
    fake = tf.constant(rng.normal(size=(3, 4, 4, 2)), tf.float32)
    alpha = losses.interpolation_weights(3, seed=[1, 2])
    gp = losses.gradient_penalty(_linear_critic(w), real, fake, alpha)
    assert gp.shape == (3,)
    np.testing.assert_allclose(gp.numpy(), [expected] * 3, atol=1e-5)


def _patch_critic(w, patches=(3, 3)):
    """A linear PatchGAN-like critic: every one of the P patches scores <w, x>,
    so the critic value (the patch mean) is <w, x> with gradient norm ||w||."""
    w = tf.constant(w, tf.float32)
    def critic(x):
        score = tf.reduce_sum(x * w, axis=[1, 2, 3])                # [B]
        return tf.tile(score[:, None, None, None], [1, *patches, 1])  # [B, h, w, 1]
    return critic


def test_gradient_penalty_of_patch_critic_uses_the_patch_mean():
    """A patch critic whose mean has gradient norm 1 is exactly 1-Lipschitz:
    penalty 0 (the patch sum's gradient would have norm P = 9 and penalty 64)."""
    rng = np.random.default_rng(1)
    direction = rng.normal(size=(1, 4, 4, 2))
    w = direction / np.linalg.norm(direction)
    real = tf.constant(rng.normal(size=(2, 4, 4, 2)), tf.float32)
    fake = tf.constant(rng.normal(size=(2, 4, 4, 2)), tf.float32)
    gp = losses.gradient_penalty(_patch_critic(w), real, fake, tf.fill([2, 1, 1, 1], 0.3),
                                 epsilon=0.0)
    np.testing.assert_allclose(gp.numpy(), [0.0, 0.0], atol=1e-10)


def test_wasserstein_terms_and_penalty_see_the_same_critic_value():
    """For a non-linear patch critic, the Wasserstein losses use D = mean of the
    patch map and the penalty is (||grad D|| - 1)² of that same D."""
    kernel = tf.constant(np.random.default_rng(2).normal(size=(3, 3, 2, 1)), tf.float32)
    def critic(x):
        return tf.tanh(tf.nn.conv2d(x, kernel, 1, "VALID")) * 3.0   # [B, 2, 2, 1] patches
    rng = np.random.default_rng(3)
    real = tf.constant(rng.normal(size=(2, 4, 4, 2)), tf.float32)
    fake = tf.constant(rng.normal(size=(2, 4, 4, 2)), tf.float32)
    value = lambda x: tf.reduce_mean(critic(x), axis=[1, 2, 3])    # D(x) [B]
    np.testing.assert_allclose(losses.critic_value(critic(real)).numpy(), value(real).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.wasserstein_discriminator_loss(critic(real), critic(fake)),
                               value(fake) - value(real), rtol=1e-6)
    np.testing.assert_allclose(losses.wasserstein_generator_loss(critic(fake)), -value(fake),
                               rtol=1e-6)
    alpha = tf.constant([0.25, 0.75], shape=[2, 1, 1, 1])
    x_hat = real + alpha * (fake - real)
    norms = []
    for i in range(2):   # each example's gradient on its own
        xi = x_hat[i:i + 1]
        with tf.GradientTape() as tape:
            tape.watch(xi)
            d = value(xi)
        norms.append(np.linalg.norm(tape.gradient(d, xi).numpy()))
    expected = (np.array(norms) - 1.0) ** 2
    gp = losses.gradient_penalty(critic, real, fake, alpha, epsilon=0.0)
    np.testing.assert_allclose(gp.numpy(), expected, rtol=1e-5)


def test_gradient_penalty_is_nan_safe_at_zero_gradient():
    critic_w = tf.Variable(tf.zeros([1, 4, 4, 1]))
    real, fake = tf.zeros([2, 4, 4, 1]), tf.ones([2, 4, 4, 1])
    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(lambda x: tf.reduce_sum(x * critic_w, axis=[1, 2, 3]),
                                     real, fake, tf.fill([2, 1, 1, 1], 0.5))
        total = tf.reduce_mean(gp)
    grad = tape.gradient(total, critic_w)
    assert total.numpy() == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.isfinite(grad.numpy()))
    # Without ε the norm's gradient at 0 is NaN: the case the ε exists for.
    with tf.GradientTape() as tape:
        gp0 = losses.gradient_penalty(lambda x: tf.reduce_sum(x * critic_w, axis=[1, 2, 3]),
                                      real, fake, tf.fill([2, 1, 1, 1], 0.5), epsilon=0.0)
        total0 = tf.reduce_mean(gp0)
    assert np.any(np.isnan(tape.gradient(total0, critic_w).numpy()))


def test_interpolation_weights_uniform_per_example():
    alpha = losses.interpolation_weights(4000, seed=[3, 4]).numpy()
    assert alpha.shape == (4000, 1, 1, 1)
    a = alpha.ravel()
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert len(np.unique(a)) > 0.99 * a.size    # one draw per example (float32 ties aside)
    # Uniform, not normal: mean 1/2, variance 1/12, a flat histogram.
    assert a.mean() == pytest.approx(0.5, abs=0.02)
    assert a.var() == pytest.approx(1 / 12, abs=0.005)
    counts, _ = np.histogram(a, bins=10, range=(0, 1))
    assert counts.min() > 320 and counts.max() < 480
    # Stateless: the same seed gives the same draw, another seed another.
    np.testing.assert_array_equal(alpha, losses.interpolation_weights(4000, seed=[3, 4]).numpy())
    assert not np.array_equal(alpha, losses.interpolation_weights(4000, seed=[3, 5]).numpy())


def test_feature_matching_terms_have_the_gradient_of_the_mean_feature_distance():
    rng = np.random.default_rng(0)
    fake = tf.constant(rng.normal(size=(6, 5)), tf.float32)
    real_mean = tf.constant(rng.normal(size=(5,)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(fake)
        exact = tf.reduce_sum(tf.square(tf.reduce_mean(fake, axis=0) - real_mean))
        terms, distance = losses.feature_matching_loss(fake, tf.reduce_mean(fake, axis=0),
                                                       real_mean)
        surrogate = tf.reduce_mean(terms)
    assert terms.shape == (6,)
    assert float(distance) == pytest.approx(float(exact), rel=1e-6)
    np.testing.assert_allclose(tape.gradient(surrogate, fake).numpy(),
                               tape.gradient(exact, fake).numpy(), rtol=1e-5, atol=1e-7)
    # Matching means: no pull, whatever the spread of the features.
    terms, distance = losses.feature_matching_loss(fake, real_mean, real_mean)
    assert float(distance) == 0.0 and np.all(terms.numpy() == 0.0)
    with pytest.raises(ValueError, match=r"fake_features must be \[B, F\], received shape \[6\]"):
        losses.feature_matching_loss(fake[:, 0], real_mean, real_mean)
