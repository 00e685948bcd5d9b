"""Pretrains a tiny ELECTRA on the text that ships with keras-electra.

    KERAS_BACKEND=jax python examples/pretrain_tiny.py [--steps 300] [--out runs/tiny]

Until the WordPiece data pipeline lands, words and punctuation are the tokens,
and each document is cut into `[CLS] ... [SEP]` windows.
"""

import argparse
import re
from importlib import resources
from pathlib import Path

import numpy as np

import keras_electra as ke

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_documents():
    text = resources.files("keras_electra.data").joinpath("sample_corpus.txt").read_text("utf-8")
    return [re.findall(r"\w+|[^\w\s]", doc.lower()) for doc in text.split("\n\n") if doc.strip()]


def windows(documents, vocab, length):
    """Consecutive windows of each document, never crossing documents."""
    ids, mask = [], []
    for words in documents:
        for start in range(0, len(words), length - 2):
            piece = [vocab["[CLS]"]] + [vocab[w] for w in words[start : start + length - 2]] + [vocab["[SEP]"]]
            ids.append(piece + [vocab["[PAD]"]] * (length - len(piece)))
            mask.append([1] * len(piece) + [0] * (length - len(piece)))
    ids = np.array(ids, "int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.array(mask, "int32")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/tiny"))
    args = parser.parse_args()

    documents = read_documents()
    words = sorted({w for doc in documents for w in doc})
    vocab = {token: i for i, token in enumerate(SPECIALS + words)}
    data = windows(documents, vocab, args.length)
    print(f"{len(documents)} documents, {sum(map(len, documents))} tokens, {len(vocab)} types, "
          f"{len(data['token_ids'])} sequences of {args.length}")

    pre = ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=len(vocab), seed=args.seed,
        **{f"{name}_token_id": vocab[f"[{name.upper()}]"] for name in ("pad", "unk", "cls", "sep", "mask")},
    )
    pre.compile(learning_rate=1e-3, warmup_steps=args.steps // 10, total_steps=args.steps)
    # Masking is drawn afresh every step, so repeating the windows is fine.
    epochs = 3
    repeats = -(-args.steps * args.batch_size // (epochs * len(data["token_ids"])))
    data = {name: np.tile(array, (repeats, 1)) for name, array in data.items()}
    history = pre.fit(data, batch_size=args.batch_size, epochs=epochs, steps_per_epoch=args.steps // epochs)

    args.out.mkdir(parents=True, exist_ok=True)
    pre.save(args.out / "pretrainer.keras")
    pre.discriminator.save(args.out / "discriminator.keras")
    (args.out / "vocab.txt").write_text("\n".join(vocab) + "\n", "utf-8")
    first, last = history.history["loss"][0], history.history["loss"][-1]
    print(f"loss {first:.3f} -> {last:.3f}; saved the pretrainer, discriminator and vocabulary in {args.out}/")


if __name__ == "__main__":
    main()
