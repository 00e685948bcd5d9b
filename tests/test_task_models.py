"""Fine-tuning task models and their preprocessors (docs/electra.md, "Fine-tuning"), against
independent NumPy / Hugging Face references, and their `.keras` round trips
within and across backends."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import BACKEND, to_numpy, tokenizer_of
from harness import check_keras_file
from keras import ops
from references import dense, gelu_erf, tiny_backbone
from scipy.special import log_softmax

import keras_electra as ke
from keras_electra.finetuning.electra_question_answerer import span_loss

BACKENDS = ("tensorflow", "jax", "torch")
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
    ["a", "big", "red", "fish"],
]
SENTENCE_TAGS = [["O", "B-MISC", "O"], ["B-LOC", "I-LOC", "O", "B-LOC", "O"], ["O", "O", "O", "O"]]
QUESTIONS = ["where is the cat ?", "who lives in paris ?"]
CONTEXTS = [
    "The big cat sat on the red mat in the city.",
    "A dog ran. The small fish lives in the river. Red fish see a cat. Paris is a big city, "
    "new york is a big city. The cat lives in Paris.",
]
ANSWERS = [
    {"text": text, "answer_start": context.index(text)}
    for text, context in zip(["red mat", "The cat"], CONTEXTS)
]


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizer_of(PIECES)


def features_of(preprocessor, x):
    return {k: np.asarray(v) for k, v in preprocessor(x).items()}


# --- 1. Classifier heads ----------------------------------------------------------------------


@pytest.mark.parametrize("head", ["electra", "huggingface"])
def test_classifier_logits_match_numpy_head(tokenizer, head):
    pre = ke.ElectraTextPreprocessor(tokenizer, sequence_length=14)
    model = ke.ElectraClassifier(
        tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32),
        3,
        preprocessor=pre,
        head=head,
        seed=1,
    )
    x = features_of(pre, (FIRSTS, SECONDS))
    # Non-zero biases, so that a dropped bias would show.
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            layer.bias.assign(np.random.default_rng(2).normal(0, 0.1, layer.bias.shape))
    cls = to_numpy(model.backbone(x, training=False)["cls_output"]).astype("float64")
    if head == "electra":
        expected = dense(cls, model.get_layer("logits"))
    else:
        expected = dense(gelu_erf(dense(cls, model.get_layer("dense"))), model.get_layer("logits"))
    logits = to_numpy(model(x, training=False))
    assert logits.shape == (len(FIRSTS), 3) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    # `predict` on raw pairs runs the preprocessor and gives the same, dropout-free logits.
    np.testing.assert_allclose(model.predict((FIRSTS, SECONDS), verbose=0), logits, atol=1e-6)
    # Dropout (0.1) acts in training only.
    assert not np.allclose(to_numpy(model(x, training=True)), logits, atol=1e-6)


def test_classifier_rejects_bad_arguments(tokenizer):
    with pytest.raises(ValueError, match="head"):
        ke.ElectraClassifier(
            tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32), 2, head="pooler"
        )
    with pytest.raises(ValueError, match="num_classes"):
        ke.ElectraClassifier(
            tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32), 0
        )


def test_huggingface_head_matches_transformers(tmp_path, tokenizer):
    transformers = pytest.importorskip("transformers")
    import torch

    config = transformers.ElectraConfig(
        vocab_size=tokenizer.vocab_size,
        embedding_size=8,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        num_labels=3,
    )
    torch.manual_seed(0)
    hf = transformers.ElectraForSequenceClassification(config).eval()
    with torch.no_grad():  # HF starts biases at 0 and LayerNorms at 1: perturb everything
        for parameter in hf.parameters():
            parameter.add_(
                torch.randn_like(parameter) * 0.3
            )  # large enough that rows differ clearly
    hf.save_pretrained(tmp_path)
    pre = ke.ElectraTextPreprocessor(tokenizer, sequence_length=14)
    model = ke.load_huggingface(tmp_path, "classifier", preprocessor=pre)
    assert model.head == "huggingface" and model.num_classes == 3
    x = features_of(pre, (FIRSTS, SECONDS))
    with torch.no_grad():
        expected = hf(
            input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
        ).logits.numpy()
    np.testing.assert_allclose(model.predict((FIRSTS, SECONDS), verbose=0), expected, atol=1e-4)


# --- 2. Regression ----------------------------------------------------------------------------


@pytest.mark.large
def test_regression_defaults_to_mse_and_fit_lowers_it(tokenizer):
    pre = ke.ElectraTextPreprocessor(tokenizer, sequence_length=12)
    model = ke.ElectraClassifier(
        tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32),
        1,
        preprocessor=pre,
        seed=1,
    )
    model.compile()
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    assert model.default_metrics() == []
    model.compile(optimizer=keras.optimizers.Adam(1e-2))  # loss "auto" still: a quicker fit
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    y = np.array([[2.0], [1.0], [1.5], [2.5]], "float32")

    def mse():
        return float(np.mean((model.predict(FIRSTS, verbose=0) - y) ** 2))

    before = mse()
    model.fit(
        FIRSTS * 10, np.tile(y, (10, 1)), batch_size=4, epochs=1, shuffle=False, verbose=0
    )  # 10 steps
    after = mse()
    assert after < 0.5 * before, (before, after)
    # The compiled loss is the squared error.
    np.testing.assert_allclose(
        model.evaluate(FIRSTS, y, verbose=0, return_dict=True)["loss"], after, rtol=1e-5
    )


# --- 3. Text preprocessor ---------------------------------------------------------------------


def bert_truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Google BERT's `_truncate_seq_pair` (run_classifier.py), verbatim in logic."""
    tokens_a, tokens_b = list(tokens_a), list(tokens_b)
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_length:
            break
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()
    return tokens_a, tokens_b


