from keras_electra.callbacks.fit_in_chunks import fit_in_chunks
from keras_electra.callbacks.non_finite_loss_guard import NonFiniteLossGuard
from keras_electra.callbacks.periodic_checkpoint import (
    PeriodicCheckpoint,
    checkpoints,
    latest_checkpoint,
)
from keras_electra.callbacks.progress_lines import ProgressLines
from keras_electra.callbacks.step_logger import StepLogger
from keras_electra.callbacks.stop_on_interrupt import StopOnInterrupt
