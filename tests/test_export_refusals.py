"""Bad input to `keras-electra export` and to `predict` on an export: one line, exit 2, nothing
written (docs/bad-input.md); and the pairs of format and backend that `export` refuses, shown to be
what Keras itself cannot export (tests/test_export.py tests what it exports)."""

import shutil

import keras
import numpy as np
import pytest
from conftest import BACKEND, tokenizer_of
from test_export import (
    HERE,
    PIECES,
    REFUSED,
    made_up_exporter,
    save_run,
    task_model,
)
from test_finetune_cli import run_cli

import keras_electra as ke
from keras_electra.serving.exporter import UNSUPPORTED, inference_model
from keras_electra.serving.layout import INPUTS, MODEL_FILES


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return made_up_exporter(tmp_path_factory)


def leftovers(folder):
    return [path.name for path in folder.rglob("*") if ".tmp-" in path.name]


@pytest.fixture
def classifier_run(tmp_path):
    tokenizer = tokenizer_of(PIECES)
    return save_run(task_model("classifier", "mnli", tokenizer), "mnli", tmp_path / "ft", tokenizer)


def refused(capsys, tmp_path, *argv):
    """The one line of stderr of `keras-electra export ARGV`, which must exit 2 and write nothing."""
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, "export", *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert sorted(tmp_path.rglob("*")) == before and not leftovers(tmp_path)
    return err


def test_a_pretrainer_is_not_servable(tmp_path, capsys):
    path = tmp_path / "pretrainer.keras"
    ke.ElectraPretrainer.from_size("tiny", vocab_size=1000, seed=0).save(path)
    err = refused(capsys, tmp_path, path, tmp_path / "out", "--format", HERE[0])
    assert f"MODEL {path}: holds a ElectraPretrainer, not a servable model" in err
    assert "export its discriminator" in err


def test_bad_formats_models_and_outs_are_one_line(classifier_run, tmp_path, capsys):
    out = tmp_path / "out"
    err = refused(capsys, tmp_path, classifier_run, out, "--format", "openvino")
    assert "argument --format: invalid choice: 'openvino'" in err
    err = refused(capsys, tmp_path, tmp_path / "absent", out, "--format", HERE[0])
    assert f"argument MODEL: {tmp_path / 'absent'}: no such file or folder" in err
    used = tmp_path / "used"
    used.mkdir()
    (used / "file").write_text("")
    err = refused(capsys, tmp_path, classifier_run, used, "--format", HERE[0])
    assert f"OUT {used}: exists and is not empty; choose a new directory" in err
    err = refused(capsys, tmp_path, classifier_run, used / "file", "--format", HERE[0])
    assert f"argument OUT: {used / 'file'}: a file, not a directory" in err
    for format in REFUSED:
        err = refused(capsys, tmp_path, classifier_run, out, "--format", format)
        assert f"--format {format}: cannot export from the {BACKEND} backend" in err
        assert UNSUPPORTED[format, BACKEND] in err


def test_a_damaged_model_is_named(classifier_run, tmp_path, capsys):
    model_file = classifier_run / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    err = refused(capsys, tmp_path, classifier_run, tmp_path / "out", "--format", HERE[0])
    assert f"{model_file}: not a complete .keras file" in err


def test_an_encoder_needs_its_vocabulary_beside_it(tmp_path, capsys):
    path = tmp_path / "encoder.keras"
    task_model("encoder", None, tokenizer_of(PIECES)).save(path)
    err = refused(capsys, tmp_path, path, tmp_path / "out", "--format", HERE[0])
    assert f"{tmp_path / 'vocab.txt'}: vocabulary file not found" in err


def test_a_failed_export_leaves_nothing(classifier_run, tmp_path, capsys, monkeypatch):
    def half_written(model, directory, format, max_length):
        (directory / "model.onnx").write_bytes(b"half")
        raise ValueError("the converter failed")

    monkeypatch.setattr("keras_electra.cli.export.export_model", half_written)
    err = refused(capsys, tmp_path, classifier_run, tmp_path / "out", "--format", HERE[0])
    assert err.strip() == "keras-electra export: error: the converter failed"


def test_predict_refuses_an_encoders_export_in_one_line(exports, capsys):
    _, _, out = exports("encoder", HERE[0])
    code, stdout, err = run_cli(capsys, "predict", "--model", out, "a text")
    assert code == 2 and stdout == "" and len(err.splitlines()) == 1
    assert f"--model {out}: an encoder's export (no task head)" in err


def export_directly(format, tmp_path, batch=None, length=16):
    """Keras' own export of a classifier's inference copy, with axes `batch` and `length` (None:
    dynamic), as `export_model` calls it but for the support table's check."""
    model = inference_model(task_model("classifier", "mnli", tokenizer_of(PIECES)))
    signature = [
        {name: keras.InputSpec(shape=(batch, length), dtype="int32", name=name) for name in INPUTS}
    ]
    path = tmp_path / MODEL_FILES[format]
    model.export(str(path), format=format, input_signature=signature, verbose=False)
    return path


@pytest.mark.large
@pytest.mark.parametrize("format", REFUSED)
def test_keras_cannot_export_what_export_refuses(format, tmp_path):
    """The table's refusals are Keras' (or its converters') failures on our models, measured here: if
    one starts to pass, the table can let it through."""
    with pytest.raises(Exception):  # noqa: B017 (each pair fails its own way)
        export_directly(format, tmp_path)


@pytest.mark.large
@pytest.mark.skipif(BACKEND == "jax", reason="JAX exports every axis it exports dynamic")
def test_the_fixed_axes_are_keras_limits(tmp_path):
    """torch's ONNX export takes no dynamic axis; TensorFlow's LiteRT with a dynamic length needs a
    Flex op that LiteRT's interpreter lacks."""
    if BACKEND == "torch":
        with pytest.raises(Exception):  # noqa: B017 (TorchScript's own error)
            export_directly("onnx", tmp_path, batch=None, length=16)
        return
    from ai_edge_litert.interpreter import Interpreter

    path = export_directly("litert", tmp_path, batch=None, length=None)
    runner = Interpreter(model_path=str(path)).get_signature_runner()
    rows = {name: np.ones((2, 8), "int32") for name in INPUTS}
    with pytest.raises(RuntimeError, match="Flex"):
        runner(**rows)


def test_a_damaged_export_is_named(exports, capsys, tmp_path):
    _, _, out = exports("classifier", HERE[0])
    damaged = tmp_path / "export"
    shutil.copytree(out, damaged)
    (damaged / "serving.json").write_text('{"format": "onnx"')
    code, stdout, err = run_cli(capsys, "predict", "--model", damaged, "a\tb")
    assert code == 2 and stdout == "" and len(err.splitlines()) == 1
    assert f"{damaged / 'serving.json'}: not JSON" in err
    (damaged / "serving.json").write_text((out / "serving.json").read_text())
    (damaged / "tokenizer.json").unlink()
    code, stdout, err = run_cli(capsys, "predict", "--model", damaged, "a\tb")
    assert code == 2 and f"{damaged / 'tokenizer.json'}: not found" in err
