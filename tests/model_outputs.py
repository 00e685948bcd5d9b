"""Outputs compared across save/load; imported by the cross-backend loader,
so it must not import conftest (which imports triton, unsafe after TensorFlow)."""

import numpy as np
from keras import ops

import keras_electra as ke


def eval_outputs(model, x):
    """Dropout-free outputs of a pretrainer's towers or of a backbone."""
    if isinstance(model, ke.ElectraPretrainer):
        positions = np.tile(np.arange(1, 4, dtype="int32"), (len(x["token_ids"]), 1))
        return {
            "discriminator": ops.convert_to_numpy(
                model.discriminator(x, training=False)["sequence_output"]
            ),
            "generator": ops.convert_to_numpy(
                model.generator({**x, "mask_positions": positions}, training=False)
            ),
            "rtd": ops.convert_to_numpy(
                model.discriminator_head(model.discriminator(x)["sequence_output"])
            ),
        }
    return {"discriminator": ops.convert_to_numpy(model(x, training=False)["sequence_output"])}
