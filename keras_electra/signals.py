"""SIGTERM as a stop that unwinds: the signal Slurm, Kubernetes and spot instances send a job before
they kill it. Keras-free, so that the command line's parsing imports no backend framework."""


class Terminated(KeyboardInterrupt):
    """A SIGTERM that stops at once: it unwinds as Ctrl-C's KeyboardInterrupt does (temporary files
    are removed on the way out), and says that it was SIGTERM."""


def raise_terminated(signum, frame):
    """A SIGTERM handler that stops at once, as `Terminated`."""
    raise Terminated
