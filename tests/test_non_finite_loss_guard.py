"""NonFiniteLossGuard: training stops at the first NaN or infinite loss, and the last checkpoint is good."""

import keras
import numpy as np
import pytest
from conftest import to_numpy

from keras_electra.callbacks import (
    NonFiniteLossGuard,
    PeriodicCheckpoint,
    latest_checkpoint,
)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_stops_at_the_bad_step_and_the_last_checkpoint_is_the_step_before(tmp_path, bad):
    x = np.ones((8, 3), "float32")
    x[4] = bad  # the fifth step of a run resumed at step 10 is step 15
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    guard = NonFiniteLossGuard(initial_step=10)
    batches = []
    counter = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch)
    )
    checkpoint = PeriodicCheckpoint(tmp_path, every=1, keep=2, initial_step=10)
    model.fit(
        x,
        np.ones((8, 1), "float32"),
        batch_size=1,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[guard, checkpoint, counter],
    )
    assert guard.stopped_at == 15 and not np.isfinite(guard.loss)
    assert batches == [0, 1, 2, 3, 4]  # stopped there, second epoch never started
    assert not np.isfinite(to_numpy(model.layers[0].kernel)).all()
    path, step = latest_checkpoint(tmp_path)
    assert step == 14
    assert np.isfinite(to_numpy(keras.models.load_model(path).layers[0].kernel)).all()


def test_a_finite_run_is_left_alone():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    guard = NonFiniteLossGuard()
    model.fit(
        np.ones((4, 3)), np.ones((4, 1)), batch_size=1, epochs=1, verbose=0, callbacks=[guard]
    )
    assert guard.stopped_at is None and guard.step == 4
