"""The Trainer component's entry point: ``run_fn``.

``fn_args.custom_config`` is a :class:`trainer.config.TrainerConfig` as a
dict, written by ``tfx_pipeline.pipeline`` (the fields and their meaning are
documented there); unknown keys and malformed values fail before training.

It trains with ``fit()`` under the strategy, logs losses, image panels and the
graph to TensorBoard under ``fn_args.model_run_dir``, and exports the
generator alone to ``fn_args.serving_model_dir``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os

import keras
import tensorflow as tf

from trainer import distribute, export, kinds, registry
from trainer import features as F
from trainer.callbacks import GeneratorEMA, NonFiniteLossGuard, TrainingProgress
from trainer.config import TrainerConfig
from trainer.failure_modes import TrainingHealth
from trainer.summaries import PanelCallback

log = logging.getLogger(__name__)


def make_dataset(file_pattern, data_accessor, tft_output, shapes, batch_size: int, *,
                 materialized: bool, shuffle: bool, seed: int = 0,
                 num_epochs: int | None = None) -> tf.data.Dataset:
    """Batches of {role: float32 [B, H, W, C] in [-1, 1]}, repeated forever (or
    ``num_epochs`` times; a last partial batch is dropped)."""
    from tfx_bsl.public import tfxio
    options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle=shuffle,
                                             shuffle_seed=seed, num_epochs=num_epochs,
                                             drop_final_batch=True)
    if materialized:
        ds = data_accessor.tf_dataset_factory(file_pattern, options,
                                              tft_output.transformed_metadata.schema)
    else:
        raw = data_accessor.tf_dataset_factory(file_pattern, options, tft_output.raw_metadata.schema)
        layer = tft_output.transform_features_layer()
        ds = raw.map(lambda feats: layer(feats), num_parallel_calls=tf.data.AUTOTUNE)
    roles = list(shapes)
    ds = ds.map(lambda feats: {r: tf.ensure_shape(feats[F.transformed_key(r)],
                                                  [batch_size, *shapes[r]]) for r in roles})
    return ds.prefetch(tf.data.AUTOTUNE)


def backup_dir(config: TrainerConfig, train_files) -> str:
    """A backup folder unique to this configuration and data, so a resumed run
    never restores weights trained on other settings."""
    key = json.dumps({k: v for k, v in config.to_dict().items() if k != "backup_dir"},
                     sort_keys=True)
    key += json.dumps(sorted(train_files) if isinstance(train_files, list) else [str(train_files)])
    return os.path.join(config.backup_dir, hashlib.sha256(key.encode()).hexdigest()[:16])


def fit_gan(model, kind: str, train_ds, eval_batch, *, train_steps: int, steps_per_epoch: int,
            backup_dir: str, log_dir: str, callbacks=(), verbose: int = 2, name: str | None = None,
            ema_decay: float = 0.0, adapt_data=None):
    """``model.adapt(adapt_data)`` (one pass over the training batches, or None
    for a GAN without data-dependent state), then ``model.fit`` for ``ceil(train_steps /
    steps_per_epoch)`` epochs, with a NaN/Inf guard, BackupAndRestore at every
    epoch end (a killed run resumes from its last finished epoch), TensorBoard
    losses and image panels; with ``ema_decay`` the generator ends holding its
    weight average (GeneratorEMA)."""
    epochs = max(1, math.ceil(train_steps / steps_per_epoch))
    callbacks = [
        NonFiniteLossGuard(),
        keras.callbacks.BackupAndRestore(backup_dir),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=max(1, steps_per_epoch // 5)),
        PanelCallback(log_dir, kind, eval_batch),
        TrainingProgress(name or kind, epochs * steps_per_epoch, steps_per_epoch),
        TrainingHealth(log_dir),
        *callbacks,
    ]
    if ema_decay:
        callbacks.append(GeneratorEMA(ema_decay))
    model.adapt(adapt_data)
    return model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                     callbacks=callbacks, verbose=verbose)


def build_model(module, hp, strategy: tf.distribute.Strategy):
    """The GAN built under ``strategy`` with its initial weights drawn from ``hp.seed``.

    Seeding Python, NumPy and TensorFlow here makes a Trainer run a function of
    its configuration and data: the same ``seed`` gives the same initial
    weights (and, with the stateless per-step draws of the objectives, the same
    training up to floating-point reduction order), as ``bench/bench_quality.py``
    assumes when it reports the main job's settings over seeds.
    """
    keras.utils.set_random_seed(hp.seed)
    with strategy.scope():
        return module.build(hp)


def train_and_export(config: TrainerConfig, *, train_files, eval_files, data_accessor,
                     tft_output, train_steps: int, model_run_dir: str, serving_model_dir: str):
    spec = registry.get(config.gan)
    module = spec.load()
    hp = registry.make_hparams(module.HParams, config.hparams, owner=spec.name)
    shapes = module.input_shapes(hp)
    strategy = distribute.get_strategy(config.strategy)
    # Fail before reading any data when the batch does not split over the replicas.
    distribute.check_global_batch(hp.batch_size, strategy.num_replicas_in_sync,
                                  f"{spec.name} batch_size")
    log.info("%s: training %d steps on %d replica(s) with %s", spec.name, train_steps,
             strategy.num_replicas_in_sync, type(strategy).__name__)
    materialized = config.materialized
    # Seeded before the datasets too: a shuffle's order depends on TensorFlow's global
    # seed as well as its own, and otherwise on whichever Trainer ran before in this
    # process (LocalDagRunner runs every Trainer in one process).
    keras.utils.set_random_seed(hp.seed)
    train_ds = make_dataset(train_files, data_accessor, tft_output, shapes, hp.batch_size,
                            materialized=materialized, shuffle=True, seed=hp.seed)
    eval_batch = next(iter(make_dataset(eval_files, data_accessor, tft_output, shapes,
                                        min(8, hp.batch_size), materialized=materialized,
                                        shuffle=False)))
    # Every training example once, in file order (batches of 1 drop none).
    one_pass = make_dataset(train_files, data_accessor, tft_output, shapes, 1,
                            materialized=materialized, shuffle=False, num_epochs=1)
    model = build_model(module, hp, strategy)
    fit_gan(model, spec.kind, train_ds, eval_batch, train_steps=train_steps,
            steps_per_epoch=config.steps_per_epoch,
            backup_dir=backup_dir(config, train_files), log_dir=model_run_dir, name=spec.name,
            ema_decay=config.ema_decay, adapt_data=one_pass)
    is_ct = kinds.get(spec.kind).is_ct(config.bit_depth)
    export.export_generator(spec.name, model.generator, hp, serving_model_dir,
                            tft_output,
                            is_ct=is_ct, ct_window=config.ct_window)
    return model


def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    import tensorflow_transform as tft
    from trainer.filesystems import ensure_filesystem
    config = TrainerConfig.from_dict(fn_args.custom_config)  # malformed: fails before any I/O
    ensure_filesystem(fn_args.transform_output, fn_args.model_run_dir, fn_args.serving_model_dir,
                      *fn_args.train_files, *fn_args.eval_files)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    train_and_export(config, train_files=fn_args.train_files,
                     eval_files=fn_args.eval_files, data_accessor=fn_args.data_accessor,
                     tft_output=tft_output, train_steps=fn_args.train_steps,
                     model_run_dir=fn_args.model_run_dir,
                     serving_model_dir=fn_args.serving_model_dir)
