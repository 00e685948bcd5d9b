"""Training on every device of a host, and across hosts, with `keras.distribution`.

Keras 3.15 implements `keras.distribution` on the JAX backend only: torch has no
implementation at all, and the TensorFlow trainer ignores a distribution that is
set (its `distribution_lib` is a prototype marked "DO NOT USE"; `fit` runs on one
device). Everything here that builds a distribution therefore needs
KERAS_BACKEND=jax.

- `distribution_for("data")`: `keras.distribution.DataParallel` over every
  device of every process: the weights are replicated, each device takes a
  slice of the global batch and the gradients are all-reduced.
- `distribution_for("model", config=..., model_parallel=M)`:
  `keras.distribution.ModelParallel` on a `("batch", "model")` mesh of
  `(devices // M, M)`, M by default `suggested_model_parallel`. `layout_map`
  shards the encoders' kernels (Megatron-style: query/key/value and the first
  FFN kernel by columns, the attention output and the second FFN kernel by
  rows) and the embedding tables (by the embedding dimension: the vocabulary,
  30522 = 2 x 3 x 5087, does not split over 4 or 8 devices) over the "model"
  axis; everything else is replicated.

A distribution must be set (`keras.distribution.set_distribution`, or
`with distribution.scope():`) before the model is created: Keras places each
variable when it is created. Inputs are fed per process: every process reads
its own `process_shard()` of each global batch (`PretrainingDataset`'s
`num_shards`/`shard_index`), and Keras splits it over the process's devices.
The distributions are built with `auto_shard_dataset=False` for that reason.

Multi-host: run the same command on every host with the coordinator's address,
the number of processes and this process's id in the environment
(KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES,
KERAS_DISTRIBUTION_PROCESS_ID); `initialize_from_environment()` then calls
`keras.distribution.initialize()`, which must happen before JAX computes
anything. Every process runs the same steps, saving included (`model.save` in
process 0 alone waits forever); a process reads the weights without gathering
them when it holds a whole model replica, i.e. when M is at most its devices.
"""

import math
import os
import warnings

import keras

from keras_electra.models.presets import num_heads_for

KINDS = ("none", "data", "model")
BATCH_AXIS = "batch"
MODEL_AXIS = "model"
ENVIRONMENT = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)

# Variable path (regex, matched in full) -> axes of that variable. The paths are
# those of `ElectraBackbone` (both towers of a pretrainer: each variable path is
# relative to its backbone, so one pattern covers the discriminator and the
# generator) with an optional prefix for models that wrap a backbone.
_PREFIX = r"(?:.*/)?"
_LAYER = _PREFIX + r"encoder_layer_\d+/"
SHARDING_RULES = (
    # Embedding tables [rows, embedding_dim]: shard the embedding dimension.
    (
        _PREFIX + r"embedding/(?:token|position|segment)_embedding/embeddings",
        (None, MODEL_AXIS),
        "embedding_dim",
    ),
    # Attention: query/key/value by columns (whole heads when heads % M == 0), output by rows.
    (_LAYER + r"attention/(?:query|key|value)/kernel", (None, MODEL_AXIS), "hidden_dim"),
    (_LAYER + r"attention/(?:query|key|value)/bias", (MODEL_AXIS,), "hidden_dim"),
    (_LAYER + r"attention/output/kernel", (MODEL_AXIS, None), "hidden_dim"),
    # Feed-forward: first kernel by columns, second by rows.
    (_LAYER + r"intermediate_dense/kernel", (None, MODEL_AXIS), "intermediate_dim"),
    (_LAYER + r"intermediate_dense/bias", (MODEL_AXIS,), "intermediate_dim"),
    (_LAYER + r"output_dense/kernel", (MODEL_AXIS, None), "intermediate_dim"),
)


def require_jax(what="keras.distribution"):
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"{what} needs the JAX backend (Keras {keras.__version__} implements keras.distribution "
            f"on JAX only); KERAS_BACKEND is {backend!r}."
        )


def initialize_from_environment():
    """Calls `keras.distribution.initialize()` when a KERAS_DISTRIBUTION_* variable is set.

    Returns True when it did. Must run before JAX computes anything (before a
    model or an array is created).
    """
    if not any(name in os.environ for name in ENVIRONMENT):
        return False
    require_jax("multi-host training (KERAS_DISTRIBUTION_* variables)")
    keras.distribution.initialize()
    return True


def process_index():
    """This process's index among the processes of a multi-host run (0 on one host)."""
    if keras.backend.backend() != "jax":
        return 0
    import jax

    return jax.process_index()


def local_device_count():
    """Devices of this process (1 on the backends without keras.distribution)."""
    if keras.backend.backend() != "jax":
        return 1
    import jax

    return jax.local_device_count()


