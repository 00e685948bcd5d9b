import keras
from keras import ops

from keras_electra.models.electra_layer_norm import ElectraLayerNorm
from keras_electra.models.gelu import gelu
from keras_electra.models.seeds import truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraMaskedLMHead(keras.layers.Layer):
    """The generator's MLM head (docs/electra.md, "Heads").

    Gathers the masked positions first, since projecting every position onto
    the vocabulary is most of the generator's cost; then Dense(E, gelu) ->
    LayerNorm -> logits against the shared word-embedding table + a bias.

    Args:
        token_embedding: the `keras.layers.Embedding` whose table the output
            is tied to. Not part of the config: the owning model passes it.

    Example:

    ```python
    table = keras.layers.Embedding(100, 8)
    table.build((None,))
    head = keras_electra.ElectraMaskedLMHead(table)
    logits = head(np.ones((2, 5, 16), "float32"), np.array([[1, 3], [0, 4]]))  # (2, 2, 100)
    ```
    """

    def __init__(self, token_embedding, layer_norm_epsilon=1e-12, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.layer_norm_epsilon = layer_norm_epsilon
        self.seed = seed
        vocab_size, embedding_dim = token_embedding.input_dim, token_embedding.output_dim
        self.dense = keras.layers.Dense(
            embedding_dim,
            activation=gelu,
            kernel_initializer=truncated_normal(seed, "dense"),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.layer_norm = ElectraLayerNorm(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.vocab_size = vocab_size

    def build(self, sequence_output_shape, mask_positions_shape=None):
        self.dense.build(sequence_output_shape)
        self.layer_norm.build(tuple(sequence_output_shape[:-1]) + (self.dense.units,))
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.built = True

    def call(self, sequence_output, mask_positions):
        x = ops.take_along_axis(sequence_output, mask_positions[:, :, None], axis=1)
        x = self.layer_norm(self.dense(x))
        table = ops.cast(self.token_embedding.embeddings, self.compute_dtype)
        return ops.matmul(x, ops.transpose(table)) + self.bias

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return tuple(mask_positions_shape) + (self.vocab_size,)

    def get_config(self):
        config = super().get_config()
        config.update({"layer_norm_epsilon": self.layer_norm_epsilon, "seed": self.seed})
        return config
