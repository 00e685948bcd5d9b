"""SQuAD windows, answer positions and span decoding back to the original context."""

import numpy as np
import pytest
from conftest import backend_independent, shared_data, tokenizer_of

from keras_electra.data import ElectraTokenizer, read_squad
from keras_electra.finetuning.metrics import normalize_answer
from keras_electra.finetuning.question_answering import decode_answer, squad_features

pytestmark = backend_independent

WORDS = [
    "where",
    "is",
    "the",
    "cafe",
    "?",
    "de",
    "flore",
    ".",
    ",",
    "-",
    "creme",
    "normans",
    "paris",
]
FILLER = [f"x{i}" for i in range(40)]
QUESTION = "Where is the café?"  # 5 tokens
CLS, SEP, PAD = 2, 3, 0


@pytest.fixture(scope="module")
def tokenizer():
    """A fixed uncased vocabulary: every word and filler "x<i>" is one token."""
    return tokenizer_of(WORDS + FILLER)


def one_hot_logits(windows):
    """Logits that put all mass on each window's gold start/end ([CLS] where the answer is absent)."""
    length = len(windows[0]["token_ids"])
    starts = np.zeros((len(windows), length))
    ends = np.zeros((len(windows), length))
    for row, window in enumerate(windows):
        starts[row, window["start_position"]] = 1.0
        ends[row, window["end_position"]] = 1.0
    return starts, ends


def context_of(n_before, answer, n_after):
    return " ".join(FILLER[:n_before] + [answer] + FILLER[n_before : n_before + n_after])


# Windows of 20 tokens: [CLS] + 5 question tokens + [SEP] + 12 context tokens + [SEP]; starts 5 apart.
SMALL = dict(max_length=20, doc_stride=5)


def test_window_layout(tokenizer):
    context = context_of(19, "Café de Flore", 0)  # 22 context tokens
    windows = squad_features(tokenizer, QUESTION, context, **SMALL)
    assert [w["context_start"] for w in windows] == [0, 5, 10]  # 0-11, 5-16, 10-21
    question_ids = tokenizer.encode(QUESTION)
    context_ids, context_offsets = tokenizer.encode_with_offsets(context)
    for window in windows:
        start = window["context_start"]
        length = min(12, len(context_ids) - start)
        expected = [CLS] + question_ids + [SEP] + context_ids[start : start + length] + [SEP]
        expected += [PAD] * (20 - len(expected))
        np.testing.assert_array_equal(window["token_ids"], expected)
        padding = [0] * (12 - length)
        np.testing.assert_array_equal(window["segment_ids"], [0] * 7 + [1] * (length + 1) + padding)
        np.testing.assert_array_equal(window["padding_mask"], [1] * (8 + length) + padding)
        expected_offsets = context_offsets[start : start + length]
        np.testing.assert_array_equal(window["offsets"][7 : 7 + length], expected_offsets)
        assert (window["offsets"][:7] == -1).all() and (window["offsets"][7 + length :] == -1).all()
        assert not window["max_context"][:7].any() and not window["max_context"][7 + length :].any()
        assert "start_position" not in window
    # Every context token is the max-context token of exactly one window.
    owners = np.zeros(len(context_ids), int)
    for window in windows:
        positions = np.nonzero(window["max_context"])[0]
        owners[window["context_start"] + positions - 7] += 1
    np.testing.assert_array_equal(owners, 1)


def test_long_question_is_cut(tokenizer):
    windows = squad_features(
        tokenizer, " ".join(FILLER[:30]), "Paris.", max_length=16, max_query_length=4
    )
    question, context = tokenizer.encode(" ".join(FILLER[:4])), tokenizer.encode("Paris.")
    np.testing.assert_array_equal(
        windows[0]["token_ids"][:9], [CLS] + question + [SEP] + context + [SEP]
    )


@pytest.mark.parametrize(
    "n_before, n_after, positions",
    [
        (13, 0, [(0, 0), (15, 17)]),  # at the very end: only the second window holds it
        (10, 4, [(0, 0), (12, 14)]),  # across the boundary: window 0 ends inside it
        (2, 12, [(9, 11), (0, 0)]),  # early: only the first window
        (6, 8, [(13, 15), (8, 10)]),  # in the overlap: both windows
    ],
)
def test_answer_positions_and_round_trip(tokenizer, n_before, n_after, positions):
    answer = "Café de Flore"
    context = context_of(n_before, answer, n_after)
    answer_start = context.index(answer)
    windows = squad_features(
        tokenizer, QUESTION, context, answer_start=answer_start, answer_text=answer, **SMALL
    )
    assert [(w["start_position"], w["end_position"]) for w in windows] == positions
    for window in windows:
        if window["start_position"]:
            offsets = window["offsets"]
            start, end = offsets[window["start_position"]][0], offsets[window["end_position"]][1]
            assert context[start:end] == answer
    result = decode_answer(*one_hot_logits(windows), windows, context)
    assert result["text"] == answer
    assert (result["start_char"], result["end_char"]) == (answer_start, answer_start + len(answer))
    assert result["score"] == 2.0
    # The same text from two windows is listed once.
    assert [entry["text"] for entry in result["n_best"]].count(answer) == 1


