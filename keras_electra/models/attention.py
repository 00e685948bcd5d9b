"""The one place where attention is computed.

Every attention layer calls `attention`; the kernel issue dispatches it to a
fused Triton kernel on CUDA, so nothing else may compute attention itself.
"""

import math

import keras
from keras import ops

IMPLEMENTATIONS = ("auto", "standard")


def attention(
    query,
    key,
    value,
    padding_mask=None,
    dropout_rate=0.0,
    seed=None,
    implementation="auto",
):
    """Scaled dot-product attention in the Keras layout.

    Args:
        query, key, value: `[batch, seq, heads, head_dim]` tensors.
        padding_mask: optional `[batch, seq]` tensor, 1 for keys to attend to
            and 0 for padding. A query whose keys are all masked returns 0.
        dropout_rate: dropout applied to the attention probabilities.
        seed: an int or `keras.random.SeedGenerator` for that dropout.
        implementation: "auto" or "standard" (plain `keras.ops`).

    Returns:
        `[batch, seq, heads, head_dim]`, in the dtype of `query`.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"attention(implementation={implementation!r}): expected one of "
            f"{IMPLEMENTATIONS}."
        )
    return _standard_attention(query, key, value, padding_mask, dropout_rate, seed)


def _standard_attention(query, key, value, padding_mask, dropout_rate, seed):
    scale = 1.0 / math.sqrt(query.shape[-1])
    scores = ops.einsum("bqhd,bkhd->bhqk", query * scale, key)
    # Softmax in float32 so that float16/bfloat16 runs neither overflow nor
    # lose the small probabilities.
    scores = ops.cast(scores, "float32")
    if padding_mask is not None:
        keep = ops.cast(padding_mask, "bool")[:, None, None, :]
        scores = ops.where(keep, scores, -1e9)
    probs = ops.softmax(scores, axis=-1)
    if padding_mask is not None:
        # Exact zeros for masked keys, and so an all-zero row (output 0, no
        # gradient) when every key of a row is masked.
        probs = ops.where(keep, probs, 0.0)
    probs = ops.cast(probs, query.dtype)
    if dropout_rate > 0.0:
        probs = keras.random.dropout(probs, dropout_rate, seed=seed)
    return ops.einsum("bhqk,bkhd->bqhd", probs, value)
