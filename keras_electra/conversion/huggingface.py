"""Hugging Face ELECTRA directories in and out (docs/conversion.md): our models from `save_pretrained`'s
directories (and backbones from BERT-family encoders'), and directories `from_pretrained` loads from our
models. The files are read and written by `huggingface_files`, config.json is mapped by
`huggingface_config`; here the weights are matched, checked and assigned.
"""

from pathlib import Path

import numpy as np

from keras_electra.conversion.huggingface_config import (
    TASK_KINDS,
    backbone_arguments,
    backbone_of,
    build_model,
    check_bert_kind,
    check_shared_arguments,
    head_config,
    huggingface_config,
    is_bert,
    kind_of_architecture,
    read_config,
    special_token_ids,
)
from keras_electra.conversion.huggingface_files import (
    CONFIG_FILE,
    load_huggingface_tokenizer,
    read_weight_names,
    read_weights,
    write_huggingface_directory,
)
from keras_electra.conversion.weight_map import (
    ARCHITECTURES,
    BERT_TRUNK,
    TRUNK,
    assign,
    discriminator_modules,
    generator_modules,
    model_kind,
    model_modules,
    parameters,
)
from keras_electra.data.electra_tokenizer import check_vocabulary_fits
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

# The generator's own sizes; the rest of its config is the discriminator's (SHARED_ARGUMENTS).
GENERATOR_SIZES = ("hidden_dim", "num_layers", "num_heads", "intermediate_dim")
# Buffers that some checkpoints carry beside the weights.
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
# BERT's tanh layer on [CLS]: ELECTRA has none (its `cls_output` is the raw [CLS] state).
BERT_POOLER = "pooler."
# LayerNorm names of BERT checkpoints converted from TF1, which transformers renames on load.
BERT_LEGACY_NAMES = (("LayerNorm.gamma", "LayerNorm.weight"), ("LayerNorm.beta", "LayerNorm.bias"))


def load_huggingface(directory, model=None, preprocessor=None):
    """Our model from a Hugging Face ELECTRA directory (config.json and model.safetensors or pytorch_model.bin).

    Args:
        directory: what `save_pretrained` wrote.
        model: "backbone" (`ElectraModel` -> `ElectraBackbone`), "pretraining" (`ElectraForPreTraining`
            -> a functional model: inputs -> one replaced-token logit per position), "generator"
            (`ElectraForMaskedLM` -> `ElectraGenerator`), "classifier"
            (`ElectraForSequenceClassification` -> `ElectraClassifier(head="huggingface")`),
            "token-classifier" or "question-answerer". None: config.json's `architectures`. A
            backbone can be taken from any of them; a head must be in the checkpoint. From a
            BERT-family directory (model_type "bert": `BertModel`, or `bert.` under a head) only
            "backbone" is read, the default; its pooler and head are left out (`left_out`).
        preprocessor: for the task models, the preprocessor to attach.
    """
    directory = Path(directory)
    config = read_config(directory)
    kind = model or kind_of_architecture(config, directory / CONFIG_FILE)
    if kind not in ARCHITECTURES:
        raise ValueError(f"model={kind!r}: expected one of {', '.join(ARCHITECTURES)}")
    check_bert_kind(config, kind, directory / CONFIG_FILE)
    if preprocessor is not None and kind not in TASK_KINDS:
        raise ValueError(
            f"preprocessor= is for the task models ({', '.join(TASK_KINDS)}), not model={kind!r}"
        )
    ours = build_model(kind, config, directory / CONFIG_FILE, preprocessor)
    assign(checkpoint_assignments(directory, config, kind, model_modules(ours)))
    return ours


