"""FlashAttention-2 for torch in the Keras attention layout [batch, seq, heads, head_dim].

The autograd op and its launches; the Triton programs are in
flash_attention_forward.py and flash_attention_backward.py (their shared
helpers in flash_attention_tiles.py), a naive torch reference in reference.py.

q, k, v, o and dO are read through their strides: slices of a fused QKV
projection work without a copy; the outputs are allocated here, contiguous. Key
padding (mask 1 = attend) gives masked keys exactly 0 probability; a row whose
keys are all masked outputs 0 and gets 0 gradient, like torch's SDPA. Dropout's
mask is recomputed from a seed in the backward, never stored. Import only torch
and triton here: the kernels must load on a machine without Keras.
"""

import torch
import triton

from .flash_attention_backward import _attn_bwd_dkdv, _attn_bwd_dq, _attn_bwd_preprocess
from .flash_attention_forward import _attn_fwd
from .flash_attention_tiles import HEAD_DIMS, INTERPRET

# torch.library.triton_op + wrap_triton + register_autograd rather than an
# autograd.Function, because torch.compile can then trace into the kernels
# instead of breaking the graph; in torch 2.13 it also runs eagerly under the
# Triton interpreter on CPU, which the tests rely on.


def _mask_args(mask, query):
    if mask is None:
        return query, 0, 0  # never read: HAS_MASK is False
    return mask, mask.stride(0), mask.stride(1)


def _launch(kernel, block, tensors, strided, mask, dropout_p, seed):
    """One launch of a tiled program: one program per `block` positions and (batch, head).

    The programs take `tensors` (q first), the mask and the seed, the strides of the `strided`
    tensors and of the mask, the sizes and the dropout rate. The outputs among `tensors` must be
    contiguous: the programs write them by shape.
    """
    q = tensors[0]
    B, N, H, D = q.shape
    mask_arg, stride_mb, stride_mn = _mask_args(mask, q)
    strides = [stride for tensor in strided for stride in tensor.stride()]

    def grid(meta):
        return (triton.cdiv(N, meta[block]), B * H)

    torch.library.wrap_triton(kernel)[grid](
        *tensors,
        mask_arg,
        q if seed is None else seed,
        *strides,
        stride_mb,
        stride_mn,
        H,
        N,
        dropout_p,
        HEAD_DIM=D,
        HAS_MASK=mask is not None,
        HAS_DROPOUT=dropout_p > 0.0,
    )


@torch.library.triton_op("keras_electra::flash_attention_forward", mutates_args=())
def _forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    dropout_p: float,
    seed: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    B, N, H, _ = q.shape
    o = q.new_empty(q.shape)
    lse = q.new_empty((B, H, N), dtype=torch.float64 if q.dtype == torch.float64 else torch.float32)
    _launch(_attn_fwd, "BLOCK_M", (q, k, v, o, lse), (q, k, v), mask, dropout_p, seed)
    return o, lse


@torch.library.triton_op("keras_electra::flash_attention_backward", mutates_args=())
def _backward(
    do: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    o: torch.Tensor,
    lse: torch.Tensor,
    mask: torch.Tensor | None,
    dropout_p: float,
    seed: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    B, N, H, D = q.shape
    dq, dk, dv = q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)
    delta = torch.empty_like(lse)
    pre_block = 16 if INTERPRET else 128
    torch.library.wrap_triton(_attn_bwd_preprocess)[(triton.cdiv(N, pre_block), B * H)](
        o, do, delta, *o.stride(), *do.stride(), H, N, HEAD_DIM=D, BLOCK_M=pre_block
    )
    inputs = (q, k, v, do)
    _launch(_attn_bwd_dkdv, "BLOCK_N", (*inputs, dk, dv, lse, delta), inputs, mask, dropout_p, seed)
    _launch(_attn_bwd_dq, "BLOCK_M", (*inputs, dq, lse, delta), inputs, mask, dropout_p, seed)
    return dq, dk, dv


def _setup_context(ctx, inputs, output):
    q, k, v, mask, dropout_p, seed = inputs
    o, lse = output
    ctx.save_for_backward(q, k, v, o, lse, mask, seed)
    ctx.dropout_p = dropout_p
    ctx.mark_non_differentiable(lse)


def _backward_rule(ctx, do, _dlse):
    q, k, v, o, lse, mask, seed = ctx.saved_tensors
    dq, dk, dv = _backward(do, q, k, v, o, lse, mask, ctx.dropout_p, seed)
    return dq, dk, dv, None, None, None


_forward.register_autograd(_backward_rule, setup_context=_setup_context)


def flash_attention(query, key, value, padding_mask=None, dropout_rate=0.0, seed=None):
    """softmax(q k^T / sqrt(head_dim)) v over [batch, seq, heads, head_dim] tensors.

    padding_mask: [batch, seq] of bool/int/float, nonzero = the key may be
    attended to. dropout_rate: attention dropout on the probabilities. seed: a
    one-element integer tensor (or int) for the dropout's Philox stream; None
    draws one on the tensors' device, without a host sync.
    """
    if query.dim() != 4 or query.shape != key.shape or query.shape != value.shape:
        raise ValueError(
            f"expected q, k, v of one shape [batch, seq, heads, head_dim], got "
            f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    if not query.dtype == key.dtype == value.dtype:
        raise ValueError(f"q, k, v dtypes differ: {query.dtype}, {key.dtype}, {value.dtype}")
    if query.shape[-1] not in HEAD_DIMS:
        raise ValueError(f"head_dim must be one of {HEAD_DIMS}, got {query.shape[-1]}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    if padding_mask is not None:
        if padding_mask.shape != query.shape[:2]:
            raise ValueError(
                f"padding_mask must be [batch, seq] = {tuple(query.shape[:2])}, "
                f"got {tuple(padding_mask.shape)}"
            )
        if padding_mask.dtype != torch.bool:
            padding_mask = padding_mask != 0
    dropout_rate = float(dropout_rate)
    if dropout_rate == 0.0:
        seed = None
    elif seed is None:
        seed = torch.randint(0, 2**62, (1,), dtype=torch.int64, device=query.device)
    elif not isinstance(seed, torch.Tensor):
        seed = torch.tensor([int(seed)], dtype=torch.int64, device=query.device)
    else:
        seed = seed.to(query.device)  # the kernels load it: no host round trip
    out, _ = _forward(query, key, value, padding_mask, dropout_rate, seed)
    return out
