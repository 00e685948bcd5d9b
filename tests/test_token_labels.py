"""Word labels <-> sub-tokens for tagging, and the tokenizer's offsets and word indices under them."""

import numpy as np
import pytest
from conftest import backend_independent, shared_data, tokenizer_of

from keras_electra.data import CONLL2003_TAGS, ElectraTokenizer, read_conll2003
from keras_electra.finetuning.token_labels import (
    align_word_labels,
    align_word_labels_batch,
    batch_word_predictions,
    word_predictions,
)

pytestmark = backend_independent

PIECES = [
    "the",
    "cafe",
    "un",
    "##believ",
    "##able",
    "paris",
    ",",
    ".",
    "!",
    "-",
    "new",
    "york",
    "a",
    "b",
]
IGNORE = -100


@pytest.fixture(scope="module")
def tokenizer():
    """A fixed uncased vocabulary, so that every split below is known in advance."""
    return tokenizer_of(PIECES)


def ids_of(tokenizer, *tokens):
    return [tokenizer.vocabulary.index(token) for token in tokens]


# --- ElectraTokenizer.encode_with_offsets / encode_words ---------------------------------------


@pytest.mark.parametrize("lowercase", [True, False])
def test_offsets_index_the_original_text(lowercase):
    text = "  Café déjà-vu, naïve\u200bRÉSUMÉ!\x00 😀 Ångström 東京 e\u0301t\u0301e\u0301"
    tokenizer = ElectraTokenizer.train(
        texts=[text] * 3, vocab_size=200, lowercase=lowercase, min_frequency=1
    )
    ids, offsets = tokenizer.encode_with_offsets(text)
    assert ids == tokenizer.encode(text)
    assert len(offsets) == len(ids)
    assert all(0 <= start < end <= len(text) for start, end in offsets)
    assert all(a[1] <= b[0] for a, b in zip(offsets, offsets[1:]))
    # Each span, normalised, is its token: the spans point into the original (cased, accented) text.
    normalize = tokenizer._tokenizer.normalizer.normalize_str
    pieces = [text[start:end] for start, end in offsets]
    for token, piece in zip(tokenizer.tokenize(text), pieces):
        assert normalize(piece).strip() == token.removeprefix("##"), (token, piece)
    # Only characters the normaliser drops lie outside every span.
    covered = "".join(pieces)
    outside = [
        char for position, char in enumerate(text) if not any(s <= position < e for s, e in offsets)
    ]
    assert set(outside) <= set(" \u200b\x00\u0301"), outside
    assert len(covered) + len(outside) == len(text)
    # Original case and accents survive in the spans even when the tokens are lower-cased and stripped.
    assert "Café" in pieces and "déjà" in pieces and "😀" in pieces and "東" in pieces
    assert "!" in pieces and "," in pieces and "-" in pieces


def test_offsets_of_word_pieces(tokenizer):
    text = "The UNBELIEVABLE Café, Paris!"
    ids, offsets = tokenizer.encode_with_offsets(text)
    assert ids == ids_of(tokenizer, "the", "un", "##believ", "##able", "cafe", ",", "paris", "!")
    assert [text[s:e] for s, e in offsets] == [
        "The",
        "UN",
        "BELIEV",
        "ABLE",
        "Café",
        ",",
        "Paris",
        "!",
    ]
    assert tokenizer.encode_batch_with_offsets([text, ""]) == [(ids, offsets), ([], [])]


def test_encode_words_gives_word_indices(tokenizer):
    words = ["The", "unbelievable", "a.b", "", "\x00", "New York", "Café"]
    ids, word_ids = tokenizer.encode_words(words)
    assert ids == ids_of(
        tokenizer, "the", "un", "##believ", "##able", "a", ".", "b", "new", "york", "cafe"
    )
    assert word_ids == [0, 1, 1, 1, 2, 2, 2, 5, 5, 6]  # words 3 and 4 give no token
    assert tokenizer.encode_words_batch([words, []]) == [(ids, word_ids), ([], [])]
    with pytest.raises(TypeError, match="list of strings"):
        tokenizer.encode_words("The cafe")
    with pytest.raises(TypeError, match="word 1 is int"):
        tokenizer.encode_words(["The", 3])


# --- align_word_labels -------------------------------------------------------------------------


