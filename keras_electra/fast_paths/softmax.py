"""Attention's masked softmax: Keras' in float32, and on torch one computed on bfloat16 scores.

Measured (docs/performance.md, "Where the step goes"): under `mixed_bfloat16` the plain version casts
every 32 x 4 x 128 x 128 score tensor of an ELECTRA-Small step to float32 and its probabilities back,
forward and backward (43 ms of a 1,344 ms PyTorch step). torch's CPU softmax on bfloat16 reads and
writes bfloat16 but exponentiates and sums in float32, so its forward takes the same inputs (the
scores come out of a bfloat16 product) and rounds the probabilities once, as the plain version's
cast does; only its backward reads the rounded probabilities instead of float32 ones.
"""

import keras
from keras import ops

from keras_electra.fast_paths import enabled_on

MASKED = -1e9  # exp(MASKED - max) is exactly 0 in float32 and in bfloat16


def plain_masked_softmax(scores, keep, dtype):
    """softmax(scores) over the last axis in float32, keys where `keep` (batch x keys, 0/1) is 0 left
    out, as `dtype`. Additive, so the backward pass has nothing to select."""
    scores = ops.cast(scores, "float32")
    if keep is not None:
        scores = scores + ((1.0 - ops.cast(keep, "float32")) * MASKED)[:, None, None, :]
    return ops.cast(ops.softmax(scores, axis=-1), dtype)


def torch_masked_softmax(scores, keep, dtype):
    """`plain_masked_softmax` for bfloat16 `scores` and `dtype`, without casting the scores to float32."""
    import torch

    if not (
        scores.dtype == torch.bfloat16 and keras.backend.standardize_dtype(dtype) == "bfloat16"
    ):
        return plain_masked_softmax(scores, keep, dtype)
    if keep is not None:
        scores = scores + ((1.0 - keep.to(scores.dtype)) * MASKED)[:, None, None, :]
    return torch.softmax(scores, dim=-1)


def select_masked_softmax():
    """The softmax to run: `torch_masked_softmax` on torch with fast paths on, else `plain_masked_softmax`."""
    return torch_masked_softmax if enabled_on("torch") else plain_masked_softmax
