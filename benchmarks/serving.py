"""Serving speed: our ONNX export under ONNX Runtime (float32, and with int8 weight matrices) against
Hugging Face transformers, and the TensorFlow SavedModel, with the same weights, on 2 CPU threads each
(docs/serving.md, "Speed").

    KERAS_BACKEND=tensorflow python benchmarks/serving.py [--runs 200] [--out FILE]

An ELECTRA-Small-sized classifier (hidden 256, 12 layers, 4 heads, embedding 128, vocabulary 30,522,
2 classes, Hugging Face's head; random weights, seed 0) is exported by `keras-electra export`'s own
code (`serving.exporter.export_model`: onnx and tf_saved_model from TensorFlow) and written with
`save_huggingface` for `ElectraForSequenceClassification` (torch, eager, `torch.inference_mode`).
Each runtime then runs in a process of its own, so that no runtime's threads compete with another's,
and they take turns (10 calls of a batch 1 x 128, or 2 of a batch 32 x 128, each in its turn, round
after round), so that the load that other jobs put on the machine falls on all of them alike: the
latency's median and 99th percentile, and sequences a second, after 3 warm-up calls. transformers
and ONNX Runtime run twice: with their defaults, and with their threads waiting passively
(`OMP_WAIT_POLICY=PASSIVE`, `session.intra_op.allow_spinning=0`), which a machine that other jobs
share needs. The largest |logit difference| from transformers is printed first: all of them run the
same model.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

THREADS = 2
BATCHES = (1, 32)
LENGTH = 128
SMALL = dict(
    vocab_size=30522,
    num_layers=12,
    num_heads=4,
    hidden_dim=256,
    intermediate_dim=1024,
    embedding_dim=128,
)
# runtime -> its name in the table
RUNTIMES = {
    "transformers": "transformers (torch eager)",
    # OMP_WAIT_POLICY=PASSIVE: torch's OpenMP threads sleep instead of spinning at their barriers,
    # which on a busy machine otherwise stall for up to a second (docs/serving.md, "Speed").
    "transformers-passive": "transformers, OpenMP threads passive",
    "onnxruntime": "ONNX Runtime (our onnx export)",
    # Its threads then sleep instead of spinning between ops: on a machine whose cores other jobs
    # hold, a spinning thread waits on them.
    "onnxruntime-no-spinning": "ONNX Runtime, threads not spinning",
    "onnxruntime-int8": "ONNX Runtime, int8 weights (export --quantize int8)",
    "tensorflow": "TensorFlow (our tf_saved_model export)",
}


def build(directory):
    """The classifier, exported as onnx and tf_saved_model, written for transformers, and the inputs."""
    import keras_electra as ke
    from keras_electra.serving.exporter import export_model
    from keras_electra.serving.quantization import quantize_onnx

    backbone = ke.ElectraBackbone(**SMALL, seed=0)
    model = ke.ElectraClassifier(backbone, 2, head="huggingface", seed=0)
    for format in ("onnx", "tf_saved_model"):
        start = time.time()
        export_model(model, directory, format, LENGTH)
        print(f"exported {format} in {time.time() - start:.0f} s", file=sys.stderr)
    shutil.copy(directory / "model.onnx", directory / "int8.onnx")
    quantize_onnx(directory / "int8.onnx")
    ke.save_huggingface(model, directory / "huggingface")
    rng = np.random.default_rng(0)
    np.savez(directory / "inputs.npz", **{str(batch): random_ids(batch, rng) for batch in BATCHES})


def random_ids(batch, rng):
    ids = rng.integers(1000, SMALL["vocab_size"], (batch, LENGTH)).astype("int32")
    ids[:, 0], ids[:, -1] = 101, 102
    return ids


def runner(runtime, directory):
    """A function from int32 token ids `[batch, LENGTH]` to logits, importing only `runtime`."""
    if runtime.startswith("transformers"):
        import torch
        import transformers

        torch.set_num_threads(THREADS)
        torch.set_num_interop_threads(1)
        model = transformers.ElectraForSequenceClassification.from_pretrained(
            directory / "huggingface"
        ).eval()

        def run(ids):
            ids = torch.from_numpy(ids).long()
            with torch.inference_mode():
                return model(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    token_type_ids=torch.zeros_like(ids),
                ).logits.numpy()

        return run
    if runtime == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        saved = tf.saved_model.load(str(directory / "saved_model"))
        return lambda ids: saved.serve(features(ids)).numpy()
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
    spinning = "0" if runtime == "onnxruntime-no-spinning" else "1"
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
    file = "int8.onnx" if runtime == "onnxruntime-int8" else "model.onnx"
    session = onnxruntime.InferenceSession(
        str(directory / file), options, providers=["CPUExecutionProvider"]
    )
    return lambda ids: session.run(None, features(ids))[0]


def features(ids):
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}


def serve_timings(runtime, directory):
    """A runtime's process: loads `runtime`, saves its logits of each batch, says "ready", then for
    each line "BATCH CALLS" on stdin times that many calls and prints their latencies (s)."""
    run = runner(runtime, directory)
    inputs = np.load(directory / "inputs.npz")
    for batch in BATCHES:
        np.save(directory / f"{runtime}-{batch}.npy", run(inputs[str(batch)]))
        for _ in range(3):  # warm-up
            run(inputs[str(batch)])
    print("ready", flush=True)
    for line in sys.stdin:
        batch, calls = line.split()
        latencies = []
        for _ in range(int(calls)):
            start = time.perf_counter()
            run(inputs[batch])
            latencies.append(time.perf_counter() - start)
        print(json.dumps(latencies), flush=True)


def measure(directory, runs):
    """runtime -> `[batch, median ms, p99 ms, sequences/s]` rows, and runtime -> the largest |logit -
    transformers'|. Each runtime waits in a process of its own; they take turns, a few calls each,
    round after round, so that the load other jobs put on the machine falls on all of them alike."""
    processes = {}
    for runtime in RUNTIMES:
        environment = dict(os.environ)
        if runtime == "transformers-passive":
            environment["OMP_WAIT_POLICY"] = "PASSIVE"
        command = [sys.executable, __file__, "--time", runtime, "--dir", str(directory)]
        processes[runtime] = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment
        )
        assert processes[runtime].stdout.readline().strip() == "ready", runtime
    latencies = {(runtime, batch): [] for runtime in RUNTIMES for batch in BATCHES}
    for batch, rounds, calls in ((1, max(runs // 10, 1), 10), (32, max(runs // 20, 1), 2)):
        for round in range(rounds):
            order = (
                list(RUNTIMES)[round % len(RUNTIMES) :] + list(RUNTIMES)[: round % len(RUNTIMES)]
            )
            for runtime in order:
                processes[runtime].stdin.write(f"{batch} {calls}\n")
                processes[runtime].stdin.flush()
                latencies[runtime, batch] += json.loads(processes[runtime].stdout.readline())
                time.sleep(0.05)  # threads that spin after a call have stopped
    for process in processes.values():
        process.stdin.close()
        process.wait()
    rows = {
        runtime: [
            [batch, *np.percentile(latencies[runtime, batch], [50, 99]) * 1e3]
            + [batch / np.mean(latencies[runtime, batch])]
            for batch in BATCHES
        ]
        for runtime in RUNTIMES
    }
    gaps = {
        runtime: max(
            float(np.abs(np.load(directory / f"{runtime}-{b}.npy") - reference(directory, b)).max())
            for b in BATCHES
        )
        for runtime in RUNTIMES
        if not runtime.startswith("transformers")
    }
    return rows, gaps


def reference(directory, batch):
    return np.load(directory / f"transformers-{batch}.npy")


def report(rows, gaps, runs, load_before):
    lines = [
        f"`KERAS_BACKEND=tensorflow python benchmarks/serving.py --runs {runs}`: {cpu_name()}, "
        f"{THREADS} threads a runtime, each runtime in its own process, taking turns, {LENGTH} tokens, float32; "
        f"1-minute load average {load_before:.1f} before the run and {os.getloadavg()[0]:.1f} after "
        f"(other jobs share the machine's {os.cpu_count()} cores). Largest |logit - transformers'|: "
        + ", ".join(f"{RUNTIMES[runtime]} {gap:.1e}" for runtime, gap in gaps.items()),
        "",
        "| runtime | batch | median ms | p99 ms | sequences/s | median speed-up over transformers: "
        "default, passive threads |",
        "|---|---|---|---|---|---|",
    ]
    for index, batch in enumerate(BATCHES):
        default, passive = (rows[key][index][1] for key in ("transformers", "transformers-passive"))
        for runtime, name in RUNTIMES.items():
            _, median, p99, throughput = rows[runtime][index]
            lines.append(
                f"| {name} | {batch} | {median:.1f} | {p99:.1f} | {throughput:.1f} | "
                f"{default / median:.2f}x, {passive / median:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def cpu_name():
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=200, help="timed calls at batch 1 (a tenth at 32)"
    )
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--time", choices=RUNTIMES, help=argparse.SUPPRESS)  # a runtime's process
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time:
        serve_timings(args.time, args.dir)
        return
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        build(Path(directory))
        rows, gaps = measure(Path(directory), args.runs)
    text = report(rows, gaps, args.runs, load)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
