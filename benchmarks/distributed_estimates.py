"""Estimates behind docs/distributed.md: memory, communication and step time per device.

    python benchmarks/distributed_estimates.py [--devices 8] [--mfu-small 0.05] [--mfu 0.35] [--check]

No measurement: parameter counts are exact (`--check` compares them with built
models: tiny, small and base), everything else is arithmetic on them with the
assumptions printed beside the tables (docs/electra.md: sizes from "Models and sizes", batch and
length from "Pretraining optimisation"; bfloat16 compute with float32 variables, i.e. Keras' mixed_bfloat16).
"""

import argparse
import math

# docs/electra.md, "Models and sizes" and "Pretraining optimisation": layers, hidden, embedding,
# heads (discriminator); generator hidden and heads; global batch, sequence length, mask probability.
SIZES = {
    "small": dict(L=12, H=256, E=128, A=4, GH=64, GA=1, batch=128, length=128, mask_prob=0.15),
    "base": dict(L=12, H=768, E=768, A=12, GH=256, GA=4, batch=256, length=512, mask_prob=0.15),
    "large": dict(L=24, H=1024, E=1024, A=16, GH=256, GA=4, batch=2048, length=512, mask_prob=0.25),
}
VOCAB, POSITIONS, SEGMENTS = 30522, 512, 2
# NVIDIA H200 SXM: dense bfloat16 tensor-core peak, memory, NVLink 4 bandwidth per GPU and direction.
PEAK_BF16 = 989e12
HBM_BYTES = 141e9
NVLINK_BUS = (
    400e9  # all-reduce "bus bandwidth" (NCCL's busbw) assumed reachable on 8 x H200 over NVSwitch
)


def encoder_params(layers, hidden):
    ffn = 4 * hidden
    per_layer = (
        4 * (hidden * hidden + hidden) + 2 * 2 * hidden + hidden * ffn + ffn + ffn * hidden + hidden
    )
    return layers * per_layer


def parameters(c):
    """Exact trainable parameter counts by part."""
    L, H, E, GH = c["L"], c["H"], c["E"], c["GH"]
    embeddings = (VOCAB + POSITIONS + SEGMENTS) * E + 2 * E
    project = lambda h: 0 if h == E else E * h + h  # noqa: E731
    return {
        "embeddings (shared)": embeddings,
        "discriminator encoder": project(H) + encoder_params(L, H),
        "discriminator head": H * H + H + H + 1,
        "generator encoder": project(GH) + encoder_params(L, GH),
        "generator MLM head": GH * E + E + 2 * E + VOCAB,
    }


def sharded_parameters(c):
    """Parameters that the layout map shards over the model axis (kernels and tables)."""
    L, H, E, GH = c["L"], c["H"], c["E"], c["GH"]
    per_layer = lambda h: 3 * (h * h + h) + h * h + h * 4 * h + 4 * h + 4 * h * h  # noqa: E731
    return (VOCAB + POSITIONS + SEGMENTS) * E + L * (per_layer(H) + per_layer(GH))


def max_predictions(c):
    return int((c["mask_prob"] + 0.005) * c["length"])


def flops_per_step(c):
    """Matmul FLOPs of one training step (forward + backward = 3 x forward), both towers and heads."""
    B, S, L, E, P = c["batch"], c["length"], c["L"], c["E"], max_predictions(c)
    tokens = B * S

    def tower(h):
        dense = encoder_params(L, h) + (0 if h == E else E * h)
        attention = L * 2 * 2 * S * h  # scores and weighted sum, per token
        return 2 * dense + attention

    forward = tokens * (tower(c["H"]) + tower(c["GH"]) + 2 * c["H"] * c["H"] + 2 * c["H"])
    forward += B * P * (2 * c["GH"] * E + 2 * E * VOCAB)
    return 3 * forward


def activation_bytes(c, batch, model_parallel=1):
    """Activations kept for the backward pass (Korthikanti et al. 2022, 16-bit, with dropout masks,
    no recomputation, tensor parallelism without sequence parallelism), both towers, plus the MLM
    head's float32 logits and their softmax (3 x 4 bytes per logit)."""
    S, M = c["length"], model_parallel

    def tower(h, heads):
        return c["L"] * S * batch * h * (10 + 24 / M + 5 * heads * S / (h * M))

    logits = batch * max_predictions(c) * VOCAB * 12
    return tower(c["H"], c["A"]) + tower(c["GH"], c["GA"]) + logits


