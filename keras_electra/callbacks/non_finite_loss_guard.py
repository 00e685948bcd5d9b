import math

import keras


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops training at the first step whose loss is NaN or infinite, and remembers that step.

    Keras logs the running mean of the epoch's losses, which turns non-finite
    at the first bad step and stays so; the step is counted from
    `initial_step` (a resumed run's). `PeriodicCheckpoint` never saves
    non-finite weights, so the last checkpoint is the last good state.

    Args:
        initial_step: int. The step the run starts from (a resumed run's); 0.

    Example:

    ```python
    guard = keras_electra.NonFiniteLossGuard()
    model.fit(x, y, callbacks=[guard])
    if guard.stopped_at is not None:
        print("the loss diverged at step", guard.stopped_at)
    ```
    """

    def __init__(self, initial_step=0):
        super().__init__()
        self.step = initial_step
        self.stopped_at = None

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        loss = float(logs["loss"])
        if not math.isfinite(loss) and self.stopped_at is None:
            self.stopped_at = self.step
            self.loss = loss
            self.model.stop_training = True
