"""The default corpus: English prose every Python installation carries.

The docstrings of the standard library's modules, classes and functions and
the language reference's pydoc topics, read from the running interpreter at
run time, so the main job needs no download and the repository ships no text.
"""

import ast
import re
import sysconfig
from pathlib import Path

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


def stdlib_documents(min_words=12):
    """Documents (lists of sentences) from the stdlib's docstrings and pydoc topics."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = list(pydoc_data.topics.topics.values())
    for path in sorted(root.rglob("*.py")):
        if SKIPPED_PACKAGES & set(path.relative_to(root).parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a few stdlib files are deliberately not valid source
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                texts.append(ast.get_docstring(node) or "")
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
