"""Sampling replacements from the generator (docs/electra.md, "Sampling and labels")."""

from keras import ops

from keras_electra.fast_paths.random_bits import select_uniform


def gumbel_sample(logits, seed, temperature=1.0):
    """One sample per row of `logits` from softmax(logits / T), Gumbel-max.

    In float32 and under stop-gradient: no gradient reaches the generator
    through its samples.

    Args:
        logits: float tensor `[..., vocabulary]`.
        seed: a `keras.random.SeedGenerator` (JAX's counter-based noise needs one), an int or None.
        temperature: float. Divides the logits; 1.0 samples from softmax(logits).

    Returns:
        int32 tensor `[...]`: the sampled index of each row.
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32"))
    # A uniform per vocabulary entry at every masked position: on JAX, threefry's cost per element
    # dominates, which the counter-based draw of `fast_paths.random_bits` cuts to a sixth.
    uniform = select_uniform()(seed, ops.shape(logits))
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(logits / temperature + gumbel, axis=-1), "int32")


def replaced_token_labels(original_ids, corrupted_ids, padding_mask):
    """1 where a token differs from the original: a sample equal to it is real."""
    differs = ops.not_equal(original_ids, corrupted_ids)
    return ops.cast(ops.logical_and(differs, ops.cast(padding_mask, "bool")), "float32")
