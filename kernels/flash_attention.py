"""FlashAttention-2 in Triton for the Keras attention layout [batch, seq, heads, head_dim].

Forward: one program per (query tile, batch*head) streams over the keys with an
online softmax, so the N x N scores never reach memory; it saves the log-sum-exp
(base 2) of every row. Backward recomputes the probabilities from it: a
preprocess computes delta = rowsum(dO * O), one program per key tile
accumulates dK and dV, and a separate program per query tile accumulates dQ.
Every output tile has exactly one writer, so there are no atomics and the
gradients are deterministic.

q, k, v, o and dO are read through their strides: slices of a fused QKV
projection work without a copy. Key padding (mask 1 = attend) gives masked keys
exactly 0 probability; a row whose keys are all masked outputs 0 and gets 0
gradient, like torch's SDPA. Dropout on the probabilities draws Philox numbers
from a counter, the element index ((b*H + h)*N + i)*N + j, so the backward
recomputes the forward's mask instead of storing it.

Based on Triton's tutorial 06-fused-attention, without causal masking and with
plain pointer arithmetic. Import only torch and triton here: the kernels must
load on a machine without Keras.
"""

import os

import torch
import triton
import triton.language as tl

# triton.jit picks the interpreter when the kernels are decorated, so this must
# match the environment at import; the tests check it.
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"

LOG2E = tl.constexpr(1.4426950408889634)  # softmax runs in base 2: exp(x) = exp2(x * log2(e))


def _configs(shapes):
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s) for m, n, w, s in shapes
    ]


# The autotuner times every config, which the interpreter cannot do, and small
# tiles keep the interpreter fast while still exercising partial tiles.
if INTERPRET:
    FWD_CONFIGS = DKDV_CONFIGS = DQ_CONFIGS = _configs([(16, 16, 1, 1)])
