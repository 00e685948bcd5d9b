"""Packages that only some features need, and the install extra that brings each.

A plain install (keras, numpy, tokenizers, safetensors, sentencex, zstandard and one backend) builds
data, pretrains, fine-tunes, converts and saves. Scoring the fine-tuning tasks and the command line's
plots add about 250 MB of scientific Python that a model in a training script or a server never uses;
reading Parquet and Arrow corpora adds pyarrow (about 170 MB), which a build from text never uses.
Exports (docs/serving.md) run with ONNX Runtime or LiteRT's interpreter instead of Keras, and ONNX
is written through converters that nothing else needs.
"""

import importlib

# top-level module -> the extra of pyproject.toml that installs it
EXTRA_OF_MODULE = {
    "scipy": "metrics",
    "sklearn": "metrics",
    "seqeval": "metrics",
    "matplotlib": "cli",
    "pyarrow": "parquet",
    "onnxruntime": "serving",
    "ai_edge_litert": "litert",
    "onnxscript": "export",
    "tf2onnx": "export",
    "tensorflow": "tensorflow",
}


class MissingExtra(ImportError):
    """A package that an extra of keras-electra installs is missing."""


def require(module, feature):
    """`module`, imported; or an ImportError naming the extra that installs it and what needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        raise MissingExtra(
            f"{feature} needs the package {top!r}: pip install 'keras-electra[{EXTRA_OF_MODULE[top]}]'"
        ) from error
