"""Exact (erf) GELU; on TensorFlow its backward keeps only its input."""

import functools
import math

import keras


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu(x):
    """`keras.activations.gelu(x)` (the exact form, as BERT and ELECTRA use), bit for bit.

    Differentiated op by op, TensorFlow's `0.5 * x * erfc(-x / sqrt(2))` keeps
    `0.5 * x`, `-x / sqrt(2)` and the `erfc` for the backward pass, three
    tensors of the feed-forward width: 720 MB in an ELECTRA-Small pretraining
    step at batch 32 x 128, which put TensorFlow's peak memory above
    PyTorch's. There the gradient is written in closed form from `x` alone
    (240 MB). torch's GELU is one fused kernel and XLA chooses what JAX
    keeps, so they take Keras' path.
    """
    if keras.backend.backend() != "tensorflow":
        return keras.activations.gelu(x)
    return _tensorflow_gelu()(x)


@functools.lru_cache(maxsize=None)
def _tensorflow_gelu():
    import tensorflow as tf

    @tf.custom_gradient
    def gelu_keeping_only_its_input(x):
        def backward(dy):
            # d/dx x * Phi(x) = Phi(x) + x * phi(x), with phi the standard normal density.
            cdf = 0.5 * tf.math.erfc(-x * (1 / math.sqrt(2)))
            density = tf.exp(-0.5 * tf.square(x)) * (1 / math.sqrt(2 * math.pi))
            return dy * (cdf + x * density)

        return tf.nn.gelu(x, approximate=False), backward

    return gelu_keeping_only_its_input
