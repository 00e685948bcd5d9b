"""The files of an export directory and its serving.json, read with the standard library alone, so that
the command line's parsers can tell an export from a fine-tuned model without importing anything."""

import json
from pathlib import Path

SERVING_FILE = "serving.json"
TOKENIZER_FILE = "tokenizer.json"
# --format -> the model's file (a directory for the SavedModel) in the export
MODEL_FILES = {"onnx": "model.onnx", "tf_saved_model": "saved_model", "litert": "model.tflite"}
FORMATS = tuple(MODEL_FILES)
# --quantize -> the formats that take it
QUANTIZATIONS = {"int8": ("onnx",)}
# What serving.json says the model is: `head` names the task model's kind.
HEADS = ("classifier", "regression", "token_classifier", "question_answerer", "encoder")
INPUTS = ("token_ids", "segment_ids", "padding_mask")
REQUIRED_KEYS = ("format", "model_file", "head", "max_length", "batch_size", "inputs", "outputs")


def is_export(path):
    """Whether `path` is an export directory (it holds serving.json)."""
    return (Path(path) / SERVING_FILE).is_file()


def read_serving(directory):
    """serving.json of the export `directory`, checked to name a known format and head and the files
    it needs; a ValueError or FileNotFoundError naming the file otherwise."""
    directory = Path(directory)
    path = directory / SERVING_FILE
    try:
        serving = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(serving, dict) or key not in serving]
    if missing:
        raise ValueError(
            f"{path}: lacks {', '.join(missing)} (not written by keras-electra export?)"
        )
    if serving["format"] not in FORMATS or serving["head"] not in HEADS:
        raise ValueError(
            f"{path}: format {serving['format']!r} and head {serving['head']!r}; expected a format "
            f"of {', '.join(FORMATS)} and a head of {', '.join(HEADS)}"
        )
    for name in (serving["model_file"], TOKENIZER_FILE):
        if not (directory / name).exists():
            raise FileNotFoundError(f"{directory / name}: not found, which {path} names")
    return serving
