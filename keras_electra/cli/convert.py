"""`keras-electra convert`: Hugging Face, TF1 and keras-hub checkpoints to ours, and ours to Hugging Face."""

import time
from pathlib import Path

import keras

from keras_electra.cli.parsers.choices import MODELS
from keras_electra.conversion import (
    load_huggingface,
    load_huggingface_pretrainer,
    load_huggingface_tokenizer,
    load_keras_hub,
    load_tf1_checkpoint,
    save_huggingface,
)
from keras_electra.conversion.huggingface import left_out
from keras_electra.conversion.huggingface_files import SAFETENSORS_FILE, read_json
from keras_electra.data.atomic import atomic_directory, check_keras_file, save_model_atomic
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.shards import write_json_atomic
from keras_electra.version import __version__

# The --model values each kind of SRC can give.
SOURCE_MODELS = {
    "huggingface": MODELS,
    "tf1": ("pretrainer", "backbone"),
    "keras-hub": ("backbone",),
    "keras": (),
}


def source_format(src):
    """ "huggingface", "tf1", "keras-hub" or "keras", from what is at `src`."""
    path = Path(src)
    if path.suffix == ".keras" and path.is_file():
        return "keras"
    if Path(f"{path}.index").is_file() or (path / "checkpoint").is_file():
        return "tf1"
    if (path / "config.json").is_file():
        config = read_json(path / "config.json")
        return (
            "keras-hub"
            if config.get("registered_name") == "keras_hub>ElectraBackbone"
            else "huggingface"
        )
    raise ValueError(
        f"SRC {path}: not a Hugging Face directory (config.json), a TF1 checkpoint (PREFIX.index, or a directory "
        "with a `checkpoint` file), a keras-hub preset or a .keras file"
    )


def check_options(args, source, to):
    if args.generator and source != "huggingface":
        raise ValueError(
            f"--generator pairs Hugging Face directories; SRC {args.src} is a {source} checkpoint"
        )
    if args.generator and args.model not in (None, "pretrainer"):
        raise ValueError(f"--generator builds a pretrainer, not --model {args.model}")
    if source == "huggingface" and args.model == "pretrainer" and not args.generator:
        raise ValueError(
            "--model pretrainer from Hugging Face needs the generator's directory: --generator DIR"
        )
    if args.model and args.model not in SOURCE_MODELS[source]:
        choices = ", ".join(SOURCE_MODELS[source]) or "the model it holds"
        raise ValueError(f"--model {args.model}: a {source} SRC gives {choices}")
    if to == "keras" and source == "keras":
        raise ValueError(
            f"SRC {args.src} is already a .keras file; --to keras converts foreign checkpoints"
        )
    dst = Path(args.dst)
    if to == "keras" and dst.suffix != ".keras":
        raise ValueError(f"DST {dst}: --to keras writes a .keras file")
    if to == "huggingface" and dst.suffix == ".keras":
        raise ValueError(f"DST {dst}: --to huggingface writes a directory")
    if dst.exists() and not (to == "huggingface" and dst.is_dir() and not any(dst.iterdir())):
        raise FileExistsError(
            f"DST {dst}: exists; choose a new {'file' if to == 'keras' else 'directory'}"
        )


def load_source(args, source):
    if source == "huggingface":
        for directory in filter(None, (args.src, args.generator)):
            check_safetensors_file(Path(directory) / SAFETENSORS_FILE)
        if args.generator:
            return load_huggingface_pretrainer(args.src, args.generator)
        return load_huggingface(args.src, args.model)
    if source == "tf1":
        return load_tf1_checkpoint(args.src, args.model or "pretrainer")
    if source == "keras-hub":
        return load_keras_hub(args.src)
    check_keras_file(args.src)
    return keras.saving.load_model(args.src, compile=False)


def left_out_of_source(args, source):
    """What of SRC the converted model lacks (a head, BERT's pooler), each phrase led by a semicolon."""
    if source != "huggingface" or args.generator:
        return ""
    return "".join(f"; {part}" for part in left_out(args.src, args.model))


def check_safetensors_file(path):
    """A ValueError naming `path` when its header or data are damaged (an interrupted download):
    safetensors' own error does not say which file it read."""
    if not path.is_file():
        return  # pytorch_model.bin instead, or no weights: the loader says which
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy"):
            pass
    except SafetensorError as error:
        raise ValueError(f"{path}: not a complete safetensors file ({error})") from None


def source_tokenizer(src, source, model):
    """The tokenizer files in (or beside) SRC. None for a task model with a preprocessor, whose own
    vocabulary `save_huggingface` writes, and for keras-hub presets, whose format is not read."""
    path = Path(src)
    if source == "keras-hub" or getattr(model, "preprocessor", None) is not None:
        return None
    return load_huggingface_tokenizer(path if path.is_dir() else path.parent)


def save_keras(model, dst, tokenizer):
    """`model` as DST, under a temporary name until complete, and the tokenizer files beside it."""
    if tokenizer is not None and (dst.parent / "vocab.txt").is_file():
        there = ElectraTokenizer.from_directory(dst.parent)
        if (there.vocabulary, there.lowercase) != (tokenizer.vocabulary, tokenizer.lowercase):
            raise FileExistsError(
                f"{dst.parent / 'vocab.txt'}: a different vocabulary; choose another folder for DST"
            )
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_model_atomic(model, dst)
    if tokenizer is not None:
        tokenizer.save(dst.parent)


def save_huggingface_directory(model, dst, tokenizer, summary):
    """Writes the Hugging Face directory and summary.json in a temporary sibling, renamed when complete."""
    with atomic_directory(dst) as temporary:
        written = save_huggingface(model, temporary, tokenizer)
        models = {
            Path(path).relative_to(temporary).as_posix(): name for path, name in written.items()
        }
        summary = {**summary, "models": models, "tokenizer": any(temporary.rglob("vocab.txt"))}
        write_json_atomic(temporary / "summary.json", summary)
    return summary


def run(args):
    start = time.time()
    source = source_format(args.src)
    to = args.to or ("huggingface" if source == "keras" else "keras")
    check_options(args, source, to)
    model = load_source(args, source)
    tokenizer = source_tokenizer(args.src, source, model)
    dropped = left_out_of_source(args, source)
    dst = Path(args.dst)
    if to == "keras":
        save_keras(model, dst, tokenizer)
        print(
            f"{type(model).__name__} from {source} {args.src} saved to {dst}"
            + (
                " with vocab.txt and tokenizer_config.json beside it"
                if tokenizer
                else " (SRC has no vocabulary)"
            )
            + dropped
        )
        return
    summary = save_huggingface_directory(
        model,
        dst,
        tokenizer,
        {
            "source": str(args.src),
            "source_format": source,
            "generator": args.generator,
            "parameters": int(model.count_params()),
            "backend": keras.backend.backend(),
            "keras_electra_version": __version__,
            "seconds": round(time.time() - start, 2),
        },
    )
    files = sorted(path.relative_to(dst).as_posix() for path in dst.rglob("*") if path.is_file())
    print(f"{', '.join(summary['models'].values())} saved to {dst}/: {', '.join(files)}{dropped}")
