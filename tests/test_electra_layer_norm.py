"""`ElectraLayerNorm`: Keras' LayerNormalization (its variables, files and results), forward and backward."""

import keras
import numpy as np
import pytest
from conftest import gradients, to_numpy
from harness import check_keras_file
from references import layer_norm_of

import keras_electra as ke
from keras_electra.models import electra_encoder_layer
from keras_electra.models.electra_layer_norm import ElectraLayerNorm

EPSILON = 1e-12


def numeric_gradients(x, gamma, beta, weights, step=1e-6):
    """d/d(x, gamma, beta) of sum(layer_norm_of * weights), by central differences in float64."""
    arguments = [a.astype("float64") for a in (x, gamma, beta)]
    result = []
    for k, argument in enumerate(arguments):
        grad = np.zeros_like(argument)
        for index in np.ndindex(argument.shape):
            values = []
            for sign in (1, -1):
                shifted = [a.copy() for a in arguments]
                shifted[k][index] += sign * step
                values.append((layer_norm_of(*shifted) * weights).sum())
            grad[index] = (values[0] - values[1]) / (2 * step)
        result.append(grad)
    return result


def built(shape, rng, **kwargs):
    layer = ElectraLayerNorm(epsilon=EPSILON, **kwargs)
    layer.build(shape)
    gamma, beta = rng.normal(1.0, 0.5, shape[-1]), rng.normal(0.0, 0.5, shape[-1])
    layer.set_weights([gamma.astype("float32"), beta.astype("float32")])
    return layer, gamma, beta


# A mean 1000 times the spread: the float32 mean alone is off by about 1e-4 of the spread, and a variance
# computed as E[x^2] - E[x]^2 would be off by several percent.
@pytest.mark.parametrize(
    "shape, location, scale, atol", [((4, 16, 256), 0.0, 1.0, 2e-5), ((2, 3, 64), 100.0, 0.1, 2e-3)]
)
def test_forward_matches_float64(shape, location, scale, atol):
    rng = np.random.default_rng(0)
    layer, gamma, beta = built(shape, rng)
    x = rng.normal(location, scale, shape).astype("float32")
    np.testing.assert_allclose(
        to_numpy(layer(x)), layer_norm_of(x, gamma, beta), atol=atol, rtol=1e-5
    )


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    shape = (2, 3, 8)
    layer, gamma, beta = built(shape, rng)
    x = rng.normal(0.5, 2.0, shape)
    weights = rng.normal(size=shape)
    variable = keras.Variable(x.astype("float32"))
    weights_tensor = keras.ops.convert_to_tensor(weights.astype("float32"))
    got = gradients(
        lambda: keras.ops.sum(layer(variable.value) * weights_tensor),
        [variable, layer.gamma, layer.beta],
    )
    expected = numeric_gradients(
        x.astype("float32"), gamma.astype("float32"), beta.astype("float32"), weights
    )
    for name, g, e in zip(("x", "gamma", "beta"), got, expected):
        np.testing.assert_allclose(g, e, atol=2e-4, rtol=1e-4, err_msg=name)


def test_several_axes_normalize_like_keras():
    # Off the fast path (the last axis alone): Keras' own computation, over the last two axes here.
    rng = np.random.default_rng(2)
    layer = ElectraLayerNorm(axis=(1, 2), epsilon=EPSILON)
    layer.build((4, 6, 5))
    gamma, beta = rng.normal(1.0, 0.5, (6, 5)), rng.normal(0.0, 0.5, (6, 5))
    layer.set_weights([gamma.astype("float32"), beta.astype("float32")])
    x = rng.normal(size=(4, 6, 5)).astype("float32")
    flat = layer_norm_of(x.reshape(4, 30), gamma.reshape(30), beta.reshape(30)).reshape(4, 6, 5)
    np.testing.assert_allclose(to_numpy(layer(x)), flat, atol=2e-5, rtol=1e-5)


def test_half_precision_computes_in_float32():
    rng = np.random.default_rng(3)
    layer, gamma, beta = built((4, 8, 64), rng, dtype="mixed_bfloat16")
    x = rng.normal(3.0, 2.0, (4, 8, 64)).astype("float32")
    y = layer(keras.ops.cast(x, "bfloat16"))
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    x_rounded = to_numpy(keras.ops.cast(keras.ops.cast(x, "bfloat16"), "float32"))
    # bfloat16 keeps 8 bits of mantissa: the output's own rounding only.
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(y, "float32")),
        layer_norm_of(x_rounded, gamma, beta),
        atol=0.05,
        rtol=1e-2,
    )


def test_variables_config_and_saving(tmp_path):
    rng = np.random.default_rng(4)
    layer, _, _ = built((2, 5, 16), rng)
    assert [v.name for v in layer.weights] == ["gamma", "beta"]
    x = rng.normal(size=(2, 5, 16)).astype("float32")
    # Inside a functional model: the class, config, weights and outputs come back.
    check_keras_file(layer, (x,), tmp_path)


def test_files_written_with_keras_layer_normalization_still_load(tmp_path, monkeypatch):
    """Models saved before ElectraLayerNorm (its sublayers were keras.layers.LayerNormalization) load unchanged."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 7, 32)).astype("float32")
    with monkeypatch.context() as patch:
        patch.setattr(electra_encoder_layer, "ElectraLayerNorm", keras.layers.LayerNormalization)
        old = ke.models.ElectraEncoderLayer(32, 2, 64, seed=0)
        inputs = keras.Input((7, 32))
        model = keras.Model(inputs, old(inputs))
        assert type(old.output_layer_norm) is keras.layers.LayerNormalization
        for norm in (old.attention_layer_norm, old.output_layer_norm):  # not the initial 1 and 0
            norm.set_weights([rng.normal(m, 0.3, 32).astype("float32") for m in (1.0, 0.0)])
        expected = to_numpy(model(x))
        model.save(tmp_path / "old.keras")
    restored = keras.models.load_model(tmp_path / "old.keras")
    layer = restored.layers[-1]
    assert type(layer.output_layer_norm) is ElectraLayerNorm
    np.testing.assert_allclose(to_numpy(restored(x)), expected, atol=1e-5, rtol=1e-5)
