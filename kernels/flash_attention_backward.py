"""The backward programs of flash attention: dQ, dK and dV from the forward's log-sum-exp.

A preprocess computes delta = rowsum(dO * O); one program per key tile
accumulates dK and dV, and a separate program per query tile accumulates dQ,
both recomputing the probabilities from the log-sum-exp that
flash_attention_forward.py saved. Every output tile has exactly one writer, so
there are no atomics and the gradients are deterministic; dropout's mask is
drawn again from the forward's counters. Helpers and tile sizes are in
flash_attention_tiles.py.
"""

import triton
import triton.language as tl

from .flash_attention_tiles import (
    AUTOTUNE_KEY,
    DKDV_CONFIGS,
    DQ_CONFIGS,
    acc_type,
    dot,
    drop,
    dropout_keep,
    head,
    keys_at_head,
    load_keys,
    load_queries,
    load_rows,
    row_stats,
    scores,
    store_output,
    tile_and_head,
)


@triton.jit
def _attn_bwd_preprocess(
    Out,
    DO,
    Delta,
    stride_ob,
    stride_on,
    stride_oh,
    stride_od,
    stride_dob,
    stride_don,
    stride_doh,
    stride_dod,
    H,
    N,
    HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    rows, off_bh, off_b, off_h = tile_and_head(H, BLOCK_M)
    o_view = head((Out, stride_ob, stride_on, stride_oh, stride_od), off_b, off_h)
    do_view = head((DO, stride_dob, stride_don, stride_doh, stride_dod), off_b, off_h)
    o = load_rows(o_view, rows, N, HEAD_DIM)
    do = load_rows(do_view, rows, N, HEAD_DIM)
    acc_ty: tl.constexpr = acc_type(o.dtype)
    delta = tl.sum(o.to(acc_ty) * do.to(acc_ty), 1)
    tl.store(row_stats(Delta, off_bh, N) + rows, delta, mask=rows < N)


@triton.jit
def _bwd_prologue(q, do, k, v, mask, LSE, Delta, H, N, BLOCK: tl.constexpr):
    """Both backward programs: their positions, batch*head, batch and head, the queries
    (views of q and dO, LSE and Delta rows) and the keys (`keys_at_head`) of that head."""
    positions, off_bh, off_b, off_h = tile_and_head(H, BLOCK)
    queries = (
        head(q, off_b, off_h),
        head(do, off_b, off_h),
        row_stats(LSE, off_bh, N),
        row_stats(Delta, off_bh, N),
    )
    return positions, off_bh, off_b, off_h, queries, keys_at_head(k, v, mask, off_b, off_h)


@triton.jit
def _attn_bwd_dkdv_inner(
    key_tile,
    cols,
    queries,
    Seed,
    off_bh,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    """dK (unscaled) and dV of keys `cols` over every query tile, on transposed [keys, queries] tiles."""
    k, v, valid = key_tile
    acc_ty: tl.constexpr = acc_type(k.dtype)
    if HAS_DROPOUT:
        seed = tl.load(Seed)
    dk = tl.zeros(k.shape, acc_ty)
    dv = tl.zeros(v.shape, acc_ty)
    # A tile of padding keys gets no gradient: skip its loop (padded batches).
    end_m = tl.where(tl.max(valid.to(tl.int32), 0) > 0, N, 0)
    for start_m in range(0, end_m, BLOCK_M):
        rows = start_m + tl.arange(0, BLOCK_M)
        q, do, lse, delta = load_queries(queries, rows, N, HEAD_DIM)
        p_t = tl.where(valid[:, None], tl.exp2(scores(k, q, HEAD_DIM) - lse[None, :]), 0.0)
        dp_t = dot(v, tl.trans(do))
        if HAS_DROPOUT:  # dV before dropping dp_t: an order that spills fewer registers
            keep = dropout_keep(seed, off_bh, rows[None, :], cols[:, None], N, dropout_p)
            dv += dot(drop(p_t, keep, dropout_p).to(do.dtype), do)
            dp_t = drop(dp_t, keep, dropout_p)
        else:
            dv += dot(p_t.to(do.dtype), do)
        ds_t = p_t * (dp_t - delta[None, :])
        dk += dot(ds_t.to(q.dtype), q)
    return dk, dv


@triton.autotune(configs=DKDV_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_bwd_dkdv(
    Q,
    K,
    V,
    DO,
    DK,
    DV,
    LSE,
    Delta,
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
    stride_dob,
    stride_don,
    stride_doh,
    stride_dod,
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
    cols, off_bh, off_b, off_h, queries, keys = _bwd_prologue(
        (Q, stride_qb, stride_qn, stride_qh, stride_qd),
        (DO, stride_dob, stride_don, stride_doh, stride_dod),
        (K, stride_kb, stride_kn, stride_kh, stride_kd),
        (V, stride_vb, stride_vn, stride_vh, stride_vd),
        (Mask, stride_mb, stride_mn),
        LSE,
        Delta,
        H,
        N,
        BLOCK_N,
    )
    key_tile = load_keys(keys, cols, N, HEAD_DIM, HAS_MASK)
    dk, dv = _attn_bwd_dkdv_inner(
        key_tile, cols, queries, Seed, off_bh, N, dropout_p, HEAD_DIM, HAS_DROPOUT, BLOCK_M
    )
    sm_scale: tl.constexpr = 1.0 / HEAD_DIM**0.5
    store_output(DK, off_b, off_h, H, N, cols, dk * sm_scale, HEAD_DIM)
    store_output(DV, off_b, off_h, H, N, cols, dv, HEAD_DIM)


@triton.jit
def _attn_bwd_dq_inner(
    query_tile,
    rows,
    keys,
    Seed,
    off_bh,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    """dQ (unscaled) of query rows `rows` over every key tile."""
    q, do, lse, delta = query_tile
    acc_ty: tl.constexpr = acc_type(q.dtype)
    if HAS_DROPOUT:
        seed = tl.load(Seed)
    dq = tl.zeros(q.shape, acc_ty)
    for start_n in range(0, N, BLOCK_N):
        cols = start_n + tl.arange(0, BLOCK_N)
        k, v, valid = load_keys(keys, cols, N, HEAD_DIM, HAS_MASK)
        p = tl.where(valid[None, :], tl.exp2(scores(q, k, HEAD_DIM) - lse[:, None]), 0.0)
        dp = dot(do, tl.trans(v))
        if HAS_DROPOUT:
            keep = dropout_keep(seed, off_bh, rows[:, None], cols[None, :], N, dropout_p)
            dp = drop(dp, keep, dropout_p)
        ds = p * (dp - delta[:, None])
        dq += dot(ds.to(k.dtype), k)
    return dq


@triton.autotune(configs=DQ_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_bwd_dq(
    Q,
    K,
    V,
    DO,
    DQ,
    LSE,
    Delta,
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
    stride_dob,
    stride_don,
    stride_doh,
    stride_dod,
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
    rows, off_bh, off_b, off_h, queries, keys = _bwd_prologue(
        (Q, stride_qb, stride_qn, stride_qh, stride_qd),
        (DO, stride_dob, stride_don, stride_doh, stride_dod),
        (K, stride_kb, stride_kn, stride_kh, stride_kd),
        (V, stride_vb, stride_vn, stride_vh, stride_vd),
        (Mask, stride_mb, stride_mn),
        LSE,
        Delta,
        H,
        N,
        BLOCK_M,
    )
    query_tile = load_queries(queries, rows, N, HEAD_DIM)
    dq = _attn_bwd_dq_inner(
        query_tile, rows, keys, Seed, off_bh, N, dropout_p, HEAD_DIM, HAS_MASK, HAS_DROPOUT, BLOCK_N
    )
    sm_scale: tl.constexpr = 1.0 / HEAD_DIM**0.5
    store_output(DQ, off_b, off_h, H, N, rows, dq * sm_scale, HEAD_DIM)
