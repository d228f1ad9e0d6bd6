"""Self-conditioning on k-means clusters of the real images (dcgan's ``clusters``)."""
import numpy as np
import pytest
import tensorflow as tf

from trainer import features as F
from trainer.layers.clusters import ClusterOfNoise, fit_clusters, nearest_centre


def _blobs(shares=(30, 10, 20), levels=(-0.8, 0.0, 0.8), seed=0):
    """Images [N, 28, 28, 1] in three well separated groups of the given sizes, shuffled."""
    rng = np.random.default_rng(seed)
    images = np.concatenate([
        level + 0.05 * rng.standard_normal((n, 28, 28, 1)) for n, level in zip(shares, levels)])
    return rng.permutation(images).astype("float32")


def test_cluster_of_noise_draws_each_cluster_in_the_priors_proportion():
    layer = ClusterOfNoise(3)
    z = tf.random.stateless_normal([60000, 8], seed=[1, 2])
    layer(z[:1])
    assert np.allclose(layer.prior.numpy(), 1 / 3)  # uniform until set
    layer.set_prior([2.0, 1.0, 1.0])
    np.testing.assert_allclose(layer.prior.numpy(), [0.5, 0.25, 0.25])
    onehot = layer(z).numpy()
    assert set(np.unique(onehot)) == {0.0, 1.0} and np.all(onehot.sum(1) == 1)
    np.testing.assert_allclose(onehot.mean(0), [0.5, 0.25, 0.25], atol=0.01)
    # The cluster is a function of z alone: the same z, the same cluster.
    np.testing.assert_array_equal(layer(z[:100]).numpy(), onehot[:100])
    # A cluster with no real images is never drawn.
    layer.set_prior([1.0, 0.0, 1.0])
    assert layer(z).numpy()[:, 1].sum() == 0


@pytest.mark.parametrize("prior", [[1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0],
                                   [1.0, np.nan, 1.0]])
def test_cluster_prior_names_a_bad_value(prior):
    layer = ClusterOfNoise(3)
    layer.build((None, 4))
    with pytest.raises(ValueError, match="cluster prior must be 3 non-negative"):
        layer.set_prior(prior)


@pytest.mark.parametrize("k", [0, 1, 2.0, True])
def test_cluster_count_must_be_an_int_of_at_least_two(k):
    with pytest.raises(ValueError, match="number of clusters must be an int >= 2"):
        ClusterOfNoise(k)


def test_fit_clusters_finds_separated_groups_and_their_shares():
    images = _blobs()
    centres, shares = fit_clusters(images, 3, seed=0)
    assert centres.shape == (3, 28 * 28) and centres.dtype == np.float32
    order = np.argsort(centres.mean(1))
    np.testing.assert_allclose(centres.mean(1)[order], [-0.8, 0.0, 0.8], atol=0.02)
    np.testing.assert_allclose(shares[order], [0.5, 1 / 6, 1 / 3])
    # Each image's nearest centre is its group's.
    onehot = nearest_centre(tf.constant(images), tf.constant(centres)).numpy()
    level_of = centres.mean(1)[onehot.argmax(1)]
    np.testing.assert_allclose(level_of, images.mean(axis=(1, 2, 3)), atol=0.05)


def test_fit_clusters_names_too_few_images_and_a_bad_shape():
    with pytest.raises(ValueError, match="at least 3 images for 3 clusters, received 2"):
        fit_clusters(_blobs()[:2], 3)
    with pytest.raises(ValueError, match=r"images \[N, H, W, C\]"):
        fit_clusters(np.zeros((5, 28, 28)), 3)


@pytest.mark.parametrize("overrides, match", [
    ({"clusters": 1}, "clusters must be 0"),
    ({"clusters": -2}, "clusters must be 0"),
    ({"clusters": 3, "pack": 2}, "cannot be combined"),
    ({"clusters": 3, "feature_matching": 1.0}, "cannot be combined"),
])
def test_dcgan_clusters_names_a_bad_setting(overrides, match):
    from trainer.gans import dcgan
    with pytest.raises(ValueError, match=match):
        dcgan.HParams(**{**dcgan.PRESETS.tiny, **overrides})


def _tiny_dcgan(**overrides):
    from trainer.gans import dcgan
    hp = dcgan.HParams(**{**dcgan.PRESETS.tiny, "minibatch_std": 2, "clusters": 3, **overrides})
    return hp, dcgan.build(hp)


