"""The default corpus: prose from the running Python's documentation."""

from conftest import backend_independent

from keras_electra.data.documents import read_documents
from keras_electra.data.stdlib_corpus import (
    prose_sentences,
    stdlib_docstrings,
    stdlib_documents,
    write_stdlib_corpus,
)

pytestmark = backend_independent

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
    modules = {module for module, _, _ in stdlib_docstrings()}
    per_module = stdlib_documents(document_words=0)
    assert 300 < len(per_module) <= len(modules) + 1  # the language reference, then one a module
    # Consecutive modules are joined into documents of 2,000 words or more, nothing lost or reordered.
    assert sum(documents, []) == sum(per_module, [])
    assert all(sum(len(p.split()) for p in document) >= 2000 for document in documents[:-1])
    assert len(documents) < 100
    path = write_stdlib_corpus(tmp_path / "stdlib.txt")
    assert list(read_documents(path)) == documents
    assert not any(paragraph.startswith(">>>") for document in documents for paragraph in document)


def test_docstring_kind_task_labels_come_from_the_source():
    import ast
    import inspect
    import json

    import numpy as np

    from keras_electra.data.stdlib_corpus import DOCSTRING_KINDS, docstring_kind_task

    (train_x, train_y), (dev_x, dev_y) = docstring_kind_task()
    assert len(train_x) > 1000 and len(dev_x) > 200
    # Balanced: the majority class is near one half on both splits.
    assert abs(np.mean(train_y) - 0.5) < 0.05 and abs(np.mean(dev_y) - 0.5) < 0.1
    # Independent check on well-known modules: every first sentence of their class / function
    # docstrings that appears in the task carries the matching label.
    import argparse  # noqa: E401
    import json as json_module
    import textwrap

    truth = {}
    for module in (argparse, json_module.decoder, textwrap):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node):
                first = prose_sentences(ast.get_docstring(node))
                if first:
                    truth.setdefault(first[0], set()).add(
                        "class" if isinstance(node, ast.ClassDef) else "function"
                    )
    found = [
        (x, DOCSTRING_KINDS[y])
        for x, y in zip(train_x + dev_x, np.concatenate([train_y, dev_y]))
        if x in truth
    ]
    assert len(found) > 10
    assert all(kind in truth[x] for x, kind in found)
    # No sentence is in both splits only by chance of the same module: splits are by module.
    assert len(set(train_x) & set(dev_x)) < 0.02 * len(dev_x)
    assert json.dumps(docstring_kind_task()[1][0]) == json.dumps(dev_x)  # deterministic
