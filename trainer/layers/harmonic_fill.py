"""HarmonicFill: holes filled by the solution of Laplace's equation (a classical prior).

Each hole pixel becomes the average of its four neighbours while known pixels
keep their values - the discrete harmonic interpolation of the known pixels,
solved by Jacobi iterations coarse to fine (a multigrid V-cycle's upward half):
the known pixels are averaged down a pyramid of 2x2 pools to 4x4, holes at the
coarsest level start at the mean of the known pixels, and every level starts
from the bilinear up-sampling of the coarser solution. This is the first-order
cousin of scikit-image's ``inpaint_biharmonic``, in TensorFlow so it runs inside
the generator (training and the exported serving signature alike). No weights,
no gradients.
"""
from __future__ import annotations

import keras
import tensorflow as tf

_EPS = 1e-6


def harmonic_fill(image: tf.Tensor, known: tf.Tensor, iterations: int = 16) -> tf.Tensor:
    """``image`` [B, H, W, C] with its holes (``known`` [B, H, W, 1], 1 = known) filled."""
    image = tf.convert_to_tensor(image)
    known = tf.cast(tf.convert_to_tensor(known)[..., :1], image.dtype)            # [B, H, W, 1]
    channels = image.shape[-1]
    kernel = tf.constant([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]], image.dtype)
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, channels, 1])                 # [3, 3, C, 1]

    def neighbours(u):  # mean of the 4 neighbours, borders mirrored
        padded = tf.pad(u, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
        return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")

    pyramid = [(image * known, known)]
    while pyramid[-1][1].shape[1] > 4 and pyramid[-1][1].shape[1] % 2 == 0:
        v, k = pyramid[-1]
        pyramid.append((tf.nn.avg_pool2d(v, 2, 2, "VALID"), tf.nn.avg_pool2d(k, 2, 2, "VALID")))
    u = None
    for v, k in reversed(pyramid):
        has = tf.cast(k > _EPS, image.dtype)                                      # [B, h, w, 1]
        values = v / tf.maximum(k, _EPS)                                          # known means
        if u is None:
            mean = (tf.reduce_sum(v, axis=[1, 2], keepdims=True)
                    / tf.maximum(tf.reduce_sum(k, axis=[1, 2], keepdims=True), _EPS))
            u = has * values + (1.0 - has) * mean
        else:
            u = tf.image.resize(u, tf.shape(v)[1:3], method="bilinear")
            u = has * values + (1.0 - has) * u
        for _ in range(iterations):
            u = has * values + (1.0 - has) * neighbours(u)
    return tf.stop_gradient(u)


@keras.saving.register_keras_serializable(package="trainer")
class HarmonicFill(keras.layers.Layer):
    """``[image [B, H, W, C], mask [B, H, W, 1 or C] (1 = known)]`` → the harmonic fill."""

    def __init__(self, iterations: int = 16, **kwargs):
        super().__init__(**kwargs)
        if iterations < 1:
            raise ValueError(f"HarmonicFill iterations must be >= 1, received {iterations}")
        self.iterations = int(iterations)

    def call(self, inputs):
        image, mask = inputs
        return harmonic_fill(image, mask, self.iterations)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations}