else:
    # The last config of each list is small enough for float32 at head_dim 128
    # on an A100 (benchmarks/compile_kernels.py checks that one always fits).
    FWD_CONFIGS = _configs([(128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (64, 64, 4, 3), (64, 32, 4, 2)])
    # The dK/dV program iterates over queries: a wide key tile, a narrow query tile.
    DKDV_CONFIGS = _configs([(32, 128, 4, 3), (64, 128, 8, 3), (64, 64, 4, 3), (32, 64, 4, 2)])
    DQ_CONFIGS = _configs([(128, 32, 4, 3), (128, 64, 8, 3), (64, 64, 4, 3), (64, 32, 4, 2)])
AUTOTUNE_KEY = ["N", "HEAD_DIM", "HAS_MASK", "HAS_DROPOUT"]
HEAD_DIMS = (16, 32, 64, 128)  # one tile spans the head: powers of two that fit in registers


@triton.jit
def _valid_keys(Mask, stride_mn, cols, N, HAS_MASK: tl.constexpr):
    valid = cols < N
    if HAS_MASK:
        valid = valid & (tl.load(Mask + cols * stride_mn, mask=valid, other=0) != 0)
    return valid


@triton.jit
def _dropout_keep(seed, off_bh, rows, cols, N, dropout_p):
    # int64 so that B*H*N*N past 2**31 does not wrap; same counter in every kernel.
    offsets = (off_bh.to(tl.int64) * N + rows.to(tl.int64)) * N + cols.to(tl.int64)
    return tl.rand(seed, offsets) >= dropout_p


@triton.autotune(configs=FWD_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_fwd(
    Q, K, V, O, LSE, Mask, Seed,
    stride_qb, stride_qn, stride_qh, stride_qd,
    stride_kb, stride_kn, stride_kh, stride_kd,
    stride_vb, stride_vn, stride_vh, stride_vd,
    stride_ob, stride_on, stride_oh, stride_od,
    stride_mb, stride_mn,
    H, N, dropout_p,
    HEAD_DIM: tl.constexpr, HAS_MASK: tl.constexpr, HAS_DROPOUT: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0)
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    acc_ty: tl.constexpr = tl.float64 if Q.dtype.element_ty == tl.float64 else tl.float32
    qk_scale: tl.constexpr = LOG2E / HEAD_DIM**0.5

    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    q_ptrs = Q + off_b * stride_qb + off_h * stride_qh + offs_m[:, None] * stride_qn + offs_d[None, :] * stride_qd
    k_base = K + off_b * stride_kb + off_h * stride_kh + offs_d[None, :] * stride_kd
    v_base = V + off_b * stride_vb + off_h * stride_vh + offs_d[None, :] * stride_vd
    q = tl.load(q_ptrs, mask=offs_m[:, None] < N, other=0.0)
    if HAS_DROPOUT:
        seed = tl.load(Seed)

    m_i = tl.full([BLOCK_M], float("-inf"), acc_ty)
    l_i = tl.zeros([BLOCK_M], acc_ty)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], acc_ty)
    for start_n in range(0, N, BLOCK_N):
        cols = start_n + offs_n
        k = tl.load(k_base + cols[:, None] * stride_kn, mask=cols[:, None] < N, other=0.0)
        v = tl.load(v_base + cols[:, None] * stride_vn, mask=cols[:, None] < N, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION, out_dtype=acc_ty) * qk_scale
        valid = _valid_keys(Mask + off_b * stride_mb, stride_mn, cols, N, HAS_MASK)
        s = tl.where(valid[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # Until a row meets a valid key its max is -inf; subtracting 0 instead
        # keeps exp2(-inf - -inf) = NaN out and gives those rows p = 0.
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp2(s - m_safe[:, None])
        alpha = tl.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)  # the normaliser counts dropped entries too
        if HAS_DROPOUT:  # 1/(1 - p) for the kept ones is applied once, at the end
            p = tl.where(_dropout_keep(seed, off_bh, offs_m[:, None], cols[None, :], N, dropout_p), p, 0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION, out_dtype=acc_ty)
        m_i = m_new

    # Rows with no valid key have l_i = 0: output 0, and lse = +inf makes the
    # backward's recomputed probabilities exactly 0 as well.
    empty = l_i == 0.0
    l_safe = tl.where(empty, 1.0, l_i)
    lse = tl.where(empty, float("inf"), m_i + tl.log2(l_safe))
    if HAS_DROPOUT:
        l_safe = l_safe * (1.0 - dropout_p)
    out = acc / l_safe[:, None]
    o_ptrs = O + off_b * stride_ob + off_h * stride_oh + offs_m[:, None] * stride_on + offs_d[None, :] * stride_od
    tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=offs_m[:, None] < N)
    tl.store(LSE + off_bh.to(tl.int64) * N + offs_m, lse, mask=offs_m < N)


@triton.jit
def _attn_bwd_preprocess(
    O, DO, Delta,
    stride_ob, stride_on, stride_oh, stride_od,
    stride_dob, stride_don, stride_doh, stride_dod,
    H, N, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr,
):
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    acc_ty: tl.constexpr = tl.float64 if O.dtype.element_ty == tl.float64 else tl.float32
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    rows = offs_m[:, None] < N
    o = tl.load(O + off_b * stride_ob + off_h * stride_oh + offs_m[:, None] * stride_on + offs_d[None, :] * stride_od,
                mask=rows, other=0.0)
    do = tl.load(DO + off_b * stride_dob + off_h * stride_doh + offs_m[:, None] * stride_don + offs_d[None, :] * stride_dod,
                 mask=rows, other=0.0)
    delta = tl.sum(o.to(acc_ty) * do.to(acc_ty), 1)
    tl.store(Delta + off_bh.to(tl.int64) * N + offs_m, delta, mask=offs_m < N)


