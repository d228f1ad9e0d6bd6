"""PConvUNet: the partial-convolution U-Net of Liu et al. 2018 (seed 002)."""
from __future__ import annotations

import keras
from keras import ops

from trainer.layers import BiharmonicFill, HarmonicFill, PartialConv2D, make_norm
from trainer.models.common import check_positive, log2_size


@keras.saving.register_keras_serializable(package="trainer")
class BroadcastMask(keras.layers.Layer):
    """``[mask [B, H, W, 1 or C], like [B, H, W, C]]`` → mask repeated to C channels."""

    def call(self, inputs):
        mask, like = inputs
        return ops.broadcast_to(ops.cast(mask, like.dtype), ops.shape(like))

    def compute_output_shape(self, input_shape):
        return input_shape[1]


def _broadcast_mask(mask, like):
    return BroadcastMask()([mask, like])


PRIORS = ("none", "harmonic", "biharmonic")


def pconv_unet(image_size: int = 512, channels: int = 3, base_filters: int = 64,
               norm: str = "batch", prior: str = "none", prior_iterations: int = 100,
               name: str = "pconv_unet") -> keras.Model:
    """Partial-convolution U-Net for inpainting.

    Inputs: ``masked_image`` [B, S, S, C] in [-1, 1] (holes may hold any
    value; they are masked out) and ``mask`` [B, S, S, 1 or C], 1 = known,
    0 = hole. Output: the predicted image [B, S, S, C] (tanh) everywhere;
    compose it with the known pixels for the completed image.

    Encoder: log2(S) - 1 partial convolutions with stride 2, kernels
    7, 5, 5, 3, 3, ... and filters base·(1, 2, 4, 8, 8, ...) capped at 8·base
    (S → 2), norm except on the first, ReLU. Decoder, per level: nearest ×2
    upsampling of features and mask, concatenation with the encoder's
    features and mask of that size, a 3×3 partial convolution, norm,
    LeakyReLU(0.2). The last level concatenates the input image and mask and
    maps to C channels with tanh.

    ``prior="harmonic"`` or ``"biharmonic"`` predicts a correction of a classical
    fill instead: the last level maps to ``base_filters`` features (LeakyReLU), a
    zero-initialised 3×3 conv gives ``r`` and the output is ``clip(fill + r, -1, 1)``
    (:class:`trainer.layers.HarmonicFill`, :class:`trainer.layers.BiharmonicFill`),
    so the untrained network is the classical interpolation of the known pixels and
    training learns what it misses - as the SR generator starts from bicubic
    up-sampling. ``prior_iterations``: the biharmonic solve's conjugate-gradient steps.
    """
    if prior not in PRIORS:
        raise ValueError(f"pconv_unet prior must be one of {PRIORS}, received {prior!r}")
    depth = log2_size(image_size, "pconv_unet", 16) - 1
    check_positive(channels=channels, base_filters=base_filters)
    kernels = [7, 5, 5] + [3] * (depth - 3)
    filters = [min(base_filters * 2 ** i, base_filters * 8) for i in range(depth)]

    image = keras.Input((image_size, image_size, channels), name="masked_image")
    mask = keras.Input((image_size, image_size, None), name="mask")
    full_mask = _broadcast_mask(mask, image)  # [B, S, S, C]
    x, m = image, full_mask
    features = [(image, full_mask)]
    for i, (f, k) in enumerate(zip(filters, kernels)):
        x, m = PartialConv2D(f, k, strides=2, use_bias=i == 0, name=f"enc{i}_pconv")([x, m])
        if i > 0:
            layer = make_norm(norm, name=f"enc{i}_norm")
            x = layer(x) if layer is not None else x
        x = keras.layers.ReLU(name=f"enc{i}_act")(x)
        features.append((x, m))
    # Decoder filters mirror the encoder; the last level outputs the image.
    dec_filters = filters[:-1][::-1] + [channels if prior == "none" else base_filters]
    for i, f in enumerate(dec_filters):
        skip_x, skip_m = features[depth - 1 - i]
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"dec{i}_up")(x)
        m = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"dec{i}_up_mask")(m)
        x_cat = keras.layers.Concatenate(name=f"dec{i}_concat")([x, skip_x])  # [B, s, s, c + c_skip]
        m_cat = keras.layers.Concatenate(name=f"dec{i}_concat_mask")(
            [_broadcast_mask(m, x), _broadcast_mask(skip_m, skip_x)])     # same shape as x_cat
        last = i == len(dec_filters) - 1
        x, m = PartialConv2D(f, 3, strides=1, use_bias=last, name=f"dec{i}_pconv")([x_cat, m_cat])
        if last and prior != "none":
            x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"dec{i}_act")(x)
        if not last:
            layer = make_norm(norm, name=f"dec{i}_norm")
            x = layer(x) if layer is not None else x
            x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"dec{i}_act")(x)
    if prior == "none":
        output = keras.layers.Activation("tanh", dtype="float32", name="output")(x)
        return keras.Model([image, mask], output, name=name)
    r = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                            dtype="float32", name="residual")(x)                 # [B, S, S, C]
    if prior == "harmonic":
        fill = HarmonicFill(name="harmonic_fill")([image, mask])               # [B, S, S, C]
    else:
        fill = BiharmonicFill(prior_iterations, name="biharmonic_fill")([image, mask])
    output = keras.layers.Add(dtype="float32", name="fill_plus_residual")([fill, r])
    output = keras.layers.Activation("hard_tanh", dtype="float32", name="output")(output)
    return keras.Model([image, mask], output, name=name)
