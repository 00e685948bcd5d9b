"""`keras_electra.fast_paths`: each fast version against the plain `keras.ops` one it replaces (values and
gradients), the switch that turns them all off, and the upstream bugs that the library works around."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import BACKEND, gradients, to_numpy
from scipy import stats

import keras_electra as ke
from keras_electra import config
from keras_electra.data.shuffled_batches import ShuffledBatches
from keras_electra.fast_paths import (
    adamw,
    dropout,
    fit_input,
    gelu,
    layer_norm,
    random_bits,
    softmax,
)
from keras_electra.models.seeds import StrictTruncatedNormal


@pytest.fixture
def switch():
    """`config.use_fast_paths`, put back as the test found it (the switch is process-wide)."""
    before = config.fast_paths_enabled()
    yield config.use_fast_paths
    config.use_fast_paths(before)


def only_on(backend):
    return pytest.mark.skipif(BACKEND != backend, reason=f"{backend} only")


def built_norm(rng, shape):
    norm = ke.ElectraLayerNorm(epsilon=1e-12)
    norm.build(shape)
    norm.set_weights([rng.normal(mean, 0.3, shape[-1]).astype("float32") for mean in (1.0, 0.0)])
    return norm


def regression_batches(workers=1):
    """A `PyDataset` of 5 batches of 3 (the last of 1) of (features, target) pairs."""
    x = np.random.default_rng(0).normal(size=(13, 4)).astype("float32")
    return ShuffledBatches(x, x.sum(axis=1), batch_size=3, seed=0, workers=workers)


# --- the switch -------------------------------------------------------------------------------------------


def test_the_switch_selects_every_plain_version(switch):
    switch(False)
    norm = built_norm(np.random.default_rng(0), (2, 8))
    assert gelu.select_gelu() is gelu.plain_gelu
    assert layer_norm.select_layer_norm(norm, 2) is layer_norm.plain_layer_norm
    assert random_bits.select_uniform() is random_bits.plain_uniform
    assert dropout.select_dropout() is dropout.plain_dropout
    assert adamw.select_update_step(ke.pretraining_optimizer()) is adamw.plain_update_step
    assert softmax.select_masked_softmax() is softmax.plain_masked_softmax
    assert adamw.select_clip_gradients(ke.pretraining_optimizer()) is adamw.plain_clip_gradients
    assert fit_input.select_fit_input(regression_batches()) is fit_input.plain_fit_input


def test_the_fast_versions_are_selected_on_their_backend(switch):
    switch(True)
    norm = built_norm(np.random.default_rng(0), (2, 8))
    chosen = {
        "tensorflow": [
            gelu.select_gelu() is gelu.tensorflow_gelu,
            dropout.select_dropout() is dropout.tensorflow_dropout,
            fit_input.select_fit_input(regression_batches()) is fit_input.tensorflow_fit_input,
            adamw.select_update_step(ke.pretraining_optimizer()) is adamw.tensorflow_update_step,
        ],
        "jax": [
            layer_norm.select_layer_norm(norm, 2) is layer_norm.jax_layer_norm,
            random_bits.select_uniform() is random_bits.counter_uniform,
            dropout.select_dropout() is dropout.jax_dropout,
        ],
        "torch": [
            dropout.select_dropout() is dropout.torch_dropout,
            adamw.select_update_step(ke.pretraining_optimizer()) is adamw.torch_update_step,
            softmax.select_masked_softmax() is softmax.torch_masked_softmax,
            adamw.select_clip_gradients(ke.pretraining_optimizer()) is adamw.torch_clip_gradients,
        ],
    }
    assert all(chosen[BACKEND]), chosen[BACKEND]


@pytest.mark.parametrize("seed", [3, None])
def test_the_fast_random_draws_take_keras_own_for_what_they_cannot_draw(switch, seed):
    """An int or no seed (no SeedGenerator to advance) and a dropout rate of 1 go to Keras' draws."""
    switch(True)
    x = keras.ops.ones((4, 8))
    seeded = seed is not None
    for rate in (0.3, 1.0):
        y = to_numpy(dropout.select_dropout()(x, rate, seed))
        if seeded or rate == 1.0:
            expected = to_numpy(keras.random.dropout(x, rate, seed=seed))
            np.testing.assert_array_equal(y, expected, err_msg=f"rate {rate}")
        else:
            assert 0 < (y == 0).mean() < 1, y
    if seeded:
        np.testing.assert_array_equal(
            to_numpy(random_bits.select_uniform()(seed, (4, 8))),
            to_numpy(keras.random.uniform((4, 8), seed=seed)),
        )


