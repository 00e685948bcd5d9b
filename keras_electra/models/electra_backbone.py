import keras

from keras_electra.models.electra_embedding import ElectraEmbedding
from keras_electra.models.electra_encoder_layer import ElectraEncoderLayer
from keras_electra.models.electra_local_mixing import ElectraLocalMixing
from keras_electra.models.seeds import sub_seed, truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraBackbone(keras.Model):
    """The ELECTRA encoder: embeddings, optional E->H projection, encoder.

    A functional model over keras-hub's input names (`token_ids`,
    `segment_ids`, `padding_mask`). It returns `sequence_output` `[B, N, H]`
    and `cls_output` `[B, H]`, the hidden state of token 0: ELECTRA has no
    pooler (docs/electra.md, "Models and sizes").

    Args:
        vocab_size: int. Rows of the word-embedding table.
        num_layers: int. Transformer encoder layers.
        num_heads: int. Attention heads a layer (the reference: `max(1, hidden_dim // 64)`).
        hidden_dim: int. Width H of the encoder.
        intermediate_dim: int. Width of the feed-forward block (the reference: 4H).
        embedding_dim: int or None. Width E of the embeddings; None means H. When E != H a
            Dense `embeddings_project` maps E to H.
        max_sequence_length: int. Rows of the position table; 512.
        num_segments: int. Rows of the segment table; 2.
        dropout: float. On hidden states and attention probabilities; 0.1.
        layer_norm_epsilon: float. 1e-12, as BERT.
        attention_implementation: str. "auto", "triton" or "standard" (see `attention`).
        local_mixing_window: int. 0 (the paper's encoder, and the default) or an odd window: an
            `ElectraLocalMixing` over the embedding output mixes each token with its neighbours
            before the encoder (docs/electra.md, "Local mixing"). Hugging Face has no such layer.
        seed: int or None. Seeds every initializer and dropout, each through its own sub-seed.
        embedding: an `ElectraEmbedding` to use instead of creating one. This
            is how the pretrainer makes the generator share the
            discriminator's tables; it is not part of the config, since the
            owner of the shared layer re-creates the sharing when loaded.
        dtype: a dtype policy name (e.g. "mixed_bfloat16") or None for the global one.

    Example:

    ```python
    backbone = keras_electra.ElectraBackbone(
        vocab_size=100, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, embedding_dim=8
    )
    ids = np.array([[101, 7, 8, 102, 0]])
    outputs = backbone({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0})
    outputs["sequence_output"].shape  # (1, 5, 16)
    ```
    """

    def __init__(
        self,
        vocab_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        embedding_dim=None,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        attention_implementation="auto",
        local_mixing_window=0,
        seed=None,
        embedding=None,
        dtype=None,
        **kwargs,
    ):
        arguments = locals()
        embedding_dim = embedding_dim or hidden_dim
        embedding = _checked_embedding(
            embedding,
            vocab_size,
            embedding_dim,
            max_sequence_length,
            num_segments,
            dropout,
            layer_norm_epsilon,
            seed,
            dtype,
        )
        local_mixing = _local_mixing(local_mixing_window, seed, dtype)
        embeddings_project = _embeddings_projection(embedding_dim, hidden_dim, seed, dtype)
        encoder_layers = _encoder_layers(
            num_layers,
            seed,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            attention_implementation=attention_implementation,
            dtype=dtype,
        )
        inputs, outputs = _graph(embedding, local_mixing, embeddings_project, encoder_layers)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # A functional model ignores `dtype=` (Keras 3.15 drops it), so the backbone's own policy would be
        # the global one at construction; set it, so that get_config saves the policy the layers compute in.
        self.dtype_policy = dtype
        # Layers are assigned after the graph exists: the torch backend refuses modules before Module.__init__.
        self.embedding = embedding
        self.local_mixing = local_mixing
        self.embeddings_project = embeddings_project
        self.encoder_layers = encoder_layers
        # Each saved argument is the attribute of its name, which get_config reads.
        for name in _CONFIG:
            setattr(self, name, arguments[name])
        self.embedding_dim = embedding_dim  # None resolved to H

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            **{name: getattr(self, name) for name in _CONFIG},
        }

    def save_to_preset(self, preset_dir):
        """Writes this backbone as a keras-hub preset, which `keras_hub.models.ElectraBackbone.from_preset`
        loads (docs/conversion.md, "keras-hub presets"). Needs keras-hub; local mixing is refused."""
        from keras_electra.conversion.keras_hub_presets import save_backbone_preset

        save_backbone_preset(self, preset_dir)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """The backbone of a keras-hub `ElectraBackbone` preset: a directory (`save_to_preset` writes
        one), a kaggle:// or hf:// handle, or a keras-hub preset name. `kwargs` are arguments the preset
        does not fix: `dtype`, `attention_implementation`, `dropout`, `seed`, `name`."""
        from keras_electra.conversion.keras_hub_presets import load_backbone_preset

        return load_backbone_preset(preset, **kwargs)


