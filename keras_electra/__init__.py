"""keras-electra: ELECTRA text encoders for Keras 3 (TensorFlow, JAX, PyTorch)."""

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path

from keras_electra.version import __version__


def _defers_keras():
    """Whether this process imports Keras, and so the public names, only when it first needs them.

    build-data's worker processes (see `data/corpus_builder.py`) run the data modules only, which need
    no Keras; importing it and every model would cost each worker seconds of start-up. The
    `keras-electra` command (its console script, or `python -m` on a module of this package, which
    Python runs with sys.argv[0] set to "-m" while it imports the package) parses its arguments
    first, so that --help and a bad argument need no backend framework (`cli/main.py`)."""
    script = re.sub(
        r"(-script\.pyw?|\.exe)$", "", Path((getattr(sys, "argv", None) or [""])[0]).name
    )
    return os.environ.get("KERAS_ELECTRA_DATA_WORKER") == "1" or script in ("keras-electra", "-m")


if _defers_keras():

    def __getattr__(name):
        # A public name, from api.py: importing them registers the Keras classes, which loading a
        # .keras file needs. A submodule (`from keras_electra import config`) and a dunder are the
        # import system's to find.
        if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{__name__}.api"), name)

else:
    from keras_electra.api import *  # noqa: F401,F403 (importing registers the Keras classes)
