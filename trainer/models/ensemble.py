"""Geometric self-ensemble: a generator averaged over the 8 flips/rotations of its input.

An image-to-image generator is not exactly equivariant to flips and quarter
turns, and its errors differ from one orientation to another. Running it on
each of the 8 orientations of the input, undoing the orientation on each
output and averaging them (Lim et al. 2017, "EDSR+"; Timofte et al. 2016)
averages those errors out: a better estimate at 8 times the generator's
compute, with no training. The exported generator of a GAN whose
``HParams.self_ensemble`` is set is wrapped so (:mod:`trainer.export`), so
serving, the Evaluator's gate and the benchmarks all see the same function.
"""
from __future__ import annotations

import tensorflow as tf

from trainer.augment import ORIENTATIONS, orient, require_square, unorient


class DihedralEnsemble(tf.Module):
    """``generator`` averaged over the 8 orientations of its inputs.

    Called as the generator is: ``ensemble(x)`` or ``ensemble([x, mask])`` with
    every input [B, S, S, C] square (an inpainting mask turns with its image; an
    SR generator's low-resolution input turns and its high-resolution output
    turns back). The generator is called once per orientation on the batch as it
    is, rather than once on an 8 times larger batch.
    """

    def __init__(self, generator, name: str | None = None):
        super().__init__(name=name or "dihedral_ensemble")
        self.generator = generator

    def __call__(self, inputs, training: bool = False):
        several = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if several else [inputs]
        require_square(tensors, "self-ensemble")
        total = None
        for k in range(ORIENTATIONS):
            turned = [orient(x, k) for x in tensors]
            out = unorient(self.generator(turned if several else turned[0], training=training), k)
            total = out if total is None else total + out
        return total / float(ORIENTATIONS)
