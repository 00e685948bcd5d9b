"""The Triton programs of flash_attention.py: FlashAttention-2 over [batch, seq, heads, head_dim].

Forward: one program per (query tile, batch*head) streams over the keys with an
online softmax, so the N x N scores never reach memory; it saves the log-sum-exp
(base 2) of every row. Backward recomputes the probabilities from it: a
preprocess computes delta = rowsum(dO * O), one program per key tile
accumulates dK and dV, and a separate program per query tile accumulates dQ.
Every output tile has exactly one writer, so there are no atomics and the
gradients are deterministic. Dropout draws Philox numbers from a counter, the
element index ((b*H + h)*N + i)*N + j, so the backward recomputes the forward's
mask instead of storing it.

Factored like Triton's tutorial 06-fused-attention (offsets and tile loads in
small helpers, an inner loop per program), without causal masking. Imports
triton alone: benchmarks/compile_kernels.py loads this file by path.
"""

import os

import triton
import triton.language as tl

# triton.jit picks the interpreter when the kernels are decorated, so this must
# match the environment at import; the tests check it.
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"

LOG2E = tl.constexpr(1.4426950408889634)  # softmax runs in base 2: exp(x) = exp2(x * log2(e))


def _configs(shapes):
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
        for m, n, w, s in shapes
    ]


# The autotuner times every config, which the interpreter cannot do, and small
# tiles keep the interpreter fast while still exercising partial tiles.
if INTERPRET:
    FWD_CONFIGS = DKDV_CONFIGS = DQ_CONFIGS = _configs([(16, 16, 1, 1)])
