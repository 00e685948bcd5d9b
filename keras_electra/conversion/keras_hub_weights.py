"""keras-hub's `ElectraBackbone` -> ours, mapped through the Hugging Face module names of `weight_map`.

The weights carry over exactly, the outputs not quite: keras-hub's encoder blocks use the tanh
approximation of GELU where ELECTRA (the authors' code, Hugging Face and ours) uses the exact erf
form, and its `pooled_output` (a tanh Dense on [CLS]) has no counterpart: ELECTRA has no pooler, our
`cls_output` is the [CLS] state itself, and `pooled_dense` is left out. keras-hub (and with it
TensorFlow) is imported only when a preset has to be loaded.
"""

import os

import numpy as np
from keras import ops

from keras_electra.conversion.weight_map import assign, backbone_modules
from keras_electra.models.electra_backbone import ElectraBackbone


def load_keras_hub(backbone):
    """Our `ElectraBackbone` with the weights of keras-hub's `backbone` (an `ElectraBackbone`, or a
    preset it loads from: a directory written by `save_to_preset`, or a preset name)."""
    if isinstance(backbone, (str, os.PathLike)):
        import keras_hub

        backbone = keras_hub.models.ElectraBackbone.from_preset(os.fspath(backbone))
    ours = ElectraBackbone(
        vocab_size=backbone.vocab_size,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim,
        intermediate_dim=backbone.intermediate_dim,
        embedding_dim=backbone.embedding_dim,
        max_sequence_length=backbone.max_sequence_length,
        num_segments=backbone.num_segments,
        dropout=backbone.dropout,
    )
    theirs = keras_hub_modules(backbone)
    assignments = []
    for module, layer in backbone_modules(ours).items():
        for variable, value in zip(layer.weights, theirs[module].weights, strict=True):
            # keras-hub's attention kernels are [H, heads, head_dim] and [heads, head_dim, H]; ours [H, H].
            array = ops.convert_to_numpy(value)
            if array.size == np.prod(variable.shape):
                array = array.reshape(variable.shape)
            assignments.append((f"keras-hub {value.path}", variable, array, False))
    assign(assignments)
    return ours


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
