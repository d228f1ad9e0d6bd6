"""Dropout whose masks do not depend on the number of replicas."""
from __future__ import annotations

import keras
import tensorflow as tf

from trainer import distribute


@keras.saving.register_keras_serializable(package="trainer")
class ReplicaDropout(keras.layers.Layer):
    """Inverted dropout drawn from a stateless seed for the whole global batch.

    Keras' ``Dropout`` draws from a seed-generator state that every replica
    holds a copy of, so under ``MirroredStrategy`` two replicas drop the same
    units of *different* examples and the step differs from one device's.
    This layer draws the mask for the global batch from ``(seed, call count)``
    and keeps this replica's rows, so example *i* gets the same mask on any
    number of replicas. The call counter is a non-trainable variable (one
    increment per training call, first replica's value kept).
    """

    def __init__(self, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), received {rate}")
        self.rate = rate
        self.seed = seed

    def build(self, input_shape):
        self.calls = self.add_weight(name="calls", shape=(), dtype="int64", initializer="zeros",
                                     trainable=False, aggregation="only_first_replica")

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        count = self.calls.value
        seed = distribute.step_seed(self.seed, count, salt=17)
        feature_shape = tf.shape(inputs)[1:]
        keep = distribute.replica_slice(
            lambda g: tf.random.stateless_uniform(
                tf.concat([[g], feature_shape], axis=0), seed=seed) >= self.rate,
            tf.shape(inputs)[0])
        self.calls.assign_add(1)
        return tf.where(keep, inputs / (1.0 - self.rate), tf.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
