"""PatchGAN discriminator / critic (Isola et al. 2017, §3.2.2), as in seed 000."""
from __future__ import annotations

from typing import Sequence

import keras

from trainer.layers import make_norm
from trainer.models.common import check_positive, gan_init


def patchgan(input_shapes: Sequence[tuple[int, int, int]], base_filters: int = 64,
             norm: str = "batch", num_down: int = 3, name: str = "patchgan") -> keras.Model:
    """Patch discriminator: one logit (no sigmoid) per receptive-field patch.

    The inputs (one image, or a condition and an image) are concatenated on
    channels, then: ``num_down`` blocks Conv2D(k4, s2, no bias) → norm (not
    on the first) → LeakyReLU(0.3), filters base·(1, 2, 4, ...); ZeroPad →
    Conv2D(8·base, k4, s1, no bias) → norm → LeakyReLU; ZeroPad → Conv2D(1, k4).
    A 256×256 input with 3 down blocks gives a 30×30 map (70×70 patches);
    with two 256×256×1 inputs, base 64 and batch norm this is the seed's
    critic (2,766,337 parameters).

    Args:
        input_shapes: (H, W, C) of each input; all share H and W.
        norm: "batch" (seed), "layer", "instance" or "none".
        num_down: stride-2 blocks; the input side must be >= 3·2**num_down.
    """
    check_positive(base_filters=base_filters, num_down=num_down)
    if not input_shapes:
        raise ValueError("patchgan needs at least one input shape, received none")
    sizes = {tuple(s[:2]) for s in input_shapes}
    if len(sizes) != 1:
        raise ValueError(f"patchgan inputs must share H and W, received {list(input_shapes)}")
    side = min(next(iter(sizes)))
    if side // 2 ** num_down < 3:
        raise ValueError(f"patchgan with num_down={num_down} needs inputs of at least "
                         f"{3 * 2 ** num_down} pixels, received {list(input_shapes)}")
    init = gan_init()
    names = ["input_image", "target_image"] if len(input_shapes) == 2 else \
        [f"image{i}" if len(input_shapes) > 1 else "image" for i in range(len(input_shapes))]
    inputs = [keras.Input(tuple(s), name=n) for s, n in zip(input_shapes, names)]
    x = (keras.layers.Concatenate(name="concat")(inputs)  # [B, H, W, ΣC]
         if len(inputs) > 1 else inputs[0])
    for i in range(num_down):
        x = keras.layers.Conv2D(base_filters * 2 ** i, 4, strides=2, padding="same",
                                use_bias=False, kernel_initializer=init, name=f"down{i}_conv")(x)
        if i > 0:
            layer = make_norm(norm, name=f"down{i}_norm")
            x = layer(x) if layer is not None else x
        x = keras.layers.LeakyReLU(negative_slope=0.3, name=f"down{i}_act")(x)
    x = keras.layers.ZeroPadding2D(name="pad1")(x)
    x = keras.layers.Conv2D(base_filters * 8, 4, strides=1, use_bias=False,
                            kernel_initializer=init, name="conv")(x)
    layer = make_norm(norm, name="norm")
    x = layer(x) if layer is not None else x
    x = keras.layers.LeakyReLU(negative_slope=0.3, name="act")(x)
    x = keras.layers.ZeroPadding2D(name="pad2")(x)
    outputs = keras.layers.Conv2D(1, 4, strides=1, kernel_initializer=init, dtype="float32",
                                  name="logits")(x)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)