def load_huggingface_pretrainer(
    discriminator_directory, generator_directory, **pretrainer_arguments
):
    """An `ElectraPretrainer` from a released discriminator (`ElectraForPreTraining`) and generator
    (`ElectraForMaskedLM`) pair.

    The two towers share one embedding layer, as in the authors' pretraining: the pair's embedding
    tables must be equal (they are in the authors' released pairs), or this raises. Special-token ids
    come from the discriminator directory's vocabulary when it has one; `pretrainer_arguments`
    (`mask_prob`, `seed`, ...) override any `ElectraPretrainer` argument.
    """
    discriminator_directory, generator_directory = (
        Path(discriminator_directory),
        Path(generator_directory),
    )
    discriminator_config, generator_config = (
        read_config(discriminator_directory),
        read_config(generator_directory),
    )
    check_bert_kind(discriminator_config, "pretrainer", discriminator_directory / CONFIG_FILE)
    check_bert_kind(generator_config, "pretrainer", generator_directory / CONFIG_FILE)
    discriminator = backbone_arguments(discriminator_config, discriminator_directory / CONFIG_FILE)
    generator = backbone_arguments(generator_config, generator_directory / CONFIG_FILE)
    check_shared_arguments(discriminator, generator, discriminator_directory, generator_directory)
    tokenizer = load_huggingface_tokenizer(discriminator_directory)
    towers = {
        **discriminator,
        **{f"generator_{name}": generator[name] for name in GENERATOR_SIZES},
        **({} if tokenizer is None else special_token_ids(tokenizer)),
    }
    # Arguments given override config.json's (dropout=0.0 for an exact continuation, ...).
    pretrainer = ElectraPretrainer(**{**towers, **pretrainer_arguments})
    discriminator_weights = checkpoint_assignments(
        discriminator_directory,
        discriminator_config,
        "pretraining",
        discriminator_modules(pretrainer.discriminator, pretrainer.discriminator_head),
    )
    generator_weights = checkpoint_assignments(
        generator_directory, generator_config, "generator", generator_modules(pretrainer.generator)
    )
    assign(discriminator_weights + generator_weights)
    return pretrainer


def save_huggingface(model, directory, tokenizer=None):
    """Writes our `model` as a directory that `transformers`' `from_pretrained` loads: config.json,
    model.safetensors, and with a `tokenizer` (by default a task model's preprocessor's) its vocab.txt
    and tokenizer_config.json.

    An `ElectraPretrainer` becomes two directories, `discriminator/` (`ElectraForPreTraining`) and
    `generator/` (`ElectraForMaskedLM`), as the authors' pairs are released. Files are written
    atomically. Returns `{directory: Hugging Face class}` of what was written.
    """
    directory = Path(directory)
    if tokenizer is None:
        tokenizer = getattr(getattr(model, "preprocessor", None), "tokenizer", None)
    encoder = (
        model.discriminator
        if isinstance(model, ElectraPretrainer)
        else backbone_of(model, model_kind(model))
    )
    if tokenizer is not None:  # before anything is written
        check_vocabulary_fits(
            tokenizer, encoder.vocab_size, f"the {type(model).__name__} ({model.name})"
        )
    check_no_local_mixing(encoder)
    if isinstance(model, ElectraPretrainer) and model.objective not in ("electra", "electra-15"):
        raise ValueError(
            f"save_huggingface: the {model.objective} pretrainer has no Hugging Face pair of "
            "ElectraForPreTraining and ElectraForMaskedLM; save its encoder, `model.discriminator`"
        )
    if isinstance(model, ElectraPretrainer):
        pad_token_id = (
            model.special_token_ids["pad_token_id"] if tokenizer is None else tokenizer.pad_token_id
        )
        towers = (
            (
                directory / "discriminator",
                "pretraining",
                model.discriminator,
                discriminator_modules(model.discriminator, model.discriminator_head),
            ),
            (
                directory / "generator",
                "generator",
                model.generator.backbone,
                generator_modules(model.generator),
            ),
        )
        for path, kind, backbone, modules in towers:
            config = huggingface_config(backbone, kind, pad_token_id, **head_config(model, kind))
            write_huggingface_directory(path, config, modules, tokenizer)
        return {str(path): ARCHITECTURES[kind] for path, kind, _, _ in towers}
    kind = model_kind(model)
    modules = model_modules(model)
    pad_token_id = 0 if tokenizer is None else tokenizer.pad_token_id
    config = huggingface_config(
        backbone_of(model, kind), kind, pad_token_id, **head_config(model, kind)
    )
    write_huggingface_directory(directory, config, modules, tokenizer)
    return {str(directory): ARCHITECTURES[kind]}


def check_no_local_mixing(backbone, writer="save_huggingface", target="Hugging Face's ELECTRA"):
    """An error naming the option when `backbone` has an `ElectraLocalMixing`: `target` (the format
    `writer` writes) has no such layer, and exporting without it would give another model."""
    if backbone.local_mixing_window:
        raise ValueError(
            f"{writer}: {backbone.name} has local_mixing_window={backbone.local_mixing_window}, "
            f"a layer {target} lacks; nothing was written (keep it as a .keras file)"
        )


