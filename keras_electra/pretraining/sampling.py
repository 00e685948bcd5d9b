"""Sampling replacements from the generator (reference §5)."""

import keras
from keras import ops
from keras import random

from keras_electra.models.electra_dropout import counter_bits_cover, counter_uniform


def gumbel_sample(logits, seed, temperature=1.0):
    """One sample per row of `logits` from softmax(logits / T), Gumbel-max.

    In float32 and under stop-gradient: no gradient reaches the generator
    through its samples.
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32"))
    uniform = _uniform(ops.shape(logits), seed)
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(logits / temperature + gumbel, axis=-1), "int32")


def _uniform(shape, seed):
    # A uniform per vocabulary entry at every masked position: on JAX, threefry's cost per element
    # dominates, and the counter-based draw of `counter_uniform` is a sixth of it.
    if (keras.backend.backend() == "jax" and isinstance(seed, keras.random.SeedGenerator)
            and counter_bits_cover(shape)):
        return counter_uniform(seed, shape)
    return random.uniform(shape, seed=seed)


def replaced_token_labels(original_ids, corrupted_ids, padding_mask):
    """1 where a token differs from the original: a sample equal to it is real."""
    differs = ops.not_equal(original_ids, corrupted_ids)
    return ops.cast(ops.logical_and(differs, ops.cast(padding_mask, "bool")), "float32")