def device_mesh(model_parallel=1, devices=None):
    """A `("batch", "model")` mesh of `(len(devices) // model_parallel, model_parallel)`.

    `devices` defaults to every device of every process. Devices are taken in
    order, so with `model_parallel` dividing the devices per host each model
    replica stays within one host (its all-reduces on the fast links).
    """
    require_jax()
    devices = list(devices) if devices is not None else keras.distribution.list_devices()
    if model_parallel < 1 or len(devices) % model_parallel:
        raise ValueError(
            f"model_parallel={model_parallel} must be >= 1 and divide the {len(devices)} devices."
        )
    shape = (len(devices) // model_parallel, model_parallel)
    return keras.distribution.DeviceMesh(shape, [BATCH_AXIS, MODEL_AXIS], devices=devices)


def _model_dims(config):
    """Every width of a pretrainer or backbone config that a rule shards, by rule name, and the heads."""
    dims = {
        "embedding_dim": [config["embedding_dim"]],
        "hidden_dim": [config["hidden_dim"]],
        "intermediate_dim": [config["intermediate_dim"]],
        "num_heads": [config.get("num_heads") or num_heads_for(config["hidden_dim"])],
    }
    if "generator_hidden_dim" in config:  # a pretrainer: the generator tower too
        hidden = config["generator_hidden_dim"]
        dims["hidden_dim"].append(hidden)
        dims["intermediate_dim"].append(config.get("generator_intermediate_dim") or 4 * hidden)
        dims["num_heads"].append(config.get("generator_num_heads") or num_heads_for(hidden))
    return dims


def _config_of(model_or_config):
    if isinstance(model_or_config, dict):
        return model_or_config
    return getattr(model_or_config, "backbone", model_or_config).get_config()


def suggested_model_parallel(model_or_config, devices):
    """The largest model-parallel degree that divides `devices`, every sharded width and every
    tower's head count (so that each device holds whole attention heads); 1 when none does."""
    dims = _model_dims(_config_of(model_or_config))
    widths = [width for values in dims.values() for width in values]
    return max(
        m for m in range(1, devices + 1) if devices % m == 0 and all(w % m == 0 for w in widths)
    )


def layout_map(model_or_config, mesh):
    """A `keras.distribution.LayoutMap` sharding encoder kernels and embedding tables.

    Args:
        model_or_config: an `ElectraPretrainer` or `ElectraBackbone` (or a model
            wrapping one, via its `backbone`), or the config dict of one: used
            to check that every sharded dimension divides evenly, since the
            model is created only once the distribution is set.
        mesh: a `DeviceMesh` with a "model" axis, e.g. from `device_mesh`.
    """
    dims = _model_dims(_config_of(model_or_config))
    size = mesh.shape[list(mesh.axis_names).index(MODEL_AXIS)]
    for dim in {dim for _, _, dim in SHARDING_RULES}:
        for width in dims[dim]:
            if width % size:
                raise ValueError(
                    f"model parallelism over {size} devices needs {dim} divisible by {size}; "
                    f"this model has {dim}={width}. Use a model-parallel degree that divides it."
                )
    if any(heads % size for heads in dims["num_heads"]):
        warnings.warn(
            f"model parallelism over {size} devices splits attention heads (heads per tower: "
            f"{dims['num_heads']}): every layer then all-reduces its attention scores. A degree dividing "
            "the heads avoids it (see `suggested_model_parallel`).",
            stacklevel=2,
        )
    layouts = keras.distribution.LayoutMap(mesh)
    for pattern, axes, _ in SHARDING_RULES:
        layouts[pattern] = axes
    return layouts


def distribution_for(kind, *, config=None, model_parallel=None, devices=None):
    """The `keras.distribution` object for `kind` ("none", "data" or "model"), or None.

    Args:
        kind: "none" (returns None), "data" (`DataParallel`) or "model"
            (`ModelParallel` with `layout_map`).
        config: the model or its config; "model" needs it (see `layout_map`).
        model_parallel: devices per model replica for "model"; default
            `suggested_model_parallel(config, local_device_count())`: the
            largest degree within one host that keeps attention heads whole.
        devices: default every device of every process.
    """
    if kind not in KINDS:
        raise ValueError(f"distribution {kind!r}: expected one of {KINDS}.")
    if kind == "none":
        return None
    require_jax(f"distribution {kind!r}")
    if kind == "data":
        if devices is None:
            return keras.distribution.DataParallel(auto_shard_dataset=False)
        return keras.distribution.DataParallel(devices=list(devices), auto_shard_dataset=False)
    if config is None:
        raise ValueError("distribution 'model' needs the model's config to lay out its variables.")
    if model_parallel is None:
        model_parallel = suggested_model_parallel(config, local_device_count())
    mesh = device_mesh(model_parallel, devices)
    return keras.distribution.ModelParallel(
        layout_map=layout_map(config, mesh), batch_dim_name=BATCH_AXIS, auto_shard_dataset=False
    )


def process_shard(distribution=None):
    """`(num_shards, shard_index)`: which part of each global batch this process feeds.

    Processes that hold different model replicas read different slices; those
    that together hold one replica (model parallelism across hosts) read the
    same. `(1, 0)` without a distribution.
    """
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return 1, 0
    return min(
        distribution.num_processes, distribution.num_model_replicas
    ), distribution.data_shard_id


def check_batch_size(batch_size, distribution=None):
    """Raises unless `batch_size` (global) splits evenly over the model replicas."""
    distribution = distribution or keras.distribution.distribution()
    replicas = 1 if distribution is None else distribution.num_model_replicas
    if batch_size % replicas:
        raise ValueError(
            f"batch size {batch_size} must be a multiple of the {replicas} model replicas "
            f"(the global batch is split evenly over them); try {math.ceil(batch_size / replicas) * replicas}."
        )
