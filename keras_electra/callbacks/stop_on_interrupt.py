import signal
import threading

import keras

from keras_electra.signals import Terminated

# What each stop request says; a cluster's scheduler (Slurm, Kubernetes) sends SIGTERM and kills the
# job after a grace period, a person at a terminal presses Ctrl-C.
_REQUESTS = {
    signal.SIGINT: "Ctrl-C: stopping after this step (press again to stop at once, losing it)",
    signal.SIGTERM: "SIGTERM: stopping after this step (a second one stops at once, losing it)",
}


class StopOnInterrupt(keras.callbacks.Callback):
    """Turns Ctrl-C (SIGINT) or a scheduler's SIGTERM during `fit` into a stop after the step in
    progress.

    A KeyboardInterrupt raised mid-step could leave the weights half-updated
    (eager torch applies the optimizer in several operations), and so could
    poison the checkpoint written on the way out. Here the first signal only
    sets `interrupted_at` and `signal`: the step finishes, training stops, and the
    caller saves a consistent state before the scheduler's grace period ends. A
    second signal interrupts at once (KeyboardInterrupt, or `Terminated` for SIGTERM).

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
        self.signal = None
        self._previous_handlers = {}

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            self._previous_handlers = {
                number: signal.signal(number, self._request_stop) for number in _REQUESTS
            }

    def _request_stop(self, signum, frame):
        if self.signal is not None:
            self._restore_handlers()
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        self.signal = signal.Signals(signum)
        print(f"\n{_REQUESTS[signum]}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.signal is not None and self.interrupted_at is None:
            self.interrupted_at = self.step
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self._restore_handlers()

    def _restore_handlers(self):
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers = {}