def test_accents_punctuation_and_original_case():
    context = "L'été dernier, au Café-Crème (rue de Buci), on servait un « naïf » ÉCLAIR à 3,50 €."
    tokenizer = ElectraTokenizer.train(texts=[context] * 2, vocab_size=150, min_frequency=1)
    for answer in ["Café-Crème", "rue de Buci", "« naïf » ÉCLAIR", "3,50 €", "L'été"]:
        start = context.index(answer)
        windows = squad_features(tokenizer, "Où?", context, answer_start=start, answer_text=answer)
        assert len(windows) == 1
        result = decode_answer(*one_hot_logits(windows), windows, context)
        assert result["text"] == answer


def test_answer_inside_a_token_is_widened(tokenizer):
    # "Normans" is one token, so the answer "Norman" can only be predicted as the whole word.
    context = "the Normans of Paris"
    windows = squad_features(tokenizer, QUESTION, context, answer_start=4, answer_text="Norman")
    assert (windows[0]["start_position"], windows[0]["end_position"]) == (8, 8)
    assert decode_answer(*one_hot_logits(windows), windows, context)["text"] == "Normans"
    # Surrounding whitespace in the gold text is not part of any token.
    windows = squad_features(tokenizer, QUESTION, context, answer_start=3, answer_text=" Normans ")
    assert decode_answer(*one_hot_logits(windows), windows, context)["text"] == "Normans"


def test_decoding_rules(tokenizer):
    context = context_of(10, "Paris", 0)  # 11 context tokens at positions 7-17
    windows = squad_features(tokenizer, QUESTION, context, max_length=20)
    assert len(windows) == 1
    starts, ends = np.zeros((1, 20)), np.zeros((1, 20))
    # Huge logits on [CLS], the question, [SEP] and padding are never chosen.
    starts[0, [0, 2, 6, 18, 19]] = ends[0, [0, 2, 6, 18, 19]] = 100.0
    starts[0, 7:18] = ends[0, 7:18] = -10.0
    starts[0, 8], ends[0, 10] = 3.0, 2.0  # x1 .. x3: 5.0
    starts[0, 14], ends[0, 17] = (
        1.0,
        1.5,
    )  # x7 .. Paris: 2.5; x1 .. Paris: 4.5; x7 .. x3: end before start
    result = decode_answer(starts, ends, windows, context)
    assert result["text"] == "x1 x2 x3" and result["score"] == 5.0
    assert (result["start_char"], result["end_char"]) == (3, 11)
    texts = [entry["text"] for entry in result["n_best"]]
    assert texts[:3] == ["x1 x2 x3", "x1 x2 x3 x4 x5 x6 x7 x8 x9 Paris", "x7 x8 x9 Paris"]
    scores = [entry["score"] for entry in result["n_best"]]
    assert scores[:3] == [5.0, 4.5, 2.5] and scores == sorted(scores, reverse=True)
    assert len(result["n_best"]) == 20 and len(set(texts)) == 20
    assert abs(sum(entry["probability"] for entry in result["n_best"]) - 1.0) < 1e-9
    for entry in result["n_best"]:
        assert context[entry["start_char"] : entry["end_char"]] == entry["text"]
        assert 7 <= entry["start_index"] <= entry["end_index"] <= 17
        assert entry["score"] == starts[0, entry["start_index"]] + ends[0, entry["end_index"]]
    # max_answer_length counts tokens.
    result = decode_answer(starts, ends, windows, context, max_answer_length=2)
    assert [entry["text"] for entry in result["n_best"]][:3] == [
        "x1",
        "x1 x2",
        "x2 x3",
    ]  # -7, -7, -8
    assert all(entry["end_index"] - entry["start_index"] < 2 for entry in result["n_best"])
    # n_best also bounds the starts and ends tried in each window (as in BERT): here 8, 14, 7 and
    # 10, 17, 7, of which only x0 .. x0 is at most two tokens long.
    result = decode_answer(starts, ends, windows, context, max_answer_length=2, n_best=3)
    assert [entry["text"] for entry in result["n_best"]] == ["x0"]
    # Logits may also come as a list of rows, longer than the window.
    padded = (
        [np.concatenate([row, [1e9]]) for row in starts],
        [np.concatenate([row, [1e9]]) for row in ends],
    )
    assert decode_answer(*padded, windows, context)["text"] == "x1 x2 x3"
    # No valid span at all.
    empty = decode_answer(np.full((1, 20), -np.inf), np.zeros((1, 20)), windows, context)
    assert empty == {"text": "", "start_char": None, "end_char": None, "score": None, "n_best": []}
    with pytest.raises(ValueError, match="1 windows but 2 start"):
        decode_answer(np.zeros((2, 20)), np.zeros((2, 20)), windows, context)


