"""The `keras-electra` command's exit statuses beside 0, and the stop that carries one to `main`."""

import contextlib
import signal
import threading

from keras_electra.signals import Terminated, raise_terminated

# A run that failed: a NaN or infinite loss, a failed write (disk full, no permission).
FAILED = 1
# Bad input: a bad argument, or a file that is missing or damaged.
BAD_INPUT = 2


def stopped_by(signal_number):
    """The shell's status for a process a signal ended: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signal_number)


def interrupted_status(interrupt):
    """The status of a command that a KeyboardInterrupt (Ctrl-C) or `Terminated` (SIGTERM) ended."""
    return stopped_by(signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within it, SIGTERM outside a training loop (which finishes its step first: StopOnInterrupt)
    unwinds as Ctrl-C does instead of killing the process where it stands."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StoppedEarly(Exception):
    """A run that stopped before its end and has said why on stderr; `main` exits with `status`.

    A stage that stops raises it rather than returning a status, so that every function returns one
    kind of thing and the command's callers (`compare` runs `pretrain` and `finetune`) stop with it.
    """

    def __init__(self, status):
        super().__init__(status)
        self.status = status
