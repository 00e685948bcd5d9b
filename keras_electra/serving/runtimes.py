"""An export's model in its own runtime: onnxruntime, TensorFlow (`tf.saved_model.load`) or LiteRT's
interpreter; none of them imports Keras."""

import numpy as np

from keras_electra.extras import require
from keras_electra.serving.layout import INPUTS

# Rows a call takes where the export's batch is dynamic: a long input runs in parts of this many.
ROWS_PER_CALL = 32


def load_runtime(directory, serving):
    """A function from the model's inputs (a dict of int32 `[rows, max_length]` arrays) to its outputs
    (a list of float32 arrays, serving.json's order), whatever the export's batch size."""
    path = directory / serving["model_file"]
    run = {"onnx": _onnx, "tf_saved_model": _saved_model, "litert": _litert}[serving["format"]](
        path
    )
    rows_per_call = serving["batch_size"] or ROWS_PER_CALL

    def model(features):
        rows = len(features[INPUTS[0]])
        parts = []
        for start in range(0, rows, rows_per_call):
            part = {name: features[name][start : start + rows_per_call] for name in INPUTS}
            parts.append(run(_padded(part, serving["batch_size"])))
        # The rows that padded a fixed batch are dropped.
        return [np.concatenate(outputs)[:rows] for outputs in zip(*parts)]

    return model


def _padded(features, batch_size):
    """`features` with rows of zeros up to `batch_size` rows (an export of a fixed batch)."""
    rows = len(features[INPUTS[0]])
    if batch_size is None or rows == batch_size:
        return features
    return {
        name: np.pad(value, ((0, batch_size - rows), (0, 0))) for name, value in features.items()
    }


def _onnx(path):
    onnxruntime = require("onnxruntime", "running an ONNX export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    return lambda features: session.run(None, {name: features[name] for name in names})


def _saved_model(path):
    tf = require("tensorflow", "running a tf_saved_model export")
    # Held for as long as `serve` is: its variables go with it.
    saved = tf.saved_model.load(str(path))
    return lambda features: [output.numpy() for output in tf.nest.flatten(saved.serve(features))]


def _litert(path):
    interpreter = require("ai_edge_litert.interpreter", "running a litert export").Interpreter(
        model_path=str(path)
    )
    runner = interpreter.get_signature_runner()

    def run(features):
        outputs = runner(**features)
        # LiteRT names a signature's outputs output_0, output_1, ... in the model's order.
        return [
            outputs[name] for name in sorted(outputs, key=lambda name: int(name.split("_")[-1]))
        ]

    return run
