"""The `keras-electra` command's exit statuses beside 0, and the stop that carries one to `main`."""

# A run that failed: a NaN or infinite loss, a failed write (disk full, no permission).
FAILED = 1
# Bad input: a bad argument, or a file that is missing or damaged.
BAD_INPUT = 2
# Ctrl-C: the shell's status for SIGINT, 128 + 2.
INTERRUPTED = 130


class StoppedEarly(Exception):
    """A run that stopped before its end and has said why on stderr; `main` exits with `status`.

    A stage that stops raises it rather than returning a status, so that every function returns one
    kind of thing and the command's callers (`compare` runs `pretrain` and `finetune`) stop with it.
    """

    def __init__(self, status):
        super().__init__(status)
        self.status = status
