import math
import re

import keras
from keras import ops

# Variable names of LayerNorm parameters (gamma, beta) and of biases.
NO_DECAY_NAMES = ("gamma", "beta", "bias")


def normalize_multiplier_rules(rules, argument="learning_rate_multipliers"):
    """`rules` as a list of `[pattern, float]` pairs, checked.

    Accepts None (no rules), a mapping `{pattern: multiplier}` (in its
    iteration order) or a sequence of `(pattern, multiplier)` pairs.
    """
    if rules is None:
        return []
    items = rules.items() if isinstance(rules, dict) else rules
    normalized = []
    for item in items:
        try:
            pattern, multiplier = item
        except (TypeError, ValueError):
            raise ValueError(
                f"{argument}: expected (pattern, multiplier) pairs; got {item!r}."
            ) from None
        if not isinstance(pattern, str):
            raise ValueError(f"{argument}: the pattern {pattern!r} is not a string.")
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"{argument}: the pattern {pattern!r} is not a valid regex: {error}.") from None
        if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)):
            raise ValueError(
                f"{argument}: the multiplier of {pattern!r} must be a number; got {multiplier!r}."
            )
        multiplier = float(multiplier)
        if not math.isfinite(multiplier) or multiplier < 0:
            raise ValueError(
                f"{argument}: the multiplier of {pattern!r} must be finite and >= 0; got {multiplier}."
            )
        normalized.append([pattern, multiplier])
    return normalized


def resolve_multiplier(rules, path):
    """The multiplier of the first rule whose pattern `re.search`es `path`;
    1.0 when none does."""
    for pattern, multiplier in rules:
        if re.search(pattern, path):
            return multiplier
    return 1.0


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraAdamW(keras.optimizers.AdamW):
    """AdamW (epsilon 1e-6, as the authors) that never decays LayerNorm parameters and biases, with optional
    per-variable learning-rate multipliers (layer-wise decay, reference §9).

    Keras' `exclude_from_weight_decay` is not part of an optimizer's config,
    so a plain AdamW would start decaying them after `load_model`; this class
    keeps the rule in its config.

    Args:
        no_decay_names: substrings of variable names that weight decay spares.
        learning_rate_multipliers: None, or `[pattern, multiplier]` pairs (a
            dict `{pattern: multiplier}` is accepted too). A variable gets the
            multiplier of the first pattern that `re.search`es its
            `variable.path`, 1.0 when none does. The multiplier scales the
            variable's whole update, Adam step and decoupled weight decay
            alike, as the layer learning rate does in the authors'
            AdamWeightDecay. Multipliers are resolved once, when the
            optimizer is built. `layer_decay_multipliers` makes the rules of
            layer-wise learning-rate decay for a backbone.

    Weight decay is applied in `update_step`, per variable, instead of in
    Keras' `_apply_weight_decay`: the value is the same (the Adam step of a
    variable does not read the variable), it takes the multiplier, and it
    stays inside the per-variable update that TensorFlow runs under
    `tf.distribute`.
    """

    def __init__(
        self,
        *args,
        epsilon=1e-6,
        no_decay_names=NO_DECAY_NAMES,
        learning_rate_multipliers=None,
        **kwargs,
    ):
        # The authors' epsilon (Keras' default is 1e-7); betas 0.9 / 0.999 are Keras' defaults too.
        super().__init__(*args, epsilon=epsilon, **kwargs)
        self.no_decay_names = tuple(no_decay_names)
        self.exclude_from_weight_decay(var_names=list(self.no_decay_names))
        self.learning_rate_multipliers = tuple(
            tuple(rule) for rule in normalize_multiplier_rules(learning_rate_multipliers)
        )
        # Per trainable-variable index, filled by `build`.
        self._variable_multipliers = ()
        self._variable_decays = ()

    def learning_rate_multiplier(self, variable):
        """The multiplier the rules give `variable` (a variable or a path)."""
        path = variable if isinstance(variable, str) else variable.path
        return resolve_multiplier(self.learning_rate_multipliers, path)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._variable_multipliers = tuple(self.learning_rate_multiplier(v) for v in variables)
        self._variable_decays = tuple(bool(self.weight_decay) and self._use_weight_decay(v) for v in variables)

    def apply(self, grads, trainable_variables=None):
        # On TensorFlow an embedding lookup's gradient is an IndexedSlices
        # with one slice per looked-up id, repeats included. Keras' Adam and
        # global-norm clipping then square the slices before adding repeats
        # up (a token seen twice with gradients 1 and 3 gets v from 1 + 9, not
        # 16), unlike JAX, torch and the authors' optimiser. Dense gradients
        # give every backend the same, correct update.
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return super().apply(grads, trainable_variables)

    def _apply_weight_decay(self, variables):
        # Applied, scaled by the multiplier, in `update_step`.
        return

    def update_step(self, gradient, variable, learning_rate):
        # On TensorFlow `variable` is the tf.Variable under the Keras one;
        # `_get_variable_index` accepts both, as Adam's own update_step relies on.
        index = self._get_variable_index(variable)
        multiplier = self._variable_multipliers[index]
        if multiplier != 1.0:
            learning_rate = ops.multiply(ops.cast(learning_rate, variable.dtype), multiplier)
        if self._variable_decays[index]:
            lr = ops.cast(learning_rate, variable.dtype)
            wd = ops.cast(self.weight_decay, variable.dtype)
            self.assign_sub(variable, ops.multiply(variable, ops.multiply(wd, lr)))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["no_decay_names"] = list(self.no_decay_names)
        config["learning_rate_multipliers"] = [list(rule) for rule in self.learning_rate_multipliers]
        return config
