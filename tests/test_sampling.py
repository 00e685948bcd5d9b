"""Sampling from the generator and the discriminator's labels (docs/electra.md, "Sampling and labels")."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from scipy import stats

import keras_electra as ke
from keras_electra.pretraining.sampling import replaced_token_labels


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_gumbel_samples_follow_softmax(temperature):
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0, 1.5, 0.2], "float32")
    n = 40_000
    samples = to_numpy(
        ke.gumbel_sample(np.tile(logits, (1, n, 1)), keras.random.SeedGenerator(0), temperature)
    )
    assert samples.shape == (1, n) and samples.dtype == np.int32
    scaled = logits.astype("float64") / temperature
    probs = np.exp(scaled) / np.exp(scaled).sum()
    observed = np.bincount(samples.ravel(), minlength=len(logits))
    assert stats.chisquare(observed, probs * n).pvalue > 1e-3


def test_labels_mark_only_changed_real_tokens():
    original = np.array([[101, 5, 6, 7, 102, 0]])
    corrupted = np.array([[101, 9, 6, 7, 102, 4]])  # position 2 sampled == original
    mask = np.array([[1, 1, 1, 1, 1, 0]])
    np.testing.assert_array_equal(
        to_numpy(replaced_token_labels(original, corrupted, mask)), [[0, 1, 0, 0, 0, 0]]
    )
