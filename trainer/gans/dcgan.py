"""DCGAN on digits, seed 004 (Radford et al. 2015): the convolutional form of vanilla_gan.

Generator call: ``generator(z [B, latent_dim]) -> [B, 28, 28, 1]``, with
``z = noise_from_seeds(seeds [B] int64, hparams.latent_dim)``.
"""
from __future__ import annotations

import dataclasses

from trainer import augment
from trainer.gans.base import check_fields
from trainer.gans.unconditional import UnconditionalGan, input_shapes, noise_from_seeds
from trainer.models.dcgan import dcgan_discriminator, dcgan_generator
from trainer.registry import Presets

__all__ = ["HParams", "build", "input_shapes", "noise_from_seeds", "PRESETS"]


@dataclasses.dataclass(frozen=True)
class HParams:
    image_size: int = 28           # H = W of the images (multiple of 4)
    channels: int = 1              # image channels
    latent_dim: int = 100          # size of the noise vector z
    base_filters: int = 64         # width: filters of the last generator / first discriminator conv
    dropout_rate: float = 0.3      # discriminator dropout
    batch_size: int = 256          # global batch size
    g_learning_rate: float = 2e-4  # generator Adam learning rate
    g_beta_1: float = 0.9          # generator Adam beta_1 (Radford et al.: 0.5)
    d_learning_rate: float = 2e-4  # discriminator RMSprop learning rate
    real_label: float = 0.9        # one-sided label smoothing target for real images
    seed: int = 0                  # seed of the noise and dropout draws
    diffaugment: str = ""          # DiffAugment policy for D, e.g. "translation,cutout" ("" = off)
    r1_gamma: float = 0.0          # R1 penalty weight on real images (0 = off)
    minibatch_std: int = 0         # D sees the std over groups of this many examples (0 = off;
                                   # a smaller batch is one group)
    pack: int = 1                  # D judges this many consecutive images at once (PacGAN;
                                   # 1 = off)
    spectral_norm: bool = False    # D's kernels divided by their largest singular value
    feature_matching: float = 0.0  # weight of |mean f(real) - mean f(G(z))|^2 in G's loss,
                                   # f = the input of D's logit layer (0 = off)
    clusters: int = 0              # self-conditioning on this many k-means clusters of the
                                   # real images (Liu et al. 2020; 0 = off)

    def __post_init__(self):
        check_fields(self, positive=("image_size", "channels", "latent_dim", "base_filters",
                                     "batch_size", "g_learning_rate", "d_learning_rate",
                                     "real_label"),
                     non_negative=("r1_gamma", "feature_matching"),
                     probabilities=("dropout_rate", "g_beta_1"))
        augment.parse_policy(self.diffaugment)
        g = self.minibatch_std
        if not isinstance(g, int) or isinstance(g, bool) or g == 1 or g < 0:
            raise ValueError(f"{__name__}.HParams.minibatch_std must be 0 (off) or a group size "
                             f">= 2, received {g!r}")
        if not isinstance(self.spectral_norm, bool):
            raise ValueError(f"{__name__}.HParams.spectral_norm must be a bool, "
                             f"received {self.spectral_norm!r}")
        p = self.pack
        if not isinstance(p, int) or isinstance(p, bool) or p < 1 or self.batch_size % p:
            raise ValueError(f"{__name__}.HParams.pack must be an int >= 1 that divides "
                             f"batch_size={self.batch_size}, received {p!r}")
        k = self.clusters
        if not isinstance(k, int) or isinstance(k, bool) or k == 1 or k < 0:
            raise ValueError(f"{__name__}.HParams.clusters must be 0 (off) or an int >= 2, "
                             f"received {k!r}")
        if k and (p > 1 or self.feature_matching):
            raise ValueError(f"{__name__}.HParams.clusters cannot be combined with pack > 1 "
                             f"or feature_matching (received pack={p}, "
                             f"feature_matching={self.feature_matching})")
        if g and (self.batch_size // p) % min(g, self.batch_size // p):
            raise ValueError(f"{__name__}.HParams.minibatch_std={g} must divide batch_size="
                             f"{self.batch_size}" + (f" / pack={p}" if p > 1 else "")
                             + " (a smaller batch is one group)")


# Quick preset: the generator's Adam lr raised to 1e-3 with beta_1 0.5 (the discriminator
# keeps RMSprop 2e-4), DiffAugment, minibatch std over groups of 16, self-conditioning on 10
# k-means clusters of the real digits and 2,000 steps. Over seeds 0/1/2 beta_1 0.5 with
# DiffAugment took FD from 6.5x/3.9x/3.3x real-vs-real to 2.4x/2.7x/3.1x with all 10 classes
# (DiffAugment alone did not help); the minibatch std then to 2.4x/2.5x/2.7x, with class
# shares still 0.19-0.22 from the real ones (TV); the clusters took the TV to under 0.1
# (docs/EVALUATION.md).
PRESETS = Presets(
    quick=dict(batch_size=64, base_filters=16, g_learning_rate=1e-3, g_beta_1=0.5,
               diffaugment="translation,cutout", minibatch_std=16, clusters=10),
    quick_train_steps=2000,
    quick_ema_decay=0.995,
    tiny=dict(image_size=28, latent_dim=8, base_filters=4, batch_size=4),
)

def build(hparams: HParams | None = None) -> UnconditionalGan:
    """The compiled GAN; build it inside ``strategy.scope()`` to distribute it."""
    hp = hparams or HParams()
    model = UnconditionalGan(
        hp,
        dcgan_generator(hp.latent_dim, hp.image_size, hp.channels, hp.base_filters,
                        clusters=hp.clusters),
        dcgan_discriminator(hp.image_size, hp.channels * hp.pack, hp.base_filters, hp.dropout_rate,
                            seed=hp.seed, minibatch_std=hp.minibatch_std,
                            spectral_norm=hp.spectral_norm, clusters=hp.clusters),
        name="dcgan")
    model.compile()
    return model
