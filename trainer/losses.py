"""GAN losses as pure functions of logits, images and features.

Every function returns **per-example** losses of shape ``[B]`` (averaged over
the non-batch dimensions). The objectives in ``trainer.gans`` combine them per
example and divide the sum by the *global* batch with
``trainer.distribute.global_batch_mean``, so a loss means the same thing on
one device and on N replicas. ``tf.reduce_mean`` of a result gives the usual
batch-mean loss.

Names follow TF-GAN: ``<family>_generator_loss`` / ``<family>_discriminator_loss``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf


# ----------------------------------------------------------------- helpers
def _check_same_shape(a: tf.Tensor, b: tf.Tensor, what: str) -> None:
    sa, sb = a.shape, b.shape
    if sa.rank is not None and sb.rank is not None and not sa.is_compatible_with(sb):
        raise ValueError(f"{what}: shapes must match, received {sa.as_list()} and {sb.as_list()}")


def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    """Mean over every axis but the first: [B, ...] -> [B]."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 1:
        return x
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)  # [B, N] -> [B]


def sigmoid_cross_entropy(logits: tf.Tensor, label: float) -> tf.Tensor:
    """Per-example binary cross-entropy of ``logits`` against a constant ``label``.

    ``BCE(l, y) = -y log σ(l) - (1 - y) log(1 - σ(l))``, computed stably as
    ``softplus(l) - y·l``. Returns [B].
    """
    logits = tf.cast(logits, tf.float32)
    return _per_example_mean(tf.nn.softplus(logits) - label * logits)


# ------------------------------------------------- minimax / non-saturating
def minimax_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                               real_label: float = 0.9) -> tf.Tensor:
    """Discriminator loss of the original GAN with one-sided label smoothing.

    Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661; label smoothing
    from Salimans et al. 2016, https://arxiv.org/abs/1606.03498 (§3.4)::

        L_D = BCE(D(x), s) + BCE(D(G(z)), 0),   s = real_label (0.9)

    Args:
        real_logits, fake_logits: [B, ...] logits for real and generated data.
        real_label: target for real data; 1.0 disables smoothing.
    Returns:
        [B] per-example loss.
    """
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"real_label must be in (0, 1], received {real_label}")
    return sigmoid_cross_entropy(real_logits, real_label) + sigmoid_cross_entropy(fake_logits, 0.0)


def minimax_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, §3)::

        L_G = BCE(D(G(z)), 1) = -log σ(D(G(z)))

    Returns [B].
    """
    return sigmoid_cross_entropy(fake_logits, 1.0)


def feature_matching_loss(fake_features: tf.Tensor, fake_mean: tf.Tensor,
                          real_mean: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Feature matching (Salimans et al. 2016): the distance ``|m_f - m_r|^2`` between
    the mean discriminator features of generated and real images, as per-example terms.

    ``fake_features`` [B, F] are this replica's generated examples' features,
    ``fake_mean`` [F] their mean over the global batch and ``real_mean`` [F] the
    real batch's (both constants here). Returns ``(terms [B], distance [])``:
    the gradient of ``|m_f - m_r|^2`` with respect to one example's features is
    ``2 (m_f - m_r) / B_global``, so ``terms = 2 (m_f - m_r) . f_i`` averaged
    over the global batch (summed over replicas, as the optimisers sum
    gradients) has exactly that gradient; its value is not the distance, which
    is returned for reporting.
    """
    if fake_features.shape.rank != 2:
        raise ValueError(f"fake_features must be [B, F], received shape "
                         f"{fake_features.shape.as_list()}")
    diff = tf.stop_gradient(tf.cast(fake_mean, tf.float32) - tf.cast(real_mean, tf.float32))
    terms = tf.reduce_sum(2.0 * diff * tf.cast(fake_features, tf.float32), axis=1)
    return terms, tf.reduce_sum(tf.square(diff))


# ------------------------------------------------------------- Wasserstein
def critic_value(logits: tf.Tensor) -> tf.Tensor:
    """The critic's scalar value per example, ``D(x)``: the mean of its output.

    WGAN and WGAN-GP define the critic as a scalar function ``D: X -> R``.
    A PatchGAN critic outputs a map of P patch scores [B, h, w, 1]; its value
    is their mean, ``D(x) = (1/P) Σ_p D_p(x)``, so that the Wasserstein terms
    and the gradient penalty constrain and use the *same* function (and its
    scale does not grow with the image size). Returns [B].
    """
    return _per_example_mean(tf.cast(logits, tf.float32))


