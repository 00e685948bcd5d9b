"""ELECTRA pretraining steps on a GPU: keras-electra (torch backend, with and without the Triton
attention kernel) against the same step in Hugging Face transformers (SDPA attention), bfloat16.

    python benchmarks/pretrain_step_gpu.py --out benchmarks/results/pretrain_step_gpu.md
    python benchmarks/pretrain_step_gpu.py --out /tmp/p.md --dry-run   # CPU: the tiny size, a few steps

Sizes (docs/electra.md, "Models and sizes", "Pretraining optimisation"): ELECTRA-Small at batch 128
x 128 and ELECTRA-Base at batch 32 x 512, with their generators (1/4 and 1/3 of the discriminator's
width), vocabulary 30,522, every position a real token. Ours computes under `mixed_bfloat16`
(float32 weights, as Keras keeps them) and trains through `fit`; Hugging Face runs
`ElectraForPreTraining` + `ElectraForMaskedLM` sharing their embeddings, under
`torch.autocast(bfloat16)` with fused AdamW, the MLM head on the masked positions only. Each
participant runs in its own process.

Reported: median ms/step after warm-up, sequences/s, and model FLOP utilisation: the step's matrix
FLOPs (`step_flops`: 3x the forward's, counted from the sizes) over the GPU's dense bfloat16 peak.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VOCAB = 30522
# (size, batch, length)
RUNS = [("small", 128, 128), ("base", 32, 512)]
DRY_RUN = [("tiny", 4, 32)]
PARTICIPANTS = ("ours-triton", "ours-standard", "hf-sdpa")
# Dense bfloat16 peak of the GPU, FLOP/s, by name (the H200's equals the H100 SXM's).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
MASK_PROB = {"tiny": 0.15, "small": 0.15, "base": 0.15, "large": 0.25}


def encoder_flops(tokens, length, layers, hidden, intermediate, embedding):
    """Forward matrix FLOPs of an encoder stack: projections, FFN, scores and mixing, and the
    embedding projection when the embedding width differs."""
    per_layer = (
        2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
        + 4 * tokens * length * hidden
    )
    return layers * per_layer + (2 * tokens * embedding * hidden if embedding != hidden else 0)


def step_flops(config, batch, length, mask_prob):
    """Matrix FLOPs of one joint step (forward and backward, 3x the forward) of a pretrainer `config`."""
    tokens = batch * length
    predictions = batch * int((mask_prob + 0.005) * length)
    forward = (
        encoder_flops(
            tokens,
            length,
            config["num_layers"],
            config["hidden_dim"],
            config["intermediate_dim"],
            config["embedding_dim"],
        )
        + 2 * tokens * (config["hidden_dim"] ** 2 + config["hidden_dim"])  # discriminator head
        + encoder_flops(
            tokens,
            length,
            config["num_layers"],
            config["generator_hidden_dim"],
            4 * config["generator_hidden_dim"],
            config["embedding_dim"],
        )
        # generator head at the masked positions: dense to the embedding width, then the tied table
        + 2 * predictions * config["embedding_dim"] * (config["generator_hidden_dim"] + VOCAB)
    )
    return 3 * forward


def synthetic_batch(batch, length, seed=0):
    """`[CLS] tokens [SEP]` rows of random WordPiece ids (no padding): throughput needs no text."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, VOCAB, size=(batch, length), dtype="int32")
    ids[:, 0], ids[:, -1] = 101, 102
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}


