"""The vocabulary a model was trained with, found from the model itself: what `build-data --vocab` and
`pretrain --init-from` accept (docs/pretraining.md, "Continue from a released model").

A model's vocabulary lives beside its weights: vocab.txt (with tokenizer_config.json's
`do_lower_case`) or tokenizer.json in a Hugging Face directory, vocab.txt beside a `.keras` file
(as `convert` writes it) or a TF1 checkpoint's prefix, the files a finished `pretrain` run saves, or,
for a run that stopped early, its data directory's. Reading it touches no weights.
"""

import json
from pathlib import Path

from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.shards import MANIFEST_FILE

VOCAB_FILE, TOKENIZER_JSON, RUN_FILE = "vocab.txt", "tokenizer.json", "run.json"
KERAS_HUB_VOCABULARY = Path("assets", "tokenizer", "vocabulary.txt")


def is_vocabulary_file(path):
    """A plain vocab.txt, rather than a model: not a directory, a `.keras` file or a TF1 prefix."""
    path = Path(path)
    return path.is_file() and path.suffix != ".keras" and not Path(f"{path}.index").is_file()


def source_vocabulary(src):
    """The `ElectraTokenizer` of the model at `src`; its `vocab_file` names the file read. A
    ValueError naming `src` when none is found."""
    src = Path(src)
    for directory in _candidate_directories(src):
        tokenizer = _tokenizer_in(directory)
        if tokenizer is not None:
            return tokenizer
    raise ValueError(
        f"{src}: no vocabulary found (vocab.txt or tokenizer.json "
        f"{'in it' if src.is_dir() else 'beside it'}); put the vocab.txt the model was trained with there"
    )


def _candidate_directories(src):
    if not src.is_dir():  # a .keras file or a TF1 prefix: the files beside it
        return [src.parent]
    run_file = src / RUN_FILE
    if not run_file.is_file():
        return [src]
    # A `pretrain` run saves vocab.txt when it finishes; before that, its data holds the vocabulary.
    data = json.loads(run_file.read_text("utf-8")).get("settings", {}).get("data")
    return [src, Path(data) if data else src / "data"]


def _tokenizer_in(directory):
    if (directory / VOCAB_FILE).is_file() and (directory / MANIFEST_FILE).is_file():
        manifest = json.loads((directory / MANIFEST_FILE).read_text("utf-8"))
        return ElectraTokenizer.from_vocab_file(
            directory / manifest.get("vocab_file", VOCAB_FILE), lowercase=manifest["lowercase"]
        )
    if (directory / VOCAB_FILE).is_file():
        return ElectraTokenizer.from_directory(directory)
    if (
        directory / KERAS_HUB_VOCABULARY
    ).is_file():  # before tokenizer.json, which keras-hub writes too
        return _keras_hub_tokenizer(directory)
    if (directory / TOKENIZER_JSON).is_file():
        # Imported here: the reader of tokenizer.json sits with the other Hugging Face files, beside Keras.
        from keras_electra.conversion.huggingface_files import load_huggingface_tokenizer

        return load_huggingface_tokenizer(directory)
    return None


def _keras_hub_tokenizer(directory):
    """A keras-hub preset's WordPiece vocabulary, cased as its tokenizer.json's config says."""
    config = {}
    if (directory / TOKENIZER_JSON).is_file():
        config = json.loads((directory / TOKENIZER_JSON).read_text("utf-8")).get("config", {})
    return ElectraTokenizer.from_vocab_file(
        directory / KERAS_HUB_VOCABULARY, lowercase=config.get("lowercase", True)
    )
