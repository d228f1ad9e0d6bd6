"""TensorBoard image panels written during training.

* paired GANs: ``input | output | target`` (inputs up-sampled to the output size);
* inpainting: ``masked | completed | original`` on the fixed evaluation masks;
* unconditional GANs: samples from fixed noise

(each layout is its kind's ``panel_rows``, :mod:`trainer.kinds`).

One row per example, written every ``every_epochs`` epochs as ``samples``,
plus the generator's op graph once at the start.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from trainer import kinds
from trainer.callbacks import image_grid


def panel_rows(kind: str, batch: dict, generator_inputs, generated) -> np.ndarray:
    """[N, H, k*W, C] rows of side-by-side panels, values in [-1, 1] (the kind's layout)."""
    return kinds.get(kind).panel_rows(batch, generator_inputs, generated)


class PanelCallback(keras.callbacks.Callback):
    """Writes ``samples`` panels for a fixed batch every ``every_epochs`` epochs."""

    def __init__(self, log_dir: str, kind: str, batch: dict, every_epochs: int = 1,
                 max_images: int = 8):
        super().__init__()
        if every_epochs < 1:
            raise ValueError(f"every_epochs must be >= 1, received {every_epochs}")
        self.kind = kinds.get(kind)
        self.batch = {k: v[:max_images] for k, v in batch.items()}
        self.every_epochs = every_epochs
        self.writer = tf.summary.create_file_writer(log_dir)

    def write(self, step: int) -> None:
        inputs = self.model.generator_inputs(self.batch)
        generated = self.model.generator(inputs, training=False)
        rows = panel_rows(self.kind, self.batch, inputs, generated)
        columns = self.kind.panel_columns
        with self.writer.as_default():
            tf.summary.image("samples", image_grid(rows, columns=columns), step=step)
        self.writer.flush()

    def write_graph(self) -> None:
        """The generator's op graph (Keras 3's TensorBoard callback writes none)."""
        inputs = self.model.generator_inputs(self.batch)
        fn = tf.function(lambda x: self.model.generator(x, training=False))
        graph = fn.get_concrete_function(inputs).graph
        with self.writer.as_default():
            tf.summary.graph(graph)

    def on_train_begin(self, logs=None):
        self.write_graph()
        self.write(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs == 0:
            self.write(epoch + 1)