@pytest.mark.large
@pytest.mark.parametrize("value, enabled", [("1", "False"), ("0", "True")])
def test_the_environment_variable_turns_them_off(value, enabled):
    # Read once, when keras_electra is imported: a fresh process.
    script = "import keras_electra; print(keras_electra.config.fast_paths_enabled())"
    env = {**os.environ, config.PLAIN_OPS_VARIABLE: value}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == enabled, out.stderr


def test_the_switch_takes_a_bool(switch):
    for value in ("off", 0, None):
        with pytest.raises(TypeError, match="True or False"):
            switch(value)


# --- each fast path against its plain version ------------------------------------------------------------


@only_on("tensorflow")
def test_tensorflow_gelu_matches_keras_values_and_gradients():
    rng = np.random.default_rng(0)
    x = keras.Variable(rng.normal(0.0, 3.0, (16, 64)).astype("float32"))
    weights = keras.ops.convert_to_tensor(rng.normal(size=(16, 64)).astype("float32"))
    fast, plain = (
        (to_numpy(f(x.value)), *gradients(lambda f=f: keras.ops.sum(f(x.value) * weights), [x]))
        for f in (gelu.tensorflow_gelu, gelu.plain_gelu)
    )
    np.testing.assert_array_equal(fast[0], plain[0])
    np.testing.assert_allclose(fast[1], plain[1], rtol=1e-5, atol=1e-6)


@only_on("tensorflow")
def test_tensorflow_gelu_in_bfloat16_is_float64s_rounded_once():
    """A bfloat16 input gives float64's GELU and gradient within one bfloat16 rounding each (or 1e-6: float32
    inside loses the far negative tail's relative precision)."""
    import tensorflow as tf
    from scipy.special import erf

    rng = np.random.default_rng(1)
    x = tf.cast(rng.normal(0.0, 3.0, (16, 64)), "bfloat16")
    dy = tf.cast(rng.normal(size=(16, 64)), "bfloat16")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gelu.tensorflow_gelu(x)
    grad = tape.gradient(y, x, output_gradients=dy)
    wide, upstream = (to_numpy(tf.cast(t, "float64")) for t in (x, dy))
    cdf = 0.5 * (1 + erf(wide / np.sqrt(2)))
    expected_grad = upstream * (cdf + wide * np.exp(-0.5 * wide**2) / np.sqrt(2 * np.pi))
    assert y.dtype == grad.dtype == tf.bfloat16
    np.testing.assert_allclose(to_numpy(tf.cast(y, "float64")), wide * cdf, rtol=2**-8, atol=1e-6)
    np.testing.assert_allclose(
        to_numpy(tf.cast(grad, "float64")), expected_grad, rtol=2**-8, atol=1e-6
    )


