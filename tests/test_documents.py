"""Reading corpus files: the prose, sentence-per-line and JSON Lines formats, compression, chunking, errors."""

import bz2
import gzip
import json

import pytest
import zstandard
from conftest import backend_independent, shared_data

from keras_electra.data.documents import DOCUMENT_MARKER, TextFormat, read_documents
from keras_electra.data.sentences import split_sentences
from keras_electra.data.text_files import list_corpus_files, read_chunks

pytestmark = backend_independent

SENTENCE_PER_LINE = TextFormat("sentence-per-line")

GUTENBERG_FILE = """The Project Gutenberg eBook of A Test
This eBook is for the use of anyone anywhere.

*** START OF THE PROJECT GUTENBERG EBOOK A TEST ***

Chapter one.
It begins.

Chapter two.
*** END OF THE PROJECT GUTENBERG EBOOK A TEST ***

Updated editions will replace the previous one.
"""

WRAPPED_PROSE = """It is a truth universally acknowledged, that a single
man in possession of a good fortune, must be in want
of a wife.

  "My dear Mr. Bennet," said his lady to him one day, "have you
heard that Netherfield Park is let at last?"
"""


def write(path, content):
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_prose_joins_wrapped_lines_and_a_blank_line_does_not_end_the_document(tmp_path):
    path = write(tmp_path / "book.txt", WRAPPED_PROSE)
    assert list(read_documents(path)) == [
        [
            "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
            "in want of a wife.",
            '"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park '
            'is let at last?"',
        ]
    ]


def test_prose_documents_end_at_marker_lines_only(tmp_path):
    text = f"First doc.\n\nStill first.\n  {DOCUMENT_MARKER}  \n\n{DOCUMENT_MARKER}\nSecond\ndoc.\n{DOCUMENT_MARKER}\n"
    path = write(tmp_path / "docs.txt", text)
    assert list(read_documents(path)) == [["First doc.", "Still first."], ["Second doc."]]
    other = TextFormat(marker="@@@")
    assert list(read_documents(write(tmp_path / "at.txt", "a\n@@@\nb\n"), other)) == [["a"], ["b"]]


def test_sentence_per_line_is_the_authors_convention(tmp_path):
    path = write(
        tmp_path / "a.txt", "\n\n  First line.  \nSecond line.\n\n \n\t\nOther doc.\r\nLast."
    )
    expected = [["First line.", "Second line."], ["Other doc.", "Last."]]
    assert list(read_documents(path, SENTENCE_PER_LINE)) == expected


@pytest.mark.parametrize(
    "paragraph, sentences",
    [
        (
            '"My dear Mr. Bennet," said his lady. "Have you heard?" He had not.',
            ['"My dear Mr. Bennet," said his lady.', '"Have you heard?"', "He had not."],
        ),
        (
            "See Dr. Watson at 5 p.m. tomorrow. It is fine, e.g. for tea.",
            ["See Dr. Watson at 5 p.m. tomorrow.", "It is fine, e.g. for tea."],
        ),
        ("“Yes,” said he. “No!” she cried.", ["“Yes,” said he.", "“No!” she cried."]),
        ("我爱你。你好吗？好！", ["我爱你。", "你好吗？", "好！"]),
        ("No full stop at the end", ["No full stop at the end"]),
        ("", []),
    ],
)
def test_sentence_splitting(paragraph, sentences):
    assert split_sentences(paragraph) == sentences


def test_empty_and_blank_files_yield_nothing(tmp_path):
    for text_format in (TextFormat(), SENTENCE_PER_LINE):
        assert list(read_documents(write(tmp_path / "empty.txt", ""), text_format)) == []
        assert list(read_documents(write(tmp_path / "blank.txt", "\n  \n\n"), text_format)) == []


def test_byte_order_mark_is_dropped(tmp_path):
    assert list(read_documents(write(tmp_path / "bom.txt", "\ufeffHello.\n"))) == [["Hello."]]


