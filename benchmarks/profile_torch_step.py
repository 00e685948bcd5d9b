"""Where the PyTorch backend's ELECTRA-Small pretraining step spends its time, by op, in a precision
(docs/performance.md, "bfloat16 on a CPU").

    python benchmarks/profile_torch_step.py [float32|mixed_bfloat16]

Two `fit` steps on a random 32 x 128 batch (vocabulary 8,800, as the step benchmark's corpus gives),
after two warm-up steps, under `torch.profiler`, 2 threads; prints each op's self CPU time a step.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer  # noqa: E402

STEPS, ROWS = 2, 14


def main(policy):
    torch.set_num_threads(2)
    ids = np.random.default_rng(0).integers(5, 8800, (32, 128)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    pretrainer = ElectraPretrainer.from_size("small", vocab_size=8800, seed=0, dtype=policy)
    pretrainer.compile(learning_rate=5e-4, warmup_steps=2, total_steps=1000)
    pretrainer.fit(x, batch_size=32, epochs=2, verbose=0, shuffle=False)  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        pretrainer.fit(x, batch_size=32, epochs=STEPS, verbose=0, shuffle=False)
    events = profile.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    print(f"{policy}: {total / STEPS / 1e3:.0f} ms a step (self CPU time, profiler included)")
    for event in sorted(events, key=lambda event: -event.self_cpu_time_total)[:ROWS]:
        share = 100 * event.self_cpu_time_total / total
        print(
            f"  {event.key[:40]:40s} {event.self_cpu_time_total / STEPS / 1e3:7.0f} ms "
            f"{share:5.1f}%  {event.count // STEPS} calls a step"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "mixed_bfloat16")
