import keras

from keras_electra.models.electra_embedding import ElectraEmbedding
from keras_electra.models.electra_encoder_layer import ElectraEncoderLayer
from keras_electra.models.seeds import sub_seed, truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraBackbone(keras.Model):
    """The ELECTRA encoder: embeddings, optional E->H projection, encoder.

    A functional model over keras-hub's input names (`token_ids`,
    `segment_ids`, `padding_mask`). It returns `sequence_output` `[B, N, H]`
    and `cls_output` `[B, H]`, the hidden state of token 0: ELECTRA has no
    pooler (reference §1).

    Args:
        embedding: an `ElectraEmbedding` to use instead of creating one. This
            is how the pretrainer makes the generator share the
            discriminator's tables; it is not part of the config, since the
            owner of the shared layer re-creates the sharing when loaded.
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
        seed=None,
        embedding=None,
        dtype=None,
        **kwargs,
    ):
        embedding_dim = embedding_dim or hidden_dim
        if embedding is None:
            embedding = ElectraEmbedding(
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
        elif (embedding.vocab_size, embedding.embedding_dim) != (vocab_size, embedding_dim):
            raise ValueError(
                f"The shared embedding has vocab_size={embedding.vocab_size}, "
                f"embedding_dim={embedding.embedding_dim}; this backbone needs "
                f"vocab_size={vocab_size}, embedding_dim={embedding_dim}."
            )
        embeddings_project = None
        if embedding_dim != hidden_dim:
            embeddings_project = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=truncated_normal(seed, "embeddings_project"),
                dtype=dtype,
                name="embeddings_project",
            )
        encoder_layers = [
            ElectraEncoderLayer(
                hidden_dim,
                num_heads,
                intermediate_dim,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                attention_implementation=attention_implementation,
                seed=sub_seed(seed, f"encoder_layer_{i}"),
                dtype=dtype,
                name=f"encoder_layer_{i}",
            )
            for i in range(num_layers)
        ]

        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        x = embedding(inputs["token_ids"], inputs["segment_ids"])
        if embeddings_project is not None:
            x = embeddings_project(x)
        for layer in encoder_layers:
            x = layer(x, padding_mask=inputs["padding_mask"])
        super().__init__(
            inputs=inputs,
            outputs={"sequence_output": x, "cls_output": x[:, 0, :]},
            **kwargs,
        )
        # A functional model ignores `dtype=` (Keras 3.15 drops it), so the
        # backbone's own policy would be the global one at construction; set
        # it, so that get_config saves the policy the layers compute in.
        self.dtype_policy = dtype
        # Layers are assigned after the functional graph exists: the torch
        # backend refuses module attributes before Module.__init__.
        self.embedding = embedding
        self.embeddings_project = embeddings_project
        self.encoder_layers = encoder_layers
        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.embedding_dim = embedding_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.attention_implementation = attention_implementation
        self.seed = seed

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "vocab_size": self.vocab_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "embedding_dim": self.embedding_dim,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "attention_implementation": self.attention_implementation,
            "seed": self.seed,
        }
