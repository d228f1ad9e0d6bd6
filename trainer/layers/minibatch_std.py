"""Minibatch standard deviation (Karras et al. 2018, ProGAN section 3)."""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="trainer")
class MinibatchStdDev(keras.layers.Layer):
    """[B, H, W, C] -> [B, H, W, C + 1]: the extra channel holds, for each group
    of ``min(group_size, B)`` consecutive examples, the standard deviation over
    the group of every feature, averaged over all features.

    A discriminator that sees it can tell a batch of look-alike samples from a
    varied real batch, which pushes the generator to spread its samples over
    the data's modes. Groups are *consecutive* examples, so with a local batch
    divisible by ``group_size`` each example gets the same statistic on any
    number of replicas (a batch split over replicas keeps whole groups). A
    batch smaller than ``group_size`` is one group, as in ProGAN.
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 2:
            raise ValueError(f"minibatch std group_size must be an int >= 2, "
                             f"received {group_size!r}")
        self.group_size = group_size

    def call(self, inputs):
        shape = tf.shape(inputs)
        batch = shape[0]
        g = tf.minimum(self.group_size, batch)
        tf.debugging.assert_equal(
            batch % g, 0, message=f"minibatch std: the batch on each replica must be a "
                                  f"multiple of the group size {self.group_size} (or smaller)")
        x = tf.cast(inputs, tf.float32)
        groups = tf.reshape(x, tf.concat([[batch // g, g], shape[1:]], axis=0))
        centred = groups - tf.reduce_mean(groups, axis=1, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=1) + 1e-8)  # [B/g, H, W, C]
        stat = tf.reduce_mean(std, axis=[1, 2, 3])  # [B/g]
        stat = tf.repeat(stat, g)  # [B]: one value per example
        extra = tf.broadcast_to(tf.reshape(stat, [-1, 1, 1, 1]),
                                tf.concat([shape[:3], [1]], axis=0))
        return tf.concat([x, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}
