"""The on-disk format of pretraining data: .npy shards of packed examples plus a manifest.

A data directory holds:

- `manifest.json`: `{"format": "keras-electra-pretraining-data", "format_version": 1, "library_version",
  "max_length": L, "seed", "lowercase", "strip_gutenberg", "vocab_file": "vocab.txt", "vocab_size": V,
  "vocab_sha256", "special_token_ids": {"pad", "unk", "cls", "sep", "mask"}, "dtype": "uint16" if V <= 65536
  else "int32", "shards": [{"file": "train-00000.npy", "examples": n0}, ...], "heldout": {"file":
  "heldout.npy", "examples": h}, "counts": {"files", "documents", "tokens", "examples", "truncated_examples",
  "unk_tokens"}}`.
- `vocab.txt`: the vocabulary the examples were tokenized with; its hash must equal `vocab_sha256`.
- `train-NNNNN.npy` shards and `heldout.npy`: each a [n, L] array of token ids in the manifest's dtype; a row
  is `[CLS] A [SEP] B [SEP]` (or `[CLS] A [SEP]`) padded with the pad id.
- `summary.json`: the build's statistics, for people; readers ignore it.

Segment ids and the padding mask are not stored, since the tokens determine them (see
`segment_ids_and_mask`): segment 0 runs up to and including the first [SEP], 1 after it, and padding is
where the token is the pad id (the tokenizer never produces [PAD] from text).

Why .npy: numpy reads it without TensorFlow (training on torch or JAX need not install it); it memory-maps,
so any example is a random access away, which makes shuffling and an exact restart at any example index free;
and it has no parse cost: a batch is a gather of rows.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from keras_electra.data.atomic import write_atomic
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.version import __version__

FORMAT = "keras-electra-pretraining-data"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
# What readers rely on; the rest of the manifest documents the build.
REQUIRED_FIELDS = (
    "max_length",
    "lowercase",
    "vocab_file",
    "vocab_sha256",
    "special_token_ids",
    "dtype",
    "shards",
    "heldout",
)


def write_array_atomic(path, array):
    """`np.save` that never leaves a truncated file at `path`: a crash keeps the old file or none."""
    write_atomic(path, lambda file: np.save(file, array, allow_pickle=False))


def write_json_atomic(path, obj):
    """Writes `obj` as indented JSON, atomically (see `write_array_atomic`)."""
    write_atomic(path, lambda file: file.write(json.dumps(obj, indent=2).encode("utf-8") + b"\n"))


def read_manifest(data_dir):
    """The manifest of `data_dir`, after checking that the files it lists are there and agree with it.

    Shards are checked by their .npy headers only (memory-mapped, nothing read), so this is cheap even for
    a large corpus. Errors name the offending file.
    """
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{data_dir}: no {MANIFEST_FILE}: not a keras-electra data directory "
            "(build one with `keras-electra build-data`)"
        )
    manifest = _load_manifest(path)
    _check_vocabulary(data_dir, manifest)
    for entry in [*manifest["shards"], manifest["heldout"]]:
        _open_checked(data_dir, entry, manifest)
    return manifest


def open_shards(data_dir, split="train", manifest=None):
    """Memory-mapped [n, L] arrays of `split` ("train": the shards in manifest order; "heldout": one).

    Pass the `manifest` already read by `read_manifest` to skip checking the directory again.
    """
    manifest = manifest or read_manifest(data_dir)
    if split == "train":
        entries = manifest["shards"]
    elif split == "heldout":
        entries = [manifest["heldout"]]
    else:
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    return [_open_checked(Path(data_dir), entry, manifest) for entry in entries]


def segment_ids_and_mask(token_ids, sep_id, pad_id):
    """(segment_ids, padding_mask), both int32, of a [..., L] array of packed rows, vectorised.

    Segment 1 starts after the first [SEP]; padding positions get segment 0 and mask 0.
    """
    token_ids = np.asarray(token_ids)
    is_sep = token_ids == sep_id
    # Separators strictly before each position: positive exactly after the first [SEP].
    after_first_sep = np.cumsum(is_sep, axis=-1) - is_sep > 0
    padding_mask = token_ids != pad_id
    return (after_first_sep & padding_mask).astype("int32"), padding_mask.astype("int32")


def _load_manifest(path):
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"{path}: format is {found!r}, expected {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {manifest.get('format_version')!r} is not supported: keras-electra "
            f"{__version__} reads version {FORMAT_VERSION}; rebuild the data with this version"
        )
    missing = [field for field in REQUIRED_FIELDS if field not in manifest]
    if missing:
        raise ValueError(f"{path}: missing field(s) {', '.join(missing)}")
    return manifest


def _check_vocabulary(data_dir, manifest):
    """Examples are only meaningful with the exact vocabulary they were tokenized with."""
    path = data_dir / manifest["vocab_file"]
    vocabulary_hash = ElectraTokenizer.from_vocab_file(
        path, manifest["lowercase"]
    ).vocabulary_hash()
    if vocabulary_hash != manifest["vocab_sha256"]:
        raise ValueError(
            f"{path}: sha256 {vocabulary_hash} differs from the manifest's vocab_sha256 "
            f"{manifest['vocab_sha256']}: not the vocabulary the data was built with"
        )


def _open_checked(data_dir, entry, manifest):
    path = data_dir / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: listed in {data_dir / MANIFEST_FILE} but missing")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    # A file starting like a zip is read as .npz (BadZipFile); an empty one ends early (EOFError).
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path}: not a readable .npy array ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise ValueError(f"{path}: a .npz archive, not a .npy array")
    expected_shape = (entry["examples"], manifest["max_length"])
    if array.shape != expected_shape or array.dtype != np.dtype(manifest["dtype"]):
        raise ValueError(
            f"{path}: shape {array.shape} and dtype {array.dtype} disagree with the manifest's "
            f"{expected_shape} and {manifest['dtype']}"
        )
    return array


def special_token_arguments(manifest):
    """The data's special-token ids as `ElectraPretrainer` arguments (`pad_token_id=...`, ...)."""
    return {
        f"{name}_token_id": token_id for name, token_id in manifest["special_token_ids"].items()
    }