def test_label_on_first_sub_token(tokenizer):
    words = ["The", "unbelievable", "Café", ",", "Paris", "!"]
    labels = [0, 1, 2, 0, 3, 0]
    features = align_word_labels(tokenizer, words, labels, max_length=12)
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    expected_ids = [cls] + ids_of(
        tokenizer, "the", "un", "##believ", "##able", "cafe", ",", "paris", "!"
    )
    expected_ids += [sep, pad, pad]
    np.testing.assert_array_equal(features["token_ids"], expected_ids)
    np.testing.assert_array_equal(features["segment_ids"], [0] * 12)
    np.testing.assert_array_equal(features["padding_mask"], [1] * 10 + [0] * 2)
    np.testing.assert_array_equal(features["word_index"], [-1, 0, 1, 1, 1, 2, 3, 4, 5, -1, -1, -1])
    np.testing.assert_array_equal(
        features["labels"], [IGNORE, 0, 1, IGNORE, IGNORE, 2, 0, 3, 0, IGNORE, IGNORE, IGNORE]
    )
    assert features["num_truncated_words"] == 0
    for key in ("token_ids", "segment_ids", "padding_mask", "word_index", "labels"):
        assert features[key].dtype == np.int32 and features[key].shape == (12,)
    np.testing.assert_array_equal(
        word_predictions(features["labels"], features["word_index"]), labels
    )


def test_word_predictions_from_logits(tokenizer):
    words = ["unbelievable", "Paris", "the"]
    features = align_word_labels(tokenizer, words, None, max_length=8)
    assert "labels" not in features
    logits = np.zeros((8, 4))
    # First sub-tokens (positions 1, 4, 5) decide; the continuation pieces' logits are ignored.
    logits[1, 2] = logits[2, 3] = logits[3, 3] = logits[4, 1] = logits[5, 0] = 5.0
    logits[0, 3] = logits[6, 3] = logits[7, 3] = 9.0
    np.testing.assert_array_equal(word_predictions(logits, features["word_index"]), [2, 1, 0])
    np.testing.assert_array_equal(
        word_predictions(logits, features["word_index"], num_words=5, fill_value=7), [2, 1, 0, 7, 7]
    )
    with pytest.raises(ValueError, match="token predictions but"):
        word_predictions(logits[:5], features["word_index"])


def test_empty_words_become_unk_or_raise(tokenizer):
    words = ["Paris", "\x00", "the", "\u200b", " ", "Café"]
    labels = [1, 2, 0, 3, 4, 5]
    features = align_word_labels(tokenizer, words, labels, max_length=10)
    unk = tokenizer.unk_token_id
    assert list(features["token_ids"][:8]) == [tokenizer.cls_token_id] + ids_of(
        tokenizer, "paris"
    ) + [unk] + ids_of(tokenizer, "the") + [unk, unk] + ids_of(tokenizer, "cafe") + [
        tokenizer.sep_token_id
    ]
    np.testing.assert_array_equal(
        word_predictions(features["labels"], features["word_index"]), labels
    )
    with pytest.raises(ValueError, match=r"3 word\(s\) tokenize to nothing .*: 1 \('\\x00'\), 3"):
        align_word_labels(tokenizer, words, labels, max_length=10, empty_words="raise")


def test_truncation_keeps_whole_words(tokenizer):
    words = ["The", "Paris", "unbelievable", "Café", "!"]
    labels = [1, 2, 3, 4, 5]
    # Room for 5 tokens: "the paris un ##believ ##able" fits exactly; Café and ! are lost.
    features = align_word_labels(tokenizer, words, labels, max_length=7)
    assert features["num_truncated_words"] == 2
    assert features["token_ids"][-1] == tokenizer.sep_token_id
    predicted = word_predictions(features["labels"], features["word_index"], num_words=5)
    np.testing.assert_array_equal(predicted, [1, 2, 3, -1, -1])
    # Room for 3: the word split into three pieces does not fit, and is not cut in the middle.
    features = align_word_labels(tokenizer, words, labels, max_length=5)
    assert features["num_truncated_words"] == 3
    np.testing.assert_array_equal(features["word_index"], [-1, 0, 1, -1, -1])
    np.testing.assert_array_equal(features["padding_mask"], [1, 1, 1, 1, 0])
    # A first word longer than the whole budget: nothing fits.
    features = align_word_labels(tokenizer, ["unbelievable"], [1], max_length=4)
    assert features["num_truncated_words"] == 1
    np.testing.assert_array_equal(
        features["token_ids"][:2], [tokenizer.cls_token_id, tokenizer.sep_token_id]
    )
    assert (features["labels"] == IGNORE).all()


