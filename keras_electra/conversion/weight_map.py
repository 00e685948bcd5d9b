"""One table of ELECTRA's weights: Hugging Face module names (docs/electra.md, "Checkpoint layout") -> our layers.

Hugging Face import and export read it directly; the authors' TF1 variable names and keras-hub's
layers are translations of the same module names, so every format maps the same variables.
"""

from collections import namedtuple

import keras
import numpy as np

from keras_electra.finetuning.electra_classifier import ElectraClassifier
from keras_electra.finetuning.electra_question_answerer import ElectraQuestionAnswerer
from keras_electra.finetuning.electra_token_classifier import ElectraTokenClassifier
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_discriminator_head import ElectraDiscriminatorHead
from keras_electra.models.electra_generator import ElectraGenerator

# Our model kinds and the Hugging Face class each one is.
ARCHITECTURES = {
    "backbone": "ElectraModel",
    "pretraining": "ElectraForPreTraining",
    "generator": "ElectraForMaskedLM",
    "classifier": "ElectraForSequenceClassification",
    "token-classifier": "ElectraForTokenClassification",
    "question-answerer": "ElectraForQuestionAnswering",
}
# Inside a model with a head, Hugging Face keeps the encoder under this prefix.
TRUNK = "electra."
# BERT's (BertForMaskedLM, BertForSequenceClassification, ...), whose encoder a backbone can be read from.
BERT_TRUNK = "bert."

# Per layer type: (attribute, Hugging Face suffix, TF1 suffix). Hugging Face calls a Linear's
# matrix "weight" and a LayerNorm's scale "weight"; TF1 calls them "kernel" and "gamma".
PARAMETER_NAMES = (
    (keras.layers.Dense, (("kernel", ".weight", "/kernel"), ("bias", ".bias", "/bias"))),
    (keras.layers.LayerNormalization, (("gamma", ".weight", "/gamma"), ("beta", ".bias", "/beta"))),
    (keras.layers.Embedding, (("embeddings", ".weight", ""),)),
)

Parameter = namedtuple("Parameter", "module huggingface_key tf1_suffix variable is_kernel")


def backbone_modules(backbone, prefix=""):
    """{Hugging Face module name: layer} of an `ElectraBackbone`."""
    embedding = backbone.embedding
    modules = {
        f"{prefix}embeddings.word_embeddings": embedding.token_embedding,
        f"{prefix}embeddings.position_embeddings": embedding.position_embedding,
        f"{prefix}embeddings.token_type_embeddings": embedding.segment_embedding,
        f"{prefix}embeddings.LayerNorm": embedding.layer_norm,
    }
    if backbone.embeddings_project is not None:
        modules[f"{prefix}embeddings_project"] = backbone.embeddings_project
    for index, block in enumerate(backbone.encoder_layers):
        layer = f"{prefix}encoder.layer.{index}."
        modules.update(
            {
                layer + "attention.self.query": block.attention.query_dense,
                layer + "attention.self.key": block.attention.key_dense,
                layer + "attention.self.value": block.attention.value_dense,
                layer + "attention.output.dense": block.attention.output_dense,
                layer + "attention.output.LayerNorm": block.attention_layer_norm,
                layer + "intermediate.dense": block.intermediate_dense,
                layer + "output.dense": block.output_dense,
                layer + "output.LayerNorm": block.output_layer_norm,
            }
        )
    return modules


def discriminator_modules(backbone, head):
    """ElectraForPreTraining: the encoder and the replaced-token-detection head."""
    return {
        **backbone_modules(backbone, TRUNK),
        "discriminator_predictions.dense": head.dense,
        "discriminator_predictions.dense_prediction": head.dense_prediction,
    }


def generator_modules(generator):
    """ElectraForMaskedLM: the encoder and the MLM head, whose output matrix is the word embedding
    table (tied), so only its bias is a weight of its own."""
    head = generator.mlm_head
    return {
        **backbone_modules(generator.backbone, TRUNK),
        "generator_predictions.dense": head.dense,
        "generator_predictions.LayerNorm": head.layer_norm,
        "generator_lm_head.bias": head.bias,
    }