def run_ours(size, batch, length, steps, implementation, device):
    import keras
    import numpy as np

    from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

    policy = "mixed_bfloat16" if device == "cuda" else "float32"
    pretrainer = ElectraPretrainer.from_size(
        size, vocab_size=VOCAB, seed=0, dtype=policy, attention_implementation=implementation
    )
    pretrainer.compile(learning_rate=2e-4, warmup_steps=10, total_steps=10_000)
    x = synthetic_batch(batch, length)
    stamps = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, index, logs=None):
            float(logs["loss"])  # waits for the step
            stamps.append(time.perf_counter())

    data = {key: np.concatenate([value] * steps) for key, value in x.items()}
    stamps.append(time.perf_counter())
    pretrainer.fit(data, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    return list(np.diff(stamps))


def run_huggingface(size, batch, length, steps, device):
    import torch
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    from keras_electra.models.presets import pretrainer_config

    config = pretrainer_config(size)
    common = dict(
        vocab_size=VOCAB,
        embedding_size=config["embedding_dim"],
        max_position_embeddings=512,
        attn_implementation="sdpa",
    )
    discriminator = ElectraForPreTraining(
        ElectraConfig(
            hidden_size=config["hidden_dim"],
            num_hidden_layers=config["num_layers"],
            num_attention_heads=config["num_heads"],
            intermediate_size=config["intermediate_dim"],
            **common,
        )
    ).to(device)
    generator_width = config["generator_hidden_dim"]
    generator = ElectraForMaskedLM(
        ElectraConfig(
            hidden_size=generator_width,
            num_hidden_layers=config["num_layers"],
            num_attention_heads=max(1, generator_width // 64),
            intermediate_size=4 * generator_width,
            **common,
        )
    ).to(device)
    generator.electra.embeddings = discriminator.electra.embeddings
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
    parameters = list(
        {id(p): p for m in (discriminator, generator) for p in m.parameters()}.values()
    )
    optimizer = torch.optim.AdamW(
        parameters, lr=2e-4, eps=1e-6, weight_decay=0.01, fused=device == "cuda"
    )
    x = {
        k: torch.as_tensor(v, dtype=torch.long, device=device)
        for k, v in synthetic_batch(batch, length).items()
    }
    ids, pad, segments = x["token_ids"], x["padding_mask"], x["segment_ids"]
    predictions = int((MASK_PROB[size] + 0.005) * length)
    rows = torch.arange(batch, device=device)[:, None]
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        # The masking of docs/electra.md, "Masking", without the special-token exclusions: the cost is the same.
        positions = (
            torch.rand(batch, length - 2, device=device).argsort(dim=-1)[:, :predictions] + 1
        )
        originals = ids[rows, positions]
        masked = ids.clone()
        masked[rows, positions] = torch.where(
            torch.rand(positions.shape, device=device) < 0.85, 103, originals
        )
        with autocast:
            hidden = generator.electra(
                masked, attention_mask=pad, token_type_ids=segments
            ).last_hidden_state
            logits = generator.generator_lm_head(
                generator.generator_predictions(hidden[rows, positions])
            ).float()
            mlm_loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), originals.flatten())
            gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-9, 1.0)))
            corrupted = ids.clone()
            corrupted[rows, positions] = torch.argmax(logits.detach() + gumbel, dim=-1)
            disc_logits = discriminator(
                corrupted, attention_mask=pad, token_type_ids=segments
            ).logits.float()
            disc_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                disc_logits, (corrupted != ids).float()
            )
            loss = mlm_loss + 50.0 * disc_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        float(loss)  # waits for the step
        times.append(time.perf_counter() - start)
    return times


def child(participant, size, batch, length, steps, device):
    if participant == "hf-sdpa":
        times = run_huggingface(size, batch, length, steps, device)
    else:
        times = run_ours(size, batch, length, steps, participant.removeprefix("ours-"), device)
    return {"ms_per_step": 1000 * statistics.median(times[max(1, len(times) // 4) :])}


def peak_flops(device):
    if device != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name()
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", required=True, help="markdown file for the table")
    parser.add_argument(
        "--dry-run", action="store_true", help="the tiny size on the CPU, to check the script"
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        participant, size, batch, length, device = args.child
        print(json.dumps(child(participant, size, int(batch), int(length), args.steps, device)))
        return
    from keras_electra.models.presets import pretrainer_config

    device = "cpu" if args.dry_run else "cuda"
    peak = None if args.dry_run else peak_flops(device)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    if args.dry_run:
        env["TRITON_INTERPRET"] = "1"  # the kernel on CPU tensors
    lines = [
        f"ELECTRA pretraining step, {'float32 on the CPU (dry run)' if args.dry_run else 'bfloat16'}; median "
        f"ms/step of {args.steps} steps after the first quarter; MFU = step FLOPs / "
        f"{'n/a' if peak is None else f'{peak / 1e12:.0f} TFLOP/s'} dense bf16 peak.",
        "",
        "| size | batch x length | participant | ms/step | sequences/s | TFLOP/s | MFU | vs HF |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for size, batch, length in DRY_RUN if args.dry_run else RUNS:
        flops = step_flops(pretrainer_config(size), batch, length, MASK_PROB[size])
        results = {}
        for participant in PARTICIPANTS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--steps",
                    str(args.steps),
                    "--out",
                    args.out,
                    "--child",
                    participant,
                    size,
                    str(batch),
                    str(length),
                    device,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(f"{size} {participant} failed:\n{out.stderr[-3000:]}", flush=True)
                continue
            results[participant] = json.loads(out.stdout.strip().splitlines()[-1])["ms_per_step"]
            print(size, participant, f"{results[participant]:.1f} ms/step", flush=True)
        for participant, ms in results.items():
            achieved = flops / (ms / 1000)
            mfu = f"{achieved / peak:.1%}" if peak else "n/a"
            ratio = f"{results['hf-sdpa'] / ms:.2f}x" if "hf-sdpa" in results else "n/a"
            lines.append(
                f"| {size} | {batch} x {length} | {participant} | {ms:.1f} | {batch * 1000 / ms:.0f} | "
                f"{achieved / 1e12:.1f} | {mfu} | {ratio} |"
            )
    table = "\n".join(lines)
    print(table)
    Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
