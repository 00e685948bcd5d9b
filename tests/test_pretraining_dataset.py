"""PretrainingDataset: order, exact restart, one-pass evaluation, and fit on every backend."""

import numpy as np
import pytest
from conftest import write_corpus

import keras_electra as ke
from keras_electra.data import ElectraTokenizer, build_pretraining_data
from keras_electra.data.documents import read_documents
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import open_shards, special_token_arguments


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("corpus") / "texts", files=3, documents=8)
    lines = [
        line for path in sorted(corpus.iterdir()) for doc in read_documents(path) for line in doc
    ]
    vocab = ElectraTokenizer.train(texts=lines, vocab_size=200, min_frequency=1)
    vocab_file = vocab.save_vocabulary(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    out = tmp_path_factory.mktemp("built") / "data"
    build_pretraining_data(
        corpus,
        out,
        vocab_file=vocab_file,
        max_length=24,
        examples_per_shard=7,
        heldout_fraction=0.1,
        workers=1,
        progress=False,
        format="sentence-per-line",
    )
    return out


def rows(data_dir, split="train"):
    return np.concatenate(open_shards(data_dir, split)).astype("int32")


def test_each_epoch_is_a_permutation_and_batches_match_the_shards(data_dir):
    ds = PretrainingDataset(data_dir, 5, num_batches=40, seed=3)
    n = ds.num_examples
    assert n > 14  # several shards
    seen = np.concatenate([ds.example_indices(i) for i in range(40)])
    for epoch in range(len(seen) // n):
        assert sorted(seen[epoch * n : (epoch + 1) * n]) == list(range(n))
    assert not np.array_equal(seen[:n], seen[n : 2 * n])  # a fresh order per epoch
    batch = ds[2]
    np.testing.assert_array_equal(batch["token_ids"], rows(data_dir)[ds.example_indices(2)])
    assert batch["token_ids"].shape == (5, 24) and batch["token_ids"].dtype == np.int32
    np.testing.assert_array_equal(batch["padding_mask"], batch["token_ids"] != 0)


def test_restarting_at_an_example_index_gives_the_same_next_batches(data_dir):
    full = PretrainingDataset(data_dir, 4, num_batches=30, seed=1)
    for done in (3, 11, 17):  # 11 and 17 straddle epoch boundaries
        resumed = PretrainingDataset(
            data_dir, 4, num_batches=30 - done, seed=1, start_example=4 * done
        )
        for i in range(3):
            for key, value in full[done + i].items():
                np.testing.assert_array_equal(resumed[i][key], value)


def test_one_pass_covers_the_split_once_in_order(data_dir):
    ds = PretrainingDataset(data_dir, 4, split="heldout", shuffle=False)
    got = np.concatenate([ds[i]["token_ids"] for i in range(len(ds))])
    np.testing.assert_array_equal(got, rows(data_dir, "heldout"))
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_fit_and_evaluate_read_the_dataset(data_dir):
    manifest = PretrainingDataset(data_dir, 4).manifest
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=manifest["vocab_size"],
        seed=0,
        **special_token_arguments(manifest),
    )
    pre.compile(learning_rate=1e-3, warmup_steps=1, total_steps=10)
    history = pre.fit(
        PretrainingDataset(data_dir, 4, num_batches=6), epochs=2, steps_per_epoch=3, verbose=0
    )
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    results = pre.evaluate(
        PretrainingDataset(data_dir, 4, split="heldout", shuffle=False), verbose=0, return_dict=True
    )
    assert np.isfinite(results["disc_loss"])
