"""config.json of Hugging Face ELECTRA models, and of BERT-family encoders (read only): read into our
models' arguments, written from them (always as ELECTRA)."""

from pathlib import Path

from keras_electra.conversion.huggingface_files import CONFIG_FILE, read_json
from keras_electra.conversion.weight_map import (
    ARCHITECTURES,
    discriminator_model,
    discriminator_parts,
)
from keras_electra.finetuning.electra_classifier import ElectraClassifier
from keras_electra.finetuning.electra_question_answerer import ElectraQuestionAnswerer
from keras_electra.finetuning.electra_token_classifier import ElectraTokenClassifier
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_generator import ElectraGenerator

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
# A BERT decoder masks attention causally, or has cross-attention: neither is our encoder.
BERT_FIXED_CONFIG = {**FIXED_CONFIG, "is_decoder": False, "add_cross_attention": False}
# What a generator shares with its discriminator (one embedding layer, one dropout rate).
SHARED_ARGUMENTS = (
    "vocab_size",
    "embedding_dim",
    "max_sequence_length",
    "num_segments",
    "dropout",
    "layer_norm_epsilon",
)
TASK_KINDS = ("classifier", "token-classifier", "question-answerer")


def read_config(directory):
    """config.json of an ELECTRA directory, checked against what our layers compute."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory}: no {CONFIG_FILE} (not a Hugging Face model directory)"
        )
    config = read_json(path)
    if config.get("model_type") not in ("electra", "bert"):
        raise ValueError(
            f"{path}: model_type={config.get('model_type')!r}, not 'electra' or 'bert'"
        )
    for key, value in (BERT_FIXED_CONFIG if is_bert(config) else FIXED_CONFIG).items():
        if config.get(key, value) != value:
            raise ValueError(
                f"{path}: {key}={config[key]!r}; our ELECTRA layers compute {key}={value!r}"
            )
    if is_bert(config) and "hidden_size" in config:
        # BERT's embeddings are as wide as its layers (docs/conversion.md): no embeddings_project.
        config = {**config, "embedding_size": config["hidden_size"]}
    return config


def is_bert(config):
    """A BERT-family encoder's config.json: the same encoder as ELECTRA's discriminator, plus a pooler."""
    return config.get("model_type") == "bert"


def check_bert_kind(config, kind, source):
    """Only the encoder of a BERT checkpoint is read: BERT's heads (MLM, next sentence, tasks) are not
    ELECTRA's."""
    if is_bert(config) and kind != "backbone":
        raise ValueError(
            f"{source}: a BERT checkpoint (model_type 'bert'); only --model backbone "
            f'(model="backbone") is read from BERT, not {kind!r}'
        )


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
    if is_bert(config):
        return "backbone"  # the only model read from BERT
    architectures = config.get("architectures") or [ARCHITECTURES["backbone"]]
    kinds = {name: kind for kind, name in ARCHITECTURES.items()}
    if architectures[0] not in kinds:
        raise ValueError(
            f"{source}: architectures {architectures}: expected one of {', '.join(kinds)}; "
            'pass model= ("backbone" takes the encoder of any ELECTRA checkpoint)'
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
            raise ValueError(
                f"{source}: num_labels={num_labels(config)}; question answering has 2 (start, end)"
            )
        return ElectraQuestionAnswerer(backbone, preprocessor)
    dropout = config.get("classifier_dropout")
    dropout = config["hidden_dropout_prob"] if dropout is None else dropout
    if kind == "classifier":
        return ElectraClassifier(
            backbone, num_labels(config), preprocessor, dropout=dropout, head="huggingface"
        )
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
    names = getattr(model.preprocessor, "label_names", None) or [
        f"LABEL_{i}" for i in range(model.num_classes)
    ]
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
        for name in (
            "pad_token_id",
            "unk_token_id",
            "cls_token_id",
            "sep_token_id",
            "mask_token_id",
        )
    }
