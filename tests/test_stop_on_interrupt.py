"""StopOnInterrupt: Ctrl-C finishes the step in progress, then training stops; a second one stops at once."""

import os
import signal

import keras
import numpy as np
import pytest

from keras_electra.callbacks import StopOnInterrupt


def model_and_data():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model, np.ones((10, 3), "float32"), np.ones((10, 1), "float32")


def test_ctrl_c_stops_after_the_step_and_restores_the_handler():
    model, x, y = model_and_data()
    stop = StopOnInterrupt(initial_step=100)
    ended = []

    def interrupt_during_step_4(batch, logs):
        if batch == 3:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    model.fit(
        x,
        y,
        batch_size=1,
        epochs=3,
        verbose=0,
        shuffle=False,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_train_batch_begin=interrupt_during_step_4,
                on_train_batch_end=lambda batch, logs: ended.append(batch),
            ),
            stop,
        ],
    )
    assert stop.interrupted_at == 104 and ended == [0, 1, 2, 3]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_interrupts_at_once():
    model, x, y = model_and_data()

    def interrupt_twice(batch, logs):
        if batch == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            x,
            y,
            batch_size=1,
            epochs=1,
            verbose=0,
            callbacks=[
                StopOnInterrupt(),
                keras.callbacks.LambdaCallback(on_train_batch_begin=interrupt_twice),
            ],
        )
    assert signal.getsignal(signal.SIGINT) is before
