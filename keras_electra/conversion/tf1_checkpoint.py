"""The authors' TF1 checkpoints (google-research/electra) -> an `ElectraPretrainer` or a backbone.

Their variable names are BERT's: `electra/encoder/layer_0/attention/self/query/kernel`, ... The
discriminator lives under `electra/`, the generator's encoder and projection under `generator/`,
and the embedding tables both share under `electra/embeddings/`. They name the same modules as
Hugging Face's keys, so the names here are a translation of the one table in `weight_map`.
TensorFlow is imported only when a checkpoint is read.
"""

import re
from pathlib import Path

from keras_electra.conversion.weight_map import (
    TRUNK,
    assign,
    backbone_modules,
    discriminator_modules,
    generator_modules,
    parameters,
)
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.presets import num_heads_for
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

# Hugging Face modules whose TF1 scope is not the mechanical translation.
TF1_SCOPES = {
    "discriminator_predictions.dense_prediction": "discriminator_predictions/dense_1",
    "generator_lm_head.bias": "generator_predictions/output_bias",
}
WORD_EMBEDDINGS = "electra/embeddings/word_embeddings"
MODELS = ("pretrainer", "backbone")


def load_tf1_checkpoint(path, model="pretrainer", **arguments):
    """Our model from a checkpoint of the authors' TF1 code (a prefix such as `model.ckpt-1000000`,
    or its directory for the latest one).

    Sizes are read from the variables' shapes; the number of attention heads is not in a checkpoint,
    so it is the authors' rule, max(1, hidden // 64), unless given (`num_heads`, and for the
    pretrainer `generator_num_heads`). Optimizer slots and other variables are ignored.

    Args:
        model: "pretrainer" (generator + discriminator and their heads) or "backbone" (the
            discriminator's encoder, e.g. of a fine-tuning checkpoint).
        **arguments: any other `ElectraPretrainer` or `ElectraBackbone` argument (special-token
            ids, `mask_prob`, ...).
    """
    if model not in MODELS:
        raise ValueError(f"model={model!r}: expected one of {', '.join(MODELS)}")
    checkpoint = Checkpoint(path)
    vocab_size, embedding_dim = checkpoint.shape(WORD_EMBEDDINGS)
    sizes = dict(
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        max_sequence_length=checkpoint.shape("electra/embeddings/position_embeddings")[0],
        num_segments=checkpoint.shape("electra/embeddings/token_type_embeddings")[0],
        **checkpoint.tower_sizes("electra"),
    )
    sizes["num_heads"] = num_heads_for(sizes["hidden_dim"])
    if model == "backbone":
        ours = ElectraBackbone(**{**sizes, **arguments})
        towers = ((backbone_modules(ours, TRUNK), "electra"),)
    else:
        if "generator/embeddings/word_embeddings" in checkpoint.shapes:
            raise ValueError(
                f"{checkpoint.prefix}: the generator has embeddings of its own; ElectraPretrainer shares one set"
            )
        if not any(name.startswith("generator/encoder/") for name in checkpoint.shapes):
            raise ValueError(
                f"{checkpoint.prefix}: no generator/encoder/ variables; model='backbone' reads a discriminator alone"
            )
        generator = {
            f"generator_{key}": value for key, value in checkpoint.tower_sizes("generator").items()
        }
        ours = ElectraPretrainer(**{**sizes, **generator, **arguments})
        towers = (
            (discriminator_modules(ours.discriminator, ours.discriminator_head), "electra"),
            (generator_modules(ours.generator), "generator"),
        )
    assignments = []
    for modules, tower in towers:
        for parameter in parameters(modules):
            name = tf1_scope(parameter.module, tower) + parameter.tf1_suffix
            assignments.append(
                (f"{checkpoint.prefix}: {name}", parameter.variable, checkpoint.tensor(name), False)
            )
    assign(assignments)
    return ours


class Checkpoint:
    """A TF checkpoint's variables by name; asking for a missing one is an error naming it."""

    def __init__(self, path):
        import tensorflow as tf

        path = Path(path)
        prefix = tf.train.latest_checkpoint(str(path)) if path.is_dir() else str(path)
        if prefix is None or not Path(f"{prefix}.index").is_file():
            raise FileNotFoundError(
                f"{path}: not a TF checkpoint (no {path}.index, nor a directory with a `checkpoint` file)"
            )
        self.prefix = prefix
        self.reader = tf.train.load_checkpoint(prefix)
        self.shapes = self.reader.get_variable_to_shape_map()

    def shape(self, name):
        if name not in self.shapes:
            raise ValueError(f"{self.prefix}: no variable {name}")
        return self.shapes[name]

    def tensor(self, name):
        self.shape(name)
        return self.reader.get_tensor(name)

    def tower_sizes(self, scope):
        """Layers and widths of the encoder under `scope` ("electra" or "generator")."""
        layer = f"{scope}/encoder/layer_0"
        hidden_dim = self.shape(f"{layer}/attention/self/query/kernel")[1]
        intermediate_dim = self.shape(f"{layer}/intermediate/dense/kernel")[1]
        layers = [
            int(m.group(1))
            for name in self.shapes
            if (m := re.match(rf"{scope}/encoder/layer_(\d+)/", name))
        ]
        return dict(
            num_layers=max(layers) + 1, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim
        )


def tf1_scope(module, tower):
    """The authors' variable scope of a Hugging Face module name, in the "electra" or "generator" tower."""
    if module in TF1_SCOPES:
        return TF1_SCOPES[module]
    scope = re.sub(r"\.layer\.(\d+)\.", r"/layer_\1/", module).replace(".", "/")
    # The generator's encoder and projection have their own scope; the embedding tables are shared.
    if (
        tower == "generator"
        and scope.startswith("electra/")
        and not scope.startswith("electra/embeddings/")
    ):
        scope = "generator/" + scope[len("electra/") :]
    return scope
