"""PretrainingDataset: order, exact restart, one-pass evaluation, and fit on every backend."""

import numpy as np
import pytest
from conftest import train_vocab_file, write_corpus

import keras_electra as ke
from keras_electra.callbacks import fit_in_chunks
from keras_electra.data import build_pretraining_data
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import open_shards, special_token_arguments


@pytest.fixture(scope="module")
def sentence_per_line_data(tmp_path_factory):
    """Shards of 7 from a corpus larger than conftest's (8 documents a file): 7 shards, 5 held out."""
    corpus = write_corpus(tmp_path_factory.mktemp("corpus") / "texts", files=3, documents=8)
    vocab_file = train_vocab_file(corpus, tmp_path_factory.mktemp("vocab") / "vocab.txt")
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


def test_each_epoch_is_a_permutation_and_batches_match_the_shards(sentence_per_line_data):
    ds = PretrainingDataset(sentence_per_line_data, 5, num_batches=40, seed=3)
    n = ds.num_examples
    assert n > 14  # several shards
    seen = np.concatenate([ds.example_indices(i) for i in range(40)])
    for epoch in range(len(seen) // n):
        assert sorted(seen[epoch * n : (epoch + 1) * n]) == list(range(n))
    assert not np.array_equal(seen[:n], seen[n : 2 * n])  # a fresh order per epoch
    batch = ds[2]
    np.testing.assert_array_equal(
        batch["token_ids"], rows(sentence_per_line_data)[ds.example_indices(2)]
    )
    assert batch["token_ids"].shape == (5, 24) and batch["token_ids"].dtype == np.int32
    np.testing.assert_array_equal(batch["padding_mask"], batch["token_ids"] != 0)


def test_epoch_e_is_numpys_permutation_drawn_from_seed_and_e(sentence_per_line_data):
    """The order a run resumed from an older checkpoint must continue in."""
    ds = PretrainingDataset(sentence_per_line_data, 5, num_batches=40, seed=3)
    n = ds.num_examples
    seen = np.concatenate([ds.example_indices(i) for i in range(40)])
    orders = [
        np.random.default_rng([3, epoch]).permutation(n) for epoch in range(len(seen) // n + 1)
    ]
    np.testing.assert_array_equal(seen, np.concatenate(orders)[: len(seen)])


def test_restarting_at_an_example_index_gives_the_same_next_batches(sentence_per_line_data):
    full = PretrainingDataset(sentence_per_line_data, 4, num_batches=30, seed=1)
    for done in (3, 11, 17):  # 11 and 17 straddle epoch boundaries
        resumed = PretrainingDataset(
            sentence_per_line_data, 4, num_batches=30 - done, seed=1, start_example=4 * done
        )
        for i in range(3):
            for key, value in full[done + i].items():
                np.testing.assert_array_equal(resumed[i][key], value)


def test_one_pass_covers_the_split_once_in_order(sentence_per_line_data):
    ds = PretrainingDataset(sentence_per_line_data, 4, split="heldout", shuffle=False)
    got = np.concatenate([ds[i]["token_ids"] for i in range(len(ds))])
    np.testing.assert_array_equal(got, rows(sentence_per_line_data, "heldout"))
    with pytest.raises(IndexError):
        ds[len(ds)]


@pytest.mark.large
def test_fit_and_evaluate_read_the_dataset(sentence_per_line_data):
    manifest = PretrainingDataset(sentence_per_line_data, 4).manifest
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=manifest["vocab_size"],
        seed=0,
        **special_token_arguments(manifest),
    )
    pre.compile(learning_rate=1e-3, warmup_steps=1, total_steps=10)
    history = pre.fit(
        PretrainingDataset(sentence_per_line_data, 4, num_batches=6),
        epochs=2,
        steps_per_epoch=3,
        verbose=0,
    )
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    results = pre.evaluate(
        PretrainingDataset(sentence_per_line_data, 4, split="heldout", shuffle=False),
        verbose=0,
        return_dict=True,
    )
    assert np.isfinite(results["disc_loss"])


def test_fit_in_chunks_scores_the_held_out_batches_as_evaluate_does(sentence_per_line_data):
    # fit_in_chunks hands PyDatasets to fit through fast_paths.fit_input (tf.data on TensorFlow):
    # its validation scores the 5 held-out examples in batches of 2 as evaluate does on the dataset.
    heldout = PretrainingDataset(sentence_per_line_data, 2, split="heldout", shuffle=False)
    manifest = heldout.manifest
    pre = ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=manifest["vocab_size"], seed=0, **special_token_arguments(manifest)
    )
    pre.compile(learning_rate=1e-3, warmup_steps=1, total_steps=2)

    def batches(first, count):
        return PretrainingDataset(
            sentence_per_line_data, 4, num_batches=count, start_example=4 * first
        )

    history = fit_in_chunks(pre, batches, 2, 1, validation_data=heldout, verbose=0)
    expected = pre.evaluate(heldout, return_dict=True, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-5)
    assert history.history["val_disc_auc"][-1] == pytest.approx(expected["disc_auc"], rel=1e-5)
