"""build_pretraining_data on the input formats: no text lost, the authors' mode unchanged, any worker count."""

import bz2
import collections
import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import zstandard
from conftest import WORDS, backend_independent, shared_data

from keras_electra.data import ElectraTokenizer, build_pretraining_data, text_files
from keras_electra.data.documents import DOCUMENT_MARKER
from keras_electra.data.shards import open_shards

pytestmark = backend_independent

QUIET = dict(progress=False)
BOOKS = ("pg11_alices_adventures_in_wonderland.txt", "pg16_peter_pan.txt")


def frequency_vocabulary(paths, size):
    """A vocabulary made without training (WordPiece training is not deterministic): the specials, every
    character, "##" + every character, then the most frequent lower-cased words, ties broken by the word."""
    words, chars = collections.Counter(), set()
    for path in paths:
        text = Path(path).read_text("utf-8").lower()
        words.update(re.findall(r"[a-z]+", text))
        chars.update(c for c in text if not c.isspace())
    chars = sorted(chars)
    common = sorted(words, key=lambda w: (-words[w], w))[: size - 5 - 2 * len(chars)]
    return [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *chars,
        *("##" + c for c in chars),
        *[w for w in common if len(w) > 1],
    ]


def rows_in_order(data_dir, every=100):
    """All examples in the order they were packed: every `every`-th (1 / heldout_fraction) went to heldout.npy."""
    train, heldout = (
        np.concatenate(open_shards(data_dir)),
        np.concatenate(open_shards(data_dir, "heldout")),
    )
    total = len(train) + len(heldout)
    is_heldout = (np.arange(total) + 1) % every == 0
    rows = np.empty((total, train.shape[1]), train.dtype)
    rows[is_heldout], rows[~is_heldout] = heldout, train
    return rows


def text_tokens(rows, tokenizer):
    specials = {tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id}
    return collections.Counter(int(t) for t in rows.ravel() if t not in specials)


def prose_corpus(folder, files=3, paragraphs=60, seed=0):
    """Wrapped prose with abbreviations and quotes, two documents a file, long paragraphs."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):

        def paragraph():
            sentences = [
                " ".join(rng.choice(WORDS, rng.integers(3, 40))).capitalize()
                + rng.choice([".", "!", "?"])
                for _ in range(rng.integers(1, 6))
            ]
            text = f'"{sentences[0]}" said Mr. Smith. ' + " ".join(sentences[1:])
            words = text.split()
            return "\n".join(
                " ".join(words[i : i + 9]) for i in range(0, len(words), 9)
            )  # wrapped at 9 words

        halves = ["\n\n".join(paragraph() for _ in range(paragraphs)) for _ in range(2)]
        (folder / f"file{index}.txt").write_text(
            f"\n{DOCUMENT_MARKER}\n".join(halves) + "\n", encoding="utf-8"
        )
    return folder


@pytest.fixture(scope="module")
def prose(tmp_path_factory):
    folder = prose_corpus(tmp_path_factory.mktemp("prose") / "texts")
    vocab = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab.write_text(
        "".join(t + "\n" for t in frequency_vocabulary(sorted(folder.iterdir()), 300)),
        encoding="utf-8",
    )
    return folder, vocab


@pytest.mark.large
def test_sentence_per_line_reproduces_the_authors_examples_exactly(tmp_path):
    """The digest of the examples that build_pretraining_data made of these two books before prose
    existed (commit 2f30a72, whose only format was sentence-per-line): the authors' mode is unchanged."""
    books = [shared_data("corpus", "gutenberg_books", name) for name in BOOKS]
    (tmp_path / "vocab.txt").write_text(
        "".join(t + "\n" for t in frequency_vocabulary(books, 2000)), encoding="utf-8"
    )
    options = dict(vocab_file=tmp_path / "vocab.txt", max_length=64, strip_gutenberg=True, **QUIET)
    summary = build_pretraining_data(
        books, tmp_path / "data", format="sentence-per-line", workers=1, **options
    )
    rows = np.concatenate(
        open_shards(tmp_path / "data") + open_shards(tmp_path / "data", "heldout")
    )
    assert rows.shape == (3194, 64) and summary["text_tokens"] == 121_764
    assert (
        hashlib.sha256(rows.tobytes()).hexdigest()
        == "42d1fdd102e7066ea0620c369f64c56ec428155a856c7943496c2892380b0315"
    )
    # The authors' truncation loses text, and the summary says how much.
    assert summary["truncated_examples"] == 836 and summary["tokens_dropped"] > 0
    assert (
        summary["tokens_in_examples"]
        == text_tokens(rows, ElectraTokenizer.from_vocab_file(tmp_path / "vocab.txt")).total()
    )


