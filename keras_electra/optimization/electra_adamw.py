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


def check_accumulation_steps(steps, argument="gradient_accumulation_steps"):
    """`steps` for Keras' `gradient_accumulation_steps`: None (or 1) means no
    accumulation and gives None; otherwise an integer >= 2, or a ValueError
    naming `argument`."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{argument} must be a positive integer (1: no accumulation); got {steps!r}.")
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
        skip_non_finite: leave every variable as it was after a step whose
            gradients hold a NaN or an infinity, and count it in
            `skipped_steps` (a training loop's "skip the batch" answer to a
            diverging loss; without it such a step poisons the weights).

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
        self._variable_decays = tuple(bool(self.weight_decay) and self._use_weight_decay(v) for v in variables)
        if self.skip_non_finite:
            self.skipped_steps = self.add_variable((), initializer="zeros", dtype="int64", name="skipped_steps")

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
        if keras.backend.backend() != "torch":
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        # Eager torch runs Keras' per-variable update as ~15 small ops for each of a pretrainer's
        # ~400 variables; Keras' own multi-tensor path is only taken by AdamW itself, not subclasses.
        groups = {}
        for grad, variable in zip(grads, trainable_variables):
            index = self._get_variable_index(variable)
            key = (self._variable_multipliers[index], self._variable_decays[index])
            groups.setdefault(key, []).append((grad, variable, index))
        for (multiplier, decays), members in groups.items():
            _torch_adamw_step(self, members, learning_rate * multiplier, decays)

    def _clip_gradients(self, grads):
        if keras.backend.backend() != "torch" or not self.global_clipnorm:
            return super()._clip_gradients(grads)
        return _torch_clip_by_global_norm(grads, self.global_clipnorm)

    def get_config(self):
        config = super().get_config()
        config["no_decay_names"] = list(self.no_decay_names)
        config["learning_rate_multipliers"] = [list(rule) for rule in self.learning_rate_multipliers]
        config["skip_non_finite"] = self.skip_non_finite
        return config


def _torch_adamw_step(optimizer, members, learning_rate, decays):
    """`update_step` for a group of variables sharing multiplier and decay, as multi-tensor torch ops."""
    import torch

    with torch.no_grad():
        grads = [grad for grad, _, _ in members]
        variables = [variable.value for _, variable, _ in members]
        moments = [optimizer._momentums[index].value for _, _, index in members]
        velocities = [optimizer._velocities[index].value for _, _, index in members]
        dtype = variables[0].dtype
        lr = torch.as_tensor(learning_rate, dtype=dtype)
        step = torch.as_tensor(optimizer.iterations + 1).to(dtype)  # updates, not micro-batches
        if decays:
            torch._foreach_mul_(variables, 1 - lr * optimizer.weight_decay)
        alpha = lr * torch.sqrt(1 - optimizer.beta_2**step) / (1 - optimizer.beta_1**step)
        # The same forms as Keras' Adam: m += (g - m)(1 - beta_1), v += (g^2 - v)(1 - beta_2).
        torch._foreach_lerp_(moments, grads, 1 - optimizer.beta_1)
        torch._foreach_lerp_(velocities, torch._foreach_mul(grads, grads), 1 - optimizer.beta_2)
        denominators = torch._foreach_add(torch._foreach_sqrt(velocities), optimizer.epsilon)
        torch._foreach_addcdiv_(variables, torch._foreach_mul(moments, -alpha), denominators)


def _torch_clip_by_global_norm(grads, clip_norm):
    """Keras' `clip_by_global_norm` (a non-finite norm makes every gradient NaN) in multi-tensor ops."""
    import torch

    with torch.no_grad():
        present = [grad for grad in grads if grad is not None]
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(present)))
        scale = clip_norm * torch.minimum(1.0 / norm, torch.tensor(1.0 / clip_norm)) + (norm - norm)
        scaled = iter(torch._foreach_mul(present, scale))
        return [None if grad is None else next(scaled) for grad in grads]
