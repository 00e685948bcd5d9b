"""`ElectraAdamW`'s update and clipping: Keras' own hooks, multi-tensor versions on torch, a fused
kernel on TensorFlow.

Measured (`benchmarks/results/pretrain_step_cpu.md`, "Each optimisation,
before and after"): eager torch runs Keras' per-variable update as about 15
small operations for each of a pretrainer's ~400 variables, and the same for
global-norm clipping. Keras' own multi-tensor AdamW is taken by
`keras.optimizers.AdamW` itself only, never by a subclass. `torch_update_step`
and `torch_clip_gradients` do the same work in `torch._foreach_*` operations,
in Keras' formulas: -83 ms an ELECTRA-Small pretraining step (1,922 against
2,005 ms); they match the per-variable path to 6e-8 after 3 steps.

TensorFlow runs the same ~25 operations a variable in its graph; `tensorflow_update_step` gives
each variable one fused `ResourceApplyAdam` (Keras' forms, after the decay): an ELECTRA-Small
pretrainer's update (402 variables, in a `tf.function`) 44-47 against 25-31 ms, its first
step (the graph's tracing) 25-28 against 15-16 s, and the step itself 1,424-1,442 against
1,432-1,729 ms in bfloat16 (three pairs, this machine's noise between them). The kernel takes
1 - beta_2 in float32: 1.3e-5 off 0.001, as TensorFlow's own Adam always has.

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


def tensorflow_update_step(optimizer, grads, variables, learning_rate):
    """`plain_update_step` with TensorFlow's fused Adam kernel: one `ResourceApplyAdam` a variable (Keras'
    own forms, `m += (g - m)(1 - beta_1)`...) after its decay, the scalars built once a dtype and
    learning-rate multiplier."""
    import tensorflow as tf

    step = tf.cast(optimizer.iterations + 1, "float32")  # updates, not micro-batches
    shared = {"beta1": optimizer.beta_1, "beta2": optimizer.beta_2, "epsilon": optimizer.epsilon}
    shared["beta1_power"] = tf.pow(tf.cast(optimizer.beta_1, "float32"), step)
    shared["beta2_power"] = tf.pow(tf.cast(optimizer.beta_2, "float32"), step)
    learning_rate = tf.cast(learning_rate, "float32")
    scalars = {}  # (dtype, multiplier) -> (the kernel's scalars, the decay's factor)
    for grad, variable in zip(grads, variables):
        index = optimizer._get_variable_index(variable)
        value = variable.value if isinstance(variable, keras.Variable) else variable
        key = (value.dtype, optimizer._variable_multipliers[index])
        if key not in scalars:
            lr = learning_rate * key[1]
            kernel = {name: tf.cast(x, key[0]) for name, x in {**shared, "lr": lr}.items()}
            scalars[key] = kernel, tf.cast(lr * (optimizer.weight_decay or 0.0), key[0])
        kernel, decay = scalars[key]
        if optimizer._variable_decays[index]:
            value.assign_sub(value * decay)
        tf.raw_ops.ResourceApplyAdam(
            var=value.handle,
            m=optimizer._momentums[index].value.handle,
            v=optimizer._velocities[index].value.handle,
            grad=tf.cast(grad, value.dtype),
            **kernel,
        )


def select_update_step(optimizer):
    """The update to run, with fast paths on and no AMSGrad: `torch_update_step` on torch,
    `tensorflow_update_step` on TensorFlow outside a `tf.distribute` strategy; else `plain_update_step`."""
    if optimizer.amsgrad:
        return plain_update_step
    if enabled_on("torch"):
        return torch_update_step
    if enabled_on("tensorflow"):
        import tensorflow as tf

        if not tf.distribute.has_strategy():
            return tensorflow_update_step
    return plain_update_step


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
