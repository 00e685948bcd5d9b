"""Pretrains a tiny ELECTRA on English text that every Python ships with.

    KERAS_BACKEND=jax python examples/pretrain_tiny.py [--steps 600] [--out runs/tiny]

The corpus is the prose of the running interpreter's pydoc topics (the
language reference's sections), read at run time. Until the WordPiece data
pipeline lands, the most frequent words and punctuation are the tokens, and
each topic is cut into `[CLS] ... [SEP]` windows.
"""

import argparse
import collections
import re
from pathlib import Path

import pydoc_data.topics

import numpy as np

import keras_electra as ke

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_documents():
    """One document per topic: its prose lines (code is indented), as words."""
    documents = []
    for text in pydoc_data.topics.topics.values():
        prose = [line for line in text.splitlines() if line[:1].isalpha()]
        documents.append(re.findall(r"\w+|[^\w\s]", " ".join(prose).lower()))
    return documents


def windows(documents, vocab, length):
    """Consecutive windows of each document, never crossing documents."""
    ids, mask = [], []
    for words in documents:
        for start in range(0, len(words), length - 2):
            body = [vocab.get(w, vocab["[UNK]"]) for w in words[start : start + length - 2]]
            piece = [vocab["[CLS]"]] + body + [vocab["[SEP]"]]
            ids.append(piece + [vocab["[PAD]"]] * (length - len(piece)))
            mask.append([1] * len(piece) + [0] * (length - len(piece)))
    ids = np.array(ids, "int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.array(mask, "int32")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/tiny"))
    args = parser.parse_args()

    documents = read_documents()
    counts = collections.Counter(w for doc in documents for w in doc)
    words = [w for w, _ in counts.most_common(args.vocab_size - len(SPECIALS))]
    vocab = {token: i for i, token in enumerate(SPECIALS + words)}
    data = windows(documents, vocab, args.length)
    print(f"{len(documents)} documents, {sum(map(len, documents))} tokens, {len(vocab)} types, "
          f"{len(data['token_ids'])} sequences of {args.length}")

    pre = ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=len(vocab), seed=args.seed,
        **{f"{name}_token_id": vocab[f"[{name.upper()}]"] for name in ("pad", "unk", "cls", "sep", "mask")},
    )
    pre.compile(learning_rate=2e-3, warmup_steps=args.steps // 10, total_steps=args.steps)
    held_out = {name: array[::10] for name, array in data.items()}
    data = {name: np.delete(array, np.s_[::10], axis=0) for name, array in data.items()}
    before = pre.evaluate(held_out, batch_size=args.batch_size, verbose=0, return_dict=True)
    # Masking is drawn afresh every step, so repeating the windows is fine.
    epochs = 3
    repeats = -(-args.steps * args.batch_size // len(data["token_ids"]))
    data = {name: np.tile(array, (repeats, 1)) for name, array in data.items()}
    pre.fit(data, batch_size=args.batch_size, epochs=epochs, steps_per_epoch=args.steps // epochs)

    args.out.mkdir(parents=True, exist_ok=True)
    pre.save(args.out / "pretrainer.keras")
    pre.discriminator.save(args.out / "discriminator.keras")
    (args.out / "vocab.txt").write_text("\n".join(vocab) + "\n", "utf-8")
    after = pre.evaluate(held_out, batch_size=args.batch_size, verbose=0, return_dict=True)
    print(f"held-out {len(held_out['token_ids'])} sequences, before -> after training:")
    for name in ("loss", "mlm_accuracy", "disc_accuracy", "disc_auc", "disc_precision", "disc_recall"):
        print(f"  {name:15s} {before[name]:8.4f} -> {after[name]:8.4f}")
    print(f"saved the pretrainer, discriminator and vocabulary in {args.out}/")


if __name__ == "__main__":
    main()
