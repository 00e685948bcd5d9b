"""GFLOP/s of one matrix product of the ELECTRA-Small step's shape (4,096 x 256 by 256 x 1,024), per
backend and dtype, 2 threads: what each backend's CPU library makes of float32 and bfloat16
(docs/performance.md, "bfloat16 on a CPU").

    python benchmarks/matmul_rate.py [--backends torch jax tensorflow] [--xla-flags="..."]

Each backend runs in its own process (median of 30 products after 3 warm-up ones); `--xla-flags`
sets JAX's XLA_FLAGS, e.g. `--xla-flags="--xla_cpu_experimental_onednn_fusion_type=dot"`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

M, K, N = 4096, 256, 1024


def product(backend, dtype):
    """A function computing the product of two fixed random matrices, waiting for its result."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
    if backend == "torch":
        import torch

        torch.set_num_threads(2)
        a, b = (torch.tensor(m, dtype=getattr(torch, dtype)) for m in (a, b))
        return lambda: a @ b
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        a, b = (jnp.asarray(m, dtype) for m in (a, b))
        matmul = jax.jit(jnp.matmul)
        return lambda: matmul(a, b).block_until_ready()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    a, b = (tf.constant(m, dtype) for m in (a, b))
    matmul = tf.function(tf.matmul)
    return lambda: matmul(a, b).numpy()


def rate(backend, dtype):
    run = product(backend, dtype)
    for _ in range(3):
        run()
    times = []
    for _ in range(30):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 2 * M * K * N / statistics.median(times) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["torch", "jax", "tensorflow"])
    parser.add_argument("--xla-flags", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rates = [f"{rate(args.child, dtype):.0f}" for dtype in ("float32", "bfloat16")]
        print(" | ".join(rates))
        return
    print("| backend | float32 GFLOP/s | bfloat16 GFLOP/s |\n|---|---:|---:|")
    for backend in args.backends:
        env = {**os.environ, "XLA_FLAGS": args.xla_flags} if backend == "jax" else os.environ
        child = [sys.executable, __file__, "--child", backend]
        rates = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
        label = f"jax {args.xla_flags}".strip() if backend == "jax" else backend
        print(f"| {label} | {rates.stdout.strip().splitlines()[-1]} |")


if __name__ == "__main__":
    main()
