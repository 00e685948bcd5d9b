"""Writes that a crash cannot leave half-done: the target is complete, or as it was."""

import keras
import pytest

from keras_electra.data.atomic import atomic_directory, save_model_atomic


def test_a_failed_directory_build_leaves_nothing(tmp_path):
    target = tmp_path / "data"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as temporary:
            (temporary / "shard.npy").write_bytes(b"partial")
            raise RuntimeError("killed mid-build")
    assert list(tmp_path.iterdir()) == []


def test_a_completed_directory_replaces_an_empty_one(tmp_path):
    target = tmp_path / "data"
    target.mkdir()
    with atomic_directory(target) as temporary:
        (temporary / "manifest.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["data"]
    assert (target / "manifest.json").read_text() == "{}"


class FailingSave(keras.Model):
    def save(self, filepath, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"PK half a zip")  # what an interrupted save leaves
        raise OSError("No space left on device")


def test_a_failed_model_save_keeps_the_previous_file_and_no_partial(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"the previous, complete model")
    with pytest.raises(OSError, match="No space left"):
        save_model_atomic(FailingSave(), path)
    assert path.read_bytes() == b"the previous, complete model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_a_saved_model_loads_back(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = save_model_atomic(model, tmp_path / "model.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
    assert keras.models.load_model(path).count_params() == model.count_params()
