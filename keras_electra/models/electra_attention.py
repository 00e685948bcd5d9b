import keras
from keras import ops

from keras_electra.models.attention import attention
from keras_electra.models.seeds import sub_seed, truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraAttention(keras.layers.Layer):
    """BERT self-attention: query/key/value projections, `attention`, output.

    Separate query, key and value kernels (not one fused QKV) keep the weights
    one-to-one with the Hugging Face and TF1 checkpoints.

    Args:
        hidden_dim: int. Width H of the inputs and outputs.
        num_heads: int. Heads; H must be divisible by it.
        dropout: float. On the attention probabilities; 0.1.
        implementation: str. "auto", "triton" or "standard" (see `attention`).
        seed: int or None. Seeds the initializers and the dropout.

    Example:

    ```python
    layer = keras_electra.ElectraAttention(hidden_dim=16, num_heads=2)
    y = layer(np.ones((2, 5, 16), "float32"), padding_mask=np.ones((2, 5)))  # (2, 5, 16)
    ```
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        dropout=0.1,
        implementation="auto",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}.")
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.dropout = dropout
        self.implementation = implementation
        self.seed = seed

        def dense(name):
            return keras.layers.Dense(
                hidden_dim,
                kernel_initializer=truncated_normal(seed, name),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query_dense = dense("query")
        self.key_dense = dense("key")
        self.value_dense = dense("value")
        self.output_dense = dense("output")
        self.seed_generator = keras.random.SeedGenerator(sub_seed(seed, "attention_dropout"))

    def build(self, input_shape):
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.hidden_dim,))
        self.built = True

    def call(self, x, padding_mask=None, training=False):
        batch_size, length = ops.shape(x)[0], ops.shape(x)[1]

        def heads(t):
            return ops.reshape(t, (batch_size, length, self.num_heads, self.head_dim))

        context = attention(
            heads(self.query_dense(x)),
            heads(self.key_dense(x)),
            heads(self.value_dense(x)),
            padding_mask=padding_mask,
            dropout_rate=self.dropout if training else 0.0,
            seed=self.seed_generator,
            implementation=self.implementation,
        )
        return self.output_dense(ops.reshape(context, (batch_size, length, self.hidden_dim)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "implementation": self.implementation,
                "seed": self.seed,
            }
        )
        return config