@only_on("tensorflow")
def test_tensorflow_fit_input_gives_the_datasets_batches_in_order_and_the_same_fit(switch):
    switch(True)
    batches = regression_batches()
    read = list(fit_input.tensorflow_fit_input(batches).as_numpy_iterator())
    assert len(read) == len(batches) == 5
    for got, expected in zip(read, (batches[index] for index in range(len(batches)))):
        for got_array, expected_array in zip(got, expected):
            np.testing.assert_array_equal(got_array, expected_array)
    assert fit_input.select_fit_input(regression_batches(workers=2)) is fit_input.plain_fit_input

    def fitted(dataset):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(dataset, epochs=2, verbose=0, shuffle=False)
        return model.get_weights()

    for fast, plain in zip(fitted(fit_input.tensorflow_fit_input(batches)), fitted(batches)):
        np.testing.assert_allclose(fast, plain, rtol=1e-6)


@only_on("jax")
def test_jax_layer_norm_matches_keras_values_and_gradients():
    rng = np.random.default_rng(1)
    norm = built_norm(rng, (4, 8, 32))
    x = keras.Variable(rng.normal(2.0, 5.0, (4, 8, 32)).astype("float32"))
    weights = keras.ops.convert_to_tensor(rng.normal(size=(4, 8, 32)).astype("float32"))
    variables = [x, norm.gamma, norm.beta]
    fast, plain = (
        (
            to_numpy(f(norm, x.value)),
            *gradients(lambda f=f: keras.ops.sum(f(norm, x.value) * weights), variables),
        )
        for f in (layer_norm.jax_layer_norm, layer_norm.plain_layer_norm)
    )
    for a, b, name in zip(fast, plain, ("values", "x", "gamma", "beta")):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5, err_msg=name)


def keep_fraction_bounds(rate, count):
    """The kept fraction's range that a correct Bernoulli(1 - rate) mask leaves with probability 1 - 1e-6."""
    return stats.binom.ppf([5e-7, 1 - 5e-7], count, 1 - rate) / count


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_fast_dropout_keeps_one_minus_rate_and_its_gradient_is_the_scaled_mask(rate):
    fast = {
        "torch": dropout.torch_dropout,
        "jax": dropout.jax_dropout,
        "tensorflow": dropout.tensorflow_dropout,
    }[BACKEND]
    x = keras.Variable(np.full((64, 1024), 2.0, "float32"))
    seed = keras.random.SeedGenerator(3)
    # Keras' dropout, through the same checks, is the control of the bound.
    for function in (fast, dropout.plain_dropout):
        y = to_numpy(function(x.value, rate, seed))
        kept = y != 0
        low, high = keep_fraction_bounds(rate, kept.size)
        assert low <= kept.mean() <= high, (function.__name__, kept.mean())
        np.testing.assert_allclose(y[kept], 2.0 / (1 - rate), rtol=1e-6)
    # The gradient is the same mask, scaled: drawn again from the same seed state.
    state = to_numpy(seed.state.value)
    y = to_numpy(fast(x.value, rate, seed))
    seed.state.assign(state)
    (grad,) = gradients(lambda: keras.ops.sum(fast(x.value, rate, seed)), [x])
    np.testing.assert_allclose(grad, (y != 0) / (1 - rate), rtol=1e-6)


@only_on("jax")
def test_counter_uniform_is_uniform_like_keras_and_repeats_for_a_seed():
    shape = (256, 1024)
    fast, again, other = (
        to_numpy(random_bits.counter_uniform(keras.random.SeedGenerator(s), shape)).ravel()
        for s in (5, 5, 6)
    )
    plain = to_numpy(random_bits.plain_uniform(keras.random.SeedGenerator(5), shape)).ravel()
    np.testing.assert_array_equal(fast, again)
    assert (fast != other).mean() > 0.99
    assert 0.0 <= fast.min() and fast.max() < 1.0
    # Six standard deviations of the sample mean (variance 1/12) and variance (of (u - 1/2)^2: 1/180).
    assert abs(fast.mean() - 1 / 2) < 6 * np.sqrt(1 / 12 / fast.size)
    assert abs(fast.var() - 1 / 12) < 6 * np.sqrt(1 / 180 / fast.size)
    assert stats.kstest(fast, "uniform").pvalue > 1e-4
    assert stats.ks_2samp(fast[:100_000], plain[:100_000]).pvalue > 1e-4


