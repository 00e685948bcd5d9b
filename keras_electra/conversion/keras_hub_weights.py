"""keras-hub's `ElectraBackbone` <-> ours, mapped through the Hugging Face module names of `weight_map`.

The weights carry over exactly, the outputs not quite: keras-hub's encoder blocks use the tanh
approximation of GELU where ELECTRA (the authors' code, Hugging Face and ours) uses the exact erf
form (docs/conversion.md, "keras-hub presets", has the difference measured), and its `pooled_output`
(a tanh Dense on [CLS]) has no counterpart: ELECTRA has no pooler, our `cls_output` is the [CLS] state
itself, and `pooled_dense` is left out. keras-hub (and with it TensorFlow) is imported only when a
preset has to be loaded or a keras-hub model built.
"""

import os

import numpy as np
from keras import ops

from keras_electra.conversion.weight_map import assign, backbone_modules
from keras_electra.models.electra_backbone import ElectraBackbone

# Our constructor's arguments that the keras-hub backbone fixes: its sizes (the shapes of its weights)
# and what its layers compute (LayerNorm epsilon 1e-12, no local mixing).
KERAS_HUB_SIZES = (
    "vocab_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "embedding_dim",
    "max_sequence_length",
    "num_segments",
)
FIXED_BY_KERAS_HUB = (*KERAS_HUB_SIZES, "layer_norm_epsilon", "local_mixing_window", "embedding")
KERAS_HUB_LAYER_NORM_EPSILON = 1e-12


def load_keras_hub(backbone, **kwargs):
    """Our `ElectraBackbone` with the weights of keras-hub's `backbone` (an `ElectraBackbone`, or a
    preset it loads from: a directory written by `save_to_preset`, or a preset name).

    `kwargs` are our constructor's arguments that keras-hub does not fix (`dtype`,
    `attention_implementation`, `dropout`, `seed`, `name`); its sizes are the preset's.
    """
    fixed = [name for name in FIXED_BY_KERAS_HUB if name in kwargs]
    if fixed:
        raise ValueError(
            f"load_keras_hub: {', '.join(fixed)} are set by the keras-hub backbone (its weights' shapes, "
            "what its layers compute); pass only dtype, attention_implementation, dropout, seed or name"
        )
    if isinstance(backbone, (str, os.PathLike)):
        import keras_hub

        backbone = keras_hub.models.ElectraBackbone.from_preset(os.fspath(backbone))
    sizes = {name: getattr(backbone, name) for name in KERAS_HUB_SIZES}
    ours = ElectraBackbone(**sizes, **{"dropout": backbone.dropout, **kwargs})
    assign(
        (f"keras-hub {theirs.path}", variable, reshaped(theirs, variable.shape), False)
        for variable, theirs in paired_variables(ours, backbone)
    )
    return ours


def to_keras_hub(ours):
    """keras-hub's `ElectraBackbone` of our `ours`'s sizes and weights. Its `pooled_dense`, which ELECTRA
    lacks, is the identity (kernel I, bias 0), so that `pooled_output` is tanh of the [CLS] state
    rather than of a random projection."""
    import keras_hub

    if ours.layer_norm_epsilon != KERAS_HUB_LAYER_NORM_EPSILON:
        raise ValueError(
            f"{ours.name} has layer_norm_epsilon={ours.layer_norm_epsilon}; keras-hub's ElectraBackbone "
            f"always uses {KERAS_HUB_LAYER_NORM_EPSILON}"
        )
    theirs = keras_hub.models.ElectraBackbone(
        **{name: getattr(ours, name) for name in KERAS_HUB_SIZES},
        dropout=ours.dropout,
        dtype=ours.dtype_policy,
    )
    for variable, value in paired_variables(ours, theirs):
        value.assign(reshaped(variable, value.shape))
    theirs.pooled_dense.kernel.assign(np.eye(ours.hidden_dim))
    theirs.pooled_dense.bias.assign(np.zeros(ours.hidden_dim))
    return theirs


def paired_variables(ours, theirs):
    """`(our variable, keras-hub's variable)` for every weight of our backbone `ours`, in order."""
    their_modules = keras_hub_modules(theirs)
    for module, layer in backbone_modules(ours).items():
        yield from zip(layer.weights, their_modules[module].weights, strict=True)


def reshaped(variable, shape):
    """`variable`'s value as a NumPy array of `shape`: keras-hub's attention kernels are
    [H, heads, head_dim] and [heads, head_dim, H] where ours are [H, H]. A different size is left as it
    is, for `assign` to report."""
    array = ops.convert_to_numpy(variable)
    return array.reshape(shape) if array.size == np.prod(shape) else array


def keras_hub_modules(backbone):
    """{Hugging Face module name: keras-hub layer}, the names `backbone_modules` gives our layers."""
    modules = {
        "embeddings.word_embeddings": backbone.token_embedding,
        "embeddings.position_embeddings": backbone.position_embedding,
        "embeddings.token_type_embeddings": backbone.segment_embedding,
        "embeddings.LayerNorm": backbone.embeddings_layer_norm,
    }
    if backbone.hidden_dim != backbone.embedding_dim:
        modules["embeddings_project"] = backbone.embeddings_projection
    for index, block in enumerate(backbone.transformer_layers):
        attention, layer = block._self_attention_layer, f"encoder.layer.{index}."
        modules.update(
            {
                layer + "attention.self.query": attention.query_dense,
                layer + "attention.self.key": attention.key_dense,
                layer + "attention.self.value": attention.value_dense,
                layer + "attention.output.dense": attention.output_dense,
                layer + "attention.output.LayerNorm": block._self_attention_layer_norm,
                layer + "intermediate.dense": block._feedforward_intermediate_dense,
                layer + "output.dense": block._feedforward_output_dense,
                layer + "output.LayerNorm": block._feedforward_layer_norm,
            }
        )
    return modules
