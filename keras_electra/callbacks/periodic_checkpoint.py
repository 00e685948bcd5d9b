import hashlib
import json
import warnings
from pathlib import Path

import keras

from keras_electra.data.atomic import save_model_atomic
from keras_electra.data.shards import write_json_atomic


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves the model as `step-NNNNNNN.keras` every `every` steps, keeping the last `keep`.

    Each `.keras` file is written under a temporary name, flushed to disk and
    renamed, then its SHA-256 goes into `step-NNNNNNN.json` the same way: a
    checkpoint counts only once its record is there and matches
    (`latest_checkpoint`). Weights holding a NaN or an infinity are never saved.
    The model's `.keras` file holds the weights, the optimizer (and so the
    learning-rate schedule's position) and, for our models, every seed's state.

    Args:
        directory: where the checkpoints go.
        every: steps between checkpoints.
        keep: how many to keep.
        initial_step: the step the run starts from (a resumed run's).

    Example:

    ```python
    saver = keras_electra.PeriodicCheckpoint("run/checkpoints", every=1000, keep=3)
    model.fit(x, y, callbacks=[saver])
    path, step = keras_electra.latest_checkpoint("run/checkpoints")
    ```
    """

    def __init__(self, directory, every, keep=3, initial_step=0):
        super().__init__()
        if every < 1 or keep < 1:
            raise ValueError(f"PeriodicCheckpoint: every={every} and keep={keep} must be >= 1.")
        self.directory = Path(directory)
        self.every = every
        self.keep = keep
        self.step = initial_step
        self._due_at_epoch_end = False

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            # At an epoch's last step, wait for its end: then the epoch's held-out metrics and its
            # CSVLogger row (an earlier callback) are written before the checkpoint that covers them.
            if batch + 1 == self.params.get("steps"):
                self._due_at_epoch_end = True
            else:
                self.save_if_finite(self.step)

    def on_epoch_end(self, epoch, logs=None):
        if self._due_at_epoch_end:
            self._due_at_epoch_end = False
            self.save_if_finite(self.step)

    def save_if_finite(self, step):
        """`save(step)` unless a weight holds a NaN or an infinity; returns the path, or None."""
        if all(keras.ops.all(keras.ops.isfinite(v)) for v in self.model.trainable_variables):
            return self.save(step)
        return None

    def save(self, step):
        self.directory.mkdir(parents=True, exist_ok=True)
        path = save_model_atomic(self.model, self.directory / f"step-{step:07d}.keras")
        write_json_atomic(
            path.with_suffix(".json"),
            {"step": step, "sha256": sha256(path), "bytes": path.stat().st_size},
        )
        for old in sorted(self.directory.glob("step-*.json"))[: -self.keep]:
            old.with_suffix(".keras").unlink(missing_ok=True)
            old.unlink()
        return path


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def latest_checkpoint(directory):
    """`(path, step)` of the newest checkpoint in `directory` whose file matches its record, or None.

    A checkpoint whose `.keras` file is missing, truncated or altered (its
    SHA-256 differs from the one recorded when it was written) is skipped for
    the previous one, with a warning naming it.
    """
    return next(checkpoints(directory), None)


def checkpoints(directory):
    """`(path, step)` of each checkpoint in `directory` whose file matches its record, newest first;
    each one that does not is skipped with a warning naming it."""
    for record in sorted(Path(directory).glob("step-*.json"), reverse=True):
        path = record.with_suffix(".keras")
        try:
            expected = json.loads(record.read_text())
            if not path.exists():
                problem = "file missing"
            elif sha256(path) != expected["sha256"]:
                problem = "checksum mismatch"
            else:
                yield path, int(expected["step"])
                continue
        except (ValueError, KeyError, TypeError) as error:
            problem = f"unreadable record {record.name} ({error})"
        warnings.warn(
            f"{path}: {problem} (truncated or corrupt); skipped for the previous checkpoint.",
            RuntimeWarning,
            stacklevel=2,
        )
