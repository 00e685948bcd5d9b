"""`keras-electra --help`, a sub-command's --help and a bad argument need no backend framework.

They run here in a fresh process without KERAS_BACKEND, where importing Keras would import TensorFlow
(Keras' default) and print its start-up lines on stderr before the help. Python's -X importtime list
(PYTHONPROFILEIMPORTTIME) shows every module the process imported.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKEND

import keras_electra
from keras_electra.cli.parsers import choices
from keras_electra.conversion.weight_map import ARCHITECTURES
from keras_electra.finetuning import tasks
from keras_electra.models.presets import SIZES
from keras_electra.pretraining.distribution import KINDS
from keras_electra.pretraining.objectives import OBJECTIVES

pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="command-line logic: tested in the torch pass"
)

FRAMEWORKS = {"tensorflow", "jax", "torch"}
CONSOLE_SCRIPT = Path(sys.executable).with_name("keras-electra")


def run_without_backend(command, tmp_path):
    """(exit status, stdout, the top-level packages imported, stderr's other lines) of `command` in a
    fresh process without KERAS_BACKEND."""
    environment = {name: value for name, value in os.environ.items() if name != "KERAS_BACKEND"}
    environment["PYTHONPROFILEIMPORTTIME"] = "1"  # "import time: self | cumulative | module" lines
    result = subprocess.run(
        command, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    lines = result.stderr.splitlines()
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in lines
        if line.startswith("import time:")
    }
    others = [line for line in lines if not line.startswith("import time:")]
    return result.returncode, result.stdout, imported, others


@pytest.mark.parametrize(
    "argv", [["--help"], ["pretrain", "--help"], ["compare", "--help"], ["export", "--help"]]
)
def test_help_imports_no_backend_framework(argv, tmp_path):
    code, out, imported, errors = run_without_backend(
        [sys.executable, "-m", "keras_electra", *argv], tmp_path
    )
    assert code == 0 and out.startswith("usage: keras-electra")
    assert "keras_electra" in imported and not imported & (FRAMEWORKS | {"keras"})
    assert errors == []  # no TensorFlow start-up lines, nor any other


def test_a_bad_argument_imports_no_backend_framework(tmp_path):
    code, out, imported, errors = run_without_backend(
        [sys.executable, "-m", "keras_electra", "pretrain", "--steps", "0"], tmp_path
    )
    assert code == 2 and out == ""
    assert not imported & (FRAMEWORKS | {"keras"})
    assert errors == [
        "keras-electra pretrain: error: argument --steps: expected an integer from 1 to "
        "2,147,483,647; got '0' (see keras-electra pretrain --help)"
    ]


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="keras-electra is not installed here")
def test_the_console_script_imports_no_backend_framework_for_help(tmp_path):
    code, out, imported, errors = run_without_backend([str(CONSOLE_SCRIPT), "--help"], tmp_path)
    assert code == 0 and out.startswith("usage: keras-electra")
    assert "keras_electra" in imported and not imported & (FRAMEWORKS | {"keras"})
    assert errors == []


@pytest.mark.parametrize(
    "argv0, defers",
    [
        ("/venv/bin/keras-electra", True),  # the console script
        ("-m", True),  # `python -m keras_electra` while Python imports the package
        ("keras-electra.exe", True),  # Windows' console script
        ("/venv/bin/keras-electra-script.py", True),
        ("/venv/bin/pytest", False),
        ("-c", False),
        ("train.py", False),
    ],
)
def test_only_the_command_defers_keras(argv0, defers, monkeypatch):
    monkeypatch.delenv("KERAS_ELECTRA_DATA_WORKER", raising=False)
    monkeypatch.setattr(sys, "argv", [argv0])
    assert keras_electra._defers_keras() == defers


@pytest.mark.large
def test_importing_the_package_still_registers_every_keras_class(tmp_path):
    """Only the command defers Keras: a program that imports keras_electra can load its .keras files
    without naming a class first."""
    program = (
        "import keras_electra, keras\n"
        "print(keras.saving.get_registered_object('keras_electra>ElectraBackbone').__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, "KERAS_BACKEND": BACKEND},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.split()[-1] == "ElectraBackbone", result.stderr


def test_the_parsers_offer_the_librarys_names():
    assert choices.SIZES == tuple(sorted(SIZES))
    assert choices.OBJECTIVES == tuple(OBJECTIVES)
    assert choices.TASKS == tasks.TASKS and choices.DOCSTRING_KIND == tasks.DOCSTRING_KIND
    assert choices.DISTRIBUTIONS == KINDS
    assert choices.MODELS == (*ARCHITECTURES, "pretrainer")
