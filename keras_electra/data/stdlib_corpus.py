"""The default corpus: English prose every Python installation carries.

The docstrings of the standard library's modules, classes and functions and
the language reference's pydoc topics, read from the running interpreter at
run time, so the main job needs no download and the repository ships no text.
"""

import ast
import functools
import re
import sysconfig
import zlib
from pathlib import Path

import numpy as np
import pydoc_data.topics

SKIPPED_PACKAGES = {"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "pydoc_data"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def prose_sentences(text):
    """Sentences of a docstring's prose paragraphs, one a line.

    Indented lines and doctest lines are code, not prose; a paragraph's
    wrapped lines are joined before splitting at sentence ends.
    """
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        # Underlines of reST headings are not prose.
        lines = [line.strip() for line in paragraph.splitlines() if not set(line.strip()) <= set("=-*~^#")]
        if not lines or any(line.startswith(">>>") for line in lines):
            continue
        if any(raw.startswith((" ", "\t")) for raw in paragraph.splitlines()[1:]):
            continue
        joined = " ".join(line for line in lines if line)
        if len(joined.split()) >= 4:
            sentences.extend(SENTENCE_END.split(joined))
    return sentences


@functools.cache
def stdlib_docstrings():
    """`(module path, kind, docstring)` for every module, class and function of the stdlib, kind
    being "module", "class" or "function" (parsed once per process: the stdlib does not change)."""
    kinds = {ast.Module: "module", ast.ClassDef: "class", ast.FunctionDef: "function", ast.AsyncFunctionDef: "function"}
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


def stdlib_documents(min_words=12):
    """Documents (lists of sentences) from the stdlib's docstrings and pydoc topics."""
    texts = list(pydoc_data.topics.topics.values())
    texts.extend(docstring for _, _, docstring in stdlib_docstrings())
    for text in texts:
        sentences = prose_sentences(text)
        if sum(len(s.split()) for s in sentences) >= min_words:
            yield sentences


def write_stdlib_corpus(path):
    """Writes the default corpus as a text file (blank line between documents)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for sentences in stdlib_documents():
            f.write("\n".join(sentences) + "\n\n")
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