def wasserstein_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Critic loss of WGAN (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875)::

        L_D = D(x̃) - D(x)      (mean over the batch: E[D(G(z))] - E[D(x)])

    ``D`` is :func:`critic_value` (a patch map's mean). Returns [B].
    """
    return critic_value(fake_logits) - critic_value(real_logits)


def wasserstein_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Generator loss of WGAN: ``L_G = -D(G(z))``, ``D`` = :func:`critic_value`. Returns [B]."""
    return -critic_value(fake_logits)


def interpolation_weights(batch_size, seed) -> tf.Tensor:
    """α ~ U[0, 1], one per example, shaped [B, 1, 1, 1] for image interpolation.

    WGAN-GP (Gulrajani et al. 2017, Algorithm 1) samples ε ~ U[0, 1]; the seed
    code's normal draw is a defect (it extrapolates outside the segment).
    ``seed`` is a stateless seed [2].
    """
    return tf.random.stateless_uniform([batch_size, 1, 1, 1], seed=seed, minval=0.0, maxval=1.0)


def gradient_penalty(critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor, fake: tf.Tensor,
                     alpha: tf.Tensor, epsilon: float = 1e-12) -> tf.Tensor:
    """Two-sided gradient penalty of WGAN-GP.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs",
    https://arxiv.org/abs/1704.00028, eq. (3)::

        x̂  = x + α (x̃ - x),         α ~ U[0, 1] per example
        GP = (sqrt(‖∇_x̂ D(x̂)‖₂² + ε) - 1)²

    ``ε`` inside the square root keeps the gradient of the norm finite when
    ``∇D`` is zero (the seed's plain ``sqrt`` gives NaN there).

    ``D`` is :func:`critic_value`, the same scalar the Wasserstein terms use:
    for a PatchGAN critic the *mean* of the patch map. The paper's critic is
    a scalar function and the penalty makes *that* function 1-Lipschitz.
    Penalising the gradient of the patch *sum* instead (as the seed does)
    constrains P·D (P = 900 patches at 256²): the critic the Wasserstein
    terms see is then ~1/P-Lipschitz and the adversarial signal ~1/P of its
    intended size next to the reconstruction terms.

    Args:
        critic: maps images [B, H, W, C] to logits [B, ...]; reduced per
            example with :func:`critic_value` (the per-example values are
            summed over the batch before differentiating, so each example's
            gradient is its own as long as the critic has no batch coupling).
        real, fake: [B, H, W, C] images.
        alpha: [B, 1, 1, 1] (or broadcastable) interpolation weights in [0, 1].
        epsilon: added to the squared norm before the square root.
    Returns:
        [B] per-example penalty.
    """
    _check_same_shape(real, fake, "gradient_penalty real/fake")
    interpolated = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        value = critic_value(critic(interpolated))  # D(x̂) [B]
    grads = tape.gradient(value, interpolated)  # ∇_x̂ D(x̂) per example, [B, H, W, C]
    squared = tf.reduce_sum(tf.reshape(tf.square(grads), [tf.shape(grads)[0], -1]), axis=1)  # [B]
    norm = tf.sqrt(squared + epsilon)
    return tf.square(norm - 1.0)


# ------------------------------------------------ relativistic average GAN
def _ragan_terms(a_logits, b_mean):
    return tf.cast(a_logits, tf.float32) - b_mean


def relativistic_average_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                                            real_mean=None, fake_mean=None) -> tf.Tensor:
    """Discriminator loss of the relativistic average GAN (RaGAN).

    Jolicoeur-Martineau 2018, https://arxiv.org/abs/1807.00734, eq. (11)-(12)
    with the sigmoid (standard GAN) link::

        D_ra(x, y) = σ(C(x) - E_y[C(y)])
        L_D = -log D_ra(x_r, x_f) - log(1 - D_ra(x_f, x_r))
            = softplus(-(C(x_r) - E[C(x_f)])) + softplus(C(x_f) - E[C(x_r)])

    Args:
        real_logits, fake_logits: critic outputs C(·) [B, ...].
        real_mean, fake_mean: E[C(x_r)] and E[C(x_f)] as scalars; default to
            the means of the given tensors. Pass cross-replica means under a
            distribution strategy.
    Returns:
        [B] per-example loss.
    """
    real_mean = tf.reduce_mean(real_logits) if real_mean is None else real_mean
    fake_mean = tf.reduce_mean(fake_logits) if fake_mean is None else fake_mean
    return (_per_example_mean(tf.nn.softplus(-_ragan_terms(real_logits, fake_mean)))
            + _per_example_mean(tf.nn.softplus(_ragan_terms(fake_logits, real_mean))))


def relativistic_average_generator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                                        real_mean=None, fake_mean=None) -> tf.Tensor:
    """Generator loss of RaGAN (same paper): the discriminator's with roles swapped::

        L_G = softplus(-(C(x_f) - E[C(x_r)])) + softplus(C(x_r) - E[C(x_f)])

    Returns [B].
    """
    real_mean = tf.reduce_mean(real_logits) if real_mean is None else real_mean
    fake_mean = tf.reduce_mean(fake_logits) if fake_mean is None else fake_mean
    return (_per_example_mean(tf.nn.softplus(-_ragan_terms(fake_logits, real_mean)))
            + _per_example_mean(tf.nn.softplus(_ragan_terms(real_logits, fake_mean))))


