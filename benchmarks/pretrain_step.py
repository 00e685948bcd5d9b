"""The ELECTRA-Small joint pretraining step: keras-electra per backend vs the same step in Hugging Face.

    python benchmarks/pretrain_step.py [--steps 12] [--precisions float32 bfloat16] [--rounds 1]
        [--out FILE]

Everyone starts from the same weights (our pretrainer, exported with `save_huggingface` and loaded by
`transformers`) and trains on the same batches of real text (the standard library's docstrings,
packed to 128 tokens: batch 32 x 128; asked for 30,522 WordPieces, that corpus yields about 8,800),
ELECTRA-Small with its 1/4-width generator,
the reference's AdamW (decay 0.01 off LayerNorm and biases, clipping at 1, warmup then linear decay),
two threads, in float32 and (--precisions) bfloat16: our mixed_bfloat16 policy, Hugging Face's forward
under `torch.autocast`. Hugging Face runs twice: with the MLM head on the masked positions only (the
careful way, as the authors do) and with `ElectraForMaskedLM`'s own head over every position (the
naive way). Each participant runs in its own process, one after another, so none slows another;
`--rounds R` visits them all R times in turn and reports each one's median round and the range, so
that a slow spell of a shared machine falls on every participant rather than on one.

Reported: median ms/step after two warm-up steps, tokens/s, speed relative to Hugging Face
masked-only, peak resident memory (and its rise above the process after imports and model
building), and the mean loss of the last steps, which should track each other (the masking draws
differ, the rules do not).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS_FOR_LOSS = 4  # the last steps averaged for the loss column
LEARNING_RATE, WARMUP, TOTAL = 5e-4, 2, 10_000
BATCH, LENGTH = 32, 128
PARTICIPANTS = ("tensorflow", "jax", "torch", "hf-masked", "hf-full")
# --precisions -> ours: Keras' dtype policy; Hugging Face: torch.autocast's dtype (None: float32)
PRECISIONS = {"float32": ("float32", None), "bfloat16": ("mixed_bfloat16", "bfloat16")}


def huggingface_autocast(precision):
    """The context Hugging Face's forward runs in: `torch.autocast` for bfloat16, none for float32."""
    import contextlib

    import torch

    dtype = PRECISIONS[precision][1]
    return torch.autocast("cpu", dtype=getattr(torch, dtype)) if dtype else contextlib.nullcontext()


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(workdir):
    """Data and initial weights, once: a data directory and the pretrainer as .keras and as HF pair."""
    from keras_electra.conversion import save_huggingface
    from keras_electra.data.corpus_builder import build_pretraining_data
    from keras_electra.data.shards import read_manifest, special_token_arguments
    from keras_electra.data.stdlib_corpus import write_stdlib_corpus
    from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

    corpus = write_stdlib_corpus(workdir / "stdlib_docs.txt")
    build_pretraining_data(
        corpus, workdir / "data", max_length=LENGTH, vocab_size=30522, seed=0, progress=False
    )
    manifest = read_manifest(workdir / "data")
    pretrainer = ElectraPretrainer.from_size(
        "small", vocab_size=manifest["vocab_size"], seed=0, **special_token_arguments(manifest)
    )
    pretrainer(batches(workdir, 1)[0])  # builds every weight
    pretrainer.save(workdir / "pretrainer.keras")
    save_huggingface(pretrainer, workdir / "hf")


def batches(workdir, steps):
    import numpy as np

    from keras_electra.data.pretraining_dataset import PretrainingDataset

    dataset = PretrainingDataset(workdir / "data", BATCH, num_batches=steps, seed=0)
    return [{k: np.asarray(v) for k, v in dataset[i].items()} for i in range(steps)]


def run_ours(workdir, steps, precision):
    import keras
    import numpy as np

    from keras_electra.data.shards import read_manifest, special_token_arguments
    from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

    data = batches(workdir, steps)
    manifest = read_manifest(workdir / "data")
    # The saved weights in a pretrainer built under the policy, as `pretrain --mixed-precision` builds it.
    pretrainer = ElectraPretrainer.from_size(
        "small",
        vocab_size=manifest["vocab_size"],
        seed=0,
        dtype=PRECISIONS[precision][0],
        **special_token_arguments(manifest),
    )
    pretrainer(data[0])
    pretrainer.set_weights(keras.models.load_model(workdir / "pretrainer.keras").get_weights())
    pretrainer.compile(learning_rate=LEARNING_RATE, warmup_steps=WARMUP, total_steps=TOTAL)
    baseline = rss_mb()
    stamps, means = [time.perf_counter()], []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            means.append(float(logs["loss"]))  # waits for the step, as a progress bar does
            stamps.append(time.perf_counter())

    # `fit`, as users and the command line train: under JAX, `train_on_batch` would also copy every
    # variable back into Keras after each step.
    x = {key: np.concatenate([batch[key] for batch in data]) for key in data[0]}
    pretrainer.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    times = list(np.diff(stamps))
    # Keras logs the running mean of the epoch; each step's own loss is the difference of sums.
    losses = [
        (k + 1) * mean - k * previous
        for k, (mean, previous) in enumerate(zip(means, [0.0] + means))
    ]
    return times, losses, baseline


