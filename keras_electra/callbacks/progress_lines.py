import time

import keras


class ProgressLines(keras.callbacks.Callback):
    """Prints one plain line at the end of each epoch: the step, the epoch's logs and its rate.

    Keras' progress bar redraws itself with terminal escape codes at every step, which a log file
    (stdout redirected: CI, a scheduler, nohup) receives as one line a step. This line, e.g.
    `step 200/1000: loss 2.315, mlm_accuracy 0.4133, val_loss 2.401 (8.52 steps/s)`, is plain text;
    the rate counts the epoch's training steps over the time they took.

    Args:
        steps: int. The steps of the whole run, for "step N/steps".
        initial_step: int. The step the run starts from (a resumed run's); 0.
        clock: a function returning seconds, `time.monotonic` by default.

    Example:

    ```python
    from keras_electra.callbacks import ProgressLines

    model.fit(x, y, epochs=3, verbose=0, callbacks=[ProgressLines(3 * batches_per_epoch)])
    ```
    """

    def __init__(self, steps, initial_step=0, clock=time.monotonic):
        super().__init__()
        self.steps, self.step, self.clock = steps, initial_step, clock
        self._epoch_steps, self._began = 0, None
        self._trained_for = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_steps, self._began = 0, self.clock()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._epoch_steps += 1
        self._trained_for = self.clock() - self._began

    def on_epoch_end(self, epoch, logs=None):
        values = ", ".join(f"{name} {float(value):.4g}" for name, value in (logs or {}).items())
        rate = self._epoch_steps / self._trained_for if self._trained_for > 0 else float("inf")
        print(f"step {self.step}/{self.steps}: {values} ({rate:.3g} steps/s)", flush=True)
