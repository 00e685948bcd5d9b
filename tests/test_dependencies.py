"""A plain install trains: keras + numpy + one backend, no TensorFlow and none of the extras."""

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import BACKEND

SCRIPT = textwrap.dedent(
    """
    import sys
    # Make the TensorFlow family and the extras' packages unimportable, as in a plain install.
    for name in ("tensorflow", "tensorflow_text", "keras_hub", "tf_keras", *EXTRAS):
        sys.modules[name] = None
    import numpy as np
    import keras_electra as ke
    ids = np.random.default_rng(0).integers(104, 500, (4, 16)).astype("int32")
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    pre = ke.ElectraPretrainer.from_size("tiny", vocab_size=500, seed=0)
    pre.compile()
    pre.fit(x, batch_size=4, epochs=1, verbose=0)
    try:
        ke.finetuning.metrics.matthews_corrcoef([0, 1], [0, 1])
    except ImportError as error:
        print(error)
    print("trained", sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] == "tensorflow"))
    """
)


@pytest.mark.large
@pytest.mark.skipif(
    BACKEND == "tensorflow", reason="checks the backends that do not need TensorFlow"
)
def test_trains_without_tensorflow():
    from keras_electra.extras import EXTRA_OF_MODULE

    # JAX itself requires SciPy, so that backend always has it.
    blocked = [name for name in EXTRA_OF_MODULE if not (BACKEND == "jax" and name == "scipy")]
    script = SCRIPT.replace("*EXTRAS", ", ".join(map(repr, blocked)))
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": BACKEND},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "trained []"
    assert lines[-2] == (
        "scoring the GLUE tasks needs the package 'sklearn': pip install 'keras-electra[metrics]'"
    )


def test_every_package_is_installed():
    """pyproject lists the packages explicitly (kernels/ installs under another name): a new
    sub-package missing from the list would work from a checkout and vanish from a wheel."""
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(
        tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(root).parts)
        for p in (root / "keras_electra").rglob("__init__.py")
    }
    assert found <= listed, f"missing from pyproject.toml: {sorted(found - listed)}"
    assert "keras_electra_kernels" in listed


def test_a_missing_extra_is_named_and_the_command_says_it_in_one_line(
    monkeypatch, capsys, tmp_path
):
    from keras_electra.cli import main as cli
    from keras_electra.finetuning import metrics

    monkeypatch.setitem(sys.modules, "seqeval", None)
    monkeypatch.setitem(sys.modules, "seqeval.metrics", None)
    with pytest.raises(ImportError, match=r"pip install 'keras-electra\[metrics\]'"):
        metrics.entity_f1([["B-PER"]], [["B-PER"]])

    def run_needing_seqeval(args):
        metrics.entity_f1([["O"]], [["O"]])

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_run(parser(), run_needing_seqeval))
    model = tmp_path / "model.keras"
    model.write_bytes(b"")
    assert cli.main(["predict", "--model", str(model), "text"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "keras-electra predict: error: scoring CoNLL-2003 needs the package 'seqeval': "
        "pip install 'keras-electra[metrics]'"
    )


def _with_run(parser, run):
    """`parser`, whose sub-commands all run `run`."""
    parser.set_defaults(run=run)
    for action in parser._subparsers._group_actions:
        for subparser in action.choices.values():
            subparser.set_defaults(run=run)
    return parser
