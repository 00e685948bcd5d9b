import keras

# Variable names of LayerNorm parameters (gamma, beta) and of biases.
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraAdamW(keras.optimizers.AdamW):
    """AdamW that never decays LayerNorm parameters and biases.

    Keras' `exclude_from_weight_decay` is not part of an optimizer's config,
    so a plain AdamW would start decaying them after `load_model`; this class
    keeps the rule in its config.
    """

    def __init__(self, *args, no_decay_names=NO_DECAY_NAMES, **kwargs):
        super().__init__(*args, **kwargs)
        self.no_decay_names = tuple(no_decay_names)
        self.exclude_from_weight_decay(var_names=list(self.no_decay_names))

    def get_config(self):
        config = super().get_config()
        config["no_decay_names"] = list(self.no_decay_names)
        return config
