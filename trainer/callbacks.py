"""Training callbacks: the NaN/Inf guard and TensorBoard image grids."""
from __future__ import annotations

import logging
import math

import keras
import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """A reported loss became NaN or Inf."""


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops training at the first step whose reported losses are not finite.

    The GANs report running means, so a NaN or Inf in any step's loss shows
    in that step's logs. By default the guard raises
    :class:`NonFiniteLossError` naming the loss(es), value(s) and step; with
    ``raise_error=False`` it logs the same message and sets
    ``model.stop_training``.
    """

    def __init__(self, raise_error: bool = True):
        super().__init__()
        self.raise_error = raise_error
        self._step = 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        bad = {}
        for name, value in (logs or {}).items():
            try:
                number = float(np.asarray(value))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                bad[name] = number
        if not bad:
            return
        names = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
        message = (f"training stopped at step {self._step} (batch {batch} of this epoch): "
                   f"non-finite loss {names}")
        self.model.stop_training = True
        if self.raise_error:
            raise NonFiniteLossError(message)
        log.error(message)


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """[N, H, W, C] images in [-1, 1] → one [1, rows·H, columns·W, C] uint8 grid."""
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"image_grid expects [N, H, W, C], received shape {images.shape}")
    n, h, w, c = images.shape
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    grid = np.zeros((rows * h, columns * w, c), dtype="uint8")
    pixels = np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype("uint8")
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = pixels[i]
    return grid[None]


class ImageGridCallback(keras.callbacks.Callback):
    """Writes a TensorBoard image grid of generator outputs every ``every_epochs``.

    ``batch`` is a fixed batch dict (as the model's ``fit`` receives); the
    generator is called on ``model.generator_inputs(batch)`` so unconditional
    GANs use fixed seeds and inpainting fixed masks.
    """

    def __init__(self, log_dir: str, batch: dict, every_epochs: int = 1, max_images: int = 16,
                 name: str = "samples"):
        super().__init__()
        if every_epochs < 1:
            raise ValueError(f"every_epochs must be >= 1, received {every_epochs}")
        self.batch = {k: v[:max_images] for k, v in batch.items()}
        self.every_epochs = every_epochs
        self.name = name
        self.writer = tf.summary.create_file_writer(log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs:
            return
        generated = self.model.generator(self.model.generator_inputs(self.batch), training=False)
        with self.writer.as_default():
            tf.summary.image(self.name, image_grid(np.asarray(generated)), step=epoch + 1)
        self.writer.flush()


class TrainingProgress(keras.callbacks.Callback):
    """Reports the global step, steps/s and the latest losses as ``train``
    progress events (:mod:`trainer.events`): at most every ``every_s``
    seconds, and at the last step.

    ``steps_per_epoch`` gives the global step across epochs (a resumed run
    starts counting at its first epoch); ``total_steps`` is what the run
    will reach.
    """

    def __init__(self, name: str, total_steps: int, steps_per_epoch: int, every_s: float = 1.0,
                 clock=None):
        super().__init__()
        if total_steps < 1 or steps_per_epoch < 1:
            raise ValueError(f"total_steps and steps_per_epoch must be >= 1, received "
                             f"{total_steps} and {steps_per_epoch}")
        import time
        self.name = name
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch
        self.every_s = every_s
        self.clock = clock or time.monotonic
        self._epoch = 0
        self._t0 = None
        self._first_step = 0
        self._last = -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        from trainer.events import emit
        step = self._epoch * self.steps_per_epoch + batch + 1
        now = self.clock()
        if self._t0 is None:
            self._t0, self._first_step = now, step   # the first step (tracing) is not timed
        if now - self._last < self.every_s and step < self.total_steps:
            return
        self._last = now
        elapsed = now - self._t0
        rate = (step - self._first_step) / elapsed if elapsed > 0 else 0.0
        losses = {}
        for key, value in (logs or {}).items():
            try:
                losses[key] = float(np.asarray(value))
            except (TypeError, ValueError):
                continue
        emit("train", gan=self.name, step=step, steps=self.total_steps, steps_per_s=rate,
             losses=losses)


class GeneratorEMA(keras.callbacks.Callback):
    """Keeps an exponential moving average of the generator's weights and
    leaves the generator holding the average when training ends, so the
    average is what is evaluated and exported (Karras et al. 2018, "Progressive
    Growing of GANs", section 4; Yazıcı et al. 2019, "The Unusual Effectiveness
    of Averaging in GAN Training").

    After every step ``s <- d·s + (1 - d)·w`` for each float weight ``w`` of
    ``model.generator`` (normalisation statistics included), with
    ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates - the warm-up of
    ``tf.train.ExponentialMovingAverage(num_updates=n)`` - so short runs are not
    dominated by the initial weights. The average lives outside the model:
    image panels during training show the raw weights, and a run resumed from
    a backup starts a new average from the restored weights.
    """

    def __init__(self, decay: float):
        super().__init__()
        if not 0.0 < float(decay) < 1.0:
            raise ValueError(f"GeneratorEMA decay must be in (0, 1), received {decay!r}")
        self.decay = float(decay)
        self._weights: list = []
        self._shadow: list = []

    def on_train_begin(self, logs=None):
        self._weights = [w for w in self.model.generator.weights
                         if tf.as_dtype(w.dtype).is_floating]
        self._shadow = [tf.Variable(tf.convert_to_tensor(w), trainable=False,
                                    name=f"ema_{i}") for i, w in enumerate(self._weights)]
        self._count = tf.Variable(0.0, trainable=False, name="ema_updates")
        decay = self.decay

        @tf.function
        def update():
            self._count.assign_add(1.0)
            d = tf.minimum(decay, (1.0 + self._count) / (10.0 + self._count))
            for s, w in zip(self._shadow, self._weights):
                s.assign(d * s + (1.0 - d) * tf.cast(tf.convert_to_tensor(w), s.dtype))
        self._update = update

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def on_train_end(self, logs=None):
        for w, s in zip(self._weights, self._shadow):
            w.assign(tf.cast(s, w.dtype))
