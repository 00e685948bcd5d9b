"""`pretrain --init-from SRC`: the pretrainer a continued run starts from (docs/pretraining.md, "Continue
from a released model").

SRC holds a pretrainer (a Hugging Face discriminator with --init-generator DIR, an authors' TF1
checkpoint with its generator, one of our pretrainer.keras files, a finished or interrupted `pretrain`
run directory) or only an encoder (a Hugging Face ELECTRA or BERT encoder, a keras-hub backbone, a
`.keras` backbone or task model), around which `pretrainer_around` builds a fresh generator. Every
check that can fail without reading weights (flags, the data's vocabulary) runs first, and nothing is
written here.
"""

import json
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import keras

from keras_electra.callbacks import latest_checkpoint
from keras_electra.cli.convert import load_source, source_format
from keras_electra.conversion.weight_map import discriminator_parts
from keras_electra.data.atomic import check_keras_file
from keras_electra.data.shards import read_manifest, special_token_arguments
from keras_electra.data.source_vocabulary import source_vocabulary
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.presets import nearest_size
from keras_electra.pretraining.continuation import pretrainer_around
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

# What each kind of SRC is called in messages.
KINDS = {
    "run": "pretrain run directory",
    "huggingface": "Hugging Face directory",
    "tf1": "TF1 checkpoint",
    "keras-hub": "keras-hub preset",
    "keras": ".keras file",
}


class Source(NamedTuple):
    pretrainer: ElectraPretrainer  # not compiled: the optimiser starts fresh
    description: str  # what SRC held and what was built around it, for the run's report
    record: dict  # for metrics.json


def check_flags(args):
    """The flags --init-from rules out: the architecture is SRC's, and the data must be built with its
    vocabulary."""
    if args.init_generator and not args.init_from:
        raise ValueError(
            "--init-generator pairs a generator with --init-from SRC; give --init-from"
        )
    if not args.init_from:
        return
    if not args.data:
        raise ValueError(
            "--init-from needs --data: a directory built with SRC's vocabulary "
            f"(keras-electra build-data --vocab {args.init_from} ...)"
        )
    if args.local_mixing or args.discriminator_bias != "zero":
        flag = "--local-mixing" if args.local_mixing else "--discriminator-bias"
        raise ValueError(f"{flag}: the architecture of a continued run is --init-from's")


def check_vocabulary(args, data_dir, data_tokenizer):
    """The data's vocabulary must be SRC's, compared before any weights are read."""
    tokenizer = source_vocabulary(args.init_from)
    ours = (data_tokenizer.vocabulary_hash(), data_tokenizer.lowercase)
    if (tokenizer.vocabulary_hash(), tokenizer.lowercase) != ours:
        raise ValueError(
            f"--data {data_dir}: its vocabulary ({data_tokenizer.vocab_file}) is not the one of --init-from "
            f"{args.init_from} ({tokenizer.vocab_file}): rebuild the data with build-data --vocab {args.init_from}"
        )


def initial_source(args, data_dir, manifest, data_tokenizer, dtype):
    """The `Source` of --init-from, checked against the data: vocabulary first, then SRC's weights, then
    the length of the data against SRC's position table."""
    check_vocabulary(args, data_dir, data_tokenizer)
    kind, model, origin = load_initial_model(args)
    if isinstance(model, ElectraPretrainer):
        pretrainer, built = with_changes(args, model, dtype), None
    else:
        pretrainer, built = around_encoder(args, model, manifest, dtype)
    positions = pretrainer.max_sequence_length
    if manifest["max_length"] > positions:
        raise ValueError(
            f"--data {data_dir}: max_length {manifest['max_length']} exceeds the {positions} positions "
            f"of --init-from {args.init_from}"
        )
    return Source(pretrainer, *describe(args, kind, origin, pretrainer, built, manifest))


def source_kind(src):
    """ "run" for a `pretrain` run directory, else `convert`'s format of SRC."""
    path = Path(src)
    if path.is_dir() and any((path / name).exists() for name in ("run.json", "checkpoints")):
        return "run"
    return source_format(src)


def load_initial_model(args):
    """(kind of SRC, the model it holds, the file or checkpoint read)."""
    src, kind = args.init_from, source_kind(args.init_from)
    if args.init_generator and kind != "huggingface":
        raise ValueError(
            f"--init-generator pairs Hugging Face directories; --init-from {src} is a {KINDS[kind]}"
        )
    if kind == "run":
        path = run_model_file(Path(src))
        check_keras_file(path)
        return kind, keras.saving.load_model(path, compile=False), str(path)
    request = SimpleNamespace(
        src=src, generator=args.init_generator, model=model_of(src, kind, args)
    )
    return kind, load_source(request, kind), src