def test_gutenberg_markers_are_stripped(tmp_path):
    path = write(tmp_path / "book.txt", GUTENBERG_FILE)
    assert list(read_documents(path, strip_gutenberg=True)) == [
        ["Chapter one. It begins.", "Chapter two."]
    ]
    assert list(read_documents(path, SENTENCE_PER_LINE, strip_gutenberg=True)) == [
        ["Chapter one.", "It begins."],
        ["Chapter two."],
    ]
    assert len(list(read_documents(path, SENTENCE_PER_LINE))) == 5


def test_gutenberg_markers_are_case_insensitive_and_optional(tmp_path):
    lines = "header\n*** Start of this Project Gutenberg EBook X ***\nbody\n*** end of this ebook X\nlicence\n"
    assert list(read_documents(write(tmp_path / "a.txt", lines), strip_gutenberg=True)) == [
        ["body"]
    ]
    assert list(
        read_documents(write(tmp_path / "b.txt", "just\ntext\n"), strip_gutenberg=True)
    ) == [["just text"]]
    no_header = "body\n*** END OF THE PROJECT GUTENBERG EBOOK X\nlicence\n"
    assert list(read_documents(write(tmp_path / "c.txt", no_header), strip_gutenberg=True)) == [
        ["body"]
    ]


@pytest.mark.large
def test_real_gutenberg_book():
    path = shared_data("corpus", "gutenberg_books", "pg1342_pride_and_prejudice.txt")
    (book,) = read_documents(path, strip_gutenberg=True)  # one file, one document
    assert len(book) > 2_000
    assert not any("Project Gutenberg" in paragraph for paragraph in book[:20] + book[-20:])
    assert any(
        p.startswith("It is a truth universally acknowledged, that a single man in possession")
        for p in book
    )
    assert book[-1].endswith(
        "TOOKS COURT, CHANCERY LANE, LONDON."
    )  # the last line before the licence
    whole = [line for document in read_documents(path, SENTENCE_PER_LINE) for line in document]
    assert all(
        any("Project Gutenberg" in line for line in part) for part in (whole[:50], whole[-50:])
    )


def test_chunks_end_at_boundaries_and_rejoin_to_the_same_documents(tmp_path):
    paragraphs = [f"Paragraph {i} has words. It goes on a while." for i in range(2000)]
    documents = [paragraphs[i : i + 300] for i in range(0, 2000, 300)]
    text = f"\n{DOCUMENT_MARKER}\n".join("\n\n".join(document) for document in documents)
    path = write(tmp_path / "big.txt", text)
    rule = TextFormat().boundary_rule(path)
    chunks = list(read_chunks(path, is_boundary=rule, chunk_bytes=4096))
    assert len(chunks) > 10
    assert b"".join(chunk.data for chunk in chunks) == path.read_bytes()
    assert [chunk.first_line for chunk in chunks[1:]] == [
        chunk.first_line + chunk.data.count(b"\n") for chunk in chunks[:-1]
    ]
    assert all(rule(chunk.data.splitlines()[-1].strip()) for chunk in chunks[:-1])
    assert list(read_documents(path)) == documents


def test_a_paragraph_without_blank_lines_is_cut_at_a_line_end_and_nothing_is_lost(tmp_path):
    path = write(tmp_path / "wrapped.txt", "word " * 30 + "\n" + ("more words here\n" * 400_000))
    chunks = list(
        read_chunks(path, is_boundary=TextFormat().boundary_rule(path), chunk_bytes=1 << 20)
    )
    # 6.4 MB: each chunk is 1 MB plus the 1 MB of overrun allowed before a cut inside the paragraph.
    assert len(chunks) == 4 and all(chunk.data.endswith(b"\n") for chunk in chunks)
    (document,) = read_documents(
        path
    )  # in chunks of 4 MB (plus up to 1 MB to a line end): two paragraphs
    assert len(document) == 2
    assert " ".join(document) == " ".join(["word"] * 30 + ["more words here"] * 400_000)


