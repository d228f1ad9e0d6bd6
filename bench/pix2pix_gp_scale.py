"""How large is pix2pix's adversarial term next to λ_l1·L1 under the two
gradient-penalty conventions? A short in-process run on synthetic paired
images at the sizes and L1 loss of the quick preset it was written for (64², base 16,
batch 8, λ_l1 100; ``RECORDED``), so its figures in docs/EVALUATION.md reproduce.

    nice -n 10 .venv/bin/python bench/pix2pix_gp_scale.py [STEPS] [mean|sum ...]

``mean``: the penalty is on the critic value the losses use (the patch mean;
the current code). ``sum``: the penalty on the patch sum (the earlier code),
emulated by scaling the critic by P inside the penalty only. Prints, per
convention, the last steps' mean |adversarial term|, λ_l1·L1, the generator
gradient norms of the two terms, and the eval PSNR gain over the noisy input.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from trainer import features as F, losses, registry  # noqa: E402


def synthetic_pairs(n, size, seed):
    """Smooth targets in [-1, 1] and noisy inputs (a stand-in for low-dose CT)."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(n, size // 8, size // 8, 1)).astype("float32")
    target = np.tanh(tf.image.resize(coarse, (size, size), "bicubic").numpy())
    noisy = np.clip(target + rng.normal(0, 0.2, target.shape), -1, 1).astype("float32")
    return {F.INPUT: noisy, F.TARGET: target}


# The quick preset's settings when this was measured (today's preset trains a wider U-Net
# on a squared error and serves a self-ensemble).
RECORDED = {"base_filters": 16, "lambda_l1": 100.0, "lambda_l2": 0.0, "self_ensemble": False}


def run(convention, steps, train, evals):
    spec = registry.get("pix2pix_wgan_gp")
    hp = spec.hparams({**spec.presets().quick, **RECORDED})
    tf.keras.utils.set_random_seed(0)
    gan = spec.load().build(hp)
    patches = int(np.prod(gan.critic.output_shape[1:3]))
    original = losses.gradient_penalty
    if convention == "sum":
        losses.gradient_penalty = lambda critic, *a, **k: original(
            lambda im: critic(im) * patches, *a, **k)
    try:
        ds = tf.data.Dataset.from_tensor_slices(train).repeat().batch(hp.batch_size)
        start = time.time()
        history = gan.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0).history
    finally:
        losses.gradient_penalty = original
    x, y = tf.constant(evals[F.INPUT][:8]), tf.constant(evals[F.TARGET][:8])
    with tf.GradientTape(persistent=True) as tape:
        fake = gan.generator(x, training=True)
        adv = tf.reduce_mean(losses.wasserstein_generator_loss(gan.critic([x, fake])))
        l1 = hp.lambda_l1 * tf.reduce_mean(losses.l1_loss(y, fake))
    norm = lambda t: float(tf.linalg.global_norm(tape.gradient(t, gan.generator.trainable_variables)))
    out = gan.generator(evals[F.INPUT], training=False)
    gain = float(tf.reduce_mean(tf.image.psnr(out, evals[F.TARGET], 2.0))
                 - tf.reduce_mean(tf.image.psnr(evals[F.INPUT], evals[F.TARGET], 2.0)))
    print(f"{convention}: P={patches} steps {steps}: |adv| {abs(float(adv)):.3g}  "
          f"λ_l1·L1 {float(l1):.3g}  ‖∇G adv‖ {norm(adv):.3g}  ‖∇G λ_l1·L1‖ {norm(l1):.3g}  "
          f"gp {history['gp'][0]:.3g}  eval PSNR gain {gain:+.2f} dB  ({time.time() - start:.0f} s)",
          flush=True)


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    size = registry.get("pix2pix_wgan_gp").presets().quick["image_size"]
    train, evals = synthetic_pairs(64, size, 0), synthetic_pairs(16, size, 1)
    for convention in sys.argv[2:] or ("mean", "sum"):
        run(convention, steps, train, evals)
