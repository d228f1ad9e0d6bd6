"""Pipeline configuration: frozen dataclasses and the two presets.

Nothing here reads the environment or imports TensorFlow/TFX; runners build
a :class:`PipelineConfig` from flags and hand it to ``create_pipeline``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping

from trainer import features as F
from trainer import kinds, registry
from trainer.blessing import EvalConfig
from trainer.config import MIRRORED, check_ema_decay
from trainer.features import SPLITS

PIPELINE_NAME = "tfx-gan"
QUICK, SEED = "quick", "seed"
PRESETS = (QUICK, SEED)

# The quick preset's overrides and step counts live with each GAN's HParams, in
# its objective module's PRESETS (trainer.registry.Presets); the seed preset
# uses the HParams defaults (the seed documents' sizes).
SEED_TRAIN_STEPS = 20_000


@dataclasses.dataclass(frozen=True)
class GanRun:
    """One GAN trained on one ingested dataset."""
    gan: str                                   # registry name
    data_root: str                             # folder holding Span-N/{train,eval}/ TFRecords
    hparams: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # HParams overrides
    train_steps: int = 300                     # optimizer steps in total
    steps_per_epoch: int = 50                  # Keras epoch length: checkpoints, image grids
    eval_steps: int = 4                        # batches of the eval split per epoch
    ct_window: tuple[float, float] = F.DEFAULT_CT_WINDOW  # CT level, width in HU (CT records)
    bit_depth: int = 8                         # stored bit depth the schema requires (16 for CT)
    ema_decay: float = 0.0                     # generator weight averaging; the exported generator
                                               # is the average (0 = off; quick: PRESETS.quick_ema_decay)
    evaluation: EvalConfig = EvalConfig()      # GanEvaluator thresholds (docs/EVALUATION.md)
    bulk_infer_split: str | None = None        # after the Pusher: run the pushed generator over
                                               # this split, PNGs + manifest.json (paired GANs)

    def __post_init__(self):
        registry.get(self.gan)  # unknown names fail here, with the list of known ones
        for name in ("train_steps", "steps_per_epoch", "eval_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"GanRun.{name} must be >= 1, got {getattr(self, name)}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"GanRun.bit_depth must be 8 or 16, got {self.bit_depth}")
        check_ema_decay("GanRun", self.ema_decay)
        if self.ct_window[1] <= 0:
            raise ValueError(f"ct_window width must be > 0, got {self.ct_window}")
        if self.bulk_infer_split is not None:
            if self.bulk_infer_split not in SPLITS:
                raise ValueError(f"GanRun.bulk_infer_split must be one of {SPLITS}, got "
                                 f"{self.bulk_infer_split!r}")
            if not kinds.get(self.spec.kind).bulk_inference:
                raise ValueError(f"bulk inference runs paired GANs over their input images; "
                                 f"{self.gan} is {self.spec.kind}")
        object.__setattr__(self, "hparams", dict(self.hparams))
        object.__setattr__(self, "ct_window", tuple(float(v) for v in self.ct_window))

    @property
    def spec(self) -> registry.GanSpec:
        return registry.get(self.gan)

    def hparams_dict(self) -> dict[str, Any]:
        """Full, validated hyper-parameters (defaults + overrides) as plain JSON values."""
        hp = self.spec.hparams(self.hparams)
        return json.loads(json.dumps(dataclasses.asdict(hp)))


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    pipeline_name: str                 # TFX pipeline name (ML Metadata context)
    pipeline_root: str                 # artifacts root
    serving_root: str                  # Pusher destination: <serving_root>/<gan>/<version>/
    runs: tuple[GanRun, ...]           # the GANs to train
    metadata_path: str | None = None   # SQLite ML Metadata file (local runs)
    strategy: str = MIRRORED           # tf.distribute strategy of the Trainers
    materialize: bool = True           # Transform writes transformed examples (see BENCHMARKS)
    enable_cache: bool = True          # reuse unchanged component results from ML Metadata
    beam_pipeline_args: tuple[str, ...] = ()  # passed to every Beam-based component

    def __post_init__(self):
        if not self.runs:
            raise ValueError("PipelineConfig.runs is empty: choose at least one GAN")
        names = [r.gan for r in self.runs]
        if len(set(names)) != len(names):
            raise ValueError(f"each GAN may appear once per pipeline, got {names}")
        object.__setattr__(self, "runs", tuple(self.runs))
        object.__setattr__(self, "beam_pipeline_args", tuple(self.beam_pipeline_args))

    @property
    def backup_root(self) -> str:
        """Stable across runs: where interrupted Trainers find their last epoch."""
        return os.path.join(self.pipeline_root, "_trainer_backup")


def preset_runs(preset: str, data_root: str, gans=None, hparams: Mapping[str, Mapping] | None = None,
                train_steps: int | None = None) -> tuple[GanRun, ...]:
    """GanRuns for ``gans`` (default: all) on the bundled datasets under ``data_root``.

    Imports each GAN's objective module (TensorFlow) to read its presets and
    check its contract (``trainer.registry.check_contract``).

    ``data_root/<dataset>`` is each GAN's data folder (``tfxgan demo-data`` layout).
    ``hparams`` adds per-GAN overrides on top of the preset.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    gans = list(gans or registry.GANS)
    extra = dict(hparams or {})
    unknown = sorted(set(extra) - set(gans))
    if unknown:
        raise ValueError(f"hyper-parameters given for GANs not in the run: {unknown}")
    runs = []
    for gan in gans:
        spec = registry.get(gan)
        presets = registry.check_contract(spec).PRESETS   # a broken GAN fails here, not after training
        base = dict(presets.quick) if preset == QUICK else {}
        base.update(extra.get(gan, {}))
        steps = train_steps or (presets.quick_train_steps if preset == QUICK else SEED_TRAIN_STEPS)
        runs.append(GanRun(gan=gan, data_root=os.path.join(data_root, spec.dataset), hparams=base,
                           train_steps=steps, steps_per_epoch=min(50, steps),
                           bit_depth=16 if spec.dataset == "ct" else 8,
                           ema_decay=presets.quick_ema_decay if preset == QUICK else 0.0))
    return tuple(runs)
