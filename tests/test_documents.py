import pytest

from conftest import backend_independent, shared_data
from keras_electra.data.documents import list_corpus_files, read_documents, strip_gutenberg_boilerplate

pytestmark = backend_independent

GUTENBERG_FILE = """The Project Gutenberg eBook of A Test
This eBook is for the use of anyone anywhere.

*** START OF THE PROJECT GUTENBERG EBOOK A TEST ***

Chapter one.
It begins.

Chapter two.
*** END OF THE PROJECT GUTENBERG EBOOK A TEST ***

Updated editions will replace the previous one.
"""


def write(path, content):
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_blank_lines_separate_documents(tmp_path):
    path = write(tmp_path / "a.txt", "\n\n  First line.  \nSecond line.\n\n \n\t\nOther doc.\r\nLast.")
    assert list(read_documents(path)) == [["First line.", "Second line."], ["Other doc.", "Last."]]


def test_empty_and_blank_files_yield_nothing(tmp_path):
    assert list(read_documents(write(tmp_path / "empty.txt", ""))) == []
    assert list(read_documents(write(tmp_path / "blank.txt", "\n  \n\n"))) == []


def test_byte_order_mark_is_dropped(tmp_path):
    path = write(tmp_path / "bom.txt", "\ufeffHello.\n")
    assert list(read_documents(path)) == [["Hello."]]


def test_gutenberg_markers_are_stripped(tmp_path):
    path = write(tmp_path / "book.txt", GUTENBERG_FILE)
    expected = [["Chapter one.", "It begins."], ["Chapter two."]]
    assert list(read_documents(path, strip_gutenberg=True)) == expected
    assert len(list(read_documents(path))) == 5


def test_gutenberg_markers_are_case_insensitive_and_optional():
    lines = ["header", "*** Start of this Project Gutenberg EBook X ***", "body", "*** end of this ebook X"]
    assert strip_gutenberg_boilerplate(lines) == ["body"]
    assert strip_gutenberg_boilerplate(["just", "text"]) == ["just", "text"]
    no_header = ["body", "*** END OF THE PROJECT GUTENBERG EBOOK X", "licence"]
    assert strip_gutenberg_boilerplate(no_header) == ["body"]


def test_real_gutenberg_book():
    path = shared_data("corpus", "gutenberg_books", "pg1342_pride_and_prejudice.txt")
    lines = [line for document in read_documents(path, strip_gutenberg=True) for line in document]
    assert len(lines) > 10_000
    assert not any("Project Gutenberg" in line for line in lines[:50] + lines[-50:])
    assert any(line.startswith("It is a truth universally acknowledged") for line in lines)
    assert lines[-1] == "TOOKS COURT, CHANCERY LANE, LONDON."  # the book's last line, before the licence
    whole = [line for document in read_documents(path) for line in document]
    assert all(any("Project Gutenberg" in line for line in part) for part in (whole[:50], whole[-50:]))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        list(read_documents(path))


def test_binary_file(tmp_path):
    path = write(tmp_path / "model.bin", b"PK\x03\x04\x00\x00weights")
    with pytest.raises(ValueError, match=r"model\.bin: looks binary"):
        list(read_documents(path))


def test_non_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path / "latin1.txt", "ok\n\nstill ok\n".encode() + "café\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt, line 4: not valid UTF-8"):
        list(read_documents(path))


def test_too_long_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "long.txt", "short\n" + "x" * 101 + "\nshort\n")
    with pytest.raises(ValueError, match=r"long\.txt, line 2: longer than 100 characters"):
        list(read_documents(path, max_line_chars=100))
    assert list(read_documents(path, max_line_chars=101)) == [["short", "x" * 101, "short"]]


def test_too_long_line_without_newline_is_not_read_whole(tmp_path):
    path = write(tmp_path / "runaway.txt", "ok\n" + "é" * 1000)
    with pytest.raises(ValueError, match=r"runaway\.txt, line 2: longer than 100"):
        list(read_documents(path, max_line_chars=100))


def test_list_corpus_files(tmp_path):
    for name in ["b/2.txt", "b/deep/1.txt", "a.txt", "b/skip.md", "c/3.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path / name, "x\n")
    found = list_corpus_files([tmp_path / "b", tmp_path / "a.txt", str(tmp_path / "b" / "2.txt")])
    assert found == [tmp_path / "a.txt", tmp_path / "b" / "2.txt", tmp_path / "b" / "deep" / "1.txt"]
    assert list_corpus_files(tmp_path) == sorted(tmp_path.rglob("*.txt"))


def test_list_corpus_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        list_corpus_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        list_corpus_files([tmp_path / "empty"])
