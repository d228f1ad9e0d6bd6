"""Blessing rules of the GAN evaluator: pure functions, no TensorFlow.

A candidate generator is **blessed** (and so pushed to TF Serving) only if

1. it beats its task's *trivial baseline* by a margin, and
2. it is not worse than the *latest blessed* generator of the same GAN by
   more than an allowed regression (when one exists; both are evaluated on
   the same eval data in the same run, with the same feature extractor).

The quantities compared, per GAN kind (:mod:`trainer.registry`):

=============  ========================  =====================================
kind           metrics                   trivial baseline
=============  ========================  =====================================
paired         ``psnr``, ``ssim``        the low-dose input (CT), bicubic
                                         up-sampling of the input (SR)
inpainting     ``hole_psnr``, ``ssim``   holes filled with the mean of the
                                         known pixels
unconditional  ``fd_fraction``           real-vs-real (floor) and
                                         real-vs-noise (ceiling) distances
=============  ========================  =====================================

``fd_fraction = (FD(generated, eval) - FD(train, eval)) / (FD(noise, eval) -
FD(train, eval))``: 0 is as close to the eval images as other real images
are, 1 is as far as uniform noise.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping

PAIRED, INPAINTING, UNCONDITIONAL = "paired", "inpainting", "unconditional"  # registry kinds


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation and blessing settings of one GAN (defaults measured: docs/EVALUATION.md)."""
    # --- vs the trivial baseline
    min_psnr_gain_db: float = 0.5        # paired: PSNR must beat the baseline's by this many dB
    min_ssim_gain: float = 0.0           # paired, inpainting: SSIM must beat the baseline's by this
    min_hole_psnr_gain_db: float = 0.5   # inpainting: PSNR inside the holes, over the mean fill
    max_fd_fraction: float = 0.2         # unconditional: at most this far from the real floor to noise
    # --- vs the latest blessed generator of the same GAN
    max_psnr_regression_db: float = 0.75  # paired, inpainting: PSNR (hole PSNR) may drop this much
    max_ssim_regression: float = 0.02    # paired, inpainting: SSIM may drop this much
    max_fd_fraction_regression: float = 0.05  # unconditional: fd_fraction may rise this much
    # --- what is evaluated
    max_examples: int = 256              # eval records used (the first ones, in file order)
    num_panels: int = 6                  # side-by-side image rows in the report and TensorBoard
    seed: int = 0                        # masks, generator seeds, feature-extractor training

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"EvalConfig.{f.name} must be a finite number, received {value!r}")
        for name in ("max_psnr_regression_db", "max_ssim_regression", "max_fd_fraction_regression"):
            if getattr(self, name) < 0:
                raise ValueError(f"EvalConfig.{name} must be >= 0, received {getattr(self, name)}")
        if self.max_examples < 2:
            raise ValueError(f"EvalConfig.max_examples must be >= 2, received {self.max_examples}")
        if self.num_panels < 0:
            raise ValueError(f"EvalConfig.num_panels must be >= 0, received {self.num_panels}")

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
    name: str          # what is compared, e.g. "psnr vs trivial baseline"
    value: float       # the candidate's value
    bound: float       # the limit it must meet
    higher_is_better: bool

    @property
    def passed(self) -> bool:
        if not (math.isfinite(self.value) and math.isfinite(self.bound)):
            return False
        return self.value > self.bound if self.higher_is_better else self.value < self.bound

    def describe(self) -> str:
        op = ">" if self.higher_is_better else "<"
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.name}: {self.value:.4g} {op} {self.bound:.4g} required - {verdict}"


@dataclasses.dataclass(frozen=True)
class Decision:
    blessed: bool
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        """Why it was not blessed (the failed checks); empty when blessed."""
        return [c.describe() for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.blessed:
            return "BLESSED: " + "; ".join(c.describe() for c in self.checks)
        return "NOT BLESSED: " + "; ".join(self.reasons)


def fd_fraction(fd: float, fd_floor: float, fd_noise: float) -> float:
    """Where ``fd`` lies between the real-vs-real floor (0) and the real-vs-noise ceiling (1)."""
    span = fd_noise - fd_floor
    if not (math.isfinite(span) and span > 0):
        return math.nan
    return (fd - fd_floor) / span


def primary_metrics(kind: str) -> tuple[tuple[str, bool], ...]:
    """(metric, higher_is_better) that blessing compares, for a GAN kind."""
    if kind == PAIRED:
        return (("psnr", True), ("ssim", True))
    if kind == INPAINTING:
        return (("hole_psnr", True), ("ssim", True))
    if kind == UNCONDITIONAL:
        return (("fd_fraction", False),)
    raise ValueError(f"unknown GAN kind {kind!r}; expected {PAIRED}, {INPAINTING} or {UNCONDITIONAL}")


def _value(metrics: Mapping[str, float], name: str, who: str) -> float:
    if name not in metrics:
        raise ValueError(f"{who} metrics lack {name!r}; received {sorted(metrics)}")
    value = metrics[name]
    return math.nan if value is None else float(value)


def decide(kind: str, candidate: Mapping[str, float], trivial: Mapping[str, float],
           latest_blessed: Mapping[str, float] | None, config: EvalConfig) -> Decision:
    """Bless or not, with every check spelled out.

    ``candidate`` / ``trivial`` / ``latest_blessed`` map the metrics of
    :func:`primary_metrics` to values (``latest_blessed`` is None when no
    generator of this GAN was blessed before). For unconditional GANs the
    trivial baseline's ``fd_fraction`` is not used: the floor and ceiling are
    already inside the candidate's fraction; the bound is ``max_fd_fraction``.
    """
    checks = []
    gain = {"psnr": config.min_psnr_gain_db, "hole_psnr": config.min_hole_psnr_gain_db,
            "ssim": config.min_ssim_gain}
    regression = {"psnr": config.max_psnr_regression_db,
                  "hole_psnr": config.max_psnr_regression_db,
                  "ssim": config.max_ssim_regression,
                  "fd_fraction": config.max_fd_fraction_regression}
    for name, higher in primary_metrics(kind):
        value = _value(candidate, name, "candidate")
        if name == "fd_fraction":
            checks.append(Check(f"{name} (0 = real-vs-real, 1 = real-vs-noise)", value,
                                config.max_fd_fraction, higher))
        else:
            base = _value(trivial, name, "trivial baseline")
            checks.append(Check(f"{name} vs trivial baseline ({base:.4g}) + {gain[name]:g}",
                                value, base + gain[name], higher))
    if latest_blessed is not None:
        for name, higher in primary_metrics(kind):
            value = _value(candidate, name, "candidate")
            prev = _value(latest_blessed, name, "latest blessed")
            bound = prev - regression[name] if higher else prev + regression[name]
            # Equal to the allowed bound is still fine: "not worse than allowed".
            bound = math.nextafter(bound, -math.inf if higher else math.inf)
            checks.append(Check(f"{name} vs latest blessed ({prev:.4g}) allowing "
                                f"{regression[name]:g} regression", value, bound, higher))
    checks = tuple(checks)
    return Decision(blessed=all(c.passed for c in checks), checks=checks)
