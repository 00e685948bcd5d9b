"""The input formats of pretraining text, from decoded lines to documents.

- "prose" (the default): ordinary text, as books, docstrings and web pages are written. A blank line ends
  a paragraph, and the wrapped lines of a paragraph are joined with spaces. What ends a document is
  explicit: the end of a file, or a line holding only `DOCUMENT_MARKER` (the default corpus writes one
  between its modules). A blank line never does, so a document's paragraphs are packed together.
- "sentence-per-line": the convention of the BERT and ELECTRA authors' builders, one sentence a line and
  a blank line between documents. With it, `build_pretraining_data` reproduces the authors' examples.
- JSON Lines (files named `*.jsonl`, also compressed): one document a record, its text in the field
  `text_field`. In prose, each line of a record's text is a paragraph (records are rarely hard-wrapped);
  in sentence-per-line, each line is a sentence.
- Parquet (`*.parquet`) and Arrow (`*.arrow`, the shards of a saved Hugging Face dataset): one document a
  row, its text in the column `text_field` (a dotted path reaches a struct's field), cut into lines as a
  JSON Lines record's text is (see `table_files`).

A document here is a list of units: paragraphs in prose (split into sentences later, see `sentences`),
sentences in sentence-per-line.
"""

import json
from pathlib import Path

from keras_electra.data.table_files import is_table_file, read_table_chunks
from keras_electra.data.text_files import (
    CHUNK_BYTES,
    MAX_LINE_CHARS,
    base_suffix,
    decode_lines,
    read_chunks,
)

FORMATS = ("prose", "sentence-per-line")
DOCUMENT_MARKER = "<|endoftext|>"
# JSON Lines records hold a whole document on one line, so they may be far longer than a line of text.
MAX_RECORD_CHARS = 64 * MAX_LINE_CHARS


class TextFormat:
    """How to cut one file into chunks and each chunk into documents (see the module docstring)."""

    def __init__(self, format="prose", text_field="text", marker=DOCUMENT_MARKER):
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
        if not marker or marker != marker.strip() or "\n" in marker:
            raise ValueError(
                f"the document marker must be a non-empty line without surrounding spaces; got {marker!r}"
            )
        self.format, self.text_field, self.marker = format, text_field, marker
        self._marker_bytes = marker.encode("utf-8")

    def is_jsonl(self, path):
        return base_suffix(path) == ".jsonl"

    def chunks(self, path, file_index=0, *, strip_gutenberg=False, chunk_bytes=CHUNK_BYTES):
        """The chunks of one file: `TableChunk`s of a Parquet or Arrow file's rows, else `TextChunk`s."""
        if is_table_file(path):
            return read_table_chunks(
                path, file_index, text_field=self.text_field, chunk_bytes=chunk_bytes
            )
        return read_chunks(
            path,
            file_index,
            is_boundary=self.boundary_rule(path),
            strip_gutenberg=strip_gutenberg,
            chunk_bytes=chunk_bytes,
        )

    def boundary_rule(self, path):
        """`is_boundary(stripped line bytes)` for `read_chunks`: where a chunk may end in this file."""
        if self.is_jsonl(path):
            return lambda line: "document"
        if self.format == "sentence-per-line":
            return lambda line: None if line else "document"
        marker = self._marker_bytes
        return lambda line: "document" if line == marker else None if line else "paragraph"

    def documents(self, chunk, max_line_chars=MAX_LINE_CHARS):
        """The documents of one chunk (see `chunks`), each a list of paragraphs (prose) or sentences."""
        if is_table_file(chunk.path):
            return [units for units in map(_record_units, chunk.texts()) if units]
        if self.is_jsonl(chunk.path):
            return list(self._record_documents(chunk))
        lines = decode_lines(chunk, max_line_chars)
        if self.format == "sentence-per-line":
            return _line_documents(lines)
        return _prose_documents(lines, self.marker)

    def _record_documents(self, chunk):
        for offset, line in enumerate(decode_lines(chunk, MAX_RECORD_CHARS)):
            if line.strip():
                units = _record_units(
                    self._record_text(line, chunk.path, chunk.first_line + offset)
                )
                if units:
                    yield units

    def _record_text(self, line, path, line_number):
        where = f"{path}, line {line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{where}: not valid JSON ({error.msg} at column {error.colno})"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{where}: a JSON {type(record).__name__}, not an object with a {self.text_field!r} field"
            )
        if self.text_field not in record:
            fields = ", ".join(map(repr, list(record)[:10])) or "none"
            raise ValueError(
                f"{where}: no {self.text_field!r} field (fields: {fields}); see --text-field"
            )
        text = record[self.text_field]
        if not isinstance(text, str):
            raise ValueError(
                f"{where}: field {self.text_field!r} is a {type(text).__name__}, not a string"
            )
        return text


def _record_units(text):
    """A record's or row's text as units: its non-blank lines, stripped."""
    return [unit for unit in map(str.strip, text.split("\n")) if unit]


def file_format(path):
    """What a corpus file is read as: "parquet", "arrow", "jsonl" (also compressed) or "text"."""
    if is_table_file(path):
        return Path(path).suffix[1:]
    return "jsonl" if base_suffix(path) == ".jsonl" else "text"


def _line_documents(lines):
    documents, document = [], []
    for line in lines:
        line = line.strip()
        if line:
            document.append(line)
        elif document:
            documents.append(document)
            document = []
    if document:
        documents.append(document)
    return documents


def _prose_documents(lines, marker):
    documents, paragraphs, paragraph = [], [], []
    for line in lines:
        line = line.strip()
        if line and line != marker:
            paragraph.append(line)
            continue
        if paragraph:
            paragraphs.append(" ".join(paragraph))
            paragraph = []
        if line == marker and paragraphs:
            documents.append(paragraphs)
            paragraphs = []
    if paragraph:
        paragraphs.append(" ".join(paragraph))
    if paragraphs:
        documents.append(paragraphs)
    return documents


def read_documents(path, text_format=None, *, strip_gutenberg=False, max_line_chars=MAX_LINE_CHARS):
    """Yields the documents of one file (see `TextFormat.documents`), streaming it chunk by chunk.

    `text_format` is a `TextFormat` (prose by default). An empty file yields nothing: whether a whole
    corpus is empty is the caller's decision.
    """
    text_format = text_format or TextFormat()
    pending = None
    for chunk in text_format.chunks(path, strip_gutenberg=strip_gutenberg):
        documents = text_format.documents(chunk, max_line_chars)
        if pending and chunk.continues_document and documents:
            documents[0] = pending + documents[0]
        elif pending:
            yield pending
        pending = documents.pop() if documents else None
        yield from documents
    if pending:
        yield pending