def estimate(size, devices, mfu, model_parallel):
    c = SIZES[size]
    params = parameters(c)
    total = sum(params.values())
    sharded = sharded_parameters(c)
    M, D = model_parallel, devices // model_parallel
    local_batch = c["batch"] // D
    # float32 variable + float32 gradient + AdamW's two float32 moments: 16 bytes per parameter.
    state = 16 * ((total - sharded) + sharded / M)
    activations = activation_bytes(c, local_batch, M)
    flops = flops_per_step(c)
    compute = flops / (devices * PEAK_BF16 * mfu)
    ring = 2 * (D - 1) / D if D > 1 else 0.0
    # Data axis: one all-reduce of the float32 gradients of this device's part of the parameters. The
    # word table's gradient goes three times: XLA all-reduces its three partial gradients (generator
    # lookup, discriminator lookup, the MLM head's tied output) before adding them (seen in the
    # compiled step on CPU devices; GPU compilation may combine them differently).
    gradient_bytes = 4 * ((total - sharded) + (sharded + 2 * VOCAB * c["E"]) / M)
    data_traffic = ring * gradient_bytes
    model_traffic = 0.0
    if M > 1:
        ring_m = 2 * (M - 1) / M
        S, P = c["length"], max_predictions(c)
        # Per layer and tower: 2 all-reduces of [batch, S, h] forward, 2 backward, bfloat16.
        layers = sum(4 * c["L"] * local_batch * S * h * 2 for h in (c["H"], c["GH"]))
        # The MLM logits contract the embedding dimension, which is sharded: one all-reduce of
        # [batch, P, V] (bfloat16); the embedding outputs [batch, S, E] are gathered, twice.
        head = local_batch * P * VOCAB * 2 + 2 * 2 * local_batch * S * c["E"] * 2
        model_traffic = ring_m * (layers + head)
    communication = (data_traffic + model_traffic) / NVLINK_BUS
    return {
        "params": params,
        "total": total,
        "state": state,
        "activations": activations,
        "flops": flops,
        "compute_s": compute,
        "data_traffic": data_traffic,
        "model_traffic": model_traffic,
        "communication_s": communication,
        "local_batch": local_batch,
    }


def check():
    """Our formulas against built models' counts (tiny, small, base; large takes minutes to build)."""
    import keras_electra as ke

    for size in ("small", "base"):
        pre = ke.ElectraPretrainer.from_size(size, vocab_size=VOCAB, seed=0)
        counted = sum(int(math.prod(v.shape)) for v in pre.trainable_variables)
        ours = sum(parameters(SIZES[size]).values())
        print(f"{size}: built {counted:,} trainable parameters, formula {ours:,}")
        assert counted == ours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--mfu", type=float, default=0.35, help="assumed for base and large")
    parser.add_argument(
        "--mfu-small", type=float, default=0.05, help="assumed for small (256-wide matmuls)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare the parameter counts with built models"
    )
    args = parser.parse_args()
    if args.check:
        check()
    gb = 1e9
    for size in SIZES:
        c = SIZES[size]
        mfu = args.mfu_small if size == "small" else args.mfu
        print(
            f"\n## {size}: batch {c['batch']} x {c['length']} tokens, {max_predictions(c)} predictions per "
            f"sequence, MFU {mfu:.0%} assumed"
        )
        first = estimate(size, args.devices, mfu, 1)
        print(
            ", ".join(f"{name} {count / 1e6:.2f}M" for name, count in first["params"].items())
            + f"; total {first['total'] / 1e6:.1f}M; {first['flops'] / 1e12:.1f} TFLOP per step"
        )
        print(
            "| layout | batch per replica | weights+grads+AdamW GB | activations GB | traffic per device GB "
            "| compute ms | communication ms |"
        )
        print("|---|---|---|---|---|---|---|")
        for M in (1, 2, 4):
            e = estimate(size, args.devices, mfu, M)
            name = "data x8" if M == 1 else f"data x{args.devices // M}, model x{M}"
            print(
                f"| {name} | {e['local_batch']} | {e['state'] / gb:.2f} | {e['activations'] / gb:.1f} | "
                f"{(e['data_traffic'] + e['model_traffic']) / gb:.2f} | {e['compute_s'] * 1e3:.1f} | "
                f"{e['communication_s'] * 1e3:.1f} |"
            )
        one = flops_per_step(c) / (PEAK_BF16 * mfu)
        print(
            f"one H200: {one * 1e3:.0f} ms per step of compute alone "
            f"(activations {activation_bytes(c, c['batch']) / gb:.0f} GB at the full batch)"
        )


if __name__ == "__main__":
    main()
