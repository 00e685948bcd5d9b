import keras

from keras_electra.models.electra_attention import ElectraAttention
from keras_electra.models.electra_dropout import ElectraDropout
from keras_electra.models.electra_layer_norm import ElectraLayerNorm
from keras_electra.models.gelu import gelu
from keras_electra.models.seeds import sub_seed, truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraEncoderLayer(keras.layers.Layer):
    """A BERT post-LayerNorm transformer block with exact (erf) GELU.

    Args:
        hidden_dim: int. Width H.
        num_heads: int. Attention heads.
        intermediate_dim: int. Width of the feed-forward block (4H in the reference).
        dropout: float. On hidden states and attention probabilities; 0.1.
        layer_norm_epsilon: float. 1e-12.
        attention_implementation: str. "auto", "triton" or "standard" (see `attention`).
        seed: int or None. Seeds the initializers and the dropout.

    Example:

    ```python
    layer = keras_electra.ElectraEncoderLayer(hidden_dim=16, num_heads=2, intermediate_dim=32)
    y = layer(np.ones((2, 5, 16), "float32"), padding_mask=np.ones((2, 5)))  # (2, 5, 16)
    ```
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        attention_implementation="auto",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.attention_implementation = attention_implementation
        self.seed = seed
        policy = self.dtype_policy
        self.attention = ElectraAttention(
            hidden_dim,
            num_heads,
            dropout=dropout,
            implementation=attention_implementation,
            seed=sub_seed(seed, "attention"),
            dtype=policy,
            name="attention",
        )
        self.attention_dropout = ElectraDropout(
            dropout, seed=sub_seed(seed, "attention_output_dropout"), dtype=policy
        )
        self.attention_layer_norm = ElectraLayerNorm(
            epsilon=layer_norm_epsilon, dtype=policy, name="attention_layer_norm"
        )
        self.intermediate_dense = keras.layers.Dense(
            intermediate_dim,
            activation=gelu,
            kernel_initializer=truncated_normal(seed, "intermediate"),
            dtype=policy,
            name="intermediate_dense",
        )
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=truncated_normal(seed, "output"),
            dtype=policy,
            name="output_dense",
        )
        self.output_dropout = ElectraDropout(
            dropout, seed=sub_seed(seed, "output_dropout"), dtype=policy
        )
        self.output_layer_norm = ElectraLayerNorm(
            epsilon=layer_norm_epsilon, dtype=policy, name="output_layer_norm"
        )

    def build(self, input_shape):
        self.attention.build(input_shape)
        self.attention_layer_norm.build(input_shape)
        self.intermediate_dense.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, x, padding_mask=None, training=False):
        attended = self.attention(x, padding_mask=padding_mask, training=training)
        x = self.attention_layer_norm(x + self.attention_dropout(attended, training=training))
        h = self.output_dense(self.intermediate_dense(x))
        return self.output_layer_norm(x + self.output_dropout(h, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "attention_implementation": self.attention_implementation,
                "seed": self.seed,
            }
        )
        return config
