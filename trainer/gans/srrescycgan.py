"""SRResCycGAN: cycle-consistent super-resolution with two generators (seed 003).

Umer & Micheloni 2020, https://arxiv.org/abs/2009.03693. ``image_size`` is the
HR side; the LR side is ``image_size // scale``.

Generator call (exported): ``generator = G_HR``, ``G_HR(lr [B, S/s, S/s, C])
-> hr [B, S, S, C]``. ``G_LR`` (HR → LR) is ``model.g_lr``.
"""
from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from trainer import augment, distribute, features as F, losses, perceptual
from trainer.gans.base import GanModel, check_fields
from trainer.models.patchgan import patchgan
from trainer.models.sr_generators import SR_BODIES, sr_generator_hr, sr_generator_lr
from trainer.registry import Presets


NO_PERCEPTUAL = "none"   # perceptual_weights value: no perceptual term


@dataclasses.dataclass(frozen=True)
class HParams:
    image_size: int = 256                   # HR side H = W (LR side = image_size // scale)
    channels: int = 1                       # image channels (1 for MRI)
    scale: int = 4                          # super-resolution factor (power of two)
    base_filters: int = 64                  # width: filters of the generators and discriminators
    num_res_blocks: int = 5                 # residual blocks per generator
    g_hr_body: str = "hr"                   # G_HR's residual blocks at HR after bicubic (the seed)
                                            # or at LR with a sub-pixel tail ("lr"; sr_generators)
    g_hr_detail_input: bool = False         # G_HR's residual sees only x - its 3x3 mean, bias-free:
                                            # flat regions and ramps stay bicubic (sr_generators)
    g_hr_filters: int = 0                   # G_HR's width (0: base_filters)
    g_hr_res_blocks: int = 0                # G_HR's residual blocks (0: num_res_blocks)
    batch_size: int = 16                    # global batch size
    learning_rate: float = 1e-4             # initial Adam learning rate (all networks)
    lr_decay_steps: int = 10_000            # the learning rate halves every this many steps
    lr_decay_rate: float = 0.5              # staircase decay factor
    beta_1: float = 0.9                     # Adam β1
    beta_2: float = 0.999                   # Adam β2
    lambda_content: float = 10.0            # weight of the L1 content loss
    # the same random transform on each training pair (trainer.augment.pair_augment):
    # "dihedral" (8 flips/rotations), "channels" (6 RGB orders), comma-separated; "" = off
    pair_augment: str = ""
    # serve the generator averaged over the 8 flips/rotations of its input (8x its compute;
    # trainer.models.ensemble)
    self_ensemble: bool = False
    lambda_adv: float = 1.0                 # weight of the adversarial loss (seed: 1)
    lambda_cycle: float = 10.0              # weight of the cycle loss
    lambda_identity: float = 0.0            # weight of the shape-correct identity loss (0 = off)
    perceptual_layers: tuple = ("block5_conv4",)  # VGG19 layers of the perceptual loss (L2)
    # VGG19 weights of the perceptual loss: "imagenet", a path to the notop .h5, "random"
    # (test stand-in only) or "none": no perceptual term at all (VGG19 is not built and
    # perceptual_loss is reported as 0). Use "none" when no ImageNet weights exist rather
    # than training against random features: with random weights the term is ~300 vs a
    # content loss of ~0.5 and drives G_HR away from the target.
    perceptual_weights: str = "imagenet"
    seed: int = 0                           # seed of the random VGG stand-in

    def __post_init__(self):
        check_fields(self, positive=("image_size", "channels", "scale", "base_filters",
                                     "num_res_blocks", "batch_size", "learning_rate",
                                     "lr_decay_steps", "lr_decay_rate"),
                     non_negative=("lambda_content", "lambda_adv", "lambda_cycle",
                                   "lambda_identity", "g_hr_filters", "g_hr_res_blocks"),
                     probabilities=("beta_1", "beta_2"))
        if self.image_size % self.scale or self.image_size // self.scale < 8:
            raise ValueError(f"image_size must be a multiple of scale with an LR side >= 8, "
                             f"received image_size={self.image_size}, scale={self.scale}")
        augment.parse_pair_policy(self.pair_augment)
        if self.g_hr_body not in SR_BODIES:
            raise ValueError(f"HParams.g_hr_body must be one of {SR_BODIES}, "
                             f"received {self.g_hr_body!r}")
        object.__setattr__(self, "perceptual_layers", tuple(self.perceptual_layers))

    @property
    def lr_size(self) -> int:
        return self.image_size // self.scale


def input_shapes(hp: HParams) -> dict[str, tuple[int, int, int]]:
    return {F.INPUT: (hp.lr_size, hp.lr_size, hp.channels),
            F.TARGET: (hp.image_size, hp.image_size, hp.channels)}


def _num_down(side: int) -> int:
    """PatchGAN depth that leaves at least a 2×2 patch map (at most 3)."""
    n = 0
    while n < 3 and side // 2 ** (n + 1) >= 4:
        n += 1
    return max(n, 1)


