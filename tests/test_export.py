"""`keras-electra export` and `predict` on an export (docs/serving.md): the exported model, run by its
own runtime (onnxruntime, `tf.saved_model.load`, LiteRT's interpreter), gives the Keras model's outputs
within 1e-4 in float32, for each head and each format this backend exports; `predict` prints the same
lines from the export as from the .keras model, and on an ONNX export imports no Keras, TensorFlow, JAX
or torch; tokenizer.json alone (`tokenizers`) gives the preprocessor's inputs. Bad input and the
refused formats: tests/test_export_refusals.py.
"""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND, shared_data, tokenizer_of
from references import tiny_backbone
from test_finetune_cli import run_cli

import keras_electra as ke
from keras_electra.cli.main import main
from keras_electra.data.conll import read_conll2003
from keras_electra.data.glue import read_glue
from keras_electra.data.squad import read_squad
from keras_electra.finetuning import tasks as finetuning_tasks
from keras_electra.finetuning.text_inputs import text_features
from keras_electra.serving.exporter import DYNAMIC_AXES
from keras_electra.serving.layout import FORMATS, INPUTS, TOKENIZER_FILE, read_serving
from keras_electra.serving.runtimes import load_runtime

PIECES = (
    "the cat sat on a mat dog ran where is paris new york un ##believ ##able , . ? big small red fish "
    "who what did see river city lives in"
).split()
TAGS = ["O", "B-LOC", "I-LOC", "B-MISC"]
FIRSTS = ["the cat sat on the mat", "a dog ran", "where is paris ?", "unbelievable red fish"]
SECONDS = ["a big dog", "the small cat sat on a red mat .", "new york", "the river"]
SENTENCES = [
    ["the", "unbelievable", "cat"],
    ["New", "York", ",", "Paris", "."],
    ["a", "red", "fish"],
]
QUESTIONS = ["where is the cat ?", "who lives in paris ?"]
CONTEXTS = [
    "The big cat sat on the red mat in the city.",
    "A dog ran. The small fish lives in the river. Paris is a big city. The cat lives in Paris.",
]
# head -> the task its run directory names (None: a bare .keras file) and its made-up input
HEADS = {
    "classifier": ("mnli", (FIRSTS, SECONDS)),
    "regression": ("stsb", (FIRSTS, SECONDS)),
    "token_classifier": ("conll2003", SENTENCES),
    "question_answerer": ("squad", (QUESTIONS, CONTEXTS)),
    "encoder": (None, FIRSTS),
}
HERE = [format for format in FORMATS if (format, BACKEND) in DYNAMIC_AXES]
REFUSED = [format for format in FORMATS if (format, BACKEND) not in DYNAMIC_AXES]
TOLERANCE = 1e-4


def task_model(head, task, tokenizer, length=16, max_sequence_length=32):
    """A two-layer model of `head` with every float weight moved off its initial value, so that a
    weight the export dropped (a zero bias, a unit LayerNorm scale) would show."""
    backbone = tiny_backbone(
        vocab_size=tokenizer.vocab_size, max_sequence_length=max_sequence_length
    )
    if head in ("classifier", "regression"):
        pre = ke.ElectraTextPreprocessor(tokenizer, length)
        model = ke.ElectraClassifier(backbone, finetuning_tasks.num_classes(task), pre, seed=1)
    elif head == "token_classifier":
        pre = ke.ElectraTokenClassifierPreprocessor(tokenizer, length, label_names=TAGS)
        model = ke.ElectraTokenClassifier(backbone, len(TAGS), pre, seed=1)
    elif head == "question_answerer":
        pre = ke.ElectraQuestionAnswererPreprocessor(
            tokenizer, length, doc_stride=length // 4, max_query_length=length // 4
        )
        model = ke.ElectraQuestionAnswerer(backbone, pre, seed=1)
    else:
        model = backbone
    rng = np.random.default_rng(0)
    model.set_weights(
        [w + rng.normal(0, 0.1, w.shape) if w.dtype.kind == "f" else w for w in model.get_weights()]
    )
    return model


