"""VGG19 feature extractor for perceptual losses.

ImageNet weights cannot be downloaded on the project's machines, so
``weights`` is explicit:

* ``"imagenet"``: the Keras file ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``
  from ``$KERAS_HOME/models`` (default ``~/.keras/models``); if it is absent
  the error names the file and where to put it;
* a path to that ``.h5`` file;
* ``"random"``: an explicitly named stand-in for tests and quick demos,
  VGG19 with seeded random (He-normal) weights. It is logged as a warning;
  perceptual losses computed with it carry no ImageNet meaning.
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import keras
import numpy as np
from keras import ops

log = logging.getLogger(__name__)

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET = "imagenet"
RANDOM = "random"
# Caffe-style preprocessing of keras.applications.vgg19: BGR, mean-subtracted.
_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype="float32")


def keras_cache_weights_path() -> str:
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "models", WEIGHTS_FILE)


def resolve_weights(weights: str) -> str | None:
    """The .h5 path for ``weights``, or None for the random stand-in."""
    if weights == RANDOM:
        return None
    path = keras_cache_weights_path() if weights == IMAGENET else os.path.expanduser(weights)
    if not os.path.isfile(path):
        if weights == IMAGENET:
            raise FileNotFoundError(
                f"VGG19 ImageNet weights were requested but {path} does not exist and this "
                f"machine cannot download them. Copy {WEIGHTS_FILE} (from "
                "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/) to that "
                "path, pass perceptual_weights='/path/to/that.h5', or pass "
                "perceptual_weights='random' for a stand-in with no ImageNet meaning.")
        raise FileNotFoundError(
            f"VGG19 weights file {path!r} does not exist; expected a copy of {WEIGHTS_FILE}, "
            f"or one of {IMAGENET!r} / {RANDOM!r}")
    return path


def vgg19_features(layers: Sequence[str], weights: str = IMAGENET, channels: int = 3,
                   seed: int = 0, name: str = "vgg19_features") -> keras.Model:
    """Frozen VGG19 mapping images in [-1, 1] to a list of feature maps.

    Args:
        layers: names of VGG19 layers, e.g. ``["block5_conv4"]`` or
            ``["block1_pool", "block2_pool", "block3_pool"]``.
        weights: ``"imagenet"``, a path to the notop .h5 file, or ``"random"``.
        channels: 1 (grey, repeated to RGB) or 3 (RGB).
        seed: seed of the random stand-in.
    Returns:
        A model from [B, H, W, channels] to a list of [B, h, w, c] tensors
        (H, W >= 32 for the deepest blocks).
    """
    if channels not in (1, 3):
        raise ValueError(f"VGG19 features need 1 or 3 channels, received {channels}")
    if not layers:
        raise ValueError("vgg19_features needs at least one layer name, received none")
    path = resolve_weights(weights)
    vgg = keras.applications.VGG19(include_top=False, weights=path, input_shape=(None, None, 3))
    known = [layer.name for layer in vgg.layers]
    unknown = [n for n in layers if n not in known]
    if unknown:
        raise ValueError(f"unknown VGG19 layer(s) {unknown}; known: {known[1:]}")
    if path is None:
        log.warning("VGG19 perceptual features use the random stand-in (weights=%r, seed=%d), "
                    "not ImageNet weights: perceptual losses are for testing only", RANDOM, seed)
        rng = np.random.default_rng(seed)
        for layer in vgg.layers:
            if isinstance(layer, keras.layers.Conv2D):
                kernel, bias = layer.get_weights()
                fan_in = np.prod(kernel.shape[:3])
                layer.set_weights([rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape)
                                   .astype("float32"), np.zeros_like(bias)])
    else:
        log.info("VGG19 perceptual features loaded from %s", path)
    vgg.trainable = False
    extractor = keras.Model(vgg.input, [vgg.get_layer(n).output for n in layers], name="vgg19")

    images = keras.Input((None, None, channels), name="image")
    x = (images + 1.0) * 127.5                                           # [-1, 1] -> [0, 255]
    if channels == 1:
        x = ops.concatenate([x, x, x], axis=-1)                           # [B, H, W, 3]
    x = ops.flip(x, axis=-1) - ops.convert_to_tensor(_BGR_MEAN)          # RGB -> BGR, centred
    feats = extractor(x, training=False)
    feats = list(feats) if isinstance(feats, (list, tuple)) else [feats]
    model = keras.Model(images, feats, name=name)
    model.trainable = False
    return model
