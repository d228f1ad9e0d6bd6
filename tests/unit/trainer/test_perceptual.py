"""VGG19 weights: ImageNet from a local file only, an explicit random stand-in."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from trainer import perceptual


def test_imagenet_absent_names_the_file_to_provide(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    expected = tmp_path / "models" / perceptual.WEIGHTS_FILE
    with pytest.raises(FileNotFoundError) as err:
        perceptual.vgg19_features(["block1_pool"], weights="imagenet")
    message = str(err.value)
    assert str(expected) in message
    assert perceptual.WEIGHTS_FILE in message and "'random'" in message


def test_missing_weights_path_is_named(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        perceptual.vgg19_features(["block1_pool"], weights=str(missing))


def test_unknown_layer_and_channels_rejected():
    with pytest.raises(ValueError, match=r"unknown VGG19 layer\(s\) \['block9_conv1'\]"):
        perceptual.vgg19_features(["block9_conv1"], weights="random")
    with pytest.raises(ValueError, match="received 2"):
        perceptual.vgg19_features(["block1_pool"], weights="random", channels=2)


def test_random_stand_in_is_seeded_and_logged(caplog):
    x = tf.random.stateless_uniform([2, 32, 32, 1], seed=[0, 0], minval=-1, maxval=1)
    with caplog.at_level(logging.WARNING, logger="trainer.perceptual"):
        a = perceptual.vgg19_features(["block1_pool", "block2_pool"], weights="random",
                                      channels=1, seed=3)
    assert any("random stand-in" in r.message for r in caplog.records)
    b = perceptual.vgg19_features(["block1_pool", "block2_pool"], weights="random",
                                  channels=1, seed=3)
    fa, fb = a(x), b(x)
    assert [f.shape for f in fa] == [(2, 16, 16, 64), (2, 8, 8, 128)]
    for u, v in zip(fa, fb):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    assert not a.trainable_weights          # frozen


def test_weights_from_a_local_h5_file(tmp_path):
    """A notop .h5 at a given path is loaded (here one written from the stand-in)."""
    import keras
    source = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    legacy = tmp_path / "legacy.h5"
    # keras.applications reads the legacy (by-layer-name) h5 layout.
    import h5py
    with h5py.File(legacy, "w") as f:
        f.attrs["layer_names"] = [l.name.encode() for l in source.layers]
        for layer in source.layers:
            g = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
            g.attrs["weight_names"] = names
            for n, w in zip(names, layer.get_weights()):
                g.create_dataset(n.decode(), data=w)
    model = perceptual.vgg19_features(["block1_conv1"], weights=str(legacy), channels=3)
    kernel = model.get_layer("vgg19").get_layer("block1_conv1").get_weights()[0]
    np.testing.assert_array_equal(kernel, source.get_layer("block1_conv1").get_weights()[0])
