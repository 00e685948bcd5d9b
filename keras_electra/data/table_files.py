"""Parquet files and Arrow files (the shards of a saved Hugging Face dataset) as chunks of whole rows.

One row is one document, as a JSON Lines record is: its text is in the column `text_field`, where a
dotted path ("meta.text") reaches a field of a struct column. pyarrow reads that column only, a batch
of rows at a time (Parquet: about `CHUNK_BYTES` of text a batch, estimated from the file's metadata;
Arrow: one record batch), and the rows are cut into chunks that end at the row holding the chunk's
`chunk_bytes`-th byte of text, as a JSON Lines chunk ends at the line holding its `chunk_bytes`-th
byte. So where chunks end depends on the texts only: neither on the row groups the writer chose (from
a few rows to pyarrow's and pandas' default of 1,048,576) nor on the number of workers.

A chunk carries its texts as UTF-8 bytes and offsets: the worker processes that pack it need no
pyarrow. Errors name the file and the place, the row group (Parquet) or record batch (Arrow) and the
row in it, counted from 0 as pyarrow counts them (`ParquetFile.read_row_group(g).slice(row, 1)`).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from keras_electra.data.text_files import CHUNK_BYTES, TABLE_SUFFIXES
from keras_electra.extras import require

_FEATURE = "reading Parquet and Arrow files"
# How the IPC file format starts; the stream format, which save_to_disk writes, has no magic.
_ARROW_FILE_MAGIC = b"ARROW1"
# Parquet pages are read through a buffer of this size rather than a whole column chunk at once, so that
# memory follows the batch, not the row group, whose size the writer chose.
_READ_BUFFER_BYTES = 1 << 20


class TableChunk(NamedTuple):
    """Whole rows of one Parquet or Arrow file from row `first_row` of the file (counted from 0): row i's
    text is `data[offsets[i]:offsets[i + 1]]`, UTF-8. A row is a whole document: none continues."""

    path: Path
    file_index: int
    index: int
    first_row: int
    data: bytes
    offsets: np.ndarray
    continues_document: bool = False

    @property
    def rows(self):
        return len(self.offsets) - 1

    def texts(self):
        bounds, view, texts = self.offsets.tolist(), memoryview(self.data), []
        for row, (begin, end) in enumerate(zip(bounds, bounds[1:])):
            try:
                texts.append(str(view[begin:end], "utf-8"))
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{self.path}, row {self.first_row + row} of the file: not valid UTF-8 "
                    f"({error.reason} at byte {error.start})"
                ) from None
        return texts


def is_table_file(path):
    return Path(path).suffix in TABLE_SUFFIXES


def read_table_chunks(path, file_index=0, *, text_field="text", chunk_bytes=CHUNK_BYTES):
    """Yields the `TableChunk`s of one Parquet or Arrow file (see the module docstring)."""
    path = Path(path)
    if path.suffix == ".parquet":
        columns = _parquet_columns(path, text_field, chunk_bytes)
    else:
        columns = _arrow_columns(path, text_field)
    pieces, size, index, first_row = [], 0, 0, 0
    for column, offsets in columns:
        ends = offsets[1:] - offsets[0]  # bytes of text up to and including each row
        start = 0
        while start < len(column):
            before = int(ends[start - 1]) if start else 0
            reached = int(np.searchsorted(ends, before + chunk_bytes - size)) + 1
            stop = min(reached, len(column))
            pieces.append(column.slice(start, stop - start))
            size, start = size + int(ends[stop - 1]) - before, stop
            if size >= chunk_bytes:
                yield _chunk(path, file_index, index, first_row, pieces)
                index, first_row = index + 1, first_row + sum(map(len, pieces))
                pieces, size = [], 0
    if pieces:
        yield _chunk(path, file_index, index, first_row, pieces)


def _chunk(path, file_index, index, first_row, pieces):
    pa = require("pyarrow", _FEATURE)
    rows = pa.concat_arrays(pieces)
    offsets = _offsets(rows)
    data = rows.buffers()[2]  # None when every text is empty
    begin, end = int(offsets[0]), int(offsets[-1])
    data = data.slice(begin, end - begin).to_pybytes() if data is not None else b""
    return TableChunk(path, file_index, index, first_row, data, offsets - offsets[0])


def _offsets(column):
    """The offsets (int64) of a string or large_string array's rows in its data buffer."""
    pa = require("pyarrow", _FEATURE)
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], width)
    return offsets[column.offset : column.offset + len(column) + 1].astype(np.int64)


