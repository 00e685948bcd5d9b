"""Hugging Face ELECTRA directories in and out: config.json, the weights and the tokenizer files.

Weights are read from `model.safetensors` first, else from `pytorch_model.bin` through
`torch.load(weights_only=True)`, which refuses a pickle that would run code: nothing here unpickles.
torch (for `.bin` files only) is imported only when a file needs it.
"""

import json
import pickle
from pathlib import Path

import keras
import numpy as np
import safetensors.numpy

from keras_electra.conversion.weight_map import (
    ARCHITECTURES,
    TRUNK,
    assign,
    discriminator_model,
    discriminator_modules,
    discriminator_parts,
    generator_modules,
    model_kind,
    model_modules,
    parameters,
)
from keras_electra.data.atomic import write_atomic
from keras_electra.data.electra_tokenizer import ElectraTokenizer, check_vocabulary_fits
from keras_electra.data.shards import write_json_atomic
from keras_electra.finetuning.electra_classifier import ElectraClassifier
from keras_electra.finetuning.electra_question_answerer import ElectraQuestionAnswerer
from keras_electra.finetuning.electra_token_classifier import ElectraTokenClassifier
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_generator import ElectraGenerator
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

# config.json key -> ElectraBackbone argument. Both dropout rates map to our one rate.
CONFIG_KEYS = (
    ("vocab_size", "vocab_size"),
    ("embedding_size", "embedding_dim"),
    ("hidden_size", "hidden_dim"),
    ("num_hidden_layers", "num_layers"),
    ("num_attention_heads", "num_heads"),
    ("intermediate_size", "intermediate_dim"),
    ("max_position_embeddings", "max_sequence_length"),
    ("type_vocab_size", "num_segments"),
    ("hidden_dropout_prob", "dropout"),
    ("attention_probs_dropout_prob", "dropout"),
    ("layer_norm_eps", "layer_norm_epsilon"),
)
# What our layers compute (exact GELU, learned absolute positions); absent means the same in
# Hugging Face, any other value is a different model.
FIXED_CONFIG = {"hidden_act": "gelu", "position_embedding_type": "absolute"}
# What a generator shares with its discriminator (one embedding layer, one dropout rate).
SHARED_ARGUMENTS = (
    "vocab_size", "embedding_dim", "max_sequence_length", "num_segments", "dropout", "layer_norm_epsilon"
)
# Buffers that some checkpoints carry beside the weights.
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
TASK_KINDS = ("classifier", "token-classifier", "question-answerer")
CONFIG_FILE, SAFETENSORS_FILE, PYTORCH_FILE = "config.json", "model.safetensors", "pytorch_model.bin"


def load_huggingface(directory, model=None, preprocessor=None):
    """Our model from a Hugging Face ELECTRA directory (config.json and model.safetensors or pytorch_model.bin).

    Args:
        directory: what `save_pretrained` wrote.
        model: "backbone" (`ElectraModel` -> `ElectraBackbone`), "pretraining" (`ElectraForPreTraining`
            -> a functional model: inputs -> one replaced-token logit per position), "generator"
            (`ElectraForMaskedLM` -> `ElectraGenerator`), "classifier"
            (`ElectraForSequenceClassification` -> `ElectraClassifier(head="huggingface")`),
            "token-classifier" or "question-answerer". None: config.json's `architectures`. A
            backbone can be taken from any of them; a head must be in the checkpoint.
        preprocessor: for the task models, the preprocessor to attach.
    """
    directory = Path(directory)
    config = read_config(directory)
    kind = model or kind_of_architecture(config, directory / CONFIG_FILE)
    if kind not in ARCHITECTURES:
        raise ValueError(f"model={kind!r}: expected one of {', '.join(ARCHITECTURES)}")
    if preprocessor is not None and kind not in TASK_KINDS:
        raise ValueError(f"preprocessor= is for the task models ({', '.join(TASK_KINDS)}), not model={kind!r}")
    ours = build_model(kind, config, directory / CONFIG_FILE, preprocessor)
    assign(checkpoint_assignments(directory, config, kind, model_modules(ours)))
    return ours


