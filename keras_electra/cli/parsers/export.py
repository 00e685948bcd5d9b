"""`keras-electra export`'s flags."""

from keras_electra.cli import arguments
from keras_electra.serving.layout import (
    FORMATS,
    MODEL_FILES,
    QUANTIZATIONS,
    SERVING_FILE,
    TOKENIZER_FILE,
)


def add_parser(subparsers, name):
    files = ", ".join(f"{MODEL_FILES[format]} ({format})" for format in FORMATS)
    parser = subparsers.add_parser(
        name,
        help="export a fine-tuned model or an encoder for serving without Keras",
        description="MODEL is a `finetune` run directory (or its model.keras), or a .keras file of a "
        "classifier, token classifier, question answerer or ElectraBackbone (an encoder: its vocab.txt "
        f"beside it). OUT, a new directory, gets the model ({files}), {TOKENIZER_FILE} (Hugging Face "
        f"tokenizers: text -> the model's inputs) and {SERVING_FILE} (inputs, outputs, label names, "
        "max length, whether batch and length are dynamic). Keras' own export writes the model, in "
        "float32 with the standard attention path; `keras-electra predict --model OUT` runs it. "
        "Which backend exports which format: docs/serving.md.",
    )
    parser.add_argument("model", type=arguments.existing_path, metavar="MODEL")
    parser.add_argument("out", type=arguments.output_dir, metavar="OUT")
    parser.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="onnx: from TensorFlow (any batch and length) or torch (one row of max length); "
        "tf_saved_model: from TensorFlow or JAX; litert: from TensorFlow (any batch, max length)",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        help="int8 (--format onnx): weight matrices in 8-bit integers by ONNX Runtime's dynamic "
        "quantization, about 2x faster on a CPU and half the file; outputs move by the quantization's "
        "rounding (measured in docs/serving.md), where the float32 export equals the Keras model's",
    )
    parser.set_defaults(run=arguments.Command("keras_electra.cli.export"))
