"""Custom Keras layers shared by the networks."""
from trainer.layers.harmonic_fill import HarmonicFill, harmonic_fill
from trainer.layers.normalization import make_norm
from trainer.layers.partial_conv2d import PartialConv2D
from trainer.layers.replica_dropout import ReplicaDropout

__all__ = ["HarmonicFill", "PartialConv2D", "ReplicaDropout", "harmonic_fill", "make_norm"]
