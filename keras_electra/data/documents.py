"""Reading pretraining documents from plain-text files.

Corpus format (as in BERT and ELECTRA): one sentence or line per line, blank lines between documents.
Errors name the file and the 1-based line so that one bad file in a large corpus is easy to find.
"""

import os
from pathlib import Path

MAX_LINE_CHARS = 1_000_000
_BINARY_SNIFF_BYTES = 8192
_GUTENBERG_START = "*** START OF"
_GUTENBERG_END = "*** END OF"


def read_documents(path, strip_gutenberg=False, max_line_chars=MAX_LINE_CHARS):
    """Yields the documents of one UTF-8 text file, each a list of its non-empty stripped lines.

    An empty file yields nothing: whether a whole corpus is empty is the caller's decision.
    With `strip_gutenberg`, the Project Gutenberg header and licence are dropped first (see
    `strip_gutenberg_boilerplate`), which needs the whole file in memory; otherwise it streams.
    """
    lines = read_lines(Path(path), max_line_chars)
    if strip_gutenberg:
        lines = strip_gutenberg_boilerplate(list(lines))
    document = []
    for line in lines:
        line = line.strip()
        if line:
            document.append(line)
        elif document:
            yield document
            document = []
    if document:
        yield document


def strip_gutenberg_boilerplate(lines):
    """Drops a Project Gutenberg header (up to the "*** START OF" line) and licence ("*** END OF" on).

    The markers match case-insensitively at the start of a line; each is optional, so a file that was
    already stripped upstream is returned whole. Returns a new list.
    """
    start = _find_marker(lines, _GUTENBERG_START, 0)
    begin = 0 if start is None else start + 1
    end = _find_marker(lines, _GUTENBERG_END, begin)
    return list(lines[begin:end])


def list_corpus_files(paths):
    """Expands files and folders (every `*.txt` below them, recursively) into a sorted list of Paths."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    files = set()
    for path in paths:
        if path.is_dir():
            files.update(f for f in path.rglob("*.txt") if f.is_file())
        elif path.exists():
            files.add(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        raise ValueError(f"no .txt files found in {', '.join(str(p) for p in paths) or 'no paths'}")
    return sorted(files)


def _find_marker(lines, marker, begin):
    for index in range(begin, len(lines)):
        if lines[index].lstrip().upper().startswith(marker):
            return index
    return None


def read_lines(path, max_line_chars):
    """Yields the decoded lines of `path`, failing early on binary, non-UTF-8 or runaway files."""
    # A UTF-8 character takes at most 4 bytes, so a longer raw line is surely over the limit; reading
    # with this cap keeps one newline-free multi-gigabyte file from being loaded whole.
    byte_limit = 4 * max_line_chars + 2
    with open(path, "rb") as f:
        if b"\0" in f.read(_BINARY_SNIFF_BYTES):
            raise ValueError(f"{path}: looks binary (NUL byte in the first {_BINARY_SNIFF_BYTES} bytes)")
        f.seek(0)
        line_number = 0
        while raw := f.readline(byte_limit):
            line_number += 1
            if len(raw) == byte_limit and not raw.endswith(b"\n"):
                raise _too_long(path, line_number, max_line_chars)
            try:
                line = raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}, line {line_number}: not valid UTF-8 ({error.reason} at byte {error.start})"
                ) from None
            line = line.rstrip("\r\n")
            if line_number == 1:
                line = line.removeprefix("\ufeff")
            if len(line) > max_line_chars:
                raise _too_long(path, line_number, max_line_chars)
            yield line


def _too_long(path, line_number, max_line_chars):
    return ValueError(
        f"{path}, line {line_number}: longer than {max_line_chars} characters; is it really one "
        "sentence or line per line?"
    )
