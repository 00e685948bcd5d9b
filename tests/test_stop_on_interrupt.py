"""StopOnInterrupt: Ctrl-C or a scheduler's SIGTERM finishes the step in progress, then training stops;
a second one stops at once."""

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


STOP_SIGNALS = pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])


def handlers():
    return [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)]


@STOP_SIGNALS
def test_a_stop_signal_stops_after_the_step_and_restores_the_handlers(number):
    model, x, y = model_and_data()
    stop = StopOnInterrupt(initial_step=100)
    ended = []

    def interrupt_during_step_4(batch, logs):
        if batch == 3:
            os.kill(os.getpid(), number)

    before = handlers()
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
    assert stop.interrupted_at == 104 and ended == [0, 1, 2, 3] and stop.signal == number
    assert handlers() == before


@STOP_SIGNALS
def test_a_second_stop_signal_interrupts_at_once(number):
    model, x, y = model_and_data()

    def interrupt_twice(batch, logs):
        if batch == 2:
            os.kill(os.getpid(), number)
            os.kill(os.getpid(), number)

    before = handlers()
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
    assert handlers() == before


def test_the_command_turns_sigterm_outside_training_into_an_unwinding_stop():
    from keras_electra.cli.exit_status import interrupted_status, sigterm_as_interrupt
    from keras_electra.signals import Terminated

    before = handlers()
    with pytest.raises(Terminated) as stop:
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
    assert handlers() == before
    assert interrupted_status(stop.value) == 143 and interrupted_status(KeyboardInterrupt()) == 130