# --------------------------------------------------------- reconstruction
def l1_loss(target: tf.Tensor, prediction: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per example, ``mean |y - ŷ|`` (pix2pix, Isola et al. 2017,
    https://arxiv.org/abs/1611.07004, eq. 3). Returns [B]."""
    _check_same_shape(target, prediction, "l1_loss")
    return _per_example_mean(tf.abs(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32)))


def l2_loss(target: tf.Tensor, prediction: tf.Tensor) -> tf.Tensor:
    """Mean squared error per example, ``mean (y - ŷ)²``. Returns [B]."""
    _check_same_shape(target, prediction, "l2_loss")
    return _per_example_mean(tf.square(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32)))


def _image_gradients(images):
    """Forward differences: (vertical [B, H-1, W, C], horizontal [B, H, W-1, C])."""
    return images[:, 1:, :, :] - images[:, :-1, :, :], images[:, :, 1:, :] - images[:, :, :-1, :]


def total_variation_loss(generated: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Total-variation loss of SRResCycGAN (Umer et al. 2020,
    https://arxiv.org/abs/2009.03693)::

        L_TV = mean|Δ_h ŷ - Δ_h y| + mean|Δ_v ŷ - Δ_v y|

    with Δ_h, Δ_v the horizontal and vertical forward differences. Unlike a
    plain TV penalty it compares the generated image's gradients with the
    target's, so real edges are not smoothed away. Returns [B].
    """
    _check_same_shape(generated, target, "total_variation_loss")
    gv, gh = _image_gradients(tf.cast(generated, tf.float32))
    tv, th = _image_gradients(tf.cast(target, tf.float32))
    return _per_example_mean(tf.abs(gh - th)) + _per_example_mean(tf.abs(gv - tv))


def cycle_loss(lr: tf.Tensor, lr_cycled: tf.Tensor, hr: tf.Tensor, hr_cycled: tf.Tensor) -> tf.Tensor:
    """Cycle-consistency loss (CycleGAN, Zhu et al. 2017, https://arxiv.org/abs/1703.10593,
    eq. 2), in the SR form::

        L_cyc = mean|G_LR(G_HR(y)) - y| + mean|G_HR(G_LR(x)) - x|

    Args: lr = y [B, h, w, C], lr_cycled = G_LR(G_HR(y)); hr = x [B, H, W, C],
    hr_cycled = G_HR(G_LR(x)). Returns [B].
    """
    return l1_loss(lr, lr_cycled) + l1_loss(hr, hr_cycled)


def identity_loss(mapped: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """Identity loss (CycleGAN, Zhu et al. 2017, §5.2; Taigman et al. 2017)::

        L_id = mean|G(r) - r'|

    For super-resolution the seed's ``G_HR(HR) ≈ HR`` cannot be computed for a
    scale > 1 (G_HR multiplies the size by the scale). The shape-correct
    variant used by ``trainer.gans.srrescycgan`` feeds each generator a
    target-domain image resampled to the generator's *input* size and asks
    for the target-domain image back: ``G_HR(resize(x, h)) ≈ x`` and
    ``G_LR(resize(y, H)) ≈ y``. This function refuses mismatched shapes
    instead of broadcasting them. Returns [B].
    """
    if mapped.shape.rank is not None and reference.shape.rank is not None \
            and not mapped.shape.is_compatible_with(reference.shape):
        raise ValueError(
            f"identity_loss: the mapped image {mapped.shape.as_list()} and the reference "
            f"{reference.shape.as_list()} differ in shape; resample the generator's input "
            "to its input size first (see trainer.gans.srrescycgan)")
    return l1_loss(reference, mapped)


def perceptual_loss(features: Sequence[tf.Tensor], target_features: Sequence[tf.Tensor],
                    distance: str = "l2") -> tf.Tensor:
    """Perceptual (feature) loss, summed over layers.

    Johnson et al. 2016, https://arxiv.org/abs/1603.08155 (feature
    reconstruction loss, L2); Liu et al. 2018, https://arxiv.org/abs/1804.07723
    eq. 3 (L1 on VGG pool1-3)::

        L_perc = Σ_l mean_{h,w,c} d(φ_l(ŷ), φ_l(y)),   d = (·)² or |·|

    Args:
        features, target_features: lists of [B, h_l, w_l, c_l] feature maps
            (or one feature map each).
        distance: "l2" or "l1".
    Returns:
        [B] per-example loss.
    """
    if distance not in ("l1", "l2"):
        raise ValueError(f"distance must be 'l1' or 'l2', received {distance!r}")
    # A one-layer extractor returns a bare tensor.
    features = [features] if tf.is_tensor(features) else list(features)
    target_features = [target_features] if tf.is_tensor(target_features) else list(target_features)
    if len(features) != len(target_features) or not features:
        raise ValueError(f"perceptual_loss needs two equal, non-empty lists of feature maps, "
                         f"received {len(features)} and {len(target_features)}")
    fn = l2_loss if distance == "l2" else l1_loss
    return tf.add_n([fn(t, f) for f, t in zip(features, target_features)])