def test_prose_loses_no_text_and_the_summary_counts_what_the_shards_hold(
    prose, tmp_path, monkeypatch
):
    folder, vocab = prose
    monkeypatch.setattr(text_files, "CHUNK_BYTES", 8192)  # several chunks a file
    summary = build_pretraining_data(
        folder, tmp_path / "data", vocab_file=vocab, max_length=32, workers=1, **QUIET
    )
    tokenizer = ElectraTokenizer.from_vocab_file(vocab)
    rows = rows_in_order(tmp_path / "data")
    texts = [path.read_text().replace(DOCUMENT_MARKER, " ") for path in sorted(folder.iterdir())]
    expected = collections.Counter(t for text in texts for t in tokenizer.encode(text))
    assert text_tokens(rows, tokenizer) == expected
    assert summary["text_tokens"] == summary["tokens_in_examples"] == expected.total()
    assert summary["tokens_dropped"] == 0 and summary["truncated_examples"] == 0
    assert summary["documents"] == 6 and summary["examples"] == len(rows)
    assert summary["non_padding_fraction"] == pytest.approx((rows != tokenizer.pad_token_id).mean())
    lengths = (rows != tokenizer.pad_token_id).sum(axis=1)
    short_padding = summary["short_target_padding_percent"] / 100 * rows.size
    # Full examples hold 32 tokens, or 31 with one segment (one [SEP]); the rest end documents or chunks
    # or have a short target.
    assert (lengths >= 31).mean() > 0.9 and 0 < short_padding < (32 - lengths).sum()


@pytest.mark.large
def test_same_bytes_for_any_worker_count_with_many_chunks(prose, tmp_path, monkeypatch):
    folder, vocab = prose
    monkeypatch.setattr(text_files, "CHUNK_BYTES", 8192)
    options = dict(vocab_file=vocab, max_length=32, **QUIET)
    for workers in (1, 2, 3):
        build_pretraining_data(folder, tmp_path / f"w{workers}", workers=workers, **options)
    digests = {
        w: [p.read_bytes() for p in sorted((tmp_path / f"w{w}").glob("*.npy"))] for w in (1, 2, 3)
    }
    assert digests[1] == digests[2] == digests[3]
    build_pretraining_data(folder, tmp_path / "seed1", workers=2, seed=1, **options)
    assert not np.array_equal(rows_in_order(tmp_path / "seed1"), rows_in_order(tmp_path / "w1"))


def test_jsonl_and_compressed_files_build_as_their_plain_text(prose, tmp_path):
    folder, vocab = prose
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    texts = [path.read_text() for path in sorted(folder.iterdir())]
    (mixed / "a.txt.gz").write_bytes(gzip.compress(texts[0].encode()))
    (mixed / "b.txt.bz2").write_bytes(bz2.compress(texts[1].encode()))
    records = [
        {"id": i, "content": half.replace("\n\n", "\n")}
        for i, half in enumerate(texts[2].split(DOCUMENT_MARKER))
    ]
    (mixed / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in records).encode())
    )
    summary = build_pretraining_data(
        mixed,
        tmp_path / "data",
        vocab_file=vocab,
        max_length=32,
        text_field="content",
        workers=2,
        **QUIET,
    )
    tokenizer = ElectraTokenizer.from_vocab_file(vocab)
    expected = collections.Counter(
        t for text in texts for t in tokenizer.encode(text.replace(DOCUMENT_MARKER, " "))
    )
    assert text_tokens(rows_in_order(tmp_path / "data"), tokenizer) == expected
    assert summary["files"] == 3 and summary["documents"] == 6 and summary["tokens_dropped"] == 0


def test_a_truncated_gz_file_is_named_and_nothing_is_written(prose, tmp_path):
    folder, vocab = prose
    data = gzip.compress((folder / "file0.txt").read_bytes())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.txt.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.txt\.gz, line \d+: damaged or truncated \.gz file"):
        build_pretraining_data(
            tmp_path / "in", tmp_path / "data", vocab_file=vocab, workers=2, **QUIET
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@pytest.mark.large
def test_real_books_as_prose_fill_the_examples(tmp_path):
    books = [shared_data("corpus", "gutenberg_books", name) for name in BOOKS]
    summary = build_pretraining_data(
        books,
        tmp_path / "data",
        vocab_size=4000,
        max_length=128,
        strip_gutenberg=True,
        workers=2,
        **QUIET,
    )
    assert summary["documents"] == 2 and summary["tokens_dropped"] == 0
    # What padding is left comes from the authors' short targets (5% of examples) and the two books' ends.
    assert summary["non_padding_fraction"] >= 0.95
    assert summary["short_target_padding_percent"] > 100 * (1 - summary["non_padding_fraction"]) - 1
