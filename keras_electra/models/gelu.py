"""Exact (erf) GELU, as BERT and ELECTRA use; its fast path is `keras_electra.fast_paths.gelu`."""

import keras

from keras_electra.fast_paths.gelu import select_gelu


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu(x):
    """`keras.activations.gelu(x)` (the exact form), bit for bit forward.

    On TensorFlow, with fast paths on, its backward keeps only `x` instead of
    three more tensors of the feed-forward width (`fast_paths.gelu`).

    Args:
        x: tensor. Any shape, a float dtype.

    Example:

    ```python
    layer = keras.layers.Dense(1024, activation=keras_electra.models.gelu.gelu)
    ```
    """
    return select_gelu()(x)
