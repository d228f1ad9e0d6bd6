"""Geometric self-ensemble: the generator averaged over the 8 flips/rotations of its input."""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import augment, export, registry
from trainer.export import GeneratorModule, PlainImages
from trainer.augment import ORIENTATIONS, orient, unorient
from trainer.models.ensemble import DihedralEnsemble


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


def _shifted_upsampled_product(inputs, training=False):
    """Not equivariant, two inputs, an output twice their size (as SR's): the product of
    the inputs, shifted right, upsampled."""
    a, b = inputs
    return tf.image.resize(_shift_right(a * b), [a.shape[1] * 2] * 2, method="nearest")


def test_ensemble_turns_every_input_together_and_a_larger_output_back():
    """Inpainting: the mask turns with its image; SR: a larger output turns back."""
    image, mask = tf.constant(_images([2, 4, 4, 1])), tf.constant(_images([2, 4, 4, 1], 1))
    expected = np.mean([unorient(_shifted_upsampled_product([orient(image, k), orient(mask, k)]),
                                 k) for k in range(8)], axis=0)
    out = DihedralEnsemble(_shifted_upsampled_product)([image, mask]).numpy()
    assert out.shape == (2, 8, 8, 1)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert not np.allclose(out, _shifted_upsampled_product([image, mask]), atol=1e-3)


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
    # the SavedModel TF Serving loads computes the same, in generate and serving_default
    loaded = tf.saved_model.load(export.save(served, str(tmp_path / "1"), warmup=[]))
    np.testing.assert_allclose(loaded.generate(x), DihedralEnsemble(generator)(x), atol=1e-5)
    pixels = np.random.default_rng(2).integers(0, 65536, (2, 32, 32, 1), dtype=np.uint16)
    pngs = tf.constant([tf.io.encode_png(p).numpy() for p in pixels])
    decoded = tf.constant(pixels / 65535.0 * 2.0 - 1.0, tf.float32)   # PlainImages' mapping
    served_out = loaded.signatures["serving_default"](images=pngs)["generated"]
    np.testing.assert_allclose(served_out, DihedralEnsemble(generator)(decoded), atol=1e-5)


def _module(gan, generator, hp_overrides):
    spec = registry.get(gan)
    hp = spec.hparams({**spec.presets().tiny, **hp_overrides})
    return GeneratorModule(gan, generator, hp, images=PlainImages())


def test_inpainting_and_sr_exports_serve_the_ensemble_over_all_their_inputs():
    pconv = _module("pconv_inpainting", _shifted_upsampled_product, {"self_ensemble": True})
    image, mask = tf.constant(_images([1, 32, 32, 3])), tf.constant(_images([1, 32, 32, 1], 1))
    expected = DihedralEnsemble(_shifted_upsampled_product)([image, mask])
    np.testing.assert_allclose(pconv.kind.call_generator(pconv.generator, image, mask), expected)

    sr_spec = registry.get("srrescycgan")
    lr_side = sr_spec.load().input_shapes(sr_spec.hparams(sr_spec.presets().tiny))["input"][0]
    inputs = keras.Input((lr_side, lr_side, 3))
    upsample = keras.Model(inputs, keras.layers.Conv2DTranspose(3, 4, 4)(inputs))
    sr = _module("srrescycgan", upsample, {"self_ensemble": True})
    lr = tf.constant(_images([2, lr_side, lr_side, 3]))
    np.testing.assert_allclose(sr.kind.call_generator(sr.generator, lr),
                               DihedralEnsemble(upsample)(lr), atol=1e-6)
    assert not np.allclose(sr.generator(lr), upsample(lr), atol=1e-4)


def test_self_ensemble_is_refused_where_it_cannot_apply(monkeypatch):
    """At export set-up, before anything is traced: seeds cannot turn, nor can
    non-square images."""
    vanilla = registry.get("vanilla_gan")

    @dataclasses.dataclass(frozen=True)
    class WithEnsemble(type(vanilla.hparams({}))):
        self_ensemble: bool = True
    with pytest.raises(ValueError, match="vanilla_gan: self_ensemble needs a generator of "
                                         "images; this unconditional generator reads seeds"):
        GeneratorModule("vanilla_gan", _shift_right, WithEnsemble())

    pix2pix = registry.get("pix2pix_wgan_gp")
    monkeypatch.setattr(pix2pix.load(), "input_shapes",
                        lambda hp: {"input": (32, 16, 1), "target": (32, 16, 1)})
    with pytest.raises(ValueError, match="self_ensemble needs square images, input is 32x16"):
        _module("pix2pix_wgan_gp", _shift_right, {"self_ensemble": True})