# The constructor's arguments that get_config saves (`embedding` is the owner's to share again).
_CONFIG = (
    "vocab_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "embedding_dim",
    "max_sequence_length",
    "num_segments",
    "dropout",
    "layer_norm_epsilon",
    "attention_implementation",
    "local_mixing_window",
    "seed",
)


def _checked_embedding(
    embedding,
    vocab_size,
    embedding_dim,
    max_sequence_length,
    num_segments,
    dropout,
    layer_norm_epsilon,
    seed,
    dtype,
):
    """A new `ElectraEmbedding`, or the shared `embedding` once its table is known to fit."""
    if embedding is None:
        return ElectraEmbedding(
            vocab_size,
            embedding_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            seed=sub_seed(seed, "embedding"),
            dtype=dtype,
            name="embedding",
        )
    if (embedding.vocab_size, embedding.embedding_dim) != (vocab_size, embedding_dim):
        raise ValueError(
            f"The shared embedding has vocab_size={embedding.vocab_size}, "
            f"embedding_dim={embedding.embedding_dim}; this backbone needs "
            f"vocab_size={vocab_size}, embedding_dim={embedding_dim}."
        )
    return embedding


def _encoder_layers(num_layers, seed, **layer_arguments):
    """`num_layers` `ElectraEncoderLayer`s of `layer_arguments`, each with its own name and sub-seed."""
    return [
        ElectraEncoderLayer(
            **layer_arguments, seed=sub_seed(seed, f"encoder_layer_{i}"), name=f"encoder_layer_{i}"
        )
        for i in range(num_layers)
    ]


def _local_mixing(window, seed, dtype):
    """The `ElectraLocalMixing` of `local_mixing_window`, or None at 0 (docs/electra.md, "Local mixing");
    the layer checks the window, and its error is given the argument's name."""
    if not window:
        return None
    try:
        return ElectraLocalMixing(
            window, seed=sub_seed(seed, "local_mixing"), dtype=dtype, name="local_mixing"
        )
    except ValueError as error:
        raise ValueError(
            f"ElectraBackbone: local_mixing_window={window} (0 for the paper's encoder): {error}"
        ) from error


def _embeddings_projection(embedding_dim, hidden_dim, seed, dtype):
    """The Dense E -> H, or None when E == H (docs/electra.md, "Models and sizes")."""
    if embedding_dim == hidden_dim:
        return None
    return keras.layers.Dense(
        hidden_dim,
        kernel_initializer=truncated_normal(seed, "embeddings_project"),
        dtype=dtype,
        name="embeddings_project",
    )


def _graph(embedding, local_mixing, embeddings_project, encoder_layers):
    """The functional graph's inputs and outputs."""
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    x = embedding(inputs["token_ids"], inputs["segment_ids"])
    if local_mixing is not None:
        x = local_mixing(x, inputs["padding_mask"])
    if embeddings_project is not None:
        x = embeddings_project(x)
    for layer in encoder_layers:
        x = layer(x, padding_mask=inputs["padding_mask"])
    return inputs, {"sequence_output": x, "cls_output": x[:, 0, :]}
