"""How far keras-hub's ElectraBackbone strays from ours with the same weights: its tanh GELU.

    KERAS_BACKEND=tensorflow python benchmarks/keras_hub_gelu.py [--sentences 64] [--out FILE]

Our backbone of each size (tiny and ELECTRA-Small, random weights from our initializers, seed 0) is
written with `save_to_preset` and read by `keras_hub.models.ElectraBackbone.from_preset`; both run on
the first SST-2 dev sentences (../shared/data/glue/SST-2), tokenized with a WordPiece vocabulary of
8,192 trained on SST-2 train and packed to 128 tokens. The table gives the largest |difference| of
`sequence_output` over the real (unpadded) tokens and of the [CLS] state in float32, then the same
with keras-hub's GELU made exact (float32 round-off only), beside the largest |difference| of the two
GELUs themselves (docs/conversion.md, "keras-hub presets").
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

SHARED_GLUE = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue" / "SST-2"
SIZES = ("tiny", "small")


def sst2_inputs(count):
    import keras_electra as ke

    train = ke.read_glue("sst2", SHARED_GLUE, "train").text_a
    tokenizer = ke.ElectraTokenizer.train(texts=train, vocab_size=8192)
    dev = list(ke.read_glue("sst2", SHARED_GLUE, "dev").text_a[:count])
    return tokenizer, ke.ElectraTextPreprocessor(tokenizer, sequence_length=128)(dev)


def gelu_gap():
    """max |tanh-approximate GELU - exact GELU| over a fine grid, where it peaks (|x| about 2)."""
    import keras

    x = np.linspace(-10, 10, 200_001, dtype="float64")
    exact = keras.ops.convert_to_numpy(keras.activations.gelu(x, approximate=False))
    tanh = keras.ops.convert_to_numpy(keras.activations.gelu(x, approximate=True))
    return float(np.max(np.abs(exact - tanh)))


def measure(size, vocab_size, x, directory):
    import keras
    import keras_hub

    import keras_electra as ke

    config = ke.pretrainer_config(size)
    sizes = ("num_layers", "num_heads", "hidden_dim", "intermediate_dim", "embedding_dim")
    ours = ke.ElectraBackbone(vocab_size, **{name: config[name] for name in sizes}, seed=0)
    ours.save_to_preset(directory)
    theirs = keras_hub.models.ElectraBackbone.from_preset(str(directory))
    a = np.asarray(ours(x)["sequence_output"])
    b = np.asarray(theirs(x)["sequence_output"])
    real = x["padding_mask"].astype(bool)
    # The control: keras-hub's blocks with the exact GELU leave float32 round-off only.
    for block in theirs.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu
    exact = np.asarray(theirs(x)["sequence_output"])
    return (
        float(np.max(np.abs(a - b)[real])),
        float(np.max(np.abs(a[:, 0] - b[:, 0]))),
        float(np.max(np.abs(a - exact)[real])),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    tokenizer, x = sst2_inputs(args.sentences)
    import keras

    lines = [
        f"{keras.backend.backend()}, SST-2 dev, first {args.sentences} sentences, 128 tokens, float32. "
        f"max |tanh GELU - exact GELU| = {gelu_gap():.3g}",
        "",
        "| size | sequence_output (real tokens) | [CLS] | keras-hub with exact GELU (control) |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as temporary:
        for size in SIZES:
            tokens, cls, control = measure(size, tokenizer.vocab_size, x, Path(temporary) / size)
            lines.append(f"| {size} | {tokens:.2g} | {cls:.2g} | {control:.2g} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