def expected_row(tokenizer, a, b, length):
    ids = [tokenizer.cls_token_id, *a, tokenizer.sep_token_id]
    segments = [0] * len(ids)
    if b is not None:
        ids += [*b, tokenizer.sep_token_id]
        segments += [1] * (len(b) + 1)
    pad = length - len(ids)
    return ids + [tokenizer.pad_token_id] * pad, segments + [0] * pad, [1] * len(ids) + [0] * pad


def words(n, offset=0):
    return " ".join(
        PIECES[(offset + i) % 12] for i in range(n)
    )  # the first 12 pieces are whole words


@pytest.mark.parametrize(
    "len_a,len_b",
    [(2, 3), (0, 4), (3, 0), (9, 2), (2, 9), (6, 6), (5, 6), (6, 5), (20, 20), (7, 4)],
)
def test_pairs_pack_and_truncate_longest_first(tokenizer, len_a, len_b):
    length = 10  # room for 7 tokens between [CLS] [SEP] [SEP]
    first, second = words(len_a), words(len_b, offset=3)
    out = features_of(
        ke.ElectraTextPreprocessor(tokenizer, sequence_length=length), ([first], [second])
    )
    a, b = bert_truncate_seq_pair(tokenizer.encode(first), tokenizer.encode(second), length - 3)
    ids, segments, mask = expected_row(tokenizer, a, b, length)
    np.testing.assert_array_equal(out["token_ids"][0], ids)
    np.testing.assert_array_equal(out["segment_ids"][0], segments)
    np.testing.assert_array_equal(out["padding_mask"][0], mask)
    assert all(v.dtype == np.int32 and v.shape == (1, length) for v in out.values())


