"""The two generators of SRResCycGAN (seed 003): G_HR (LR → HR) and G_LR (HR → LR).

Both are a classical resampling plus a learned residual: ``clip(resample(x) + r,
-1, 1)``. The tail conv that produces ``r`` is zero-initialised, so at
initialisation G_HR *is* bicubic up-sampling (the evaluator's trivial baseline)
and G_LR is ``scale``×``scale`` average pooling; training only has to learn the
correction. The range [-1, 1] is kept by clipping (``hard_tanh``), not by
``tanh(resample + r)``: tanh on the sum compresses the interpolated prior itself
(tanh(0.9) = 0.72), so the untrained model would be far worse than plain
interpolation and the residual would first have to learn to undo the tanh.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from trainer.models.common import check_positive, log2_size


def _residual_block(x, filters: int, name: str, use_bias: bool = True):
    """x + Conv3(ReLU(Conv3(x))) (EDSR-style, no normalisation)."""
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name=f"{name}_conv1")(x)
    y = keras.layers.ReLU(name=f"{name}_act")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


SR_BODIES = ("hr", "lr")


def sr_generator_hr(lr_size: int = 64, channels: int = 1, scale: int = 4, base_filters: int = 64,
                    num_res_blocks: int = 5, body: str = "hr", detail_input: bool = False,
                    name: str = "g_hr") -> keras.Model:
    """G_HR: bicubic up-sampling plus a learned residual.

    ``body="hr"`` (the seed; the SRResDNet idea, Umer et al. 2020): upscale first,
    then refine - lr [B, s, s, C] → bicubic ×scale → u [B, S, S, C]; Conv3(b) →
    residual blocks → Conv3(C, zero init) → r.

    ``body="lr"`` (EDSR/ESPCN-style): the residual blocks run on the LR image,
    ``scale``² times fewer pixels, so the same cost buys a wider, deeper body with
    a larger receptive field - Conv3(b) on lr → residual blocks → Conv3(C·scale²,
    zero init) → depth-to-space ×scale → r [B, S, S, C].

    Output clip(u + r, -1, 1) [B, S, S, C] with S = s·scale. At initialisation
    r = 0: the output is bicubic up-sampling.

    ``detail_input=True``: the residual branch sees only the image's detail, x
    minus its 3×3 mean, through convolutions without biases (and ReLU, zero at
    zero), so r = 0 where the branch sees no detail: a flat region stays bicubic
    up-sampling whatever its colour, and so does a linear ramp farther from the
    image's edges than the branch reaches. A plain branch learns colour-dependent offsets there
    (several grey levels on flat colours its training set lacked).
    """
    check_positive(lr_size=lr_size, channels=channels, scale=scale, base_filters=base_filters,
                   num_res_blocks=num_res_blocks)
    if body not in SR_BODIES:
        raise ValueError(f"sr_generator_hr body must be one of {SR_BODIES}, received {body!r}")
    lr = keras.Input((lr_size, lr_size, channels), name="lr")
    up = keras.layers.UpSampling2D(scale, interpolation="bicubic", name="upscale")(lr)  # [B, S, S, C]
    x = up if body == "hr" else lr
    bias = not detail_input
    if detail_input:  # x - its 3x3 mean (SAME pooling averages only the pixels inside)
        local_mean = keras.layers.AveragePooling2D(3, strides=1, padding="same",
                                                   name="local_mean")(x)
        x = keras.layers.Subtract(name="detail")([x, local_mean])
    x = keras.layers.Conv2D(base_filters, 3, padding="same", use_bias=bias, name="head")(x)
    head = x
    for i in range(num_res_blocks):
        x = _residual_block(x, base_filters, name=f"res{i}", use_bias=bias)
    x = keras.layers.Add(name="body_skip")([head, x])
    if body == "hr":
        r = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                                use_bias=bias, name="tail")(x)
    else:
        r = keras.layers.Conv2D(channels * scale * scale, 3, padding="same", use_bias=bias,
                                kernel_initializer="zeros", name="tail")(x)    # [B, s, s, C·scale²]
        r = DepthToSpace(scale, name="tail_shuffle")(r)                        # [B, S, S, C]
    out = keras.layers.Add(name="refine")([up, r])
    out = keras.layers.Activation("hard_tanh", dtype="float32", name="hr")(out)  # clip to [-1, 1]
    return keras.Model(lr, out, name=name)


@keras.saving.register_keras_serializable(package="trainer")
class DepthToSpace(keras.layers.Layer):
    """Sub-pixel rearrangement (pixel shuffle): [B, h, w, C·k²] → [B, h·k, w·k, C]."""

    def __init__(self, block_size: int, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.block_size)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        k = self.block_size
        return (b, None if h is None else h * k, None if w is None else w * k, c // (k * k))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


def sr_generator_lr(hr_size: int = 256, channels: int = 1, scale: int = 4, base_filters: int = 64,
                    num_res_blocks: int = 5, name: str = "g_lr") -> keras.Model:
    """G_LR: the learned degradation, Conv → ResNet → Conv with downsampling.

    hr [B, S, S, C] → Conv3(b) → residual blocks → log2(scale) × (Conv3(b,
    s2) → LeakyReLU(0.2)) → Conv3(C, zero init) → r; output
    clip(avgpool_scale(hr) + r, -1, 1) [B, S/scale, S/scale, C]. At
    initialisation r = 0: the output is average pooling. ``scale`` must be a
    power of two.
    """
    check_positive(hr_size=hr_size, channels=channels, base_filters=base_filters,
                   num_res_blocks=num_res_blocks)
    steps = log2_size(scale, "sr_generator_lr scale", 2)
    if hr_size % scale:
        raise ValueError(f"hr_size must be a multiple of scale, received {hr_size} and {scale}")
    hr = keras.Input((hr_size, hr_size, channels), name="hr")
    x = keras.layers.Conv2D(base_filters, 3, padding="same", name="head")(hr)
    for i in range(num_res_blocks):
        x = _residual_block(x, base_filters, name=f"res{i}")
    for i in range(steps):
        x = keras.layers.Conv2D(base_filters, 3, strides=2, padding="same", name=f"down{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"down{i}_act")(x)
    r = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                            name="tail")(x)
    pooled = keras.layers.AveragePooling2D(scale, name="downscale")(hr)  # [B, S/scale, S/scale, C]
    out = keras.layers.Add(name="refine")([pooled, r])
    out = keras.layers.Activation("hard_tanh", dtype="float32", name="lr")(out)  # clip to [-1, 1]
    return keras.Model(hr, out, name=name)
