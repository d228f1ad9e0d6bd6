"""Fully connected generator and discriminator of the vanilla GAN (seed 001)."""
from __future__ import annotations

from typing import Sequence

import keras

from trainer.models.common import check_positive


def mlp_generator(latent_dim: int = 100, image_size: int = 28, channels: int = 1,
                  hidden_units: Sequence[int] = (128, 128, 256),
                  name: str = "mlp_generator") -> keras.Model:
    """z [B, latent_dim] → Dense(latent_dim) → (Dense(u) → LeakyReLU(0.01)) per
    hidden size → Dense(S·S·C, tanh) → reshape [B, S, S, C]."""
    check_positive(latent_dim=latent_dim, image_size=image_size, channels=channels)
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(latent_dim, name="input_dense")(z)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, name=f"dense{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.01, name=f"act{i}")(x)
    x = keras.layers.Dense(image_size * image_size * channels, activation="tanh",
                           dtype="float32", name="pixels")(x)
    images = keras.layers.Reshape((image_size, image_size, channels), dtype="float32",
                                  name="image")(x)  # [B, S, S, C]
    return keras.Model(z, images, name=name)


def mlp_discriminator(image_size: int = 28, channels: int = 1,
                      hidden_units: Sequence[int] = (128, 128, 128),
                      name: str = "mlp_discriminator") -> keras.Model:
    """[B, S, S, C] → Flatten → (Dense(u) → LeakyReLU(0.01)) per hidden size → Dense(1) logit."""
    check_positive(image_size=image_size, channels=channels)
    images = keras.Input((image_size, image_size, channels), name="image")
    x = keras.layers.Flatten(name="flatten")(images)  # [B, S·S·C]
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, name=f"dense{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.01, name=f"act{i}")(x)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name=name)
