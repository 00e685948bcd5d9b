"""How fast a discriminator learns to spot replaced tokens: ours vs Hugging Face's, same batches.

The main job's held-out AUC rises slowly. This checks that the slowness belongs to the objective
at this scale, not to our model: both discriminators (tiny size, same initialisation scale, Adam,
same learning rate) see identical batches of a build-data directory in which 15% of the tokens are
replaced by unigram samples (what a generator that has learned token frequencies produces), and
their held-out AUCs are printed side by side, with a bigram-count detector as a reference for how
much local context alone reveals.

    KERAS_BACKEND=torch python benchmarks/rtd_learning_speed.py DATA_DIR [--steps 800]
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
        return np.log((pairs.get((a, b), 0) + alpha * vocab * p[b]) / (left.get(a, 0) + alpha * vocab))

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
    args = parser.parse_args()
    manifest = read_manifest(args.data)
    train = np.concatenate([np.asarray(s) for s in open_shards(args.data, "train", manifest)]).astype("int64")
    heldout = np.concatenate([np.asarray(s) for s in open_shards(args.data, "heldout", manifest)]).astype("int64")
    vocab = manifest["vocab_size"]
    first_real_id = max(manifest["special_token_ids"].values()) + 1
    unigram = np.bincount(train.ravel(), minlength=vocab).astype("float64")
    unigram[:first_real_id] = 0
    unigram /= unigram.sum()
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)

    sizes = dict(vocab_size=vocab, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512, embedding_dim=64)
    backbone = ElectraBackbone(**sizes, seed=0)
    head = ElectraDiscriminatorHead(128, seed=0)
    ours = keras.Model(backbone.input, head(backbone(backbone.input)["sequence_output"]))
    ours_optimizer = keras.optimizers.Adam(args.learning_rate)
    theirs = ElectraForPreTraining(ElectraConfig(
        vocab_size=vocab, embedding_size=64, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=512, max_position_embeddings=512,
    ))
    theirs_optimizer = torch.optim.Adam(theirs.parameters(), lr=args.learning_rate)

    def bce(logits, labels, mask):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, weight=mask.float())

    held_ids, held_labels, held_mask = corrupt(heldout, unigram, rng, first_real_id)
    keep = held_mask.astype(bool)
    print(f"bigram-count detector, held-out AUC {bigram_auc(train, held_ids, held_labels, held_mask, unigram):.3f}")
    print("step  ours   hugging face")
    for step in range(1, args.steps + 1):
        ids, labels, mask = corrupt(train[rng.integers(0, len(train), 32)], unigram, rng, first_real_id)
        inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}
        for model, optimizer, forward in (
            (ours, ours_optimizer, lambda: ours({k: torch.tensor(v) for k, v in inputs.items()}, training=True)),
            (theirs, theirs_optimizer, lambda: theirs(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits),
        ):
            loss = bce(forward(), torch.tensor(labels), torch.tensor(mask))
            if model is ours:
                ours.zero_grad()
                loss.backward()
                ours_optimizer.apply([v.value.grad for v in ours.trainable_variables], ours.trainable_variables)
            else:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        if step % args.every == 0:
            with torch.no_grad():
                held = {"token_ids": held_ids, "segment_ids": np.zeros_like(held_ids), "padding_mask": held_mask}
                a = keras.ops.convert_to_numpy(ours(held, training=False))
                b = theirs(input_ids=torch.tensor(held_ids), attention_mask=torch.tensor(held_mask)).logits.numpy()
            print(f"{step:4d}  {roc_auc_score(held_labels[keep], a[keep]):.3f}  {roc_auc_score(held_labels[keep], b[keep]):.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
