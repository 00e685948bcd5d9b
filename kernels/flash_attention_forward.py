"""The forward program of flash attention (FlashAttention-2) over [batch, seq, heads, head_dim].

One program per (query tile, batch*head) streams over the keys with an online
softmax, so the N x N scores never reach memory; it saves the log-sum-exp
(base 2) of every row, from which flash_attention_backward.py recomputes the
probabilities. Helpers and tile sizes are in flash_attention_tiles.py.
"""

import triton
import triton.language as tl

from .flash_attention_tiles import (
    AUTOTUNE_KEY,
    FWD_CONFIGS,
    acc_type,
    dot,
    dropout_keep,
    head,
    keys_at_head,
    load_keys,
    load_rows,
    row_stats,
    scores,
    store_output,
    tile_and_head,
)


@triton.jit
def _attn_fwd_inner(
    q,
    rows,
    keys,
    Seed,
    off_bh,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    """The online softmax over every key tile: unnormalised output, row sums and row maxima (base 2)."""
    acc_ty: tl.constexpr = acc_type(q.dtype)
    if HAS_DROPOUT:
        seed = tl.load(Seed)
    m_i = tl.full([BLOCK_M], float("-inf"), acc_ty)
    l_i = tl.zeros([BLOCK_M], acc_ty)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], acc_ty)
    for start_n in range(0, N, BLOCK_N):
        cols = start_n + tl.arange(0, BLOCK_N)
        k, v, valid = load_keys(keys, cols, N, HEAD_DIM, HAS_MASK)
        s = tl.where(valid[None, :], scores(q, k, HEAD_DIM), float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # Until a row meets a valid key its max is -inf; subtracting 0 instead
        # keeps exp2(-inf - -inf) = NaN out and gives those rows p = 0.
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp2(s - m_safe[:, None])
        alpha = tl.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)  # the normaliser counts dropped entries too
        if HAS_DROPOUT:  # 1/(1 - p) for the kept ones is applied once, at the end
            p = tl.where(
                dropout_keep(seed, off_bh, rows[:, None], cols[None, :], N, dropout_p), p, 0.0
            )
        acc = acc * alpha[:, None] + dot(p.to(v.dtype), v)
        m_i = m_new
    return acc, l_i, m_i


@triton.jit
def _normalise(acc, l_i, m_i, dropout_p, HAS_DROPOUT: tl.constexpr):
    """The output rows and their log-sum-exp (base 2) from the online softmax's state."""
    # Rows with no valid key have l_i = 0: output 0, and lse = +inf makes the
    # backward's recomputed probabilities exactly 0 as well.
    empty = l_i == 0.0
    l_safe = tl.where(empty, 1.0, l_i)
    lse = tl.where(empty, float("inf"), m_i + tl.log2(l_safe))
    if HAS_DROPOUT:
        l_safe = l_safe * (1.0 - dropout_p)
    return acc / l_safe[:, None], lse


@triton.autotune(configs=FWD_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_fwd(
    Q,
    K,
    V,
    Out,
    LSE,
    Mask,
    Seed,
    stride_qb,
    stride_qn,
    stride_qh,
    stride_qd,
    stride_kb,
    stride_kn,
    stride_kh,
    stride_kd,
    stride_vb,
    stride_vn,
    stride_vh,
    stride_vd,
    stride_mb,
    stride_mn,
    H,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rows, off_bh, off_b, off_h = tile_and_head(H, BLOCK_M)
    q = load_rows(
        head((Q, stride_qb, stride_qn, stride_qh, stride_qd), off_b, off_h), rows, N, HEAD_DIM
    )
    keys = keys_at_head(
        (K, stride_kb, stride_kn, stride_kh, stride_kd),
        (V, stride_vb, stride_vn, stride_vh, stride_vd),
        (Mask, stride_mb, stride_mn),
        off_b,
        off_h,
    )
    acc, l_i, m_i = _attn_fwd_inner(
        q, rows, keys, Seed, off_bh, N, dropout_p, HEAD_DIM, HAS_MASK, HAS_DROPOUT, BLOCK_M, BLOCK_N
    )
    out, lse = _normalise(acc, l_i, m_i, dropout_p, HAS_DROPOUT)
    store_output(Out, off_b, off_h, H, N, rows, out, HEAD_DIM)
    tl.store(row_stats(LSE, off_bh, N) + rows, lse, mask=rows < N)
