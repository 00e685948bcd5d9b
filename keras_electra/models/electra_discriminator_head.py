import keras
from keras import ops

from keras_electra.models.gelu import gelu
from keras_electra.models.seeds import truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraDiscriminatorHead(keras.layers.Layer):
    """The replaced-token-detection head: Dense(H, gelu) -> Dense(1) per token.

    Returns one logit per position, `[B, N]`; positive means "replaced".

    Args:
        hidden_dim: int. Width H of the discriminator's hidden states.
        output_bias: float. The logit's initial bias; 0, as the paper's.
        seed: int or None. Seeds the initializers.

    Example:

    ```python
    head = keras_electra.ElectraDiscriminatorHead(16)
    logits = head(np.ones((2, 5, 16), "float32"))  # (2, 5)
    ```
    """

    def __init__(self, hidden_dim, output_bias=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.output_bias = output_bias
        self.seed = seed
        self.dense = keras.layers.Dense(
            hidden_dim,
            activation=gelu,
            kernel_initializer=truncated_normal(seed, "dense"),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense_prediction = keras.layers.Dense(
            1,
            kernel_initializer=truncated_normal(seed, "dense_prediction"),
            bias_initializer=keras.initializers.Constant(output_bias),
            dtype=self.dtype_policy,
            name="dense_prediction",
        )

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.dense_prediction.build(tuple(input_shape[:-1]) + (self.hidden_dim,))
        self.built = True

    def call(self, sequence_output):
        return ops.squeeze(self.dense_prediction(self.dense(sequence_output)), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "output_bias": self.output_bias, "seed": self.seed}
        )
        return config
