"""GAN failure modes: pure detectors, the gate's checks, and a training callback.

After training (the evaluator, :mod:`trainer.evaluation`):

* **mode collapse** (unconditional GANs): the generated samples are labelled
  by the domain classifier the evaluator trains on the dataset's labels
  (:mod:`trainer.feature_extractors`); :func:`class_coverage` counts the
  classes that are generated at all (a class counts when its share of the
  samples is at least ``min_class_share_ratio`` x its train share) and the
  total variation distance between the generated class histogram and the
  train label histogram (:func:`total_variation`);
* **output collapse** (conditional GANs): :func:`output_spread_ratio` - the
  per-pixel standard deviation across the eval batch of the generated images,
  over that of the targets; a generator that draws nearly the same image
  whatever its input scores near 0.

During training (pure functions on per-step loss histories, and the
:class:`TrainingHealth` callback that runs them):

* :func:`discriminator_wins` - a sustained stretch where the discriminator's
  loss is near zero (only for losses that are never negative: cross-entropy,
  hinge, least squares; a WGAN critic's loss is not bounded below) or its
  accuracy (from the mean sigmoid outputs on real and generated images) near
  one: the generator gets no useful gradient;
* :func:`divergence` - a non-finite loss, or a loss whose running median
  magnitude grows far beyond its early level.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from typing import Mapping, Sequence

import keras
import numpy as np

from trainer.blessing import Check, EvalConfig

log = logging.getLogger(__name__)

DISCRIMINATOR_WINS, DIVERGENCE = "discriminator wins", "divergence"


@dataclasses.dataclass(frozen=True)
class Finding:
    """The result of one detector."""
    name: str             # DISCRIMINATOR_WINS, DIVERGENCE, ...
    detected: bool
    message: str          # in words, for logs and reports
    details: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# ------------------------------------------------------------ after training
def class_histogram(labels, num_classes: int) -> np.ndarray:
    """Shares [num_classes] of each class among integer ``labels``."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, received {num_classes}")
    if labels.size == 0:
        raise ValueError("class_histogram needs at least one label, received none")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), received values from "
                         f"{labels.min()} to {labels.max()}")
    return np.bincount(labels, minlength=num_classes) / labels.size


def total_variation(p, q) -> float:
    """Total variation distance ``0.5 * sum |p - q|`` of two histograms (0 .. 1)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histograms of different lengths: {p.shape} and {q.shape}")
    return float(0.5 * np.abs(p - q).sum())


def class_coverage(predicted, train_labels, num_classes: int,
                   min_share_ratio: float = 0.2) -> dict:
    """Coverage and histogram distance of generated samples' ``predicted`` classes.

    Returns ``{"covered": int, "num_classes": int, "missing": [class ids],
    "tv": float, "generated": [shares], "train": [shares], "top_class": int,
    "top_share": float, "samples": int}``. A class is covered when its generated share is at
    least ``min_share_ratio`` x its train share (classes absent from train
    are not counted)."""
    gen = class_histogram(predicted, num_classes)
    train = class_histogram(train_labels, num_classes)
    present = train > 0
    covered = present & (gen >= min_share_ratio * train)
    top = int(np.argmax(gen))
    return {"covered": int(covered.sum()), "num_classes": int(present.sum()),
            "missing": [int(k) for k in np.flatnonzero(present & ~covered)],
            "tv": total_variation(gen, train), "generated": [round(float(v), 4) for v in gen],
            "train": [round(float(v), 4) for v in train], "top_class": top,
            "top_share": float(gen[top]), "samples": int(np.asarray(predicted).size)}


def mode_collapse_checks(coverage: Mapping, config: EvalConfig, labels_name: str,
                         real_tv: float | None = None) -> list[Check]:
    """The gate's checks on :func:`class_coverage` of the generated samples.

    ``real_tv`` (the same distance for the real eval images, classified by the
    same classifier) is shown in the check's name: how far a sample of real
    images is from the train histogram."""
    k, covered = coverage["num_classes"], coverage["covered"]
    bound = math.nextafter(config.min_class_coverage, -math.inf)   # ">= min_class_coverage"
    floor = "" if real_tv is None else f"; real eval images {real_tv:.3g}"
    return [
        Check(f"class coverage ({covered} of {k} classes of the {labels_name} labels generated)",
              covered / k, bound, True,
              why=f"mode collapse: {covered} of {k} {labels_name} classes generated"),
        Check(f"class histogram total variation to train over {coverage['samples']} samples "
              f"(0 = same shares{floor})",
              coverage["tv"], config.max_class_tv, False,
              why=(f"mode collapse: class {coverage['top_class']} is "
                   f"{coverage['top_share']:.0%} of the generated samples, "
                   f"{coverage['train'][coverage['top_class']]:.0%} of train")),
    ]


def output_spread_ratio(generated, targets) -> float:
    """Mean per-pixel std across the batch of ``generated`` over that of ``targets``
    ([N, H, W, C] each); NaN when the targets do not vary."""
    g, t = np.asarray(generated, np.float64), np.asarray(targets, np.float64)
    if g.shape != t.shape or g.ndim != 4 or len(g) < 2:
        raise ValueError(f"expected two [N >= 2, H, W, C] batches of one shape, received "
                         f"{g.shape} and {t.shape}")
    spread_t = float(t.std(axis=0).mean())
    return float(g.std(axis=0).mean()) / spread_t if spread_t > 0 else math.nan


def output_collapse_check(ratio: float, config: EvalConfig) -> Check:
    return Check("output spread across inputs (per-pixel std over the eval batch, generated / "
                 "targets)", ratio, config.min_output_std_ratio, True,
                 why="output collapse: the generator draws nearly the same image for every input")


# ------------------------------------------------------------ during training
def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in ``flags`` ((-1, 0) if none)."""
    best, start, run_start = 0, -1, None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and run_start is None:
            run_start = i
        elif not flag and run_start is not None:
            if i - run_start > best:
                best, start = i - run_start, run_start
            run_start = None
    return start, best


