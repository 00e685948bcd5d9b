import os
import sys
from pathlib import Path

# The repository's kernels/ folder installs as keras_electra_kernels, but `python -m pytest` run from the
# root puts the root first on sys.path, where the folder hides Hugging Face's `kernels` package, which
# transformers >= 5.25 requires and imports. The tests import the installed package, never the folder.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT]

# Without a GPU the Triton kernels run in Triton's interpreter, which must be
# chosen before triton is imported: triton.language's own helpers (tl.sum,
# tl.rand, ...) are jitted at import.
try:
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
except ImportError:
    pass
# triton 3.7-3.9 aborts the process when imported after TensorFlow, and
# transformers (through torch) imports it; importing it first is safe.
try:
    import triton  # noqa: F401
except ImportError:
    pass

import random

import keras
import numpy as np
import pytest

import keras_electra as ke

BACKEND = keras.backend.backend()
# Modules of pure Python and numpy (reading data, tokenizing, packing, metrics) behave the same on
# every backend: they run once, in the JAX pass (tests/run_backends.py runs it beside the other two).
backend_independent = pytest.mark.skipif(
    BACKEND != "jax", reason="backend-independent: runs in the JAX pass"
)
VOCAB = 1000
PAD, UNK, CLS, SEP, MASK = 0, 100, 101, 102, 103


def make_batch(rng, batch_size=8, length=32, vocab_size=VOCAB, min_tokens=3):
    """Random `[CLS] A [SEP] B [SEP]` sequences of random lengths, padded."""
    token_ids = np.zeros((batch_size, length), "int32")
    segment_ids = np.zeros((batch_size, length), "int32")
    padding_mask = np.zeros((batch_size, length), "int32")
    for row in range(batch_size):
        n = int(rng.integers(min_tokens, length + 1))
        token_ids[row, :n] = rng.integers(MASK + 1, vocab_size, n)
        token_ids[row, 0] = CLS
        token_ids[row, n - 1] = SEP
        if n > 4:
            split = int(rng.integers(2, n - 1))
            token_ids[row, split - 1] = SEP
            segment_ids[row, split:n] = 1
        padding_mask[row, :n] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(*parts):
    """A path under the shared real data, which is not part of the project.

    Missing there means a user's machine: skip with the reason. CI sets
    KERAS_ELECTRA_REQUIRE_DATA=1, which turns that skip into a failure.
    """
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data not found at {path}"
        if os.environ.get("KERAS_ELECTRA_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


WORDS = (
    "the cat sat on a mat while dogs ran around quickly and birds sang loudly over green hills "
    "under grey skies where rivers flow slowly toward distant seas full of silver fish"
).split()


def write_corpus(folder, files=3, documents=5, seed=0):
    """Files of documents of random sentences from WORDS, blank lines between documents."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        text = "\n\n".join(
            "\n".join(
                " ".join(rng.choices(WORDS, k=rng.randint(3, 12))).capitalize() + "."
                for _ in range(rng.randint(2, 12))
            )
            for _ in range(documents)
        )
        (folder / f"file{index}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def gradients(loss_fn, variables):
    """Gradients of `loss_fn()` w.r.t. Keras `variables` on the current backend.

    An entry is None (TensorFlow, torch) or zeros (JAX) where the loss does
    not depend on the variable.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return [None if g is None else to_numpy(g) for g in tape.gradient(loss, variables)]
    if BACKEND == "torch":
        import torch

        grads = torch.autograd.grad(loss_fn(), [v.value for v in variables], allow_unused=True)
        return [None if g is None else to_numpy(g) for g in grads]
    import jax

    def pure(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return loss_fn()

    return [to_numpy(g) for g in jax.grad(pure)([v.value for v in variables])]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_pretrainer():
    return ke.ElectraPretrainer.from_size("tiny", vocab_size=VOCAB, seed=0)
