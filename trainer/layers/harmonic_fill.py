"""Classical hole fills in TensorFlow, as priors inside an inpainting generator.

HarmonicFill: holes filled by the solution of Laplace's equation.
BiharmonicFill: holes filled by the solution of the biharmonic equation, what
scikit-image's ``inpaint_biharmonic`` computes.

Each hole pixel becomes the average of its four neighbours while known pixels
keep their values - the discrete harmonic interpolation of the known pixels,
solved by Jacobi iterations coarse to fine (a multigrid V-cycle's upward half):
the known pixels are averaged down a pyramid of 2x2 pools to 4x4, holes at the
coarsest level start at the mean of the known pixels, and every level starts
from the bilinear up-sampling of the coarser solution. This is the first-order
cousin of scikit-image's ``inpaint_biharmonic``, in TensorFlow so it runs inside
the generator (training and the exported serving signature alike).

The biharmonic fill minimises the squared discrete Laplacian (5-point stencil,
mirrored borders) summed over the whole image, over the hole pixels, with the
known pixels fixed: its normal equations are the biharmonic equation in the
holes. It is solved per image and channel by conjugate gradients started from
the harmonic fill. On the inpainting demo's train split (200 images, 64 px,
the quick preset's stroke masks) the hole PSNR is 26.73 dB after the harmonic
fill, 27.13 after 10 iterations, 27.57 after 100 (converged to 0.01 dB) and
27.58 with ``inpaint_biharmonic`` (which treats the image border differently).

No weights, no gradients.
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


def _laplacian(u, kernel):
    """5-point Laplacian of ``u`` [B, H, W, C] with mirrored borders (a linear map H -> H)."""
    padded = tf.pad(u, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")


def _laplacian_transposed(v, kernel):
    """The adjoint of :func:`_laplacian`: a full convolution, then the mirrored border rows
    and columns folded back onto the pixels they copied."""
    v = tf.pad(v, [[0, 0], [2, 2], [2, 2], [0, 0]])
    v = tf.nn.depthwise_conv2d(v, kernel, [1, 1, 1, 1], "VALID")                   # [B, H+2, W+2, C]
    v = tf.concat([v[:, 1:2] + v[:, :1], v[:, 2:-2], v[:, -2:-1] + v[:, -1:]], axis=1)
    return tf.concat([v[:, :, 1:2] + v[:, :, :1], v[:, :, 2:-2],
                      v[:, :, -2:-1] + v[:, :, -1:]], axis=2)


def biharmonic_fill(image: tf.Tensor, known: tf.Tensor, iterations: int = 100,
                    harmonic_iterations: int = 16) -> tf.Tensor:
    """``image`` [B, H, W, C] with its holes (``known`` [B, H, W, 1], 1 = known) filled by
    the biharmonic interpolation of the known pixels: ``iterations`` conjugate-gradient
    steps on ``min ||Laplacian(u)||^2`` over the holes, from :func:`harmonic_fill`."""
    image = tf.convert_to_tensor(image)
    dtype = image.dtype
    hole = 1.0 - tf.cast(tf.convert_to_tensor(known)[..., :1], dtype)               # [B, H, W, 1]
    channels = image.shape[-1]
    kernel = tf.constant([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype)
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, channels, 1])                 # [3, 3, C, 1]

    def normal(u):  # the normal operator restricted to the holes: P L^T L P
        return hole * _laplacian_transposed(_laplacian(u, kernel), kernel)

    def dot(a, b):
        return tf.reduce_sum(a * b, axis=[1, 2], keepdims=True)                    # [B, 1, 1, C]

    tiny = tf.constant(1e-10, dtype)  # a squared residual this small has converged

    def step(i, u, r, p, rs):
        ap = normal(p)
        live = rs > tiny
        alpha = tf.where(live, rs / tf.where(live, dot(p, ap), 1.0), 0.0)
        u = u + alpha * p
        r = r - alpha * ap
        rs_new = dot(r, r)
        beta = tf.where(live, rs_new / tf.where(live, rs, 1.0), 0.0)
        return i + 1, u, r, r + beta * p, rs_new

    u = harmonic_fill(image, known, harmonic_iterations)
    r = -normal(u)
    _, u, _, _, _ = tf.while_loop(lambda i, *_: i < iterations, step,
                                  (tf.constant(0), u, r, r, dot(r, r)))
    return tf.stop_gradient(u)


class _Fill(keras.layers.Layer):
    """``[image [B, H, W, C], mask [B, H, W, 1 or C] (1 = known)]`` → ``fill(image, mask,
    iterations)``; subclasses name the fill and its default iterations."""

    fill = None  # staticmethod(image, known, iterations) -> filled image

    def __init__(self, iterations: int, **kwargs):
        super().__init__(**kwargs)
        if iterations < 1:
            raise ValueError(f"{type(self).__name__} iterations must be >= 1, "
                             f"received {iterations}")
        self.iterations = int(iterations)

    def call(self, inputs):
        image, mask = inputs
        return self.fill(image, mask, self.iterations)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations}


@keras.saving.register_keras_serializable(package="trainer")
class HarmonicFill(_Fill):
    """The harmonic fill (:func:`harmonic_fill`; ``iterations``: Jacobi sweeps per level)."""

    fill = staticmethod(harmonic_fill)

    def __init__(self, iterations: int = 16, **kwargs):
        super().__init__(iterations, **kwargs)


@keras.saving.register_keras_serializable(package="trainer")
class BiharmonicFill(_Fill):
    """The biharmonic fill (:func:`biharmonic_fill`; ``iterations``: conjugate-gradient steps)."""

    fill = staticmethod(biharmonic_fill)

    def __init__(self, iterations: int = 100, **kwargs):
        super().__init__(iterations, **kwargs)