def test_batches_of_single_sentences_and_pairs(tokenizer):
    length = 9
    pre = ke.ElectraTextPreprocessor(tokenizer, sequence_length=length)
    single = features_of(pre, FIRSTS)
    pairs = features_of(pre, (FIRSTS, SECONDS))
    for row, (first, second) in enumerate(zip(FIRSTS, SECONDS)):
        ids, segments, mask = expected_row(
            tokenizer, tokenizer.encode(first)[: length - 2], None, length
        )
        np.testing.assert_array_equal(single["token_ids"][row], ids)
        np.testing.assert_array_equal(single["segment_ids"][row], segments)
        np.testing.assert_array_equal(single["padding_mask"][row], mask)
        a, b = bert_truncate_seq_pair(tokenizer.encode(first), tokenizer.encode(second), length - 3)
        ids, segments, mask = expected_row(tokenizer, a, b, length)
        np.testing.assert_array_equal(pairs["token_ids"][row], ids)
        np.testing.assert_array_equal(pairs["segment_ids"][row], segments)
        np.testing.assert_array_equal(pairs["padding_mask"][row], mask)
    # A bare string is one sentence; labels come back beside the features.
    np.testing.assert_array_equal(features_of(pre, FIRSTS[0])["token_ids"], single["token_ids"][:1])
    features, labels = pre(FIRSTS, [0, 1, 2, 1])
    np.testing.assert_array_equal(features["token_ids"], single["token_ids"])
    np.testing.assert_array_equal(labels, [0, 1, 2, 1])


def test_text_preprocessor_errors(tokenizer):
    pre = ke.ElectraTextPreprocessor(tokenizer, sequence_length=8)
    with pytest.raises(ValueError, match="3 first sentences but 2"):
        pre((FIRSTS[:3], SECONDS[:2]))
    with pytest.raises(ValueError, match="tuple of 3"):
        pre((FIRSTS, SECONDS, SECONDS))
    with pytest.raises(ValueError, match="not a string"):
        pre(["fine", 3])
    with pytest.raises(ValueError, match="not a string"):
        pre((["fine", "also"], ["fine", None]))
    with pytest.raises(ValueError, match="sequence_length"):
        ke.ElectraTextPreprocessor(tokenizer, sequence_length=2)


# --- 4. Token classification ------------------------------------------------------------------


def first_subtoken_positions(tokenizer, words_, length):
    """Position of each word's first sub-token, None for words cut whole by `length`; and all ids."""
    positions, ids = [], []
    for word in words_:
        pieces = tokenizer.encode(word)
        if len(ids) + len(pieces) > length - 2 or (positions and positions[-1] is None):
            positions.append(None)
            continue
        positions.append(1 + len(ids))
        ids += pieces
    return positions, ids


@pytest.mark.parametrize("as_ids", [False, True])
def test_token_labels_on_first_subtokens(tokenizer, as_ids):
    length = 10
    pre = ke.ElectraTokenClassifierPreprocessor(tokenizer, sequence_length=length, label_names=TAGS)
    tags = [[TAGS.index(t) for t in row] for row in SENTENCE_TAGS] if as_ids else SENTENCE_TAGS
    features, y, weights = pre(SENTENCES, tags, sample_weight=[1.0, 0.5, 2.0])
    assert set(features) == {"token_ids", "segment_ids", "padding_mask"}
    for row, (words_, row_tags) in enumerate(zip(SENTENCES, SENTENCE_TAGS)):
        positions, ids = first_subtoken_positions(tokenizer, words_, length)
        assert None not in positions
        token_ids, segments, mask = expected_row(tokenizer, ids, None, length)
        np.testing.assert_array_equal(features["token_ids"][row], token_ids)
        np.testing.assert_array_equal(features["segment_ids"][row], segments)
        np.testing.assert_array_equal(features["padding_mask"][row], mask)
        expected_y = np.zeros(length, "int64")
        expected_w = np.zeros(length, "float32")
        for position, tag in zip(positions, row_tags):
            expected_y[position] = TAGS.index(tag)
            expected_w[position] = [1.0, 0.5, 2.0][row]
        np.testing.assert_array_equal(y[row], expected_y)
        np.testing.assert_array_equal(weights[row], expected_w)
    # "unbelievable" is three pieces: only the first is weighted.
    np.testing.assert_array_equal(weights[0, :6], [0, 1, 1, 0, 0, 1])


