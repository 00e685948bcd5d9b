"""Serving speed: our ONNX export under ONNX Runtime against Hugging Face transformers, and the
TensorFlow SavedModel, with the same weights, on 2 CPU threads each (docs/serving.md, "Speed").

    KERAS_BACKEND=tensorflow python benchmarks/serving.py [--runs 200] [--out FILE]

An ELECTRA-Small-sized classifier (hidden 256, 12 layers, 4 heads, embedding 128, vocabulary 30,522,
2 classes, Hugging Face's head; random weights, seed 0) is exported by `keras-electra export`'s own
code (`serving.exporter.export_model`: onnx and tf_saved_model from TensorFlow) and written with
`save_huggingface` for `ElectraForSequenceClassification` (torch, eager, `torch.inference_mode`).
Each runtime runs batches of 1 x 128 and 32 x 128 random token ids after 3 warm-up calls: the
latency's median and 99th percentile, and sequences a second. ONNX Runtime runs twice: with its
defaults, and with `session.intra_op.allow_spinning=0`. The largest |logit difference| from
transformers is printed first: the three run the same model.
"""

import argparse
import os
import platform
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


def frameworks():
    """torch, transformers and triton first: triton 3.7-3.9 (which transformers imports when it
    loads a model) aborts the process when it loads after TensorFlow; each framework then gets
    THREADS threads before its first op."""
    import torch
    import transformers

    try:
        import triton  # noqa: F401
    except ImportError:
        pass

    torch.set_num_threads(THREADS)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return torch, transformers, tf


def build(directory):
    """The classifier, exported as onnx and tf_saved_model and written for transformers."""
    import keras_electra as ke
    from keras_electra.serving.exporter import export_model

    backbone = ke.ElectraBackbone(**SMALL, seed=0)
    model = ke.ElectraClassifier(backbone, 2, head="huggingface", seed=0)
    for format in ("onnx", "tf_saved_model"):
        start = time.time()
        export_model(model, directory, format, LENGTH)
        print(f"exported {format} in {time.time() - start:.0f} s", file=sys.stderr)
    ke.save_huggingface(model, directory / "huggingface")


def runners(directory, torch, transformers, tf):
    """name -> a function from int32 input arrays to logits (NumPy)."""
    import onnxruntime

    sessions = []
    for spinning in ("1", "0"):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        sessions.append(
            onnxruntime.InferenceSession(
                str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        )
    saved = tf.saved_model.load(str(directory / "saved_model"))
    hf = transformers.ElectraForSequenceClassification.from_pretrained(directory / "huggingface")
    hf.eval()

    def huggingface(x):
        with torch.inference_mode():
            return hf(
                input_ids=torch.from_numpy(x["token_ids"]).long(),
                token_type_ids=torch.from_numpy(x["segment_ids"]).long(),
                attention_mask=torch.from_numpy(x["padding_mask"]).long(),
            ).logits.numpy()

    return {
        "transformers (torch eager)": huggingface,
        "ONNX Runtime (our onnx export)": lambda x: sessions[0].run(None, x)[0],
        # Its threads then sleep instead of spinning between ops: on a machine whose cores other
        # jobs hold, a spinning thread waits on them.
        "ONNX Runtime, threads not spinning": lambda x: sessions[1].run(None, x)[0],
        "TensorFlow (our tf_saved_model export)": lambda x: saved.serve(x).numpy(),
    }, hf.config._attn_implementation


def inputs(batch, rng):
    ids = rng.integers(1000, SMALL["vocab_size"], (batch, LENGTH)).astype("int32")
    ids[:, 0], ids[:, -1] = 101, 102
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}


def timed(run, x, runs):
    """Latencies (s) of `runs` calls after 3 warm-up calls."""
    for _ in range(3):
        run(x)
    latencies = []
    for _ in range(runs):
        start = time.perf_counter()
        run(x)
        latencies.append(time.perf_counter() - start)
    return np.array(latencies)


def measure(runs_of, runs):
    """Rows (runtime, batch, median ms, p99 ms, sequences/s) and the largest logit difference."""
    rng = np.random.default_rng(0)
    rows, gaps = [], {}
    for batch in BATCHES:
        x = inputs(batch, rng)
        reference = runs_of["transformers (torch eager)"](x)
        for name, run in runs_of.items():
            gaps[name] = max(gaps.get(name, 0.0), float(np.abs(run(x) - reference).max()))
            latencies = timed(run, x, runs if batch == 1 else max(runs // 10, 10))
            rows.append(
                (name, batch, *np.percentile(latencies, [50, 99]) * 1e3, batch / latencies.mean())
            )
    return rows, gaps


def report(rows, gaps, attention, runs, load_before):
    lines = [
        f"`KERAS_BACKEND=tensorflow python benchmarks/serving.py --runs {runs}`: {cpu_name()}, "
        f"{THREADS} threads a runtime, {LENGTH} tokens, float32; 1-minute load average "
        f"{load_before:.1f} before the run and {os.getloadavg()[0]:.1f} after (other jobs share the "
        f"machine's {os.cpu_count()} cores). transformers' attention: {attention}. "
        "Largest |logit - transformers'|: "
        + ", ".join(f"{name} {gap:.1e}" for name, gap in gaps.items() if gap > 0),
        "",
        "| runtime | batch | median ms | p99 ms | sequences/s | speed-up over transformers |",
        "|---|---|---|---|---|---|",
    ]
    baseline = {batch: median for name, batch, median, _, _ in rows if name.startswith("trans")}
    for name, batch, median, p99, throughput in rows:
        lines.append(
            f"| {name} | {batch} | {median:.1f} | {p99:.1f} | {throughput:.1f} | "
            f"{baseline[batch] / median:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def cpu_name():
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=200, help="timed calls at batch 1 (a tenth at 32)"
    )
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    torch, transformers, tf = frameworks()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        build(directory)
        runs_of, attention = runners(directory, torch, transformers, tf)
        rows, gaps = measure(runs_of, args.runs)
    text = report(rows, gaps, attention, args.runs, load)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