def load_huggingface_pretrainer(discriminator_directory, generator_directory, **pretrainer_arguments):
    """An `ElectraPretrainer` from a released discriminator (`ElectraForPreTraining`) and generator
    (`ElectraForMaskedLM`) pair.

    The two towers share one embedding layer, as in the authors' pretraining: the pair's embedding
    tables must be equal (they are in the authors' released pairs), or this raises. Special-token ids
    come from the discriminator directory's vocabulary when it has one; `pretrainer_arguments`
    (`mask_prob`, `seed`, ...) override any `ElectraPretrainer` argument.
    """
    discriminator_directory, generator_directory = Path(discriminator_directory), Path(generator_directory)
    discriminator_config, generator_config = read_config(discriminator_directory), read_config(generator_directory)
    discriminator = backbone_arguments(discriminator_config, discriminator_directory / CONFIG_FILE)
    generator = backbone_arguments(generator_config, generator_directory / CONFIG_FILE)
    check_shared_arguments(discriminator, generator, discriminator_directory, generator_directory)
    tokenizer = load_huggingface_tokenizer(discriminator_directory)
    pretrainer = ElectraPretrainer(
        **discriminator,
        generator_hidden_dim=generator["hidden_dim"],
        generator_num_layers=generator["num_layers"],
        generator_num_heads=generator["num_heads"],
        generator_intermediate_dim=generator["intermediate_dim"],
        **{**({} if tokenizer is None else special_token_ids(tokenizer)), **pretrainer_arguments},
    )
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
    if tokenizer is not None:  # before anything is written
        table = model.discriminator if isinstance(model, ElectraPretrainer) else backbone_of(model, model_kind(model))
        check_vocabulary_fits(tokenizer, table.vocab_size, f"the {type(model).__name__} ({model.name})")
    if isinstance(model, ElectraPretrainer):
        pad_token_id = model.special_token_ids["pad_token_id"] if tokenizer is None else tokenizer.pad_token_id
        towers = (
            (directory / "discriminator", "pretraining", model.discriminator,
             discriminator_modules(model.discriminator, model.discriminator_head)),
            (directory / "generator", "generator", model.generator.backbone, generator_modules(model.generator)),
        )
        for path, kind, backbone, modules in towers:
            config = huggingface_config(backbone, kind, pad_token_id, **head_config(model, kind))
            write_huggingface_directory(path, config, modules, tokenizer)
        return {str(path): ARCHITECTURES[kind] for path, kind, _, _ in towers}
    kind = model_kind(model)
    modules = model_modules(model)
    pad_token_id = 0 if tokenizer is None else tokenizer.pad_token_id
    config = huggingface_config(backbone_of(model, kind), kind, pad_token_id, **head_config(model, kind))
    write_huggingface_directory(directory, config, modules, tokenizer)
    return {str(directory): ARCHITECTURES[kind]}


# --- config.json ------------------------------------------------------------------------------


def read_json(path):
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def read_config(directory):
    """config.json of an ELECTRA directory, checked against what our layers compute."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {CONFIG_FILE} (not a Hugging Face model directory)")
    config = read_json(path)
    if config.get("model_type") != "electra":
        raise ValueError(f"{path}: model_type={config.get('model_type')!r}, not 'electra'")
    for key, value in FIXED_CONFIG.items():
        if config.get(key, value) != value:
            raise ValueError(f"{path}: {key}={config[key]!r}; our ELECTRA layers compute {key}={value!r}")
    return config


def backbone_arguments(config, source):
    """`ElectraBackbone` arguments from a config.json's values."""
    arguments, keys = {}, {}
    for key, argument in CONFIG_KEYS:
        if key not in config:
            raise ValueError(f"{source}: no {key!r}")
        if argument in arguments and arguments[argument] != config[key]:
            raise ValueError(
                f"{source}: {key}={config[key]} but {keys[argument]}={arguments[argument]}; "
                f"ElectraBackbone has one {argument} for both"
            )
        arguments[argument], keys[argument] = config[key], key
    return arguments


def config_key(argument):
    return next(key for key, name in CONFIG_KEYS if name == argument)


def check_shared_arguments(discriminator, generator, discriminator_directory, generator_directory):
    for argument in SHARED_ARGUMENTS:
        if discriminator[argument] != generator[argument]:
            raise ValueError(
                f"{generator_directory / CONFIG_FILE}: {config_key(argument)}={generator[argument]} but the "
                f"discriminator's ({discriminator_directory / CONFIG_FILE}) is {discriminator[argument]}; "
                "the generator shares the discriminator's embeddings"
            )


def kind_of_architecture(config, source):
    architectures = config.get("architectures") or [ARCHITECTURES["backbone"]]
    kinds = {name: kind for kind, name in ARCHITECTURES.items()}
    if architectures[0] not in kinds:
        raise ValueError(
            f"{source}: architectures {architectures}: expected one of {', '.join(kinds)}; "
            "pass model= (\"backbone\" takes the encoder of any ELECTRA checkpoint)"
        )
    return kinds[architectures[0]]


def num_labels(config):
    return len(config["id2label"]) if "id2label" in config else config.get("num_labels", 2)