def test_dcgan_with_clusters_adapts_to_the_data_and_conditions_both_players(tmp_path):
    from trainer.task import fit_gan
    hp, model = _tiny_dcgan()
    images = _blobs()
    # The discriminator judges an image with its cluster; the generator is still z -> image.
    assert [tuple(i.shape) for i in model.discriminator.inputs] == [(None, 28, 28, 1), (None, 3)]
    assert [tuple(i.shape) for i in model.generator.inputs] == [(None, hp.latent_dim)]
    train = tf.data.Dataset.from_tensor_slices({F.IMAGE: images}).repeat().batch(4)
    with pytest.raises(ValueError, match="needs one pass over the training images"):
        fit_gan(model, "unconditional", train, {F.IMAGE: images[:4]}, train_steps=2,
                steps_per_epoch=2, backup_dir=str(tmp_path / "b0"), log_dir=str(tmp_path / "l0"),
                verbose=0)
    before = [np.array(w) for w in model.generator.trainable_weights]
    one_pass = tf.data.Dataset.from_tensor_slices({F.IMAGE: images}).batch(7)
    history = fit_gan(model, "unconditional", train, {F.IMAGE: images[:4]}, train_steps=4,
                      steps_per_epoch=2, backup_dir=str(tmp_path / "b"),
                      log_dir=str(tmp_path / "l"), verbose=0, adapt_data=one_pass)
    assert all(np.isfinite(history.history[k][-1]) for k in ("d_loss", "g_loss"))
    centres = model.centres.numpy()
    order = np.argsort(centres.mean(1))
    np.testing.assert_allclose(centres.mean(1)[order], [-0.8, 0.0, 0.8], atol=0.02)
    prior = model.generator.get_layer("cluster").prior.numpy()
    np.testing.assert_allclose(prior[order], [0.5, 1 / 6, 1 / 3], rtol=1e-6)
    after = model.generator.trainable_weights
    assert any(np.abs(a - np.array(b)).max() > 0 for a, b in zip(before, after))
    # Real images get their group's cluster; generated ones the cluster drawn from z.
    real = model.real_clusters(tf.constant(images[:10])).numpy()
    assert np.array_equal(centres.mean(1)[real.argmax(1)].round(1),
                          images[:10].mean(axis=(1, 2, 3)).round(1))
    z = tf.random.stateless_normal([30000, hp.latent_dim], seed=[3, 4])
    np.testing.assert_allclose(model.noise_clusters(z).numpy().mean(0), prior, atol=0.01)


def test_dcgan_with_clusters_names_a_missing_or_unusable_adapt():
    _, model = _tiny_dcgan()
    images = _blobs()
    with pytest.raises(ValueError, match="was not adapted to its data"):
        model.fit(tf.data.Dataset.from_tensor_slices({F.IMAGE: images}).batch(4),
                  epochs=1, steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match="received a dataset that repeats forever"):
        model.adapt(tf.data.Dataset.from_tensor_slices({F.IMAGE: images}).repeat().batch(4))
    with pytest.raises(ValueError, match="clusters=3 needs at least 3 training images, "
                                         "received 2"):
        model.adapt(tf.data.Dataset.from_tensor_slices({F.IMAGE: images[:2]}).batch(4))
    assert not model.adapted


def test_dcgan_with_clusters_exports_a_seed_to_image_generator(tmp_path):
    from trainer import export
    from trainer.gans.unconditional import noise_from_seeds
    hp, model = _tiny_dcgan()
    model.adapt(tf.data.Dataset.from_tensor_slices({F.IMAGE: _blobs()}).batch(16))
    path = export.export_generator("dcgan", model.generator, hp, str(tmp_path / "1"))
    loaded = tf.saved_model.load(path)
    seeds = tf.range(64, dtype=tf.int64)
    out = loaded.signatures["serving_default"](**{F.IN_SEEDS: seeds})[F.OUT_GENERATED].numpy()
    z = noise_from_seeds(seeds, hp.latent_dim)
    adapted_images = model.generator(z, training=False).numpy()
    # (An untrained generator's outputs are ~1e-5: compare relative to that.)
    np.testing.assert_allclose(out, adapted_images, rtol=1e-4, atol=1e-9)
    # The export kept the adapted proportions: under the uniform prior some of these
    # seeds fall in another cluster, and their images differ.
    layer = model.generator.get_layer("cluster")
    adapted = layer(z).numpy().argmax(1)
    layer.set_prior([1.0, 1.0, 1.0])
    moved = layer(z).numpy().argmax(1) != adapted
    assert moved.any()
    uniform = model.generator(z, training=False).numpy()
    scale = np.abs(adapted_images).max()
    assert np.abs(uniform[moved] - adapted_images[moved]).max() > 0.1 * scale
    np.testing.assert_array_equal(uniform[~moved], adapted_images[~moved])
