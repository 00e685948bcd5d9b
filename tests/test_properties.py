"""Property-based tests (hypothesis): the tokenizer, the packer and masking on arbitrary input.

Deterministic for CI: examples are derived from each test's name (`derandomize`), nothing is stored
between runs (`database=None`) and there is no deadline (the first call of an op may compile).
"""

import unicodedata

import keras
import numpy as np
from conftest import SPECIALS, to_numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_masking import EXCLUDED, expected_count
from test_packing import CLS as PACK_CLS
from test_packing import SEP as PACK_SEP
from test_packing import segments

import keras_electra as ke
from keras_electra.data import ElectraTokenizer
from keras_electra.data.packing import pack_documents


def properties(max_examples):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- tokenizer ------------------------------------------------------------------------------------
#
# An independent BERT normaliser, written from the original BERT `BasicTokenizer` (not from the
# library, which delegates to Hugging Face `tokenizers`): drop NUL, U+FFFD and control/format
# characters (category C*, but tab, newline and carriage return, which are whitespace), map
# whitespace to spaces, split around CJK ideographs and punctuation; uncased: NFD, drop combining
# marks (Mn), lower-case.

CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(char):
    return any(low <= ord(char) <= high for low, high in CJK_RANGES)


def is_punctuation(char):
    code = ord(char)
    ascii_punctuation = (
        33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
    )
    return ascii_punctuation or unicodedata.category(char).startswith("P")


def is_whitespace(char):
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char):
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def normalise(text):
    """BERT's uncased normalisation of `text`, as one string."""
    kept = "".join(
        " " if is_whitespace(c) else c for c in text if c not in "\0\ufffd" and not is_control(c)
    )
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", kept) if unicodedata.category(c) != "Mn"
    )
    return stripped.lower()


def pieces(text):
    """`text` split on whitespace, then around every punctuation character and CJK ideograph: what
    two texts must share to be equal "up to whitespace and punctuation splitting"."""
    out = []
    for chunk in text.split():
        word = ""
        for char in chunk:
            if is_punctuation(char) or is_cjk(char):
                out += [word] if word else []
                out.append(char)
                word = ""
            else:
                word += char
        out += [word] if word else []
    return out


# Letters (cased, accented, precomposed), scripts without case, emoji, CJK ideographs and
# punctuation: every character normalises to characters of the test vocabulary.
LETTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝæøÆØßð"
    "αβγδεζηθικλμνξοπρστυφχψωςΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώ"
    "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё"
    "ひらがなカタカナ😀🎉"
)
COMBINING = "\u0300\u0301\u0302\u0308\u0327\u0331"  # Mn: stripped when uncased
CJK = "日本語猫犬中文字"
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~—«»¿¡…。，"
WHITESPACE = " \t\n\r\u00a0\u2003\u3000"
DROPPED = "\x00\x07\x1b\u200b\u200e\ufeff\ufffd"  # control and format characters, U+FFFD

BASE_CHARACTERS = sorted(set(normalise(LETTERS + CJK + PUNCTUATION)) - {" "})
TEST_VOCABULARY = (
    SPECIALS
    + BASE_CHARACTERS
    + ["##" + c for c in BASE_CHARACTERS]
    + ["the", "cat", "##ing", "un", "##able", "cafe", "naive"]
)
TOKENIZER = ElectraTokenizer(TEST_VOCABULARY)
CASED_TOKENIZER = ElectraTokenizer(TEST_VOCABULARY, lowercase=False)

# At most 10 words of 8 characters: glued together they stay under WordPiece's 100 characters a word.
words = st.text(alphabet=st.sampled_from(LETTERS + COMBINING), min_size=1, max_size=8)
separators = st.text(alphabet=st.sampled_from(WHITESPACE + DROPPED), min_size=1, max_size=3)
symbols = st.sampled_from(CJK + PUNCTUATION)


@st.composite
def covered_texts(draw):
    """Text of words, ideographs and punctuation whose normalised pieces are all in the vocabulary,
    with any whitespace, control and format characters between them, or none ("cat," "猫犬", or two
    words glued into one)."""
    parts = draw(st.lists(st.one_of(words, symbols), max_size=10))
    text = draw(st.sampled_from(["", " ", "\t\u200b"]))
    for index, part in enumerate(parts):
        if index and draw(st.booleans()):
            text += draw(separators)
        text += part
    return text + draw(st.sampled_from(["", "\n", "\r\n", " \x00"]))


# Any Unicode text but surrogates, with the troublesome categories drawn often.
troublesome = st.sampled_from(
    COMBINING + DROPPED + WHITESPACE + CJK + PUNCTUATION + "😀👍🏽‍🔥\u0301\u0345\u1160İﬁǅ"
)
any_text = st.one_of(
    st.text(max_size=200),
    st.text(
        alphabet=st.one_of(st.characters(exclude_categories=("Cs",)), troublesome), max_size=200
    ),
)


