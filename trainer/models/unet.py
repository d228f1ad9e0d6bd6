"""U-Net generator of pix2pix (Isola et al. 2017), as in seed 000."""
from __future__ import annotations

import keras

from trainer.layers import ReplicaDropout, make_norm
from trainer.models.common import check_positive, gan_init, log2_size


def unet_generator(image_size: int = 256, channels: int = 1, base_filters: int = 64,
                   dropout_rate: float = 0.5, seed: int = 0, norm: str = "batch",
                   residual: bool = False, full_res_filters: int = 0,
                   name: str = "unet_generator") -> keras.Model:
    """U-Net mapping [B, S, S, C] images in [-1, 1] to [B, S, S, C] (tanh).

    Encoder: log2(S) blocks Conv2D(k4, s2, no bias, N(0, 0.02)) → norm (not on
    the first) → LeakyReLU(0.3), filters base·(1, 2, 4, 8, 8, ...) capped at
    8·base, down to 1×1. Decoder: log2(S) - 1 blocks Conv2DTranspose(k4, s2) →
    norm → dropout (first three) → ReLU, each concatenated with the mirrored
    encoder output; a final Conv2DTranspose(k4, s2, tanh) to C channels. At
    256×256×1 with base 64 this is the seed's network (54,419,716 parameters).

    ``residual=True`` predicts a correction instead (residual learning, as in
    DnCNN, Zhang et al. 2017): the last Conv2DTranspose is linear and
    zero-initialised and the output is ``clip(input + r, -1, 1)``, so the
    untrained network is the identity (for denoising: the low-dose input) and
    training learns what to remove. Same layers and parameter count.

    ``full_res_filters=f > 0`` (with ``residual``) adds a full-resolution head:
    the seed's U-Net sees the input only through its first stride-2 conv, so a
    per-pixel correction (noise) must come out of one transposed conv of
    half-resolution features. Here the last decoder block up-samples to ``f``
    full-resolution channels, concatenated with the input, then Conv3x3(f) →
    ReLU → Conv3x3(C, zero init) gives ``r``.
    """
    depth = log2_size(image_size, "unet_generator", 8)
    check_positive(channels=channels, base_filters=base_filters)
    if full_res_filters and not residual:
        raise ValueError("unet_generator: full_res_filters needs residual=True, received "
                         f"full_res_filters={full_res_filters}, residual={residual}")
    if full_res_filters < 0:
        raise ValueError(f"unet_generator: full_res_filters must be >= 0, received {full_res_filters}")
    init = gan_init()
    down_filters = [min(base_filters * 2 ** i, base_filters * 8) for i in range(depth)]
    up_filters = down_filters[:-1][::-1]

    inputs = keras.Input((image_size, image_size, channels), name="input_image")
    x = inputs
    skips = []
    for i, f in enumerate(down_filters):
        x = keras.layers.Conv2D(f, 4, strides=2, padding="same", use_bias=False,
                                kernel_initializer=init, name=f"down{i}_conv")(x)
        if i > 0:
            layer = make_norm(norm, name=f"down{i}_norm")
            x = layer(x) if layer is not None else x
        x = keras.layers.LeakyReLU(negative_slope=0.3, name=f"down{i}_act")(x)
        skips.append(x)
    for i, (f, skip) in enumerate(zip(up_filters, reversed(skips[:-1]))):
        x = keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=init, name=f"up{i}_conv")(x)
        layer = make_norm(norm, name=f"up{i}_norm")
        x = layer(x) if layer is not None else x
        if i < 3 and dropout_rate > 0:
            x = ReplicaDropout(dropout_rate, seed=seed * 101 + i, name=f"up{i}_dropout")(x)
        x = keras.layers.ReLU(name=f"up{i}_act")(x)
        x = keras.layers.Concatenate(name=f"up{i}_skip")([x, skip])  # [B, s, s, f + f_skip]
    if residual and full_res_filters:
        f = full_res_filters
        x = keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same", kernel_initializer=init,
                                         name="full_res_up")(x)              # [B, S, S, f]
        x = keras.layers.ReLU(name="full_res_up_act")(x)
        x = keras.layers.Concatenate(name="full_res_skip")([x, inputs])      # [B, S, S, f + C]
        x = keras.layers.Conv2D(f, 3, padding="same", kernel_initializer=init,
                                name="full_res_conv")(x)
        x = keras.layers.ReLU(name="full_res_act")(x)
        r = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                                dtype="float32", name="residual")(x)         # [B, S, S, C]
    if residual and not full_res_filters:
        r = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same",
                                         kernel_initializer="zeros", dtype="float32",
                                         name="residual")(x)                 # [B, S, S, C]
    if residual:
        outputs = keras.layers.Add(dtype="float32", name="input_plus_residual")([inputs, r])
        outputs = keras.layers.Activation("hard_tanh", dtype="float32", name="output")(outputs)
    else:
        outputs = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same",
                                               kernel_initializer=init, activation="tanh",
                                               dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=name)
