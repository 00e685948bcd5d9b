"""The default corpus: English prose every Python installation carries.

The docstrings of the standard library's modules, classes and functions and
the language reference's pydoc topics, read from the running interpreter at
run time, so the main job needs no download and the repository ships no text.
"""

import ast
import functools
import itertools
import pydoc_data.topics
import re
import sysconfig
import zlib
from pathlib import Path

import numpy as np

from keras_electra.data.documents import DOCUMENT_MARKER
from keras_electra.data.sentences import split_sentences

SKIPPED_PACKAGES = {
    "site-packages",
    "dist-packages",
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "pydoc_data",
}


def prose_paragraphs(text):
    """The prose paragraphs of a docstring, each with its wrapped lines joined.

    Indented lines and doctest lines are code, not prose.
    """
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", text):
        # Underlines of reST headings are not prose.
        lines = [
            line.strip()
            for line in paragraph.splitlines()
            if not set(line.strip()) <= set("=-*~^#")
        ]
        if not lines or any(line.startswith(">>>") for line in lines):
            continue
        if any(raw.startswith((" ", "\t")) for raw in paragraph.splitlines()[1:]):
            continue
        joined = " ".join(line for line in lines if line)
        if len(joined.split()) >= 4:
            paragraphs.append(joined)
    return paragraphs


def prose_sentences(text):
    """The sentences of a docstring's prose paragraphs."""
    return [
        sentence for paragraph in prose_paragraphs(text) for sentence in split_sentences(paragraph)
    ]


@functools.cache
def stdlib_docstrings():
    """`(module path, kind, docstring)` for every module, class and function of the stdlib, kind
    being "module", "class" or "function" (parsed once per process: the stdlib does not change)."""
    kinds = {
        ast.Module: "module",
        ast.ClassDef: "class",
        ast.FunctionDef: "function",
        ast.AsyncFunctionDef: "function",
    }
    docstrings = []
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root)
        if SKIPPED_PACKAGES & set(module.parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a few stdlib files are deliberately not valid source
        for node in ast.walk(tree):
            if type(node) in kinds:
                docstrings.append((str(module), kinds[type(node)], ast.get_docstring(node) or ""))
    return tuple(docstrings)


def stdlib_documents(min_words=12, document_words=2000):
    """Documents of prose paragraphs: the language reference (the pydoc topics), then the
    standard-library modules in path order, their docstrings in `ast.walk` order, consecutive modules
    joined until a document holds `document_words` words. Docstrings of fewer than `min_words` words
    of prose ("Return self.") are left out.

    Packing flushes an example at every document end (docs/electra.md, "Pretraining data"), and half the modules
    hold under 200 words, so one document a module left a tenth of the examples as padding. Path order
    keeps a package's modules together; the file layout was never a document structure.
    """

    def paragraphs(texts):
        chosen = (prose_paragraphs(text) for text in texts)
        return [
            p for text in chosen if sum(len(p.split()) for p in text) >= min_words for p in text
        ]

    by_module = itertools.groupby(stdlib_docstrings(), key=lambda entry: entry[0])
    documents, current = [paragraphs(pydoc_data.topics.topics.values())], []
    for _, entries in by_module:
        current += paragraphs(docstring for _, _, docstring in entries)
        if sum(len(paragraph.split()) for paragraph in current) >= document_words:
            documents.append(current)
            current = []
    return [document for document in documents + [current] if document]


def write_stdlib_corpus(path):
    """Writes the default corpus as prose: a blank line between paragraphs, `DOCUMENT_MARKER` lines
    between documents."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            f"\n{DOCUMENT_MARKER}\n".join("\n\n".join(document) for document in stdlib_documents())
            + "\n"
        )
    return path


DOCSTRING_KINDS = ("function", "class")


def docstring_kind_task(dev_fraction=0.2, seed=0):
    """A real labelled task every Python carries: is a docstring's first sentence a class's or a function's?

    Labels come from the source (`ast`), not from a model. Train and dev are split by module, so
    no module's wording is in both. Each kind is sampled down to the count of the rarer one, so
    the majority baseline is near 0.5.

    Returns:
        `((train_texts, train_labels), (dev_texts, dev_labels))`, labels indexing `DOCSTRING_KINDS`.
    """
    by_kind = {kind: [] for kind in DOCSTRING_KINDS}
    for module, kind, docstring in stdlib_docstrings():
        sentences = prose_sentences(docstring) if kind in by_kind else []
        if sentences and len(sentences[0].split()) >= 4:
            by_kind[kind].append((module, sentences[0]))
    rng = np.random.default_rng(seed)
    count = min(len(examples) for examples in by_kind.values())
    splits = {"train": ([], []), "dev": ([], [])}
    for label, kind in enumerate(DOCSTRING_KINDS):
        examples = by_kind[kind]
        chosen = rng.permutation(len(examples))[:count]
        for index in sorted(chosen):
            module, sentence = examples[index]
            split = "dev" if zlib.crc32(module.encode()) % 1000 < dev_fraction * 1000 else "train"
            splits[split][0].append(sentence)
            splits[split][1].append(label)
    return tuple((texts, np.array(labels, "int32")) for texts, labels in splits.values())
