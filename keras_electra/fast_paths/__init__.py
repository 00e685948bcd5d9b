"""Backend-specific fast paths, each beside the plain `keras.ops` version it replaces.

A module per fast path; each has `plain_*` (what Keras alone computes), the
fast version(s), the measured gain in its docstring, and one `select_*`
dispatcher that returns the fast version on its backend with
`keras_electra.config.fast_paths_enabled()` (LayerNorm and clipping: also
only for the options it implements). The random draws (dropout, uniforms)
take Keras' own where their arguments rule the fast one out (no
SeedGenerator, a tensor past `counter_bits`' range):

- `gelu`: TensorFlow, a closed-form GELU backward that keeps only its input, float32 inside for 16-bit input.
- `layer_norm`: JAX, LayerNorm over the last axis with a closed-form backward.
- `random_bits`: JAX, counter-based random bits and uniforms (dropout masks, Gumbel noise).
- `dropout`: torch, 16-bit lanes and a boolean-mask product; JAX, masks from `random_bits`;
  TensorFlow, 16-bit lanes of stateless draws.
- `fit_input`: TensorFlow, a `PyDataset` as a tf.data pipeline without autotuning (`fit_in_chunks`).
- `softmax`: torch, attention's masked softmax on bfloat16 scores without float32 casts.
- `adamw`: torch, multi-tensor AdamW update and global-norm clipping; TensorFlow, the fused
  `ResourceApplyAdam` kernel, and dense embedding gradients (a correctness rule, which the switch
  leaves on).

The layers, the optimizer and `fit_in_chunks` (`ElectraLayerNorm`, `ElectraDropout`,
`ElectraAdamW`, `gelu`, `gumbel_sample`, `attention`, `fit_in_chunks`) call the dispatchers; nothing else
in the library branches on the backend for these.
"""

import keras

from keras_electra import config


def enabled_on(backend):
    """Whether fast paths are on and Keras runs on `backend` ("jax", "tensorflow", "torch")."""
    return config.fast_paths_enabled() and keras.backend.backend() == backend
