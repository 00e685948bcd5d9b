from pathlib import Path

import keras

from keras_electra.data.atomic import save_model_atomic


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves the model as `step-NNNNNNN.keras` every `every` steps, keeping the last `keep`.

    Each file is written under a temporary name, flushed to disk and renamed,
    so a crash mid-save never leaves a truncated checkpoint under a real name.
    """

    def __init__(self, directory, every, keep=3):
        super().__init__()
        if every < 1 or keep < 1:
            raise ValueError(f"PeriodicCheckpoint: every={every} and keep={keep} must be >= 1.")
        self.directory = Path(directory)
        self.every = every
        self.keep = keep
        self.step = 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self.save(self.step)

    def save(self, step):
        self.directory.mkdir(parents=True, exist_ok=True)
        final = save_model_atomic(self.model, self.directory / f"step-{step:07d}.keras")
        for old in sorted(self.directory.glob("step-*.keras"))[: -self.keep]:
            old.unlink()
        return final