else:
    # The last config of each list is small enough for float32 at head_dim 128
    # on an A100 (benchmarks/compile_kernels.py checks that one always fits).
    FWD_CONFIGS = _configs(
        [(128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (64, 64, 4, 3), (64, 32, 4, 2)]
    )
    # The dK/dV program iterates over queries: a wide key tile, a narrow query tile.
    DKDV_CONFIGS = _configs([(32, 128, 4, 3), (64, 128, 8, 3), (64, 64, 4, 3), (32, 64, 4, 2)])
    DQ_CONFIGS = _configs([(128, 32, 4, 3), (128, 64, 8, 3), (64, 64, 4, 3), (64, 32, 4, 2)])
AUTOTUNE_KEY = ["N", "HEAD_DIM", "HAS_MASK", "HAS_DROPOUT"]
HEAD_DIMS = (16, 32, 64, 128)  # one tile spans the head: powers of two that fit in registers


# ---------------------------------------------------------------- offsets, loads, small math


@triton.constexpr_function
def _acc_type(dtype):
    # float64 accumulates in float64 so that gradcheck's finite differences mean something.
    return tl.float64 if dtype == tl.float64 else tl.float32


@triton.jit
def _tile_and_head(H, BLOCK: tl.constexpr):
    """This program's positions in the sequence, and its batch*head, batch and head indices."""
    off_bh = tl.program_id(1)
    positions = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    # int64: batch and head offsets of a large tensor pass 2**31
    return positions, off_bh, (off_bh // H).to(tl.int64), (off_bh % H).to(tl.int64)


@triton.jit
def _head(X, stride_b, stride_h, off_b, off_h):
    return X + off_b * stride_b + off_h * stride_h


@triton.jit
def _row_stats(X, off_bh, N):
    # LSE and Delta are contiguous [batch, heads, seq]
    return X + off_bh.to(tl.int64) * N


@triton.jit
def _rows_ptrs(X, rows, stride_n, stride_d, HEAD_DIM: tl.constexpr):
    return X + rows[:, None] * stride_n + tl.arange(0, HEAD_DIM)[None, :] * stride_d


@triton.jit
def _load_rows(X, rows, stride_n, stride_d, N, HEAD_DIM: tl.constexpr):
    return tl.load(
        _rows_ptrs(X, rows, stride_n, stride_d, HEAD_DIM), mask=rows[:, None] < N, other=0.0
    )


@triton.jit
def _store_rows(X, rows, stride_n, stride_d, N, tile, HEAD_DIM: tl.constexpr):
    tl.store(
        _rows_ptrs(X, rows, stride_n, stride_d, HEAD_DIM),
        tile.to(X.dtype.element_ty),
        mask=rows[:, None] < N,
    )


@triton.jit
def _load_keys(
    K,
    V,
    Mask,
    cols,
    stride_kn,
    stride_kd,
    stride_vn,
    stride_vd,
    stride_mn,
    N,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
):
    """The k and v tiles of keys `cols`, and which of them may be attended to."""
    k = _load_rows(K, cols, stride_kn, stride_kd, N, HEAD_DIM)
    v = _load_rows(V, cols, stride_vn, stride_vd, N, HEAD_DIM)
    valid = cols < N
    if HAS_MASK:
        valid = valid & (tl.load(Mask + cols * stride_mn, mask=valid, other=0) != 0)
    return k, v, valid


@triton.jit
def _load_queries(
    Q, DO, LSE, Delta, rows, stride_qn, stride_qd, stride_don, stride_dod, N, HEAD_DIM: tl.constexpr
):
    """What the backward needs of query rows `rows`: q, dO, the forward's lse and delta."""
    q = _load_rows(Q, rows, stride_qn, stride_qd, N, HEAD_DIM)
    do = _load_rows(DO, rows, stride_don, stride_dod, N, HEAD_DIM)
    # Padding rows get lse = +inf, so their probabilities are exactly 0.
    lse = tl.load(LSE + rows, mask=rows < N, other=float("inf"))
    delta = tl.load(Delta + rows, mask=rows < N, other=0.0)
    return q, do, lse, delta


@triton.jit
def _dot(a, b, PRECISION: tl.constexpr):
    return tl.dot(a, b, input_precision=PRECISION, out_dtype=_acc_type(a.dtype))


@triton.jit
def _scores(a, b, HEAD_DIM: tl.constexpr, PRECISION: tl.constexpr):
    """a b^T / sqrt(head_dim), in base 2 for exp2."""
    qk_scale: tl.constexpr = LOG2E / HEAD_DIM**0.5
    return _dot(a, tl.trans(b), PRECISION) * qk_scale


@triton.jit
def _dropout_keep(seed, off_bh, rows, cols, N, dropout_p):
    # int64 so that B*H*N*N past 2**31 does not wrap; same counter in every kernel.
    offsets = (off_bh.to(tl.int64) * N + rows.to(tl.int64)) * N + cols.to(tl.int64)
    return tl.rand(seed, offsets) >= dropout_p


@triton.jit
def _drop(x, keep, dropout_p):
    # Kept entries scaled by 1/(1 - p) like the forward's output. Assigned, the
    # scale is float32 in the interpreter too, as dropout_p is when compiled.
    keep_scale = 1.0 / (1.0 - dropout_p)
    return tl.where(keep, x * keep_scale, 0.0)


# ---------------------------------------------------------------- forward


@triton.jit
def _attn_fwd_inner(
    q,
    rows,
    K,
    V,
    Mask,
    Seed,
    off_bh,
    stride_kn,
    stride_kd,
    stride_vn,
    stride_vd,
    stride_mn,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    """The online softmax over every key tile: unnormalised output, row sums and row maxima (base 2)."""
    acc_ty: tl.constexpr = _acc_type(q.dtype)
    if HAS_DROPOUT:
        seed = tl.load(Seed)
    m_i = tl.full([BLOCK_M], float("-inf"), acc_ty)
    l_i = tl.zeros([BLOCK_M], acc_ty)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], acc_ty)
    for start_n in range(0, N, BLOCK_N):
        cols = start_n + tl.arange(0, BLOCK_N)
        k, v, valid = _load_keys(
            K,
            V,
            Mask,
            cols,
            stride_kn,
            stride_kd,
            stride_vn,
            stride_vd,
            stride_mn,
            N,
            HEAD_DIM,
            HAS_MASK,
        )
        s = tl.where(valid[None, :], _scores(q, k, HEAD_DIM, PRECISION), float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # Until a row meets a valid key its max is -inf; subtracting 0 instead
        # keeps exp2(-inf - -inf) = NaN out and gives those rows p = 0.
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp2(s - m_safe[:, None])
        alpha = tl.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)  # the normaliser counts dropped entries too
        if HAS_DROPOUT:  # 1/(1 - p) for the kept ones is applied once, at the end
            p = tl.where(
                _dropout_keep(seed, off_bh, rows[:, None], cols[None, :], N, dropout_p), p, 0.0
            )
        acc = acc * alpha[:, None] + _dot(p.to(v.dtype), v, PRECISION)
        m_i = m_new
    return acc, l_i, m_i


@triton.autotune(configs=FWD_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_fwd(
    Q,
    K,
    V,
    O,
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
    stride_ob,
    stride_on,
    stride_oh,
    stride_od,
    stride_mb,
    stride_mn,
    H,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rows, off_bh, off_b, off_h = _tile_and_head(H, BLOCK_M)
    q = _load_rows(
        _head(Q, stride_qb, stride_qh, off_b, off_h), rows, stride_qn, stride_qd, N, HEAD_DIM
    )
    acc, l_i, m_i = _attn_fwd_inner(
        q,
        rows,
        _head(K, stride_kb, stride_kh, off_b, off_h),
        _head(V, stride_vb, stride_vh, off_b, off_h),
        Mask + off_b * stride_mb,
        Seed,
        off_bh,
        stride_kn,
        stride_kd,
        stride_vn,
        stride_vd,
        stride_mn,
        N,
        dropout_p,
        HEAD_DIM,
        HAS_MASK,
        HAS_DROPOUT,
        PRECISION,
        BLOCK_M,
        BLOCK_N,
    )
    # Rows with no valid key have l_i = 0: output 0, and lse = +inf makes the
    # backward's recomputed probabilities exactly 0 as well.
    empty = l_i == 0.0
    l_safe = tl.where(empty, 1.0, l_i)
    lse = tl.where(empty, float("inf"), m_i + tl.log2(l_safe))
    if HAS_DROPOUT:
        l_safe = l_safe * (1.0 - dropout_p)
    out = acc / l_safe[:, None]
    _store_rows(
        _head(O, stride_ob, stride_oh, off_b, off_h), rows, stride_on, stride_od, N, out, HEAD_DIM
    )
    tl.store(_row_stats(LSE, off_bh, N) + rows, lse, mask=rows < N)


# ---------------------------------------------------------------- backward


@triton.jit
def _attn_bwd_preprocess(
    O,
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
    rows, off_bh, off_b, off_h = _tile_and_head(H, BLOCK_M)
    o = _load_rows(
        _head(O, stride_ob, stride_oh, off_b, off_h), rows, stride_on, stride_od, N, HEAD_DIM
    )
    do = _load_rows(
        _head(DO, stride_dob, stride_doh, off_b, off_h), rows, stride_don, stride_dod, N, HEAD_DIM
    )
    acc_ty: tl.constexpr = _acc_type(o.dtype)
    delta = tl.sum(o.to(acc_ty) * do.to(acc_ty), 1)
    tl.store(_row_stats(Delta, off_bh, N) + rows, delta, mask=rows < N)


@triton.jit
def _bwd_prologue(
    Q,
    K,
    V,
    DO,
    LSE,
    Delta,
    Mask,
    stride_qb,
    stride_qh,
    stride_kb,
    stride_kh,
    stride_vb,
    stride_vh,
    stride_dob,
    stride_doh,
    stride_mb,
    H,
    N,
    BLOCK: tl.constexpr,
):
    """Both backward programs: their tile, batch and head, and every input moved to that (batch, head)."""
    positions, off_bh, off_b, off_h = _tile_and_head(H, BLOCK)
    return (
        positions,
        off_bh,
        off_b,
        off_h,
        _head(Q, stride_qb, stride_qh, off_b, off_h),
        _head(K, stride_kb, stride_kh, off_b, off_h),
        _head(V, stride_vb, stride_vh, off_b, off_h),
        _head(DO, stride_dob, stride_doh, off_b, off_h),
        _row_stats(LSE, off_bh, N),
        _row_stats(Delta, off_bh, N),
        Mask + off_b * stride_mb,
    )


@triton.jit
def _attn_bwd_dkdv_inner(
    k,
    v,
    valid,
    cols,
    Q,
    DO,
    LSE,
    Delta,
    Seed,
    off_bh,
    stride_qn,
    stride_qd,
    stride_don,
    stride_dod,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    """dK (unscaled) and dV of keys `cols` over every query tile, on transposed [keys, queries] tiles."""
    acc_ty: tl.constexpr = _acc_type(k.dtype)
    if HAS_DROPOUT:
        seed = tl.load(Seed)
    dk = tl.zeros([BLOCK_N, HEAD_DIM], acc_ty)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], acc_ty)
    # A tile of padding keys gets no gradient: skip its loop (padded batches).
    end_m = tl.where(tl.max(valid.to(tl.int32), 0) > 0, N, 0)
    for start_m in range(0, end_m, BLOCK_M):
        rows = start_m + tl.arange(0, BLOCK_M)
        q, do, lse, delta = _load_queries(
            Q, DO, LSE, Delta, rows, stride_qn, stride_qd, stride_don, stride_dod, N, HEAD_DIM
        )
        p_t = tl.where(
            valid[:, None], tl.exp2(_scores(k, q, HEAD_DIM, PRECISION) - lse[None, :]), 0.0
        )
        dp_t = _dot(v, tl.trans(do), PRECISION)
        if HAS_DROPOUT:  # dV before dropping dp_t: an order that spills fewer registers
            keep = _dropout_keep(seed, off_bh, rows[None, :], cols[:, None], N, dropout_p)
            dv += _dot(_drop(p_t, keep, dropout_p).to(do.dtype), do, PRECISION)
            dp_t = _drop(dp_t, keep, dropout_p)
        else:
            dv += _dot(p_t.to(do.dtype), do, PRECISION)
        ds_t = p_t * (dp_t - delta[None, :])
        dk += _dot(ds_t.to(q.dtype), q, PRECISION)
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
    stride_dkb,
    stride_dkn,
    stride_dkh,
    stride_dkd,
    stride_mb,
    stride_mn,
    H,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    cols, off_bh, off_b, off_h, Q, K, V, DO, LSE, Delta, Mask = _bwd_prologue(
        Q,
        K,
        V,
        DO,
        LSE,
        Delta,
        Mask,
        stride_qb,
        stride_qh,
        stride_kb,
        stride_kh,
        stride_vb,
        stride_vh,
        stride_dob,
        stride_doh,
        stride_mb,
        H,
        N,
        BLOCK_N,
    )
    k, v, valid = _load_keys(
        K,
        V,
        Mask,
        cols,
        stride_kn,
        stride_kd,
        stride_vn,
        stride_vd,
        stride_mn,
        N,
        HEAD_DIM,
        HAS_MASK,
    )
    dk, dv = _attn_bwd_dkdv_inner(
        k,
        v,
        valid,
        cols,
        Q,
        DO,
        LSE,
        Delta,
        Seed,
        off_bh,
        stride_qn,
        stride_qd,
        stride_don,
        stride_dod,
        N,
        dropout_p,
        HEAD_DIM,
        HAS_DROPOUT,
        PRECISION,
        BLOCK_M,
        BLOCK_N,
    )
    sm_scale: tl.constexpr = 1.0 / HEAD_DIM**0.5
    _store_rows(
        _head(DK, stride_dkb, stride_dkh, off_b, off_h),
        cols,
        stride_dkn,
        stride_dkd,
        N,
        dk * sm_scale,
        HEAD_DIM,
    )
    # DV is allocated like DK: its strides
    _store_rows(
        _head(DV, stride_dkb, stride_dkh, off_b, off_h),
        cols,
        stride_dkn,
        stride_dkd,
        N,
        dv,
        HEAD_DIM,
    )


@triton.jit
def _attn_bwd_dq_inner(
    q,
    do,
    lse,
    delta,
    rows,
    K,
    V,
    Mask,
    Seed,
    off_bh,
    stride_kn,
    stride_kd,
    stride_vn,
    stride_vd,
    stride_mn,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    """dQ (unscaled) of query rows `rows` over every key tile."""
    acc_ty: tl.constexpr = _acc_type(q.dtype)
    if HAS_DROPOUT:
        seed = tl.load(Seed)
    dq = tl.zeros([BLOCK_M, HEAD_DIM], acc_ty)
    for start_n in range(0, N, BLOCK_N):
        cols = start_n + tl.arange(0, BLOCK_N)
        k, v, valid = _load_keys(
            K,
            V,
            Mask,
            cols,
            stride_kn,
            stride_kd,
            stride_vn,
            stride_vd,
            stride_mn,
            N,
            HEAD_DIM,
            HAS_MASK,
        )
        p = tl.where(
            valid[None, :], tl.exp2(_scores(q, k, HEAD_DIM, PRECISION) - lse[:, None]), 0.0
        )
        dp = _dot(do, tl.trans(v), PRECISION)
        if HAS_DROPOUT:
            dp = _drop(
                dp,
                _dropout_keep(seed, off_bh, rows[:, None], cols[None, :], N, dropout_p),
                dropout_p,
            )
        ds = p * (dp - delta[:, None])
        dq += _dot(ds.to(k.dtype), k, PRECISION)
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
    stride_dqb,
    stride_dqn,
    stride_dqh,
    stride_dqd,
    stride_mb,
    stride_mn,
    H,
    N,
    dropout_p,
    HEAD_DIM: tl.constexpr,
    HAS_MASK: tl.constexpr,
    HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rows, off_bh, off_b, off_h, Q, K, V, DO, LSE, Delta, Mask = _bwd_prologue(
        Q,
        K,
        V,
        DO,
        LSE,
        Delta,
        Mask,
        stride_qb,
        stride_qh,
        stride_kb,
        stride_kh,
        stride_vb,
        stride_vh,
        stride_dob,
        stride_doh,
        stride_mb,
        H,
        N,
        BLOCK_M,
    )
    q, do, lse, delta = _load_queries(
        Q, DO, LSE, Delta, rows, stride_qn, stride_qd, stride_don, stride_dod, N, HEAD_DIM
    )
    dq = _attn_bwd_dq_inner(
        q,
        do,
        lse,
        delta,
        rows,
        K,
        V,
        Mask,
        Seed,
        off_bh,
        stride_kn,
        stride_kd,
        stride_vn,
        stride_vd,
        stride_mn,
        N,
        dropout_p,
        HEAD_DIM,
        HAS_MASK,
        HAS_DROPOUT,
        PRECISION,
        BLOCK_M,
        BLOCK_N,
    )
    sm_scale: tl.constexpr = 1.0 / HEAD_DIM**0.5
    _store_rows(
        _head(DQ, stride_dqb, stride_dqh, off_b, off_h),
        rows,
        stride_dqn,
        stride_dqd,
        N,
        dq * sm_scale,
        HEAD_DIM,
    )