@triton.autotune(configs=DKDV_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_bwd_dkdv(
    Q, K, V, DO, DK, DV, LSE, Delta, Mask, Seed,
    stride_qb, stride_qn, stride_qh, stride_qd,
    stride_kb, stride_kn, stride_kh, stride_kd,
    stride_vb, stride_vn, stride_vh, stride_vd,
    stride_dob, stride_don, stride_doh, stride_dod,
    stride_dkb, stride_dkn, stride_dkh, stride_dkd,
    stride_mb, stride_mn,
    H, N, dropout_p,
    HEAD_DIM: tl.constexpr, HAS_MASK: tl.constexpr, HAS_DROPOUT: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    # Works on the transposed tile [keys, queries] so dK and dV stay in registers.
    start_n = tl.program_id(0)
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    acc_ty: tl.constexpr = tl.float64 if Q.dtype.element_ty == tl.float64 else tl.float32
    sm_scale: tl.constexpr = 1.0 / HEAD_DIM**0.5
    qk_scale: tl.constexpr = LOG2E / HEAD_DIM**0.5

    offs_n = start_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    keys_in = offs_n[:, None] < N
    k = tl.load(K + off_b * stride_kb + off_h * stride_kh + offs_n[:, None] * stride_kn + offs_d[None, :] * stride_kd,
                mask=keys_in, other=0.0)
    v = tl.load(V + off_b * stride_vb + off_h * stride_vh + offs_n[:, None] * stride_vn + offs_d[None, :] * stride_vd,
                mask=keys_in, other=0.0)
    valid = _valid_keys(Mask + off_b * stride_mb, stride_mn, offs_n, N, HAS_MASK)
    q_base = Q + off_b * stride_qb + off_h * stride_qh + offs_d[None, :] * stride_qd
    do_base = DO + off_b * stride_dob + off_h * stride_doh + offs_d[None, :] * stride_dod
    lse_base = LSE + off_bh.to(tl.int64) * N
    delta_base = Delta + off_bh.to(tl.int64) * N
    if HAS_DROPOUT:
        seed = tl.load(Seed)
        keep_scale = 1.0 / (1.0 - dropout_p)

    dk = tl.zeros([BLOCK_N, HEAD_DIM], acc_ty)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], acc_ty)
    # A tile of padding keys gets no gradient: skip its loop (padded batches).
    end_m = tl.where(tl.max(valid.to(tl.int32), 0) > 0, N, 0)
    for start_m in range(0, end_m, BLOCK_M):
        rows = start_m + offs_m
        q = tl.load(q_base + rows[:, None] * stride_qn, mask=rows[:, None] < N, other=0.0)
        do = tl.load(do_base + rows[:, None] * stride_don, mask=rows[:, None] < N, other=0.0)
        # Padding rows get lse = +inf, so their probabilities are exactly 0.
        lse = tl.load(lse_base + rows, mask=rows < N, other=float("inf"))
        delta = tl.load(delta_base + rows, mask=rows < N, other=0.0)
        s_t = tl.dot(k, tl.trans(q), input_precision=PRECISION, out_dtype=acc_ty) * qk_scale
        p_t = tl.where(valid[:, None], tl.exp2(s_t - lse[None, :]), 0.0)
        dp_t = tl.dot(v, tl.trans(do), input_precision=PRECISION, out_dtype=acc_ty)
        if HAS_DROPOUT:
            keep = _dropout_keep(seed, off_bh, rows[None, :], offs_n[:, None], N, dropout_p)
            dv += tl.dot(tl.where(keep, p_t * keep_scale, 0.0).to(do.dtype), do,
                         input_precision=PRECISION, out_dtype=acc_ty)
            dp_t = tl.where(keep, dp_t * keep_scale, 0.0)
        else:
            dv += tl.dot(p_t.to(do.dtype), do, input_precision=PRECISION, out_dtype=acc_ty)
        ds_t = p_t * (dp_t - delta[None, :])
        dk += tl.dot(ds_t.to(q.dtype), q, input_precision=PRECISION, out_dtype=acc_ty)

    dk_offs = off_b * stride_dkb + off_h * stride_dkh + offs_n[:, None] * stride_dkn + offs_d[None, :] * stride_dkd
    tl.store(DK + dk_offs, (dk * sm_scale).to(DK.dtype.element_ty), mask=keys_in)
    tl.store(DV + dk_offs, dv.to(DV.dtype.element_ty), mask=keys_in)  # DV is allocated like DK