def test_max_context_rule(tokenizer):
    context = context_of(20, "Paris", 0)
    windows = squad_features(tokenizer, QUESTION, context, **SMALL)  # windows 0-11, 5-16, 10-20
    # Token 10 ("x10") sits at the right edge of window 0 but the middle of window 1.
    assert not windows[0]["max_context"][7 + 10] and windows[1]["max_context"][7 + 5]
    starts, ends = np.zeros((3, 20)), np.zeros((3, 20))
    starts[0, 7 + 10] = ends[0, 7 + 11] = 10.0  # "x10 x11", only from window 0
    assert (
        decode_answer(starts, ends, windows, context, max_context_only=False)["text"] == "x10 x11"
    )
    assert decode_answer(starts, ends, windows, context)["text"] != "x10 x11"


def test_bad_arguments(tokenizer):
    context = "the Normans of Paris"
    with pytest.raises(ValueError, match="is not at character 5"):
        squad_features(tokenizer, QUESTION, context, answer_start=5, answer_text="Normans")
    with pytest.raises(ValueError, match="both answer_start and answer_text"):
        squad_features(tokenizer, QUESTION, context, answer_start=4)
    with pytest.raises(ValueError, match="covers no token"):
        squad_features(tokenizer, QUESTION, context, answer_start=3, answer_text=" ")
    with pytest.raises(ValueError, match="leaves no room"):
        squad_features(tokenizer, QUESTION, context, max_length=8)
    with pytest.raises(ValueError, match="doc_stride"):
        squad_features(tokenizer, QUESTION, context, doc_stride=0)
    windows = squad_features(tokenizer, QUESTION, "", max_length=16)
    assert len(windows) == 1 and (windows[0]["offsets"] == -1).all()
    assert decode_answer(np.zeros((1, 16)), np.zeros((1, 16)), windows, "")["text"] == ""


# --- SQuAD v1.1 dev, every question -----------------------------------------------------------------


@pytest.mark.large
@pytest.mark.parametrize("max_length, doc_stride", [(384, 128), (128, 32)])
def test_squad_dev_gold_spans_decode_to_gold_text(max_length, doc_stride):
    questions = read_squad(shared_data("squad_v1.1", "dev-v1.1.json.zip"))
    assert len(questions) == 10570
    contexts = list(dict.fromkeys(example.context for example in questions))
    tokenizer = ElectraTokenizer.train(
        texts=contexts + [e.question for e in questions], vocab_size=8000
    )
    encodings = dict(zip(contexts, tokenizer.encode_batch_with_offsets(contexts)))

    exact = normalized = inside_token = multi_window = 0
    misses = []
    for example in questions:
        context, gold = example.context, example.answers[0]
        windows = squad_features(
            tokenizer,
            example.question,
            context,
            max_length=max_length,
            doc_stride=doc_stride,
            answer_start=gold["answer_start"],
            answer_text=gold["text"],
            context_encoding=encodings[context],
        )
        holding = [w for w in windows if w["start_position"]]
        assert holding, example.id  # some window always holds the whole answer
        multi_window += len(windows) > 1
        tokens = max(w["end_position"] - w["start_position"] + 1 for w in holding)
        result = decode_answer(
            *one_hot_logits(windows), windows, context, max_answer_length=max(30, tokens)
        )
        text = result["text"]
        stripped = gold["text"].strip()
        # Where a gold boundary falls inside a token, the span is widened to whole tokens.
        start = gold["answer_start"] + len(gold["text"]) - len(gold["text"].lstrip())
        aligned = (result["start_char"], result["end_char"]) == (start, start + len(stripped))
        if aligned:
            assert text == stripped, example.id
        else:
            inside_token += 1
            assert result["start_char"] <= start and start + len(stripped) <= result["end_char"], (
                example.id
            )
        exact += text == gold["text"]
        if normalize_answer(text) == normalize_answer(gold["text"]):
            normalized += 1
        else:
            misses.append((gold["text"], text))
    print(
        f"\nSQuAD dev, windows of {max_length} every {doc_stride}: {len(questions)} questions, "
        f"{multi_window} over several windows; decoded gold span equals the gold text exactly: {exact}, "
        f"after SQuAD normalisation: {normalized}; boundary inside a token: {inside_token}; "
        f"first misses: {misses[:8]}"
    )
    # Every miss is an answer boundary inside a token ("Norman" in "Normans"): ~0.2% of questions.
    assert len(misses) <= inside_token <= 40
    assert exact >= len(questions) - 40
