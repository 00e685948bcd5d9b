"""Where a backend's ELECTRA-Small pretraining step spends its time, by op, in a precision
(docs/performance.md, "bfloat16 on a CPU").

    python benchmarks/profile_step.py BACKEND [float32|mixed_bfloat16] [--size small]

Two `fit` steps on a random 32 x 128 batch (vocabulary 8,800, as the step benchmark's corpus gives),
after two warm-up steps, 2 threads, under the backend's own profiler: `torch.profiler` (self CPU time
of each aten op), JAX's and TensorFlow's trace (time of each XLA kernel, or TensorFlow op, on the
compute threads, read with `jax.profiler.ProfileData`, so TensorFlow's needs jax installed too). Kernels
and ops are grouped by kind: XLA's `ynn_fusion.12` and `ynn_fusion.40` are one row, TensorFlow's
`.../MatMul_3:MatMul` is `MatMul`.
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

ROWS, STEPS = 16, 2


def pretrainer_and_batch(size, policy):
    import numpy as np

    from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

    ids = np.random.default_rng(0).integers(5, 8800, (32, 128)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    pretrainer = ElectraPretrainer.from_size(size, vocab_size=8800, seed=0, dtype=policy)
    pretrainer.compile(learning_rate=5e-4, warmup_steps=2, total_steps=1000)
    pretrainer.fit(x, batch_size=32, epochs=2, verbose=0, shuffle=False)  # warm-up and compile
    return pretrainer, x


def timed_steps(pretrainer, x):
    """Runs STEPS steps; returns wall seconds a step."""
    start = time.perf_counter()
    pretrainer.fit(x, batch_size=32, epochs=STEPS, verbose=0, shuffle=False)
    return (time.perf_counter() - start) / STEPS


def torch_rows(pretrainer, x):
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        wall = timed_steps(pretrainer, x)
    rows = {
        event.key: (event.self_cpu_time_total / 1e3, event.count)
        for event in profile.key_averages()
    }
    return wall, rows


def trace_rows(backend, pretrainer, x):
    """Kernel or op time on the compute threads, from the backend's trace (an XSpace file)."""
    start, stop = tracer(backend)
    with tempfile.TemporaryDirectory() as logdir:
        start(logdir)
        wall = timed_steps(pretrainer, x)
        stop()
        (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        from jax.profiler import ProfileData

        space = ProfileData.from_file(path)
    rows = collections.defaultdict(lambda: [0.0, 0])
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                kind = kernel_kind(backend, line.name, event.name)
                if kind:
                    rows[kind][0] += event.duration_ns / 1e6
                    rows[kind][1] += 1
    return wall, rows


def tracer(backend):
    if backend == "jax":
        import jax

        return jax.profiler.start_trace, jax.profiler.stop_trace
    import tensorflow as tf

    return tf.profiler.experimental.start, tf.profiler.experimental.stop


def kernel_kind(backend, thread, name):
    """The row an event counts in, or None for the executors' own events that contain the kernels."""
    if backend == "jax":
        if not thread.startswith("tf_XLAEigen") or name.startswith(("ThunkExecutor", "end:")):
            return None
        return None if "Await" in name else re.sub(r"[.\d]+$", "", name)
    if not thread.startswith("tf_Compute") or ":" not in name or name.startswith("ExecutorState"):
        return None
    return name.rsplit(":", 1)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend", choices=("torch", "jax", "tensorflow"))
    parser.add_argument("policy", nargs="?", default="mixed_bfloat16")
    parser.add_argument("--size", default="small")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    if args.backend == "torch":
        import torch

        torch.set_num_threads(2)
    pretrainer, x = pretrainer_and_batch(args.size, args.policy)
    if args.backend == "torch":
        wall, rows = torch_rows(pretrainer, x)
    else:
        wall, rows = trace_rows(args.backend, pretrainer, x)
    total = sum(ms for ms, _ in rows.values())
    print(
        f"{args.backend} {args.policy} {args.size}: {1000 * wall:.0f} ms a step (wall, profiler "
        f"included); {total / STEPS:.0f} ms a step of op time (summed over threads)"
    )
    for kind, (ms, count) in sorted(rows.items(), key=lambda row: -row[1][0])[:ROWS]:
        print(
            f"  {kind[:40]:40s} {ms / STEPS:7.0f} ms {100 * ms / total:5.1f}%  "
            f"{count // STEPS} calls a step"
        )


if __name__ == "__main__":
    sys.exit(main())
