"""Corpus files as bytes: finding them, opening them (plain, .gz, .bz2, .zst) and cutting them into chunks.

A chunk is a run of whole lines that ends where a document or paragraph ends, about `CHUNK_BYTES` long,
so that one large file can be packed by several processes. Where chunks end depends on the file's bytes
only, never on the number of workers, which keeps a build deterministic. Errors name the file and the
1-based line.
"""

import bz2
import gzip
import io
import json
import re
import zlib
from pathlib import Path
from typing import NamedTuple

import zstandard

CHUNK_BYTES = 4 << 20
MAX_LINE_CHARS = 1_000_000
# A chunk ends at the next boundary line after CHUNK_BYTES; text with none (one endless paragraph) is cut
# at a line end after this much more, so a chunk's size stays bounded whatever the text.
_MAX_OVERRUN_BYTES = 1 << 20
_BINARY_SNIFF_BYTES = 8192
_BUFFER_BYTES = 1 << 16
# Case-insensitive, at the start of a line after any blanks (but not across lines).
_GUTENBERG_MARKERS = re.compile(rb"^[^\S\n]*\*\*\* (START|END) OF", re.IGNORECASE | re.MULTILINE)


class _ZstdFrames(io.RawIOBase):
    """A zstd file's decompressed bytes, frame after frame. `zstandard`'s own readers end quietly at a
    truncated frame; this one raises EOFError, as gzip and bz2 do."""

    def __init__(self, path, mode="rb"):
        self.file = open(path, mode)
        self.frame = zstandard.ZstdDecompressor().decompressobj()
        self.pending, self.in_frame = b"", False

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self.pending:
            data = b""
            if self.frame.eof:  # what follows a frame's end starts the next frame
                data, self.frame = (
                    self.frame.unused_data,
                    zstandard.ZstdDecompressor().decompressobj(),
                )
            data = data or self.file.read(_BUFFER_BYTES)
            if not data:
                if self.in_frame:
                    raise EOFError("the file ends inside a zstd frame")
                return 0
            self.pending = memoryview(self.frame.decompress(data))  # sliced below without copying
            self.in_frame = not self.frame.eof
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size

    def close(self):
        self.file.close()
        super().close()


_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".zst": _ZstdFrames}
# What a damaged or truncated compressed stream raises while it is read.
_DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError)
CORPUS_SUFFIXES = (".txt", ".jsonl")
# Read by `table_files`; never compressed as a whole file (they compress their pages or buffers).
TABLE_SUFFIXES = (".parquet", ".arrow")


class TextChunk(NamedTuple):
    """Whole lines of one file. `first_line` numbers its first line in the file (1-based);
    `continues_document` says that the previous chunk of the file ended inside a document."""

    path: Path
    file_index: int
    index: int
    first_line: int
    data: bytes
    continues_document: bool

    @property
    def rows(self):
        """Lines in the chunk (a build's manifest counts them, per file)."""
        return self.data.count(b"\n") + (not self.data.endswith(b"\n"))


