"""GPU benchmark of the Triton flash attention against torch SDPA and a naive path.

    python benchmarks/attention.py --out benchmarks/results/attention.md
    python benchmarks/attention.py --out /tmp/a.md --only electra   # or: long
    python benchmarks/attention.py --out /tmp/a.md --dry-run         # CPU, interpreter, tiny shapes

bfloat16 in the Keras layout [batch, seq, heads, head_dim]. For every shape and
implementation: median ms (triton.testing.do_bench) of forward, backward and
both, TFLOP/s (forward 4*B*H*N^2*D flops, backward 2.5x, both 3.5x), peak
memory above the inputs (torch.cuda.max_memory_allocated) and the max abs
error of the output and of dq/dk/dv against a float32 reference on a slice of
the batch/heads. SDPA gets views transposed to [B, H, N, D], as a Keras layer
would pass, and the padding mask as a boolean attn_mask [B, 1, 1, N]; a
backend that refuses a case (flash with a mask, say) shows 'n/a'. Dropout runs
with each implementation's own RNG, so only ours (whose mask can be rebuilt
from the seed) gets an error number there.

Needs torch and triton only (no Keras): the kernels load from the checkout's
kernels/ folder, installed or not.
"""

import argparse
import os
import sys
import time
from pathlib import Path

if "--dry-run" in sys.argv:
    os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

from kernels import flash_attention as fa  # noqa: E402
from kernels import flash_attention_backward as bwd  # noqa: E402
from kernels import flash_attention_forward as fwd  # noqa: E402
from kernels import flash_attention_tiles as tiles  # noqa: E402
from kernels.reference import attention_reference  # noqa: E402

DTYPE = torch.bfloat16
DROPOUT = 0.1
# (name, batch, heads, seq, head_dim)
ELECTRA = [
    ("small", 128, 4, 128, 64),
    ("base", 64, 12, 512, 64),
    ("base", 256, 12, 512, 64),
    ("large", 32, 16, 512, 64),
]
LONG = [
    ("long", 16384 // n, 32, n, d) for d in (64, 128) for n in (512, 1024, 2048, 4096, 8192, 16384)
]
DRY_RUN = [("dry", 2, 2, 40, 32)]
REFERENCE_ELEMENTS = 2**27  # batch*heads*N*N of the float32 reference (a slice of the problem)


# ---------------------------------------------------------------- implementations
# Each takes q, k, v [B, N, H, D], a bool padding mask [B, N] or None and a
# dropout rate, and returns [B, N, H, D].


def ours(q, k, v, mask, dropout, seed=None):
    return fa.flash_attention(q, k, v, padding_mask=mask, dropout_rate=dropout, seed=seed)


def sdpa(backend):
    def run(q, k, v, mask, dropout):
        attn_mask = None if mask is None else mask[:, None, None, :]
        q, k, v = (x.transpose(1, 2) for x in (q, k, v))
        if backend is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        else:
            with sdpa_kernel(backend):
                out = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=attn_mask, dropout_p=dropout
                )
        return out.transpose(1, 2)

    return run


