"""Sampling replacements from the generator (reference §5)."""

from keras import ops
from keras import random


def gumbel_sample(logits, seed, temperature=1.0):
    """One sample per row of `logits` from softmax(logits / T), Gumbel-max.

    In float32 and under stop-gradient: no gradient reaches the generator
    through its samples.
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32"))
    uniform = random.uniform(ops.shape(logits), seed=seed)
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(logits / temperature + gumbel, axis=-1), "int32")


def replaced_token_labels(original_ids, corrupted_ids, padding_mask):
    """1 where a token differs from the original: a sample equal to it is real."""
    differs = ops.not_equal(original_ids, corrupted_ids)
    return ops.cast(ops.logical_and(differs, ops.cast(padding_mask, "bool")), "float32")
