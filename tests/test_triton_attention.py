"""The Triton flash-attention kernels against a float64 reference.

Without CUDA the kernels run in Triton's interpreter on CPU (numpy), which is
slow: shapes stay small and the interpreter uses 16 x 16 tiles, so N = 17, 67
and 130 still cover several and partial tiles. On a GPU the same tests run
compiled, plus bfloat16, which the interpreter of triton 3.9 computes wrongly.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import torch

# Without CUDA, conftest chose the interpreter before importing triton, as it must.
from keras_electra_kernels import flash_attention as fa
from keras_electra_kernels import flash_attention_backward as bwd
from keras_electra_kernels import flash_attention_forward as fwd
from keras_electra_kernels import flash_attention_tiles as tiles
from keras_electra_kernels.reference import attention_reference

TORCH_PASS = keras.backend.backend() == "torch"
pytestmark = pytest.mark.skipif(
    not TORCH_PASS, reason="the Triton kernels are torch-only: run once, in the torch pass"
)

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
ROOT = Path(__file__).resolve().parents[1]
# (atol, rtol) against float64; float32 errors are ~1e-6 (no TF32), float16 ~1e-3
TOLERANCE = {torch.float32: (1e-5, 1e-6), torch.float16: (2e-3, 2e-3), torch.bfloat16: (2e-2, 2e-2)}


def randn(*shape, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(DEVICE, dtype)


def qkv(batch, length, heads, dim, dtype=torch.float32, seed=0):
    return [
        randn(batch, length, heads, dim, dtype=dtype, seed=seed + i).requires_grad_()
        for i in range(3)
    ]


def holes(batch, length, seed=0):
    """A 0/1 mask with random holes; row 0 keeps its first key so it is never empty."""
    generator = torch.Generator().manual_seed(seed)
    mask = (torch.rand(batch, length, generator=generator) > 0.3).to(torch.int32)
    mask[0, 0] = 1
    return mask.to(DEVICE)


def check(q, k, v, mask=None, dropout_rate=0.0, seed=None, keep_mask=None):
    """Forward and backward of the kernel against the float64 reference; returns both."""
    atol, rtol = TOLERANCE[q.dtype]
    out = fa.flash_attention(q, k, v, padding_mask=mask, dropout_rate=dropout_rate, seed=seed)
    grad_out = randn(*out.shape, dtype=out.dtype, seed=99)
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    q64, k64, v64 = (x.detach().double().requires_grad_() for x in (q, k, v))
    expected = attention_reference(q64, k64, v64, mask, dropout_rate, keep_mask)
    expected_grads = torch.autograd.grad(expected, (q64, k64, v64), grad_out.double())
    torch.testing.assert_close(out.double(), expected, atol=atol, rtol=rtol)
    for name, got, want in zip("qkv", grads, expected_grads):
        torch.testing.assert_close(
            got.double(), want, atol=atol, rtol=rtol, msg=lambda m, name=name: f"d{name}: {m}"
        )
    return out, grads


def test_kernels_run_interpreted_without_cuda():
    from triton.runtime.interpreter import InterpretedFunction

    if not CUDA:
        assert tiles.INTERPRET and isinstance(fwd._attn_fwd.fn, InterpretedFunction)
        assert len(tiles.FWD_CONFIGS) == len(tiles.DKDV_CONFIGS) == len(tiles.DQ_CONFIGS) == 1


@pytest.mark.parametrize(
    "length,dim,dtype,masked",
    [
        (1, 32, torch.float32, False),
        (17, 64, torch.float32, True),
        (67, 32, torch.float32, False),
        (67, 64, torch.float16, True),
        (130, 32, torch.float16, False),
        (130, 32, torch.float32, True),
        (20, 128, torch.float32, True),
    ],
)
def test_matches_reference_at_ragged_lengths(length, dim, dtype, masked):
    q, k, v = qkv(2, length, 2, dim, dtype)
    check(q, k, v, holes(2, length) if masked else None)


def test_masked_keys_and_fully_masked_rows_get_zero():
    q, k, v = qkv(3, 19, 2, 32)
    mask = holes(3, 19).float()  # any dtype: nonzero = attend
    mask[1] = 0  # every key of sequence 1 masked
    out, (dq, dk, dv) = check(q, k, v, mask)
    assert torch.all(out[1] == 0) and torch.all(dq[1] == 0)
    assert torch.all(dk[1] == 0) and torch.all(dv[1] == 0)
    # a masked key has exactly 0 probability: it gets no gradient at all
    hidden = mask == 0
    assert torch.all(dk[hidden] == 0) and torch.all(dv[hidden] == 0)


def test_fused_qkv_views_are_read_through_strides(monkeypatch):
    # What a fused QKV projection gives: [B, N, 3, H, D] sliced, not contiguous.
    batch, length, heads, dim = 2, 23, 3, 32
    fused = randn(batch, length, 3, heads, dim).requires_grad_()
    q, k, v = fused.unbind(2)
    assert not q.is_contiguous()
    launched = {}
    for module, name in ((fwd, "_attn_fwd"), (bwd, "_attn_bwd_dkdv"), (bwd, "_attn_bwd_dq")):
        kernel = getattr(module, name)

        def spy(*args, _run=kernel.run, _name=name, **kwargs):
            launched[_name] = args[:3]
            return _run(*args, **kwargs)

        monkeypatch.setattr(kernel, "run", spy)
    out = fa.flash_attention(q, k, v)
    out.sum().backward()  # an expanded (stride 0) dO, also read in place
    for name, (q_arg, k_arg, v_arg) in launched.items():
        for got, want in ((q_arg, q), (k_arg, k), (v_arg, v)):
            assert got.data_ptr() == want.data_ptr() and got.stride() == want.stride(), name
    assert set(launched) == {"_attn_fwd", "_attn_bwd_dkdv", "_attn_bwd_dq"}
    expected_fused = fused.detach().double().requires_grad_()
    expected = attention_reference(*expected_fused.unbind(2))
    expected.sum().backward()
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(fused.grad.double(), expected_fused.grad, atol=1e-5, rtol=1e-6)


def kernel_keep_mask(batch, length, heads, rate, seed):
    """The kernel's dropout mask, read off the output: with q = k = 0 and v =
    identity (length <= head_dim) the output row i is the dropped-out
    probability row, 1/N/(1 - rate) where kept and 0 where dropped."""
    q = torch.zeros(batch, length, heads, length, device=DEVICE)
    v = torch.eye(length, device=DEVICE)[None, :, None, :].expand(batch, length, heads, length)
    out = fa.flash_attention(q, q, v, dropout_rate=rate, seed=seed)
    kept = out != 0
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / length / (1 - rate)))
    return kept.permute(0, 2, 1, 3)  # [B, H, i, j]


def test_dropout_keeps_at_rate_and_backward_uses_the_forward_mask():
    batch, length, heads, rate = 2, 32, 4, 0.25
    seed = torch.tensor([1234], device=DEVICE)
    keep = kernel_keep_mask(batch, length, heads, rate, seed)
    samples = keep.numel()
    sigma = ((1 - rate) * rate / samples) ** 0.5
    assert abs(keep.float().mean().item() - (1 - rate)) < 5 * sigma
    # the mask depends on the seed and the position only: reuse it with real
    # data, a padding mask and gradients through the reference
    q, k, v = qkv(batch, length, heads, 32, seed=5)
    check(q, k, v, holes(batch, length), rate, seed, keep_mask=keep)


def test_dropout_seed_reproduces_and_varies():
    q, k, v = (x.detach() for x in qkv(2, 24, 2, 32))

    def run(seed):
        return fa.flash_attention(
            q, k, v, dropout_rate=0.5, seed=torch.tensor([seed], device=DEVICE)
        )

    torch.testing.assert_close(run(7), run(7), atol=0, rtol=0)
    assert not torch.equal(run(7), run(8))
    fresh = [
        fa.flash_attention(q, k, v, dropout_rate=0.5) for _ in range(2)
    ]  # seed=None: drawn on the device
    assert not torch.equal(*fresh)


def test_dropout_counter_is_int64():
    # The Philox counter ((b*H + h)*N + i)*N + j passes 2**31 at large batch;
    # the kernel's helper must give the numbers of the exact int64 index.
    import triton
    import triton.language as tl

    @triton.jit
    def probe(Out, Expected, seed, off_bh, N, BLOCK: tl.constexpr):
        rows = tl.arange(0, BLOCK)
        cols = tl.arange(0, BLOCK)
        keep = tiles.dropout_keep(seed, off_bh, rows[:, None], cols[None, :], N, 0.5)
        tl.store(Out + rows[:, None] * BLOCK + cols[None, :], keep.to(tl.int8))
        offsets = tl.load(Expected + rows[:, None] * BLOCK + cols[None, :])
        tl.store(
            Out + BLOCK * BLOCK + rows[:, None] * BLOCK + cols[None, :],
            (tl.rand(seed, offsets) >= 0.5).to(tl.int8),
        )

    off_bh, length, block = 40_000, 4096, 16  # counter ~ 6.7e11
    index = torch.arange(block, dtype=torch.int64)
    expected = ((off_bh * length + index[:, None]) * length + index[None, :]).to(DEVICE)
    assert expected.max() > 2**31
    out = torch.empty(2, block, block, dtype=torch.int8, device=DEVICE)
    probe[(1,)](out, expected, 42, off_bh, length, BLOCK=block)
    assert torch.equal(out[0], out[1]) and 0 < out[0].sum() < block * block


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_gradcheck_float64(rate):
    # float64 accumulates in float64 in the kernel (tl.dot supports it), so
    # finite differences are meaningful. The full Jacobian on the smallest
    # shape; the cheap fast_mode check on one with padding and an empty row.
    seed = torch.tensor([3], device=DEVICE)

    def fn(mask):
        return lambda q, k, v: fa.flash_attention(q, k, v, mask, rate, seed)

    tiny = qkv(1, 3, 1, 16, torch.float64)
    assert torch.autograd.gradcheck(fn(torch.tensor([[1, 0, 1]], device=DEVICE)), tiny)
    mask = holes(2, 9)
    mask[1] = 0
    small = qkv(2, 9, 2, 16, torch.float64, seed=7)
    assert torch.autograd.gradcheck(fn(mask), small, fast_mode=True)


@pytest.mark.skipif(not CUDA, reason="triton 3.9's interpreter computes bfloat16 wrongly: GPU only")
@pytest.mark.parametrize("length,dim,rate", [(128, 64, 0.1), (333, 128, 0.0)])
def test_bfloat16_on_gpu(length, dim, rate):
    q, k, v = qkv(4, length, 4, dim, torch.bfloat16)
    seed = torch.tensor([5], device=DEVICE)
    keep = kernel_keep_mask(4, length, 4, rate, seed) if rate else None
    check(q, k, v, holes(4, length), rate, seed, keep_mask=keep)


@pytest.mark.skipif(not CUDA, reason="torch.compile of Triton kernels needs a GPU")
def test_torch_compile_traces_the_kernel():
    """triton_op lets torch.compile keep the kernels in its graph: forward and gradients match eager."""
    q, k, v = qkv(2, 200, 4, 64, torch.float16)
    mask = holes(2, 200)

    def loss(q, k, v):
        return fa.flash_attention(q, k, v, mask).float().square().sum()

    compiled = torch.compile(loss, fullgraph=True)
    eager_grads = torch.autograd.grad(loss(q, k, v), (q, k, v))
    compiled_value = compiled(q, k, v)
    torch.testing.assert_close(compiled_value, loss(q, k, v), atol=1e-2, rtol=1e-3)
    for got, want in zip(torch.autograd.grad(compiled_value, (q, k, v)), eager_grads):
        torch.testing.assert_close(got, want, atol=2e-3, rtol=2e-3)


@pytest.mark.large
def test_ahead_of_time_compile_for_sm90_and_sm80():
    """The GPU build (PTX, cubin) of every kernel, without a GPU: the
    interpreter tests above would miss a change only the compiler rejects."""
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compile_kernels.py"), "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_pretrainer_trains_through_the_kernel_as_through_standard_ops():
    """A tiny ElectraPretrainer (dropout 0): its `fit` step, and the gradients of its
    training loss, through the kernel equal those through standard ops."""
    from conftest import VOCAB, gradients, make_batch

    import keras_electra as ke

    x = make_batch(np.random.default_rng(0), batch_size=4, length=24)

    def fit_and_gradients(implementation):
        def pretrainer():  # fresh, identically seeded: masking and sampling draw the same numbers
            return ke.ElectraPretrainer.from_size(
                "tiny",
                vocab_size=VOCAB,
                dropout=0.0,
                attention_implementation=implementation,
                seed=0,
            )

        model = pretrainer()
        model.compile(learning_rate=1e-3, warmup_steps=0, total_steps=10)
        history = model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"]
        model = pretrainer()

        def loss():
            out = model(x, training=True)
            mlm = ke.mlm_loss(out["mlm_logits"], out["mlm_labels"], out["mlm_weights"])
            return mlm + 50.0 * ke.discriminator_loss(
                out["disc_logits"], out["disc_labels"], x["padding_mask"]
            )

        model(x)  # build
        return history, gradients(loss, model.trainable_weights)

    losses, grads = {}, {}
    for implementation in ("triton", "standard"):
        losses[implementation], grads[implementation] = fit_and_gradients(implementation)
    np.testing.assert_allclose(losses["triton"], losses["standard"], rtol=1e-6)
    for got, want in zip(grads["triton"], grads["standard"]):
        if want is None:
            assert got is None
            continue
        np.testing.assert_allclose(got, want, atol=1e-6 + 1e-4 * np.abs(want).max())


def test_gpu_check_scripts_are_well_formed():
    """The GPU check cannot run here; it must at least parse, so a GPU session need not debug it."""
    import py_compile

    for script in ("attention.py", "pretrain_step_gpu.py"):
        py_compile.compile(str(ROOT / "benchmarks" / script), doraise=True)
    result = subprocess.run(
        ["bash", "-n", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_without_dropout_the_kernel_draws_no_seed_as_the_standard_path():
    """Both paths must leave a layer's seed generator where it was, or switching paths mid-run
    would change every later dropout mask."""
    import keras_electra as ke

    q = randn(1, 5, 1, 16)
    states = {}
    for implementation in ("triton", "standard"):
        generator = keras.random.SeedGenerator(3)
        ke.attention(q, q, q, dropout_rate=0.0, seed=generator, implementation=implementation)
        states[implementation] = keras.ops.convert_to_numpy(generator.state.value).tolist()
    assert (
        states["triton"]
        == states["standard"]
        == keras.ops.convert_to_numpy(keras.random.SeedGenerator(3).state.value).tolist()
    )