@properties(100)
@given(text=any_text, lowercase=st.booleans())
def test_tokenizer_never_crashes_and_stays_consistent(text, lowercase):
    tokenizer = TOKENIZER if lowercase else CASED_TOKENIZER
    ids = tokenizer.encode(text)
    assert all(0 <= i < tokenizer.vocab_size for i in ids)
    assert ids == [tokenizer.token_to_id(token) for token in tokenizer.tokenize(text)]
    assert tokenizer.encode_batch([text, "", text]) == [ids, [], ids]
    offset_ids, offsets = tokenizer.encode_with_offsets(text)
    assert offset_ids == ids and len(offsets) == len(ids)
    assert all(0 <= start <= end <= len(text) for start, end in offsets)
    assert [start for start, _ in offsets] == sorted(start for start, _ in offsets)
    if tokenizer.unk_token_id not in ids:  # an [UNK] word cannot be decoded back to its text
        assert tokenizer.encode(tokenizer.decode(ids)) == ids
    word_ids, word_index = tokenizer.encode_words(text.split(" "))
    assert len(word_ids) == len(word_index)
    assert all(0 <= w < len(text.split(" ")) for w in word_index)


@properties(100)
@given(text=covered_texts())
def test_decode_inverts_encode_up_to_normalisation(text):
    ids = TOKENIZER.encode(text)
    assert TOKENIZER.unk_token_id not in ids, TOKENIZER.tokenize(text)
    assert pieces(TOKENIZER.decode(ids)) == pieces(normalise(text))
    # The spans point back at the original text: each normalises to its token (## pieces joined).
    _, offsets = TOKENIZER.encode_with_offsets(text)
    spans = "".join(normalise(text[start:end]) for start, end in offsets)
    assert spans == "".join(token.removeprefix("##") for token in TOKENIZER.tokenize(text))


vocabulary_tokens = st.lists(
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), max_size=8
    ),
    unique=True,
    max_size=30,
)


@properties(50)
@given(tokens=vocabulary_tokens, lowercase=st.booleans())
def test_vocabulary_file_round_trips_any_single_line_tokens(tmp_path_factory, tokens, lowercase):
    """Tokens such as U+2028, U+0085 or a lone space survive vocab.txt, which splits on newlines only."""
    vocabulary = SPECIALS + [token for token in tokens if token not in SPECIALS]
    directory = tmp_path_factory.mktemp("vocab")
    ElectraTokenizer(vocabulary, lowercase=lowercase).save(directory)
    loaded = ElectraTokenizer.from_directory(directory)
    assert loaded.vocabulary == vocabulary and loaded.lowercase == lowercase
    assert [p.name for p in sorted(directory.iterdir())] == ["tokenizer_config.json", "vocab.txt"]


# --- packing --------------------------------------------------------------------------------------


def traced_documents(sentence_lengths):
    """Documents of sentences whose ids count up from 10 across the corpus: an id names its place."""
    documents, next_id = [], 10
    for lengths in sentence_lengths:
        document = []
        for length in lengths:
            document.append(list(range(next_id, next_id + length)))
            next_id += length
        documents.append(document)
    return documents


@properties(100)
@given(
    sentence_lengths=st.lists(st.lists(st.integers(0, 15), max_size=8), max_size=6),
    max_length=st.integers(5, 40),
    short_seq_prob=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
    single_segment_prob=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    seed=st.integers(0, 2**32),
)
def test_packing_never_crosses_documents_and_bounds_lengths(
    sentence_lengths, max_length, short_seq_prob, single_segment_prob, seed
):
    documents = traced_documents(sentence_lengths)
    # (document, sentence) of each non-empty sentence, in corpus order, and the owner of each id.
    sentences = [
        (d, s) for d, doc in enumerate(documents) for s, sentence in enumerate(doc) if sentence
    ]
    place = {token: n for n, (d, s) in enumerate(sentences) for token in documents[d][s]}
    examples = list(
        pack_documents(
            documents,
            max_length=max_length,
            cls_id=PACK_CLS,
            sep_id=PACK_SEP,
            seed=seed,
            short_seq_prob=short_seq_prob,
            single_segment_prob=single_segment_prob,
        )
    )
    # Each example starts with the first token of its buffer, so buffers are sentence ranges.
    starts = []
    for example in examples:
        assert len(example.token_ids) <= max_length
        first, second = segments(example)  # [CLS] A [SEP] (B [SEP]), segment ids, A non-empty
        starts.append(place[first[0]])
    assert starts == sorted(set(starts)) and starts[:1] == [0][: len(sentences)]
    for example, start, end in zip(examples, starts, starts[1:] + [len(sentences)]):
        first, second = segments(example)
        buffer = sentences[start:end]
        assert len({d for d, _ in buffer}) == 1, "an example crossed documents"
        texts = [documents[d][s] for d, s in buffer]
        # Whole sentences in order: A takes the first one and some others, B the rest; each is then
        # cut to a prefix of what it took.
        in_first = [index == 0 or sentence[0] in first for index, sentence in enumerate(texts)]
        taken_first = [t for sentence, a in zip(texts, in_first) if a for t in sentence]
        taken_second = [t for sentence, a in zip(texts, in_first) if not a for t in sentence]
        assert first == taken_first[: len(first)] and second == taken_second[: len(second)]
        dropped = len(taken_first) + len(taken_second) - len(first) - len(second)
        assert example.truncated == (dropped > 0)
        assert not example.truncated or len(example.token_ids) == max_length or not second
    # Every document with a token gives at least one example, and the examples use each sentence.
    assert {d for d, _ in sentences} == {sentences[start][0] for start in starts}