def test_token_preprocessor_rejects_unknown_tags(tokenizer):
    pre = ke.ElectraTokenClassifierPreprocessor(tokenizer, sequence_length=10, label_names=TAGS)
    with pytest.raises(ValueError, match="B-PER"):
        pre(SENTENCES[:1], [["O", "B-PER", "O"]])


@pytest.mark.parametrize("names", [True, False])
def test_predict_tags_one_per_word(tokenizer, names):
    length = 8  # the last sentence below loses its last two words to truncation
    pre = ke.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=length, label_names=TAGS if names else None
    )
    model = ke.ElectraTokenClassifier(
        tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32),
        len(TAGS),
        preprocessor=pre,
        seed=1,
    )
    sentences = SENTENCES + [["the", "cat", "sat", "on", "unbelievable", "mat"]]
    predicted = model.predict_tags(sentences)
    assert [len(t) for t in predicted] == [len(s) for s in sentences]
    logits = model.predict(features_of(pre, sentences), verbose=0)
    for row, words_ in enumerate(sentences):
        positions, _ = first_subtoken_positions(tokenizer, words_, length)
        ids = [None if p is None else int(np.argmax(logits[row, p])) for p in positions]
        assert predicted[row] == [i if i is None or not names else TAGS[i] for i in ids]
    assert predicted[-1][-2:] == [None, None]
    assert all(
        t is None or (t in TAGS if names else isinstance(t, int)) for row in predicted for t in row
    )


# --- 5. Question answering --------------------------------------------------------------------


def test_span_loss_is_mean_of_start_and_end_cross_entropy():
    rng = np.random.default_rng(0)
    y_pred = rng.normal(0, 2, (4, 7, 2)).astype("float32")
    y_true = np.array([[1, 3], [0, 0], [6, 2], [4, 4]], "int32")
    start = -log_softmax(y_pred[..., 0].astype("float64"), axis=-1)[np.arange(4), y_true[:, 0]]
    end = -log_softmax(y_pred[..., 1].astype("float64"), axis=-1)[np.arange(4), y_true[:, 1]]
    got = to_numpy(span_loss(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)))
    np.testing.assert_allclose(got, (start + end) / 2, rtol=1e-5)


def qa_model(tokenizer, **kwargs):
    pre = ke.ElectraQuestionAnswererPreprocessor(
        tokenizer, sequence_length=16, doc_stride=4, max_query_length=5
    )
    return ke.ElectraQuestionAnswerer(
        tiny_backbone(vocab_size=tokenizer.vocab_size, max_sequence_length=32, **kwargs),
        preprocessor=pre,
        seed=1,
    )


def test_compiled_qa_loss_is_span_loss(tokenizer):
    model = qa_model(tokenizer)
    model.compile()
    features, positions = model.preprocessor((QUESTIONS, CONTEXTS), ANSWERS)
    assert len(positions) > len(QUESTIONS)  # the second context needs several windows
    assert (positions[:, 0] <= positions[:, 1]).all() and (positions[:, 1] > 0).any()
    logits = model.predict(features, verbose=0).astype("float64")
    rows = np.arange(len(positions))
    start = -log_softmax(logits[..., 0], axis=-1)[rows, positions[:, 0]]
    end = -log_softmax(logits[..., 1], axis=-1)[rows, positions[:, 1]]
    loss = model.evaluate((QUESTIONS, CONTEXTS), ANSWERS, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, np.mean((start + end) / 2), rtol=1e-5)