def _parquet_columns(path, field, chunk_bytes):
    pa, pq = require("pyarrow", _FEATURE), require("pyarrow.parquet", _FEATURE)
    try:
        file = pq.ParquetFile(path, buffer_size=_READ_BUFFER_BYTES, pre_buffer=False)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{path}: damaged, truncated or not Parquet ({error})") from None
    with file:
        _check_field(path, file.schema_arrow, field)
        meta = file.metadata
        group_ends = np.cumsum([meta.row_group(g).num_rows for g in range(meta.num_row_groups)])

        def place(batch_index, batch_row, row):
            group = int(np.searchsorted(group_ends, batch_row + row, side="right"))
            start = int(group_ends[group - 1]) if group else 0
            return f"row group {group}, row {batch_row + row - start}"

        rows = _batch_rows(meta, field, chunk_bytes)
        batches = file.iter_batches(rows, columns=[field], use_threads=False)
        yield from _text_columns(path, batches, field, place)


def _batch_rows(meta, field, chunk_bytes):
    """Rows in about `chunk_bytes` of the column's text, from its uncompressed size in the metadata."""
    size = sum(
        group.column(c).total_uncompressed_size
        for group in map(meta.row_group, range(meta.num_row_groups))
        for c in range(group.num_columns)
        if group.column(c).path_in_schema == field
    )
    return max(1, min(meta.num_rows, chunk_bytes * meta.num_rows // max(size, 1)))


def _arrow_columns(path, field):
    pa = require("pyarrow", _FEATURE)
    try:
        with pa.OSFile(str(path)) as source:
            schema = _open_arrow(pa, source).schema
        _check_field(path, schema, field)
        # Only the text's column is read: a dataset's other columns may be far larger (embeddings).
        options = pa.ipc.IpcReadOptions(
            included_fields=[schema.get_field_index(field.split(".")[0])]
        )
        with pa.OSFile(str(path)) as source:
            reader = _open_arrow(pa, source, options)
            if isinstance(reader, pa.ipc.RecordBatchFileReader):
                reader = map(reader.get_batch, range(reader.num_record_batches))
            yield from _text_columns(
                path, iter(reader), field, lambda batch, _, row: f"record batch {batch}, row {row}"
            )
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{path}: damaged, truncated or not Arrow ({error})") from None


def _open_arrow(pa, source, options=None):
    """A reader of either Arrow format: the IPC file (random access) or stream (what save_to_disk writes)."""
    is_file = source.read(len(_ARROW_FILE_MAGIC)) == _ARROW_FILE_MAGIC
    source.seek(0)
    return (pa.ipc.open_file if is_file else pa.ipc.open_stream)(source, options=options)


def _text_columns(path, batches, field, place):
    """`(string column, offsets)` of each batch's text; `place(batch index, its first row, row)` names
    a row for the errors. pyarrow.compute (10 MB more) is imported only where it is needed."""
    pa = require("pyarrow", _FEATURE)
    batch_row = 0
    for batch_index, batch in enumerate(_checked(path, batches, place)):
        column = batch.column(0)
        for name in field.split(".")[1:]:
            pc = require("pyarrow.compute", _FEATURE)
            column = pc.struct_field(column, name)  # null where the struct is
        if column.null_count:
            row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
            raise ValueError(f"{path}, {place(batch_index, batch_row, row)}: {field!r} is null")
        if len(column):
            if pa.types.is_string_view(column.type):
                column = column.cast(pa.large_string())
            yield column, _offsets(column)
        batch_row += len(column)


def _checked(path, batches, place):
    """`batches`, with a damaged file's error naming where reading stopped."""
    pa = require("pyarrow", _FEATURE)
    index, row = 0, 0
    while True:
        # pyarrow's allocator (mimalloc) keeps the pages a batch freed: returned, the main process's peak
        # RSS on a 50 MB Parquet file drops from 147 to 124 MB.
        pa.default_memory_pool().release_unused()
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as error:
            where = place(index, row, 0)
            raise ValueError(f"{path}, {where}: damaged or truncated ({error})") from None
        if batch is None:
            return
        yield batch
        index, row = index + 1, row + batch.num_rows


def _check_field(path, schema, field):
    """That the dotted path `field` names a text column (or a struct's text field) of `schema`."""
    pa = require("pyarrow", _FEATURE)
    names = field.split(".")
    if names[0] not in schema.names:
        columns = ", ".join(map(repr, schema.names[:10])) or "none"
        raise ValueError(f"{path}: no column {names[0]!r} (columns: {columns}); see --text-field")
    kind, where = schema.field(names[0]).type, names[0]
    for name in names[1:]:
        if not pa.types.is_struct(kind) or kind.get_field_index(name) < 0:
            raise ValueError(
                f"{path}: column {where!r} ({kind}) has no field {name!r}; see --text-field"
            )
        kind, where = kind.field(name).type, f"{where}.{name}"
    is_text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if not any(test(kind) for test in is_text):
        raise ValueError(f"{path}: column {field!r} holds {kind}, not text; see --text-field")
