"""Deterministic per-layer seeds, the models' initializer and the seed states in saved models."""

import zlib

import keras
from keras import ops


def sub_seed(seed, name):
    """Returns a seed for the part `name` of a model seeded with `seed`.

    Every initializer and dropout layer needs its own seed: two kernels of the
    same shape drawn from the same integer seed would be identical. Hashing the
    part's name gives each a distinct, reproducible seed; `None` keeps Keras'
    default (unseeded) behaviour.
    """
    if seed is None:
        return None
    return zlib.crc32(f"{seed}/{name}".encode()) & 0x7FFFFFFF


@keras.saving.register_keras_serializable(package="keras_electra")
class StrictTruncatedNormal(keras.initializers.TruncatedNormal):
    """Truncated normal that never exceeds two standard deviations.

    Keras' torch backend draws four candidates per value and keeps the first
    in range, so about 4 values in a million escape the bound; they are
    clipped back onto it here (`tests/test_fast_paths.py` checks that Keras
    still lets them escape).

    Args:
        mean: float. The mean of the distribution; 0.0 by default.
        stddev: float. Its standard deviation; values stay within 2 of them.
        seed: int, None or a `keras.random.SeedGenerator`.

    Example:

    ```python
    initializer = StrictTruncatedNormal(stddev=0.02, seed=0)
    kernel = initializer((256, 1024))
    ```
    """

    def __call__(self, shape, dtype=None):
        bound = 2 * self.stddev
        return ops.clip(super().__call__(shape, dtype), self.mean - bound, self.mean + bound)


def truncated_normal(seed, name):
    """The models' initializer: truncated normal, stddev 0.02 (docs/electra.md, "Models and sizes")."""
    return StrictTruncatedNormal(stddev=0.02, seed=sub_seed(seed, name))


SEED_STATE_PREFIX = "seed_state_"


class SavesSeedStates:
    """Mixin for models whose `.keras` files also carry every SeedGenerator's state.

    Keras saves no SeedGenerator state: a model loaded from a checkpoint would
    draw its masks, samples and dropout again from each seed's start, and a
    resumed run would not train as the uninterrupted one. The states are stored
    next to the model's own variables, in the order of `non_trainable_variables`;
    files written without them load as before (the generators start afresh).
    `tests/test_fast_paths.py` checks that Keras still leaves them out.

    Example:

    ```python
    class Pretrainer(SavesSeedStates, keras.Model):
        ...
    ```
    """

    def _seed_states(self):
        return [v for v in self.non_trainable_variables if v.name == "seed_generator_state"]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, state in enumerate(self._seed_states()):
            store[f"{SEED_STATE_PREFIX}{i}"] = state

    def load_own_variables(self, store):
        seed_keys = [key for key in store.keys() if key.startswith(SEED_STATE_PREFIX)]
        super().load_own_variables(_Without(store, seed_keys))
        states = self._seed_states()
        if seed_keys and len(seed_keys) != len(states):
            raise ValueError(
                f"{type(self).__name__}: the file holds {len(seed_keys)} seed states and the model has "
                f"{len(states)}: it was saved from a different architecture."
            )
        for i, state in enumerate(states if seed_keys else ()):
            state.assign(store[f"{SEED_STATE_PREFIX}{i}"])


class _Without:
    """A read-only view of a weights store without some keys."""

    def __init__(self, store, hidden):
        self.store, self.hidden = store, set(hidden)

    def keys(self):
        return [key for key in self.store.keys() if key not in self.hidden]

    def __len__(self):
        return len(self.keys())

    def __contains__(self, key):
        return key not in self.hidden and key in self.store

    def __getitem__(self, key):
        if key in self.hidden:
            raise KeyError(key)
        return self.store[key]
