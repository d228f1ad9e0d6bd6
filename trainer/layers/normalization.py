"""Normalisation layers by name, for networks whose normalisation is an option."""
from __future__ import annotations

import keras

NORMS = ("batch", "layer", "instance", "none")


def make_norm(kind: str, name: str | None = None):
    """A normalisation layer, or ``None`` for ``"none"``.

    * ``"batch"``: BatchNormalization with statistics synchronised over
      replicas, so N replicas normalise with the global batch's statistics
      exactly like one device;
    * ``"layer"``: layer normalisation over (H, W, C) per example with
      per-channel scale and offset (``GroupNormalization(groups=1)``);
      per-example, so it keeps the WGAN-GP penalty per example;
    * ``"instance"``: per example and channel (``GroupNormalization(groups=-1)``).
    """
    if kind == "batch":
        return keras.layers.BatchNormalization(synchronized=True, name=name)
    if kind == "layer":
        return keras.layers.GroupNormalization(groups=1, name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, name=name)
    if kind == "none":
        return None
    raise ValueError(f"unknown normalisation {kind!r}; known: {', '.join(NORMS)}")