def run_model_file(run_dir):
    """A finished run's pretrainer.keras, else the interrupted run's last good checkpoint."""
    if (run_dir / "pretrainer.keras").is_file():
        return run_dir / "pretrainer.keras"
    found = latest_checkpoint(run_dir / "checkpoints")
    if found is None:
        raise ValueError(
            f"--init-from {run_dir}: a pretrain run with no pretrainer.keras and no checkpoint"
        )
    return found[0]


def model_of(src, kind, args):
    """What `convert.load_source` builds from SRC: the pretrainer where SRC holds one, else the encoder
    (with the replaced-token head of a Hugging Face `ElectraForPreTraining`)."""
    if kind == "huggingface" and not args.init_generator:
        config = json.loads((Path(src) / "config.json").read_text("utf-8"))
        return (
            "pretraining"
            if (config.get("architectures") or [None])[0] == "ElectraForPreTraining"
            else "backbone"
        )
    if kind == "tf1":
        from keras_electra.conversion.tf1_checkpoint import Checkpoint

        shapes = Checkpoint(src).shapes
        return "pretrainer" if any(name.startswith("generator/") for name in shapes) else "backbone"
    return None


def with_changes(args, pretrainer, dtype):
    """SRC's pretrainer with --objective checked, and --dropout, the precision and, for a converted
    checkpoint, --seed applied (rebuilt with the same weights when any differs)."""
    if args.objective != pretrainer.objective:
        raise ValueError(
            f"--objective {args.objective}: --init-from {args.init_from} holds a {pretrainer.objective} "
            f"pretrainer; continue it with --objective {pretrainer.objective}"
        )
    changes = {"dtype": dtype} if dtype != "float32" else {}
    if pretrainer.seed is None:  # converted checkpoints have no seed: --seed's masks and samples
        changes["seed"] = args.seed
    if args.dropout is not None and args.dropout != pretrainer.dropout:
        changes["dropout"] = args.dropout
    if not changes:
        return pretrainer
    rebuilt = ElectraPretrainer.from_config({**pretrainer.get_config(), **changes})
    rebuilt.set_weights(pretrainer.get_weights())
    return rebuilt


def around_encoder(args, model, manifest, dtype):
    """A pretrainer around the encoder SRC holds; (pretrainer, the size whose generator was built)."""
    parts = discriminator_parts(model) if isinstance(model, keras.Model) else None
    encoder, head = parts or (getattr(model, "backbone", model), None)
    if not isinstance(encoder, ElectraBackbone):
        raise ValueError(
            f"--init-from {args.init_from}: a {type(model).__name__}, which holds no ELECTRA encoder"
        )
    size = nearest_size(encoder.hidden_dim)
    try:
        pretrainer = pretrainer_around(
            encoder,
            size.size,
            discriminator_head=head,
            dropout=args.dropout,
            objective=args.objective,
            seed=args.seed,
            dtype=dtype,
            **special_token_arguments(manifest),
        )
    except ValueError as error:
        raise ValueError(
            f"--init-from {args.init_from}: {error}; pass --init-generator DIR"
        ) from None
    return pretrainer, (size, head is not None)


def describe(args, kind, origin, pretrainer, built, manifest):
    """(the report's sentence on SRC, metrics.json's record of it)."""
    record = {"source": str(args.init_from), "format": kind, "read": origin, "generator": "SRC's"}
    text = f"continuing from the {KINDS[kind]} {origin}"
    if args.init_generator:
        text += f" with the generator {args.init_generator}"
    trained = trained_length(args.init_from) if kind == "run" else None
    if trained and manifest["max_length"] > trained:
        record["second_phase"] = {"from": trained, "to": manifest["max_length"]}
        text += f"; a second phase at {manifest['max_length']} tokens (SRC trained at {trained})"
    if built is not None:
        size, had_head = built
        record.update(
            generator="new",
            generator_size_rule=size.reason,
            discriminator_head=("SRC's" if had_head else "new"),
        )
        text += (
            f": an encoder only, so a new generator {pretrainer.generator_hidden_dim} wide "
            f"({size.size}'s fraction of the encoder's {pretrainer.hidden_dim}: {size.reason}), tied to "
            f"its embeddings, and {'its' if had_head else 'a new'} replaced-token head"
        )
    return text, record


def trained_length(run_dir):
    """The example length a `pretrain` run directory trained at (its data's max_length)."""
    if not (Path(run_dir) / "run.json").is_file():
        return None
    settings = json.loads((Path(run_dir) / "run.json").read_text("utf-8"))["settings"]
    data_dir = Path(settings["data"]) if settings.get("data") else Path(run_dir) / "data"
    return read_manifest(data_dir)["max_length"] if (data_dir / "manifest.json").is_file() else None
