import math
import re

import keras
from keras import ops

from keras_electra.fast_paths import adamw as fast_adamw

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
            raise ValueError(
                f"{argument}: the pattern {pattern!r} is not a valid regex: {error}."
            ) from None
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


def check_accumulation_steps(steps, argument="gradient_accumulation_steps"):
    """`steps` for Keras' `gradient_accumulation_steps`: None (or 1) means no
    accumulation and gives None; otherwise an integer >= 2, or a ValueError
    naming `argument`."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"{argument} must be a positive integer (1: no accumulation); got {steps!r}."
        )
    return None if steps == 1 else steps


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
    per-variable learning-rate multipliers (layer-wise decay, docs/electra.md, "Fine-tuning").

    Keras' `exclude_from_weight_decay` is not part of an optimizer's config,
    so a plain AdamW would start decaying them after `load_model`; this class
    keeps the rule in its config.

    Args:
        *args: `keras.optimizers.AdamW`'s positional arguments (`learning_rate`...).
        epsilon: float. Added to Adam's denominator; 1e-6 (Keras' default is 1e-7).
        no_decay_names: tuple of str. Substrings of variable names that weight
            decay spares; `("gamma", "beta", "bias")` by default.
        learning_rate_multipliers: None or list. `[pattern, multiplier]` pairs (a
            dict `{pattern: multiplier}` is accepted too). A variable gets the
            multiplier of the first pattern that `re.search`es its
            `variable.path`, 1.0 when none does. The multiplier scales the
            variable's whole update, Adam step and decoupled weight decay
            alike, as the layer learning rate does in the authors'
            AdamWeightDecay. Multipliers are resolved once, when the
            optimizer is built. `layer_decay_multipliers` makes the rules of
            layer-wise learning-rate decay for a backbone.
        skip_non_finite: bool. Leave every variable as it was after a step whose
            gradients hold a NaN or an infinity, and count it in
            `skipped_steps` (a training loop's "skip the batch" answer to a
            diverging loss; without it such a step poisons the weights).
        **kwargs: the other arguments of `keras.optimizers.AdamW`
            (`weight_decay`, `global_clipnorm`, `gradient_accumulation_steps`...).

    Example:

    ```python
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=keras_electra.WarmupLinearDecay(5e-4, warmup_steps=10_000, total_steps=1_000_000),
        weight_decay=0.01,
        global_clipnorm=1.0,
    )
    ```

    On torch, with fast paths on, the update and global-norm clipping run as
    multi-tensor operations (`keras_electra.fast_paths.adamw`).

    With `gradient_accumulation_steps=k` (Keras' own accumulation: the
    gradients of k calls to `apply` are averaged, then clipped and applied
    once), a learning-rate schedule sees the number of optimizer updates made
    so far, `iterations` (0 for the first update, 1 for the second...), as it
    does without accumulation, so warmup and total steps count updates.
    Keras' default would feed it the count of micro-batches instead.

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
        skip_non_finite=False,
        **kwargs,
    ):
        # The authors' epsilon (Keras' default is 1e-7); betas 0.9 / 0.999 are Keras' defaults too.
        super().__init__(*args, epsilon=epsilon, **kwargs)
        self.no_decay_names = tuple(no_decay_names)
        self.exclude_from_weight_decay(var_names=list(self.no_decay_names))
        self.learning_rate_multipliers = tuple(
            tuple(rule) for rule in normalize_multiplier_rules(learning_rate_multipliers)
        )
        self.skip_non_finite = skip_non_finite
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
        self._variable_decays = tuple(
            bool(self.weight_decay) and self._use_weight_decay(v) for v in variables
        )
        if self.skip_non_finite:
            self.skipped_steps = self.add_variable(
                (), initializer="zeros", dtype="int64", name="skipped_steps"
            )

    def apply(self, grads, trainable_variables=None):
        # TensorFlow's sparse embedding gradients would take Keras' squares-before-sums update.
        grads = fast_adamw.dense_gradients(grads)
        if not self.skip_non_finite:
            return super().apply(grads, trainable_variables)
        # A step with a NaN or infinite gradient leaves every variable, its own included, as it was:
        # computed, then undone by a select (no branch: the same code is a pure function under JAX).
        if not self.built:
            self.build(trainable_variables)
        finite = ops.all(ops.stack([ops.all(ops.isfinite(g)) for g in grads if g is not None]))
        touched = list(trainable_variables or self._trainable_variables) + [
            v for v in self.variables if v is not self.skipped_steps
        ]
        before = [ops.copy(v.value) for v in touched]
        super().apply(grads, trainable_variables)
        for variable, old in zip(touched, before):
            variable.assign(ops.where(finite, variable.value, old))
        self.skipped_steps.assign_add(1 - ops.cast(finite, "int64"))

    def _get_current_learning_rate(self):
        # Keras calls a schedule with `_iterations`, which counts every call to
        # `apply` (micro-batches, under gradient accumulation); `iterations` is
        # that count // gradient_accumulation_steps: the updates made so far.
        # The update step of update u runs at `_iterations` = u * k + k - 1,
        # where `iterations` is u: the schedule is at u, as without accumulation.
        if self.gradient_accumulation_steps and isinstance(
            self._learning_rate, keras.optimizers.schedules.LearningRateSchedule
        ):
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

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

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Keras' multi-tensor torch AdamW skips subclasses: `fast_paths.adamw` has one for this class.
        return fast_adamw.select_update_step(self)(self, grads, trainable_variables, learning_rate)

    def _clip_gradients(self, grads):
        return fast_adamw.select_clip_gradients(self)(self, grads)

    def get_config(self):
        config = super().get_config()
        config["no_decay_names"] = list(self.no_decay_names)
        config["learning_rate_multipliers"] = [
            list(rule) for rule in self.learning_rate_multipliers
        ]
        config["skip_non_finite"] = self.skip_non_finite
        return config
