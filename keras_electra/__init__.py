"""keras-electra: ELECTRA text encoders for Keras 3 (TensorFlow, JAX, PyTorch)."""

import os

from keras_electra.version import __version__

# build-data's worker processes (see `data/corpus_builder.py`) run the data modules only, which need no
# Keras; importing it and every model would cost each worker seconds of start-up.
if os.environ.get("KERAS_ELECTRA_DATA_WORKER") != "1":
    from keras_electra.api import *  # noqa: F401,F403 (importing registers the Keras classes)
