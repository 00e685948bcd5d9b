"""PeriodicCheckpoint and latest_checkpoint: atomic files with checksums, the last K kept, damage skipped."""

import json
import warnings

import keras
import numpy as np
import pytest

from keras_electra.callbacks import PeriodicCheckpoint, latest_checkpoint


def fit(directory, steps, every=2, keep=2, loss=None, initial_step=0):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=loss or "mse")
    x, y = np.ones((steps, 3), "float32"), np.ones((steps, 1), "float32")
    checkpoint = PeriodicCheckpoint(directory, every=every, keep=keep, initial_step=initial_step)
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[checkpoint])
    return model


def names(directory):
    return sorted(p.name for p in directory.iterdir())


def test_every_n_steps_the_last_k_with_a_record_each(tmp_path):
    model = fit(tmp_path, steps=7, every=2, keep=2)
    assert names(tmp_path) == [
        "step-0000004.json",
        "step-0000004.keras",
        "step-0000006.json",
        "step-0000006.keras",
    ]
    record = json.loads((tmp_path / "step-0000006.json").read_text())
    assert (
        record["step"] == 6 and record["bytes"] == (tmp_path / "step-0000006.keras").stat().st_size
    )
    path, step = latest_checkpoint(tmp_path)
    assert (path.name, step) == ("step-0000006.keras", 6)
    assert isinstance(keras.models.load_model(path), keras.Model) and model.built


def test_a_resumed_run_numbers_its_checkpoints_from_its_start(tmp_path):
    fit(tmp_path, steps=4, every=3, keep=5, initial_step=5)  # steps 6 to 9
    assert names(tmp_path) == [
        "step-0000006.json",
        "step-0000006.keras",
        "step-0000009.json",
        "step-0000009.keras",
    ]


@pytest.mark.parametrize(
    "damage", ["truncate", "flip_a_byte", "delete", "garble_record", "no_record"]
)
def test_a_damaged_newest_checkpoint_is_skipped_for_the_previous_with_a_warning(tmp_path, damage):
    fit(tmp_path, steps=6, every=2, keep=3)
    newest = tmp_path / "step-0000006.keras"
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "flip_a_byte":
        newest.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "delete":
        newest.unlink()
    elif damage == "garble_record":
        newest.with_suffix(".json").write_text("{not json")
    else:  # killed between writing the file and its record: no record, so never a candidate
        newest.with_suffix(".json").unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path, step = latest_checkpoint(tmp_path)
    assert (path.name, step) == ("step-0000004.keras", 4)
    warned = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert len(warned) == (damage != "no_record") and all("step-0000006.keras" in w for w in warned)


def test_nothing_saved_means_none(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "absent") is None


def test_non_finite_weights_are_never_saved(tmp_path):
    def nan_loss(y_true, y_pred):
        return keras.ops.mean(y_pred) * np.nan

    fit(tmp_path, steps=4, every=2, loss=nan_loss)
    assert names(tmp_path) == []


def test_a_checkpoint_at_an_epochs_end_follows_its_logs(tmp_path):
    # A run resumed from it must find the epoch's row (with held-out metrics) in history.csv.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rows = []
    logger = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rows.append(sorted(tmp_path.glob("*.json")))
    )
    model.fit(
        np.ones((4, 3)),
        np.ones((4, 1)),
        batch_size=1,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=(np.ones((2, 3)), np.ones((2, 1))),
        callbacks=[logger, PeriodicCheckpoint(tmp_path, every=2, keep=5)],
    )
    # When the logger wrote epoch 0's row the step-4 checkpoint was not there yet; step 2's was.
    assert [[p.name for p in r] for r in rows] == [
        ["step-0000002.json"],
        ["step-0000002.json", "step-0000004.json", "step-0000006.json"],
    ]
    assert names(tmp_path)[-1] == "step-0000008.keras"