@pytest.mark.parametrize(
    "suffix, compress",
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".zst", zstandard.ZstdCompressor().compress)],
)
def test_compressed_files_read_as_plain(tmp_path, suffix, compress):
    plain = write(tmp_path / "book.txt", WRAPPED_PROSE * 50)
    packed = write(tmp_path / f"book.txt{suffix}", compress(plain.read_bytes()))
    assert list(read_documents(packed)) == list(read_documents(plain))
    assert list_corpus_files(tmp_path) == sorted([plain, packed])


@pytest.mark.parametrize(
    "suffix, compress",
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".zst", zstandard.ZstdCompressor().compress)],
)
def test_truncated_compressed_file_is_an_error_naming_it(tmp_path, suffix, compress):
    data = compress(("A line of text that goes on.\n" * 20_000).encode())
    path = write(tmp_path / f"cut.txt{suffix}", data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=rf"cut\.txt\{suffix}, line \d+: damaged or truncated \{suffix} file"
    ):
        list(read_documents(path))


def test_jsonl_records_are_documents(tmp_path):
    records = [
        {"id": 1, "body": "First record.\nIts second paragraph."},
        {"id": 2, "body": "  "},
        {"id": 3, "body": "Third record."},
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    text_format = TextFormat(text_field="body")
    assert list(read_documents(path, text_format)) == [
        ["First record.", "Its second paragraph."],
        ["Third record."],
    ]
    gz = write(tmp_path / "corpus.jsonl.gz", gzip.compress(path.read_bytes()))
    assert list(read_documents(gz, text_format)) == list(read_documents(path, text_format))


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"text": "fine"', r"line 2: not valid JSON \(Expecting ',' delimiter at column 16\)"),
        ('["text"]', r"line 2: a JSON list, not an object with a 'text' field"),
        (
            '{"body": "x", "id": 3}',
            r"line 2: no 'text' field \(fields: 'body', 'id'\); see --text-field",
        ),
        ('{"text": 7}', r"line 2: field 'text' is a int, not a string"),
    ],
)
def test_bad_jsonl_records_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "bad.jsonl", '{"text": "A good record."}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl, " + message):
        list(read_documents(path))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        list(read_documents(tmp_path / "nope.txt"))


def test_binary_file(tmp_path):
    path = write(tmp_path / "model.bin", b"PK\x03\x04\x00\x00weights")
    with pytest.raises(ValueError, match=r"model\.bin: looks binary"):
        list(read_documents(path))


def test_non_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path / "latin1.txt", "ok\n\nstill ok\n".encode() + "café\n".encode("latin-1"))
    with pytest.raises(
        ValueError,
        match=r"latin1\.txt, line 4: not valid UTF-8 \(invalid continuation byte at byte 3\)",
    ):
        list(read_documents(path))


def test_too_long_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "long.txt", "short\n" + "x" * 101 + "\nshort\n")
    with pytest.raises(ValueError, match=r"long\.txt, line 2: longer than 100 characters"):
        list(read_documents(path, max_line_chars=100))
    assert list(read_documents(path, SENTENCE_PER_LINE, max_line_chars=101)) == [
        ["short", "x" * 101, "short"]
    ]


def test_too_long_line_without_newline_is_not_read_whole(tmp_path):
    path = write(tmp_path / "runaway.txt", "ok\n" + "é" * 1000)
    with pytest.raises(ValueError, match=r"runaway\.txt, line 2: longer than 100"):
        list(read_documents(path, max_line_chars=100))


def test_list_corpus_files(tmp_path):
    for name in [
        "b/2.txt",
        "b/deep/1.txt",
        "a.txt",
        "b/skip.md",
        "c/3.txt",
        "b/x.jsonl.zst",
        "b/y.tar.gz",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path / name, "x\n")
    found = list_corpus_files([tmp_path / "b", tmp_path / "a.txt", str(tmp_path / "b" / "2.txt")])
    expected = ["a.txt", "b/2.txt", "b/deep/1.txt", "b/x.jsonl.zst"]
    assert found == [tmp_path / name for name in expected]


def test_list_corpus_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        list_corpus_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        list_corpus_files([tmp_path / "empty"])
