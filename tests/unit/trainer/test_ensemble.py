"""Geometric self-ensemble: the generator averaged over the 8 flips/rotations of its input."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import augment, export, registry
from trainer.export import GeneratorModule, PlainImages
from trainer.models.ensemble import ORIENTATIONS, DihedralEnsemble, orient, unorient


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def test_orientations_are_the_eight_distinct_dihedral_maps_and_invert():
    x = tf.constant(_images([2, 5, 5, 3]))
    turned = [orient(x, k).numpy() for k in range(ORIENTATIONS)]
    assert len({t.tobytes() for t in turned}) == 8
    for k in range(ORIENTATIONS):
        np.testing.assert_array_equal(unorient(orient(x, k), k), x)
        # the same maps as the training augmentation's per-example draw
        np.testing.assert_array_equal(augment.dihedral(x, tf.fill([2], k)), turned[k])


def _shift_right(x, training=False):
    """Not equivariant: each pixel takes its left neighbour's value (zero at the border)."""
    return tf.pad(x[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


def test_ensemble_of_an_equivariant_generator_is_the_generator():
    x = tf.constant(_images([3, 8, 8, 1]))
    blur = lambda t, training=False: tf.nn.avg_pool2d(t, 3, 1, "SAME")  # noqa: E731
    np.testing.assert_allclose(DihedralEnsemble(blur)(x), blur(x), atol=1e-6)


def test_ensemble_averages_the_generator_over_the_orientations():
    x = tf.constant(_images([2, 6, 6, 1]))
    expected = np.mean([unorient(_shift_right(orient(x, k)), k) for k in range(8)], axis=0)
    out = DihedralEnsemble(_shift_right)(x).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # each pixel is the mean of its neighbours' values, not the left neighbour's
    assert not np.allclose(out, _shift_right(x))


def test_ensemble_turns_every_input_together_and_resizing_outputs_back():
    """Inpainting: the mask turns with its image; SR: a larger output turns back."""
    image, mask = tf.constant(_images([1, 4, 4, 1])), tf.constant(_images([1, 4, 4, 1], 1))

    def upsample_product(inputs, training=False):
        a, b = inputs
        return tf.image.resize(a * b, [8, 8], method="nearest")
    out = DihedralEnsemble(upsample_product)([image, mask])
    np.testing.assert_allclose(out, upsample_product([image, mask]), atol=1e-6)


def test_ensemble_refuses_images_that_are_not_square():
    with pytest.raises(ValueError, match=r"square images.*\(1, 4, 6, 1\)"):
        DihedralEnsemble(_shift_right)(tf.zeros([1, 4, 6, 1]))


def test_exported_generator_is_the_ensemble_when_hparams_ask_for_it(tmp_path):
    spec = registry.get("pix2pix_wgan_gp")
    plain = spec.hparams({"image_size": 32, "base_filters": 4})
    hp = spec.hparams({"image_size": 32, "base_filters": 4, "self_ensemble": True})
    inputs = keras.Input((32, 32, 1))
    generator = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))
    x = tf.constant(_images([2, 32, 32, 1]))
    served = GeneratorModule("pix2pix_wgan_gp", generator, hp, images=PlainImages())
    unchanged = GeneratorModule("pix2pix_wgan_gp", generator, plain, images=PlainImages())
    np.testing.assert_allclose(served.generator(x), DihedralEnsemble(generator)(x), atol=1e-6)
    assert unchanged.generator is generator
    assert not np.allclose(served.generator(x), generator(x), atol=1e-4)
    # the SavedModel TF Serving loads computes the same
    loaded = tf.saved_model.load(export.save(served, str(tmp_path / "1"), warmup=[]))
    np.testing.assert_allclose(loaded.generate(x), DihedralEnsemble(generator)(x), atol=1e-5)
