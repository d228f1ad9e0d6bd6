"""Trains a tiny vanilla GAN with trainer.task.fit_gan, printing progress, so that a
test can kill it mid-run and check that the next run resumes (tests/integration/trainer)."""
import argparse
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from trainer import registry
from trainer.task import fit_gan


class Progress(keras.callbacks.Callback):
    def __init__(self, sleep):
        super().__init__()
        self.sleep = sleep

    def checksum(self):
        return float(sum(np.abs(w).sum() for w in self.model.generator.get_weights()))

    def on_train_begin(self, logs=None):
        print(f"TRAIN_BEGIN {self.checksum():.6f}", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        print(f"EPOCH_BEGIN {epoch}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.sleep)

    def on_epoch_end(self, epoch, logs=None):
        print(f"EPOCH_END {epoch} {self.checksum():.6f}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backup", required=True)
    p.add_argument("--logs", required=True)
    p.add_argument("--sleep", type=float, default=0.0)
    args = p.parse_args()
    spec = registry.get("vanilla_gan")
    hp = spec.hparams({"batch_size": 8})
    model = spec.load().build(hp)
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices({"image": images}).repeat().batch(8, drop_remainder=True)
    fit_gan(model, spec.kind, ds, {"image": images[:4]}, train_steps=30, steps_per_epoch=5,
            backup_dir=args.backup, log_dir=args.logs, callbacks=[Progress(args.sleep)], verbose=0)
    print("DONE", flush=True)


if __name__ == "__main__":
    sys.exit(main())
