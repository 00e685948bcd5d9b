"""How fast a discriminator learns to spot replaced tokens: ours vs Hugging Face's, same batches.

The main job's held-out AUC rises slowly. This checks that the slowness belongs to the objective
at this scale, not to our model: both discriminators (tiny size, same initialisation scale, Adam,
same learning rate) see identical batches of a build-data directory in which 15% of the tokens are
replaced by unigram samples (what a generator that has learned token frequencies produces), and
their held-out AUCs are printed side by side. Two references show how much local context reveals:
a bigram-count detector, and a one-layer convolution over three-token windows trained on the same
batches with the same optimiser (a model that sees its neighbours by construction, where a
transformer with learned absolute positions must first learn to attend to them).

    KERAS_BACKEND=torch python benchmarks/rtd_learning_speed.py DATA_DIR [--steps 800] [--length 64]
"""

import argparse
import os
from collections import Counter

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from transformers import ElectraConfig, ElectraForPreTraining  # noqa: E402

from keras_electra.data.shards import open_shards, read_manifest  # noqa: E402
from keras_electra.models.electra_backbone import ElectraBackbone  # noqa: E402
from keras_electra.models.electra_discriminator_head import ElectraDiscriminatorHead  # noqa: E402


def corrupt(ids, unigram, rng, first_real_id):
    """15% of the real tokens replaced by unigram samples; labels 1 where the token changed."""
    candidates = ids >= first_real_id
    chosen = candidates & (rng.random(ids.shape) < 0.15)
    corrupted = ids.copy()
    corrupted[chosen] = rng.choice(len(unigram), size=int(chosen.sum()), p=unigram)
    return corrupted, (corrupted != ids).astype("float32"), (ids > 0).astype("int64")


def windows(ids, length):
    """Rows cut into `length`-token windows (padding-only ones dropped): shorter inputs, same text."""
    ids = ids[:, : ids.shape[1] // length * length].reshape(-1, length)
    return ids[(ids > 0).sum(axis=1) > 1]


class WindowDetector(torch.nn.Module):
    """Embedding, a width-3 convolution and a logit per token: local context built in."""

    def __init__(self, vocab, embedding_dim=64, hidden_dim=128):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding_dim)
        self.conv = torch.nn.Conv1d(embedding_dim, hidden_dim, 3, padding=1)
        self.logit = torch.nn.Linear(hidden_dim, 1)

    def forward(self, ids):
        hidden = torch.relu(self.conv(self.embedding(ids).transpose(1, 2)).transpose(1, 2))
        return self.logit(hidden).squeeze(-1)


