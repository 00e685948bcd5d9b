import os
import sys
from pathlib import Path

# The repository's kernels/ folder installs as keras_electra_kernels, but `python -m pytest` run from the
# root puts the root first on sys.path, where the folder hides Hugging Face's `kernels` package, which
# transformers >= 5.25 requires and imports. The tests import the installed package, never the folder.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT]


def share_jax_compilations():
    """A JAX compilation cache for this session (and the subprocesses it starts), emptied at exit, and
    XLA compiling without LLVM's slow passes.

    JAX's own cache is per jitted function: two models of one architecture (a model and its loaded
    copy, the runs of a seed test) each compile the same step, seconds apiece. This cache is keyed by
    the compiled program, so the second finds the first's executable: the same one, so the same
    numbers. Set before jax is imported (it reads these then); a cache the user set is kept."""
    import atexit
    import shutil
    import tempfile

    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="keras-electra-jax-cache-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    # Whole steps take a second or more to compile; single ops (milliseconds) are not worth a file.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    # The suite's models are tiny, so XLA's compiling, not running, is most of a JAX pass: without
    # LLVM's optimisation passes the fast tier's JAX pass took 272 s instead of 381 (measured beside
    # the other two passes). Not for TensorFlow, whose XLA-compiled training the flags slowed (its
    # full pass 698 -> 758 s). Flags the user set are kept.
    if os.environ.get("KERAS_BACKEND") == "jax" and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = (
            "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
        )


share_jax_compilations()
# One OpenMP thread per process (this one and the subprocesses it starts, which inherit it), as
# test_step_parity.py found: two passes share the two cores (tests/run_backends.py), and torch's two
# threads waiting on each other made this suite's small steps 10 to 20 times slower (measured: 20
# steps of the tiny pretrainer, 15-23 s of CPU on two threads, 1.1 s on one). Set before torch is
# imported; a count the user set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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

# The imports below come after the two blocks above on purpose (E402): keras imports the backend,
# TensorFlow included, so TRITON_INTERPRET must be set and triton imported before them.
import random  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_electra as ke  # noqa: E402
from keras_electra.data import ElectraTokenizer, build_pretraining_data  # noqa: E402

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


# --- Tiers: `pytest` runs the fast tier; `pytest --large` adds the tests marked large ------------
# Large: end-to-end command-line runs, subprocesses, long training, and whatever reads ../shared/data.

LEFT_OUT = pytest.StashKey[int]()
# The test pytest is running (set up, called or torn down): shared_data() asks it for its marker.
running_test = None


def pytest_addoption(parser):
    parser.addoption(
        "--large",
        action="store_true",
        help="also run the tests marked large (end-to-end runs, subprocesses, shared data)",
    )


def is_large(item):
    return item.get_closest_marker("large") is not None


def pytest_collection_modifyitems(config, items):
    if config.getoption("--large"):
        return
    large = [item for item in items if is_large(item)]
    if large:
        config.hook.pytest_deselected(items=large)
        items[:] = [item for item in items if not is_large(item)]
    config.stash[LEFT_OUT] = len(large)


def pytest_terminal_summary(terminalreporter, config):
    left_out = config.stash.get(LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(
            f"tests marked large left out: {left_out} (the fast tier); --large runs them too"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # The protocol spans the test's setup, so a module- or session-scoped fixture that calls
    # shared_data() is checked against the test that first sets it up.
    global running_test
    running_test = item
    try:
        return (yield)
    finally:
        running_test = None


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(*parts):
    """A path under the shared real data, which is not part of the project.

    Only tests marked large may read it, so that the fast tier never waits on real data; a test
    that is not marked large fails here, saying so. A fixture that reads shared data serves large
    tests only: a fast test sharing it would fail in the fast tier, where no large test set it up.

    Missing there means a user's machine: skip with the reason. CI sets
    KERAS_ELECTRA_REQUIRE_DATA=1, which turns that skip into a failure.
    """
    if running_test is None or not is_large(running_test):
        where = "outside a test" if running_test is None else running_test.nodeid
        pytest.fail(
            f"{where} reads ../shared/data but is not marked large: "
            "mark it @pytest.mark.large (tests/conftest.py, Tiers)"
        )
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


def train_vocab_file(corpus, path):
    """A WordPiece vocabulary of at most 200 tokens trained on the files of `corpus`, saved at `path`."""
    texts = [file.read_text("utf-8") for file in sorted(corpus.iterdir())]
    tokenizer = ElectraTokenizer.train(texts=texts, vocab_size=200, min_frequency=1)
    return tokenizer.save_vocabulary(path)


# Small shards and a 1-in-10 held-out split, so that the tiny corpus spans several shards.
SMALL_SHARDS = dict(
    max_length=24, examples_per_shard=10, heldout_fraction=0.1, workers=1, progress=False
)


# One corpus, its vocabulary and its pretraining data for the session: the tests that change them
# work on copies.
@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """write_corpus's default corpus: 3 files of 5 documents."""
    return write_corpus(tmp_path_factory.mktemp("corpus") / "texts")


@pytest.fixture(scope="session")
def vocab_file(corpus, tmp_path_factory):
    return train_vocab_file(corpus, tmp_path_factory.mktemp("vocab") / "vocab.txt")


@pytest.fixture(scope="session")
def data_dir(corpus, vocab_file, tmp_path_factory):
    """`corpus` built with `vocab_file` into SMALL_SHARDS."""
    out = tmp_path_factory.mktemp("built") / "data"
    build_pretraining_data(corpus, out, vocab_file=vocab_file, **SMALL_SHARDS)
    return out


SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tokenizer_of(pieces, lowercase=True):
    """A tokenizer of a fixed vocabulary, the special tokens then `pieces`: every split is known."""
    return ElectraTokenizer(SPECIALS + list(pieces), lowercase=lowercase)


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
