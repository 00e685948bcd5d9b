"""Random numbers from a SeedGenerator: Keras' own, and on JAX counter-based ones.

Shared by dropout (`fast_paths.dropout`) and the Gumbel noise of sampling
(`keras_electra.pretraining.sampling`). Measured
(`benchmarks/results/pretrain_step_cpu.md`, "JAX LayerNorm, counter-based
random numbers, torch dropout mask"): Keras draws with threefry, about 100
integer operations per pair of 32-bit words, 3-5 ns an element on XLA CPU;
`counter_bits` costs 0.4-0.5 ns, fused into whatever uses the bits. As
dropout's masks that is -14% of an ELECTRA-Small pretraining step and -440 MB
of peak RSS; as Gumbel noise, no measurable change in the step (the sampling
of a 32 x 19 x 8801 batch alone: 81 ms against 143 ms, under load). XLA's
`rbg` keys (Philox) were slower on CPU and depend on the sharding.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_electra.fast_paths import enabled_on

# Elements are numbered in uint32: without `jax_enable_x64` (JAX's default) there is no uint64.
COUNTER_BITS_LIMIT = 2**32


def plain_uniform(seed, shape):
    """`keras.random.uniform(shape, seed=seed)`: float32 in [0, 1)."""
    return keras.random.uniform(shape, seed=seed)


def counter_uniform(seed, shape):
    """Uniform float32 in [0, 1) of `shape` (JAX) from `counter_bits`, as `jax.random.uniform` converts:
    23 random mantissa bits under the exponent of 1.0, minus 1; `plain_uniform` unless
    `counter_bits_can_draw` them."""
    import jax
    import jax.numpy as jnp

    if not counter_bits_can_draw(seed, shape):
        return plain_uniform(seed, shape)
    mantissa = (counter_bits(seed, shape) >> 9) | np.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0


def select_uniform():
    """The uniform draw: `counter_uniform` on JAX with fast paths on (it takes Keras' own for arguments
    `counter_bits` cannot draw), `plain_uniform` otherwise."""
    return counter_uniform if enabled_on("jax") else plain_uniform


def counter_bits_can_draw(seed, shape):
    """Whether `counter_bits` can draw a tensor of `shape` from `seed`: it advances a SeedGenerator's state
    and numbers fewer than 2**32 elements. Where it cannot, callers fall back to Keras' draws."""
    return isinstance(seed, keras.random.SeedGenerator) and math.prod(shape) < COUNTER_BITS_LIMIT


def counter_bits(seed, shape):
    """Random uint32 of `shape` (JAX), from the next state of the SeedGenerator `seed`.

    Threefry draws two keys for the whole tensor; each element is then the hash
    of its flat index under them, two rounds of `_mix` with a key xor-ed in
    before each (a keyed permutation of the index space): about 14 integer
    operations an element against about 100 for threefry. Counter-based like
    threefry, the bits depend on the seed and each element's position only: the
    same under `jit` and however `keras.distribution` splits the tensor.
    """
    import jax
    import jax.numpy as jnp

    keys = jax.random.bits(ops.cast(seed.next(), "uint32"), (2,), jnp.uint32)
    index = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    return _mix(_mix(index ^ keys[0]) ^ keys[1])


def _mix(h):
    """A 32-bit bijection with strong avalanche (the "lowbias32" hash, C. Wellons' hash prospector)."""
    h = h ^ (h >> 16)
    h = h * np.uint32(0x7FEB352D)
    h = h ^ (h >> 15)
    h = h * np.uint32(0x846CA68B)
    return h ^ (h >> 16)
