"""Progress in a log file: with stdout redirected (CI, a scheduler, nohup) a run prints one plain line per
log interval, not Keras' progress bar, which redraws itself at every step with terminal escape codes."""

import itertools
import os
import re
import sys

import keras
import numpy as np
import pytest
from conftest import backend_independent

from keras_electra.callbacks import ProgressLines, fit_in_chunks
from keras_electra.callbacks.fit_in_chunks import PLAIN_LINES
from keras_electra.cli.runs import progress_verbosity
from keras_electra.data.shuffled_batches import ShuffledBatches

LINE = re.compile(r"step (\d+)/10: loss [0-9.e+-]+, mae [0-9.e+-]+ \([0-9.e+]+ steps/s\)")


@backend_independent
def test_a_line_holds_the_step_the_epochs_logs_and_its_rate(capsys):
    # Each reading of the clock is 0.5 s after the last: an epoch's 4 steps take 2 s.
    progress = ProgressLines(12, initial_step=4, clock=itertools.count(step=0.5).__next__)
    epochs_logs = [{"loss": np.float32(0.25), "val_loss": 1.5}, {"loss": 0.125, "val_loss": 2.0}]
    for epoch, logs in enumerate(epochs_logs):
        progress.on_epoch_begin(epoch)
        for batch in range(4):
            progress.on_train_batch_end(batch)
        progress.on_epoch_end(epoch, logs)
    assert capsys.readouterr().out.splitlines() == [
        "step 8/12: loss 0.25, val_loss 1.5 (2 steps/s)",
        "step 12/12: loss 0.125, val_loss 2 (2 steps/s)",
    ]


def test_fit_in_chunks_writes_one_plain_line_per_epoch_into_a_file(tmp_path, monkeypatch):
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])

    def batches(first, count):
        return ShuffledBatches(x, y, batch_size=4, first_batch=first, num_batches=count)

    with open(tmp_path / "log.txt", "w") as log:
        monkeypatch.setattr(sys, "stdout", log)
        fit_in_chunks(model, batches, 10, 4, start=1, verbose=PLAIN_LINES)
    text = (tmp_path / "log.txt").read_text()
    assert all(
        code not in text for code in ("\x1b[", "\r", "\b")
    )  # escape, carriage return, backspace
    # Epochs end at batches 4, 8 and 10 (the run resumed at batch 1): one line each, nothing else.
    assert [LINE.fullmatch(line).group(1) for line in text.splitlines()] == ["4", "8", "10"]


@backend_independent
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_the_commands_keep_the_progress_bar_on_a_terminal_only(tmp_path, monkeypatch):
    controller, terminal = os.openpty()
    try:
        with open(terminal, "w") as tty, open(tmp_path / "log.txt", "w") as log:
            monkeypatch.setattr(sys, "stdout", tty)
            assert progress_verbosity() == 1
            monkeypatch.setattr(sys, "stdout", log)
            assert progress_verbosity() == PLAIN_LINES
    finally:
        os.close(controller)
