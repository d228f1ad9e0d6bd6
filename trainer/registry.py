"""One table: GAN name -> objective module, data kind and bundled dataset.

This module is import-light (no TensorFlow): the pipeline, the serving config,
the Kubernetes tests and the CLI all read it. The objective module named by
``GanSpec.module`` is imported only when a model is built; it must define

* ``HParams`` - a frozen dataclass of the GAN's hyper-parameters, and
* ``build(hparams) -> keras.Model`` - the compiled-ready GAN (a keras.Model
  subclass with a custom ``train_step``) whose ``.generator`` is exported.

Adding a GAN means adding its network file, its objective file and one entry
in ``GANS`` below.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Mapping

from trainer import features as F

# Conditioning kinds: what the generator consumes and what a client sends.
UNCONDITIONAL = "unconditional"   # seeds -> images
PAIRED = "paired"                 # input image -> target-like image
INPAINTING = "inpainting"         # image + mask -> completed image


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
        return F.PAIRED_ROLES if self.kind == PAIRED else F.UNPAIRED_ROLES

    def load(self):
        return importlib.import_module(self.module)

    def hparams(self, overrides: Mapping[str, Any] | None = None):
        """The GAN's HParams with ``overrides`` applied; unknown keys are an error."""
        cls = self.load().HParams
        return make_hparams(cls, overrides, owner=self.name)


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
