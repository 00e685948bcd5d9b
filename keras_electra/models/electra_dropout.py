"""Dropout; its fast paths (torch, JAX) are `keras_electra.fast_paths.dropout`."""

import keras

from keras_electra.fast_paths.dropout import select_dropout


def dropout(x, rate, seed):
    """`keras.random.dropout(x, rate, seed=seed)`, drawn faster on torch and JAX (`fast_paths.dropout`).

    Args:
        x: tensor. The values to drop.
        rate: float. The probability of dropping each element; 0 returns `x` itself.
        seed: a `keras.random.SeedGenerator` (the fast paths need one), an int or None.

    Example:

    ```python
    y = dropout(keras.ops.ones((4, 8)), 0.1, keras.random.SeedGenerator(0))
    ```
    """
    if rate <= 0.0:
        return x
    return select_dropout()(x, rate, seed)


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` through `dropout`, so through its fast paths (no `noise_shape`).

    Args:
        rate: float. The probability of dropping each element, in [0, 1].
        seed: int or None. The seed of the layer's SeedGenerator.
        **kwargs: the other arguments of `keras.layers.Layer` (`name`, `dtype`...);
            a `noise_shape` raises a ValueError.

    Example:

    ```python
    layer = keras_electra.ElectraDropout(0.1, seed=0)
    y = layer(keras.ops.ones((4, 8)), training=True)
    ```
    """

    def __init__(self, rate, seed=None, **kwargs):
        if kwargs.get("noise_shape") is not None:
            raise ValueError("ElectraDropout takes no noise_shape.")
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return dropout(inputs, self.rate, self.seed_generator)
        return inputs
