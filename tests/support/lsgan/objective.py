"""LSGAN (Mao et al. 2017, https://arxiv.org/abs/1611.04076), a = 0, b = c = 1:

    L_D = ½·E[(D(x) − 1)²] + ½·E[D(G(z))²]
    L_G = ½·E[(D(G(z)) − 1)²]

The unconditional game of ``trainer.gans.unconditional`` with least-squares
losses instead of binary cross-entropy; seeds become noise the same way.
"""
from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from support.lsgan.networks import lsgan_discriminator, lsgan_generator
from trainer.gans.base import check_fields
from trainer.gans.unconditional import UnconditionalGan, input_shapes, noise_from_seeds
from trainer.registry import Presets

__all__ = ["HParams", "build", "input_shapes", "noise_from_seeds", "PRESETS"]


@dataclasses.dataclass(frozen=True)
class HParams:
    image_size: int = 28           # H = W of the images
    channels: int = 1              # image channels
    latent_dim: int = 64           # size of the noise vector z
    units: int = 128               # hidden units of both MLPs
    batch_size: int = 64           # global batch size
    g_learning_rate: float = 2e-4  # generator Adam learning rate
    d_learning_rate: float = 2e-4  # discriminator RMSprop learning rate
    real_label: float = 1.0        # the target b of real scores
    seed: int = 0                  # seed of the noise draws

    def __post_init__(self):
        check_fields(self, positive=("image_size", "channels", "latent_dim", "units",
                                     "batch_size", "g_learning_rate", "d_learning_rate",
                                     "real_label"))


PRESETS = Presets(quick=dict(batch_size=64), quick_train_steps=1000,
                  tiny=dict(latent_dim=8, units=16, batch_size=4))


def least_squares(scores, target: float):
    """½·(s − target)² per example [B] (scores [B, 1])."""
    return 0.5 * tf.reduce_mean(tf.square(tf.reshape(scores, [tf.shape(scores)[0], -1]) - target),
                                axis=-1)


class LsGan(UnconditionalGan):
    """The unconditional game with least-squares losses; scores are reported raw."""

    def discriminator_loss(self, real_scores, fake_scores):
        return least_squares(real_scores, self.real_label) + least_squares(fake_scores, 0.0)

    def generator_loss(self, fake_scores):
        return least_squares(fake_scores, self.real_label)

    def reported_score(self, scores):
        return tf.reshape(scores, [-1])


def build(hparams: HParams | None = None) -> LsGan:
    hp = hparams or HParams()
    model = LsGan(hp, lsgan_generator(hp.latent_dim, hp.image_size, hp.channels, hp.units),
                  lsgan_discriminator(hp.image_size, hp.channels, hp.units), name="lsgan")
    model.compile(d_optimizer=keras.optimizers.RMSprop(hp.d_learning_rate, name="d_rmsprop"),
                  g_optimizer=keras.optimizers.Adam(hp.g_learning_rate, name="g_adam"))
    return model
