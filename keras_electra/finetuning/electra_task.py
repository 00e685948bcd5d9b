import keras
import numpy as np

from keras_electra.models.backend_neutral_compile import BackendNeutralCompile
from keras_electra.models.seeds import SavesSeedStates
from keras_electra.optimization.electra_adamw import ElectraAdamW


class ElectraTask(SavesSeedStates, BackendNeutralCompile, keras.Model):
    """A backbone, a head and an optional preprocessor (keras-hub's Task).

    With a preprocessor, `fit`, `evaluate` and `predict` take raw text (and
    raw labels) and preprocess them before Keras sees them; model-ready
    dicts, datasets and `PyDataset`s pass through untouched. Subclasses build
    their functional graph and call `super().__init__(inputs=, outputs=)`.
    """

    def _attach(self, backbone, preprocessor):
        # A functional model ignores `dtype=` and would take the global policy: the task
        # computes in its backbone's, and `compile` wraps the optimizer in a
        # LossScaleOptimizer when that is "mixed_float16".
        self.dtype_policy = backbone.dtype_policy
        # Assigned after the functional graph exists: torch refuses modules before init.
        self.backbone = backbone
        self.preprocessor = preprocessor

    def preprocess(self, x, y=None, sample_weight=None):
        """Model inputs (and targets) for raw `x`; anything else is returned as is."""
        if self.preprocessor is None or not _is_raw(x):
            return x, y, sample_weight
        return keras.utils.unpack_x_y_sample_weight(self.preprocessor(x, y, sample_weight))

    def fit(self, x=None, y=None, *args, sample_weight=None, validation_data=None, **kwargs):
        x, y, sample_weight = self.preprocess(x, y, sample_weight)
        if isinstance(validation_data, tuple):
            validation_data = self.preprocess(*validation_data)
        return super().fit(
            x, y, *args, sample_weight=sample_weight, validation_data=validation_data, **kwargs
        )

    def evaluate(self, x=None, y=None, *args, sample_weight=None, **kwargs):
        x, y, sample_weight = self.preprocess(x, y, sample_weight)
        return super().evaluate(x, y, *args, sample_weight=sample_weight, **kwargs)

    def predict(self, x, *args, **kwargs):
        x, _, _ = self.preprocess(x)
        return super().predict(x, *args, **kwargs)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile="auto", **kwargs):
        """ "auto" picks the task's loss and metrics, and a constant-rate AdamW
        (3e-4, epsilon 1e-6, global norm clipped to 1); `finetuning_optimizer`
        gives the reference's schedule and layer-wise decay."""
        if optimizer == "auto":
            optimizer = ElectraAdamW(3e-4, weight_decay=0.0, global_clipnorm=1.0)
        if loss == "auto":
            loss = self.default_loss()
        if metrics == "auto":
            metrics = self.default_metrics()
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile, **kwargs
        )

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """The task around the backbone of a keras-hub preset (see `ElectraBackbone.from_preset`), as
        keras-hub's `Task.from_preset`: `kwargs` are the task's arguments (`num_classes`, ...), but
        `dtype`, which goes to the backbone. Unless `preprocessor` is given, the preset's tokenizer (when
        it has one) is wrapped in the task's preprocessor with its default arguments, its length cut to
        the backbone's positions."""
        from keras_electra.conversion.keras_hub_presets import task_from_preset

        return task_from_preset(cls, preset, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compile on load for models that override `compile`.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("backbone", "preprocessor"):
            if isinstance(config.get(name), dict):
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def _is_raw(x):
    """Text, a list of texts or words, or a tuple of such lists (pairs)."""
    if isinstance(x, str):
        return True
    if isinstance(x, tuple):
        return len(x) > 0 and all(_is_raw(part) for part in x)
    if isinstance(x, (list, np.ndarray)) and len(x) > 0:
        first = x[0]
        return isinstance(first, (str, np.str_)) or (
            isinstance(first, (list, tuple)) and _is_raw(list(first))
        )
    return False
