"""The default corpus: prose from the running Python's documentation."""

from keras_electra.data.stdlib_corpus import prose_sentences, stdlib_documents, write_stdlib_corpus
from keras_electra.data.documents import read_documents

DOCSTRING = """Summary line of the function goes here.

Longer prose that is wrapped
over two lines. It has two sentences!

Heading
=======

Example::

    code_line = 1
    more_code()

>>> doctest_call()
42
"""


def test_prose_sentences_keep_prose_and_drop_code():
    assert prose_sentences(DOCSTRING) == [
        "Summary line of the function goes here.",
        "Longer prose that is wrapped over two lines.",
        "It has two sentences!",
    ]


def test_the_written_corpus_reads_back_as_the_documents(tmp_path):
    documents = list(stdlib_documents())
    assert len(documents) > 1000
    path = write_stdlib_corpus(tmp_path / "stdlib.txt")
    assert list(read_documents(path)) == documents
    assert not any(line.startswith(">>>") for document in documents for line in document)