def brute_force_answer(windows, logits, context, max_answer_length=30):
    """The highest start + end logit over every valid span of every window."""
    best = (-np.inf, "")
    for window, row in zip(windows, logits):
        offsets = np.asarray(window["offsets"])
        context_positions = [p for p in range(len(offsets)) if offsets[p, 0] >= 0]
        for s in context_positions:
            if not window["max_context"][s]:
                continue
            for e in context_positions:
                if s <= e < s + max_answer_length:
                    score = row[s, 0] + row[e, 1]
                    if score > best[0]:
                        best = (score, context[offsets[s, 0] : offsets[e, 1]])
    return best[1]


def test_answer_is_the_best_span_sliced_from_the_context(tokenizer):
    model = qa_model(tokenizer)
    results = model.answer(QUESTIONS, CONTEXTS)
    assert len(results) == len(QUESTIONS)
    windows = model.preprocessor.windows(QUESTIONS, CONTEXTS)
    assert len(windows[1]) > 2  # several windows: `answer` must keep each example's rows together
    logits = model.predict((QUESTIONS, CONTEXTS), verbose=0)
    row = 0
    for result, context, example_windows in zip(results, CONTEXTS, windows):
        assert (
            result["text"] and result["text"] == context[result["start_char"] : result["end_char"]]
        )
        rows = logits[row : row + len(example_windows)]
        row += len(example_windows)
        assert result["text"] == brute_force_answer(example_windows, rows, context)
    single = model.answer(QUESTIONS[1], CONTEXTS[1])
    assert len(single) == 1 and single[0]["text"] == results[1]["text"]


# --- 6. Saving ----------------------------------------------------------------------------------


def build_task(kind, tokenizer, dropout=0.1):
    """A task model with its preprocessor, and raw training data `(x, y)`."""
    backbone = tiny_backbone(
        vocab_size=tokenizer.vocab_size, max_sequence_length=32, dropout=dropout
    )
    if kind == "classifier":
        pre = ke.ElectraTextPreprocessor(tokenizer, sequence_length=12)
        model = ke.ElectraClassifier(backbone, 3, preprocessor=pre, dropout=dropout, seed=1)
        return model, (FIRSTS, SECONDS), np.array([0, 2, 1, 1])
    if kind == "token_classifier":
        pre = ke.ElectraTokenClassifierPreprocessor(tokenizer, sequence_length=10, label_names=TAGS)
        model = ke.ElectraTokenClassifier(
            backbone, len(TAGS), preprocessor=pre, dropout=dropout, seed=1
        )
        return model, SENTENCES, SENTENCE_TAGS
    pre = ke.ElectraQuestionAnswererPreprocessor(
        tokenizer, sequence_length=16, doc_stride=4, max_query_length=5
    )
    return (
        ke.ElectraQuestionAnswerer(backbone, preprocessor=pre, seed=1),
        (QUESTIONS, CONTEXTS),
        ANSWERS,
    )


TASKS = ("classifier", "token_classifier", "question_answerer")


def predict(model, x):
    return model.predict(x, verbose=0)


@pytest.mark.large
@pytest.mark.parametrize("kind", TASKS)
def test_round_trip_keeps_predictions_on_raw_text_and_training(tmp_path, tokenizer, kind):
    # No dropout, so that a training step is deterministic in both copies.
    model, x, y = build_task(kind, tokenizer, dropout=0.0)
    model.compile()
    # One full batch a step, so that every step has the same shape (one XLA compilation).
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    steps = int(to_numpy(model.optimizer.iterations))
    assert steps == 2
    # The class, config, weights and predictions on raw text.
    loaded = check_keras_file(model, (x,), tmp_path, call=predict)
    assert type(loaded.preprocessor) is type(model.preprocessor)
    # The vocabulary came back from the file's asset, not from this process.
    assert loaded.preprocessor.tokenizer is not tokenizer
    assert loaded.preprocessor.tokenizer.vocabulary == tokenizer.vocabulary
    if kind == "token_classifier":
        assert loaded.predict_tags(SENTENCES) == model.predict_tags(SENTENCES)
    if kind == "question_answerer":
        assert loaded.answer(QUESTIONS, CONTEXTS) == model.answer(QUESTIONS, CONTEXTS)

    # Training resumes where it stopped: the optimizer, its step count and moments came back.
    assert isinstance(loaded.optimizer, ke.ElectraAdamW)
    assert int(to_numpy(loaded.optimizer.iterations)) == steps
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)
    before = [to_numpy(v) for v in loaded.trainable_variables]
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    loaded.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert int(to_numpy(loaded.optimizer.iterations)) == 3
    assert any(
        not np.array_equal(b, to_numpy(v)) for b, v in zip(before, loaded.trainable_variables)
    )
    for a, b in zip(model.trainable_variables, loaded.trainable_variables):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), atol=1e-6, err_msg=a.path)


