"""One table: GAN name -> objective module, data kind and bundled dataset.

This module is import-light (no TensorFlow): the pipeline, the serving config,
the Kubernetes tests and the CLI all read it. The objective module named by
``GanSpec.module`` is imported only when a model is built or its contract
checked (:func:`check_contract`). It must provide (``GAN_CONTRACT``):

* ``HParams`` - a frozen dataclass of the GAN's hyper-parameters (``image_size``,
  ``channels``, ``batch_size``, ``seed`` among them);
* ``build(hparams) -> keras.Model`` - the compiled-ready GAN (a keras.Model
  subclass with a custom ``train_step``) whose ``.generator`` is exported;
* ``input_shapes(hparams) -> {role: (H, W, C)}`` - one entry per role of its kind;
* ``PRESETS`` - a :class:`Presets`: the quick preset's overrides and step
  count, and the tiny overrides tests use;

plus what its kind needs (``KIND_CONTRACT``, from :mod:`trainer.kinds`): an
unconditional GAN's ``noise_from_seeds(seeds [B] int64, latent_dim) -> z [B,
latent_dim]``, which serving uses to turn request seeds into noise; an
inpainting GAN's ``composite(prediction, image, mask)``, which serving uses to
keep the known pixels.

Adding a GAN means adding its network file, its objective file and one entry
in ``GANS`` below (or, from outside this package, one :func:`register` call).
"""
from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any, Mapping

from trainer import kinds
from trainer.config import check_ema_decay

# Conditioning kinds (what the generator consumes); the table is trainer.kinds.
UNCONDITIONAL, PAIRED, INPAINTING = kinds.UNCONDITIONAL, kinds.PAIRED, kinds.INPAINTING


@dataclasses.dataclass(frozen=True)
class GanSpec:
    name: str        # the GAN's name everywhere: pipeline ids, serving model name
    module: str      # objective module defining HParams and build()
    kind: str        # UNCONDITIONAL, PAIRED or INPAINTING
    dataset: str     # the bundled dataset it trains on by default (tfxgan demo-data)
    summary: str     # one line for --help and docs

    @property
    def roles(self) -> tuple[str, ...]:
        """Image roles the GAN reads from a record."""
        return kinds.get(self.kind).roles

    def load(self):
        return importlib.import_module(self.module)

    def hparams(self, overrides: Mapping[str, Any] | None = None):
        """The GAN's HParams with ``overrides`` applied; unknown keys are an error."""
        cls = self.load().HParams
        return make_hparams(cls, overrides, owner=self.name)

    def presets(self) -> "Presets":
        """The objective module's :class:`Presets` (imports the module)."""
        return self.load().PRESETS


@dataclasses.dataclass(frozen=True)
class Presets:
    """The overrides an objective module ships besides its seed-size defaults."""
    quick: Mapping[str, Any]       # quick preset: demo sizes, minutes on 2 CPU cores
    quick_train_steps: int         # optimizer steps of the quick preset
    tiny: Mapping[str, Any]        # the smallest sensible model, for tests (wiring, not quality)
    # Overrides (on top of quick) that make the supervised twin: the same generator trained
    # on the pixel loss only (adversarial weight 0). None: the GAN has no pixel loss
    # (unconditional). bench/bench_quality.py reports it beside the GAN.
    twin: Mapping[str, Any] | None = None
    # Generator weight averaging of the quick preset (trainer.callbacks.GeneratorEMA; the
    # exported generator is the average). 0 = off, the seed preset's behaviour.
    quick_ema_decay: float = 0.0

    def __post_init__(self):
        if int(self.quick_train_steps) < 1:
            raise ValueError(f"Presets.quick_train_steps must be >= 1, received "
                             f"{self.quick_train_steps!r}")
        check_ema_decay("Presets", self.quick_ema_decay, field="quick_ema_decay")
        object.__setattr__(self, "quick", dict(self.quick))
        object.__setattr__(self, "tiny", dict(self.tiny))
        if self.twin is not None:
            object.__setattr__(self, "twin", dict(self.twin))


# What every objective module provides, and what each kind adds.
GAN_CONTRACT = {
    "HParams": "a frozen dataclass of the GAN's hyper-parameters",
    "build": "build(hparams) -> the compiled-ready keras.Model GAN with a .generator",
    "input_shapes": "input_shapes(hparams) -> {role: (H, W, C)}",
    "PRESETS": "a trainer.registry.Presets (quick overrides, quick steps, tiny overrides)",
}
KIND_CONTRACT = {name: dict(kind.contract) for name, kind in kinds.KINDS.items()}


class GanContractError(TypeError):
    """An objective module does not provide what the registry needs."""


