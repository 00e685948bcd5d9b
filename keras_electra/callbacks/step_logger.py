import csv
from pathlib import Path

import keras


class StepLogger(keras.callbacks.Callback):
    """Appends each training batch's logs to a CSV file as a row `step, metric...`.

    `CSVLogger` writes a row per epoch, too few points for the curves of a
    short fine-tuning run. Each row is flushed as it is written, so a killed
    run loses none before its last checkpoint, and a resumed one (counting
    from `initial_step`) continues the file, cut back to that step
    (`keras_electra.cli.runs.read_history`).
    """

    def __init__(self, path, initial_step=0):
        super().__init__()
        self.path = Path(path)
        self.step = initial_step
        self._file = self._writer = None

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        row = {"step": self.step, **{k: float(v) for k, v in (logs or {}).items()}}
        if self._writer is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._file = open(self.path, "a", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=list(row), lineterminator="\n")
            if new:
                self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None
