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
from trainer import distribute, features as F
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
    def train_step(self, data):
        # 1. Real images [B, S, S, C]; fake images from this step's noise.
        # 2. Critic: real scores towards 1, fake towards 0; update D.
        # 3. Generator on fresh noise: fake scores towards 1; update G.
        real = self.unpack(data)[F.IMAGE]
        local_batch = tf.shape(real)[0]
        fake = self.generator(self.noise(local_batch, salt=0), training=True)
        with tf.GradientTape() as tape:
            real_s = self.discriminator(real, training=True)
            fake_s = self.discriminator(fake, training=True)
            d_loss = least_squares(real_s, self.real_label) + least_squares(fake_s, 0.0)
            d_scaled = distribute.global_batch_mean(d_loss)
        self.apply(self.d_optimizer, tape, d_scaled, self.discriminator.trainable_variables)
        with tf.GradientTape() as tape:
            fake = self.generator(self.noise(local_batch, salt=1), training=True)
            g_loss = least_squares(self.discriminator(fake, training=True), self.real_label)
            g_scaled = distribute.global_batch_mean(g_loss)
        self.apply(self.g_optimizer, tape, g_scaled, self.generator.trainable_variables)
        return self.record({"d_loss": d_loss, "g_loss": g_loss,
                            "d_real": tf.reshape(real_s, [-1]), "d_fake": tf.reshape(fake_s, [-1])})


def build(hparams: HParams | None = None) -> LsGan:
    hp = hparams or HParams()
    model = LsGan(hp, lsgan_generator(hp.latent_dim, hp.image_size, hp.channels, hp.units),
                  lsgan_discriminator(hp.image_size, hp.channels, hp.units), name="lsgan")
    model.compile(d_optimizer=keras.optimizers.RMSprop(hp.d_learning_rate, name="d_rmsprop"),
                  g_optimizer=keras.optimizers.Adam(hp.g_learning_rate, name="g_adam"))
    return model