LOADER = textwrap.dedent(
    """
    import json, sys
    import numpy as np, keras
    import keras_electra  # registers the task classes
    model = keras.models.load_model(sys.argv[1])
    texts = json.load(open(sys.argv[2]))
    np.savez(
        sys.argv[1] + "." + keras.backend.backend() + ".npz",
        single=model.predict(texts["first"], verbose=0),
        pairs=model.predict((texts["first"], texts["second"]), verbose=0),
        jit_compile=model.jit_compile,
        iterations=keras.ops.convert_to_numpy(model.optimizer.iterations),
        auto_jit_compile=(model.compile(), model.jit_compile)[1],  # what "auto" gives on this backend
    )
    """
)


@pytest.fixture(scope="module")
def loaded_elsewhere(tmp_path_factory, tokenizer):
    """A classifier fine-tuned here and saved, then loaded under each other backend, all at once."""
    folder = tmp_path_factory.mktemp("cross_backend")
    model, x, y = build_task("classifier", tokenizer)
    # Freshly initialised, every row gives nearly the same logits; spread the weights so that a
    # wrong token or weight after loading would show far above the tolerance.
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        variable.assign(to_numpy(variable) + rng.normal(0, 0.3, variable.shape))
    model.compile()
    model.fit(x, y, epochs=3, verbose=0)
    path = str(folder / "classifier.keras")
    model.save(path)
    texts = folder / "texts.json"
    texts.write_text(json.dumps({"first": FIRSTS, "second": SECONDS}))
    runs = {}
    for other in (b for b in BACKENDS if b != BACKEND):
        with open(folder / f"{other}.log", "w") as log:  # a file: a full pipe would stall the child
            runs[other] = subprocess.Popen(
                [sys.executable, "-c", LOADER, path, str(texts)],
                env={**os.environ, "KERAS_BACKEND": other},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    results = {}
    for other, run in runs.items():
        try:
            returncode = run.wait(timeout=300)
        except subprocess.TimeoutExpired:
            run.kill()
            returncode = run.wait()
        results[other] = (returncode, (folder / f"{other}.log").read_text())
    ours = {
        "single": model.predict(FIRSTS, verbose=0),
        "pairs": model.predict((FIRSTS, SECONDS), verbose=0),
    }
    return path, ours, results


@pytest.mark.large
@pytest.mark.parametrize("other", [b for b in BACKENDS if b != BACKEND])
def test_fine_tuned_classifier_loads_under_the_other_backends(loaded_elsewhere, other):
    path, ours, results = loaded_elsewhere
    returncode, log = results[other]
    assert returncode == 0, log[-3000:]
    theirs = np.load(f"{path}.{other}.npz")
    assert int(theirs["iterations"]) == 3  # one batch an epoch
    # "auto" is resolved by the loading backend: no torch.compile for a file trained under JAX.
    assert bool(theirs["jit_compile"]) == bool(theirs["auto_jit_compile"])
    assert (
        ours["single"].std(axis=0).min() > 1e-2
    )  # the rows differ: the check below means something
    np.testing.assert_allclose(theirs["single"], ours["single"], atol=1e-5)
    np.testing.assert_allclose(theirs["pairs"], ours["pairs"], atol=1e-5)