def list_corpus_files(paths):
    """Expands files and folders into a sorted list of Paths.

    Below a folder, every `*.txt` and `*.jsonl` file counts, also compressed (`.gz`, `.bz2`, `.zst`),
    and every `*.parquet` and `*.arrow` file, but in a folder that `datasets.Dataset.save_to_disk`
    wrote only the Arrow files its state.json lists. A file named explicitly counts whatever its name.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    files = set()
    for path in paths:
        if path.is_dir():
            files.update(_folder_files(path))
        elif path.exists():
            files.add(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        names = ", ".join(str(p) for p in paths) or "no paths"
        raise ValueError(
            f"no .txt or .jsonl files (plain or .gz/.bz2/.zst), .parquet or .arrow files found in {names}"
        )
    return sorted(files)


def _folder_files(folder):
    """The corpus files below `folder` (see `list_corpus_files`)."""
    for splits in folder.rglob("dataset_dict.json"):
        names = ", ".join(sorted(state.parent.name for state in splits.parent.glob("*/state.json")))
        raise ValueError(
            f"{splits.parent}: a saved DatasetDict (splits: {names or 'none'}); name the folder of each "
            "split to read, so that no evaluation split joins the pretraining text"
        )
    saved = {state.parent: _saved_dataset_files(state) for state in folder.rglob("state.json")}
    saved = {parent: files for parent, files in saved.items() if files is not None}
    found = {
        f
        for f in folder.rglob("*")
        if f.is_file()
        and (base_suffix(f) in CORPUS_SUFFIXES or f.suffix in TABLE_SUFFIXES)
        and not (f.suffix == ".arrow" and f.parent in saved)
    }
    return found.union(*saved.values())


def _saved_dataset_files(state_file):
    """The Arrow files of a folder that `datasets.Dataset.save_to_disk` wrote, as its state.json lists
    them under "_data_files"; None for a state.json of something else."""
    try:
        listed = json.loads(state_file.read_text("utf-8"))["_data_files"]
        files = [state_file.parent / entry["filename"] for entry in listed]
    except (ValueError, KeyError, TypeError):
        return None
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise FileNotFoundError(f"{state_file}: lists {missing[0]}, which is missing")
    return files


def base_suffix(path):
    """The suffix under any compression suffix: ".jsonl" for "wiki.jsonl.zst"."""
    path = Path(path)
    return Path(path.stem).suffix if path.suffix in _OPENERS else path.suffix


def read_chunks(path, file_index=0, *, is_boundary, strip_gutenberg=False, chunk_bytes=CHUNK_BYTES):
    """Yields the `TextChunk`s of one file, cut after a line for which `is_boundary(line)` holds.

    `is_boundary(stripped_line_bytes)` returns None for an ordinary line, "paragraph" or "document".
    With `strip_gutenberg`, only the text between the Project Gutenberg markers is read (a first pass
    finds them, so the file streams either way).
    """
    begin, end = _gutenberg_bounds(path) if strip_gutenberg else (0, None)
    with _open_checked(path) as stream:
        stream.skip_lines(begin)
        index, in_document = 0, False
        while stream.line_number < (end if end is not None else float("inf")):
            first_line = stream.line_number + 1
            data, boundary = _read_chunk(stream, chunk_bytes, is_boundary, end)
            if not data:
                return
            yield TextChunk(Path(path), file_index, index, first_line, data, in_document)
            index, in_document = index + 1, boundary != "document"


def _read_chunk(stream, chunk_bytes, is_boundary, end):
    """Lines up to `chunk_bytes`, then on to the next boundary line (or `end`); returns them and the
    kind of boundary they end at (None at a cut inside a paragraph)."""
    parts = [stream.read_lines(chunk_bytes, end)]
    size, boundary = len(parts[0]), is_boundary(_last_line(parts[0]).strip())
    while (
        not boundary
        and size < chunk_bytes + _MAX_OVERRUN_BYTES
        and (end is None or stream.line_number < end)
    ):
        line = stream.readline()
        if not line:
            break
        parts.append(line)
        size += len(line)
        boundary = is_boundary(line.strip())
    ended = stream.line_number == end or stream.at_end()
    return b"".join(parts), "document" if ended else boundary


def _last_line(data):
    return data[data.rfind(b"\n", 0, len(data) - 1) + 1 :]


def _gutenberg_bounds(path):
    """Line range `(begin, end)` of the text between a Project Gutenberg header and licence.

    The markers ("*** START OF", "*** END OF") match case-insensitively at the start of a line; each is
    optional, so a file stripped upstream is read whole.
    """
    start = end = None
    with _open_checked(path) as stream:
        while end is None and (data := stream.read_lines(CHUNK_BYTES)):
            first_line = stream.line_number - data.count(b"\n") - (not data.endswith(b"\n")) + 1
            for match in _GUTENBERG_MARKERS.finditer(data):
                line = first_line + data.count(b"\n", 0, match.start())
                if match[1].upper() == b"START" and start is None:
                    start = line
                elif match[1].upper() == b"END":
                    end = line - 1
                    break
    return (start or 0), end


def _open_checked(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    opener = _OPENERS.get(path.suffix)
    if opener is None:
        return _CheckedLines(path, open(path, "rb", buffering=_BUFFER_BYTES), compressed=False)
    return _CheckedLines(
        path, io.BufferedReader(opener(path, "rb"), _BUFFER_BYTES), compressed=True
    )


class _CheckedLines:
    """Binary lines of a file, counted, with errors that name the file and line: binary content, a
    runaway line, a damaged or truncated compressed stream."""

    def __init__(self, path, raw, compressed):
        self.path, self.compressed = path, compressed
        self.stream = raw
        self.line_number = 0
        # A UTF-8 character takes at most 4 bytes, so a longer raw line is surely over the limit.
        self.byte_limit = 4 * MAX_LINE_CHARS + 2
        if b"\0" in self._read(lambda: self.stream.peek(_BINARY_SNIFF_BYTES)[:_BINARY_SNIFF_BYTES]):
            raw.close()
            raise ValueError(
                f"{path}: looks binary (NUL byte in the first {_BINARY_SNIFF_BYTES} bytes)"
            )

    def readline(self):
        line = self._read(lambda: self.stream.readline(self.byte_limit))
        if line:
            self.line_number += 1
            if len(line) == self.byte_limit and not line.endswith(b"\n"):
                raise too_long(self.path, self.line_number)
        return line

    def read_lines(self, size, end=None):
        """About `size` bytes of whole lines, stopping after line `end` when given (b"" at the end)."""
        data = self._read(lambda: self.stream.read(size))
        if data and not data.endswith(b"\n"):
            data += self._read(lambda: self.stream.readline(self.byte_limit))
            if (
                len(data) >= self.byte_limit
                and not data.endswith(b"\n")
                and b"\n" not in data[-self.byte_limit :]
            ):
                raise too_long(self.path, self.line_number + data.count(b"\n") + 1)
        count = data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))
        if end is not None and self.line_number + count > end:
            keep = end - self.line_number
            cut = 0
            for _ in range(keep):
                cut = data.index(b"\n", cut) + 1
            data, count = data[:cut], keep
        self.line_number += count
        return data

    def at_end(self):
        return not self._read(lambda: self.stream.peek(1))

    def skip_lines(self, count):
        while self.line_number < count and self.readline():
            pass

    def _read(self, read):
        if not self.compressed:
            return read()
        try:
            return read()
        except _DECOMPRESSION_ERRORS as error:
            raise ValueError(
                f"{self.path}, line {self.line_number + 1}: damaged or truncated {self.path.suffix} file "
                f"({error or type(error).__name__})"
            ) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stream.close()


def decode_lines(chunk, max_line_chars=MAX_LINE_CHARS):
    """The chunk's lines as str (line endings and a leading byte-order mark removed), with the 1-based
    line number of a UTF-8 error or of a line over `max_line_chars` in the message."""
    try:
        text = chunk.data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = chunk.first_line + chunk.data.count(b"\n", 0, error.start)
        column = error.start - (chunk.data.rfind(b"\n", 0, error.start) + 1)
        raise ValueError(
            f"{chunk.path}, line {line}: not valid UTF-8 ({error.reason} at byte {column})"
        ) from None
    if chunk.first_line == 1:
        text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    longest = max(range(len(lines)), key=lambda i: len(lines[i]), default=None)
    if longest is not None and len(lines[longest]) > max_line_chars:
        raise too_long(chunk.path, chunk.first_line + longest, max_line_chars)
    return lines


def read_lines(path, max_line_chars=MAX_LINE_CHARS):
    """Yields the decoded lines of a whole file (for small tabular files such as GLUE's and CoNLL's)."""
    for chunk in read_chunks(path, is_boundary=lambda line: "paragraph"):
        yield from decode_lines(chunk, max_line_chars)


def too_long(path, line_number, max_line_chars=MAX_LINE_CHARS):
    return ValueError(
        f"{path}, line {line_number}: longer than {max_line_chars} characters; is it really text with "
        "line breaks?"
    )
