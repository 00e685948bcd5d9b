import keras
from keras import ops

from keras_electra.models.seeds import truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraLocalMixing(keras.layers.Layer):
    """A residual depthwise convolution over a short window of neighbouring tokens: our option, not
    the paper's (docs/electra.md, "Local mixing").

    `x + bias + sum_k kernel[k] * x[i + k - window // 2]`, each channel on its own, padding positions
    counted as zeros. A small ELECTRA discriminator on a CPU budget collapses to predicting the base
    rate before its attention learns to look at neighbours; this gives every token its neighbours from
    the first step (the idea of ConvBERT's span convolutions, in miniature).

    Args:
        window: int. Odd number of tokens mixed, centred on each; 3 mixes each token with one a side.
        seed: int or None. Seeds the kernel's initializer (truncated normal, std 0.02); the bias starts at 0.

    Example:

    ```python
    mixing = keras_electra.ElectraLocalMixing(window=3)
    y = mixing(np.ones((2, 5, 8), "float32"), np.ones((2, 5), "int32"))  # (2, 5, 8)
    ```
    """

    def __init__(self, window=3, seed=None, **kwargs):
        super().__init__(**kwargs)
        if window < 1 or window % 2 == 0:
            raise ValueError(f"ElectraLocalMixing: window={window} must be an odd number >= 1")
        self.window = window
        self.seed = seed

    def build(self, x_shape, padding_mask_shape=None):
        width = x_shape[-1]
        self.kernel = self.add_weight(
            shape=(self.window, width),
            initializer=truncated_normal(self.seed, "kernel"),
            name="kernel",
        )
        self.bias = self.add_weight(shape=(width,), initializer="zeros", name="bias")
        self.built = True

    def call(self, x, padding_mask):
        masked = x * ops.cast(padding_mask, x.dtype)[..., None]
        half = self.window // 2
        padded = ops.pad(masked, ((0, 0), (half, half), (0, 0)))
        length = ops.shape(x)[1]
        kernel = ops.cast(self.kernel, x.dtype)
        mixed = sum(padded[:, k : k + length, :] * kernel[k] for k in range(self.window))
        return x + mixed + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, x_shape, padding_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update({"window": self.window, "seed": self.seed})
        return config
