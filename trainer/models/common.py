"""Small helpers shared by the network builders."""
from __future__ import annotations

import math

import keras


def gan_init():
    """N(0, 0.02) weight init of DCGAN / pix2pix (Radford et al. 2015, §4)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def log2_size(image_size: int, what: str, minimum: int) -> int:
    """log2 of ``image_size``, which must be a power of two >= ``minimum``."""
    if image_size < minimum or image_size & (image_size - 1):
        raise ValueError(f"{what} needs image_size a power of two >= {minimum}, "
                         f"received {image_size}")
    return int(math.log2(image_size))


def check_positive(**values) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, received {value}")
