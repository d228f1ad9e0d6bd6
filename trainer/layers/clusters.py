"""Clusters of the real images for a self-conditioned GAN (Liu et al. 2020,
"Diverse Image Generation via Self-Conditioned GANs", https://arxiv.org/abs/2006.10728).

The real images are split into ``k`` clusters before training (k-means). The
generator draws a cluster for each noise vector in the clusters' real
proportions and is conditioned on it; the discriminator judges an image
together with its cluster (a real image's nearest centre, a generated image's
drawn cluster). A generator that over-draws some clusters' look then loses to
a discriminator that knows which cluster each sample claims to be, so the
samples follow the real data's proportions of clusters.

Both pieces are functions of weights set once from the data
(:func:`fit_clusters`), so a served generator stays ``z -> image``.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


def _check_clusters(clusters) -> int:
    if not isinstance(clusters, int) or isinstance(clusters, bool) or clusters < 2:
        raise ValueError(f"the number of clusters must be an int >= 2, received {clusters!r}")
    return clusters


@keras.saving.register_keras_serializable(package="trainer")
class ClusterOfNoise(keras.layers.Layer):
    """z [B, D] -> one-hot cluster [B, k], drawn from the cluster ``prior`` [k].

    The draw is the prior's inverse CDF at ``u = Phi(z[:, 0])``, the standard
    normal CDF of the first noise coordinate: for ``z ~ N(0, I)``, ``u`` is
    uniform on (0, 1), so the clusters come out in the prior's proportions and
    each ``z`` (hence each serving seed) keeps one cluster. ``prior`` is a
    non-trainable weight, uniform until :meth:`set_prior`.
    """

    def __init__(self, clusters: int, **kwargs):
        super().__init__(**kwargs)
        self.clusters = _check_clusters(clusters)

    def build(self, input_shape):
        k = self.clusters
        self.prior = self.add_weight(name="prior", shape=(k,), trainable=False,
                                     initializer=keras.initializers.Constant(1.0 / k))

    def set_prior(self, prior) -> None:
        """Sets the cluster proportions (non-negative, any positive total; normalised here)."""
        p = np.asarray(prior, dtype="float64")
        if p.shape != (self.clusters,) or not np.all(np.isfinite(p)) or np.any(p < 0) \
                or p.sum() <= 0:
            raise ValueError(f"cluster prior must be {self.clusters} non-negative finite values "
                             f"with a positive sum, received {np.asarray(prior).tolist()!r}")
        self.prior.assign((p / p.sum()).astype("float32"))

    def call(self, z):
        z = tf.convert_to_tensor(z)
        u = 0.5 * (1.0 + tf.math.erf(tf.cast(z[:, 0], tf.float32) / math.sqrt(2.0)))
        edges = tf.cumsum(tf.cast(self.prior, tf.float32))[:-1]          # [k - 1]
        index = tf.reduce_sum(tf.cast(u[:, None] >= edges[None, :], tf.int32), axis=1)
        return tf.one_hot(index, self.clusters, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.clusters)

    def get_config(self):
        return {**super().get_config(), "clusters": self.clusters}


def nearest_centre(images: tf.Tensor, centres: tf.Tensor) -> tf.Tensor:
    """One-hot [B, k] of each image's nearest centre in pixel space; ``centres`` [k, H·W·C]."""
    x = tf.reshape(tf.cast(images, tf.float32), [tf.shape(images)[0], -1])
    c = tf.cast(centres, tf.float32)
    distance = (tf.reduce_sum(tf.square(c), axis=1)[None, :]
                - 2.0 * tf.matmul(x, c, transpose_b=True))            # |x|^2 is common to all
    return tf.one_hot(tf.argmin(distance, axis=1), tf.shape(c)[0])


def fit_clusters(images: np.ndarray, clusters: int, seed: int = 0):
    """k-means (scikit-learn) on the real images [N, H, W, C] ->
    (centres [k, H·W·C] float32, proportions [k] summing to 1)."""
    from sklearn.cluster import KMeans
    k = _check_clusters(clusters)
    x = np.asarray(images, dtype="float32")
    if x.ndim != 4:
        raise ValueError(f"fit_clusters expects images [N, H, W, C], received shape {x.shape}")
    x = x.reshape(len(x), -1)
    if len(x) < k:
        raise ValueError(f"fit_clusters needs at least {k} images for {k} clusters, "
                         f"received {len(x)}")
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    counts = np.bincount(km.labels_, minlength=k).astype("float64")
    return km.cluster_centers_.astype("float32"), counts / counts.sum()