@triton.autotune(configs=DQ_CONFIGS, key=AUTOTUNE_KEY)
@triton.jit
def _attn_bwd_dq(
    Q, K, V, DO, DQ, LSE, Delta, Mask, Seed,
    stride_qb, stride_qn, stride_qh, stride_qd,
    stride_kb, stride_kn, stride_kh, stride_kd,
    stride_vb, stride_vn, stride_vh, stride_vd,
    stride_dob, stride_don, stride_doh, stride_dod,
    stride_dqb, stride_dqn, stride_dqh, stride_dqd,
    stride_mb, stride_mn,
    H, N, dropout_p,
    HEAD_DIM: tl.constexpr, HAS_MASK: tl.constexpr, HAS_DROPOUT: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0)
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    acc_ty: tl.constexpr = tl.float64 if Q.dtype.element_ty == tl.float64 else tl.float32
    sm_scale: tl.constexpr = 1.0 / HEAD_DIM**0.5
    qk_scale: tl.constexpr = LOG2E / HEAD_DIM**0.5

    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    rows_in = offs_m[:, None] < N
    q = tl.load(Q + off_b * stride_qb + off_h * stride_qh + offs_m[:, None] * stride_qn + offs_d[None, :] * stride_qd,
                mask=rows_in, other=0.0)
    do = tl.load(DO + off_b * stride_dob + off_h * stride_doh + offs_m[:, None] * stride_don + offs_d[None, :] * stride_dod,
                 mask=rows_in, other=0.0)
    lse = tl.load(LSE + off_bh.to(tl.int64) * N + offs_m, mask=offs_m < N, other=float("inf"))
    delta = tl.load(Delta + off_bh.to(tl.int64) * N + offs_m, mask=offs_m < N, other=0.0)
    k_base = K + off_b * stride_kb + off_h * stride_kh + offs_d[None, :] * stride_kd
    v_base = V + off_b * stride_vb + off_h * stride_vh + offs_d[None, :] * stride_vd
    if HAS_DROPOUT:
        seed = tl.load(Seed)
        keep_scale = 1.0 / (1.0 - dropout_p)

    dq = tl.zeros([BLOCK_M, HEAD_DIM], acc_ty)
    for start_n in range(0, N, BLOCK_N):
        cols = start_n + offs_n
        k = tl.load(k_base + cols[:, None] * stride_kn, mask=cols[:, None] < N, other=0.0)
        v = tl.load(v_base + cols[:, None] * stride_vn, mask=cols[:, None] < N, other=0.0)
        valid = _valid_keys(Mask + off_b * stride_mb, stride_mn, cols, N, HAS_MASK)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION, out_dtype=acc_ty) * qk_scale
        p = tl.where(valid[None, :], tl.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION, out_dtype=acc_ty)
        if HAS_DROPOUT:
            keep = _dropout_keep(seed, off_bh, offs_m[:, None], cols[None, :], N, dropout_p)
            dp = tl.where(keep, dp * keep_scale, 0.0)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION, out_dtype=acc_ty)

    dq_ptrs = DQ + off_b * stride_dqb + off_h * stride_dqh + offs_m[:, None] * stride_dqn + offs_d[None, :] * stride_dqd
    tl.store(dq_ptrs, (dq * sm_scale).to(DQ.dtype.element_ty), mask=rows_in)


# ---------------------------------------------------------------------------
# torch wrapper: torch.library.triton_op + wrap_triton + register_autograd
# rather than an autograd.Function, because torch.compile can then trace into
# the kernels instead of breaking the graph; in torch 2.13 it also runs eagerly
# under the Triton interpreter on CPU, which the tests rely on.


