"""Choosing a ``tf.distribute`` strategy, and the per-replica helpers the GANs use.

Every GAN computes its losses so that training on N replicas is the same
computation as training on one device with the same global batch:

* per-example losses are summed and divided by the **global** batch size
  (:func:`global_batch_mean`), and the optimisers sum gradients over replicas;
* statistics that couple examples (the batch means of RaGAN) are all-reduced
  (:func:`cross_replica_mean`);
* random draws (noise, interpolation weights, masks, dropout) are made for the
  whole global batch from a stateless seed and each replica keeps its own
  slice (:func:`replica_slice`), so the draw for example *i* does not depend
  on how many replicas there are.

All of this needs every replica to hold the same number of examples, so
the global batch must be a multiple of the replica count
(:func:`check_global_batch`; the GANs check their ``batch_size`` when built
under a strategy, and the Trainer checks it right after choosing the
strategy). With an uneven split ``compute_average_loss`` divides each
replica's sum by its *local* size times the replica count, which scales the
loss wrongly and unevenly (a global batch of 1 on two replicas gives half
the loss; 3 gives 2.25 instead of 2), and :func:`replica_slice` hands two
examples the same random draw. There is no silent fallback to fewer
devices: the error names the batch and the replica count, and the user
picks a batch that divides (or ``one_device``).
"""
from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from trainer.config import DEFAULT_STRATEGY, MIRRORED, MULTI_WORKER, ONE_DEVICE, STRATEGIES

log = logging.getLogger(__name__)


def get_strategy(name: str = MIRRORED) -> tf.distribute.Strategy:
    """The strategy named ``name``.

    * ``"default"`` / ``"one_device"``: one device (the first GPU, else the CPU);
    * ``"mirrored"``: ``MirroredStrategy`` over all local devices (the default);
    * ``"multi_worker"``: ``MultiWorkerMirroredStrategy`` configured from the
      ``TF_CONFIG`` environment variable, which must be set.
    """
    if name in (DEFAULT_STRATEGY, ONE_DEVICE):
        gpus = tf.config.list_logical_devices("GPU")
        device = gpus[0].name if gpus else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == MIRRORED:
        return tf.distribute.MirroredStrategy()
    if name == MULTI_WORKER:
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise ValueError(
                "strategy 'multi_worker' needs TF_CONFIG, e.g. "
                '{"cluster": {"worker": ["host0:port", "host1:port"]}, '
                '"task": {"type": "worker", "index": 0}}; TF_CONFIG is not set')
        try:
            config = json.loads(raw)
            config["cluster"]["worker"], config["task"]["index"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"TF_CONFIG is not a valid cluster spec ({err}): {raw!r}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")


def check_global_batch(global_batch: int, replicas: int, what: str = "batch_size") -> None:
    """Raise ValueError unless ``global_batch`` splits evenly over ``replicas``.

    ``what`` names the setting in the message (for example
    ``"pix2pix_wgan_gp batch_size"``).
    """
    if replicas < 1:
        raise ValueError(f"replica count must be >= 1, received {replicas}")
    if global_batch < replicas or global_batch % replicas:
        multiple = max(replicas, -(-global_batch // replicas) * replicas)
        raise ValueError(
            f"{what} {global_batch} does not split evenly over {replicas} replicas: the global "
            f"batch must be a multiple of the replica count so that every replica gets the same "
            f"number of examples (uneven splits mis-scale the losses and share random draws); "
            f"set {what} to a multiple of {replicas} (e.g. {multiple}) or train on one device "
            f"(strategy 'one_device')")


def _replica_context():
    """(replica id, number of replicas); (0, 1) outside any replica context."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


def num_replicas() -> int:
    return _replica_context()[1]


def global_batch_mean(per_example: tf.Tensor) -> tf.Tensor:
    """Sum of ``per_example`` [B] over this replica divided by the global batch.

    Summed over replicas (as the optimisers sum gradients) this is the mean
    over the global batch, whatever the number of replicas.
    """
    return tf.nn.compute_average_loss(per_example)


def _mean_over_replicas(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """``total / count`` with both summed over the replicas in sync (if more than one)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        total, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
    return total / count


def cross_replica_mean(x: tf.Tensor) -> tf.Tensor:
    """Mean of all elements of ``x`` over every replica's batch (differentiable)."""
    x = tf.cast(x, tf.float32)
    return _mean_over_replicas(tf.reduce_sum(x), tf.cast(tf.size(x), tf.float32))


def cross_replica_batch_mean(x: tf.Tensor) -> tf.Tensor:
    """Mean of ``x`` [B, ...] over the global batch: [...], equal on every replica."""
    x = tf.cast(x, tf.float32)
    return _mean_over_replicas(tf.reduce_sum(x, axis=0), tf.cast(tf.shape(x)[0], tf.float32))


def replica_slice(draw, local_batch):
    """This replica's rows of a global-batch random draw.

    ``draw(global_batch)`` must return a tensor (or a structure of tensors)
    whose first dimension is ``global_batch``; the rows
    ``[replica_id * local_batch, (replica_id + 1) * local_batch)`` are kept.
    """
    replica_id, n = _replica_context()
    local_batch = tf.cast(local_batch, tf.int32)
    global_batch = local_batch * n
    start = tf.cast(replica_id, tf.int32) * local_batch
    return tf.nest.map_structure(lambda t: t[start:start + local_batch], draw(global_batch))


def step_seed(seed: int, step, salt: int) -> tf.Tensor:
    """A stateless-op seed [2] int32 from a fixed ``seed``, a step counter and a salt.

    Different ``salt`` values give independent streams within one step (for
    example the noise and the gradient-penalty interpolation).
    """
    step = tf.cast(step, tf.int64)
    mixed = tf.cast(seed, tf.int64) * 1_000_003 + tf.cast(salt, tf.int64)
    return tf.cast(tf.stack([mixed % 2_147_483_647, step % 2_147_483_647]), tf.int32)
