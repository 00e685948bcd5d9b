import math

import keras

from keras_electra.callbacks.progress_lines import ProgressLines
from keras_electra.fast_paths.fit_input import select_fit_input

# fit_in_chunks' `verbose` for one plain line per epoch (`ProgressLines`) instead of Keras' display.
PLAIN_LINES = "lines"


def fit_in_chunks(
    model, batches, steps, steps_per_epoch, callbacks=(), start=0, validation_data=None, verbose=1
):
    """`fit` one epoch of `steps_per_epoch` batches at a time up to batch `steps`, from batch `start`;
    stops early when a callback stops training. Returns the `History` of the epochs trained.

    Epochs sit at multiples of `steps_per_epoch` counted from batch 0, so a run resumed mid-epoch
    ends its epochs (evaluates, logs, draws its held-out masks) where the uninterrupted run did.
    `batches(first, count)` gives the dataset of batches `first` to `first + count - 1` in the
    run's fixed order: each `fit` takes its own, as a new `fit` would start a shared one again at
    its first batch. Callbacks that count steps (`PeriodicCheckpoint`, `StopOnInterrupt`) see one
    run, and `CSVLogger` should append. `verbose` is Keras' (0, 1, 2), or PLAIN_LINES: one line per
    epoch (`ProgressLines`), for a log file. A `PyDataset` (the chunks, `validation_data`) goes to
    `fit` through `fast_paths.fit_input`: on TensorFlow, without the seconds each `fit` would lose.
    """
    history = _RunHistory()
    validation_data = select_fit_input(validation_data)(validation_data)
    if verbose == PLAIN_LINES:
        callbacks, verbose = [*callbacks, ProgressLines(steps, initial_step=start)], 0
    for epoch in range(start // steps_per_epoch, math.ceil(steps / steps_per_epoch)):
        first = max(start, epoch * steps_per_epoch)
        chunk = batches(first, min(steps, (epoch + 1) * steps_per_epoch) - first)
        model.fit(
            select_fit_input(chunk)(chunk),
            initial_epoch=epoch,
            epochs=epoch + 1,
            validation_data=validation_data,
            callbacks=[*callbacks, history],
            verbose=verbose,
            # The dataset orders its batches itself (seeded); Keras' shuffle would reorder them with
            # Python's unseeded `random`, differently in every process of a multi-host run.
            shuffle=False,
        )
        if model.stop_training:
            break
    return history


class _RunHistory(keras.callbacks.History):
    """One `History` across several `fit` calls (Keras' starts its list of epochs again at each)."""

    def on_train_begin(self, logs=None):
        self.epoch = getattr(self, "epoch", [])