class SrResCycGan(GanModel):
    """G_HR, G_LR, D_HR, D_LR with adversarial, perceptual, content, TV and cycle losses.

    D = BCE(D_HR(x),1) + BCE(D_HR(G_HR(y)),0) + BCE(D_LR(y),1) + BCE(D_LR(G_LR(x)),0)
    G = perceptual + λ_adv·adversarial + TV + λ_content·content + λ_cycle·cycle (+ λ_id·identity)
    with x the HR target and y the LR input.
    """

    LOSS_NAMES = ("d_loss", "g_loss", "perceptual_loss", "adv_loss", "content_loss", "tv_loss",
                  "cycle_loss", "identity_loss")
    PLAYERS = (("g_hr", "g_lr"), ("d_hr", "d_lr"))

    def __init__(self, hparams: HParams, **kwargs):
        names = tuple(n for n in self.LOSS_NAMES
                      if n != "identity_loss" or hparams.lambda_identity > 0)
        super().__init__(hparams, input_shapes(hparams), names, name="srrescycgan", **kwargs)
        hp = hparams
        self.pair_policy = augment.parse_pair_policy(hp.pair_augment)
        self.g_hr = sr_generator_hr(hp.lr_size, hp.channels, hp.scale,
                                    hp.g_hr_filters or hp.base_filters,
                                    hp.g_hr_res_blocks or hp.num_res_blocks, body=hp.g_hr_body,
                                    detail_input=hp.g_hr_detail_input)
        self.g_lr = sr_generator_lr(hp.image_size, hp.channels, hp.scale, hp.base_filters,
                                    hp.num_res_blocks)
        self.d_hr = patchgan([(hp.image_size, hp.image_size, hp.channels)], hp.base_filters,
                             norm="none", num_down=_num_down(hp.image_size), name="d_hr")
        self.d_lr = patchgan([(hp.lr_size, hp.lr_size, hp.channels)], hp.base_filters,
                             norm="none", num_down=_num_down(hp.lr_size), name="d_lr")
        self.vgg = (None if hp.perceptual_weights == NO_PERCEPTUAL else
                    perceptual.vgg19_features(hp.perceptual_layers, hp.perceptual_weights,
                                              channels=hp.channels, seed=hp.seed))

    @property
    def generator(self) -> keras.Model:
        """The exported generator: G_HR (LR → HR)."""
        return self.g_hr

    def _schedule(self):
        hp = self.hparams
        return keras.optimizers.schedules.ExponentialDecay(
            hp.learning_rate, hp.lr_decay_steps, hp.lr_decay_rate, staircase=True)

    def compile(self, d_optimizer=None, g_optimizer=None, lambda_content=None, lambda_cycle=None,
                lambda_identity=None, **kwargs):
        """Optimisers default to Adam(β1, β2) with the lr halved every lr_decay_steps."""
        hp = self.hparams
        self._compile_base(**kwargs)
        g_vars = self.g_hr.trainable_variables + self.g_lr.trainable_variables
        d_vars = self.d_hr.trainable_variables + self.d_lr.trainable_variables
        self.d_optimizer = self._build_optimizer(
            d_optimizer or keras.optimizers.Adam(self._schedule(), hp.beta_1, hp.beta_2,
                                                 name="d_adam"), d_vars)
        self.g_optimizer = self._build_optimizer(
            g_optimizer or keras.optimizers.Adam(self._schedule(), hp.beta_1, hp.beta_2,
                                                 name="g_adam"), g_vars)
        self.lambda_content = hp.lambda_content if lambda_content is None else float(lambda_content)
        self.lambda_cycle = hp.lambda_cycle if lambda_cycle is None else float(lambda_cycle)
        self.lambda_identity = (hp.lambda_identity if lambda_identity is None
                                else float(lambda_identity))
        if self.lambda_identity > 0 and "identity_loss" not in self._trackers:
            raise ValueError("lambda_identity > 0 needs HParams.lambda_identity > 0 at build time, "
                             f"received lambda_identity={self.lambda_identity}")

    def generator_inputs(self, batch):
        return batch[F.INPUT]

    def identity_terms(self, lr, hr):
        """Shape-correct identity: each generator maps a target-domain image,
        resampled to its input size, back to that image (see losses.identity_loss)."""
        hp = self.hparams
        hr_as_input = tf.image.resize(hr, [hp.lr_size, hp.lr_size], method="area")      # [B, s, s, C]
        lr_as_input = tf.image.resize(lr, [hp.image_size, hp.image_size], method="bicubic")  # [B, S, S, C]
        return (losses.identity_loss(self.g_hr(hr_as_input, training=True), hr)
                + losses.identity_loss(self.g_lr(lr_as_input, training=True), lr))

    def perceptual_term(self, sr, hr):
        """Per-example L2 perceptual loss [B]; zeros when perceptual_weights="none"."""
        if self.vgg is None:
            return tf.zeros([tf.shape(hr)[0]], hr.dtype)
        return losses.perceptual_loss(self.vgg(sr), self.vgg(hr), "l2")

    def train_step(self, data):
        # 1. Validate: LR input y [B, s, s, C], HR target x [B, S, S, C].
        # 2. Discriminators: D_HR on x vs G_HR(y), D_LR on y vs G_LR(x) (BCE); update both.
        # 3. Generators: forward cycle y → G_HR → G_LR, backward cycle x → G_LR → G_HR;
        #    perceptual + λ_adv·adversarial + TV + λ_c·content + λ_cyc·cycle (+ λ_id·identity).
        # 4. Report every term (unweighted) and the totals.
        batch = self.unpack(data)
        lr, hr = augment.pair_augment([batch[F.INPUT], batch[F.TARGET]], self.pair_policy,
                                      self.seed(salt=0))
        sr = self.g_hr(lr, training=True)
        lr_fake = self.g_lr(hr, training=True)
        d_vars = self.d_hr.trainable_variables + self.d_lr.trainable_variables
        with tf.GradientTape() as tape:
            d_loss = (losses.minimax_discriminator_loss(self.d_hr(hr, training=True),
                                                        self.d_hr(sr, training=True), 1.0)
                      + losses.minimax_discriminator_loss(self.d_lr(lr, training=True),
                                                          self.d_lr(lr_fake, training=True), 1.0))
            d_scaled = distribute.global_batch_mean(d_loss)
        self.apply(self.d_optimizer, tape, d_scaled, d_vars)

        g_vars = self.g_hr.trainable_variables + self.g_lr.trainable_variables
        with tf.GradientTape() as tape:
            sr = self.g_hr(lr, training=True)                 # forward cycle
            lr_cycled = self.g_lr(sr, training=True)
            lr_fake = self.g_lr(hr, training=True)            # backward cycle
            hr_cycled = self.g_hr(lr_fake, training=True)
            adv = (losses.minimax_generator_loss(self.d_hr(sr, training=True))
                   + losses.minimax_generator_loss(self.d_lr(lr_fake, training=True)))
            terms = {
                "perceptual_loss": self.perceptual_term(sr, hr),
                "adv_loss": adv,
                "content_loss": losses.l1_loss(hr, sr),
                "tv_loss": losses.total_variation_loss(sr, hr),
                "cycle_loss": losses.cycle_loss(lr, lr_cycled, hr, hr_cycled),
            }
            g_loss = (terms["perceptual_loss"] + self.hparams.lambda_adv * adv + terms["tv_loss"]
                      + self.lambda_content * terms["content_loss"]
                      + self.lambda_cycle * terms["cycle_loss"])
            if self.lambda_identity > 0:
                terms["identity_loss"] = self.identity_terms(lr, hr)
                g_loss += self.lambda_identity * terms["identity_loss"]
            g_scaled = distribute.global_batch_mean(g_loss)
        self.apply(self.g_optimizer, tape, g_scaled, g_vars)
        return self.record({"d_loss": d_loss, "g_loss": g_loss, **terms})