def save_run(model, task, directory, tokenizer):
    """A `finetune` run directory (model.keras, task.json); an encoder's .keras file and vocab.txt."""
    directory.mkdir(parents=True)
    if task is None:
        model.save(directory / "encoder.keras")
        tokenizer.save(directory)
        return directory / "encoder.keras"
    model.save(directory / "model.keras")
    (directory / "task.json").write_text(json.dumps({"task": task}))
    return directory


def inputs_of(model, head, x, tokenizer):
    """The model's inputs for `x`: its preprocessor's; an encoder's padded to its position table's
    length, which an export of a fixed length requires."""
    if head == "encoder":
        return text_features(tokenizer, x, model.max_sequence_length)
    return {name: np.asarray(model.preprocessor(x)[name]) for name in INPUTS}


def keras_outputs(model, head, features):
    outputs = model.predict(features, verbose=0)
    return [outputs["sequence_output"], outputs["cls_output"]] if head == "encoder" else [outputs]


def exporter(tmp_path_factory, tokenizer, tasks, **sizes):
    """`export(head, format)`: `(model, run directory, export directory)` of a model of `head` for
    `tasks[head]` over `tokenizer` (`sizes`: task_model's), exported once."""
    made = {}

    def export(head, format):
        if (head, format) not in made:
            root = tmp_path_factory.mktemp(f"{head}-{format}")
            model = task_model(head, tasks[head], tokenizer, **sizes)
            run = save_run(model, tasks[head], root / "run", tokenizer)
            code, _, err = run_cli_quiet("export", run, root / "out", "--format", format)
            assert code == 0, err
            made[head, format] = model, run, root / "out"
        return made[head, format]

    export.tokenizer = tokenizer
    return export


def made_up_exporter(tmp_path_factory):
    """`exporter` of the made-up text's models (HEADS)."""
    tasks = {head: task for head, (task, _) in HEADS.items()}
    return exporter(tmp_path_factory, tokenizer_of(PIECES), tasks)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return made_up_exporter(tmp_path_factory)


def run_cli_quiet(*argv):
    """`run_cli` for a fixture wider than a test, which cannot use capsys."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def fast_or_large(heads):
    """Every head in the first format this backend exports, the classifier in every format: the fast
    tier; the other pairs are large (each export takes seconds)."""
    return [
        pytest.param(head, format, marks=[] if fast else pytest.mark.large)
        for format in HERE
        for head in heads
        for fast in [format == HERE[0] or head == "classifier"]
    ]


def check_parity(export, head, format, x):
    """The export's runtime gives the Keras model's outputs on `x` within TOLERANCE, in float32."""
    model, _, out = export(head, format)
    serving = read_serving(out)
    features = inputs_of(model, head, x, export.tokenizer)
    expected = keras_outputs(model, head, features)
    got = load_runtime(out, serving)(features)
    assert [o.shape for o in got] == [e.shape for e in expected]
    assert [o["name"] for o in serving["outputs"]] == (
        ["sequence_output", "cls_output"] if head == "encoder" else ["logits"]
    )
    for output, reference in zip(got, expected):
        assert output.dtype == np.float32
        assert np.abs(output - reference).max() <= TOLERANCE
    batch, length = DYNAMIC_AXES[format, BACKEND]
    assert serving["batch_size"] == (None if batch else 1) and serving["length_fixed"] == (
        not length
    )
    assert serving["max_length"] == features["token_ids"].shape[1]


def check_predict_lines(export, capsys, head, format, x):
    """`predict` prints the same lines from the export as from the run directory's .keras model."""
    _, run, out = export(head, format)
    if head == "token_classifier":
        texts = [" ".join(words) for words in x]
    else:
        texts = ["\t".join(pair) for pair in zip(*x)]
    code, from_keras, err = run_cli(capsys, "predict", "--model", run, *texts)
    assert code == 0, err
    code, from_export, err = run_cli(capsys, "predict", "--model", out, *texts)
    assert code == 0, err
    assert from_export == from_keras and len(from_export.splitlines()) == len(texts)


@pytest.mark.parametrize("head, format", fast_or_large(HEADS))
def test_the_export_gives_the_keras_models_outputs(exports, head, format):
    check_parity(exports, head, format, HEADS[head][1])


