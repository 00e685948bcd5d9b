"""`keras-electra export`: a fine-tuned model or an encoder -> a directory to serve without Keras."""

import time
from pathlib import Path

import keras

from keras_electra.cli.evaluate import load_finetuned
from keras_electra.data.atomic import atomic_directory, check_keras_file
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.shards import write_json_atomic
from keras_electra.finetuning import tasks
from keras_electra.serving.exporter import check_support, export_model, head_of
from keras_electra.serving.layout import (
    INPUTS,
    MODEL_FILES,
    QUANTIZATIONS,
    SERVING_FILE,
    TOKENIZER_FILE,
)
from keras_electra.serving.quantization import quantize_onnx
from keras_electra.serving.tokenizer_json import write_tokenizer_json
from keras_electra.version import __version__


def load_servable(source):
    """`(task or None, model)` from a `finetune` run directory, its model.keras, or another .keras file."""
    path = Path(source)
    if path.is_dir() or (path.parent / "task.json").is_file():
        return load_finetuned(path)
    if path.suffix != ".keras":
        raise ValueError(f"MODEL {path}: not a `finetune` run directory or a .keras file")
    check_keras_file(path)
    return None, keras.saving.load_model(path, compile=False)


def tokenizer_of(model, head, source):
    """The task model's own tokenizer; an encoder's vocab.txt and tokenizer_config.json beside it."""
    if head == "encoder":
        return ElectraTokenizer.from_directory(Path(source).parent)
    if model.preprocessor is None:
        raise ValueError(
            f"MODEL {source}: has no preprocessor, so no vocabulary for {TOKENIZER_FILE}"
        )
    return model.preprocessor.tokenizer


def max_length_of(model, head):
    """The tokens a row holds: the task's sequence length; an encoder's position table."""
    return model.max_sequence_length if head == "encoder" else model.preprocessor.sequence_length


def outputs_of(model, head, axes):
    """serving.json's outputs: each one's name and shape, in the order the exported model gives them."""
    batch, length = axes
    if head == "encoder":
        return [
            ("sequence_output", [batch, length, model.hidden_dim]),
            ("cls_output", [batch, model.hidden_dim]),
        ]
    if head == "question_answerer":
        return [("logits", [batch, length, 2])]  # start, end
    per_token = [length] if head == "token_classifier" else []
    return [("logits", [batch, *per_token, model.num_classes])]


def serving_record(args, task, model, head, max_length, shape):
    """serving.json: what the export takes and gives (docs/serving.md, "serving.json")."""
    batch, length = shape
    axes = ["batch" if batch is None else batch, "length" if length is None else length]
    names = getattr(getattr(model, "preprocessor", None), "label_names", None)
    if head == "classifier" and task is not None:
        names = tasks.label_names(task)
    record = {
        "format": args.format,
        "model_file": MODEL_FILES[args.format],
        # None: float32 throughout; "int8": quantized weight matrices (serving/quantization.py)
        "quantization": args.quantize,
        "head": head,
        "task": task,
        "label_names": names,
        "paired": head == "question_answerer" or (task is not None and tasks.is_paired(task)),
        "max_length": max_length,
        "batch_size": batch,
        "length_fixed": length is not None,
        "inputs": [{"name": name, "dtype": "int32", "shape": axes} for name in INPUTS],
        "outputs": [
            {"name": name, "dtype": "float32", "shape": shape}
            for name, shape in outputs_of(model, head, axes)
        ],
        "tokenizer": {
            "file": TOKENIZER_FILE,
            "pads_to": "longest" if length is None else "max_length",
        },
        "exported_from": {"model": str(args.model), "backend": keras.backend.backend()},
        "versions": {"keras_electra": __version__, "keras": keras.__version__},
    }
    if head == "question_answerer":
        record["question_answering"] = {
            "doc_stride": model.preprocessor.doc_stride,
            "max_query_length": model.preprocessor.max_query_length,
        }
    return record


def check_quantization(args):
    """--quantize only where the format takes it."""
    if args.quantize and args.format not in QUANTIZATIONS[args.quantize]:
        raise ValueError(
            f"--quantize {args.quantize}: takes --format "
            f"{' or '.join(QUANTIZATIONS[args.quantize])}, not {args.format}"
        )


def check_out(out):
    """OUT may be an empty directory (the parser has refused a file), not one with files."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"OUT {out}: exists and is not empty; choose a new directory")


def run(args):
    start = time.time()
    out = Path(args.out)
    check_out(out)
    check_quantization(args)
    check_support(args.format)
    task, model = load_servable(args.model)
    head = head_of(model, args.model)
    tokenizer = tokenizer_of(model, head, args.model)
    max_length = max_length_of(model, head)
    with atomic_directory(out) as temporary:
        shape = export_model(model, temporary, args.format, max_length)
        if args.quantize:
            quantize_onnx(temporary / MODEL_FILES[args.format])
        record = serving_record(args, task, model, head, max_length, shape)
        write_tokenizer_json(
            tokenizer, temporary / TOKENIZER_FILE, max_length, shape[1] is not None
        )
        write_json_atomic(temporary / SERVING_FILE, record)
    batch, length = shape
    print(
        f"{type(model).__name__} ({task or head}) exported as {args.format} from the "
        f"{keras.backend.backend()} backend to {out}/: {MODEL_FILES[args.format]}"
        f"{' (int8 weight matrices)' if args.quantize else ''}, {TOKENIZER_FILE}, "
        f"{SERVING_FILE}; batch {'dynamic' if batch is None else f'fixed at {batch}'}, length "
        f"{'dynamic' if length is None else 'fixed'} (at most {max_length} tokens; "
        f"{time.time() - start:.0f} s)"
    )
