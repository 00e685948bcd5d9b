"""Hugging Face ELECTRA directories' files: config.json and other JSON, the weights, the tokenizer.

Weights are read from `model.safetensors` first, else from `pytorch_model.bin` through
`torch.load(weights_only=True)`, which refuses a pickle that would run code: nothing here unpickles.
torch (for `.bin` files only) is imported only when a file needs it.
"""

import json
import pickle
from pathlib import Path

import keras
import numpy as np
import safetensors
import safetensors.numpy

from keras_electra.conversion.weight_map import parameters
from keras_electra.data.atomic import write_atomic
from keras_electra.data.electra_tokenizer import ElectraTokenizer, check_vocabulary_fits
from keras_electra.data.shards import write_json_atomic

CONFIG_FILE, SAFETENSORS_FILE, PYTORCH_FILE = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
)


def read_json(path):
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def read_weights(directory):
    """`({key: array}, file)` of a Hugging Face directory: model.safetensors, else pytorch_model.bin."""
    directory = Path(directory)
    safetensors_path = directory / SAFETENSORS_FILE
    if safetensors_path.is_file():
        return read_safetensors(safetensors_path), safetensors_path
    pytorch_path = directory / PYTORCH_FILE
    if pytorch_path.is_file():
        return read_pytorch_state_dict(pytorch_path), pytorch_path
    raise FileNotFoundError(
        f"{directory}: no {SAFETENSORS_FILE} or {PYTORCH_FILE} (sharded, TensorFlow and Flax weights are not read)"
    )


def read_weight_names(directory):
    """The keys of a directory's weights: a safetensors file's from its header, without its data."""
    path = Path(directory) / SAFETENSORS_FILE
    if path.is_file():
        with safetensors.safe_open(path, framework="numpy") as file:
            return list(file.keys())
    return list(read_weights(directory)[0])


def read_safetensors(path):
    try:
        return safetensors.numpy.load_file(path)
    except TypeError as error:  # numpy has no bfloat16
        raise ValueError(f"{path}: {error}; save the checkpoint in float32 or float16") from None


def read_pytorch_state_dict(path):
    """A state dict from a torch pickle, loaded with `weights_only=True`: a pickle that would build
    anything but tensors and plain containers (run code) is refused, not executed."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{path}: reading {PYTORCH_FILE} needs torch; or convert it to {SAFETENSORS_FILE}"
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(
            f"{path}: refused, its pickle holds more than tensors ({reason})"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors)")
    return {key: value.to(torch.float32).numpy() for key, value in state.items()}


def load_huggingface_tokenizer(directory):
    """The `ElectraTokenizer` of a Hugging Face directory, or None when it has no tokenizer files.

    Reads vocab.txt with `do_lower_case` from tokenizer_config.json (what the released models and our
    `save_huggingface` write), else the WordPiece vocabulary of tokenizer.json (what newer
    `transformers` versions write instead).
    """
    directory = Path(directory)
    if (directory / "vocab.txt").is_file():
        tokenizer = ElectraTokenizer.from_directory(directory)
    else:
        tokenizer = _tokenizer_json(directory / "tokenizer.json")
    config_file = directory / CONFIG_FILE
    if tokenizer is not None and config_file.is_file():
        vocab_size = read_json(config_file).get("vocab_size")
        if isinstance(vocab_size, int):
            check_vocabulary_fits(tokenizer, vocab_size, f"{config_file} (vocab_size)")
    return tokenizer


def _tokenizer_json(tokenizer_file):
    """The `ElectraTokenizer` of a tokenizer.json (a WordPiece vocabulary), or None when there is none."""
    if not tokenizer_file.is_file():
        return None
    tokenizer = read_json(tokenizer_file)
    model, normalizer = tokenizer.get("model") or {}, tokenizer.get("normalizer") or {}
    if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer":
        raise ValueError(
            f"{tokenizer_file}: model {model.get('type')!r} with normalizer {normalizer.get('type')!r}; "
            "ELECTRA's tokenizer is WordPiece with a BertNormalizer"
        )
    lowercase = normalizer.get("lowercase", True)
    if normalizer.get("strip_accents") not in (None, lowercase):
        raise ValueError(
            f"{tokenizer_file}: strip_accents={normalizer['strip_accents']} with lowercase={lowercase}; "
            "ElectraTokenizer strips accents exactly when it lower-cases (BERT's do_lower_case)"
        )
    ids = model["vocab"]
    vocabulary = sorted(ids, key=ids.get)
    if [ids[token] for token in vocabulary] != list(range(len(vocabulary))):
        raise ValueError(f"{tokenizer_file}: the vocabulary's ids are not 0..{len(vocabulary) - 1}")
    tokenizer = ElectraTokenizer(vocabulary, lowercase=lowercase)
    tokenizer.vocab_file = tokenizer_file
    return tokenizer


def write_huggingface_directory(directory, config, modules, tokenizer):
    tensors = {}
    for parameter in parameters(modules):
        value = keras.ops.convert_to_numpy(parameter.variable)
        tensors[parameter.huggingface_key] = np.ascontiguousarray(
            value.T if parameter.is_kernel else value
        )
    directory.mkdir(parents=True, exist_ok=True)
    # The metadata transformers' own save_pretrained writes; some of its versions check it on load.
    data = safetensors.numpy.save(tensors, metadata={"format": "pt"})
    write_atomic(directory / SAFETENSORS_FILE, lambda file: file.write(data))
    write_json_atomic(directory / CONFIG_FILE, config)
    if tokenizer is not None:
        tokenizer.save(directory)