# Quick preset. G_HR starts as bicubic up-sampling (the baseline); the adversarial term is
# scaled down (SRGAN uses 1e-3) so that the L1 content and cycle terms drive the short run.
# G_HR's blocks run at LR (32 filters, 6 blocks): on the SR demo, seed 0, PSNR 27.89 dB with
# the seed's HR body (16 filters, 2 blocks, 500 steps), 28.26 at LR (500 steps, 68 s), 28.09
# with 64 filters and 8 blocks (147 s), 28.51 with 800 steps (120 s); bicubic: 27.31 (those
# figures on crops of the training photographs). On held-out photographs, 3 seeds, the
# plain residual branch lost 0.34 dB to Lanczos-3 (offsets of several grey levels on flat
# colours it had not seen); the detail input gains 0.9 dB on that, EMA 0.1 and the eight
# flips/rotations with the six RGB orders of each pair 0.3 more: 32.38 dB, +0.98 over
# Lanczos-3 (docs/EVALUATION.md).
PRESETS = Presets(
    quick=dict(image_size=64, channels=3, scale=4, base_filters=16, num_res_blocks=2,
               g_hr_body="lr", g_hr_filters=32, g_hr_res_blocks=6, g_hr_detail_input=True,
               pair_augment="dihedral,channels",
               batch_size=8, learning_rate=2e-3, lambda_adv=0.01, perceptual_weights="none"),
    quick_train_steps=800,
    quick_ema_decay=0.99,
    tiny=dict(image_size=32, channels=1, base_filters=4, num_res_blocks=1, batch_size=4,
              perceptual_weights="random", lambda_identity=0.5),
    twin=dict(lambda_adv=0.0),
)

def build(hparams: HParams | None = None) -> SrResCycGan:
    """The compiled GAN; build it inside ``strategy.scope()`` to distribute it."""
    model = SrResCycGan(hparams or HParams())
    model.compile()
    return model