def bigram_auc(train, ids, labels, mask, unigram, alpha=0.5):
    """AUC of log q(x) - log p(x | neighbours) under add-alpha bigram counts of `train`."""
    vocab = len(unigram)
    pairs, left = Counter(), Counter()
    for row in train:
        row = row[row > 0]
        pairs.update(zip(row[:-1].tolist(), row[1:].tolist()))
        left.update(row[:-1].tolist())
    p = np.maximum(unigram, 1e-9)

    def log_bigram(a, b):
        return np.log(
            (pairs.get((a, b), 0) + alpha * vocab * p[b]) / (left.get(a, 0) + alpha * vocab)
        )

    scores, truth = [], []
    for row, row_labels, row_mask in zip(ids, labels, mask):
        for i in range(1, int(row_mask.sum()) - 1):
            a, x, b = int(row[i - 1]), int(row[i]), int(row[i + 1])
            scores.append(np.log(p[x]) - (log_bigram(a, x) + log_bigram(x, b) - np.log(p[b])))
            truth.append(row_labels[i])
    return roc_auc_score(truth, scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--length", type=int, default=None, help="cut the examples into windows this long"
    )
    parser.add_argument(
        "--hidden", type=int, default=128, help="transformers' hidden width (heads of 64)"
    )
    args = parser.parse_args()
    manifest = read_manifest(args.data)
    train = np.concatenate(
        [np.asarray(s) for s in open_shards(args.data, "train", manifest)]
    ).astype("int64")
    heldout = np.concatenate(
        [np.asarray(s) for s in open_shards(args.data, "heldout", manifest)]
    ).astype("int64")
    if args.length:
        train, heldout = windows(train, args.length), windows(heldout, args.length)
    vocab = manifest["vocab_size"]
    first_real_id = max(manifest["special_token_ids"].values()) + 1
    unigram = np.bincount(train.ravel(), minlength=vocab).astype("float64")
    unigram[:first_real_id] = 0
    unigram /= unigram.sum()
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)

    hidden, heads = args.hidden, max(1, args.hidden // 64)
    sizes = dict(
        vocab_size=vocab,
        num_layers=2,
        num_heads=heads,
        hidden_dim=hidden,
        intermediate_dim=4 * hidden,
        embedding_dim=64,
    )
    backbone = ElectraBackbone(**sizes, seed=0)
    head = ElectraDiscriminatorHead(hidden, seed=0)
    ours = keras.Model(backbone.input, head(backbone(backbone.input)["sequence_output"]))
    ours_optimizer = keras.optimizers.Adam(args.learning_rate)
    theirs = ElectraForPreTraining(
        ElectraConfig(
            vocab_size=vocab,
            embedding_size=64,
            hidden_size=hidden,
            num_hidden_layers=2,
            num_attention_heads=heads,
            intermediate_size=4 * hidden,
            max_position_embeddings=512,
        )
    )
    theirs_optimizer = torch.optim.Adam(theirs.parameters(), lr=args.learning_rate)
    window = WindowDetector(vocab)
    window_optimizer = torch.optim.Adam(window.parameters(), lr=args.learning_rate)

    def bce(logits, labels, mask):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, labels, weight=mask.float()
        )

    held_ids, held_labels, held_mask = corrupt(heldout, unigram, rng, first_real_id)
    keep = held_mask.astype(bool)
    print(
        f"bigram-count detector, held-out AUC {bigram_auc(train, held_ids, held_labels, held_mask, unigram):.3f}"
    )
    print("step  ours   hugging face  window convolution")
    for step in range(1, args.steps + 1):
        ids, labels, mask = corrupt(
            train[rng.integers(0, len(train), 32)], unigram, rng, first_real_id
        )
        inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}
        for model, optimizer, forward in (
            (
                ours,
                ours_optimizer,
                lambda inputs=inputs: ours(
                    {k: torch.tensor(v) for k, v in inputs.items()}, training=True
                ),
            ),
            (
                theirs,
                theirs_optimizer,
                lambda ids=ids, mask=mask: (
                    theirs(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits
                ),
            ),
            (window, window_optimizer, lambda ids=ids: window(torch.tensor(ids))),
        ):
            loss = bce(forward(), torch.tensor(labels), torch.tensor(mask))
            if model is ours:
                ours.zero_grad()
                loss.backward()
                ours_optimizer.apply(
                    [v.value.grad for v in ours.trainable_variables], ours.trainable_variables
                )
            else:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        if step % args.every == 0:
            theirs.eval()  # no dropout when scoring, as `training=False` gives ours
            with torch.no_grad():
                held = {
                    "token_ids": held_ids,
                    "segment_ids": np.zeros_like(held_ids),
                    "padding_mask": held_mask,
                }
                a = keras.ops.convert_to_numpy(ours(held, training=False))
                b = theirs(
                    input_ids=torch.tensor(held_ids), attention_mask=torch.tensor(held_mask)
                ).logits.numpy()
                c = window(torch.tensor(held_ids)).numpy()
            theirs.train()
            aucs = [roc_auc_score(held_labels[keep], logits[keep]) for logits in (a, b, c)]
            print(f"{step:4d}  {aucs[0]:.3f}  {aucs[1]:.3f}         {aucs[2]:.3f}", flush=True)


if __name__ == "__main__":
    main()
