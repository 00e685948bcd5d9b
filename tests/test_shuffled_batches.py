"""`ShuffledBatches`: a seeded order per epoch, and any slice of the run reproduces its batches."""

import numpy as np
import pytest
from conftest import backend_independent

from keras_electra.data.shuffled_batches import ShuffledBatches

pytestmark = backend_independent


def arrays(n=23):
    x = {"token_ids": np.arange(n * 3).reshape(n, 3), "padding_mask": np.ones((n, 3), bool)}
    return x, np.arange(n) * 10, np.linspace(0, 1, n)


def rows_of(batch):
    x, y, weight = batch
    return x["token_ids"][:, 0] // 3, y // 10, weight


def test_each_epoch_visits_every_example_once_in_its_own_seeded_order():
    x, y, w = arrays()
    data = ShuffledBatches(
        x, y, w, batch_size=5, seed=1, num_batches=15
    )  # 3 epochs of 5 batches (the last of 3)
    assert data.batches_per_epoch == 5 and len(data) == 15
    epochs = []
    for epoch in range(3):
        rows = [rows_of(data[epoch * 5 + i]) for i in range(5)]
        assert [len(r[0]) for r in rows] == [5, 5, 5, 5, 3]
        order = np.concatenate([r[0] for r in rows])
        # x, y and the weights travel together.
        np.testing.assert_array_equal(np.concatenate([r[1] for r in rows]), order)
        np.testing.assert_allclose(
            np.concatenate([r[2] for r in rows]), np.linspace(0, 1, 23)[order]
        )
        assert sorted(order) == list(range(23))
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    # The same seed gives the same run, another seed another.
    again = ShuffledBatches(x, y, w, batch_size=5, seed=1, num_batches=15)
    other = ShuffledBatches(x, y, w, batch_size=5, seed=2, num_batches=15)
    np.testing.assert_array_equal(rows_of(again[7])[0], rows_of(data[7])[0])
    assert not np.array_equal(np.concatenate([rows_of(other[i])[0] for i in range(5)]), epochs[0])


def test_epoch_e_is_numpys_permutation_drawn_from_seed_and_e():
    """The order a run resumed from an older checkpoint must continue in."""
    x, y, _ = arrays()
    data = ShuffledBatches(x, y, batch_size=5, seed=4, num_batches=10)
    for epoch in range(2):
        order = np.concatenate([data[epoch * 5 + i][1] // 10 for i in range(5)])
        np.testing.assert_array_equal(order, np.random.default_rng([4, epoch]).permutation(23))


def test_a_slice_starting_anywhere_gives_the_runs_batches():
    x, y, _ = arrays()
    whole = ShuffledBatches(x, y, batch_size=4, seed=3, num_batches=20)
    for first in (0, 5, 6, 13):
        part = ShuffledBatches(
            x, y, batch_size=4, seed=3, first_batch=first, num_batches=20 - first
        )
        for i in range(len(part)):
            got, want = part[i], whole[first + i]
            assert len(got) == 2  # no weights: (x, y)
            np.testing.assert_array_equal(got[1], want[1])
    # By default, to the end of the first batch's epoch (6 batches of 4 for 23 examples).
    assert len(ShuffledBatches(x, y, batch_size=4, first_batch=13)) == 5
    with pytest.raises(IndexError):
        whole[20]


def test_inconsistent_or_empty_inputs_are_refused():
    x, y, _ = arrays()
    with pytest.raises(ValueError, match="different numbers of examples"):
        ShuffledBatches(x, y[:-1])
    with pytest.raises(ValueError, match="batch_size=0"):
        ShuffledBatches(x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"there must be examples \(0\)"):
        ShuffledBatches(np.zeros((0, 3)))
