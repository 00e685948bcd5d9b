"""ElectraTokenizer: parity with Hugging Face's BertTokenizer, vocab.txt I/O and its error messages."""

import os
import unicodedata
from pathlib import Path
from pydoc_data.topics import topics

import pytest
from conftest import SPECIALS, backend_independent, shared_data

from keras_electra.data import ElectraTokenizer

pytestmark = backend_independent

TRAINING_BOOKS = ("pg11_alices_adventures_in_wonderland.txt", "pg16_peter_pan.txt")
# Not a training book, so the sample also exercises unknown words and "##" splits.
SAMPLE_BOOK = "pg1342_pride_and_prejudice.txt"
CHINESE = ("你好，这是一个简单的示例。", "我是一个人工智能助手。")
ACCENTED = "Café déjà vu — naïve façade, Ångström; 'quotes' & ünïcödé"
MIXED = ("e.g. 3.14, U.S.A., don't!", "a\x00b\tc\u200bd")


def shared_corpus():
    return shared_data("corpus", "gutenberg_books")


@pytest.fixture(scope="module")
def books_vocab_file(tmp_path_factory):
    """A vocab.txt trained on two books plus the Chinese sentences, alone in its folder as HF expects."""
    folder = tmp_path_factory.mktemp("vocab")
    chinese = folder / "chinese.txt"
    chinese.write_text("\n".join(CHINESE) + "\n", encoding="utf-8")
    books = [shared_corpus() / name for name in TRAINING_BOOKS]
    tokenizer = ElectraTokenizer.train(books + [chinese], vocab_size=8000)
    chinese.unlink()
    return tokenizer.save_vocabulary(folder / "vocab.txt")


def references(books_vocab_file, lowercase):
    """Hugging Face tokenizers on the same vocab.txt: the Rust-backed one and, where it exists, pure Python.

    `from_pretrained` on the folder, because transformers 5 silently ignores `BertTokenizer(vocab_file=...)`
    and falls back to a 5-token vocabulary.
    """
    transformers = pytest.importorskip("transformers")
    classes = [transformers.BertTokenizer, getattr(transformers, "BertTokenizerLegacy", None)]
    folder = str(books_vocab_file.parent)
    tokenizers = [cls.from_pretrained(folder, do_lower_case=lowercase) for cls in classes if cls]
    vocab_size = ElectraTokenizer.from_vocab_file(books_vocab_file).vocab_size
    assert [len(tokenizer.get_vocab()) for tokenizer in tokenizers] == [vocab_size] * len(
        tokenizers
    )
    return tokenizers


def sample_lines():
    lines = (shared_corpus() / SAMPLE_BOOK).read_text(encoding="utf-8").splitlines()[1000:1300]
    return [line for line in lines if line.strip()]


def assert_parity(ours, theirs, texts):
    for text in texts:
        expected = theirs.convert_tokens_to_ids(theirs.tokenize(text))
        assert ours.encode(text) == expected, (type(theirs).__name__, text)


@pytest.mark.large
def test_uncased_parity_with_transformers(books_vocab_file):
    ours = ElectraTokenizer.from_vocab_file(books_vocab_file)
    texts = sample_lines() + [ACCENTED, *MIXED, *CHINESE]
    for theirs in references(books_vocab_file, lowercase=True):
        assert_parity(ours, theirs, texts)


@pytest.mark.large
def test_cased_parity_with_transformers(books_vocab_file):
    ours = ElectraTokenizer.from_vocab_file(books_vocab_file, lowercase=False)
    for theirs in references(books_vocab_file, lowercase=False):
        assert_parity(ours, theirs, [ACCENTED, *MIXED])


@pytest.mark.large
def test_each_cjk_character_is_a_token(books_vocab_file):
    tokenizer = ElectraTokenizer.from_vocab_file(books_vocab_file)
    for sentence in CHINESE:
        assert tokenizer.tokenize(sentence) == list(sentence)
        assert tokenizer.unk_token_id not in tokenizer.encode(sentence)


@pytest.mark.large
def test_encode_batch_matches_encode(books_vocab_file):
    tokenizer = ElectraTokenizer.from_vocab_file(books_vocab_file)
    texts = [ACCENTED, "", *MIXED, *CHINESE]
    assert tokenizer.encode_batch(texts) == [tokenizer.encode(text) for text in texts]


def uncased(text):
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    )
    return " ".join(stripped.lower().split())


@pytest.mark.large
@pytest.mark.parametrize(
    "text",
    ["The cat sat on the mat", "  Alice   was beginning\tto get tired\n", "Café déjà vu, naïve"],
)
def test_decode_inverts_encode(books_vocab_file, text):
    tokenizer = ElectraTokenizer.from_vocab_file(books_vocab_file)
    ids = tokenizer.encode(text)
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == uncased(text)


