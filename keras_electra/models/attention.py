"""The one place where attention is computed.

Every attention layer calls `attention`. On the torch backend with CUDA tensors
it runs the fused Triton kernel of `keras_electra_kernels`; everywhere else,
plain `keras.ops`. Nothing else may compute attention itself.
"""

import functools
import math
import os
import sys
import warnings

import keras
from keras import ops

from keras_electra.fast_paths.softmax import select_masked_softmax
from keras_electra.models.electra_dropout import dropout

IMPLEMENTATIONS = ("auto", "triton", "standard")
# Forces a path for every layer whose implementation is "auto" (whole models,
# loaded ones included) without touching their configs.
IMPLEMENTATION_VARIABLE = "KERAS_ELECTRA_ATTENTION"


def attention(
    query,
    key,
    value,
    padding_mask=None,
    dropout_rate=0.0,
    seed=None,
    implementation="auto",
):
    """Scaled dot-product attention in the Keras layout.

    Args:
        query, key, value: `[batch, seq, heads, head_dim]` tensors.
        padding_mask: optional `[batch, seq]` tensor, 1 for keys to attend to
            and 0 for padding. A query whose keys are all masked returns 0.
        dropout_rate: dropout applied to the attention probabilities.
        seed: an int or `keras.random.SeedGenerator` for that dropout.
        implementation: "auto" (the Triton kernel on the torch backend with
            CUDA tensors, standard ops otherwise; the environment variable
            KERAS_ELECTRA_ATTENTION overrides it), "triton" (the kernel, or an
            error saying why not; CPU tensors need `TRITON_INTERPRET=1`) or
            "standard" (plain `keras.ops`).

    Returns:
        `[batch, seq, heads, head_dim]`, in the dtype of `query`.
    """
    _check_implementation(implementation, f"attention(implementation={implementation!r})")
    if implementation == "auto":
        implementation = os.environ.get(IMPLEMENTATION_VARIABLE, "auto")
        _check_implementation(implementation, f"{IMPLEMENTATION_VARIABLE}={implementation!r}")
    kernel = None
    if implementation == "triton":
        kernel = _required_kernel(query)
    elif implementation == "auto" and _is_cuda_tensor(query):
        kernel = _triton_kernel()
        if kernel is not None and query.shape[-1] not in kernel.HEAD_DIMS:
            kernel = None
    if kernel is None:
        return _standard_attention(query, key, value, padding_mask, dropout_rate, seed)
    # No seed drawn without dropout: the standard path draws none either, so both leave the layer's
    # seed generator in the same state.
    seed = _seed_tensor(seed) if dropout_rate > 0.0 else None
    return kernel.flash_attention(query, key, value, padding_mask, dropout_rate, seed)


def _check_implementation(implementation, source):
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"{source}: expected one of {IMPLEMENTATIONS}.")


def _is_cuda_tensor(x):
    return keras.backend.backend() == "torch" and getattr(x, "is_cuda", False)


@functools.cache
def _triton_kernel():
    """The fused kernel's module, or None (with a one-line warning) where it cannot load.

    triton 3.7-3.9 aborts the whole process when it is first imported after
    TensorFlow (both bundle LLVM), so in that situation triton is never
    imported here: losing the kernel is better than losing the user's process.
    """
    if "triton" not in sys.modules and "tensorflow" in sys.modules:
        warnings.warn(
            "keras_electra: TensorFlow is loaded and triton is not, and importing triton now could abort "
            "the process; attention falls back to standard ops (import triton, or Keras with the torch "
            "backend, before TensorFlow to get the fused kernel).",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    try:
        from keras_electra_kernels import flash_attention
    except ImportError as error:
        warnings.warn(
            f"keras_electra: the Triton kernel is unavailable ({error}); attention uses standard ops.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return flash_attention


def _required_kernel(query):
    if keras.backend.backend() != "torch":
        raise ValueError(
            f"attention(implementation='triton') needs the torch backend, not {keras.backend.backend()!r}."
        )
    if not (query.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"):
        raise ValueError(
            "attention(implementation='triton') got CPU tensors: the kernel runs on CUDA, or on the CPU "
            "through Triton's interpreter when TRITON_INTERPRET=1 is set before triton is first imported."
        )
    kernel = _triton_kernel()
    if kernel is None:
        raise RuntimeError(
            "attention(implementation='triton'): the Triton kernel cannot be loaded (see the warning)."
        )
    return kernel


def _seed_tensor(seed):
    """The dropout seed as a device tensor: drawing it on the host would sync every step."""
    if isinstance(seed, keras.random.SeedGenerator):
        # Keras' seed state is a device variable; folding its two words into
        # one integer stays on the device.
        pair = ops.cast(seed.next(), "int64")
        return pair[:1] * 4_294_967_296 + pair[1:]
    return seed  # an int, or None: the kernel draws a fresh one on the device


def _standard_attention(query, key, value, padding_mask, dropout_rate, seed):
    scale = 1.0 / math.sqrt(query.shape[-1])
    scores = ops.einsum("bqhd,bkhd->bhqk", query * scale, key)
    # Softmax in float32 so that float16/bfloat16 runs neither overflow nor lose the small
    # probabilities (torch's bfloat16 softmax computes in float32 inside: fast_paths.softmax).
    # Masked keys get exact zeros wherever a row has a key to attend to.
    keep = None if padding_mask is None else ops.cast(padding_mask, "float32")
    probs = select_masked_softmax()(scores, keep, query.dtype)
    if dropout_rate > 0.0:
        probs = dropout(probs, dropout_rate, seed)
    context = ops.einsum("bhqk,bkhd->bqhd", probs, value)
    if padding_mask is not None:
        # A sequence with no key at all would average its padding: it returns 0, with no
        # gradient, as the kernel does.
        context = context * ops.cast(ops.max(keep, axis=-1), context.dtype)[:, None, None, None]
    return context