@pytest.mark.parametrize(
    "head, format", fast_or_large([head for head in HEADS if head != "encoder"])
)
def test_predict_prints_the_same_lines_from_the_export(exports, capsys, head, format):
    check_predict_lines(exports, capsys, head, format, HEADS[head][1])


@pytest.fixture(scope="module")
def real_data():
    """head -> `(task, input)` from the real data: SST-2 dev sentences (classifier, encoder), STS-B dev
    pairs (regressor), CoNLL-2003 dev sentences, SQuAD v1.1 dev questions."""
    sst2 = read_glue("sst2", shared_data("glue", "SST-2"), "dev").text_a[:48]
    stsb = read_glue("stsb", shared_data("glue", "STS-B"), "dev")
    conll = read_conll2003(shared_data("conll2003", "eng.testa"))[:48]
    squad = read_squad(shared_data("squad_v1.1", "dev-v1.1.json.zip"))[:12]
    return {
        "classifier": ("sst2", sst2),
        "regression": ("stsb", (stsb.text_a[:48], stsb.text_b[:48])),
        "token_classifier": ("conll2003", [sentence.words for sentence in conll]),
        "question_answerer": ("squad", ([e.question for e in squad], [e.context for e in squad])),
        "encoder": (None, sst2),
    }


@pytest.fixture(scope="module")
def real_exports(tmp_path_factory, real_data):
    texts = [text for _, x in real_data.values() for part in flat(x) for text in part]
    tokenizer = ke.ElectraTokenizer.train(texts=texts, vocab_size=2000, min_frequency=1)
    tasks = {head: task for head, (task, _) in real_data.items()}
    return exporter(tmp_path_factory, tokenizer, tasks, length=128, max_sequence_length=128)


def flat(x):
    """The texts of an input, as lists: words, a pair's two sides, or the texts themselves."""
    if isinstance(x, tuple):
        return list(x)
    return [[" ".join(words) for words in x]] if isinstance(x[0], list) else [x]


@pytest.mark.large
@pytest.mark.parametrize("format", HERE)
@pytest.mark.parametrize("head", list(HEADS))
def test_the_export_gives_the_keras_models_outputs_on_real_data(
    real_exports, real_data, capsys, head, format
):
    check_parity(real_exports, head, format, real_data[head][1])
    if head != "encoder":
        check_predict_lines(real_exports, capsys, head, format, real_data[head][1])


# A runner as the console script runs: `keras_electra` defers Keras when sys.argv[0] is keras-electra.
RUNNER = """
import sys
sys.argv[0] = "keras-electra"
from keras_electra.cli.main import main
status = main(sys.argv[1:])
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
sys.exit(status)
"""


@pytest.mark.skipif(BACKEND != "tensorflow", reason="runs an ONNX export: tested in the TF pass")
def test_predict_on_an_onnx_export_imports_no_framework(exports, capsys, tmp_path):
    _, run, out = exports("classifier", "onnx")
    texts = ["the cat sat\ta dog ran", "new york\tparis"]
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, "predict", "--model", str(out), *texts],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stderr.splitlines()[-1].split())
    assert {"onnxruntime", "tokenizers", "keras_electra"} <= imported
    assert not imported & {"keras", "tensorflow", "jax", "jaxlib", "torch"}
    assert result.stdout == run_cli(capsys, "predict", "--model", run, *texts)[1]


