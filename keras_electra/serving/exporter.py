"""A task model or encoder -> an export directory, through Keras' own `model.export` (docs/serving.md).

What each format takes from each backend was measured with Keras 3.15, tf2onnx 1.17, jax2onnx 0.17
and torch 2.13 (tests/test_export.py); a pair that cannot export is a one-line error naming both.
Imports Keras: the rest of the package runs exports without it.
"""

import keras

from keras_electra.extras import require
from keras_electra.finetuning.electra_classifier import ElectraClassifier
from keras_electra.finetuning.electra_question_answerer import ElectraQuestionAnswerer
from keras_electra.finetuning.electra_token_classifier import ElectraTokenClassifier
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.serving import tf2onnx_ops
from keras_electra.serving.layout import INPUTS, MODEL_FILES

# (format, backend) -> (whether the batch is dynamic, whether the length is)
DYNAMIC_AXES = {
    ("onnx", "tensorflow"): (True, True),
    # Keras exports a dynamic axis from torch through TorchScript, which fails on the position ids'
    # shape; its dynamo export takes static shapes only.
    ("onnx", "torch"): (False, False),
    ("tf_saved_model", "tensorflow"): (True, True),
    ("tf_saved_model", "jax"): (True, True),
    # A dynamic length needs TensorFlow's StridedSlice (a Flex op), which LiteRT's interpreter lacks.
    ("litert", "tensorflow"): (True, False),
}
# (format, backend) -> why it cannot export
UNSUPPORTED = {
    ("onnx", "jax"): "jax2onnx 0.17 cannot convert the keras.ops.arange call of the position ids",
    ("tf_saved_model", "torch"): (
        "Keras' torch SavedModel export takes no dict of inputs, and needs torch_xla"
    ),
    ("litert", "jax"): "Keras exports LiteRT from TensorFlow and torch only",
    ("litert", "torch"): (
        "Keras converts torch models with litert-torch, which keras-electra does not install: its "
        "requirements replace packages that torch and TensorFlow share"
    ),
}
HEAD_CLASSES = (
    (ElectraQuestionAnswerer, "question_answerer"),
    (ElectraTokenClassifier, "token_classifier"),
    (ElectraClassifier, "classifier"),
    (ElectraBackbone, "encoder"),
)


def check_support(format):
    """`(dynamic batch, dynamic length)` of `format` from Keras' backend, or a ValueError naming both
    (TensorFlow exports every format)."""
    backend = keras.backend.backend()
    if (format, backend) not in DYNAMIC_AXES:
        reason = UNSUPPORTED.get((format, backend), f"Keras does not export from {backend!r}")
        raise ValueError(
            f"--format {format}: cannot export from the {backend} backend ({reason}); "
            "run with KERAS_BACKEND=tensorflow"
        )
    return DYNAMIC_AXES[format, backend]


def head_of(model, source):
    """The kind of servable model `model` is (`layout.HEADS`), or a ValueError naming `source`."""
    for cls, head in HEAD_CLASSES:
        if isinstance(model, cls):
            return "regression" if head == "classifier" and model.num_classes == 1 else head
    hint = ""
    if hasattr(model, "discriminator"):
        hint = "; export its discriminator (a pretrain run's discriminator.keras) as an encoder"
    raise ValueError(
        f"MODEL {source}: holds a {type(model).__name__}, not a servable model (a fine-tuned "
        f"classifier, token classifier or question answerer, or an ElectraBackbone){hint}"
    )


def inference_model(model):
    """A copy of the task model or backbone `model` for export: float32 (ONNX takes no mixed
    policy), the standard attention path (no Triton kernel), no preprocessor, `model`'s weights; an
    encoder gives `[sequence_output, cls_output]`, in that order."""
    config = keras.saving.serialize_keras_object(model)
    backbone = config["config"].get("backbone", config)
    backbone["config"].update(attention_implementation="standard", dtype="float32")
    if "preprocessor" in config["config"]:
        config["config"]["preprocessor"] = None
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    if not isinstance(copy, ElectraBackbone):
        return copy
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUTS}
    outputs = copy(inputs)
    return keras.Model(inputs, [outputs["sequence_output"], outputs["cls_output"]])


def export_model(model, directory, format, max_length):
    """Writes `model` (a task model or backbone) as `directory / MODEL_FILES[format]`, taking batches of
    rows of `max_length` token ids where the format fixes the length. Returns `(batch size or None,
    length or None)`: None where that axis is dynamic."""
    dynamic_batch, dynamic_length = check_support(format)
    batch, length = None if dynamic_batch else 1, None if dynamic_length else max_length
    signature = [
        {name: keras.InputSpec(shape=(batch, length), dtype="int32", name=name) for name in INPUTS}
    ]
    options = _backend_options(format, keras.backend.backend())
    inference_model(model).export(
        str(directory / MODEL_FILES[format]),
        format=format,
        input_signature=signature,
        verbose=False,
        **options,
    )
    return batch, length


def _backend_options(format, backend):
    """`model.export`'s options for `format` on `backend`, once the packages it needs are there."""
    if backend == "jax":
        require("tensorflow", "--format tf_saved_model on the jax backend")
        # Keras names each input's length apart, and jax2tf then refuses to add their embeddings.
        shapes = {name: "(batch, length)" for name in INPUTS}
        return {"jax2tf_kwargs": {"polymorphic_shapes": [shapes]}}
    if format == "onnx" and backend == "tensorflow":
        require("tf2onnx", "--format onnx on the tensorflow backend")
        tf2onnx_ops.register()
    elif format == "onnx":
        require("onnxscript", "--format onnx on the torch backend")
    return {}
