"""Dropout, with cheaper masks on the torch and JAX backends."""

import functools
import math

import keras
import numpy as np
from keras import ops


def dropout(x, rate, seed):
    """`keras.random.dropout(x, rate, seed=seed)`, drawn faster on torch and JAX.

    Keras' seeded torch dropout draws a Bernoulli variate per element from a
    tensor of probabilities and then selects with `where`; 16 random bits per
    element compared with a threshold cost a fraction of that, and backward
    keeps a boolean mask. On JAX, Keras draws threefry numbers, about 3 ns per
    element on XLA CPU; `counter_bits` costs a sixth of that
    (`benchmarks/results/pretrain_step_cpu.md`). P(keep) is `1 - rate` to
    2**-16 (torch) or 2**-32 (JAX).
    """
    if rate <= 0.0:
        return x
    if not isinstance(seed, keras.random.SeedGenerator) or rate >= 1.0:
        return keras.random.dropout(x, rate, seed=seed)
    backend = keras.backend.backend()
    if backend == "torch":
        return _torch_dropout(x, rate, seed)
    if backend == "jax" and counter_bits_cover(x.shape):
        return _jax_dropout(x, rate, seed)
    return keras.random.dropout(x, rate, seed=seed)


def _torch_dropout(x, rate, seed):
    import torch

    if x.device.type == "meta":  # Keras' shape inference: no generator on that device
        return x
    generator = torch.Generator(device=x.device)
    generator.manual_seed(int(ops.sum(seed.next())) & 0xFFFFFFFF)
    keep = 1.0 - rate
    # 64 random bits give four 16-bit lanes: a quarter of the generator calls of `torch.rand`, whose
    # draws were 8% of a CPU step. P(keep) = 1 - rate to 2**-16.
    count = math.prod(x.shape)
    bits = torch.empty((count + 3) // 4, dtype=torch.int64, device=x.device)
    bits.random_(-(2**63), None, generator=generator)
    kept = bits.view(torch.int16)[:count].view(x.shape) < min(round(keep * 2**16) - 2**15, 2**15 - 1)
    return _scaled_mask_product()(x, kept, 1.0 / keep)


@functools.lru_cache(maxsize=None)
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


def _jax_dropout(x, rate, seed):
    import jax.numpy as jnp

    keep = 1.0 - rate
    # Bits against a 32-bit threshold: no conversion to float, the same P(keep) to 2**-32.
    threshold = jnp.uint32(min(round(keep * 2**32), 2**32 - 1))
    kept = counter_bits(seed, x.shape) < threshold
    return jnp.where(kept, x * (1.0 / keep), jnp.zeros((), x.dtype))


def _mix(h):
    """A 32-bit bijection with strong avalanche (the "lowbias32" hash, C. Wellons' hash prospector)."""
    h = h ^ (h >> 16)
    h = h * np.uint32(0x7FEB352D)
    h = h ^ (h >> 15)
    h = h * np.uint32(0x846CA68B)
    return h ^ (h >> 16)


COUNTER_BITS_LIMIT = 2**32  # `counter_bits` numbers the elements in 32 bits


def counter_bits_cover(shape):
    """Whether `counter_bits` can draw a tensor of `shape`; callers fall back to Keras' draws."""
    return math.prod(shape) < COUNTER_BITS_LIMIT


def counter_bits(seed, shape):
    """Random uint32 of `shape` (JAX), from the next state of the SeedGenerator `seed`.

    Threefry draws two keys for the whole tensor; each element is then the hash
    of its flat index under them, two rounds of `_mix` with a key xor-ed in
    before each (a keyed permutation of the index space): about 14 integer
    operations an element, fused by XLA into whatever uses the bits, against
    about 100 for threefry. Counter-based like threefry, the bits depend on the
    seed and each element's position only: the same under `jit` and however
    `keras.distribution` splits the tensor. Tensors up to 2**32 elements.
    """
    import jax
    import jax.numpy as jnp

    keys = jax.random.bits(ops.cast(seed.next(), "uint32"), (2,), jnp.uint32)
    index = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    return _mix(_mix(index ^ keys[0]) ^ keys[1])


def counter_uniform(seed, shape):
    """Uniform float32 in [0, 1) of `shape` (JAX) from `counter_bits`, as `jax.random.uniform` converts:
    23 random mantissa bits under the exponent of 1.0, minus 1."""
    import jax
    import jax.numpy as jnp

    mantissa = (counter_bits(seed, shape) >> 9) | np.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` through `dropout` (no `noise_shape`)."""

    def __init__(self, rate, seed=None, **kwargs):
        if kwargs.get("noise_shape") is not None:
            raise ValueError("ElectraDropout takes no noise_shape.")
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return dropout(inputs, self.rate, self.seed_generator)
        return inputs
