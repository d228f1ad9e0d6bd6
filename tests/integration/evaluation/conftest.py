"""A tiny bundled CT / digits dataset, its Transform graph and stand-in generators.

The Transform graph is written by tf.Transform's Beam API with the project's
``preprocessing_fn`` (what the Transform component runs), so the stand-in
SavedModels exported with ``trainer.export.export_generator`` carry the real
serving signatures.
"""
import os

import numpy as np
import pytest

from support.transform_graph import Filter, write_examples, write_transform_graph


@pytest.fixture(scope="session")
def ct(tmp_path_factory):
    """{examples, transform_dir, tft_output, hparams}: 64x64 CT pairs (eval split ~20%)."""
    import tensorflow_transform as tft

    from tfx_pipeline.ingest.demo_data import DemoOptions, ct_items
    from trainer import registry
    root = tmp_path_factory.mktemp("ct")
    examples = write_examples(ct_items(DemoOptions(count=60)), root)
    hp = registry.get("pix2pix_wgan_gp").hparams(dict(image_size=64, channels=1, base_filters=8))
    shapes = registry.get("pix2pix_wgan_gp").load().input_shapes(hp)
    transform_dir = write_transform_graph(examples, shapes, 16, root / "transform")
    return {"examples": examples, "transform_dir": transform_dir,
            "tft_output": tft.TFTransformOutput(transform_dir), "hparams": hp}


def gaussian_blur(sigma):
    """A denoiser: separable Gaussian blur of an [B, H, W, 1] image (reflect padding)."""
    import tensorflow as tf
    radius = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)

    def blur(x):
        x = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
        x = tf.nn.conv2d(x, k.reshape(-1, 1, 1, 1), 1, "VALID")
        return tf.nn.conv2d(x, k.reshape(1, -1, 1, 1), 1, "VALID")
    return blur


STANDINS = {
    "zeros": lambda: (lambda x: x * 0.0),
    "copy": lambda: (lambda x: x),
    "blur_wide": lambda: gaussian_blur(1.0),   # beats the input by less than "blur"
    # beats the input by over 1 dB but not non-local means (on the held-out head slice a
    # blur of sigma 0.5 or more beats the untuned non-local means)
    "blur": lambda: gaussian_blur(0.4),
}


@pytest.fixture(scope="session")
def ct_models(ct, tmp_path_factory):
    """name -> SavedModel dir of a stand-in CT generator exported with the real signatures."""
    from trainer.export import export_generator
    root = tmp_path_factory.mktemp("ct_models")
    out = {}
    for name, make in STANDINS.items():
        path = str(root / name)
        export_generator("pix2pix_wgan_gp", Filter(make()), ct["hparams"], path, ct["tft_output"],
                         is_ct=True)
        out[name] = path
    return out


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """600 real 28x28 digits with labels (eval ~20%) and their Transform graph."""
    import tensorflow_transform as tft

    from tfx_pipeline.ingest.demo_data import DemoOptions, digits_items
    from trainer import registry
    root = tmp_path_factory.mktemp("digits")
    examples = write_examples(digits_items(DemoOptions(count=600)), root)
    hp = registry.get("vanilla_gan").hparams({})
    transform_dir = write_transform_graph(examples, {"image": (28, 28, 1)}, 8, root / "transform")
    return {"examples": examples, "transform_dir": transform_dir,
            "tft_output": tft.TFTransformOutput(transform_dir), "hparams": hp}


@pytest.fixture(scope="session")
def digits_models(digits, tmp_path_factory):
    """Unconditional stand-ins: constant zeros, and a replay of 100 real train digits
    (a memorising generator: as close to the real data as real images are)."""
    import tensorflow as tf

    from trainer.evaluation import read_records, transform_records
    from trainer.export import export_generator
    train = read_records(str(digits["examples"]), "train", limit=100)
    real = tf.constant(transform_records(digits["tft_output"], train)["image"])  # [100, 28, 28, 1]
    latent = digits["hparams"].latent_dim
    generators = {
        "zeros": lambda z: tf.zeros([tf.shape(z)[0], 28, 28, 1]),
        "replay": lambda z: tf.gather(real, tf.argmax(z[:, :min(latent, 100)], axis=1)),
    }
    root = tmp_path_factory.mktemp("digits_models")
    out = {}
    for name, fn in generators.items():
        out[name] = str(root / name)
        export_generator("vanilla_gan", Filter(fn), digits["hparams"], out[name],
                         digits["tft_output"])
    return out
