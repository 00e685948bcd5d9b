"""`export --format onnx --quantize int8` (keras_electra/serving/quantization.py): every constant weight
matrix of the float32 graph becomes an int8 MatMulInteger, the outputs on real sentences are those of
a NumPy BERT quantized by ONNX Runtime's published rules, and a format that takes no quantization is
refused."""

import keras
import numpy as np
import pytest
import references
from conftest import shared_data, tokenizer_of
from references import w
from test_export import HERE, PIECES, save_run, task_model
from test_export_refusals import refused
from test_finetune_cli import run_cli

import keras_electra as ke
from keras_electra.data.glue import read_glue
from keras_electra.serving.layout import INPUTS, read_serving
from keras_electra.serving.runtimes import load_runtime


def weight_products(path):
    """The graph's MatMuls whose second input is a stored weight (an initializer), and the element
    types of the stored weights its MatMulIntegers multiply by."""
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(path).graph
    stored = {tensor.name: tensor.data_type for tensor in graph.initializer}
    products = [node for node in graph.node if node.op_type == "MatMul" and node.input[1] in stored]
    integers = [
        onnx.helper.tensor_dtype_to_np_dtype(stored[node.input[1]])
        for node in graph.node
        if node.op_type == "MatMulInteger" and node.input[1] in stored
    ]
    return products, integers


def int8_dense(x, layer):
    """ONNX Runtime's dynamic quantization of `x @ kernel + bias` (serving/quantization.py): the
    kernel in int8 with one symmetric scale, `x` in uint8 over the range of the call's whole tensor
    (0 included) with a zero point, their integer product scaled back, the bias added in float.

    The kernel is quantized in ONNX Runtime's own arithmetic (its quant_utils: the scale in float64
    stored as float32, the division in float32): in float64, a weight a hair from a half step rounds
    the other way, and with it every row's output (measured: 3 exports of 52 had one such weight,
    and 60 to 63 of their 64 rows were 1e-5 or more off)."""
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    kernel_scale = np.float32(np.abs(kernel).max().astype("float64") * 2 / 254)
    kernel_integers = np.round(kernel / kernel_scale).astype("float64")
    low, high = min(x.min(), 0.0), max(x.max(), 0.0)
    scale = (high - low) / 255
    zero = np.clip(np.round(-low / scale), 0, 255)
    integers = np.clip(np.round(x / scale) + zero, 0, 255) - zero
    return integers @ kernel_integers * (scale * kernel_scale) + w(layer.bias)


def numpy_int8_logits(model, features, monkeypatch):
    """The classifier's logits from the NumPy BERT with every Dense quantized as ONNX Runtime does,
    row by row, as `outputs_row_by_row` calls the runtime (the activations' range is the call's)."""
    monkeypatch.setattr(references, "dense", int8_dense)
    parts = []
    for row in range(len(features["token_ids"])):
        part = {name: value[row : row + 1] for name, value in features.items()}
        cls = references.numpy_backbone(model.backbone, part)[:, 0]
        parts.append(int8_dense(cls, model.get_layer("logits")))
    return np.concatenate(parts)


def outputs_row_by_row(directory, features):
    """The export's first output, each row in a call of its own.

    ONNX Runtime's dynamic quantization takes an activation's 8-bit range over the call's whole
    tensor, so one activation that float32 rounds to the next step where NumPy's float64 does not can
    move a later tensor's range, and with it every row of the call (seen once in CI: 32 rows of a
    call 1e-4 to 3e-3 off the NumPy model). A call of one row keeps such a step within its row."""
    run = load_runtime(directory, read_serving(directory))
    rows = range(len(features[INPUTS[0]]))
    return np.concatenate([run({k: v[i : i + 1] for k, v in features.items()})[0] for i in rows])


@pytest.mark.large
@pytest.mark.skipif("onnx" not in HERE, reason="this backend exports no ONNX")
def test_int8_quantizes_every_weight_matrix_and_stays_near_float32_on_sst2(
    tmp_path, capsys, monkeypatch
):
    sentences = read_glue("sst2", shared_data("glue", "SST-2"), "dev").text_a[:64]
    tokenizer = ke.ElectraTokenizer.train(texts=sentences, vocab_size=2000, min_frequency=1)
    model = task_model("classifier", "sst2", tokenizer, length=64, max_sequence_length=64)
    run = save_run(model, "sst2", tmp_path / "run", tokenizer)
    for name, extra in (("float32", []), ("int8", ["--quantize", "int8"])):
        code, out, err = run_cli(capsys, "export", run, tmp_path / name, "--format", "onnx", *extra)
        assert code == 0, err
    assert "int8 weight matrices" in out
    floats, _ = weight_products(tmp_path / "float32" / "model.onnx")
    left, integers = weight_products(tmp_path / "int8" / "model.onnx")
    assert floats and not left and integers == [np.int8] * len(floats)
    assert read_serving(tmp_path / "int8")["quantization"] == "int8"
    assert read_serving(tmp_path / "float32")["quantization"] is None
    features = {name: np.asarray(model.preprocessor(sentences)[name]) for name in INPUTS}
    exact, quantized = (outputs_row_by_row(tmp_path / n, features) for n in ("float32", "int8"))
    expected = numpy_int8_logits(model, features, monkeypatch)
    # Measured over 91 exports (13 tokenizers, 7 times): 16 rows of 5,824, at most 2 in an export,
    # were 1e-5 or more off the NumPy int8 model (each an activation that float32 rounds
    # to the next 8-bit step and float64 does not); the float32 export is 1e-4 or more off it on
    # every row.
    gaps, float_gaps = (np.abs(x - expected).max(-1) for x in (quantized, exact))
    assert np.mean(gaps < 1e-5) >= 0.9 and np.mean(float_gaps < 1e-5) < 0.1


def test_a_format_that_takes_no_quantization_is_refused(tmp_path, capsys):
    tokenizer = tokenizer_of(PIECES)
    run = save_run(task_model("classifier", "mnli", tokenizer), "mnli", tmp_path / "ft", tokenizer)
    out = tmp_path / "out"
    err = refused(capsys, tmp_path, run, out, "--format", "tf_saved_model", "--quantize", "int8")
    assert "--quantize int8: takes --format onnx, not tf_saved_model" in err
    assert not out.exists()
