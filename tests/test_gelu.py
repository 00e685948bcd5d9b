"""`gelu`: Keras' exact GELU, forward bit for bit; its closed-form backward; what TensorFlow keeps for it."""

import math

import keras
import numpy as np
import pytest
from conftest import BACKEND, gradients, to_numpy

from keras_electra.models.gelu import gelu


def reference(x):
    """x * Phi(x) and its derivative Phi(x) + x * phi(x), in float64 from the definitions."""
    x = np.asarray(x, "float64")
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    density = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return x * cdf, cdf + x * density


def test_forward_is_keras_gelu_bit_for_bit():
    x = np.random.default_rng(0).normal(0.0, 3.0, (64, 257)).astype("float32")
    np.testing.assert_array_equal(to_numpy(gelu(x)), to_numpy(keras.activations.gelu(x)))
    np.testing.assert_allclose(to_numpy(gelu(x)), reference(x)[0], atol=2e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-6), ("bfloat16", 2e-2)])
def test_gradient_matches_the_derivative_of_the_definition(dtype, tolerance):
    rng = np.random.default_rng(1)
    x = np.concatenate([np.linspace(-9, 9, 181), rng.normal(0.0, 2.0, 300)]).astype("float32")
    weights = rng.normal(size=x.shape).astype("float32")
    variable = keras.Variable(x, dtype=dtype)
    weights_tensor = keras.ops.convert_to_tensor(weights, dtype=dtype)
    (got,) = gradients(lambda: keras.ops.sum(gelu(variable.value) * weights_tensor), [variable])
    rounded = to_numpy(keras.ops.cast(variable.value, "float32"))
    expected = reference(rounded)[1] * to_numpy(keras.ops.cast(weights_tensor, "float32"))
    np.testing.assert_allclose(np.asarray(got, "float32"), expected, atol=tolerance, rtol=tolerance)


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="what the backward pass keeps is TensorFlow's concern "
    "(torch's GELU is one fused kernel, XLA chooses for JAX)",
)
@pytest.mark.parametrize("activation, kept", [(gelu, 1), (keras.activations.gelu, 4)])
def test_tensorflow_backward_keeps_only_the_input(activation, kept):
    """Counts the forward tensors of the feed-forward width that the gradient's ops read.

    Keras' GELU is the control: TensorFlow keeps 0.5 * x, -x / sqrt(2), erfc(...) and x for it.
    """
    import tensorflow as tf

    width = 48  # no other tensor in the graph has this last dimension
    dense = keras.layers.Dense(width, activation=activation)
    x = tf.random.normal((4, 16))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(dense(x)))
        return tape.gradient(loss, dense.trainable_variables)

    graph = step.get_concrete_function(x).graph
    forward_tensors_read_by_the_backward = {
        t.name
        for op in graph.get_operations()
        if op.name.startswith("gradient_tape/")
        for t in op.inputs
        if not t.op.name.startswith("gradient_tape/") and t.shape.rank == 2 and t.shape[-1] == width
    }
    # One more for either: the activation's output, which the loss's square keeps.
    assert len(forward_tensors_read_by_the_backward) == kept + 1, (
        forward_tensors_read_by_the_backward
    )