def discriminator_wins(d_loss: Sequence[float], *, d_real: Sequence[float] | None = None,
                       d_fake: Sequence[float] | None = None, loss_floor: float = 0.05,
                       accuracy_ceiling: float = 0.98, min_steps: int = 50) -> Finding:
    """A stretch of at least ``min_steps`` consecutive steps where D has won.

    A step counts when the discriminator loss is below ``loss_floor`` (only if
    the loss is never negative over the history - cross-entropy, hinge and
    least-squares losses; a WGAN critic's loss is not) or, given the mean
    sigmoid outputs ``d_real``/``d_fake``, when D's accuracy
    ``(d_real + 1 - d_fake) / 2`` is above ``accuracy_ceiling``."""
    d = np.asarray(d_loss, np.float64).reshape(-1)
    if min_steps < 1:
        raise ValueError(f"min_steps must be >= 1, received {min_steps}")
    flags = np.zeros(d.shape, bool)
    finite = d[np.isfinite(d)]
    bounded_below = finite.size > 0 and finite.min() >= 0.0
    if bounded_below:
        flags |= np.isfinite(d) & (d < loss_floor)
    accuracy = None
    if d_real is not None and d_fake is not None:
        r, f = np.asarray(d_real, np.float64).reshape(-1), np.asarray(d_fake, np.float64).reshape(-1)
        if r.shape != d.shape or f.shape != d.shape:
            raise ValueError(f"d_real {r.shape}, d_fake {f.shape} and d_loss {d.shape} differ "
                             "in length")
        accuracy = (r + 1.0 - f) / 2.0
        flags |= np.isfinite(accuracy) & (accuracy > accuracy_ceiling)
    start, length = _longest_run(flags)
    detected = length >= min_steps
    criteria = []
    if bounded_below:
        criteria.append(f"D loss < {loss_floor:g}")
    if accuracy is not None:
        criteria.append(f"D accuracy > {accuracy_ceiling:g}")
    if not criteria:
        message = ("not checked: the D loss can be negative (a critic) and no D outputs "
                   "(d_real/d_fake) were logged")
    elif detected:
        message = (f"discriminator wins: {' or '.join(criteria)} for {length} consecutive steps "
                   f"from step {start} - the generator gets little gradient")
    else:
        message = (f"no sustained discriminator win (longest stretch of "
                   f"{' or '.join(criteria)}: {length} steps, {min_steps} flag it)")
    return Finding(DISCRIMINATOR_WINS, detected, message,
                   {"start": int(start), "steps": int(length), "min_steps": min_steps,
                    "criteria": criteria})


def divergence(losses: Mapping[str, Sequence[float]], *, window: int = 50,
               explode_factor: float = 100.0) -> Finding:
    """A non-finite loss, or a loss whose running median magnitude (over ``window``
    steps) exceeds ``explode_factor`` x its median magnitude over the first
    ``window`` steps (plus 1e-3, so losses that start at ~0 are not flagged by
    noise)."""
    if window < 1 or explode_factor <= 1:
        raise ValueError(f"window must be >= 1 and explode_factor > 1, received {window} and "
                         f"{explode_factor}")
    for name, values in losses.items():
        x = np.asarray(values, np.float64).reshape(-1)
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            return Finding(DIVERGENCE, True, f"divergence: {name} is {x[bad[0]]} at step "
                           f"{int(bad[0])}", {"loss": name, "step": int(bad[0])})
        if x.size < 2 * window:
            continue
        early = float(np.median(np.abs(x[:window]))) + 1e-3
        running = np.median(np.lib.stride_tricks.sliding_window_view(np.abs(x), window), axis=1)
        over = np.flatnonzero(running > explode_factor * early)
        if over.size:
            step = int(over[0] + window - 1)
            return Finding(DIVERGENCE, True,
                           f"divergence: the running median of |{name}| reached "
                           f"{running[over[0]]:.4g} at step {step}, over {explode_factor:g}x its "
                           f"early level {early:.4g}",
                           {"loss": name, "step": step, "early": early,
                            "running": float(running[over[0]])})
    names = ", ".join(losses) or "no losses"
    return Finding(DIVERGENCE, False, f"no divergence ({names} finite and bounded)", {})


