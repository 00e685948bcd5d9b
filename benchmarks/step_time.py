"""Pretraining step time of keras-electra per backend and size, on this machine.

    python benchmarks/step_time.py [--sizes tiny small] [--steps 10] [--out FILE]

Each backend runs in its own process (Keras picks its backend at import) on
the same batch: 32 sequences of 128 random tokens (vocabulary 30,522), the
reference's optimiser, `fit`'s compiled step. The table gives milliseconds per
step (median of the timed steps, after two warm-up steps that compile) and
each backend's speed relative to the fastest in the same run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def measure(size, steps, batch_size=32, length=128):
    import numpy as np

    import keras_electra as ke

    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30522, (batch_size, length)).astype("int32")
    ids[:, 0], ids[:, -1] = 101, 102
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    pre = ke.ElectraPretrainer.from_size(size, seed=0)
    pre.compile(learning_rate=5e-4, warmup_steps=1, total_steps=10_000)
    times = []
    for step in range(steps + 2):
        start = time.perf_counter()
        logs = pre.train_on_batch(x, return_dict=True)
        float(logs["loss"])  # wait for the step to finish
        if step >= 2:
            times.append(time.perf_counter() - start)
    return {
        "ms_per_step": 1000 * statistics.median(times),
        "tokens_per_s": batch_size * length / statistics.median(times),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.steps)))
        return
    rows = []
    for size in args.sizes:
        results = {}
        for backend in BACKENDS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", size, "--steps", str(args.steps)],
                env={**os.environ, "KERAS_BACKEND": backend},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results[backend] = json.loads(out.strip().splitlines()[-1])
        fastest = min(r["ms_per_step"] for r in results.values())
        for backend, r in results.items():
            rows.append(
                f"| {size} | {backend} | {r['ms_per_step']:.0f} | {r['tokens_per_s']:.0f} "
                f"| {fastest / r['ms_per_step']:.2f} |"
            )
    table = "\n".join(
        [
            "| size | backend | ms/step | tokens/s | speed vs fastest |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(
                f"Batch 32 x length 128, float32, {os.cpu_count()} CPU cores, "
                f"median of {args.steps} steps.\n\n{table}\n"
            )


if __name__ == "__main__":
    main()