def test_batch_equals_single(tokenizer):
    sentences = [["The", "unbelievable", "Café"], [], ["Paris", "\x00", "!"], ["a"] * 20]
    labels = [[1, 2, 3], [], [4, 5, 6], [7] * 20]
    batch = align_word_labels_batch(tokenizer, sentences, labels, max_length=9)
    assert batch["token_ids"].shape == (4, 9)
    np.testing.assert_array_equal(batch["num_truncated_words"], [0, 0, 0, 13])
    for row, (words, tags) in enumerate(zip(sentences, labels)):
        single = align_word_labels(tokenizer, words, tags, max_length=9)
        for key in ("token_ids", "segment_ids", "padding_mask", "word_index", "labels"):
            np.testing.assert_array_equal(batch[key][row], single[key])
    recovered = batch_word_predictions(
        batch["labels"], batch["word_index"], [len(s) for s in sentences]
    )
    assert [list(r) for r in recovered[:3]] == labels[:3]
    assert list(recovered[3]) == [7] * 7 + [-1] * 13
    inference = align_word_labels_batch(tokenizer, sentences, max_length=9)
    assert "labels" not in inference
    np.testing.assert_array_equal(inference["token_ids"], batch["token_ids"])


def test_bad_arguments(tokenizer):
    with pytest.raises(ValueError, match="2 words but 1 labels"):
        align_word_labels(tokenizer, ["the", "a"], [0], max_length=8)
    with pytest.raises(ValueError, match="equals ignore_index"):
        align_word_labels(tokenizer, ["the"], [-100], max_length=8)
    with pytest.raises(TypeError, match="integer ids"):
        align_word_labels(tokenizer, ["the"], ["B-PER"], max_length=8)
    with pytest.raises(ValueError, match="at least 3"):
        align_word_labels(tokenizer, ["the"], [0], max_length=2)
    with pytest.raises(ValueError, match="empty_words"):
        align_word_labels(tokenizer, ["the"], [0], max_length=8, empty_words="skip")
    with pytest.raises(ValueError, match="sentence 1: 1 words but 2 labels"):
        align_word_labels_batch(tokenizer, [["a"], ["b"]], [[0], [0, 1]], max_length=8)


# --- CoNLL-2003 dev, every sentence ---------------------------------------------------------------


@pytest.mark.large
@pytest.mark.parametrize("lowercase", [False, True])
def test_conll2003_dev_labels_round_trip(lowercase):
    sentences = read_conll2003(shared_data("conll2003", "eng.testa"))
    words = [sentence.words for sentence in sentences]
    tags = [sentence.tags for sentence in sentences]
    assert len(sentences) == 3250 and sum(map(len, words)) == 51362
    names = sorted({tag for sentence in tags for tag in sentence})
    assert set(names) == set(CONLL2003_TAGS)
    tag_ids = {name: index for index, name in enumerate(names)}
    tokenizer = ElectraTokenizer.train(
        texts=[" ".join(sentence) for sentence in words], vocab_size=4000, lowercase=lowercase
    )
    batch = align_word_labels_batch(
        tokenizer, words, [[tag_ids[t] for t in sentence] for sentence in tags], max_length=128
    )
    # Every word got at least one token of its own: no label can have shifted.
    assert all(
        set(row[row >= 0]) == set(range(len(w) - n))
        for row, w, n in zip(batch["word_index"], words, batch["num_truncated_words"])
    )
    predictions = batch_word_predictions(
        batch["labels"], batch["word_index"], [len(w) for w in words]
    )
    truncated = 0
    for sentence, predicted, lost in zip(tags, predictions, batch["num_truncated_words"]):
        kept = len(sentence) - lost
        assert [names[p] for p in predicted[:kept]] == sentence[:kept]
        assert (predicted[kept:] == -1).all()
        truncated += lost > 0
    print(
        f"\nCoNLL-2003 dev ({'uncased' if lowercase else 'cased'}): {len(sentences)} sentences, "
        "labels recovered "
        f"exactly for all kept words; {truncated} sentences truncated at 128 tokens, "
        f"{batch['num_truncated_words'].sum()} words lost"
    )
    # Only a handful of the longest sentences (over 100 words) do not fit in 128 tokens.
    assert truncated <= 10, truncated
    assert (batch["labels"] != IGNORE).sum() == sum(map(len, tags)) - batch[
        "num_truncated_words"
    ].sum()
