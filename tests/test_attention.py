import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import BACKEND, to_numpy

import keras_electra as ke


def naive_attention(q, k, v, mask):
    """Per batch and head loops in float64: the textbook definition."""
    batch, length, heads, dim = q.shape
    out = np.zeros(q.shape, "float64")
    for b in range(batch):
        for h in range(heads):
            scores = q[b, :, h] @ k[b, :, h].T / np.sqrt(dim)
            for i in range(length):
                keep = mask[b] > 0
                if not keep.any():
                    continue  # every key masked: the row is 0
                row = np.where(keep, scores[i], -np.inf)
                p = np.exp(row - row.max())
                out[b, i, h] = (p / p.sum()) @ v[b, :, h]
    return out


@pytest.mark.parametrize("length,heads,dim", [(7, 2, 16), (33, 3, 64)])
def test_matches_naive_reference_with_holes_and_empty_rows(rng, length, heads, dim):
    q, k, v = (rng.normal(size=(3, length, heads, dim)).astype("float32") for _ in range(3))
    mask = (rng.random((3, length)) > 0.3).astype("int32")
    mask[1] = 0  # a sequence whose keys are all masked
    out = ke.attention(q, k, v, padding_mask=mask)
    np.testing.assert_allclose(to_numpy(out), naive_attention(q, k, v, mask), atol=2e-5)
    assert np.all(to_numpy(out)[1] == 0)


def test_no_mask_equals_all_ones_mask(rng):
    q, k, v = (rng.normal(size=(2, 5, 2, 8)).astype("float32") for _ in range(3))
    np.testing.assert_allclose(
        to_numpy(ke.attention(q, k, v)),
        to_numpy(ke.attention(q, k, v, padding_mask=np.ones((2, 5), "int32"))),
        atol=1e-6,
    )


def test_dropout_drops_probabilities_at_the_rate_and_rescales():
    # q = k = 0 gives uniform probabilities 1/N; v = identity makes the output
    # the probability matrix itself, so dropped entries are visible as zeros.
    n, rate = 64, 0.25
    q = np.zeros((4, n, 1, n), "float32")
    v = np.broadcast_to(np.eye(n, dtype="float32")[None, :, None, :], (4, n, 1, n)).copy()
    out = to_numpy(ke.attention(q, q, v, dropout_rate=rate, seed=keras.random.SeedGenerator(1)))
    dropped = np.mean(out == 0)
    assert abs(dropped - rate) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / (n * (1 - rate)), rtol=1e-5)


def test_rejects_unknown_implementation(rng):
    q = rng.normal(size=(1, 2, 1, 4)).astype("float32")
    with pytest.raises(ValueError, match="implementation='cuda'"):
        ke.attention(q, q, q, implementation="cuda")


def test_environment_switch_must_name_an_implementation(rng, monkeypatch):
    q = rng.normal(size=(1, 2, 1, 4)).astype("float32")
    monkeypatch.setenv("KERAS_ELECTRA_ATTENTION", "fast")
    with pytest.raises(ValueError, match="KERAS_ELECTRA_ATTENTION='fast'"):
        ke.attention(q, q, q)


@pytest.mark.skipif(BACKEND == "torch", reason="the kernel path itself is tested under torch")
def test_triton_refuses_other_backends(rng):
    q = rng.normal(size=(1, 2, 1, 4)).astype("float32")
    with pytest.raises(ValueError, match=f"needs the torch backend, not '{BACKEND}'"):
        ke.attention(q, q, q, implementation="triton")


@pytest.mark.skipif(BACKEND != "torch", reason="CPU tensors of the torch backend")
def test_triton_on_cpu_tensors_needs_the_interpreter(rng, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    q = keras.ops.convert_to_tensor(rng.normal(size=(1, 2, 1, 4)).astype("float32"))
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        ke.attention(q, q, q, implementation="triton")


@pytest.mark.large
@pytest.mark.skipif(
    BACKEND != "jax", reason="one backend suffices: the check runs before any tensor exists"
)
def test_tensorflow_loaded_before_triton_falls_back_instead_of_aborting():
    # Importing triton 3.7-3.9 after TensorFlow aborts the process: the library
    # must notice and keep standard ops, warning once, never importing triton.
    code = (
        "import sys, warnings\n"
        "import tensorflow\n"
        "import importlib\n"
        "attention = importlib.import_module('keras_electra.models.attention')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    assert attention._triton_kernel() is None\n"
        "assert 'triton' not in sys.modules\n"
        "print([str(w.message) for w in caught])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "falls back to standard ops" in result.stdout