@pytest.mark.skipif(BACKEND != "jax", reason="backend-independent: runs in the JAX pass")
def test_tokenizer_json_alone_gives_the_preprocessors_inputs(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from keras_electra.finetuning.token_labels import align_word_labels_batch
    from keras_electra.serving.tokenizer_json import read_tokenizer_json, write_tokenizer_json

    tokenizer = tokenizer_of(PIECES, lowercase=False)
    write_tokenizer_json(tokenizer, tmp_path / TOKENIZER_FILE, 10, pad_to_max_length=True)
    theirs = tokenizers.Tokenizer.from_file(str(tmp_path / TOKENIZER_FILE))

    def encoded(encodings):
        return {
            "token_ids": np.array([e.ids for e in encodings]),
            "segment_ids": np.array([e.type_ids for e in encodings]),
            "padding_mask": np.array([e.attention_mask for e in encodings]),
        }

    long_texts = [*FIRSTS, "the cat sat on the mat where the dog ran in new york , paris"]
    # Pairs where at most one text is cut, the other fitting in half the room: tokenizers'
    # "longest_first" and BERT's rule agree there.
    pairs = (
        ["the cat", "a big fish", "paris"],
        ["sat", "the small cat sat on a red mat .", "a"],
    )
    words = [["New", "York", ",", "Paris", "."], ["Unbelievable"] * 12]
    for expected, got in [
        (text_features(tokenizer, long_texts, 10), theirs.encode_batch(long_texts)),
        (text_features(tokenizer, pairs, 10), theirs.encode_batch(list(zip(*pairs)))),
        (
            align_word_labels_batch(tokenizer, words, max_length=10),
            theirs.encode_batch(words, is_pretokenized=True),
        ),
    ]:
        for name, value in encoded(got).items():
            np.testing.assert_array_equal(value, expected[name])
    # Where both texts of a pair are cut, the first keeps one token less under "longest_first".
    pair = (["the cat sat on the mat"], ["where is paris ? new york"])
    assert theirs.encode(*(side[0] for side in pair)).type_ids.count(0) == 1 + 3 + 1
    assert list(text_features(tokenizer, pair, 10)["segment_ids"][0]).count(0) == 1 + 4 + 1
    back = read_tokenizer_json(tmp_path / TOKENIZER_FILE)
    assert (back.vocabulary, back.lowercase) == (tokenizer.vocabulary, False)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="runs an ONNX export: tested in the TF pass")
def test_the_documented_snippet_runs_an_export_with_onnxruntime_and_tokenizers(tmp_path, capsys):
    """docs/serving.md's (and the README's) Python, run as written on an SST-2 export: the labels it
    prints are `predict`'s."""
    root = Path(__file__).resolve().parents[1]
    snippets = [
        text.split(heading)[1].split("```python\n")[1].split("```")[0]
        for text, heading in [
            ((root / "docs" / "serving.md").read_text(), "## Running an export in Python"),
            ((root / "README.md").read_text(), "## Serve it"),
        ]
    ]
    snippet = snippets[0]
    assert snippets[1] == snippet
    tokenizer = tokenizer_of(PIECES)
    model = task_model("classifier", "sst2", tokenizer)
    run = save_run(model, "sst2", tmp_path / "ft", tokenizer)
    assert run_cli(capsys, "export", run, tmp_path / "exports" / "sst2", "--format", "onnx")[0] == 0
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    texts = ["a gorgeous, witty film", "flat and lifeless"]
    lines = run_cli(capsys, "predict", "--model", run, *texts)[1].splitlines()
    assert result.stdout.strip() == repr([line.split()[0] for line in lines])


def test_a_mixed_precision_model_exports_in_float32(tmp_path, capsys):
    """A model fine-tuned under mixed_bfloat16 exports its float32 weights computing in float32: the
    export gives the float32 model's outputs (its own bfloat16 ones are off by bfloat16's rounding)."""
    tokenizer = tokenizer_of(PIECES)
    pre = ke.ElectraTextPreprocessor(tokenizer, 16)
    backbone = tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32)
    float32 = ke.ElectraClassifier(backbone, 3, pre, seed=1)
    mixed = ke.ElectraClassifier(
        tiny_backbone(
            vocab_size=tokenizer.vocab_size, max_sequence_length=32, dtype="mixed_bfloat16"
        ),
        3,
        pre,
        seed=1,
    )
    mixed.set_weights(task_model("classifier", "mnli", tokenizer).get_weights())
    float32.set_weights(mixed.get_weights())
    run = save_run(mixed, "mnli", tmp_path / "ft", tokenizer)
    assert run_cli(capsys, "export", run, tmp_path / "out", "--format", HERE[0])[0] == 0
    features = inputs_of(float32, "classifier", (FIRSTS, SECONDS), tokenizer)
    (got,) = load_runtime(tmp_path / "out", read_serving(tmp_path / "out"))(features)
    assert np.abs(got - float32.predict(features, verbose=0)).max() <= TOLERANCE
    assert np.abs(got - mixed.predict(features, verbose=0)).max() > 10 * TOLERANCE
