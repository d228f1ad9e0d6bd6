"""Custom Keras layers shared by the networks."""
from trainer.layers.clusters import ClusterOfNoise
from trainer.layers.harmonic_fill import (BiharmonicFill, HarmonicFill, biharmonic_fill,
                                          harmonic_fill)
from trainer.layers.minibatch_std import MinibatchStdDev
from trainer.layers.normalization import make_norm
from trainer.layers.partial_conv2d import PartialConv2D
from trainer.layers.replica_dropout import ReplicaDropout
from trainer.layers.spectral_norm import SpectralNorm

__all__ = ["BiharmonicFill", "ClusterOfNoise", "HarmonicFill", "MinibatchStdDev", "PartialConv2D",
           "ReplicaDropout", "SpectralNorm", "biharmonic_fill", "harmonic_fill", "make_norm"]