def adamw_after_steps(steps=3):
    """The weights and moments of a small model after `steps` updates of ElectraAdamW from fixed gradients,
    with decayed and spared variables, two learning-rate multipliers and global-norm clipping at work."""
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(
                10, 8, embeddings_initializer=keras.initializers.RandomNormal(seed=0)
            ),
            ke.ElectraLayerNorm(),
            keras.layers.Dense(3, kernel_initializer=keras.initializers.RandomNormal(seed=1)),
        ]
    )
    optimizer = ke.ElectraAdamW(
        learning_rate=1e-2,
        weight_decay=0.1,
        global_clipnorm=1.0,
        learning_rate_multipliers={"dense": 0.5},
    )
    rng = np.random.default_rng(0)
    variables = model.trainable_variables
    for _ in range(steps):
        grads = [
            keras.ops.convert_to_tensor(rng.normal(0, 3, v.shape).astype("float32"))
            for v in variables
        ]
        optimizer.apply(grads, variables)
    return [(v.path, to_numpy(v)) for v in variables + optimizer.variables]


def test_the_fused_updates_leave_amsgrad_and_tf_distribute_to_keras(switch):
    switch(True)
    assert adamw.select_update_step(ke.ElectraAdamW(amsgrad=True)) is adamw.plain_update_step
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
            selected = adamw.select_update_step(ke.pretraining_optimizer())
        assert selected is adamw.plain_update_step


@pytest.mark.skipif(BACKEND == "jax", reason="JAX has no fused update")
def test_the_fused_adamw_matches_the_per_variable_update(switch):
    """torch's multi-tensor update and TensorFlow's `ResourceApplyAdam` against Keras' per-variable one."""
    switch(True)
    fast = adamw_after_steps()
    switch(False)
    plain = adamw_after_steps()
    for (path, a), (_, b) in zip(fast, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=path)


@only_on("torch")
def test_torch_bfloat16_softmax_matches_float64_and_masks_keys_exactly():
    """The fast softmax against a float64 softmax of the same bfloat16 scores: probabilities within one
    bfloat16 rounding (and equal to the plain version's), gradients within a few, masked keys exactly 0,
    a row with no key at all finite."""
    import torch

    rng = np.random.default_rng(0)
    scores = torch.tensor(rng.normal(0, 3, (2, 2, 6, 6)), dtype=torch.bfloat16, requires_grad=True)
    keep = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.float32)
    upstream = torch.tensor(rng.normal(size=(2, 2, 6, 6)), dtype=torch.bfloat16)
    reference = scores.detach().double().requires_grad_()
    masked = reference + ((keep.double() - 1) * 1e9)[:, None, None, :]
    expected = torch.softmax(masked, dim=-1)
    expected.backward(upstream.double())
    probs = softmax.torch_masked_softmax(scores, keep, "bfloat16")
    probs.backward(upstream)
    assert probs.dtype == torch.bfloat16
    np.testing.assert_array_equal(
        probs.detach().float(),
        softmax.plain_masked_softmax(scores, keep, "bfloat16").detach().float(),
    )
    # The row with no key: float64 still tells -1e9 + score apart, float32 does not (both uniform).
    np.testing.assert_allclose(
        probs[0].detach().double(), expected[0].detach(), rtol=2**-8, atol=1e-6
    )
    np.testing.assert_allclose(scores.grad[0].double(), reference.grad[0], rtol=0.03, atol=0.01)
    assert (probs[0, :, :, 4:] == 0).all() and torch.isfinite(probs[1]).all()


