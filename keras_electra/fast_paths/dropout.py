"""Inverted dropout: Keras' own, and cheaper masks on torch, JAX and TensorFlow.

Measured (`benchmarks/results/pretrain_step_cpu.md`):

- torch ("Each optimisation, before and after" and "Dropout on torch, 16-bit
  lanes"): Keras' seeded torch dropout draws a Bernoulli variate per element
  from a tensor of probabilities, element by element, then selects with
  `where`. Drawing the mask from one seeded tensor instead took an
  ELECTRA-Small pretraining step from 2,128 to 1,922 ms; 64-bit draws read as
  four 16-bit lanes (a quarter of the generator calls of `torch.rand`, whose
  draws were 8% of a step) and a product that saves a boolean mask took
  another 60-90 ms and 150-290 MB of peak RSS. P(keep) is `1 - rate` to 2**-16.
- JAX ("JAX LayerNorm, counter-based random numbers, torch dropout mask"):
  masks from `random_bits.counter_bits` compared with a 32-bit threshold:
  -14% of a step, -440 MB. P(keep) is `1 - rate` to 2**-32.
- TensorFlow (docs/performance.md, "Where the step goes"): Keras draws a
  float32 uniform per element with Philox, 8-11% of an ELECTRA-Small step.
  Each 32-bit draw read as two 16-bit lanes: dropout of a 32 x 4 x 128 x 128
  tensor, forward and backward, 8.3 against 13.2 ms. P(keep) is `1 - rate`
  to 2**-16.

Each draws its own stream from the layer's SeedGenerator: seeded and
reproducible, but not the numbers `keras.random.dropout` draws.
"""

import functools
import math

import keras
from keras import ops

from keras_electra.fast_paths import enabled_on
from keras_electra.fast_paths.random_bits import counter_bits, counter_bits_can_draw


def plain_dropout(x, rate, seed):
    """`keras.random.dropout(x, rate, seed=seed)`."""
    return keras.random.dropout(x, rate, seed=seed)


def torch_dropout(x, rate, seed):
    """Dropout of torch tensor `x`, from 16-bit lanes of 64-bit draws, saving a boolean mask for backward;
    `plain_dropout` unless `seed` is a SeedGenerator (its stream seeds the draws) and `rate` < 1 (the kept
    values are scaled by 1 / (1 - rate))."""
    import torch

    if not (isinstance(seed, keras.random.SeedGenerator) and rate < 1.0):
        return plain_dropout(x, rate, seed)
    if x.device.type == "meta":  # Keras' shape inference: a generator cannot live on that device
        return x
    generator = torch.Generator(device=x.device)
    generator.manual_seed(int(ops.sum(seed.next())) & 0xFFFFFFFF)
    keep = 1.0 - rate
    count = math.prod(x.shape)
    bits = torch.empty((count + 3) // 4, dtype=torch.int64, device=x.device)
    bits.random_(-(2**63), None, generator=generator)
    kept = bits.view(torch.int16)[:count].view(x.shape) < min(
        round(keep * 2**16) - 2**15, 2**15 - 1
    )
    return _scaled_mask_product()(x, kept, 1.0 / keep)


def jax_dropout(x, rate, seed):
    """Dropout of JAX array `x`, its mask from `counter_bits`; `plain_dropout` unless `rate` < 1 and
    `counter_bits_can_draw` the mask."""
    import jax.numpy as jnp

    if not (rate < 1.0 and counter_bits_can_draw(seed, x.shape)):
        return plain_dropout(x, rate, seed)
    keep = 1.0 - rate
    # Bits against a 32-bit threshold: no conversion to float, the same P(keep) to 2**-32.
    threshold = jnp.uint32(min(round(keep * 2**32), 2**32 - 1))
    kept = counter_bits(seed, x.shape) < threshold
    return jnp.where(kept, x * (1.0 / keep), jnp.zeros((), x.dtype))


def tensorflow_dropout(x, rate, seed):
    """Dropout of TensorFlow tensor `x`, its mask from 16-bit lanes of 32-bit stateless draws;
    `plain_dropout` unless `seed` is a SeedGenerator (its stream seeds the draws) and `rate` < 1."""
    import tensorflow as tf

    if not (isinstance(seed, keras.random.SeedGenerator) and rate < 1.0):
        return plain_dropout(x, rate, seed)
    keep = 1.0 - rate
    count = tf.size(x)
    words = tf.random.stateless_uniform(
        [(count + 1) // 2], tf.cast(seed.next(), tf.int32), None, None, tf.uint32
    )
    lanes = tf.reshape(tf.bitcast(words, tf.int16), [-1])[:count]
    kept = tf.reshape(lanes, tf.shape(x)) < min(round(keep * 2**16) - 2**15, 2**15 - 1)
    return tf.where(kept, x * (1.0 / keep), tf.zeros((), x.dtype))


def select_dropout():
    """The dropout to run: `torch_dropout`, `jax_dropout` or `tensorflow_dropout` with fast paths on their
    backend (each takes Keras' own for arguments it cannot draw), `plain_dropout` otherwise."""
    if enabled_on("torch"):
        return torch_dropout
    if enabled_on("jax"):
        return jax_dropout
    if enabled_on("tensorflow"):
        return tensorflow_dropout
    return plain_dropout


@functools.cache
def _scaled_mask_product():
    """`x * kept * scale` that saves the boolean `kept` for backward (1 byte an element, not a float32
    mask's 4) in two passes each way; `torch.where(kept, x * scale, 0)` would save the same mask but
    take three passes backward."""
    import torch

    class ScaledMaskProduct(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, kept, scale):
            ctx.save_for_backward(kept)
            ctx.scale = scale
            return torch.mul(x, kept).mul_(scale)

        @staticmethod
        def backward(ctx, grad):
            (kept,) = ctx.saved_tensors
            return torch.mul(grad, kept).mul_(ctx.scale), None, None

    return ScaledMaskProduct.apply