def run_huggingface(workdir, steps, masked_only, precision):
    import numpy as np
    import torch
    from transformers import ElectraForMaskedLM, ElectraForPreTraining

    from keras_electra.data.shards import read_manifest

    torch.manual_seed(0)
    special = read_manifest(workdir / "data")["special_token_ids"]
    data = batches(workdir, steps)
    discriminator = ElectraForPreTraining.from_pretrained(workdir / "hf" / "discriminator")
    generator = ElectraForMaskedLM.from_pretrained(workdir / "hf" / "generator")
    (
        discriminator.train(),
        generator.train(),
    )  # from_pretrained returns them in eval mode: no dropout
    generator.electra.embeddings = (
        discriminator.electra.embeddings
    )  # shared, as in the authors' training
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
    parameters = {
        id(p): (n, p) for model in (discriminator, generator) for n, p in model.named_parameters()
    }
    decayed = [p for n, p in parameters.values() if not ("LayerNorm" in n or n.endswith("bias"))]
    others = [p for n, p in parameters.values() if "LayerNorm" in n or n.endswith("bias")]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": 0.01}, {"params": others, "weight_decay": 0.0}],
        lr=LEARNING_RATE,
        betas=(0.9, 0.999),
        eps=1e-6,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / WARMUP, 1.0) * max(0.0, (TOTAL - s) / (TOTAL - WARMUP))
    )
    rng = np.random.default_rng(0)
    n_predictions = int((0.15 + 0.005) * LENGTH)
    baseline = rss_mb()
    times, losses = [], []
    for x in data:
        start = time.perf_counter()
        ids, pad = torch.tensor(x["token_ids"], dtype=torch.long), torch.tensor(x["padding_mask"])
        segments = torch.tensor(x["segment_ids"], dtype=torch.long)
        # Masking by the rules of docs/electra.md, "Masking", drawn in numpy.
        candidates = x["padding_mask"].astype(bool) & ~np.isin(
            x["token_ids"], [special["cls"], special["sep"], special["mask"]]
        )
        positions = np.zeros((BATCH, n_predictions), "int64")
        weights = np.zeros((BATCH, n_predictions), "float32")
        for row in range(BATCH):
            pool = np.flatnonzero(candidates[row])
            count = max(1, min(n_predictions, round(x["padding_mask"][row].sum() * 0.15)))
            positions[row, :count] = rng.choice(pool, count, replace=False)
            weights[row, :count] = 1.0
        positions, weights = torch.tensor(positions), torch.tensor(weights)
        with huggingface_autocast(precision):
            loss = huggingface_loss(
                generator,
                discriminator,
                ids,
                pad,
                segments,
                positions,
                weights,
                special,
                masked_only,
            )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in parameters.values()], 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss))
        times.append(time.perf_counter() - start)
    return times, losses, baseline


def huggingface_loss(
    generator, discriminator, ids, pad, segments, positions, weights, special, masked_only
):
    """The joint loss of the authors' step (docs/electra.md) on Hugging Face's two models."""
    import torch

    rows = torch.arange(BATCH)[:, None]
    originals = ids[rows, positions]
    to_mask = (torch.rand(positions.shape) < 0.85) & (weights > 0)
    masked = ids.clone()
    masked[rows, positions] = torch.where(to_mask, special["mask"], originals)
    if masked_only:
        hidden = generator.electra(
            masked, attention_mask=pad, token_type_ids=segments
        ).last_hidden_state
        logits = generator.generator_lm_head(
            generator.generator_predictions(hidden[rows, positions])
        )
    else:
        logits = generator(masked, attention_mask=pad, token_type_ids=segments).logits[
            rows, positions
        ]
    mlm = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), originals.flatten(), reduction="none"
    )
    mlm_loss = (mlm * weights.flatten()).sum() / weights.sum()
    gumbel = -torch.log(-torch.log(torch.rand(logits.shape).clamp(1e-9, 1.0)))
    sampled = torch.argmax(logits.detach() + gumbel, dim=-1)
    corrupted = ids.clone()
    corrupted[rows, positions] = torch.where(weights > 0, sampled, originals)
    labels = (corrupted != ids).float()
    disc_logits = discriminator(corrupted, attention_mask=pad, token_type_ids=segments).logits
    disc = torch.nn.functional.binary_cross_entropy_with_logits(
        disc_logits, labels, reduction="none"
    )
    disc_loss = (disc * pad).sum() / pad.sum()
    return mlm_loss + 50.0 * disc_loss