def naive(q, k, v, mask, dropout):
    """What a Keras layer does without a fused kernel: scores in memory."""
    scores = torch.einsum("bihd,bjhd->bhij", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    probs = F.dropout(probs, dropout) if dropout else probs
    return torch.einsum("bhij,bjhd->bihd", probs, v)


IMPLEMENTATIONS = {
    "triton (ours)": ours,
    "sdpa flash": sdpa(SDPBackend.FLASH_ATTENTION),
    "sdpa efficient": sdpa(SDPBackend.EFFICIENT_ATTENTION),
    "sdpa cudnn": sdpa(SDPBackend.CUDNN_ATTENTION),
    "sdpa auto": sdpa(None),
    "naive": naive,
}


@triton.jit
def _keep_mask_kernel(Out, Seed, N, dropout_p, BLOCK: tl.constexpr):
    # The kernels' own dropout helper: the mask ours applied for this seed.
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    off_bh = tl.program_id(2)
    keep = tiles.dropout_keep(tl.load(Seed), off_bh, rows[:, None], cols[None, :], N, dropout_p)
    offsets = (off_bh.to(tl.int64) * N + rows[:, None]) * N + cols[None, :]
    tl.store(Out + offsets, keep.to(tl.int8), mask=(rows[:, None] < N) & (cols[None, :] < N))


def keep_mask(batch, heads, length, dropout, seed):
    out = torch.empty(batch, heads, length, length, dtype=torch.int8, device=seed.device)
    block = 32
    _keep_mask_kernel[(triton.cdiv(length, block), triton.cdiv(length, block), batch * heads)](
        out, seed, length, dropout, BLOCK=block
    )
    return out.bool()


# ---------------------------------------------------------------- measurement


def bench(fn, device):
    fn()  # compile and autotune outside the timing
    if device == "cuda":
        return triton.testing.do_bench(fn, return_mode="median")
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def peak_mib(fn, device):
    if device != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def inputs(batch, heads, length, dim, masked, device):
    generator = torch.Generator(device=device).manual_seed(0)
    q, k, v, do = (
        torch.randn(batch, length, heads, dim, device=device, dtype=DTYPE, generator=generator)
        for _ in range(4)
    )
    mask = None
    if masked:  # padded sequences: random lengths in [N/2, N]
        lengths = torch.randint(
            length // 2, length + 1, (batch,), device=device, generator=generator
        )
        mask = torch.arange(length, device=device)[None, :] < lengths[:, None]
    return [x.requires_grad_() for x in (q, k, v)], do, mask


def errors(name, fn, q, k, v, do, mask, dropout):
    """Max abs error of out and of dq/dk/dv against float32 on a slice of the problem."""
    batch, length, heads, _ = q.shape
    per_head = length * length
    sub_heads = heads if dropout else max(1, min(heads, REFERENCE_ELEMENTS // per_head))
    # the dropout counter depends on the head count: slice whole batches only then
    sub_batch = max(1, min(batch, REFERENCE_ELEMENTS // (per_head * sub_heads)))

    def view(x):
        return x.detach()[:sub_batch, :, :sub_heads]

    q_s, k_s, v_s = (view(x).requires_grad_() for x in (q, k, v))
    do_s = do[:sub_batch, :, :sub_heads]
    mask_s = None if mask is None else mask[:sub_batch]
    keep = None
    if dropout:
        if name != "triton (ours)":
            return "n/a (own RNG)", "n/a (own RNG)"
        seed = torch.tensor([1234], device=q.device)
        out = ours(q_s, k_s, v_s, mask_s, dropout, seed)
        keep = keep_mask(sub_batch, sub_heads, length, dropout, seed)
    else:
        out = fn(q_s, k_s, v_s, mask_s, dropout)
    grads = torch.autograd.grad(out, (q_s, k_s, v_s), do_s)
    q32, k32, v32 = (x.detach().float().requires_grad_() for x in (q_s, k_s, v_s))
    expected = attention_reference(q32, k32, v32, mask_s, dropout, keep)
    expected_grads = torch.autograd.grad(expected, (q32, k32, v32), do_s.float())
    out_error = (out.float() - expected).abs().max().item()
    grad_error = max((g.float() - e).abs().max().item() for g, e in zip(grads, expected_grads))
    return f"{out_error:.2e}", f"{grad_error:.2e}"


def time_backward(out, q, k, v, do, device):
    """The backward pass alone, over one forward's graph kept alive only while it is timed."""
    return bench(lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True), device)


def measure(name, fn, q, k, v, do, mask, dropout, device):
    def forward():
        return fn(q, k, v, mask, dropout)

    def both():
        return torch.autograd.grad(forward(), (q, k, v), do)

    row = {"fwd": bench(forward, device), "bwd": time_backward(forward(), q, k, v, do, device)}
    row["fwd+bwd"] = bench(both, device)
    row["peak fwd MiB"] = peak_mib(forward, device)
    row["peak fwd+bwd MiB"] = peak_mib(both, device)
    row["err out"], row["err grads"] = errors(name, fn, q, k, v, do, mask, dropout)
    return row


def run_case(label, batch, heads, length, dim, masked, device, results):
    flops = 4 * batch * heads * length * length * dim
    dropout = DROPOUT if masked else 0.0
    (q, k, v), do, mask = inputs(batch, heads, length, dim, masked, device)
    case = f"{label} B{batch} H{heads} N{length} D{dim}" + (
        f" mask+dropout{dropout}" if masked else ""
    )
    for name, fn in IMPLEMENTATIONS.items():
        if device != "cuda" and name.startswith("sdpa ") and name != "sdpa auto":
            row = {"error": "needs CUDA"}
        else:
            try:
                row = measure(name, fn, q, k, v, do, mask, dropout, device)
            except Exception as error:  # noqa: BLE001 - an illegal backend or shape, OOM: record, go on
                row = {"error": str(error).strip().splitlines()[0][:80]}
        if "fwd" in row:
            row["flops"] = {"fwd": flops, "bwd": 2.5 * flops, "fwd+bwd": 3.5 * flops}
        results.append((case, length, masked, name, row))
        print(case, name, {k: v for k, v in row.items() if k != "flops"}, flush=True)
        if device == "cuda":
            torch.cuda.empty_cache()


# ---------------------------------------------------------------- report


def fmt(value, digits=3):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.{digits}g}" if value < 1000 else f"{value:.0f}"


def tflops(row, key):
    return row["flops"][key] / (row[key] * 1e-3) / 1e12


def report(results, device_name):
    lines = [
        f"# Attention benchmark: {device_name}, {str(DTYPE).replace('torch.', '')}",
        "",
        f"torch {torch.__version__}, triton {triton.__version__}. Median ms (triton.testing.do_bench); "
        "TFLOP/s with forward = 4*B*H*N^2*D flops, backward 2.5x, both 3.5x; peak memory above the inputs; "
        "max abs error of the output and of dq/dk/dv against a float32 reference.",
        "",
        "| case | implementation | fwd ms | fwd TFLOP/s | bwd ms | bwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s "
        "| peak fwd MiB | peak fwd+bwd MiB | err out | err grads |",
        "|" + "---|" * 12,
    ]
    for case, _, _, name, row in results:
        if "error" in row:
            lines.append(f"| {case} | {name} | n/a | | | | | | | | | {row['error']} |")
            continue
        cells = [case, name]
        for key in ("fwd", "bwd", "fwd+bwd"):
            cells += [fmt(row[key]), fmt(tflops(row, key))]
        cells += [
            fmt(row["peak fwd MiB"], 4),
            fmt(row["peak fwd+bwd MiB"], 4),
            row["err out"],
            row["err grads"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Targets", ""] + targets(results)
    lines += [
        "",
        "## Autotune choices of ours",
        "",
        "key (N, head_dim, mask, dropout, dtypes...) -> config",
        "",
    ]
    for kernel in (fwd._attn_fwd, bwd._attn_bwd_dkdv, bwd._attn_bwd_dq):
        for key, config in kernel.cache.items():
            lines.append(f"- {kernel.fn.__name__} {key}: {config}")
    return "\n".join(lines) + "\n"


def targets(results):
    by_case = {}
    for case, length, masked, name, row in results:
        by_case.setdefault((case, length, masked), {})[name] = row
    lines = []
    for (case, length, masked), rows in by_case.items():
        ours_row = rows.get("triton (ours)", {})
        if "fwd" not in ours_row:
            lines.append(f"- {case}: ours did not run ({ours_row.get('error')}): FAIL")
            continue
        if masked and not case.startswith("long"):
            auto = rows.get("sdpa auto", {})
            if "fwd+bwd" in auto:
                speedup = auto["fwd+bwd"] / ours_row["fwd+bwd"]
                verdict = "PASS" if speedup >= 2 else "FAIL"
                lines.append(
                    f"- {case}: fwd+bwd {speedup:.2f}x SDPA auto (target >= 2x): {verdict}"
                )
            else:
                lines.append(f"- {case}: SDPA auto did not run ({auto.get('error')})")
        if not masked and length >= 4096:
            fwd, bwd = tflops(ours_row, "fwd"), tflops(ours_row, "bwd")
            verdict = "PASS" if fwd >= 400 and bwd >= 250 else "FAIL"
            lines.append(
                f"- {case}: forward {fwd:.0f} TFLOP/s (target >= 400), "
                f"backward {bwd:.0f} TFLOP/s (target >= 250): {verdict}"
            )
    return lines


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="markdown file to write")
    parser.add_argument("--only", choices=["electra", "long"], help="one group of shapes")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="tiny shapes on CPU through the Triton interpreter: checks this script, not speed",
    )
    args = parser.parse_args()
    if args.dry_run:
        global DTYPE
        DTYPE = torch.float32  # the interpreter of triton 3.9 gets bfloat16 wrong
        device, shapes = "cpu", [(*shape, masked) for shape in DRY_RUN for masked in (False, True)]
        device_name = "CPU (dry run, Triton interpreter)"
    else:
        if not torch.cuda.is_available():
            sys.exit("needs a CUDA GPU (or --dry-run)")
        device, device_name = "cuda", torch.cuda.get_device_name()
        shapes = []
        if args.only in (None, "electra"):
            shapes += [(*shape, masked) for shape in ELECTRA for masked in (False, True)]
        if args.only in (None, "long"):
            shapes += [(*shape, False) for shape in LONG]
    results = []
    start = time.time()
    for label, batch, heads, length, dim, masked in shapes:
        run_case(label, batch, heads, length, dim, masked, device, results)
    text = report(results, device_name)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    print(f"wrote {args.out} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
