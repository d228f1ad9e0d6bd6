"""DCGAN generator and discriminator (Radford et al. 2015, https://arxiv.org/abs/1511.06434)."""
from __future__ import annotations

import keras

from trainer.layers import ClusterOfNoise, MinibatchStdDev, ReplicaDropout, SpectralNorm, make_norm
from trainer.models.common import check_positive, gan_init


def dcgan_generator(latent_dim: int = 100, image_size: int = 28, channels: int = 1,
                    base_filters: int = 64, clusters: int = 0,
                    name: str = "dcgan_generator") -> keras.Model:
    """z → Dense(S/4·S/4·4b) → BN → ReLU → reshape [S/4, S/4, 4b] →
    ConvT(2b, k5, s1) → BN → ReLU → ConvT(b, k5, s2) → BN → ReLU →
    ConvT(C, k5, s2, tanh): [B, S, S, C]. S must be a multiple of 4.

    With ``clusters`` = k the projection reads ``[z, one-hot cluster]``, the
    cluster drawn from z by the layer named ``cluster``
    (:class:`~trainer.layers.ClusterOfNoise`); the model is still z → image."""
    check_positive(latent_dim=latent_dim, channels=channels, base_filters=base_filters)
    if image_size < 4 or image_size % 4:
        raise ValueError(f"dcgan_generator needs image_size a multiple of 4, received {image_size}")
    init = gan_init()
    s = image_size // 4
    z = keras.Input((latent_dim,), name="z")
    x = z
    if clusters:
        x = keras.layers.Concatenate(name="z_and_cluster")([z, ClusterOfNoise(clusters,
                                                                              name="cluster")(z)])
    x = keras.layers.Dense(s * s * 4 * base_filters, use_bias=False, kernel_initializer=init,
                           name="project")(x)
    x = make_norm("batch", name="project_norm")(x)
    x = keras.layers.ReLU(name="project_act")(x)
    x = keras.layers.Reshape((s, s, 4 * base_filters), name="reshape")(x)  # [B, S/4, S/4, 4b]
    for i, (f, stride) in enumerate(((2 * base_filters, 1), (base_filters, 2))):
        x = keras.layers.Conv2DTranspose(f, 5, strides=stride, padding="same", use_bias=False,
                                         kernel_initializer=init, name=f"up{i}_conv")(x)
        x = make_norm("batch", name=f"up{i}_norm")(x)
        x = keras.layers.ReLU(name=f"up{i}_act")(x)
    images = keras.layers.Conv2DTranspose(channels, 5, strides=2, padding="same",
                                          kernel_initializer=init, activation="tanh",
                                          dtype="float32", name="image")(x)
    return keras.Model(z, images, name=name)


def dcgan_discriminator(image_size: int = 28, channels: int = 1, base_filters: int = 64,
                        dropout_rate: float = 0.3, seed: int = 0, minibatch_std: int = 0,
                        spectral_norm: bool = False, clusters: int = 0,
                        name: str = "dcgan_discriminator") -> keras.Model:
    """[B, S, S, C] → (Conv2D(k5, s2) → LeakyReLU(0.2) → dropout) with b, 2b
    filters → [minibatch std over groups of ``minibatch_std`` examples] →
    Flatten → Dense(1) logit. With ``spectral_norm`` every kernel is divided by
    its largest singular value (``SpectralNorm`` layers named ``down0_sn``,
    ``down1_sn``, ``logit_sn``, and ``cluster_embedding_sn`` with clusters).

    With ``clusters`` = k the model takes ``[image, one-hot cluster [B, k]]`` and
    adds the projection ``<embed(cluster), features>`` to the logit (Miyato &
    Koyama 2018, "cGANs with Projection Discriminator")."""
    check_positive(image_size=image_size, channels=channels, base_filters=base_filters)
    init = gan_init()

    def normed(layer, name):
        return SpectralNorm(layer, seed=seed, name=name) if spectral_norm else layer

    images = keras.Input((image_size, image_size, channels), name="image")
    x = images
    for i, f in enumerate((base_filters, 2 * base_filters)):
        x = normed(keras.layers.Conv2D(f, 5, strides=2, padding="same", kernel_initializer=init,
                                       name=f"down{i}_conv"), f"down{i}_sn")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"down{i}_act")(x)
        if dropout_rate > 0:
            x = ReplicaDropout(dropout_rate, seed=seed * 101 + 50 + i, name=f"down{i}_dropout")(x)
    if minibatch_std:
        x = MinibatchStdDev(minibatch_std, name="minibatch_std")(x)  # [B, S/4, S/4, 2b + 1]
    x = keras.layers.Flatten(name="flatten")(x)  # [B, S/4·S/4·2b(+1)]
    logits = normed(keras.layers.Dense(1, dtype="float32", name="logit"), "logit_sn")(x)
    if not clusters:
        return keras.Model(images, logits, name=name)
    cluster = keras.Input((clusters,), name="cluster")
    embedded = normed(keras.layers.Dense(x.shape[-1], use_bias=False, kernel_initializer=init,
                                         name="cluster_embedding"), "cluster_embedding_sn")(cluster)
    projection = keras.layers.Dot(axes=1, dtype="float32", name="projection")([x, embedded])
    logits = keras.layers.Add(dtype="float32", name="conditional_logit")([logits, projection])
    return keras.Model([images, cluster], logits, name=name)
