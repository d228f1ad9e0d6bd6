"""Blessing rules of the GAN evaluator: pure functions, no TensorFlow.

A candidate generator is **blessed** (and so pushed to TF Serving) only if

1. it beats the *strongest* of its task's baselines - the simple methods a
   user would otherwise use - on the task's primary metric, by a margin, in
   a paired comparison over the eval images: the lower bound of a bootstrap
   confidence interval of the mean per-image gain must be above the margin;
2. it is not worse than the strongest baseline on SSIM (paired, inpainting);
3. no GAN failure mode is detected (mode collapse of an unconditional GAN,
   output collapse across inputs of a conditional one:
   :mod:`trainer.failure_modes`);
4. it is not worse than the *latest blessed* generator of the same GAN by
   more than an allowed regression (when one exists; both are evaluated on
   the same eval data in the same run, with the same feature extractor).

The baselines, per GAN kind (:mod:`trainer.registry`) and data:

=============  ========================  =====================================
kind           primary metric            baselines (the gate uses the
                                         strongest)
=============  ========================  =====================================
paired, CT     ``psnr`` (per image)      the low-dose input; non-local means
(same size)                              (scikit-image, tuned on train pairs)
paired, SR     ``psnr`` (per image)      bicubic and Lanczos-3 up-sampling
inpainting     ``hole_psnr`` (per        biharmonic fill (mean fill shown for
               image)                    reference)
unconditional  ``fd_fraction``           real-vs-real (floor) and
                                         real-vs-noise (ceiling) distances;
                                         class coverage / class histogram
=============  ========================  =====================================

``fd_fraction = (FD(generated, eval) - FD(train, eval)) / (FD(noise, eval) -
FD(train, eval))``: 0 is as close to the eval images as other real images
are, 1 is as far as uniform noise.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping, Sequence

import numpy as np

from trainer import kinds
from trainer.metrics import PSNR_CAP_DB


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation and blessing settings of one GAN (defaults measured: docs/EVALUATION.md)."""
    # --- vs the strongest baseline (paired comparison over the eval images)
    min_psnr_gain_db: float = 0.5        # paired: the CI lower bound of the mean per-image PSNR gain
    min_ssim_gain: float = 0.0           # paired, inpainting: SSIM must beat the baseline's by this
    min_hole_psnr_gain_db: float = 0.5   # inpainting: the same, for PSNR inside the holes
    bootstrap_resamples: int = 2000      # resamples of the per-image gains (percentile bootstrap)
    confidence: float = 0.95             # two-sided confidence of the gain's interval
    max_fd_fraction: float = 0.2         # unconditional: at most this far from the real floor to noise
    # --- failure modes (trainer.failure_modes)
    min_class_coverage: float = 0.9      # unconditional: share of classes generated (9 of 10 digits)
    min_class_share_ratio: float = 0.2   # a class counts as generated at >= this x its train share
    max_class_tv: float = 0.2            # unconditional: total variation to the train class histogram
    class_samples: int = 4096            # unconditional: generated samples whose classes are counted
    min_output_std_ratio: float = 0.25   # conditional: spread across inputs, generated / targets
    # --- vs the latest blessed generator of the same GAN
    max_psnr_regression_db: float = 0.75  # paired, inpainting: PSNR (hole PSNR) may drop this much
    max_ssim_regression: float = 0.02    # paired, inpainting: SSIM may drop this much
    max_fd_fraction_regression: float = 0.05  # unconditional: fd_fraction may rise this much
    # --- what is evaluated
    max_examples: int = 256              # eval records used (the first ones, in file order)
    nlm_tuning_pairs: int = 8            # CT: train pairs that choose the non-local-means parameters
    num_panels: int = 6                  # side-by-side image rows in the report and TensorBoard
    seed: int = 0                        # masks, generator seeds, feature extractor, bootstrap

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"EvalConfig.{f.name} must be a finite number, received {value!r}")
        for name in ("max_psnr_regression_db", "max_ssim_regression", "max_fd_fraction_regression",
                     "min_class_share_ratio", "min_output_std_ratio", "max_class_tv"):
            if getattr(self, name) < 0:
                raise ValueError(f"EvalConfig.{name} must be >= 0, received {getattr(self, name)}")
        if self.class_samples < 2:
            raise ValueError(f"EvalConfig.class_samples must be >= 2, received "
                             f"{self.class_samples}")
        if self.max_examples < 2:
            raise ValueError(f"EvalConfig.max_examples must be >= 2, received {self.max_examples}")
        if self.num_panels < 0:
            raise ValueError(f"EvalConfig.num_panels must be >= 0, received {self.num_panels}")
        if self.bootstrap_resamples < 100:
            raise ValueError(f"EvalConfig.bootstrap_resamples must be >= 100, received "
                             f"{self.bootstrap_resamples}")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"EvalConfig.confidence must be in [0.5, 1), received {self.confidence}")
        if not 0.0 <= self.min_class_coverage <= 1.0:
            raise ValueError(f"EvalConfig.min_class_coverage must be in [0, 1], received "
                             f"{self.min_class_coverage}")
        if self.nlm_tuning_pairs < 1:
            raise ValueError(f"EvalConfig.nlm_tuning_pairs must be >= 1, received "
                             f"{self.nlm_tuning_pairs}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "EvalConfig":
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown EvalConfig key(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "EvalConfig":
        return cls.from_dict(json.loads(text) if text else {})


@dataclasses.dataclass(frozen=True)
class Check:
    """One comparison: ``value`` (op) ``bound`` must hold."""
    name: str          # what is compared, e.g. "psnr gain over nlm_denoise"
    value: float       # the candidate's value
    bound: float       # the limit it must meet
    higher_is_better: bool
    why: str = ""      # in words, shown when the check fails (e.g. "mode collapse: ...")

    @property
    def passed(self) -> bool:
        if not (math.isfinite(self.value) and math.isfinite(self.bound)):
            return False
        return self.value > self.bound if self.higher_is_better else self.value < self.bound

    def describe(self) -> str:
        op = ">" if self.higher_is_better else "<"
        verdict = "ok" if self.passed else "FAILED"
        text = f"{self.name}: {self.value:.4g} {op} {self.bound:.4g} required - {verdict}"
        return f"{text} ({self.why})" if self.why and not self.passed else text


@dataclasses.dataclass(frozen=True)
class Decision:
    blessed: bool
    checks: tuple[Check, ...]
    gain: "Gain | None" = None   # the paired comparison with the strongest baseline

    @property
    def reasons(self) -> list[str]:
        """Why it was not blessed (the failed checks); empty when blessed."""
        return [c.describe() for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.blessed:
            return "BLESSED: " + "; ".join(c.describe() for c in self.checks)
        return "NOT BLESSED: " + "; ".join(self.reasons)


@dataclasses.dataclass(frozen=True)
class Gain:
    """The paired comparison of the candidate with the strongest baseline."""
    metric: str          # the primary metric, e.g. "psnr"
    baseline: str        # the strongest baseline's name
    mean: float          # mean per-image gain (candidate - baseline)
    low: float           # the confidence interval of the mean gain
    high: float
    num_images: int
    confidence: float
    resamples: int
    # The per-image gains, in eval-record order: which images the candidate loses on.
    per_image: tuple[float, ...] = dataclasses.field(default=(), repr=False)

    def describe(self) -> str:
        return (f"{self.metric} gain over {self.baseline}: mean {self.mean:+.3g} "
                f"[{self.low:+.3g}, {self.high:+.3g}] ({self.confidence:.0%} bootstrap CI, "
                f"{self.num_images} images)")


def fd_fraction(fd: float, fd_floor: float, fd_noise: float) -> float:
    """Where ``fd`` lies between the real-vs-real floor (0) and the real-vs-noise ceiling (1)."""
    span = fd_noise - fd_floor
    if not (math.isfinite(span) and span > 0):
        return math.nan
    return (fd - fd_floor) / span


def primary_metrics(kind: str) -> tuple[tuple[str, bool], ...]:
    """(metric, higher_is_better) that blessing compares, for a GAN kind; the first is
    the primary metric (compared per image, with a bootstrap interval)."""
    return kinds.get(kind).primary_metrics


def bootstrap_mean_ci(values: Sequence[float], *, resamples: int = 2000, confidence: float = 0.95,
                      seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the percentile-bootstrap ``confidence`` interval of the mean.

    Non-finite values make all three NaN (a gate on them fails)."""
    x = np.asarray(values, np.float64).reshape(-1)
    if x.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values, received {x.size}")
    if not np.isfinite(x).all():
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)   # [resamples]
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(x.mean()), float(low), float(high)


def _capped(values) -> np.ndarray:
    x = np.asarray(values, np.float64).reshape(-1)
    return np.where(np.isposinf(x), PSNR_CAP_DB, x)


def strongest(baselines: Mapping[str, Mapping[str, float]], metric: str, higher: bool = True) -> str:
    """The name of the baseline with the best mean ``metric`` (ties: the first).

    NaN means are passed over; an infinite one is a real extreme (a baseline exact
    on some image, if a caller did not cap its PSNR) and ranks as such."""
    if not baselines:
        raise ValueError("no baselines given: at least one is needed to decide")
    scored = [(name, _value(m, metric, f"baseline {name!r}")) for name, m in baselines.items()]
    finite = [(n, v) for n, v in scored if not math.isnan(v)] or scored
    best = max if higher else min
    return best(finite, key=lambda nv: nv[1])[0]


def paired_gain(candidate: Sequence[float], baseline: Sequence[float], *, metric: str,
                baseline_name: str, config: EvalConfig) -> Gain:
    """Per-image gain of the candidate over a baseline, with its bootstrap interval."""
    c, b = _capped(candidate), _capped(baseline)
    if c.shape != b.shape:
        raise ValueError(f"per-image {metric} of the candidate ({c.size} images) and of "
                         f"{baseline_name} ({b.size} images) differ in length")
    gains = c - b
    mean, low, high = bootstrap_mean_ci(gains, resamples=config.bootstrap_resamples,
                                        confidence=config.confidence, seed=config.seed)
    return Gain(metric, baseline_name, mean, low, high, int(c.size), config.confidence,
                config.bootstrap_resamples, tuple(float(g) for g in gains))


def _value(metrics: Mapping[str, float], name: str, who: str) -> float:
    if name not in metrics:
        raise ValueError(f"{who} metrics lack {name!r}; received {sorted(metrics)}")
    value = metrics[name]
    return math.nan if value is None else float(value)


def fd_fraction_checks(candidate: Mapping[str, float], config: EvalConfig) -> list[Check]:
    """The gate of distribution-matching GANs: the candidate's ``fd_fraction`` bound (the
    floor and ceiling are already inside the fraction; no baselines, no per-image gain)."""
    value = _value(candidate, "fd_fraction", "candidate")
    return [Check("fd_fraction (0 = real-vs-real, 1 = real-vs-noise)", value,
                  config.max_fd_fraction, False)]


def gain_checks(kind: str, metrics: Sequence[tuple[str, bool]], candidate: Mapping[str, float],
                baselines: Mapping[str, Mapping[str, float]],
                per_image: Mapping[str, Sequence[float]] | None,
                config: EvalConfig) -> tuple[list[Check], Gain]:
    """The gate of image-to-image GANs: the per-image gain of the primary metric (the first
    of ``metrics``) over the strongest baseline, and each other metric against its strongest
    baseline. Returns (checks, the gain)."""
    margin = {"psnr": config.min_psnr_gain_db, "hole_psnr": config.min_hole_psnr_gain_db,
              "ssim": config.min_ssim_gain}
    checks: list[Check] = []
    primary = metrics[0][0]
    if per_image is None:
        raise ValueError(f"{kind} GANs need per_image {primary} values of the candidate and "
                         f"of every baseline (received none)")
    missing = sorted({"candidate", *baselines} - set(per_image))
    if missing:
        raise ValueError(f"per_image lacks {missing}; received {sorted(per_image)}")
    for name, _ in metrics:
        _value(candidate, name, "candidate")
    best = strongest(baselines, primary)
    gain = paired_gain(per_image["candidate"], per_image[best], metric=primary,
                       baseline_name=best, config=config)
    others = ", ".join(f"{n} {_value(m, primary, n):.4g}" for n, m in baselines.items())
    checks.append(Check(
        f"{primary} gain over the strongest baseline {best} (mean {gain.mean:+.3g}, "
        f"{gain.confidence:.0%} CI [{gain.low:+.3g}, {gain.high:+.3g}] over "
        f"{gain.num_images} images; baselines: {others}), CI lower bound",
        gain.low, margin[primary], True,
        why=f"not reliably better than {best}"))
    for name, higher in metrics[1:]:
        best_other = strongest(baselines, name, higher)
        base = _value(baselines[best_other], name, best_other)
        checks.append(Check(f"{name} vs strongest baseline {best_other} ({base:.4g}) + "
                            f"{margin[name]:g}", _value(candidate, name, "candidate"),
                            base + margin[name], higher))
    return checks, gain


def decide(kind: str, candidate: Mapping[str, float],
           baselines: Mapping[str, Mapping[str, float]],
           latest_blessed: Mapping[str, float] | None, config: EvalConfig, *,
           per_image: Mapping[str, Sequence[float]] | None = None,
           failure_checks: Sequence[Check] = ()) -> Decision:
    """Bless or not, with every check spelled out (and the paired gain, ``Decision.gain``).

    ``baselines`` maps each baseline's name to its mean metrics of
    :func:`primary_metrics`. Paired and inpainting GANs need ``per_image``:
    the primary metric per eval image of ``"candidate"`` and of every
    baseline; the gate compares the candidate with the strongest baseline
    (best mean primary metric) image by image and requires the lower bound of
    the bootstrap interval of the mean gain to exceed the margin
    (``min_psnr_gain_db`` / ``min_hole_psnr_gain_db``). SSIM must beat the
    strongest baseline's SSIM by ``min_ssim_gain``. ``failure_checks`` (from
    :mod:`trainer.failure_modes`) are added as they are. For unconditional
    GANs the bound is ``max_fd_fraction`` (the floor and ceiling are already
    inside the fraction) and ``baselines``/``per_image`` are not used (no
    gain). ``latest_blessed`` is None when no generator of this GAN was
    blessed before.
    """
    checks, gain = kinds.get(kind).gate_checks(candidate, baselines, per_image, config)
    metrics = primary_metrics(kind)
    regression = {"psnr": config.max_psnr_regression_db,
                  "hole_psnr": config.max_psnr_regression_db,
                  "ssim": config.max_ssim_regression,
                  "fd_fraction": config.max_fd_fraction_regression}
    checks.extend(failure_checks)
    if latest_blessed is not None:
        for name, higher in metrics:
            value = _value(candidate, name, "candidate")
            prev = _value(latest_blessed, name, "latest blessed")
            bound = prev - regression[name] if higher else prev + regression[name]
            # Equal to the allowed bound is still fine: "not worse than allowed".
            bound = math.nextafter(bound, -math.inf if higher else math.inf)
            checks.append(Check(f"{name} vs latest blessed ({prev:.4g}) allowing "
                                f"{regression[name]:g} regression", value, bound, higher))
    checks_t = tuple(checks)
    return Decision(blessed=all(c.passed for c in checks_t), checks=checks_t, gain=gain)
