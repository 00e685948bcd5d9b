"""Ahead-of-time compile of the flash-attention kernels for sm_90 (H100/H200) and sm_80 (A100).

Runs the real Triton compiler (TTIR -> TTGIR -> LLVM IR -> PTX -> cubin with the
ptxas bundled in the triton wheel) without a GPU or CUDA driver, so a kernel
change that only the GPU build rejects (dot shapes, layouts, shared memory)
fails on a CPU machine too. It must run without TRITON_INTERPRET (the tests
start it in a subprocess).

    python benchmarks/compile_kernels.py            # every autotune config, dtype, head_dim
    python benchmarks/compile_kernels.py --quick    # a sample, what the test suite runs

Exits 1 when a kernel fails to compile or when some (kernel, dtype, head_dim)
has no autotune config that fits the target's shared memory.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.pop("TRITON_INTERPRET", None)  # before triton reads it: we want the GPU compiler
os.environ.setdefault(
    "TRITON_DEFAULT_FP_FUSION", "1"
)  # what a GPU run uses today; silences a warning

# Load the kernels from the checkout, installed or not; the modules import triton alone.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.runtime.autotuner import Autotuner  # noqa: E402

from kernels import flash_attention_backward as bwd  # noqa: E402
from kernels import flash_attention_forward as fwd  # noqa: E402
from kernels import flash_attention_tiles as tiles  # noqa: E402

# The driver reports warp_size 32 for every NVIDIA GPU; the compiler takes the
# warp size from its options (default 32), so this matches a real launch.
TARGETS = {
    "sm_90": (GPUTarget("cuda", 90, 32), 232448),
    "sm_80": (GPUTarget("cuda", 80, 32), 166912),
}
DTYPES = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64"}
KERNELS = {
    "fwd": (fwd._attn_fwd, tiles.FWD_CONFIGS),
    "bwd_dkdv": (bwd._attn_bwd_dkdv, tiles.DKDV_CONFIGS),
    "bwd_dq": (bwd._attn_bwd_dq, tiles.DQ_CONFIGS),
    "bwd_preprocess": (
        bwd._attn_bwd_preprocess,
        [triton.Config({"BLOCK_M": 128}, num_warps=4, num_stages=1)],
    ),
}
TENSORS = {"Q", "K", "V", "Out", "DO", "DQ", "DK", "DV"}


def source(kernel, dtype, head_dim, has_mask, has_dropout, config):
    """The ASTSource a launch with Keras-layout tensors would build.

    Mirrors Triton's launch-time specialisation: the head_dim stride is 1 (a
    constant), and pointers and the other tensor strides are multiples of 16.
    """
    fn = kernel.fn if isinstance(kernel, Autotuner) else kernel
    signature, constexprs, attrs = {}, {}, {}
    for index, name in enumerate(fn.arg_names):
        if name in TENSORS:
            signature[name], divisible = f"*{dtype}", True
        elif name in ("LSE", "Delta"):
            signature[name], divisible = "*fp64" if dtype == "fp64" else "*fp32", True
        elif name == "Mask":
            signature[name], divisible = "*i1", True
        elif name == "Seed":
            signature[name], divisible = "*i64", True
        elif name.endswith("d") and name.startswith("stride_") or name == "stride_mn":
            signature[name], constexprs[name], divisible = "constexpr", 1, False
        elif name.startswith("stride_") and name != "stride_mb":
            signature[name], divisible = "i32", True
        elif name == "dropout_p":
            signature[name], divisible = "fp32", False
        elif name in ("H", "N", "stride_mb"):
            signature[name], divisible = "i32", False
        else:
            signature[name], divisible = "constexpr", False
        if divisible:
            attrs[(index,)] = [["tt.divisibility", 16]]
    values = dict(
        HEAD_DIM=head_dim,
        HAS_MASK=has_mask,
        HAS_DROPOUT=has_dropout,
        **config.kwargs,
    )
    constexprs.update(
        {
            name: values[name]
            for name in fn.arg_names
            if signature[name] == "constexpr" and name in values
        }
    )
    missing = [
        name for name in fn.arg_names if signature[name] == "constexpr" and name not in constexprs
    ]
    assert not missing, f"no value for constexpr {missing} of {fn.__name__}"
    return triton.compiler.ASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=attrs)


def cases(arch, quick):
    """(kernel name, dtype, head_dim, mask, dropout, configs) to compile for one arch."""
    for name, (_kernel, configs) in KERNELS.items():
        if quick:
            # Each kernel with mask and dropout, in every dtype once, across the two
            # archs: the first (largest) config at bf16/fp16 and the last config,
            # which must fit float32 at head_dim 128 (float32 compiles slowly).
            if arch == "sm_90":
                yield name, "float16", 64, True, True, configs[:1]
                yield name, "float32", 32, True, True, configs[-1:]
                yield name, "float64", 16, True, True, configs[-1:]  # the tests' gradcheck on a GPU
            else:
                yield name, "bfloat16", 128, True, True, configs[-1:]
            continue
        for dtype in DTYPES:
            # float64 is for gradcheck on tiny shapes only
            for head_dim in (16, 32) if dtype == "float64" else (32, 64, 128):
                for flags in ((True, True), (False, False)):
                    yield (name, dtype, head_dim, *flags, configs)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="each kernel and dtype once (about 20 s)"
    )
    parser.add_argument("--arch", choices=sorted(TARGETS), action="append", help="default: all")
    args = parser.parse_args()
    assert not tiles.INTERPRET, "TRITON_INTERPRET is set: this would not compile for the GPU"

    failures, count, start = [], 0, time.time()
    for arch in args.arch or sorted(TARGETS):
        target, max_shared = TARGETS[arch]
        for name, dtype, head_dim, has_mask, has_dropout, configs in cases(arch, args.quick):
            fitting = []
            for config in configs:
                label = (
                    f"{arch} {name} {dtype} D={head_dim} mask={has_mask:d} dropout={has_dropout:d} "
                    f"{config.kwargs} warps={config.num_warps} stages={config.num_stages}"
                )
                src = source(
                    KERNELS[name][0], DTYPES[dtype], head_dim, has_mask, has_dropout, config
                )
                try:
                    compiled = triton.compile(
                        src,
                        target=target,
                        options={"num_warps": config.num_warps, "num_stages": config.num_stages},
                    )
                except Exception as error:  # noqa: BLE001 - report every failing variant, then exit 1
                    failures.append(
                        f"{label}: {type(error).__name__}: {str(error).splitlines()[0][:300]}"
                    )
                    print("FAIL", failures[-1], flush=True)
                    continue
                count += 1
                assert compiled.asm.get("cubin"), f"{label}: no cubin"
                shared = compiled.metadata.shared
                if shared <= max_shared:
                    fitting.append(config)
                print(
                    f"ok   {label}: {len(compiled.asm['ptx']) // 1024} KiB PTX, cubin {len(compiled.asm['cubin'])} B, "
                    f"shared {shared} B{'' if shared <= max_shared else ' (too much: autotune skips it)'}",
                    flush=True,
                )
            if not fitting:
                failures.append(
                    f"{arch} {name} {dtype} D={head_dim}: no config fits {max_shared} B of shared memory"
                )
                print("FAIL", failures[-1], flush=True)
    print(
        f"\n{count} kernels compiled to cubin in {time.time() - start:.0f} s; {len(failures)} failures"
    )
    for failure in failures:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
