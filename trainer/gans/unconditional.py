"""The unconditional minimax GAN shared by ``vanilla_gan`` and ``dcgan`` (seeds 001, 004).

Generator call: ``generator(z [B, latent_dim]) -> [B, S, S, C]``; serving makes
``z`` with :func:`noise_from_seeds` so one int64 seed gives one image.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from trainer import augment, distribute, features as F, losses
from trainer.gans.base import GanModel
from trainer.layers.clusters import fit_clusters, nearest_centre


def noise_from_seeds(seeds, latent_dim: int) -> tf.Tensor:
    """z [B, latent_dim] ~ N(0, 1), a deterministic function of each int64 seed [B]."""
    seeds = tf.cast(tf.convert_to_tensor(seeds), tf.int64)
    if seeds.shape.rank != 1:
        raise ValueError(f"seeds must be a vector [B], received shape {seeds.shape.as_list()}")
    return tf.map_fn(
        lambda s: tf.random.stateless_normal([latent_dim], seed=tf.stack([s, tf.constant(0, tf.int64)])),
        seeds, fn_output_signature=tf.float32)


def pack_examples(images, pack: int) -> tf.Tensor:
    """[B, H, W, C] -> [B / pack, H, W, pack * C]: each ``pack`` consecutive images stacked
    in channels, so a discriminator judges them together (PacGAN, Lin et al. 2018)."""
    if pack == 1:
        return images
    shape = tf.shape(images)
    tf.debugging.assert_equal(shape[0] % pack, 0, message=f"the batch (on each replica) must "
                              f"be a multiple of pack={pack}")
    x = tf.reshape(images, tf.concat([[-1, pack], shape[1:]], 0))   # [B/p, p, H, W, C]
    x = tf.transpose(x, [0, 2, 3, 1, 4])                             # [B/p, H, W, p, C]
    return tf.reshape(x, tf.concat([[-1], shape[1:3], [pack * shape[3]]], 0))


def input_shapes(hp) -> dict[str, tuple[int, int, int]]:
    return {F.IMAGE: (hp.image_size, hp.image_size, hp.channels)}


class UnconditionalGan(GanModel):
    """Noise → image generator against a real/fake discriminator (logits).

    Discriminator: L_D = BCE(D(x), 0.9) + BCE(D(G(z)), 0)  (one-sided smoothing)
    Generator:     L_G = BCE(D(G(z)), 1)                    (non-saturating)
    Updates alternate: the discriminator first, then the generator on fresh noise.

    Options for small data (hyper-parameters; off by default, as in the seeds):
    ``diffaugment`` shows the discriminator every image through the same random,
    differentiable transform (:mod:`trainer.augment`), and ``r1_gamma`` adds
    the R1 penalty ``gamma / 2 * |grad_x D(x)|^2`` on real images to L_D
    (Mescheder et al. 2018), which keeps the discriminator from sharpening its
    decision boundary around the few real images. ``feature_matching`` adds
    ``weight * |mean f(real) - mean f(G(z))|^2`` to L_G, where f is the input of
    the discriminator's last layer and the means run over the global batch
    (Salimans et al. 2016): the generator is pulled toward the real batch's
    average features, which a generator over-drawing a few modes misses.
    ``clusters`` = k self-conditions the game (Liu et al. 2020,
    :mod:`trainer.layers.clusters`): before training, :meth:`adapt` splits the
    real images into k k-means clusters; the generator draws a cluster for each
    z in the clusters' real proportions, and the discriminator judges each image
    with its cluster (a real image's nearest centre, a generated one's draw).
    """

    LOSS_NAMES = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, hparams, generator: keras.Model, discriminator: keras.Model, name: str,
                 **kwargs):
        fm = float(getattr(hparams, "feature_matching", 0.0))
        names = self.LOSS_NAMES + (("feature_matching",) if fm else ())
        super().__init__(hparams, input_shapes(hparams), loss_names=names, name=name, **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.feature_matching = fm
        self.clusters = int(getattr(hparams, "clusters", 0))
        self.adapted = False   # adapt() has set the clusters (only read with clusters on)
        if self.clusters:
            size = hparams.image_size * hparams.image_size * hparams.channels
            self.centres = self.add_weight(name="cluster_centres", shape=(self.clusters, size),
                                           initializer="zeros", trainable=False,
                                           aggregation="only_first_replica")
        if fm:
            # Same layers and weights as the discriminator, with the last layer's
            # input (the features f) as a second output.
            self.critic_features_model = keras.Model(
                discriminator.inputs, [discriminator.outputs[0], discriminator.layers[-1].input],
                name=f"{discriminator.name}_features")

    def compile(self, d_optimizer=None, g_optimizer=None, real_label: float | None = None,
                **kwargs):
        """Defaults (seed 001): generator Adam(lr), discriminator RMSprop(lr)."""
        hp = self.hparams
        self._compile_base(**kwargs)
        self.d_optimizer = self._build_optimizer(
            d_optimizer or keras.optimizers.RMSprop(hp.d_learning_rate, name="d_rmsprop"),
            self.discriminator.trainable_variables)
        g_beta_1 = getattr(hp, "g_beta_1", 0.9)  # Keras' default where the GAN has no field
        self.g_optimizer = self._build_optimizer(
            g_optimizer or keras.optimizers.Adam(hp.g_learning_rate, beta_1=g_beta_1, name="g_adam"),
            self.generator.trainable_variables)
        self.real_label = hp.real_label if real_label is None else float(real_label)
        self.augment_policy = augment.parse_policy(getattr(hp, "diffaugment", ""))
        self.r1_gamma = float(getattr(hp, "r1_gamma", 0.0))
        self.pack = int(getattr(hp, "pack", 1))

    def critic(self, images, clusters=None) -> tf.Tensor:
        """D's logits [B / pack, 1]: each ``pack`` consecutive images side by side in channels;
        with ``clusters`` on, each image with its one-hot cluster ``clusters`` [B, k]."""
        if self.clusters:
            return self.discriminator([images, clusters], training=True)
        return self.discriminator(pack_examples(images, self.pack), training=True)

    def adapt(self, dataset) -> None:
        """With ``clusters`` on: k-means on the images of ``dataset`` (one finite
        pass of batches {"image": [B, S, S, C]}, so each image counts once) sets
        the centres and the generator's cluster proportions. Without, nothing.

        Each process clusters on its own: the same data and seed give the same
        clusters on workers with the same scikit-learn and thread count."""
        if not self.clusters:
            return
        import numpy as np
        if dataset is None:
            raise ValueError(f"{self.name} with clusters={self.clusters} needs one pass over the "
                             f"training images to cluster before training (adapt_data)")
        if isinstance(dataset, tf.data.Dataset) and \
                dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
            raise ValueError(f"{self.name}.adapt needs one finite pass over the training images; "
                             f"received a dataset that repeats forever")
        seen = [np.asarray(self.unpack(batch)[F.IMAGE]) for batch in dataset]
        if not seen:
            raise ValueError("adapt: the training dataset yielded no images to cluster")
        images = np.concatenate(seen)
        if len(images) < self.clusters:
            raise ValueError(f"{self.name} with clusters={self.clusters} needs at least "
                             f"{self.clusters} training images, received {len(images)}; "
                             f"lower clusters or add data")
        centres, proportions = fit_clusters(images, self.clusters, seed=self.hparams.seed)
        self.centres.assign(centres)
        self.generator.get_layer("cluster").set_prior(proportions)
        self.adapted = True

    def real_clusters(self, real):
        """One-hot clusters [B, k] of real images (nearest centre); None when off."""
        return nearest_centre(real, self.centres) if self.clusters else None

    def noise_clusters(self, z):
        """One-hot clusters [B, k] the generator draws for ``z``; None when off."""
        return self.generator.get_layer("cluster")(z) if self.clusters else None

    def critic_and_features(self, images):
        """D's logits [B / pack, 1] and the features f [B / pack, F] its last layer reads."""
        logits, feats = self.critic_features_model(pack_examples(images, self.pack), training=True)
        return logits, tf.reshape(tf.cast(feats, tf.float32), [tf.shape(logits)[0], -1])

    def augment(self, images, salt: int) -> tf.Tensor:
        """DiffAugment ``images`` with this step's draws for ``salt`` (identity when off)."""
        return augment.diff_augment(images, self.augment_policy, self.seed(salt))

    def real_logits_and_r1(self, real, clusters=None):
        """D(real) [B, 1] and the R1 penalty per example [B] (zeros when r1_gamma is 0)."""
        if not self.r1_gamma:
            logits = self.critic(real, clusters)
            return logits, tf.zeros([tf.shape(logits)[0]])
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = self.critic(real, clusters)
            total = tf.reduce_sum(logits)  # each example's gradient is its own
        grads = tape.gradient(total, real)
        per_image = tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])
        per_pack = tf.reduce_sum(tf.reshape(per_image, [-1, self.pack]), axis=1)
        return logits, 0.5 * self.r1_gamma * per_pack

    def noise(self, local_batch, salt: int) -> tf.Tensor:
        """This replica's rows of the step's global-batch noise [B, latent_dim]."""
        seed = self.seed(salt)
        return distribute.replica_slice(
            lambda g: tf.random.stateless_normal([g, self.hparams.latent_dim], seed=seed),
            local_batch)

    # The game's losses (per example [B]) and how a discriminator output is shown
    # as a "probability real"; a variant of the game (e.g. least squares) overrides these.
    def discriminator_loss(self, real_logits, fake_logits):
        return losses.minimax_discriminator_loss(real_logits, fake_logits, self.real_label)

    def generator_loss(self, fake_logits):
        return losses.minimax_generator_loss(fake_logits)

    def reported_score(self, logits):
        return tf.sigmoid(tf.reshape(logits, [-1]))

    def generator_inputs(self, batch):
        n = tf.shape(batch[F.IMAGE])[0]
        return noise_from_seeds(tf.range(n, dtype=tf.int64), self.hparams.latent_dim)

    def train_step(self, data):
        # 1. Validate the batch of real images [B, S, S, C].
        # 2. Discriminator: real labelled 0.9, G(z) labelled 0 (both through
        #    DiffAugment when on), plus R1 on the reals when on; update D.
        # 3. Generator on fresh noise (augmented the same way), non-saturating
        #    loss; update G.
        # 4. Report d_loss, g_loss and the mean real/fake probabilities.
        if self.clusters and not self.adapted:
            raise ValueError(f"{self.name} with clusters={self.clusters} was not adapted to its "
                             f"data: call adapt(one pass of the training images) before fit "
                             f"(trainer.task.fit_gan does, given adapt_data)")
        real = self.unpack(data)[F.IMAGE]
        local_batch = tf.shape(real)[0]
        z = self.noise(local_batch, salt=0)
        fake = self.generator(z, training=True)
        real_clusters, fake_clusters = self.real_clusters(real), self.noise_clusters(z)
        real_augmented = self.augment(real, salt=2)
        with tf.GradientTape() as tape:
            real_logits, r1 = self.real_logits_and_r1(real_augmented, real_clusters)
            fake_logits = self.critic(self.augment(fake, salt=3), fake_clusters)
            d_loss = self.discriminator_loss(real_logits, fake_logits)
            d_scaled = distribute.global_batch_mean(d_loss + r1)
        self.apply(self.d_optimizer, tape, d_scaled, self.discriminator.trainable_variables)

        extra = {}
        if self.feature_matching:
            # The real features under the updated discriminator, as a constant target.
            _, real_features = self.critic_and_features(real_augmented)
            real_mean = distribute.cross_replica_batch_mean(real_features)
        with tf.GradientTape() as tape:
            z = self.noise(local_batch, salt=1)
            fake = self.generator(z, training=True)
            if self.feature_matching:
                g_logits, fake_features = self.critic_and_features(self.augment(fake, salt=4))
            else:
                g_logits = self.critic(self.augment(fake, salt=4), self.noise_clusters(z))
            g_loss = self.generator_loss(g_logits)
            g_total = g_loss
            if self.feature_matching:
                fm_terms, fm_distance = losses.feature_matching_loss(
                    fake_features, distribute.cross_replica_batch_mean(fake_features), real_mean)
                g_total = g_loss + self.feature_matching * fm_terms
                extra["feature_matching"] = tf.fill(tf.shape(g_loss), fm_distance)
            g_scaled = distribute.global_batch_mean(g_total)
        self.apply(self.g_optimizer, tape, g_scaled, self.generator.trainable_variables)
        return self.record({
            "d_loss": d_loss, "g_loss": g_loss,
            "d_real": self.reported_score(real_logits),
            "d_fake": self.reported_score(fake_logits),
            **extra,
        })
