import signal
import threading

import keras


class StopOnInterrupt(keras.callbacks.Callback):
    """Turns Ctrl-C (SIGINT) during `fit` into a stop after the step in progress.

    A KeyboardInterrupt raised mid-step could leave the weights half-updated
    (eager torch applies the optimizer in several operations), and so could
    poison the checkpoint written on the way out. Here the first Ctrl-C only
    sets `interrupted_at`: the step finishes, training stops, and the caller
    saves a consistent state. A second Ctrl-C interrupts at once.

    Args:
        initial_step: int. The step the run starts from (a resumed run's); 0.

    Example:

    ```python
    interrupt = keras_electra.StopOnInterrupt()
    model.fit(x, y, callbacks=[interrupt])
    if interrupt.interrupted_at is not None:
        model.save("interrupted.keras")
    ```
    """

    def __init__(self, initial_step=0):
        super().__init__()
        self.step = initial_step
        self.interrupted_at = None
        self._requested = False
        self._previous_handler = None

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._request_stop)

    def _request_stop(self, signum, frame):
        if self._requested:
            signal.signal(signal.SIGINT, self._previous_handler)
            raise KeyboardInterrupt
        self._requested = True
        print(
            "\nCtrl-C: stopping after this step (press again to stop at once, losing it)",
            flush=True,
        )

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self._requested and self.interrupted_at is None:
            self.interrupted_at = self.step
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None
