"""The README's main job per backend and precision: its pretraining phase's speed, held-out metrics and demo.

    python benchmarks/main_job.py BACKEND:PRECISION[:SEED] ... [--python BACKEND=PYTHON ...]
        [--steps 600] [--out FILE]

Each run is the README's command, `keras-electra pretrain --size tiny --steps 600 --batch-size 32`,
with `--mixed-precision PRECISION --seed SEED` (seed 0 by default), one after another, each in a
process of its own: run them on a quiet machine. `--python jax=/path/to/venv/bin/python` runs a
backend in another environment, as a fresh install of that backend alone has it (a venv with
TensorFlow and tensorboard also writes TensorBoard logs, which the others do not).

Reported from each run's `metrics.json`: the pretraining phase's seconds (`train_seconds`: the
steps and the held-out evaluations, not the data, the model build or the demo), real (non-padding)
tokens a second, the held-out discriminator AUC and loss before and after, and the fine-tuning
demo's dev accuracy from the pretrained and from the initial encoder.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def run(spec, pythons, steps, workdir):
    backend, precision, seed = (spec.split(":") + ["0"])[:3]
    out = Path(workdir) / f"{backend}-{precision}-s{seed}"
    command = [pythons.get(backend, sys.executable), "-m", "keras_electra", "pretrain"]
    command += ["--size", "tiny", "--steps", str(steps), "--batch-size", "32"]
    command += ["--mixed-precision", precision, "--seed", seed, "--out", str(out)]
    env = {**os.environ, "KERAS_BACKEND": backend}
    with open(f"{out}.log", "w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return summary(out, backend, seed, steps)


def summary(out, backend, seed, steps):
    """The row of a finished run in directory `out`."""
    metrics = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    examples = np.concatenate([np.load(out / "data" / s["file"]) for s in manifest["shards"]])
    text = float(np.mean(examples != manifest["special_token_ids"]["pad"]))
    seconds = metrics["train_seconds"]
    demo = metrics.get("finetuning", {})
    return {
        "run": f"{backend}, {metrics['mixed_precision']}, seed {seed}",
        "history": out / "history.csv",
        "seconds": seconds,
        "tokens_per_second": steps * 32 * examples.shape[1] * text / seconds,
        "auc": (metrics["before"]["disc_auc"], metrics["after"]["disc_auc"]),
        "loss": (metrics["before"]["disc_loss"], metrics["after"]["disc_loss"]),
        "demo": (demo.get("pretrained_accuracy"), demo.get("random_init_accuracy")),
    }


def plot_curves(results, path, steps):
    """The held-out discriminator AUC and loss after each logging interval, a line per run."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for result in results:
        with open(result["history"]) as f:
            rows = list(csv.DictReader(f))
        at = [(int(row["epoch"]) + 1) * steps // len(rows) for row in rows]
        for axis, metric in zip(axes, ("val_disc_auc", "val_disc_loss")):
            axis.plot(at, [float(row[metric]) for row in rows], label=result["run"])
            axis.set_xlabel("step")
            axis.set_title(f"held-out {metric[4:]}")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def table(results, steps):
    lines = [
        f"| run | pretraining s ({steps} steps) | speed vs first | real tokens/s | "
        "held-out disc AUC | held-out disc loss | demo: pretrained / initial encoder |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for result in results:
        demo = " / ".join("-" if v is None else f"{v:.4f}" for v in result["demo"])
        lines.append(
            f"| {result['run']} | {result['seconds']:.1f} | "
            f"{results[0]['seconds'] / result['seconds']:.2f}x | "
            f"{result['tokens_per_second']:,.0f} | {result['auc'][0]:.4f} -> {result['auc'][1]:.4f} | "
            f"{result['loss'][0]:.4f} -> {result['loss'][1]:.4f} | {demo} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="BACKEND:PRECISION[:SEED]")
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PYTHON")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary directory)")
    parser.add_argument("--out", help="also write the table to this markdown file")
    parser.add_argument("--plot", help="also plot the runs' held-out curves into this PNG file")
    args = parser.parse_args()
    pythons = dict(item.split("=", 1) for item in args.python)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or scratch
        Path(workdir).mkdir(parents=True, exist_ok=True)
        results = []
        for spec in args.runs:
            results.append(run(spec, pythons, args.steps, workdir))
            print(table(results, args.steps).splitlines()[-1], flush=True)
        if args.plot:
            plot_curves(results, args.plot, args.steps)
    text = table(results, args.steps)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
