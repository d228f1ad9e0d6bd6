"""Spectral normalisation of a layer's kernel (Miyato et al. 2018, https://arxiv.org/abs/1802.05957)."""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="trainer")
class SpectralNorm(keras.layers.Wrapper):
    """Runs a ``Conv2D`` or ``Dense`` layer with its kernel divided by the kernel's
    largest singular value sigma, so that the layer is 1-Lipschitz.

    Sigma is estimated by power iteration on the kernel reshaped to
    ``[fan_in, filters]``, from a vector ``u`` kept between calls: each call in
    training runs ``power_iterations`` steps and stores the new ``u``, so one step
    per training call tracks sigma as the weights move. Unlike Keras's own
    ``SpectralNormalization``, which overwrites the kernel with its normalised
    value, the kernel variable keeps its raw value and the gradient flows
    through ``kernel / sigma`` (``u`` and ``v`` held constant), as in the paper.
    ``u`` depends on the weights only, so every replica computes the same value
    and the first replica's is kept.
    """

    def __init__(self, layer, power_iterations: int = 1, seed: int = 0, **kwargs):
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            raise ValueError(f"SpectralNorm wraps a Conv2D or Dense layer, "
                             f"received {type(layer).__name__}")
        n = power_iterations
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"SpectralNorm power_iterations must be an int >= 1, received {n!r}")
        if isinstance(layer, keras.layers.Conv2D) and layer.data_format != "channels_last":
            raise ValueError("SpectralNorm wraps channels_last convolutions only")
        super().__init__(layer, **kwargs)
        self.power_iterations = n
        self.seed = seed

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        filters = self.layer.kernel.shape[-1]
        self.u = self.add_weight(
            shape=(filters,), name="u", trainable=False,
            initializer=keras.initializers.RandomNormal(seed=self.seed),
            aggregation="only_first_replica")
        self.built = True

    def sigma(self, training=False) -> tf.Tensor:
        """The estimate of the kernel's largest singular value (updates ``u`` in training)."""
        w = tf.convert_to_tensor(self.layer.kernel)
        w = tf.reshape(tf.cast(w, tf.float32), [-1, w.shape[-1]])  # [fan_in, filters]
        u = tf.convert_to_tensor(self.u)
        for _ in range(self.power_iterations):
            v = tf.math.l2_normalize(tf.linalg.matvec(w, u))  # [fan_in]
            u = tf.math.l2_normalize(tf.linalg.matvec(w, v, transpose_a=True))  # [filters]
        u, v = tf.stop_gradient(u), tf.stop_gradient(v)
        if training:
            self.u.assign(u)
        return tf.tensordot(v, tf.linalg.matvec(w, u), axes=1)

    def call(self, inputs, training=False):
        layer = self.layer
        kernel = tf.cast(tf.convert_to_tensor(layer.kernel), tf.float32) / self.sigma(training)
        kernel = tf.cast(kernel, inputs.dtype)
        if isinstance(layer, keras.layers.Conv2D):
            outputs = layer.convolution_op(inputs, kernel)
        else:
            outputs = tf.tensordot(inputs, kernel, axes=[[-1], [0]])
        if layer.use_bias:
            outputs = outputs + tf.cast(layer.bias, outputs.dtype)
        if layer.activation is not None:
            outputs = layer.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations,
                "seed": self.seed}