GANS: dict[str, GanSpec] = {
    spec.name: spec
    for spec in (
        GanSpec("pix2pix_wgan_gp", "trainer.gans.pix2pix_wgan_gp", PAIRED, "ct",
                "U-Net + PatchGAN critic, WGAN-GP + L1 (low-dose -> normal-dose CT)"),
        GanSpec("vanilla_gan", "trainer.gans.vanilla_gan", UNCONDITIONAL, "digits",
                "MLP GAN with one-sided label smoothing (digits)"),
        GanSpec("dcgan", "trainer.gans.dcgan", UNCONDITIONAL, "digits",
                "DCGAN, convolutional generator and discriminator (digits)"),
        GanSpec("pconv_inpainting", "trainer.gans.pconv_inpainting", INPAINTING, "inpainting",
                "Partial-convolution U-Net, RaGAN + perceptual + L1 (inpainting)"),
        GanSpec("srrescycgan", "trainer.gans.srrescycgan", PAIRED, "sr",
                "SRResCycGAN: two generators, two discriminators, cycle losses (x4 SR)"),
    )
}


def get(name: str) -> GanSpec:
    try:
        return GANS[name]
    except KeyError:
        raise ValueError(f"unknown GAN {name!r}; known: {', '.join(sorted(GANS))}") from None


def make_hparams(cls, overrides: Mapping[str, Any] | None, owner: str = ""):
    """Build dataclass ``cls`` from ``overrides``, rejecting unknown keys by name."""
    overrides = dict(overrides or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"unknown hyper-parameter(s) {unknown} for {owner or cls.__name__}; "
            f"known: {sorted(known)}")
    return cls(**overrides)


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_contract(spec: GanSpec):
    """Import ``spec``'s objective module and check that it provides the contract
    (``GAN_CONTRACT`` and its kind's ``KIND_CONTRACT``) and that its presets are
    valid hyper-parameters; returns the module. Raises :class:`GanContractError`
    naming every missing or wrong piece, before anything is trained."""
    if spec.kind not in KIND_CONTRACT:
        raise GanContractError(f"GAN {spec.name!r}: unknown kind {spec.kind!r}; expected one of "
                               f"{sorted(KIND_CONTRACT)}")
    try:
        module = spec.load()
    except ImportError as err:
        raise GanContractError(f"GAN {spec.name!r}: cannot import its objective module "
                               f"{spec.module!r}: {err}") from err
    wanted = {**GAN_CONTRACT, **KIND_CONTRACT[spec.kind]}
    problems = [f"{name} ({what})" for name, what in wanted.items() if not hasattr(module, name)]
    for name in ("build", "input_shapes", *KIND_CONTRACT[spec.kind]):
        if hasattr(module, name) and not callable(getattr(module, name)):
            problems.append(f"{name} must be callable")
    if hasattr(module, "HParams") and not dataclasses.is_dataclass(module.HParams):
        problems.append("HParams must be a dataclass")
    presets = getattr(module, "PRESETS", None)
    if presets is not None and not isinstance(presets, Presets):
        problems.append(f"PRESETS must be a trainer.registry.Presets, found {type(presets).__name__}")
    if problems:
        raise GanContractError(f"objective module {spec.module!r} of GAN {spec.name!r} does not "
                               f"provide: " + "; ".join(problems))
    for which in ("quick", "tiny", "twin"):
        overrides = getattr(presets, which)
        if overrides is None:
            continue
        if which == "twin":
            overrides = {**presets.quick, **overrides}
        try:
            hp = make_hparams(module.HParams, overrides, owner=f"{spec.name} {which} preset")
        except (TypeError, ValueError) as err:
            raise GanContractError(f"GAN {spec.name!r}: PRESETS.{which} is not valid: {err}") from err
    roles = set(module.input_shapes(hp))
    if roles != set(spec.roles):
        raise GanContractError(f"GAN {spec.name!r} ({spec.kind}): input_shapes() returns roles "
                               f"{sorted(roles)}, its kind needs {sorted(spec.roles)}")
    return module


def register(spec: GanSpec, *, replace: bool = False) -> GanSpec:
    """Add a GAN to the table after checking its contract (see the module doc).

    For GANs that live outside this package (a plugin, a test); the built-in
    ones are the entries of ``GANS``."""
    if not _NAME.match(spec.name):
        raise ValueError(f"GAN name {spec.name!r} must be lower-case letters, digits and '_' "
                         f"(it becomes component ids and the serving model name)")
    if spec.name in GANS and not replace:
        raise ValueError(f"GAN {spec.name!r} is already registered (by {GANS[spec.name].module})")
    check_contract(spec)
    GANS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a GAN added with :func:`register` (tests clean up with it)."""
    get(name)
    del GANS[name]
