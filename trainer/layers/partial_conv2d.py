"""Partial convolution (Liu et al. 2018), the building block of PConvUNet."""
from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="trainer")
class PartialConv2D(keras.layers.Layer):
    """2-D partial convolution with mask update.

    Liu et al. 2018, "Image Inpainting for Irregular Holes Using Partial
    Convolutions", https://arxiv.org/abs/1804.07723, eq. (1)-(2). For each
    window with input X, mask M (1 = valid) and weights W::

        x' = Wᵀ(X ⊙ M) · sum(1) / sum(M) + b    if sum(M) > 0
        x' = 0                                    otherwise
        m' = 1 if sum(M) > 0 else 0

    ``sum(1)`` counts the window's *image* elements (k_h·k_w·C_in, fewer
    where the window overhangs the border) and ``sum(M)`` the valid ones
    among them. The mask may have one channel (shared by all input channels)
    or C_in channels; a one-channel mask is broadcast to C_in channels before
    counting, also when its channel count is only known at run time.

    Border windows: the zero padding of ``padding="same"`` is neither valid
    nor counted in ``sum(1)``. So a window that covers only holes and padding
    outputs 0 and stays a hole in ``m'`` (padding does not shrink border
    holes), and with an all-ones mask ``sum(1) / sum(M) = 1`` everywhere: the
    layer equals ``Conv2D`` with the same weights. NVIDIA's reference
    implementation (github.com/NVIDIA/partialconv, ``models/partialconv2d.py``)
    computes ``m'`` the same way (it convolves the zero-padded mask), but its
    ``sum(1)`` is the full window including padding, which re-scales border
    windows even for an all-ones mask ("partial convolution based padding",
    Liu et al. 2018b, https://arxiv.org/abs/1811.11718); here ``sum(1)``
    counts only real pixels so the all-ones case stays an ordinary
    convolution.

    Call with ``[x [B, H, W, C_in], mask [B, H, W, 1 or C_in]]``; returns
    ``[y [B, H', W', filters], new_mask [B, H', W', 1]]``.
    """

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, padding: str = "same",
                 use_bias: bool = True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', received {padding!r}")
        if filters < 1 or kernel_size < 1 or strides < 1:
            raise ValueError(f"filters, kernel_size and strides must be >= 1, received "
                             f"{filters}, {kernel_size}, {strides}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        x_shape, m_shape = input_shape
        c_in = x_shape[-1]
        if c_in is None:
            raise ValueError(f"PartialConv2D needs a known channel count, received input shape {x_shape}")
        if m_shape[-1] not in (None, 1, c_in):
            raise ValueError(f"mask must have 1 or {c_in} channels, received mask shape {m_shape}")
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, c_in, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
                     if self.use_bias else None)
        self._c_in = c_in

    def _pad(self, t, size, value):
        """Explicit TF 'SAME' padding so mask and image are padded differently."""
        if self.padding == "valid":
            return t
        k, s = self.kernel_size, self.strides
        pads = []
        for n in size:
            out = math.ceil(n / s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return ops.pad(t, [(0, 0), pads[0], pads[1], (0, 0)], constant_values=value)

    def call(self, inputs):
        x, mask = inputs
        size = (x.shape[1], x.shape[2])
        if None in size:
            raise ValueError(f"PartialConv2D needs static spatial sizes, received {x.shape}")
        # A [B, H, W, 1] mask stands for C_in identical channels; broadcasting
        # here (not only when the channel count is static) keeps sum(M) right
        # for masks whose channel count is unknown until run time.
        mask = ops.broadcast_to(ops.cast(mask, "float32"), ops.shape(x))  # [B, H, W, C_in]
        valid = ops.sum(mask, axis=-1, keepdims=True)  # [B, H, W, 1]; counts stay exact under mixed precision
        ones = ops.ones((self.kernel_size, self.kernel_size, 1, 1), dtype="float32")
        # The padding is neither valid (sum(M)) nor part of the window (sum(1)).
        valid_sum = ops.conv(self._pad(valid, size, 0.0), ones,
                             strides=self.strides, padding="valid")  # [B, H', W', 1]
        real = ops.full((1, size[0], size[1], 1), float(self._c_in), dtype="float32")
        window = ops.conv(self._pad(real, size, 0.0), ones,
                          strides=self.strides, padding="valid")  # [1, H', W', 1]: sum(1)
        new_mask = ops.clip(valid_sum, 0.0, 1.0)
        ratio = window / ops.maximum(valid_sum, 1e-8) * new_mask  # 0 where no valid input
        y = ops.conv(self._pad(x * ops.cast(mask, x.dtype), size, 0.0),
                     ops.cast(self.kernel, x.dtype),
                     strides=self.strides, padding="valid")  # [B, H', W', filters]
        y = y * ops.cast(ratio, x.dtype)
        if self.bias is not None:
            y = y + ops.cast(self.bias, x.dtype)
        return [y * ops.cast(new_mask, x.dtype), new_mask]

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        def out(n):
            if n is None:
                return None
            if self.padding == "same":
                return math.ceil(n / self.strides)
            return (n - self.kernel_size) // self.strides + 1
        h, w = out(x_shape[1]), out(x_shape[2])
        return [(x_shape[0], h, w, self.filters), (x_shape[0], h, w, 1)]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      padding=self.padding, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
