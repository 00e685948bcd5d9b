"""Deterministic per-layer seeds derived from one model seed."""

import zlib

import keras


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


def truncated_normal(seed, name):
    """The reference's initializer (truncated normal, stddev 0.02)."""
    return keras.initializers.TruncatedNormal(stddev=0.02, seed=sub_seed(seed, name))