def with_trunk_prefix(weights, kind, config):
    """Keys as our tables name them: `ElectraModel` checkpoints have no "electra." prefix, models with a
    head do. A backbone taken from a model with a head keeps the encoder's keys only."""
    if kind == "backbone":
        return encoder_weights(weights, config)[0]
    if not any(key.startswith(TRUNK) for key in weights):
        return {TRUNK + key: value for key, value in weights.items()}
    return weights


def encoder_weights(weights, config):
    """`(encoder, head, pooler)`: the encoder's weights keyed as `backbone_modules` names them, and the
    checkpoint's keys a backbone leaves out: a head's (the encoder is then under "electra." or
    "bert.") and BERT's pooler's."""
    bert = is_bert(config)
    trunk = BERT_TRUNK if bert else TRUNK
    prefixed = any(key.startswith(trunk) for key in weights)
    encoder, head, pooler = {}, [], []
    for key, value in weights.items():
        name = key.removeprefix(trunk) if prefixed else key
        if prefixed and name == key:
            head.append(key)
        elif bert and name.startswith(BERT_POOLER):
            pooler.append(key)
        else:
            encoder[current_name(name) if bert else name] = value
    return encoder, head, pooler


def current_name(name):
    for legacy, current in BERT_LEGACY_NAMES:
        if name.endswith(legacy):
            return name.removesuffix(legacy) + current
    return name


def left_out(directory, model=None):
    """What of a Hugging Face checkpoint `load_huggingface(directory, model)` does not load, one phrase
    per part: the head when a backbone is taken from a model with one, BERT's pooler."""
    directory = Path(directory)
    config = read_config(directory)
    kind = model or kind_of_architecture(config, directory / CONFIG_FILE)
    if kind != "backbone":
        return []
    _, head, pooler = encoder_weights(dict.fromkeys(read_weight_names(directory)), config)
    architecture = (config.get("architectures") or ["the checkpoint"])[0]
    parts = []
    if pooler:
        modules = sorted({key.removeprefix(BERT_TRUNK).rsplit(".", 1)[0] for key in pooler})
        parts.append(f"{architecture}'s pooler ({', '.join(modules)}) left out: ELECTRA has none")
    if head:
        modules = sorted({key.split(".", 1)[0] for key in head})
        parts.append(
            f"{architecture}'s head ({', '.join(modules)}) left out: a backbone is the encoder alone"
        )
    return parts


def check_tied_output(config, weights, source):
    """ELECTRA's generator projects onto its word-embedding table: refuse an untied output matrix."""
    if config.get("tie_word_embeddings", True) is False:
        raise ValueError(
            f"{source.parent / CONFIG_FILE}: tie_word_embeddings is false; ElectraGenerator's output is tied"
        )
    output = weights.get("generator_lm_head.weight")
    table = weights.get(TRUNK + "embeddings.word_embeddings.weight")
    if output is not None and table is not None and not np.array_equal(output, table):
        raise ValueError(
            f"{source}: generator_lm_head.weight differs from {TRUNK}embeddings.word_embeddings.weight; "
            "ElectraGenerator's output is tied to the word embeddings"
        )


def check_unexpected(weights, modules, source):
    """The encoder of the checkpoint must have nothing the config does not describe (a head we were not
    asked for may be there: it is left out on purpose)."""
    keys = {parameter.huggingface_key for parameter in parameters(modules)}
    trunk = TRUNK if any(key.startswith(TRUNK) for key in keys) else ""
    for key in weights:
        if key.startswith(trunk) and key not in keys and not key.endswith(BUFFERS):
            raise ValueError(
                f"{source}: unexpected {key} (the config describes a different encoder)"
            )


def checkpoint_assignments(directory, config, kind, modules):
    """What `assign` takes for every parameter of `modules`, from a directory's weights: all found and
    checked before anything is assigned."""
    weights, source = read_weights(directory)
    weights = with_trunk_prefix(weights, kind, config)
    if kind == "generator":
        check_tied_output(config, weights, source)
    check_unexpected(weights, modules, source)
    assignments = []
    for parameter in parameters(modules):
        key = parameter.huggingface_key
        if key not in weights:
            raise ValueError(f"{source}: missing {key}")
        assignments.append(
            (f"{source}: {key}", parameter.variable, weights[key], parameter.is_kernel)
        )
    return assignments
