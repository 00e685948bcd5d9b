import keras
from keras import ops

from keras_electra.models.electra_dropout import ElectraDropout
from keras_electra.models.electra_layer_norm import ElectraLayerNorm
from keras_electra.models.seeds import sub_seed, truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraEmbedding(keras.layers.Layer):
    """Word + position + segment embeddings, then LayerNorm and dropout.

    This is the part the generator and the discriminator share (docs/electra.md, "Weight sharing"):
    the pretrainer passes one instance to both backbones. The projection to
    the hidden size is not part of it, since each tower has its own.

    Args:
        vocab_size: int. Rows of the word table.
        embedding_dim: int. Width E of the embeddings.
        max_sequence_length: int. Rows of the position table; 512.
        num_segments: int. Rows of the segment table; 2.
        dropout: float. After the LayerNorm; 0.1.
        layer_norm_epsilon: float. 1e-12.
        seed: int or None. Seeds the initializers and the dropout.

    Example:

    ```python
    embedding = keras_electra.ElectraEmbedding(vocab_size=100, embedding_dim=8)
    x = embedding(np.array([[2, 7, 3]]), np.zeros((1, 3), "int32"))  # (1, 3, 8)
    ```
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.seed = seed

        def table(rows, name):
            return keras.layers.Embedding(
                rows,
                embedding_dim,
                embeddings_initializer=truncated_normal(seed, name),
                dtype=self.dtype_policy,
                name=name,
            )

        self.token_embedding = table(vocab_size, "token_embedding")
        self.position_embedding = table(max_sequence_length, "position_embedding")
        self.segment_embedding = table(num_segments, "segment_embedding")
        self.layer_norm = ElectraLayerNorm(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout_layer = ElectraDropout(
            dropout, seed=sub_seed(seed, "embedding_dropout"), dtype=self.dtype_policy
        )

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.position_embedding.build((None,))
        self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build(tuple(token_ids_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, token_ids, segment_ids, training=False):
        positions = ops.arange(ops.shape(token_ids)[1], dtype="int32")
        x = (
            self.token_embedding(token_ids)
            + self.position_embedding(positions)[None, :, :]
            + self.segment_embedding(segment_ids)
        )
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "seed": self.seed,
            }
        )
        return config
