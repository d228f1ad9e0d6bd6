"""The stand-in GAN: a tiny generator served through the real export path.

An objective module in the registry's sense, reduced to what
:class:`trainer.export.GeneratorModule` reads (``HParams``,
``input_shapes`` and the kind's ``noise_from_seeds`` / ``composite``), with a
"generator" that needs no training: ``tanh(w * x + b)`` on the decoded input,
or on noise drawn from each seed, optionally after a 3x3 convolution (the
oneDNN ``Conv2D`` kernel real generators run). :func:`serving.testing.
write_standin_model` exports it; it is not in the GAN registry.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from trainer import kinds
from trainer.gans.unconditional import noise_from_seeds  # noqa: F401  (the kind's contract)


@dataclasses.dataclass(frozen=True)
class HParams:
    kind: str               # the GAN kind it stands in for (trainer.kinds)
    image_size: int = 8     # H = W of its images
    channels: int = 1       # image channels

    @property
    def latent_dim(self) -> int:
        """One noise value per output pixel (unconditional)."""
        return self.image_size * self.image_size * self.channels


def input_shapes(hp: HParams) -> dict[str, tuple[int, int, int]]:
    shape = (hp.image_size, hp.image_size, hp.channels)
    return {role: shape for role in kinds.get(hp.kind).roles}


def composite(prediction, image, mask):
    """The completed image: ``mask·image + (1 - mask)·prediction`` (mask 1 = known)."""
    return mask * image + (1.0 - mask) * prediction


class StandInGenerator(tf.Module):
    """``tanh(w * x + b)``: x is the image [B, H, W, C] in [-1, 1], the masked image of
    ``[masked, mask]``, or noise [B, H*W*C] (reshaped, scaled by 1/3 and clipped)."""

    def __init__(self, hp: HParams, bias: float, conv: bool = False):
        super().__init__(name="standin_generator")
        self.shape = [hp.image_size, hp.image_size, hp.channels]
        c = hp.channels
        self.w = tf.Variable(0.5, name="w")
        self.b = tf.Variable(float(bias), name="b")
        # [3, 3, C, C] identity-centred kernel: a real Conv2D that keeps values in range
        k = np.zeros((3, 3, c, c), np.float32)
        k[1, 1] = np.eye(c) * 0.5
        k[0, 1] = np.eye(c) * 0.25
        self.k = tf.Variable(k, name="k") if conv else None

    def __call__(self, x, training=False):
        if isinstance(x, (list, tuple)):                 # inpainting: [masked image, mask]
            x = x[0]
        if x.shape.rank == 2:                            # noise z [B, H*W*C]
            x = tf.clip_by_value(tf.reshape(x, [-1, *self.shape]) / 3.0, -1.0, 1.0)
        if self.k is not None:
            x = tf.nn.conv2d(x, self.k, strides=1, padding="SAME")  # [B, H, W, C]
        return tf.tanh(self.w * x + self.b)