@only_on("torch")
def test_torch_clipping_matches_keras_clip_by_global_norm():
    rng = np.random.default_rng(2)
    grads = [
        keras.ops.convert_to_tensor(rng.normal(0, 5, shape).astype("float32"))
        for shape in ((8, 3), (5,))
    ]
    optimizer = ke.pretraining_optimizer()
    for fast, plain in zip(
        adamw.torch_clip_gradients(optimizer, grads), adamw.plain_clip_gradients(optimizer, grads)
    ):
        np.testing.assert_allclose(to_numpy(fast), to_numpy(plain), rtol=1e-6)


# --- upstream bugs worked around: each of these tests fails once upstream fixes its bug ------------------


def adamw_update(optimizer, gradient):
    """A zero 3 x 1 variable and its Adam moments after `optimizer`'s first update from `gradient` (the
    variable alone can hide a wrong scale: Adam's first step is about sign(gradient) * learning rate)."""
    variable = keras.Variable(np.zeros((3, 1), "float32"))
    optimizer.apply([gradient], [variable])
    return np.concatenate(
        [to_numpy(v) for v in (variable, optimizer._momentums[0], optimizer._velocities[0])]
    )


def repeated_embedding_slices():
    """An embedding's gradient for ids [0, 0] on TensorFlow: one slice per lookup, the repeat included."""
    import tensorflow as tf

    return tf.IndexedSlices(tf.constant([[1.0], [3.0]]), tf.constant([0, 0]), tf.constant([3, 1]))


@only_on("tensorflow")
@pytest.mark.parametrize("clipnorm", [None, 1.0])
def test_keras_adamw_still_squares_repeated_embedding_slices_before_summing(clipnorm):
    """Keras' Adam (and its global-norm clipping) squares an IndexedSlices' slices before adding repeats up.
    If this fails, Keras has fixed that: `fast_paths.adamw.dense_gradients` can go."""
    import tensorflow as tf

    slices = repeated_embedding_slices()
    sparse, dense = (
        adamw_update(
            keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.0, global_clipnorm=clipnorm), g
        )
        for g in (slices, tf.convert_to_tensor(slices))
    )
    assert not np.allclose(sparse, dense, rtol=1e-3), (
        "Keras' AdamW now updates IndexedSlices with repeated ids as the dense gradient: "
        "remove fast_paths.adamw.dense_gradients and this test"
    )


@only_on("tensorflow")
def test_electra_adamw_updates_repeated_embedding_slices_as_the_dense_gradient():
    import tensorflow as tf

    slices = repeated_embedding_slices()
    sparse, dense = (
        adamw_update(ke.pretraining_optimizer(), g) for g in (slices, tf.convert_to_tensor(slices))
    )
    np.testing.assert_allclose(sparse, dense, rtol=1e-6)


@only_on("torch")
def test_keras_torch_truncated_normal_still_escapes_two_standard_deviations():
    """Keras' torch `truncated_normal` keeps the first of four draws in range, or the fourth out of it: about
    4 values in a million escape. If this fails, Keras has fixed that: `StrictTruncatedNormal`'s clip can go."""
    draws = to_numpy(
        keras.random.truncated_normal((1024, 4096), seed=0)
    )  # about 18 escapes expected
    assert (np.abs(draws) >= 2).any(), (
        "Keras' torch truncated_normal now stays within 2 standard deviations: "
        "remove StrictTruncatedNormal's clip (keras_electra/models/seeds.py) and this test"
    )
    strict = to_numpy(StrictTruncatedNormal(stddev=1.0, seed=0)((1024, 4096)))
    assert np.abs(strict).max() <= 2


def test_keras_functional_models_still_drop_their_dtype():
    """If this fails, a functional model keeps `dtype=`: `ElectraBackbone` and `ElectraGenerator` can stop
    setting `dtype_policy` themselves after building their graphs."""
    inputs = keras.Input(shape=(3,))
    model = keras.Model(
        inputs, keras.layers.Dense(2, dtype="mixed_bfloat16")(inputs), dtype="mixed_bfloat16"
    )
    assert model.dtype_policy.name != "mixed_bfloat16", "Keras now keeps a functional model's dtype"
