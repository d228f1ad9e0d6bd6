"""Vanilla (MLP) GAN on digits, seed 001 (Goodfellow et al. 2014).

Generator call: ``generator(z [B, latent_dim]) -> [B, 28, 28, 1]``, with
``z = noise_from_seeds(seeds [B] int64, hparams.latent_dim)``.
"""
from __future__ import annotations

import dataclasses

from trainer import augment
from trainer.gans.base import check_fields
from trainer.gans.unconditional import UnconditionalGan, input_shapes, noise_from_seeds
from trainer.models.mlp import mlp_discriminator, mlp_generator
from trainer.registry import Presets

__all__ = ["HParams", "build", "input_shapes", "noise_from_seeds", "PRESETS"]


@dataclasses.dataclass(frozen=True)
class HParams:
    image_size: int = 28                            # H = W of the images
    channels: int = 1                               # image channels
    latent_dim: int = 100                           # size of the noise vector z
    g_hidden_units: tuple = (128, 128, 256)         # width: generator hidden Dense sizes
    d_hidden_units: tuple = (128, 128, 128)         # width: discriminator hidden Dense sizes
    batch_size: int = 256                           # global batch size
    g_learning_rate: float = 2e-4                   # generator Adam learning rate
    d_learning_rate: float = 2e-4                   # discriminator RMSprop learning rate
    real_label: float = 0.9                         # one-sided label smoothing target for real images
    seed: int = 0                                   # seed of the noise draws
    diffaugment: str = ""                           # DiffAugment policy for D, e.g. "translation,cutout" ("" = off)
    r1_gamma: float = 0.0                           # R1 penalty weight on real images (0 = off)

    def __post_init__(self):
        check_fields(self, positive=("image_size", "channels", "latent_dim", "batch_size",
                                     "g_learning_rate", "d_learning_rate", "real_label"),
                     non_negative=("r1_gamma",))
        augment.parse_policy(self.diffaugment)
        object.__setattr__(self, "g_hidden_units", tuple(self.g_hidden_units))
        object.__setattr__(self, "d_hidden_units", tuple(self.d_hidden_units))


# Quick preset: the generator's Adam lr raised to 2e-3 (the discriminator keeps RMSprop
# 2e-4), thousands of cheap steps, and DiffAugment: over seeds 0/1/2 it took FD from
# 4.5x/7.8x/13.3x real-vs-real to 1.6x/2.5x/2.6x with all 10 classes (docs/EVALUATION.md).
PRESETS = Presets(
    quick=dict(batch_size=64, g_learning_rate=2e-3, diffaugment="translation,cutout"),
    quick_train_steps=5000,
    quick_ema_decay=0.999,
    tiny=dict(image_size=28, latent_dim=8, g_hidden_units=(16, 16), d_hidden_units=(16, 16),
              batch_size=4),
)

def build(hparams: HParams | None = None) -> UnconditionalGan:
    """The compiled GAN; build it inside ``strategy.scope()`` to distribute it."""
    hp = hparams or HParams()
    model = UnconditionalGan(
        hp,
        mlp_generator(hp.latent_dim, hp.image_size, hp.channels, hp.g_hidden_units),
        mlp_discriminator(hp.image_size, hp.channels, hp.d_hidden_units),
        name="vanilla_gan")
    model.compile()
    return model
