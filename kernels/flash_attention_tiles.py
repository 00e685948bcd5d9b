"""What the forward and backward programs of flash attention share: tile sizes and tile helpers.

Inputs reach a program as [batch, seq, heads, head_dim] pointers and four
strides. The program moves each to its (batch, head) once, with `head`, and
from then on handles a view, the tuple (pointer, seq stride, head_dim stride)
that the row loads and stores take; tuples keep the helpers' argument lists
short while the launches stay flat (torch's wrap_triton passes tensors and
scalars only). Outputs, which the launches allocate contiguous, come as bare
pointers: `store_output` derives their strides from the shape. Dropout draws
Philox numbers from a counter, the element index ((b*H + h)*N + i)*N + j, so
the backward recomputes the forward's mask instead of storing it.

Factored like Triton's tutorial 06-fused-attention (offsets and tile loads in
small helpers, an inner loop per program), without causal masking. Imports
triton alone: benchmarks/compile_kernels.py compiles the programs without torch.
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


# ---------------------------------------------------------------- types


@triton.constexpr_function
def acc_type(dtype):
    # float64 accumulates in float64 so that gradcheck's finite differences mean something.
    return tl.float64 if dtype == tl.float64 else tl.float32


@triton.constexpr_function
def _input_precision(dtype):
    # float32 inputs must match a float32 reference to ~1e-6: no TF32 (16-bit
    # inputs ignore the setting).
    return "ieee" if dtype in (tl.float32, tl.float64) else "tf32"


# ---------------------------------------------------------------- offsets and views


@triton.jit
def tile_and_head(H, BLOCK: tl.constexpr):
    """This program's positions in the sequence, and its batch*head, batch and head indices."""
    off_bh = tl.program_id(1)
    positions = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    # int64: batch and head offsets of a large tensor pass 2**31
    return positions, off_bh, (off_bh // H).to(tl.int64), (off_bh % H).to(tl.int64)


@triton.jit
def head(tensor, off_b, off_h):
    """The view of `tensor`, (pointer, stride_b, stride_n, stride_h, stride_d), at one (batch, head)."""
    X, stride_b, stride_n, stride_h, stride_d = tensor
    return X + off_b * stride_b + off_h * stride_h, stride_n, stride_d


@triton.jit
def keys_at_head(k, v, mask, off_b, off_h):
    """The views of k and v, and the padding mask (pointer, stride_b, stride_n) moved to the batch."""
    Mask, stride_mb, stride_mn = mask
    return head(k, off_b, off_h), head(v, off_b, off_h), (Mask + off_b * stride_mb, stride_mn)


@triton.jit
def row_stats(X, off_bh, N):
    # LSE and Delta are contiguous [batch, heads, seq]
    return X + off_bh.to(tl.int64) * N


# ---------------------------------------------------------------- loads and stores


@triton.jit
def _rows_ptrs(view, rows, HEAD_DIM: tl.constexpr):
    X, stride_n, stride_d = view
    return X + rows[:, None] * stride_n + tl.arange(0, HEAD_DIM)[None, :] * stride_d


@triton.jit
def load_rows(view, rows, N, HEAD_DIM: tl.constexpr):
    return tl.load(_rows_ptrs(view, rows, HEAD_DIM), mask=rows[:, None] < N, other=0.0)


@triton.jit
def store_rows(view, rows, N, tile, HEAD_DIM: tl.constexpr):
    X = view[0]
    tl.store(_rows_ptrs(view, rows, HEAD_DIM), tile.to(X.dtype.element_ty), mask=rows[:, None] < N)


@triton.jit
def store_output(X, off_b, off_h, H, N, rows, tile, HEAD_DIM: tl.constexpr):
    """`store_rows` into an output of the op at (off_b, off_h): the launches allocate their outputs
    contiguous [batch, seq, heads, head_dim], so the strides follow from the shape."""
    view = X + (off_b * N * H + off_h) * HEAD_DIM, H * HEAD_DIM, 1
    store_rows(view, rows, N, tile, HEAD_DIM)


@triton.jit
def load_keys(keys, cols, N, HEAD_DIM: tl.constexpr, HAS_MASK: tl.constexpr):
    """The k and v tiles of keys `cols` (views from `keys_at_head`), and which may be attended to."""
    k_view, v_view, (Mask, stride_mn) = keys
    k = load_rows(k_view, cols, N, HEAD_DIM)
    v = load_rows(v_view, cols, N, HEAD_DIM)
    valid = cols < N
    if HAS_MASK:
        valid = valid & (tl.load(Mask + cols * stride_mn, mask=valid, other=0) != 0)
    return k, v, valid


@triton.jit
def load_queries(queries, rows, N, HEAD_DIM: tl.constexpr):
    """What the backward needs of query rows `rows`: q, dO, the forward's lse and delta.

    queries: the views of q and dO, and the LSE and Delta rows of the head."""
    q_view, do_view, LSE, Delta = queries
    q = load_rows(q_view, rows, N, HEAD_DIM)
    do = load_rows(do_view, rows, N, HEAD_DIM)
    # Padding rows get lse = +inf, so their probabilities are exactly 0.
    lse = tl.load(LSE + rows, mask=rows < N, other=float("inf"))
    delta = tl.load(Delta + rows, mask=rows < N, other=0.0)
    return q, do, lse, delta


# ---------------------------------------------------------------- small math


@triton.jit
def dot(a, b):
    return tl.dot(a, b, input_precision=_input_precision(a.dtype), out_dtype=acc_type(a.dtype))


@triton.jit
def scores(a, b, HEAD_DIM: tl.constexpr):
    """a b^T / sqrt(head_dim), in base 2 for exp2."""
    qk_scale: tl.constexpr = LOG2E / HEAD_DIM**0.5
    return dot(a, tl.trans(b)) * qk_scale


@triton.jit
def dropout_keep(seed, off_bh, rows, cols, N, dropout_p):
    # int64 so that B*H*N*N past 2**31 does not wrap; same counter in every kernel.
    offsets = (off_bh.to(tl.int64) * N + rows.to(tl.int64)) * N + cols.to(tl.int64)
    return tl.rand(seed, offsets) >= dropout_p


@triton.jit
def drop(x, keep, dropout_p):
    # Kept entries scaled by 1/(1 - p) like the forward's output. Assigned, the
    # scale is float32 in the interpreter too, as dropout_p is when compiled.
    keep_scale = 1.0 / (1.0 - dropout_p)
    return tl.where(keep, x * keep_scale, 0.0)
