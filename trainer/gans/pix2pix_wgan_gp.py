"""pix2pix with a Wasserstein critic and gradient penalty (seed 000).

Paired image-to-image (low-dose → normal-dose CT): a U-Net generator and a
conditional PatchGAN critic trained with the WGAN-GP objective plus the
pix2pix L1 term (and, optionally, a squared-error term).

Generator call: ``generator(input_image [B, S, S, C]) -> [B, S, S, C]``.
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from trainer import augment, distribute, features as F, losses
from trainer.gans.base import GanModel, adam, check_fields
from trainer.layers.normalization import NORMS
from trainer.models.patchgan import patchgan
from trainer.models.unet import unet_generator
from trainer.registry import Presets


@dataclasses.dataclass(frozen=True)
class HParams:
    image_size: int = 256          # H = W of input and target images (power of two >= 32)
    channels: int = 1              # image channels (1 for CT)
    base_filters: int = 64         # width: filters of the first U-Net and critic block
    critic_norm: str = "layer"     # critic normalisation: "layer" (WGAN-GP paper), "none", "instance", "batch" (seed)
    generator_norm: str = "batch"  # U-Net normalisation ("batch" as in the seed; synchronised over replicas)
    dropout_rate: float = 0.5      # dropout on the first three U-Net decoder blocks
    residual: bool = False         # U-Net predicts a correction of its input, clip(x + r) (seed: False)
    full_res_filters: int = 0      # with residual: a full-resolution head of this width (0 = none, the seed)
    batch_size: int = 1            # global batch size of a train_step (a multiple of n_critic)
    g_learning_rate: float = 2e-4  # generator Adam learning rate
    d_learning_rate: float = 2e-4  # critic Adam learning rate
    beta_1: float = 0.5            # Adam β1 of both optimisers (pix2pix)
    beta_2: float = 0.999          # Adam β2 of both optimisers
    lambda_gp: float = 10.0        # gradient-penalty weight λ_gp
    lambda_l1: float = 100.0       # L1 reconstruction weight λ_l1
    lambda_l2: float = 0.0         # squared-error reconstruction weight λ_l2 (seed: 0); PSNR is
                                   # a squared error, so the quick preset uses this instead of L1
    lambda_adv: float = 1.0        # weight of the adversarial term -D(x, G(x)) (seed: 1; 0 = the pixel-loss-only twin)
    n_critic: int = 1              # critic steps per generator step (seed: 1), each on batch_size / n_critic pairs
    gp_epsilon: float = 1e-12      # ε inside the gradient-norm square root (NaN-safe)
    seed: int = 0                  # seed of dropout and the α draws
    # the same random transform on each training pair (trainer.augment.pair_augment):
    # "dihedral" (8 flips/rotations), comma-separated; "" = off
    pair_augment: str = ""
    # serve the generator averaged over the 8 flips/rotations of its input (8x its compute;
    # trainer.models.ensemble)
    self_ensemble: bool = False

    def __post_init__(self):
        check_fields(self, positive=("image_size", "channels", "base_filters", "batch_size",
                                     "g_learning_rate", "d_learning_rate", "n_critic"),
                     non_negative=("lambda_gp", "lambda_l1", "lambda_l2", "lambda_adv",
                                   "gp_epsilon"),
                     probabilities=("dropout_rate", "beta_1", "beta_2"))
        augment.parse_pair_policy(self.pair_augment)
        if self.batch_size % self.n_critic:
            raise ValueError(f"HParams.batch_size {self.batch_size} must be a multiple of "
                             f"n_critic {self.n_critic}: each critic step trains on its own "
                             f"batch_size / n_critic examples of the step's batch")
        for field in ("critic_norm", "generator_norm"):
            if getattr(self, field) not in NORMS:
                raise ValueError(f"HParams.{field} must be one of {NORMS}, received {getattr(self, field)!r}")


PAIR_AUGMENT_SALT = 1000  # the critic steps' α draws use salts 0 .. n_critic - 1


def input_shapes(hp: HParams) -> dict[str, tuple[int, int, int]]:
    shape = (hp.image_size, hp.image_size, hp.channels)
    return {F.INPUT: shape, F.TARGET: shape}


class Pix2PixWganGp(GanModel):
    """U-Net generator + conditional PatchGAN critic, WGAN-GP + λ_l1·L1 (+ λ_l2·MSE).

    Critic:    L_D = D(x, G(x)) - D(x, y) + λ_gp · GP
    Generator: L_G = -λ_adv · D(x, G(x)) + λ_l1 · |y - G(x)| + λ_l2 · (y - G(x))²
    (λ_adv = 1 and λ_l2 = 0 in the seed; the pixel terms are per-example means)

    ``D(x, ·)`` is the critic's scalar value per example, the mean of its
    PatchGAN map (:func:`trainer.losses.critic_value`); the gradient penalty
    is taken on that same scalar, so the 1-Lipschitz constraint applies to
    the function the Wasserstein terms use (Gulrajani et al. 2017 define the
    critic as a scalar function). Penalising the patch *sum* would make the
    critic ~1/P-Lipschitz (P = 900 patches at 256²) and shrink the
    adversarial term P-fold next to λ_l1·L1.
    """

    LOSS_NAMES = ("d_loss", "g_loss", "l1_loss", "l2_loss", "gp")
    PLAYERS = (("generator",), ("critic",))

    def __init__(self, hparams: HParams, **kwargs):
        names = tuple(n for n in self.LOSS_NAMES if n != "l2_loss" or hparams.lambda_l2 > 0)
        super().__init__(hparams, input_shapes(hparams), names, name="pix2pix_wgan_gp", **kwargs)
        hp = hparams
        self.pair_policy = augment.parse_pair_policy(hp.pair_augment)
        shape = (hp.image_size, hp.image_size, hp.channels)
        self.generator = unet_generator(hp.image_size, hp.channels, hp.base_filters,
                                        dropout_rate=hp.dropout_rate, seed=hp.seed,
                                        norm=hp.generator_norm, residual=hp.residual,
                                        full_res_filters=hp.full_res_filters)
        self.critic = patchgan([shape, shape], hp.base_filters, norm=hp.critic_norm,
                               name="patchgan_critic")
        # Each critic step's share of the batch must split over the replicas too.
        distribute.check_global_batch(hp.batch_size // hp.n_critic,
                                      self.distribute_strategy.num_replicas_in_sync,
                                      "pix2pix_wgan_gp batch_size / n_critic")

    def compile(self, d_optimizer=None, g_optimizer=None, lambda_gp: float | None = None,
                lambda_l1: float | None = None, lambda_l2: float | None = None, **kwargs):
        """Optimisers default to Adam(lr, β1, β2) from the hyper-parameters."""
        hp = self.hparams
        self._compile_base(**kwargs)
        self.d_optimizer = self._build_optimizer(
            d_optimizer or adam(hp.d_learning_rate, hp.beta_1, hp.beta_2, "d_adam"),
            self.critic.trainable_variables)
        self.g_optimizer = self._build_optimizer(
            g_optimizer or adam(hp.g_learning_rate, hp.beta_1, hp.beta_2, "g_adam"),
            self.generator.trainable_variables)
        self.lambda_gp = hp.lambda_gp if lambda_gp is None else float(lambda_gp)
        self.lambda_l1 = hp.lambda_l1 if lambda_l1 is None else float(lambda_l1)
        self.lambda_l2 = hp.lambda_l2 if lambda_l2 is None else float(lambda_l2)
        if self.lambda_l2 > 0 and "l2_loss" not in self._trackers:
            raise ValueError("lambda_l2 > 0 needs HParams.lambda_l2 > 0 at build time, received "
                             f"lambda_l2={self.lambda_l2}")

    def generator_inputs(self, batch):
        return batch[F.INPUT]

    def train_step(self, data):
        # 1. Validate the batch: input x and target y, [B, S, S, C] each.
        # 2. For each of the n_critic critic steps, its own real pairs (every
        #    n_critic-th example of the batch): critic loss
        #    D(x, G(x)) - D(x, y) + λ_gp·GP with α ~ U[0, 1] per example; update the critic.
        # 3. Generator loss -D(x, G(x)) + λ_l1·|y - G(x)| + λ_l2·(y - G(x))² on the whole
        #    batch; update G.
        # 4. Report d_loss (over all critic steps), g_loss, the unweighted L1 (and the
        #    squared error when λ_l2 > 0) and GP.
        #
        # WGAN-GP's Algorithm 1 samples fresh real data for every critic
        # iteration; fitting the critic n_critic times to one real batch
        # over-fits it to that batch. Keras hands train_step one batch, so the
        # batch is split: with strided chunks every replica's local chunk i
        # holds the same global examples as one device's chunk i, keeping N
        # replicas equal to one device. The generator step uses every pair, so
        # each example trains the critic once and the generator once per step.
        batch = self.unpack(data)
        x, y = augment.pair_augment([batch[F.INPUT], batch[F.TARGET]], self.pair_policy,
                                    self.seed(salt=PAIR_AUGMENT_SALT))
        n = self.hparams.n_critic
        critic_vars = self.critic.trainable_variables
        d_losses, gps = [], []
        for i in range(n):
            x_i, y_i = (x, y) if n == 1 else (x[i::n], y[i::n])           # [B / n, S, S, C]
            alpha = distribute.replica_slice(
                lambda g, i=i: losses.interpolation_weights(g, self.seed(salt=i)), tf.shape(x_i)[0])
            fake = self.generator(x_i, training=True)
            with tf.GradientTape() as tape:
                real_logits = self.critic([x_i, y_i], training=True)
                fake_logits = self.critic([x_i, fake], training=True)
                wasserstein = losses.wasserstein_discriminator_loss(real_logits, fake_logits)
                gp = losses.gradient_penalty(lambda im: self.critic([x_i, im], training=True),
                                             y_i, fake, alpha, epsilon=self.hparams.gp_epsilon)
                d_loss = wasserstein + self.lambda_gp * gp                      # [B / n]
                d_scaled = distribute.global_batch_mean(d_loss)
            self.apply(self.d_optimizer, tape, d_scaled, critic_vars)
            d_losses.append(d_loss)
            gps.append(gp)
        d_loss, gp = tf.concat(d_losses, axis=0), tf.concat(gps, axis=0)        # [B]

        with tf.GradientTape() as tape:
            fake = self.generator(x, training=True)
            fake_logits = self.critic([x, fake], training=True)
            l1 = losses.l1_loss(y, fake)
            g_loss = (self.hparams.lambda_adv * losses.wasserstein_generator_loss(fake_logits)
                      + self.lambda_l1 * l1)                                         # [B]
            terms = {"d_loss": d_loss, "l1_loss": l1, "gp": gp}
            if "l2_loss" in self._trackers:
                terms["l2_loss"] = losses.l2_loss(y, fake)
                g_loss += self.lambda_l2 * terms["l2_loss"]
            g_scaled = distribute.global_batch_mean(g_loss)
        self.apply(self.g_optimizer, tape, g_scaled, self.generator.trainable_variables)
        return self.record({**terms, "g_loss": g_loss})


# Quick preset (bench/bench_quality.py, docs/EVALUATION.md). Layer norm in the U-Net:
# after a few hundred steps BatchNorm's moving statistics lag the weights and
# inference-mode outputs carry a brightness offset. On the CT demo, seed 0, 600 steps,
# PSNR against non-local means' 36.67 dB: seed U-Net 33.35 with the residual output,
# 34.81 adding generator averaging (EMA 0.99), 35.04 with lr 1e-3, 36.15 with a
# 16-filter full-resolution head and 37.30 with 32 filters; 1200 steps with 16 filters
# gave 37.09. Dropout is off: it only adds noise to a denoiser's output. With these, three
# seeds gave 36.65-37.40 dB while the L1-only twin (lambda_adv 0) gave 38.34-38.38: the
# critic term at the seed's weight 1 cost 1.3 dB; lambda_adv 0.1 gave 38.25 (seed 0).
# Those figures were on crops of the training slices. On a slice never trained on, 3
# seeds: 32.18 dB against non-local means' 32.15 (1,500 steps: 31.75, seed 0), 32.98
# with the eight flips/rotations of each pair, 33.06 with 24 base filters instead of 16,
# 33.20 serving the generator averaged over the eight orientations of its input
# (self_ensemble) and 33.28 with a squared-error pixel loss instead of L1 (PSNR is a
# squared error; 3000 x MSE, 33.30 at 10000; docs/EVALUATION.md).
PRESETS = Presets(
    quick=dict(image_size=64, channels=1, base_filters=24, batch_size=8,
               g_learning_rate=1e-3, d_learning_rate=1e-3, generator_norm="layer",
               residual=True, full_res_filters=32, dropout_rate=0.0, lambda_adv=0.1,
               lambda_l1=0.0, lambda_l2=3000.0, pair_augment="dihedral", self_ensemble=True),
    quick_train_steps=600,
    quick_ema_decay=0.99,
    tiny=dict(image_size=32, channels=1, base_filters=4, batch_size=4),
    twin=dict(lambda_adv=0.0),
)

def build(hparams: HParams | None = None) -> Pix2PixWganGp:
    """The compiled GAN; build it inside ``strategy.scope()`` to distribute it."""
    model = Pix2PixWganGp(hparams or HParams())
    model.compile()
    return model