@pytest.mark.large
def test_decode_skips_special_tokens(books_vocab_file):
    tokenizer = ElectraTokenizer.from_vocab_file(books_vocab_file)
    text_ids = tokenizer.encode("the queen")
    ids = [tokenizer.cls_token_id, *text_ids, tokenizer.sep_token_id, tokenizer.pad_token_id]
    assert tokenizer.decode(ids) == "the queen"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([-1])


@pytest.mark.large
def test_literal_special_tokens_in_text_stay_text(books_vocab_file):
    """Unlike transformers, corpus text "[SEP]" must not become a separator id (as in Google BERT/ELECTRA)."""
    tokenizer = ElectraTokenizer.from_vocab_file(books_vocab_file)
    assert tokenizer.tokenize("a [SEP] b")[:2] == ["a", "["]
    assert tokenizer.sep_token_id not in tokenizer.encode("a [SEP] b")


def test_train_puts_specials_first_and_accepts_texts():
    tokenizer = ElectraTokenizer.train(
        texts=["hello world", "hello there"], vocab_size=100, min_frequency=1
    )
    assert tokenizer.vocabulary[:5] == SPECIALS
    ids = [tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id]
    assert ids + [tokenizer.sep_token_id, tokenizer.mask_token_id] == [0, 1, 2, 3, 4]
    assert tokenizer.tokenize("Hello World") == ["hello", "world"]


def test_training_twice_on_the_same_text_gives_the_same_vocabulary():
    # Python's language reference (~465,000 characters): Hugging Face's trainer alone gave a
    # different vocabulary in each of 4 trainings on it, at 500, 1,000 and 2,000 pieces.
    texts = [topics[name] for name in sorted(topics)]
    first = ElectraTokenizer.train(texts=texts, vocab_size=1000).vocabulary
    assert len(first) == 1000 and first[:5] == SPECIALS
    for _ in range(3):
        assert ElectraTokenizer.train(texts=texts, vocab_size=1000).vocabulary == first
    # A one-pass iterator is read twice too.
    assert ElectraTokenizer.train(texts=iter(texts), vocab_size=1000).vocabulary == first


def test_save_and_load_round_trip(tmp_path):
    tokenizer = ElectraTokenizer(SPECIALS + ["ünï", "##s", "\u2028x", "a\x85"], lowercase=False)
    path = tokenizer.save_vocabulary(tmp_path / "vocab.txt")
    loaded = ElectraTokenizer.from_vocab_file(path, lowercase=False)
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.vocabulary_hash() == tokenizer.vocabulary_hash()
    assert loaded.lowercase is False
    assert os.listdir(tmp_path) == ["vocab.txt"]


def test_crlf_vocab_file_loads(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes("\r\n".join(SPECIALS + ["word"]).encode() + b"\r\n")
    assert ElectraTokenizer.from_vocab_file(path).vocabulary == SPECIALS + ["word"]


def write_vocab(tmp_path, data):
    path = tmp_path / "my_vocab.txt"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", ["my_vocab.txt", "empty"]),
        ("\n".join(SPECIALS).encode() + b"\nok\n\xff\xfe\n", ["my_vocab.txt", "line 7", "UTF-8"]),
        (
            "\n".join(SPECIALS + ["cat", "dog", "cat"]).encode(),
            ["my_vocab.txt", "line 6 and line 8"],
        ),
        (b"[PAD]\n[UNK]\n[SEP]\nword\n", ["my_vocab.txt", "[CLS] [MASK]"]),
    ],
    ids=["empty", "not-utf8", "duplicate", "missing-specials"],
)
def test_bad_vocab_file_errors(tmp_path, data, expected):
    with pytest.raises(ValueError) as error:
        ElectraTokenizer.from_vocab_file(write_vocab(tmp_path, data))
    for fragment in expected:
        assert fragment in str(error.value)


def test_missing_vocab_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        ElectraTokenizer.from_vocab_file(tmp_path / "absent.txt")


@pytest.mark.large
def test_id_and_token_lookups_follow_the_vocab_file_lines(books_vocab_file):
    lines = Path(books_vocab_file).read_text(encoding="utf-8").splitlines()
    tokenizer = ElectraTokenizer.from_vocab_file(books_vocab_file)
    for index in (0, 1, 103, len(lines) // 2, len(lines) - 1):
        assert tokenizer.id_to_token(index) == lines[index]
        assert tokenizer.token_to_id(lines[index]) == index
