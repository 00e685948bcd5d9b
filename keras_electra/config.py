"""Process-wide settings of keras-electra.

The fast paths (`keras_electra.fast_paths`) are backend-specific versions of a
few operations, measured faster or lighter than Keras' own. A Keras, backend
or driver upgrade can break any of them; turning them off runs every one on
its plain `keras.ops` version, from the environment

    KERAS_ELECTRA_PLAIN_OPS=1 keras-electra pretrain ...

or from Python:

    import keras_electra
    keras_electra.config.use_fast_paths(False)

The choice is read when an operation runs, so under `jit` or `tf.function`
when a step is traced: set it before the first `fit` (a step traced already
keeps the path it traced). Plain and fast versions compute the same function,
but the random fast paths draw other (equally distributed) numbers than
Keras' generators: a seeded run does not repeat its masks and samples across
the switch.

No Keras import here: build-data's workers import the package without it.
"""

import os

PLAIN_OPS_VARIABLE = "KERAS_ELECTRA_PLAIN_OPS"

_fast_paths = os.environ.get(PLAIN_OPS_VARIABLE, "").strip().lower() not in (
    "1",
    "true",
    "yes",
    "on",
)


def use_fast_paths(enabled: bool) -> None:
    """Turns the backend-specific fast paths on (the default) or off for the whole process.

    Args:
        enabled: bool. `False` runs every operation on its plain `keras.ops`
            version; `True` lets each fast path run where it applies.

    Example:

    ```python
    import keras_electra
    keras_electra.config.use_fast_paths(False)
    assert not keras_electra.config.fast_paths_enabled()
    ```
    """
    global _fast_paths
    if not isinstance(enabled, bool):
        raise TypeError(f"use_fast_paths takes True or False; got {enabled!r}.")
    _fast_paths = enabled


def fast_paths_enabled() -> bool:
    """Whether the fast paths may run: `False` under `KERAS_ELECTRA_PLAIN_OPS=1` or after
    `use_fast_paths(False)`."""
    return _fast_paths
