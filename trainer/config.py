"""What the pipeline hands the Transform and Trainer components: two frozen dataclasses.

``tfx_pipeline.pipeline`` builds them and passes ``to_dict()`` as the
component's ``custom_config`` (TFX stores it as JSON, so every value is a
plain JSON value); ``trainer.preprocessing.preprocessing_fn`` and
``trainer.task.run_fn`` read it back with ``from_dict()``. Unknown keys are an
error, as is a value of the wrong type or range, named by its field.

Import-light (no TensorFlow, no TFX): the pipeline imports it to build the
components, and the tests check it without either.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping

from trainer import features as F

# tf.distribute strategies the Trainer can run under (trainer.distribute.get_strategy).
DEFAULT_STRATEGY = "default"
ONE_DEVICE = "one_device"
MIRRORED = "mirrored"
MULTI_WORKER = "multi_worker"
STRATEGIES = (DEFAULT_STRATEGY, ONE_DEVICE, MIRRORED, MULTI_WORKER)


def _fields_from(cls, values: Mapping[str, Any] | None) -> dict:
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ValueError(f"{cls.__name__} needs a dict, received {type(values).__name__}: "
                         f"{values!r}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s) {unknown}; known: {sorted(known)}")
    return dict(values)


def _check_int(owner: str, name: str, value, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an integer >= {minimum}, received {value!r}")


def _check_str(owner: str, name: str, value) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{owner}.{name} must be a non-empty string, received {value!r}")


def _ct_window(owner: str, value) -> tuple[float, float]:
    """[level, width] in HU as a tuple of two finite floats, width > 0."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value)):
        raise ValueError(f"{owner}.ct_window must be [level, width] (two finite numbers), "
                         f"received {value!r}")
    if value[1] <= 0:
        raise ValueError(f"{owner}.ct_window width must be > 0, received {value!r}")
    return float(value[0]), float(value[1])


def check_ema_decay(owner: str, value, field: str = "ema_decay") -> None:
    """0 (off) or a decay in (0, 1)."""
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not (value == 0 or 0 < value < 1)):
        raise ValueError(f"{owner}.{field} must be 0 (off) or in (0, 1), received {value!r}")


class _JsonConfig:
    """``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json`` of a frozen dataclass."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples become lists): what ``custom_config`` holds."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None):
        return cls(**_fields_from(cls, values))

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclasses.dataclass(frozen=True)
class TransformConfig(_JsonConfig):
    """The Transform component's ``custom_config`` (``preprocessing_fn``)."""
    shapes: Mapping[str, tuple[int, int, int]]  # image role -> the model's [H, W, C] for it
    ct_window: tuple[float, float] = F.DEFAULT_CT_WINDOW  # CT level, width in HU (CT records)
    code: str = ""                     # trainer source fingerprint: a code change re-runs Transform

    def __post_init__(self):
        owner = type(self).__name__
        if not isinstance(self.shapes, Mapping) or not self.shapes:
            raise ValueError(f"{owner}.shapes must be a non-empty {{role: [H, W, C]}}, "
                             f"received {self.shapes!r}")
        shapes = {}
        for role, shape in self.shapes.items():
            if (not isinstance(shape, (list, tuple)) or len(shape) != 3
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                               for v in shape)):
                raise ValueError(f"{owner}.shapes[{role!r}] must be [H, W, C] (positive "
                                 f"integers), received {shape!r}")
            shapes[str(role)] = tuple(shape)
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "ct_window", _ct_window(owner, self.ct_window))
        if not isinstance(self.code, str):
            raise ValueError(f"{owner}.code must be a string, received {self.code!r}")


@dataclasses.dataclass(frozen=True)
class TrainerConfig(_JsonConfig):
    """The Trainer component's ``custom_config`` (``trainer.task.run_fn``)."""
    gan: str                           # registry name
    hparams: Mapping[str, Any]         # the full HParams as a dict (unknown keys: an error later)
    backup_dir: str                    # stable folder for BackupAndRestore (resume after a kill)
    steps_per_epoch: int = 50          # Keras epoch length: checkpoint and image-panel period
    strategy: str = MIRRORED           # one of STRATEGIES
    materialized: bool = True          # True: read Transform's transformed examples; False:
                                       # apply the Transform graph in the input pipeline
    ct_window: tuple[float, float] = F.DEFAULT_CT_WINDOW  # CT level, width in HU, for the
                                                          # exported CT pixel outputs
    bit_depth: int = 8                 # stored bit depth of the records (16: CT)
    ema_decay: float = 0.0             # generator weight averaging (trainer.callbacks.GeneratorEMA):
                                       # the exported generator is the average; 0 = off
    code: str = ""                     # trainer source fingerprint: a code change re-trains

    def __post_init__(self):
        owner = type(self).__name__
        _check_str(owner, "gan", self.gan)
        if not isinstance(self.hparams, Mapping):
            raise ValueError(f"{owner}.hparams must be a dict, received {self.hparams!r}")
        object.__setattr__(self, "hparams", dict(self.hparams))
        _check_str(owner, "backup_dir", self.backup_dir)
        _check_int(owner, "steps_per_epoch", self.steps_per_epoch, 1)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"{owner}.strategy must be one of {STRATEGIES}, received "
                             f"{self.strategy!r}")
        if not isinstance(self.materialized, bool):
            raise ValueError(f"{owner}.materialized must be true or false, received "
                             f"{self.materialized!r}")
        object.__setattr__(self, "ct_window", _ct_window(owner, self.ct_window))
        if not isinstance(self.bit_depth, int) or isinstance(self.bit_depth, bool) \
                or self.bit_depth not in (8, 16):
            raise ValueError(f"{owner}.bit_depth must be 8 or 16, received {self.bit_depth!r}")
        check_ema_decay(owner, self.ema_decay)
        object.__setattr__(self, "ema_decay", float(self.ema_decay))
        if not isinstance(self.code, str):
            raise ValueError(f"{owner}.code must be a string, received {self.code!r}")