# ------------------------------------------------------------------ callback
HEALTH_FILE = "training_health.json"
TRACKED = ("d_loss", "g_loss", "d_real", "d_fake")


def read_training_health(log_dir: str) -> list[dict] | None:
    """The findings :class:`TrainingHealth` wrote under ``log_dir`` (the Trainer's
    model_run folder), or None when it wrote none (e.g. a run trained elsewhere)."""
    import tensorflow as tf
    path = os.path.join(log_dir, HEALTH_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as fh:
        data = json.load(fh)
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list):
        raise ValueError(f"{path}: expected {{'findings': [...]}} as TrainingHealth writes, "
                         f"found {type(data).__name__}")
    return [dict(f, steps=data.get("steps")) for f in findings if isinstance(f, dict)]


def steps_from_running_means(means: Sequence[float]) -> np.ndarray:
    """Per-step values from the running means Keras reports within one epoch
    (``x_b = (b + 1) m_b - b m_{b-1}``; exact for equal-size batches)."""
    m = np.asarray(means, np.float64).reshape(-1)
    b = np.arange(m.size, dtype=np.float64)
    prev = np.concatenate([[0.0], m[:-1]])
    return (b + 1.0) * m - b * prev


class TrainingHealth(keras.callbacks.Callback):
    """Runs :func:`discriminator_wins` and :func:`divergence` on the losses of the
    whole run at every epoch end; writes TensorBoard scalars
    ``failure_modes/discriminator_wins`` and ``failure_modes/divergence``
    (1 = detected), a text summary ``failure_modes/summary`` and
    ``<log_dir>/training_health.json``; logs a warning when one fires. It
    never stops training (the NaN guard does that)."""

    def __init__(self, log_dir: str, *, min_steps: int = 50, loss_floor: float = 0.05,
                 accuracy_ceiling: float = 0.98, window: int = 50, explode_factor: float = 100.0):
        super().__init__()
        self.log_dir = log_dir
        self.options = dict(min_steps=min_steps, loss_floor=loss_floor,
                            accuracy_ceiling=accuracy_ceiling)
        self.div_options = dict(window=window, explode_factor=explode_factor)
        self.history: dict[str, list[float]] = {}
        self._epoch_means: dict[str, list[float]] = {}
        self._writer = None
        self.findings: list[Finding] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._flush_epoch()

    def on_train_batch_end(self, batch, logs=None):
        for name in TRACKED:
            if name in (logs or {}):
                try:
                    value = float(np.asarray(logs[name]))
                except (TypeError, ValueError):
                    continue
                self._epoch_means.setdefault(name, []).append(value)

    def _flush_epoch(self):
        for name, means in self._epoch_means.items():
            self.history.setdefault(name, []).extend(steps_from_running_means(means).tolist())
        self._epoch_means = {}

    def check(self) -> list[Finding]:
        """The detectors on the history so far."""
        h = self.history
        findings = [divergence({k: h[k] for k in ("d_loss", "g_loss") if k in h},
                               **self.div_options)]
        if "d_loss" in h:
            same = all(len(h.get(k, ())) == len(h["d_loss"]) for k in ("d_real", "d_fake"))
            findings.insert(0, discriminator_wins(
                h["d_loss"], d_real=h.get("d_real") if same else None,
                d_fake=h.get("d_fake") if same else None, **self.options))
        return findings

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        self._flush_epoch()
        self.findings = self.check()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        text = "\n".join(f"- {f.message}" for f in self.findings)
        with self._writer.as_default():
            for f in self.findings:
                tf.summary.scalar("failure_modes/" + f.name.replace(" ", "_"),
                                  float(f.detected), step=epoch + 1)
            tf.summary.text("failure_modes/summary", text, step=epoch + 1)
        self._writer.flush()
        for f in self.findings:
            if f.detected:
                log.warning("epoch %d: %s", epoch + 1, f.message)
        # log_dir is the Trainer's model_run folder: an object-store URI when the
        # pipeline root is one, so through tf.io.gfile (os/open made a local ./s3:/).
        tf.io.gfile.makedirs(self.log_dir)
        with tf.io.gfile.GFile(os.path.join(self.log_dir, HEALTH_FILE), "w") as fh:
            fh.write(json.dumps({"steps": len(self.history.get("d_loss", ())), "epoch": epoch + 1,
                                 "findings": [f.to_json() for f in self.findings]}, indent=2))
