"""What every GAN objective shares: input validation, metric trackers, seeds."""
from __future__ import annotations

import dataclasses
from typing import Mapping

import keras
import tensorflow as tf

from trainer import distribute


def check_fields(hp, *, positive=(), non_negative=(), probabilities=()) -> None:
    """Raise ValueError naming the field and value of any out-of-range hyper-parameter."""
    for name in positive:
        value = getattr(hp, name)
        if not value > 0:
            raise ValueError(f"{type(hp).__module__}.HParams.{name} must be > 0, received {value!r}")
    for name in non_negative:
        value = getattr(hp, name)
        if not value >= 0:
            raise ValueError(f"{type(hp).__module__}.HParams.{name} must be >= 0, received {value!r}")
    for name in probabilities:
        value = getattr(hp, name)
        if not 0 <= value < 1:
            raise ValueError(f"{type(hp).__module__}.HParams.{name} must be in [0, 1), received {value!r}")


def adam(learning_rate, beta_1: float = 0.9, beta_2: float = 0.999, name: str = "adam"):
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)


class GanModel(keras.Model):
    """Base of the GAN objectives.

    Subclasses set ``LOSS_NAMES`` (the metrics ``train_step`` reports), build
    their networks in ``__init__`` and implement ``train_step``. Losses are
    reported through ``keras.metrics.Mean`` trackers weighted by the local
    batch size, so the value Keras aggregates over replicas is the mean over
    the global batch.
    """

    LOSS_NAMES: tuple[str, ...] = ()
    # Attributes holding the generator-side and the discriminator-side networks.
    PLAYERS: tuple[tuple[str, ...], tuple[str, ...]] = (("generator",), ("discriminator",))

    def __init__(self, hparams, input_shapes: Mapping[str, tuple[int, int, int]],
                 loss_names: tuple[str, ...] | None = None, **kwargs):
        super().__init__(**kwargs)
        # Every replica must get the same number of examples (trainer.distribute).
        distribute.check_global_batch(hparams.batch_size, self.distribute_strategy.num_replicas_in_sync,
                                      f"{type(hparams).__module__.rsplit('.', 1)[-1]} batch_size")
        self.hparams = hparams
        self.input_shapes = dict(input_shapes)
        self._trackers = {n: keras.metrics.Mean(name=n) for n in (loss_names or self.LOSS_NAMES)}
        # Step counter for the stateless random draws (noise, α, masks).
        self.rng_step = self.add_weight(name="rng_step", shape=(), dtype="int64",
                                        initializer="zeros", trainable=False,
                                        aggregation="only_first_replica")

    # ------------------------------------------------------------ Keras API
    @property
    def metrics(self):
        return list(self._trackers.values())

    def _compile_base(self, **kwargs):
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=None, **kwargs)
        # The networks are functional models, built when constructed; mark the
        # GAN built so fit() does not try to trace call() on a training batch.
        self.built = True

    def _build_optimizer(self, optimizer, variables):
        with self.distribute_strategy.scope():
            optimizer.build(variables)
        return optimizer

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.12's TF trainer pulls a batch and reduces it with
        # ``strategy.reduce`` to trace the model symbolically; with a dict
        # batch MultiWorkerMirroredStrategy rejects that reduction. The GAN
        # is built at construction and has no compiled loss or metrics, so
        # there is nothing to build.
        if self.built:
            return None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def adapt(self, dataset) -> None:
        """Sets state that depends on the training data before ``fit`` (none by
        default) from ``dataset``, one pass over the training batches (or None);
        ``trainer.task.fit_gan`` calls it."""

    def get_config(self):
        return {"hparams": dataclasses.asdict(self.hparams)}

    # --------------------------------------------------------- the batches
    def unpack(self, data) -> dict[str, tf.Tensor]:
        """The batch dict, validated against ``input_shapes``.

        Raises ValueError naming the role and the expected and received
        shapes (or dtype) when a batch does not fit.
        """
        if isinstance(data, (tuple, list)) and len(data) >= 1 and isinstance(data[0], Mapping):
            data = data[0]
        if not isinstance(data, Mapping):
            raise ValueError(f"{self.name} expects a dict keyed by {sorted(self.input_shapes)}, "
                             f"received {type(data).__name__}")
        missing = sorted(set(self.input_shapes) - set(data))
        if missing:
            raise ValueError(f"{self.name} batch is missing {missing}; received keys {sorted(data)}")
        batch = {}
        for role, shape in self.input_shapes.items():
            t = data[role]
            if t.dtype != tf.float32:
                raise ValueError(f"{self.name}: {role!r} must be float32 in [-1, 1], "
                                 f"received dtype {t.dtype.name}")
            expected = tf.TensorShape([None, *shape])
            if not t.shape.is_compatible_with(expected):
                raise ValueError(f"{self.name}: {role!r} expected shape [B, H, W, C] = "
                                 f"{expected.as_list()}, received {t.shape.as_list()}")
            batch[role] = tf.ensure_shape(t, expected)
        return batch

    def seed(self, salt: int) -> tf.Tensor:
        """Stateless seed [2] for this step and purpose ``salt``."""
        return distribute.step_seed(self.hparams.seed, self.rng_step.value, salt)

    def generator_inputs(self, batch) -> object:
        """What ``self.generator`` is called with for a (validated) batch dict."""
        raise NotImplementedError

    # ------------------------------------------------------------- metrics
    def record(self, terms: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Update the trackers with per-example losses [B]; return global results.

        Each tracker adds ``sum(loss)`` and the local batch size; the running
        totals and counts are then summed over replicas, so the returned
        values (the per-step logs) are the means over the global batch and
        identical on every replica and worker.
        """
        for name, per_example in terms.items():
            per_example = tf.cast(per_example, tf.float32)
            n = tf.cast(tf.size(per_example), tf.float32)
            self._trackers[name].update_state(tf.reduce_mean(per_example), sample_weight=n)
        self.rng_step.assign_add(1)
        names = list(self._trackers)
        stats = tf.stack([tf.convert_to_tensor(v) for name in names
                          for v in (self._trackers[name].total, self._trackers[name].count)])
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            stats = ctx.all_reduce(tf.distribute.ReduceOp.SUM, stats)
        stats = tf.reshape(stats, [len(names), 2])  # [metric, (total, count)]
        results = {name: tf.math.divide_no_nan(stats[i, 0], stats[i, 1])
                   for i, name in enumerate(names)}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.12 reduces step outputs across workers with
            # strategy.reduce("MEAN", v, axis=0), which rejects scalars; the
            # values are equal on every replica, so a [1] vector is exact.
            results = {name: tf.reshape(v, [1]) for name, v in results.items()}
        return results

    @staticmethod
    def apply(optimizer, tape, loss, variables):
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