def discriminator_model(backbone):
    """A functional model: the backbone's inputs -> one replaced-token logit per position, `[B, N]`."""
    head = ElectraDiscriminatorHead(backbone.hidden_dim, name="discriminator_head")
    logits = head(backbone(backbone.input)["sequence_output"])
    return keras.Model(backbone.input, logits, name="electra_discriminator")


def discriminator_parts(model):
    """`(backbone, head)` of a model built by `discriminator_model`, or None."""
    backbones = [layer for layer in model.layers if isinstance(layer, ElectraBackbone)]
    heads = [layer for layer in model.layers if isinstance(layer, ElectraDiscriminatorHead)]
    return (backbones[0], heads[0]) if len(backbones) == len(heads) == 1 else None


def model_kind(model):
    """Which of `ARCHITECTURES` our `model` is."""
    for kind, model_type in (
        ("backbone", ElectraBackbone),
        ("generator", ElectraGenerator),
        ("classifier", ElectraClassifier),
        ("token-classifier", ElectraTokenClassifier),
        ("question-answerer", ElectraQuestionAnswerer),
    ):
        if isinstance(model, model_type):
            return kind
    if isinstance(model, keras.Model) and discriminator_parts(model):
        return "pretraining"
    raise ValueError(
        f"{type(model).__name__} {getattr(model, 'name', '')!r}: not an ELECTRA backbone, discriminator "
        "(backbone + ElectraDiscriminatorHead), generator, pretrainer or task model"
    )


def model_modules(model):
    """{Hugging Face module name: layer or variable} of one of our models (not a pretrainer: it is two)."""
    kind = model_kind(model)
    if kind == "backbone":
        return backbone_modules(model)
    if kind == "pretraining":
        return discriminator_modules(*discriminator_parts(model))
    if kind == "generator":
        return generator_modules(model)
    trunk = backbone_modules(model.backbone, TRUNK)
    if kind == "classifier":
        if model.head != "huggingface":
            raise ValueError(
                f"ElectraClassifier head={model.head!r} (dropout + Dense on [CLS]) has no Hugging Face class: "
                "ElectraForSequenceClassification is head='huggingface' (Dense, GELU, Dense)"
            )
        return {
            **trunk,
            "classifier.dense": model.get_layer("dense"),
            "classifier.out_proj": model.get_layer("logits"),
        }
    if kind == "token-classifier":
        return {**trunk, "classifier": model.get_layer("logits")}
    return {**trunk, "qa_outputs": model.get_layer("span_logits")}


def parameters(modules):
    """Every variable of `modules` as a `Parameter`; a bare variable (the MLM output bias) is its own module."""
    for module, layer in modules.items():
        names = next(
            (names for layer_type, names in PARAMETER_NAMES if isinstance(layer, layer_type)), None
        )
        if names is None:
            yield Parameter(module, module, "", layer, False)
            continue
        for attribute, huggingface_suffix, tf1_suffix in names:
            variable = getattr(layer, attribute)
            yield Parameter(
                module, module + huggingface_suffix, tf1_suffix, variable, attribute == "kernel"
            )


def assign(assignments):
    """Assigns `(where, variable, value, transposed)`: `value` (`.T` of it when `transposed`, as
    Hugging Face keeps Linear weights) goes into `variable` after its shape is checked; `where` names
    the file and key in errors.

    A variable met twice (the embeddings a generator shares with its discriminator) must get the same
    value both times.
    """
    assigned = {}
    for where, variable, value, transposed in assignments:
        value = np.asarray(value)
        expected = tuple(variable.shape)[::-1] if transposed else tuple(variable.shape)
        if value.shape != expected:
            raise ValueError(
                f"{where} has shape {value.shape}; the model its config describes needs {expected}"
            )
        value = value.T if transposed else value
        if id(variable) in assigned:
            first_where, first_value = assigned[id(variable)]
            if not np.array_equal(first_value, value):
                raise ValueError(
                    f"{where} differs from {first_where} (max |difference| "
                    f"{np.max(np.abs(first_value - value)):.3g}), but ELECTRA's generator and discriminator "
                    "share one embedding table"
                )
            continue
        assigned[id(variable)] = (where, value)
        variable.assign(value.astype(variable.dtype))
