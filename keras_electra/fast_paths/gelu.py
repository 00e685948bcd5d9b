"""Exact (erf) GELU: Keras' own, and on TensorFlow one whose backward keeps only its input.

Measured (`benchmarks/results/pretrain_step_cpu.md`, "TensorFlow's peak
memory"): differentiated op by op, TensorFlow's `0.5 * x * erfc(-x / sqrt(2))`
keeps `0.5 * x`, `-x / sqrt(2)` and the `erfc` for the backward pass, three
tensors of the feed-forward width: 720 MB in an ELECTRA-Small pretraining
step at batch 32 x 128. `tensorflow_gelu` writes the gradient in closed form
from `x` alone (240 MB): -370 MB of peak RSS (3,436-3,451 MB against
3,804-3,816), no change in speed. torch's GELU is one fused kernel and XLA
chooses what JAX keeps, so they have no fast path.

Under a 16-bit policy it computes in float32 and rounds once: TensorFlow's bfloat16
GELU rounds each of its steps (5% off float64 in a quarter of a normal sample's
values, `tests/test_fast_paths.py`) and is slower (22.5 against 17.4 ms forward and
backward at 32 x 128 x 1,024, 2 threads).
"""

import functools
import math

import keras

from keras_electra.fast_paths import enabled_on


def plain_gelu(x):
    """`keras.activations.gelu(x)`, the exact form."""
    return keras.activations.gelu(x)


def tensorflow_gelu(x):
    """`plain_gelu(x)` bit for bit forward, its gradient `Phi(x) + x * phi(x)` from `x` alone."""
    return _gelu_keeping_only_its_input()(x)


def select_gelu():
    """The GELU to run now: `tensorflow_gelu` on TensorFlow with fast paths on, else `plain_gelu`."""
    return tensorflow_gelu if enabled_on("tensorflow") else plain_gelu


@functools.cache
def _gelu_keeping_only_its_input():
    import tensorflow as tf

    @tf.custom_gradient
    def gelu_keeping_only_its_input(x):
        def backward(dy):
            wide = tf.cast(x, "float32")  # cast again: keeping it would keep twice x's bytes
            # d/dx x * Phi(x) = Phi(x) + x * phi(x), with phi the standard normal density.
            cdf = 0.5 * tf.math.erfc(-wide * (1 / math.sqrt(2)))
            density = tf.exp(-0.5 * tf.square(wide)) * (1 / math.sqrt(2 * math.pi))
            return tf.cast(tf.cast(dy, "float32") * (cdf + wide * density), x.dtype)

        return tf.cast(tf.nn.gelu(tf.cast(x, "float32"), approximate=False), x.dtype), backward

    return gelu_keeping_only_its_input
