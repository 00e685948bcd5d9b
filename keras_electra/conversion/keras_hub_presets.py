"""keras-hub presets in and out (docs/conversion.md, "keras-hub presets").

A preset is the directory keras-hub's `save_to_preset` writes: config.json and model.weights.h5 for
the backbone, tokenizer.json and assets/tokenizer/vocabulary.txt for the tokenizer, metadata.json.
Ours are written by keras-hub's own `ElectraBackbone` and `ElectraTokenizer`, so that keras-hub loads
them as its own; reading one back gives our classes, which compute ELECTRA's exact GELU again.
keras-hub (and with it TensorFlow) is imported only here, inside the functions.
"""

import inspect
import os
from pathlib import Path

from keras_electra.conversion.huggingface import check_no_local_mixing
from keras_electra.conversion.huggingface_files import read_json
from keras_electra.conversion.keras_hub_weights import load_keras_hub, to_keras_hub
from keras_electra.data.electra_tokenizer import UNK, ElectraTokenizer, check_vocabulary_fits

BACKBONE_FILE, TOKENIZER_FILE = "config.json", "tokenizer.json"
BACKBONE_CLASS, TOKENIZER_CLASS = "keras_hub>ElectraBackbone", "keras_hub>ElectraTokenizer"
# keras-hub's WordPiece settings and the values our tokenizer computes; `lowercase` is read, and
# `strip_accents` is not: ours strips accents exactly when it lower-cases (BERT's uncased rule).
TOKENIZER_SETTINGS = (
    ("suffix_indicator", "##"),
    ("oov_token", UNK),
    ("split", True),
    ("special_tokens_in_strings", False),
)


def save_backbone_preset(backbone, preset_dir):
    """Writes our `backbone` as a keras-hub `ElectraBackbone` preset in `preset_dir` (created if need be;
    the files keras-hub writes are replaced), refusing local mixing, which keras-hub lacks, by name."""
    check_no_local_mixing(backbone, "save_to_preset", "keras-hub's ElectraBackbone")
    to_keras_hub(backbone).save_to_preset(os.fspath(preset_dir))


def save_tokenizer_preset(tokenizer, preset_dir):
    """Writes our `tokenizer` as a keras-hub `ElectraTokenizer` preset in `preset_dir`."""
    import keras_hub

    theirs = keras_hub.models.ElectraTokenizer(
        vocabulary=tokenizer.vocabulary,
        lowercase=tokenizer.lowercase,
        strip_accents=tokenizer.lowercase,
    )
    theirs.save_to_preset(os.fspath(preset_dir))


def load_backbone_preset(preset, **kwargs):
    """Our `ElectraBackbone` of a keras-hub `ElectraBackbone` preset; `kwargs` as `load_keras_hub`'s."""
    return load_keras_hub(checked_preset(preset), **kwargs)


def load_tokenizer_preset(preset):
    """Our `ElectraTokenizer` of a keras-hub `ElectraTokenizer` preset; settings ours does not compute
    are errors naming them."""
    import keras_hub

    preset = checked_preset(preset, tokenizer=True)
    theirs = keras_hub.models.ElectraTokenizer.from_preset(preset)
    for name, ours in TOKENIZER_SETTINGS:
        if getattr(theirs, name) != ours:
            raise ValueError(
                f"preset {preset}: its tokenizer has {name}={getattr(theirs, name)!r}; "
                f"ElectraTokenizer computes {name}={ours!r}"
            )
    return ElectraTokenizer(theirs.get_vocabulary(), lowercase=theirs.lowercase)


def task_from_preset(cls, preset, **kwargs):
    """A task model `cls` around the preset's backbone, as keras-hub's `Task.from_preset` builds one:
    `kwargs` are `cls`'s arguments (`num_classes`, ...) but `dtype`, which goes to the backbone. Without
    a `preprocessor` in `kwargs`, a `cls.preprocessor_cls` of default arguments (its length cut to the
    backbone's positions) wraps the preset's tokenizer when it has one."""
    dtype = {"dtype": kwargs.pop("dtype")} if "dtype" in kwargs else {}
    backbone = load_backbone_preset(preset, **dtype)
    if "preprocessor" not in kwargs and has_tokenizer(preset):
        tokenizer = load_tokenizer_preset(preset)
        check_vocabulary_fits(tokenizer, backbone.vocab_size, f"the preset {os.fspath(preset)}")
        # The preprocessor's default length, unless the preset's position table is shorter.
        default = inspect.signature(cls.preprocessor_cls).parameters["sequence_length"].default
        kwargs["preprocessor"] = cls.preprocessor_cls(
            tokenizer, min(default, backbone.max_sequence_length)
        )
    return cls(backbone, **kwargs)


def is_remote(preset):
    """A handle (kaggle://, hf://, ...) or one of keras-hub's ELECTRA preset names: keras-hub finds it."""
    import keras_hub

    return "://" in preset or preset in keras_hub.models.ElectraBackbone.presets


def has_tokenizer(preset):
    """keras-hub's own ELECTRA presets all hold a tokenizer; a directory holds one when it has its file."""
    preset = os.fspath(preset)
    return is_remote(preset) or (Path(preset) / TOKENIZER_FILE).is_file()


def checked_preset(preset, tokenizer=False):
    """`preset` as keras-hub takes it. A local one must be a directory holding a keras-hub
    `ElectraBackbone` (keras-hub reads a tokenizer only from beside a backbone) and, for a `tokenizer`,
    an `ElectraTokenizer`: anything else is an error naming it, not keras-hub's download attempt."""
    import keras_hub

    preset = os.fspath(preset)
    if is_remote(preset):
        return preset
    files = ((BACKBONE_FILE, BACKBONE_CLASS), (TOKENIZER_FILE, TOKENIZER_CLASS))
    for file, registered_name in files[: 2 if tokenizer else 1]:
        path = Path(preset) / file
        if not path.is_file():
            names = ", ".join(keras_hub.models.ElectraBackbone.presets)
            raise FileNotFoundError(
                f"preset {preset}: no {path}; expected a keras-hub preset directory holding a backbone "
                "and its tokenizer (their save_to_preset write them), a kaggle:// or hf:// handle, or one "
                f"of keras-hub's ELECTRA presets ({names})"
            )
        found = read_json(path).get("registered_name")
        if found != registered_name:
            raise ValueError(
                f"{path}: registered_name {found!r}, not {registered_name!r}; a Hugging Face directory "
                "loads with load_huggingface / load_huggingface_tokenizer"
            )
    return preset
