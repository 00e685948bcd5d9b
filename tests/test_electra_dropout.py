"""`dropout` and `ElectraDropout`: the rules of inverted dropout, on every backend."""

import keras
import numpy as np
import pytest
from conftest import gradients, to_numpy
from harness import check_keras_file

import keras_electra as ke
from keras_electra.models.electra_dropout import dropout


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_drops_at_the_rate_and_scales_the_rest(rate):
    x = np.random.default_rng(0).uniform(1.0, 2.0, (64, 128, 128)).astype("float32")
    y = to_numpy(dropout(keras.ops.convert_to_tensor(x), rate, keras.random.SeedGenerator(3)))
    dropped = y == 0
    n = x.size
    # Binomial(n, rate): six standard deviations.
    assert abs(dropped.mean() - rate) < 6 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - rate), rtol=1e-6)
    # Independent elements: no stripe of rows or columns dropped together.
    assert abs(dropped.mean(axis=(0, 1)) - rate).max() < 6 * np.sqrt(rate * (1 - rate) / (64 * 128))


def test_seeded_masks_repeat_and_successive_calls_differ():
    x = keras.ops.ones((32, 256))
    first = [to_numpy(dropout(x, 0.3, keras.random.SeedGenerator(7))) for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])
    generator = keras.random.SeedGenerator(7)
    a, b = (to_numpy(dropout(x, 0.3, generator)) for _ in range(2))
    np.testing.assert_array_equal(a, first[0])
    assert (a != b).mean() > 0.2


def test_gradient_is_the_scaled_mask():
    variable = keras.Variable(np.full((16, 64), 2.0, "float32"))
    (grad,) = gradients(
        lambda: keras.ops.sum(dropout(variable.value, 0.25, keras.random.SeedGenerator(1))),
        [variable],
    )
    # The same seed draws the same mask outside the differentiation.
    expected = (
        to_numpy(dropout(keras.ops.ones((16, 64)), 0.25, keras.random.SeedGenerator(1))) != 0
    ) / 0.75
    assert 0 < (expected == 0).mean() < 0.5
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_layer_is_identity_unless_training_and_survives_saving(tmp_path):
    layer = ke.models.ElectraDropout(0.4, seed=5)
    x = np.ones((8, 32), "float32")
    np.testing.assert_array_equal(to_numpy(layer(x)), 1.0)
    assert (to_numpy(layer(x, training=True)) == 0).any()
    restored = check_keras_file(layer, (x,), tmp_path)  # inside a functional model
    assert (
        type(restored) is ke.models.ElectraDropout and restored.rate == 0.4 and restored.seed == 5
    )
    with pytest.raises(ValueError, match="noise_shape"):
        ke.models.ElectraDropout(0.1, noise_shape=(1, 32))


def correlation(a, b):
    return np.corrcoef(a.ravel().astype("float64"), b.ravel().astype("float64"))[0, 1]


def test_masks_are_uncorrelated_between_neighbours_draws_and_seeds():
    x = keras.ops.ones((64, 128, 64))
    generator = keras.random.SeedGenerator(11)
    first, second = (to_numpy(dropout(x, 0.5, generator)) == 0 for _ in range(2))
    other_seed = to_numpy(dropout(x, 0.5, keras.random.SeedGenerator(12))) == 0
    bound = 6 / np.sqrt(first.size / 2)  # six standard deviations of a sample correlation
    assert abs(correlation(first[..., :-1], first[..., 1:])) < bound  # along the last axis
    assert abs(correlation(first[:-1], first[1:])) < bound  # along the first
    assert abs(correlation(first, second)) < bound
    assert abs(correlation(first, other_seed)) < bound


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the counter-based generator is JAX's")
def test_counter_draws_are_uniform_and_the_same_under_jit():
    import jax
    from scipy import stats

    from keras_electra.fast_paths.random_bits import counter_uniform

    generator = keras.random.SeedGenerator(3)
    state = generator.state.value
    uniform = np.asarray(counter_uniform(generator, (256, 1000)))
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert stats.kstest(uniform.ravel(), "uniform").pvalue > 1e-3

    def draw(state):
        with keras.StatelessScope(state_mapping=[(generator.state, state)]):
            return counter_uniform(generator, (256, 1000))

    np.testing.assert_array_equal(np.asarray(jax.jit(draw)(state)), uniform)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the counter-based generator is JAX's")
def test_tensors_past_the_counters_range_take_keras_draws(monkeypatch):
    """`counter_bits` numbers elements in 32 bits: larger tensors (here: past a lowered limit) draw
    dropout masks and sampling noise as Keras does, from the same seed state."""
    from keras_electra.fast_paths import random_bits
    from keras_electra.pretraining.sampling import gumbel_sample

    monkeypatch.setattr(random_bits, "COUNTER_BITS_LIMIT", 100)
    x = keras.ops.ones((4, 50))
    np.testing.assert_array_equal(
        to_numpy(dropout(x, 0.3, keras.random.SeedGenerator(5))),
        to_numpy(keras.random.dropout(x, 0.3, seed=keras.random.SeedGenerator(5))),
    )
    logits = np.random.default_rng(0).normal(size=(4, 3, 20)).astype("float32")
    uniform = to_numpy(keras.random.uniform(logits.shape, seed=keras.random.SeedGenerator(6)))
    expected = np.argmax(logits - np.log(-np.log(uniform + 1e-9) + 1e-9), axis=-1)
    np.testing.assert_array_equal(
        to_numpy(gumbel_sample(logits, keras.random.SeedGenerator(6))), expected
    )
