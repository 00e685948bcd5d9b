"""LayerNorm over the last axis; its fast path is `keras_electra.fast_paths.layer_norm`."""

import keras

from keras_electra.fast_paths.layer_norm import select_layer_norm


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraLayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` (same variables `gamma`, `beta`, config and files), cheaper on JAX.

    On JAX, with fast paths on, the default case (last axis, centred and
    scaled) has a closed-form backward (`fast_paths.layer_norm`); every other
    case, and every other backend, runs Keras' own layer. `.keras` files
    written with `keras.layers.LayerNormalization` load into it unchanged.

    Args:
        axis: int or list of ints. The axes to normalize over; -1 by default.
        epsilon: float. Added to the variance; 1e-3 by default (the models
            pass 1e-12, as BERT).
        **kwargs: the other arguments of `keras.layers.LayerNormalization`
            (`center`, `scale`, `rms_scaling`, initializers, `dtype`, `name`...).

    Example:

    ```python
    norm = keras_electra.ElectraLayerNorm(epsilon=1e-12)
    y = norm(np.random.normal(size=(2, 8, 256)).astype("float32"))
    ```
    """

    def call(self, inputs):
        return select_layer_norm(self, len(inputs.shape))(self, inputs)
