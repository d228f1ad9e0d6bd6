"""Feature extractors for distribution distances (FD, KID) and perceptual distance.

Distribution distances (unconditional GANs) use, in order of preference:

1. **InceptionV3** pool features (2048-d), when the Keras ImageNet weights
   file :data:`INCEPTION_WEIGHTS_FILE` is in ``$KERAS_HOME/models`` (this is
   then the usual FID/KID);
2. otherwise a **domain classifier**: a small CNN trained, inside the
   evaluator, on the dataset's train-split labels; its 64-d penultimate layer
   is the feature space (its size, parameters and eval accuracy are reported);
   its class predictions also give the class coverage of generated samples
   (mode collapse: :mod:`trainer.failure_modes`);
3. without labels, **pixel PCA**: the first 64 principal components of the
   train-split pixels.

Each extractor has a ``name``; numbers from different extractors are never
compared (the evaluator re-evaluates the latest blessed generator with the
extractor of the current run).

The perceptual distance (:func:`perceptual_distance`, LPIPS-style: unit-
normalised VGG19 features, squared differences averaged over positions and
layers, no learned layer weights) needs VGG19 ImageNet weights; without them
it is reported unavailable - never computed with random weights.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION, CLASSIFIER, PIXEL_PCA = "inception_v3_imagenet", "domain_classifier", "pixel_pca"
FEATURE_DIM = 64
LPIPS_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv4", "block4_conv4", "block5_conv4")


def keras_models_dir() -> str:
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "models")


@dataclasses.dataclass
class FeatureExtractor:
    name: str                                   # INCEPTION, CLASSIFIER or PIXEL_PCA
    description: str                            # one line for the report
    embed: Callable[[np.ndarray], np.ndarray]   # images [N, H, W, C] in [-1, 1] -> [N, D]
    details: dict = dataclasses.field(default_factory=dict)  # params, accuracy, ...
    classify: Callable[[np.ndarray], np.ndarray] | None = None  # images -> class ids [N]


def _batched(fn, images: np.ndarray, batch: int = 256) -> np.ndarray:
    return np.concatenate([np.asarray(fn(images[i:i + batch]))
                           for i in range(0, len(images), batch)], axis=0)


def inception_extractor(weights_path: str) -> FeatureExtractor:
    import keras
    import tensorflow as tf
    net = keras.applications.InceptionV3(include_top=False, weights=weights_path, pooling="avg",
                                         input_shape=(299, 299, 3))

    def embed(images):
        x = tf.image.resize(tf.convert_to_tensor(images, tf.float32), (299, 299), "bilinear")
        if x.shape[-1] == 1:
            x = tf.tile(x, [1, 1, 1, 3])                  # [B, 299, 299, 3]
        return net(x, training=False).numpy()            # InceptionV3 expects [-1, 1]
    return FeatureExtractor(INCEPTION, f"InceptionV3 (ImageNet weights from {weights_path}), "
                            "2048-d pool features", lambda im: _batched(embed, im, 32))


def train_domain_classifier(train_images: np.ndarray, train_labels: np.ndarray,
                            eval_images: np.ndarray, eval_labels: np.ndarray,
                            dataset: str, seed: int = 0, epochs: int = 5) -> FeatureExtractor:
    """A small CNN trained on the labels; features = its 64-d penultimate layer."""
    import keras
    keras.utils.set_random_seed(seed)
    classes = int(max(train_labels.max(), eval_labels.max())) + 1
    inputs = keras.Input(train_images.shape[1:])
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    features = keras.layers.Dense(FEATURE_DIM, activation="relu", name="features")(x)
    logits = keras.layers.Dense(classes)(features)
    model = keras.Model(inputs, logits)
    model.compile(keras.optimizers.Adam(2e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train_images, train_labels, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    _, accuracy = model.evaluate(eval_images, eval_labels, batch_size=256, verbose=0)
    embedder = keras.Model(inputs, features)
    params = int(model.count_params())
    description = (f"domain classifier trained on {dataset} labels ({classes} classes, "
                   f"{params:,} params, accuracy {accuracy:.3f} on eval), "
                   f"{FEATURE_DIM}-d penultimate features")
    log.info("feature extractor: %s", description)
    return FeatureExtractor(CLASSIFIER, description,
                            lambda im: _batched(lambda b: embedder(b, training=False), im),
                            {"params": params, "eval_accuracy": float(accuracy),
                             "classes": classes, "epochs": epochs},
                            classify=lambda im: np.argmax(
                                _batched(lambda b: model(b, training=False), im), axis=-1))


def pixel_pca_extractor(train_images: np.ndarray, dataset: str) -> FeatureExtractor:
    flat = train_images.reshape(len(train_images), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    basis = vt[:FEATURE_DIM].T                                  # [H*W*C, D]
    return FeatureExtractor(PIXEL_PCA, f"first {basis.shape[1]} principal components of the "
                            f"{dataset} train-split pixels (no labels for a classifier)",
                            lambda im: (im.reshape(len(im), -1) - mean) @ basis)


def has_labels(train_labels: np.ndarray | None, eval_labels: np.ndarray | None) -> bool:
    """Whether both splits carry class labels (>= 0) of at least two classes."""
    return (train_labels is not None and eval_labels is not None
            and (train_labels >= 0).all() and (eval_labels >= 0).all()
            and len(np.unique(train_labels)) >= 2)


def distribution_extractor(train_images: np.ndarray, train_labels: np.ndarray | None,
                           eval_images: np.ndarray, eval_labels: np.ndarray | None,
                           dataset: str, seed: int = 0) -> FeatureExtractor:
    """InceptionV3 if its weights are local, else a domain classifier, else pixel PCA."""
    path = os.path.join(keras_models_dir(), INCEPTION_WEIGHTS_FILE)
    if os.path.isfile(path):
        return inception_extractor(path)
    log.info("no InceptionV3 ImageNet weights at %s: using a domain feature extractor", path)
    if has_labels(train_labels, eval_labels):
        return train_domain_classifier(train_images, train_labels, eval_images, eval_labels,
                                       dataset, seed=seed)
    return pixel_pca_extractor(train_images, dataset)


# ---------------------------------------------------------------- perceptual
def perceptual_model(weights: str = "imagenet", channels: int = 3):
    """(VGG19 feature model, None) or (None, reason it is unavailable)."""
    from trainer import perceptual
    try:
        path = perceptual.resolve_weights(weights)
    except FileNotFoundError:
        where = perceptual.keras_cache_weights_path() if weights == perceptual.IMAGENET else weights
        return None, f"unavailable (no ImageNet VGG19 weights at {where})"
    if path is None:
        raise ValueError("the perceptual metric needs ImageNet VGG19 weights; the random "
                         "stand-in carries no perceptual meaning")
    return perceptual.vgg19_features(list(LPIPS_LAYERS), weights=path, channels=channels), None


def perceptual_distance(model, images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """LPIPS-style distance per image [N]: mean over layers of the spatially averaged
    squared difference of channel-unit-normalised features (Zhang et al. 2018 with
    all layer weights 1)."""
    import tensorflow as tf

    def norm(f):
        return f / (tf.sqrt(tf.reduce_sum(f * f, axis=-1, keepdims=True)) + 1e-10)
    out = []
    for i in range(0, len(images), 32):
        fa = model(images[i:i + 32], training=False)
        fb = model(reference[i:i + 32], training=False)
        per_layer = [tf.reduce_mean(tf.reduce_sum((norm(a) - norm(b)) ** 2, -1), axis=[1, 2])
                     for a, b in zip(fa, fb)]
        out.append(tf.reduce_mean(tf.stack(per_layer, 0), 0).numpy())
    return np.concatenate(out)
