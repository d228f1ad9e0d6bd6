"""Small hyper-parameters for each GAN, shared by the tests and their helper scripts."""
import numpy as np

from trainer import registry


def tiny(name: str) -> dict:
    """The GAN's smallest hyper-parameter overrides: its objective module's ``PRESETS.tiny``."""
    return dict(registry.get(name).presets().tiny)


def batch_for(module, hparams, n, seed=0):
    """A dict batch of ``n`` images in [-1, 1] with the GAN's input shapes."""
    rng = np.random.default_rng(seed)
    return {role: rng.uniform(-1, 1, (n, *shape)).astype("float32")
            for role, shape in module.input_shapes(hparams).items()}
