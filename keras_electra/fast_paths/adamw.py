"""`ElectraAdamW`'s update and clipping: Keras' own hooks, and multi-tensor versions on torch.

Measured (`benchmarks/results/pretrain_step_cpu.md`, "Each optimisation,
before and after"): eager torch runs Keras' per-variable update as about 15
small operations for each of a pretrainer's ~400 variables, and the same for
global-norm clipping. Keras' own multi-tensor AdamW is taken by
`keras.optimizers.AdamW` itself only, never by a subclass. `torch_update_step`
and `torch_clip_gradients` do the same work in `torch._foreach_*` operations,
in Keras' formulas: -83 ms an ELECTRA-Small pretraining step (1,922 against
2,005 ms); they match the per-variable path to 6e-8 after 3 steps.

`dense_gradients` is a correctness rule, not a speed-up: the switch leaves it on.
"""

import keras

from keras_electra.fast_paths import enabled_on


def dense_gradients(grads):
    """`grads` with TensorFlow's IndexedSlices made dense.

    An embedding lookup's gradient on TensorFlow is an IndexedSlices with one
    slice per looked-up id, repeats included; Keras' Adam and global-norm
    clipping square the slices before adding repeats up (a token seen twice
    with gradients 1 and 3 gets v from 1 + 9, not 16), unlike JAX, torch and
    the authors' optimiser. Dense gradients give every backend the same update.
    """
    if keras.backend.backend() != "tensorflow":
        return grads
    import tensorflow as tf

    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]


def plain_update_step(optimizer, grads, variables, learning_rate):
    """Keras' `_backend_update_step`: the optimizer's `update_step`, variable by variable, in `keras.ops`."""
    return keras.optimizers.AdamW._backend_update_step(optimizer, grads, variables, learning_rate)


def torch_update_step(optimizer, grads, variables, learning_rate):
    """`plain_update_step` in multi-tensor torch ops, a group per learning-rate multiplier and decay."""
    groups = {}
    for grad, variable in zip(grads, variables):
        index = optimizer._get_variable_index(variable)
        key = (optimizer._variable_multipliers[index], optimizer._variable_decays[index])
        groups.setdefault(key, []).append((grad, variable, index))
    for (multiplier, decays), members in groups.items():
        _torch_adamw_group_step(optimizer, members, learning_rate * multiplier, decays)


def select_update_step():
    """The update to run: `torch_update_step` on torch with fast paths on, else `plain_update_step`."""
    return torch_update_step if enabled_on("torch") else plain_update_step


def plain_clip_gradients(optimizer, grads):
    """Keras' `_clip_gradients` (clipnorm, global_clipnorm or clipvalue, whichever is set)."""
    return keras.optimizers.AdamW._clip_gradients(optimizer, grads)


def torch_clip_gradients(optimizer, grads):
    """Keras' `clip_by_global_norm` (a non-finite norm makes every gradient NaN) in multi-tensor ops."""
    import torch

    with torch.no_grad():
        present = [grad for grad in grads if grad is not None]
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(present)))
        clip_norm = optimizer.global_clipnorm
        scale = clip_norm * torch.minimum(1.0 / norm, torch.tensor(1.0 / clip_norm)) + (norm - norm)
        scaled = iter(torch._foreach_mul(present, scale))
        return [None if grad is None else next(scaled) for grad in grads]


def select_clip_gradients(optimizer):
    """The clipping to run: `torch_clip_gradients` on torch with fast paths on and a `global_clipnorm`,
    else `plain_clip_gradients`."""
    if enabled_on("torch") and optimizer.global_clipnorm:
        return torch_clip_gradients
    return plain_clip_gradients


def _torch_adamw_group_step(optimizer, members, learning_rate, decays):
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
