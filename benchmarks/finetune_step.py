"""The ELECTRA-Small fine-tuning step: keras-electra per backend vs Hugging Face
`ElectraForSequenceClassification`, on the same batches of SST-2 sentences.

    python benchmarks/finetune_step.py [--steps 12] [--precisions float32 bfloat16] [--rounds 1]
        [--out FILE]

Everyone starts from the same weights (our `ElectraClassifier` with Hugging Face's head, ELECTRA-Small
sized, random, seed 0, written with `save_huggingface`) and trains on the same batches: the first
SST-2 training sentences (../shared/data/glue/SST-2), WordPiece-tokenized with a vocabulary learned
from them and padded to 64 tokens, 32 a batch. Ours trains through
`finetuning.training.fine_tune` (what `keras-electra finetune` runs: the reference's AdamW with
layer-wise decay 0.8); Hugging Face's step is the usual loop (AdamW, decay 0.01 off LayerNorm and
biases, clipping at 1, warm-up then linear decay), with its forward under `torch.autocast` for
bfloat16. Two threads; each participant in its own process, one after another. Reported: median
ms/step after two warm-up steps, sentences/s, the ratio to Hugging Face in float32 and in the same
precision, and the mean loss of the last steps.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pretrain_step import PRECISIONS, huggingface_autocast, in_rounds, speed_ups

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue" / "SST-2"
BATCH, LENGTH, LEARNING_RATE, WARMUP = 32, 64, 1e-4, 2
PARTICIPANTS = ("tensorflow", "jax", "torch", "huggingface")
SMALL = dict(num_layers=12, num_heads=4, hidden_dim=256, intermediate_dim=1024, embedding_dim=128)
STEPS_FOR_LOSS = 4


def prepare(workdir, steps):
    """The batches (model inputs, labels) and the classifier as .keras and as a Hugging Face directory."""
    import numpy as np

    import keras_electra as ke

    sst2 = ke.read_glue("sst2", SST2, "train")
    tokenizer = ke.ElectraTokenizer.train(texts=sst2.text_a, vocab_size=30522)
    packer = ke.ElectraTextPreprocessor(tokenizer, sequence_length=LENGTH)
    x = {k: np.asarray(v) for k, v in packer(sst2.text_a[: BATCH * steps]).items()}
    np.savez(workdir / "batches.npz", labels=np.array(sst2.labels[: BATCH * steps]), **x)
    backbone = ke.ElectraBackbone(vocab_size=tokenizer.vocab_size, **SMALL, seed=0)
    model = ke.ElectraClassifier(backbone, 2, head="huggingface", seed=0)
    model({name: value[:1] for name, value in x.items()})
    model.save(workdir / "classifier.keras")
    ke.save_huggingface(model, workdir / "hf")


def run_ours(workdir, precision):
    import keras
    import numpy as np

    import keras_electra as ke
    from keras_electra.finetuning.training import fine_tune, with_dtype_policy

    batches = dict(np.load(workdir / "batches.npz"))
    labels = batches.pop("labels")
    saved = keras.saving.load_model(workdir / "classifier.keras", compile=False)
    backbone = with_dtype_policy(saved.backbone, PRECISIONS[precision][0])
    model = ke.ElectraClassifier(backbone, 2, head="huggingface", seed=0)
    model({name: value[:1] for name, value in batches.items()})
    model.set_weights(saved.get_weights())
    stamps, means = [time.perf_counter()], []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            means.append(float(logs["loss"]))  # waits for the step
            stamps.append(time.perf_counter())

    fine_tune(
        model, batches, labels, epochs=1, learning_rate=LEARNING_RATE, batch_size=BATCH,
        callbacks=[Clock()],
    )  # fmt: skip
    # Keras logs the running mean of the epoch; each step's own loss is the difference of sums.
    losses = [(k + 1) * m - k * p for k, (m, p) in enumerate(zip(means, [0.0] + means))]
    return list(np.diff(stamps)), losses


def run_huggingface(workdir, precision):
    import numpy as np
    import torch
    from transformers import ElectraForSequenceClassification

    torch.set_num_threads(2)
    torch.manual_seed(0)
    batches = dict(np.load(workdir / "batches.npz"))
    model = ElectraForSequenceClassification.from_pretrained(workdir / "hf").train()
    named = list(model.named_parameters())
    plain = [p for n, p in named if "LayerNorm" in n or n.endswith("bias")]
    decayed = [p for n, p in named if not ("LayerNorm" in n or n.endswith("bias"))]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
        lr=LEARNING_RATE,
        eps=1e-6,
    )
    steps = len(batches["labels"]) // BATCH
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / WARMUP, 1.0) * max(0.0, (steps - s) / steps)
    )
    times, losses = [], []
    for step in range(steps):
        start = time.perf_counter()
        part = {
            k: torch.from_numpy(v[step * BATCH : (step + 1) * BATCH]) for k, v in batches.items()
        }
        with huggingface_autocast(precision):
            loss = model(
                input_ids=part["token_ids"].long(),
                attention_mask=part["padding_mask"].long(),
                token_type_ids=part["segment_ids"].long(),
                labels=part["labels"].long(),
            ).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss))
        times.append(time.perf_counter() - start)
    return times, losses


def child(participant, precision, workdir):
    run = run_huggingface if participant == "huggingface" else run_ours
    times, losses = run(workdir, precision)
    return {
        "ms_per_step": 1000 * statistics.median(times[2:]),
        "loss": statistics.mean(losses[-STEPS_FOR_LOSS:]),
    }


def table(results, steps, rounds):
    lines = [
        f"ELECTRA-Small classifier fine-tuning step, batch {BATCH} x {LENGTH} SST-2 sentences, "
        f"{os.cpu_count()} CPU cores, median of {steps - 2} steps after 2 warm-up steps (of {rounds} "
        f"round(s) of every participant in turn: the median round, and the range); loss: mean of "
        f"the last {STEPS_FOR_LOSS}.",
        "",
        "| participant | precision | ms/step | range | sentences/s | vs HF float32 | vs HF same "
        "precision | last loss |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (participant, precision), r in results.items():
        ratios = speed_ups(results, "huggingface", precision, r["ms_per_step"])
        low, high = r["ms_range"]
        lines.append(
            f"| {participant} | {precision} | {r['ms_per_step']:.0f} | {low:.0f}-{high:.0f} | "
            f"{BATCH * 1000 / r['ms_per_step']:.1f} | {ratios} | {r['loss']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--only", nargs="+", choices=PARTICIPANTS, default=list(PARTICIPANTS))
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32"])
    parser.add_argument("--rounds", type=int, default=1, help="visit every participant this often")
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    if args.prepare:
        return prepare(Path(args.prepare), args.steps)
    if args.child:
        return print(json.dumps(child(*args.child[:2], Path(args.child[2]))))
    if not SST2.is_dir():
        sys.exit(f"{SST2}: not found (the SST-2 training sentences this benchmark trains on)")
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, __file__, "--steps", str(args.steps), "--prepare", workdir]
        subprocess.run(command, env={**os.environ, "KERAS_BACKEND": "torch"}, check=True)
        results = in_rounds(__file__, args.only, args.precisions, workdir, args.steps, args.rounds)
    text = table(results, args.steps, args.rounds)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