def build_model(kind, config, source, preprocessor=None):
    """Our model of `kind` with the sizes of `config`, weights not yet loaded."""
    backbone = ElectraBackbone(**backbone_arguments(config, source))
    if kind == "backbone":
        return backbone
    if kind == "pretraining":
        return discriminator_model(backbone)
    if kind == "generator":
        return ElectraGenerator(backbone)
    if kind == "question-answerer":
        if num_labels(config) != 2:
            raise ValueError(f"{source}: num_labels={num_labels(config)}; question answering has 2 (start, end)")
        return ElectraQuestionAnswerer(backbone, preprocessor)
    dropout = config.get("classifier_dropout")
    dropout = config["hidden_dropout_prob"] if dropout is None else dropout
    if kind == "classifier":
        return ElectraClassifier(backbone, num_labels(config), preprocessor, dropout=dropout, head="huggingface")
    return ElectraTokenClassifier(backbone, num_labels(config), preprocessor, dropout=dropout)


def huggingface_config(backbone, kind, pad_token_id, **head):
    config = {"architectures": [ARCHITECTURES[kind]], "model_type": "electra", **FIXED_CONFIG}
    config.update({key: getattr(backbone, argument) for key, argument in CONFIG_KEYS})
    config.update(initializer_range=0.02, pad_token_id=pad_token_id, **head)
    return config


def head_config(model, kind):
    """config.json entries of a head: the labels and dropout of a classifier, the generator's tie."""
    if kind == "generator":
        return {"tie_word_embeddings": True}
    if kind not in ("classifier", "token-classifier"):
        return {}
    names = getattr(model.preprocessor, "label_names", None) or [f"LABEL_{i}" for i in range(model.num_classes)]
    return {
        "id2label": {str(i): name for i, name in enumerate(names)},
        "label2id": {name: i for i, name in enumerate(names)},
        "classifier_dropout": model.dropout,
    }


def backbone_of(model, kind):
    if kind == "backbone":
        return model
    if kind == "pretraining":
        return discriminator_parts(model)[0]
    return model.backbone


def special_token_ids(tokenizer):
    return {
        name: getattr(tokenizer, name)
        for name in ("pad_token_id", "unk_token_id", "cls_token_id", "sep_token_id", "mask_token_id")
    }


# --- weights ------------------------------------------------------------------------------------


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
        raise ImportError(f"{path}: reading {PYTORCH_FILE} needs torch; or convert it to {SAFETENSORS_FILE}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"{path}: refused, its pickle holds more than tensors ({reason})") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors)")
    return {key: value.to(torch.float32).numpy() for key, value in state.items()}


def with_trunk_prefix(weights, kind):
    """Keys as our tables name them: `ElectraModel` checkpoints have no "electra." prefix, models with a
    head do. A backbone taken from a model with a head keeps the encoder's keys only."""
    prefixed = any(key.startswith(TRUNK) for key in weights)
    if kind == "backbone" and prefixed:
        return {key[len(TRUNK):]: value for key, value in weights.items() if key.startswith(TRUNK)}
    if kind != "backbone" and not prefixed:
        return {TRUNK + key: value for key, value in weights.items()}
    return weights


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
            raise ValueError(f"{source}: unexpected {key} (the config describes a different encoder)")


def checkpoint_assignments(directory, config, kind, modules):
    """What `assign` takes for every parameter of `modules`, from a directory's weights: all found and
    checked before anything is assigned."""
    weights, source = read_weights(directory)
    weights = with_trunk_prefix(weights, kind)
    if kind == "generator":
        check_tied_output(config, weights, source)
    check_unexpected(weights, modules, source)
    assignments = []
    for parameter in parameters(modules):
        key = parameter.huggingface_key
        if key not in weights:
            raise ValueError(f"{source}: missing {key}")
        assignments.append((f"{source}: {key}", parameter.variable, weights[key], parameter.is_kernel))
    return assignments


def write_huggingface_directory(directory, config, modules, tokenizer):
    tensors = {}
    for parameter in parameters(modules):
        value = keras.ops.convert_to_numpy(parameter.variable)
        tensors[parameter.huggingface_key] = np.ascontiguousarray(value.T if parameter.is_kernel else value)
    directory.mkdir(parents=True, exist_ok=True)
    # The metadata transformers' own save_pretrained writes; some of its versions check it on load.
    data = safetensors.numpy.save(tensors, metadata={"format": "pt"})
    write_atomic(directory / SAFETENSORS_FILE, lambda file: file.write(data))
    write_json_atomic(directory / CONFIG_FILE, config)
    if tokenizer is not None:
        tokenizer.save(directory)