def child(participant, precision, workdir, steps):
    if participant.startswith("hf"):
        import torch

        torch.set_num_threads(2)
        times, losses, baseline = run_huggingface(
            workdir, steps, participant == "hf-masked", precision
        )
    else:
        times, losses, baseline = run_ours(workdir, steps, precision)
    timed = times[2:]
    return {
        "ms_per_step": 1000 * statistics.median(timed),
        "peak_mb": peak_mb(),
        "peak_above_baseline_mb": peak_mb() - baseline,
        "loss": statistics.mean(losses[-STEPS_FOR_LOSS:]),
        "first_loss": losses[0],
    }


def run_child(script, backend, participant, precision, workdir, steps):
    """One participant's measurements: `script --child`, in a process of its own on `backend`."""
    child = ["--steps", str(steps), "--child", participant, precision, str(workdir)]
    out = subprocess.run(
        [sys.executable, str(script), *child],
        env={**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"{participant} ({precision}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def in_rounds(script, participants, precisions, workdir, steps, rounds):
    """{(participant, precision): result} from `rounds` visits of every participant in turn (`run_child`;
    ours on their backend, Hugging Face's on torch), each folded into one by `across_rounds`."""
    runs = {}
    for _ in range(rounds):
        for precision in precisions:
            for participant in participants:
                backend = participant if participant in ("tensorflow", "jax", "torch") else "torch"
                result = run_child(script, backend, participant, precision, workdir, steps)
                runs.setdefault((participant, precision), []).append(result)
                print(participant, precision, result, flush=True)
    return {key: across_rounds(each) for key, each in runs.items()}


def across_rounds(runs):
    """One participant's rounds as one result: the median of its rounds' step times (each round visits
    every participant in turn, so a slow spell of the machine falls on all of them), the range they
    span, the highest peak memory; losses from the first round (the same in every round)."""
    times = [run["ms_per_step"] for run in runs]
    peak = max(runs, key=lambda run: run.get("peak_mb", 0))
    return {
        **runs[0],
        **{key: value for key, value in peak.items() if key.startswith("peak")},
        "ms_per_step": statistics.median(times),
        "ms_range": (min(times), max(times)),
    }


def speed_ups(results, reference, precision, ms):
    """`ms` a step as speed-ups over `reference`'s float32 step and its step in `precision`."""
    return " | ".join(
        f"{results[reference, base]['ms_per_step'] / ms:.2f}x"
        if (reference, base) in results
        else "n/a"
        for base in ("float32", precision)
    )


def table_lines(results, vocab_size, steps, rounds):
    """The markdown table: each participant's speed against Hugging Face masked-only in float32 and in
    its own precision."""
    lines = [
        f"ELECTRA-Small pretraining step, batch {BATCH} x {LENGTH}, vocabulary {vocab_size}, "
        f"{os.cpu_count()} CPU cores, median of {steps - 2} steps after 2 warm-up steps (of "
        f"{rounds} round(s) of every participant in turn: the median round, and the range); loss: "
        f"mean of the last {STEPS_FOR_LOSS}. bfloat16: Keras' mixed_bfloat16 policy for ours, "
        "`torch.autocast` for Hugging Face.",
        "",
        "| participant | precision | ms/step | range | tokens/s | vs HF masked float32 | vs HF masked "
        "same precision | peak RSS MB | above baseline MB | first loss | last loss |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (participant, precision), r in results.items():
        ratios = speed_ups(results, "hf-masked", precision, r["ms_per_step"])
        low, high = r["ms_range"]
        lines.append(
            f"| {participant} | {precision} | {r['ms_per_step']:.0f} | {low:.0f}-{high:.0f} | "
            f"{BATCH * LENGTH * 1000 / r['ms_per_step']:.0f} | {ratios} | "
            f"{r['peak_mb']:.0f} | {r['peak_above_baseline_mb']:.0f} | {r['first_loss']:.2f} | "
            f"{r['loss']:.2f} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--only", nargs="+", choices=PARTICIPANTS, default=list(PARTICIPANTS))
    parser.add_argument(
        "--precisions", nargs="+", choices=PRECISIONS, default=["float32"], metavar="P"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="visit every participant this many times, in turn"
    )
    parser.add_argument("--out", help="also write the table to this markdown file")
    parser.add_argument(
        "--child", nargs=3, metavar=("PARTICIPANT", "PRECISION", "WORKDIR"), help=argparse.SUPPRESS
    )
    parser.add_argument("--prepare", metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    if args.prepare:
        prepare(Path(args.prepare))
        return
    if args.child:
        print(json.dumps(child(*args.child[:2], Path(args.child[2]), args.steps)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        subprocess.run(
            [sys.executable, __file__, "--prepare", tmp],
            env={**os.environ, "KERAS_BACKEND": "torch"},
            check=True,
            capture_output=True,
        )
        vocab_size = json.loads((workdir / "data" / "manifest.json").read_text())["vocab_size"]
        results = in_rounds(__file__, args.only, args.precisions, tmp, args.steps, args.rounds)
    lines = table_lines(results, vocab_size, args.steps, args.rounds)
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