def _precision(dtype):
    # float32 inputs must match a float32 reference to ~1e-6: no TF32 (16-bit
    # inputs ignore the setting).
    return "ieee" if dtype in (torch.float32, torch.float64) else "tf32"


def _mask_args(mask, query):
    if mask is None:
        return query, 0, 0  # never read: HAS_MASK is False
    return mask, mask.stride(0), mask.stride(1)


@torch.library.triton_op("keras_electra::flash_attention_forward", mutates_args=())
def _forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout_p: float,
    seed: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    B, N, H, D = q.shape
    o = q.new_empty(q.shape)
    lse = q.new_empty((B, H, N), dtype=torch.float64 if q.dtype == torch.float64 else torch.float32)
    mask, stride_mb, stride_mn = _mask_args(mask, q)
    grid = lambda meta: (triton.cdiv(N, meta["BLOCK_M"]), B * H)
    torch.library.wrap_triton(_attn_fwd)[grid](
        q, k, v, o, lse, mask, q if seed is None else seed,
        *q.stride(), *k.stride(), *v.stride(), *o.stride(), stride_mb, stride_mn,
        H, N, dropout_p,
        HEAD_DIM=D, HAS_MASK=mask is not q, HAS_DROPOUT=dropout_p > 0.0, PRECISION=_precision(q.dtype),
    )
    return o, lse


@torch.library.triton_op("keras_electra::flash_attention_backward", mutates_args=())
def _backward(
    do: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, o: torch.Tensor, lse: torch.Tensor,
    mask: torch.Tensor | None, dropout_p: float, seed: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    B, N, H, D = q.shape
    dq, dk, dv = q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)
    delta = torch.empty_like(lse)
    mask, stride_mb, stride_mn = _mask_args(mask, q)
    seed = q if seed is None else seed
    flags = dict(HEAD_DIM=D, HAS_MASK=mask is not q, HAS_DROPOUT=dropout_p > 0.0, PRECISION=_precision(q.dtype))
    pre_block = 16 if INTERPRET else 128
    torch.library.wrap_triton(_attn_bwd_preprocess)[(triton.cdiv(N, pre_block), B * H)](
        o, do, delta, *o.stride(), *do.stride(), H, N, HEAD_DIM=D, BLOCK_M=pre_block,
    )
    torch.library.wrap_triton(_attn_bwd_dkdv)[lambda meta: (triton.cdiv(N, meta["BLOCK_N"]), B * H)](
        q, k, v, do, dk, dv, lse, delta, mask, seed,
        *q.stride(), *k.stride(), *v.stride(), *do.stride(), *dk.stride(), stride_mb, stride_mn,
        H, N, dropout_p, **flags,
    )
    torch.library.wrap_triton(_attn_bwd_dq)[lambda meta: (triton.cdiv(N, meta["BLOCK_M"]), B * H)](
        q, k, v, do, dq, lse, delta, mask, seed,
        *q.stride(), *k.stride(), *v.stride(), *do.stride(), *dq.stride(), stride_mb, stride_mn,
        H, N, dropout_p, **flags,
    )
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
        raise ValueError(f"expected q, k, v of one shape [batch, seq, heads, head_dim], got "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if not query.dtype == key.dtype == value.dtype:
        raise ValueError(f"q, k, v dtypes differ: {query.dtype}, {key.dtype}, {value.dtype}")
    if query.shape[-1] not in HEAD_DIMS:
        raise ValueError(f"head_dim must be one of {HEAD_DIMS}, got {query.shape[-1]}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    if padding_mask is not None:
        if padding_mask.shape != query.shape[:2]:
            raise ValueError(f"padding_mask must be [batch, seq] = {tuple(query.shape[:2])}, "
                             f"got {tuple(padding_mask.shape)}")
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