# --- masking --------------------------------------------------------------------------------------

PAD, CLS, SEP, MASK = EXCLUDED  # the BERT ids of conftest


@st.composite
def batches(draw):
    """A `[3, L]` batch of any ids (specials anywhere) under any padding mask, and masking settings.

    Few shapes and counts, since each new one costs an op compilation under JAX.
    """
    batch_size, length = 3, draw(st.sampled_from([1, 7, 16]))
    row = st.lists(
        st.sampled_from([PAD, CLS, SEP, MASK, 104, 105, 999]), min_size=length, max_size=length
    )
    token_ids = np.array(draw(st.lists(row, min_size=batch_size, max_size=batch_size)), "int32")
    layout = draw(st.sampled_from(["right", "left", "any"]))
    if layout == "any":
        mask = np.array(
            draw(
                st.lists(
                    st.lists(st.booleans(), min_size=length, max_size=length),
                    min_size=batch_size,
                    max_size=batch_size,
                )
            ),
            "int32",
        )
    else:
        lengths = np.array(
            draw(st.lists(st.integers(0, length), min_size=batch_size, max_size=batch_size))
        )
        positions = np.arange(length)[None, :]
        mask = (
            (positions < lengths[:, None])
            if layout == "right"
            else (positions >= length - lengths[:, None])
        )
        mask = mask.astype("int32")
    mask_prob = draw(st.sampled_from([0.15, 0.5]))
    num_predictions = draw(
        st.one_of(st.just(ke.max_predictions(length, mask_prob)), st.sampled_from([1, length]))
    )
    return token_ids, mask, mask_prob, num_predictions


@properties(40)
@given(batch=batches(), rate=st.sampled_from([0.0, 0.85, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_masking_keeps_the_invariants_of_reference_section_4(batch, rate, seed):
    token_ids, padding_mask, mask_prob, num_predictions = batch
    out = ke.mask_tokens(
        keras.ops.convert_to_tensor(token_ids),
        keras.ops.convert_to_tensor(padding_mask),
        mask_token_id=MASK,
        excluded_ids=EXCLUDED,
        mask_prob=mask_prob,
        num_predictions=num_predictions,
        mask_token_rate=rate,
        seed=keras.random.SeedGenerator(seed),
    )
    out = {key: to_numpy(value) for key, value in out.items()}
    batch_size, length = token_ids.shape
    assert out["positions"].shape == out["weights"].shape == out["labels"].shape
    assert out["positions"].shape[0] == batch_size and out["positions"].shape[1] <= max(
        num_predictions, 1
    )
    assert out["token_ids"].shape == token_ids.shape
    chosen = out["weights"] > 0
    assert set(np.unique(out["weights"])) <= {0.0, 1.0}
    # The count of docs/electra.md, "Masking", never above N, never more than the candidates.
    np.testing.assert_array_equal(
        chosen.sum(-1), expected_count(padding_mask, token_ids, mask_prob, num_predictions)
    )
    assert (chosen.sum(-1) <= num_predictions).all()
    assert (out["positions"][~chosen] == 0).all()
    at_chosen = np.zeros((batch_size, length), bool)
    for row in range(batch_size):
        positions = out["positions"][row][chosen[row]]
        assert len(set(positions)) == len(positions), "a position chosen twice"
        assert padding_mask[row, positions].all(), "padding chosen"
        assert not np.isin(token_ids[row, positions], EXCLUDED).any(), (
            "[CLS], [SEP], [MASK] or [PAD] chosen"
        )
        at_chosen[row, positions] = True
    # Labels are the original tokens; only chosen positions change, and only to [MASK].
    np.testing.assert_array_equal(
        out["labels"][chosen], np.take_along_axis(token_ids, out["positions"], 1)[chosen]
    )
    changed = out["token_ids"] != token_ids
    assert not (changed & ~at_chosen).any()
    assert (out["token_ids"][changed] == MASK).all()
    if rate == 1.0:
        np.testing.assert_array_equal(changed, at_chosen)
    if rate == 0.0:
        assert not changed.any()
