"""Naive attention in plain torch, the ground truth for the Triton kernels.

Same contract as flash_attention.flash_attention ([batch, seq, heads, head_dim],
key padding mask with 1 = attend, rows without a valid key give 0), but it
materialises the [batch, heads, seq, seq] probabilities and takes the dropout
keep-mask explicitly. Runs in the inputs' dtype: pass float64 for a reference.
"""

import torch


def attention_reference(query, key, value, padding_mask=None, dropout_rate=0.0, keep_mask=None):
    """keep_mask: bool [batch, heads, seq, seq], True = keep (used when dropout_rate > 0)."""
    scores = torch.einsum("bihd,bjhd->bhij", query, key) * query.shape[-1] ** -0.5
    if padding_mask is not None:
        valid = (padding_mask != 0)[:, None, None, :]
        # A finite fill plus the multiply below gives masked keys exactly 0 and
        # rows without any valid key 0 (not NaN), with finite gradients.
        scores = scores.masked_fill(~valid, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1) * valid
    else:
        probs = torch.softmax(scores, dim=-1)
    if dropout_rate > 0.0:
        probs = probs * keep_mask / (1.0 - dropout_rate)
    return torch.einsum("bhij,bjhd->bihd", probs, value)
