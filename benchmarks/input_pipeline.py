"""Input pipeline throughput against ELECTRA-Small's training throughput, in one run.

    KERAS_BACKEND=jax python benchmarks/input_pipeline.py [--batches 500] [--train-steps 5]

Builds data from two shared books, reads shuffled batches of 128 through `PretrainingDataset`
(what `fit` calls), then times ELECTRA-Small training steps (batch 32 x 128) on the same data.
The pipeline must be far faster, so it is never the bottleneck.
"""

import argparse
import tempfile
import time
from pathlib import Path

import keras

import keras_electra as ke
from keras_electra.data import build_pretraining_data
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import read_manifest, special_token_arguments

BOOKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gutenberg_books"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--out", help="also write the result to this file")
    args = parser.parse_args()
    if not BOOKS.is_dir():
        raise SystemExit(f"shared data not found at {BOOKS}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        books = [BOOKS / "pg11_alices_adventures_in_wonderland.txt", BOOKS / "pg16_peter_pan.txt"]
        build_pretraining_data(books, data, vocab_size=8192, strip_gutenberg=True, progress=False)
        dataset = PretrainingDataset(data, 128, num_batches=args.batches, seed=0)
        start = time.perf_counter()
        for i in range(args.batches):
            dataset[i]
        pipeline = args.batches * 128 / (time.perf_counter() - start)

        manifest = read_manifest(data)
        pre = ke.ElectraPretrainer.from_size(
            "small", vocab_size=manifest["vocab_size"], seed=0, **special_token_arguments(manifest)
        )
        pre.compile(warmup_steps=1, total_steps=1000)
        train = PretrainingDataset(data, 32, num_batches=args.train_steps + 2, seed=0)
        pre.train_on_batch(train[0])
        pre.train_on_batch(train[1])  # compiled
        start = time.perf_counter()
        for i in range(2, args.train_steps + 2):
            float(pre.train_on_batch(train[i], return_dict=True)["loss"])
        training = args.train_steps * 32 / (time.perf_counter() - start)
    line = (
        f"input pipeline {pipeline:,.0f} examples/s; ELECTRA-Small training ({keras.backend.backend()}) "
        f"{training:,.1f} examples/s; ratio {pipeline / training:,.0f}x"
    )
    print(line)
    if args.out:
        Path(args.out).write_text(line + "\n")


if __name__ == "__main__":
    main()
