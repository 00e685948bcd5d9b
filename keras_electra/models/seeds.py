"""Deterministic per-layer seeds and the reference's initializer."""

import zlib

import keras
from keras import ops


def sub_seed(seed, name):
    """Returns a seed for the part `name` of a model seeded with `seed`.

    Every initializer and dropout layer needs its own seed: two kernels of the
    same shape drawn from the same integer seed would be identical. Hashing the
    part's name gives each a distinct, reproducible seed; `None` keeps Keras'
    default (unseeded) behaviour.
    """
    if seed is None:
        return None
    return zlib.crc32(f"{seed}/{name}".encode()) & 0x7FFFFFFF


@keras.saving.register_keras_serializable(package="keras_electra")
class StrictTruncatedNormal(keras.initializers.TruncatedNormal):
    """Truncated normal that never exceeds two standard deviations.

    Keras' torch backend draws four candidates per value and keeps the first
    in range, so about 4 values in a million escape the bound; they are
    clipped back onto it here.
    """

    def __call__(self, shape, dtype=None):
        bound = 2 * self.stddev
        return ops.clip(super().__call__(shape, dtype), self.mean - bound, self.mean + bound)


def truncated_normal(seed, name):
    """The reference's initializer (truncated normal, stddev 0.02)."""
    return StrictTruncatedNormal(stddev=0.02, seed=sub_seed(seed, name))
