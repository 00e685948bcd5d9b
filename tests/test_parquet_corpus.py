"""build-data on Parquet files and saved Hugging Face datasets (Arrow): the examples of the same
documents as JSON Lines, chunks independent of row groups and workers, errors that name the place."""

import json
import sys

import numpy as np
import pytest
from conftest import backend_independent, shared_data
from test_bad_inputs import build_data_cli
from test_corpus_formats import BOOKS, frequency_vocabulary

from keras_electra.data import ElectraTokenizer, build_pretraining_data, text_files
from keras_electra.data.documents import TextFormat, read_documents
from keras_electra.data.shards import read_manifest
from keras_electra.data.table_files import read_table_chunks

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = backend_independent

SMALL = dict(max_length=24, examples_per_shard=10, heldout_fraction=0.1, progress=False)


def documents_of(corpus):
    """Each file's documents (write_corpus puts a blank line between them) as texts, a sentence a line."""
    lines = TextFormat("sentence-per-line")
    return {
        path.stem: ["\n".join(document) for document in read_documents(path, lines)]
        for path in sorted(corpus.iterdir())
    }


def write_jsonl(folder, documents, field="text"):
    folder.mkdir(parents=True)
    for name, texts in documents.items():
        records = "".join(json.dumps({"id": i, field: t}) + "\n" for i, t in enumerate(texts))
        (folder / f"{name}.jsonl").write_text(records, encoding="utf-8")
    return folder


def write_parquet(folder, documents, row_group_size=2, column=None):
    """One file a corpus file; `column(texts)` makes the text column (a plain string column by default)."""
    folder.mkdir(parents=True)
    for name, texts in documents.items():
        table = pa.table({"id": range(len(texts)), "text": (column or pa.array)(texts)})
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=row_group_size)
    return folder


def write_arrow_stream(path, table, batch_rows):
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=batch_rows)


def write_saved_dataset(folder, documents, batch_rows=2):
    """What `datasets.Dataset.save_to_disk` writes: an Arrow stream file a shard, its record batches of
    `batch_rows` rows, and state.json listing the shards (here one shard a corpus file, in the order of
    `documents`)."""
    folder.mkdir(parents=True)
    names = [f"data-{i:05d}-of-{len(documents):05d}.arrow" for i in range(len(documents))]
    for name, texts in zip(names, documents.values()):
        table = pa.table({"text": pa.array(texts, pa.large_string()), "id": range(len(texts))})
        write_arrow_stream(folder / name, table, batch_rows)
    state = {"_data_files": [{"filename": n} for n in names], "_fingerprint": "0", "_split": None}
    (folder / "state.json").write_text(json.dumps(state), encoding="utf-8")
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}), encoding="utf-8")
    return folder


def shard_bytes(data_dir):
    return {path.name: path.read_bytes() for path in sorted(data_dir.glob("*.npy"))}


def test_parquet_and_a_saved_dataset_build_the_examples_of_the_same_json_lines(
    corpus, vocab_file, tmp_path
):
    documents = documents_of(corpus)
    sources = {
        "jsonl": write_jsonl(tmp_path / "jsonl", documents),
        "parquet": write_parquet(tmp_path / "parquet", documents, row_group_size=2),
        "arrow": write_saved_dataset(tmp_path / "saved", documents, batch_rows=2),
    }
    runs = [("jsonl", 1), ("parquet", 1), ("parquet", 2), ("arrow", 2)]
    summaries = {
        run: build_pretraining_data(
            sources[run[0]],
            tmp_path / f"{run[0]}{run[1]}",
            vocab_file=vocab_file,
            workers=run[1],
            **SMALL,
        )
        for run in runs
    }
    built = {run: shard_bytes(tmp_path / f"{run[0]}{run[1]}") for run in runs}
    assert len(built["jsonl", 1]) > 2  # several train shards and heldout.npy
    assert built["jsonl", 1] == built["parquet", 1] == built["parquet", 2] == built["arrow", 2]
    assert summaries["jsonl", 1]["documents"] == summaries["arrow", 2]["documents"] == 15
    # Each input's format and rows, in the summary and the manifest.
    expected = [
        {
            "path": str(sources["arrow"] / f"data-0000{i}-of-00003.arrow"),
            "format": "arrow",
            "rows": 5,
        }
        for i in range(3)
    ]
    assert (
        summaries["arrow", 2]["inputs"] == read_manifest(tmp_path / "arrow2")["inputs"] == expected
    )
    assert [i["format"] for i in summaries["parquet", 2]["inputs"]] == ["parquet"] * 3
    assert [i["rows"] for i in summaries["jsonl", 1]["inputs"]] == [5, 5, 5]


def test_chunks_end_at_the_row_holding_their_nth_byte_whatever_the_row_groups(tmp_path):
    rng = np.random.default_rng(0)
    texts = ["word " * int(n) for n in rng.integers(0, 60, 200)]  # empty rows too
    (tmp_path / "a").mkdir()
    write_arrow_stream(tmp_path / "a" / "one.arrow", pa.table({"text": texts}), batch_rows=7)
    views = pa.table({"text": pa.array(texts, pa.string_view())})
    write_arrow_stream(tmp_path / "a" / "views.arrow", views, batch_rows=50)
    # The IPC file format (Feather 2) beside the stream format that save_to_disk writes.
    with pa.ipc.new_file(tmp_path / "a" / "file.arrow", views.schema) as writer:
        writer.write_table(views, max_chunksize=30)
    files = [tmp_path / "a" / name for name in ("one.arrow", "views.arrow", "file.arrow")]
    for rows in (1, 13, 200):
        files.append(write_parquet(tmp_path / f"g{rows}", {"t": texts}, rows) / "t.parquet")
    # The reference: a chunk ends at the first row where its bytes reach 500.
    ends, size = [], 0
    for row, text in enumerate(texts):
        size += len(text.encode())
        if size >= 500:
            ends, size = ends + [row + 1], 0
    ends.append(len(texts))
    for path in files:
        chunks = list(read_table_chunks(path, chunk_bytes=500))
        assert [c.first_row + c.rows for c in chunks] == ends
        assert [t for c in chunks for t in c.texts()] == texts
        assert [c.index for c in chunks] == list(range(len(ends)))


def test_many_chunks_pack_the_same_for_any_worker_count_and_row_groups(
    corpus, vocab_file, tmp_path, monkeypatch
):
    monkeypatch.setattr(text_files, "CHUNK_BYTES", 400)  # several chunks a file
    documents = documents_of(corpus)
    options = dict(vocab_file=vocab_file, **SMALL)
    few = write_parquet(tmp_path / "few", documents, row_group_size=3)
    many = write_parquet(tmp_path / "many", documents, row_group_size=1)
    build_pretraining_data(few, tmp_path / "few1", workers=1, **options)
    build_pretraining_data(many, tmp_path / "many2", workers=2, **options)
    assert shard_bytes(tmp_path / "few1") == shard_bytes(tmp_path / "many2")
    build_pretraining_data(few, tmp_path / "seed1", workers=1, seed=1, **options)
    assert shard_bytes(tmp_path / "seed1") != shard_bytes(tmp_path / "few1")


def test_a_dotted_text_field_reads_a_struct_column_through_the_command_line(
    corpus, vocab_file, tmp_path, capsys
):
    documents = documents_of(corpus)

    def nested(texts):
        return pa.array([{"lang": "en", "text": t} for t in texts])

    write_parquet(tmp_path / "nested", documents, column=nested)
    write_jsonl(tmp_path / "flat", documents, field="body")
    for name, field in (("nested", "text.text"), ("flat", "body")):
        out = tmp_path / f"{name}-data"
        code, _, err = build_data_cli(
            capsys, tmp_path / name, out, vocab_file, "--text-field", field
        )
        assert code == 0, err
    assert shard_bytes(tmp_path / "nested-data") == shard_bytes(tmp_path / "flat-data")


def truncated(path):
    write_parquet(path.parent, {path.stem: ["One.", "Two."]})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])


def one_null(path):
    write_parquet(path.parent, {path.stem: ["One.", "Two.", "Three.", None]})


def no_text_column(path):
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1], "body": ["One."]}), path)


def numbers(path):
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"text": [1, 2]}), path)


def truncated_arrow(path):
    path.parent.mkdir(parents=True)
    write_arrow_stream(path, pa.table({"text": ["One.", "Two.", "Three."]}), batch_rows=1)
    path.write_bytes(path.read_bytes()[:-20])


def invalid_utf8(path):
    path.parent.mkdir(parents=True)
    texts = pa.array([b"One.", b"Tw\xffo."]).view(pa.string())  # IPC reading does not validate
    write_arrow_stream(path, pa.table({"text": texts}), batch_rows=2)


def null_in_struct(path):
    path.parent.mkdir(parents=True)
    meta = pa.array([{"text": "One."}, {"text": "Two."}, None], pa.struct([("text", pa.string())]))
    write_arrow_stream(path, pa.table({"text": meta}), batch_rows=2)


# case -> (how the file is written, its name, --text-field, the error line's message)
BAD_TABLE_FILES = {
    "truncated": (truncated, "cut.parquet", "text", "damaged, truncated or not Parquet (Parquet"),
    "null": (one_null, "null.parquet", "text", "row group 1, row 1: 'text' is null"),
    "missing column": (no_text_column, "body.parquet", "text", "no column 'text' (columns: 'id', 'body')"),
    "not text": (numbers, "ints.parquet", "text", "column 'text' holds int64, not text"),
    "truncated arrow": (truncated_arrow, "cut.arrow", "text", "record batch 2, row 0: damaged or truncated"),
    "null in a struct": (null_in_struct, "null.arrow", "text.text", "record batch 1, row 0: 'text.text' is null"),
    "no such field": (null_in_struct, "flat.arrow", "text.text.x", "column 'text.text' (string) has no field 'x'"),
    "not UTF-8": (invalid_utf8, "bad.arrow", "text", "row 1 of the file: not valid UTF-8"),
}  # fmt: skip


@pytest.mark.parametrize(
    "write, name, field, message", BAD_TABLE_FILES.values(), ids=list(BAD_TABLE_FILES)
)
def test_a_bad_table_file_is_one_line_naming_the_place_and_nothing_is_written(
    tmp_path, capsys, vocab_file, name, write, field, message
):
    write(tmp_path / "in" / name)
    out = tmp_path / "new" / "data"
    code, _, err = build_data_cli(capsys, tmp_path / "in", out, vocab_file, "--text-field", field)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    # The file, then the place (", row group 1, row 1: ...") or what is wrong with all of it (": ...").
    assert f"{name}, {message}" in errors[0] or f"{name}: {message}" in errors[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in"]


def test_without_pyarrow_the_error_names_the_extra(tmp_path, capsys, vocab_file, monkeypatch):
    write_parquet(tmp_path / "in", {"a": ["One."]})
    for module in ("pyarrow", "pyarrow.parquet", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, module, None)
    code, _, err = build_data_cli(capsys, tmp_path / "in", tmp_path / "data", vocab_file)
    assert code == 2 and "pip install 'keras-electra[parquet]'" in err
    assert not (tmp_path / "data").exists()


def test_a_saved_dataset_folder_reads_the_shards_its_state_lists(corpus, tmp_path):
    saved = write_saved_dataset(tmp_path / "saved", documents_of(corpus))
    (saved / "cache-1234.arrow").write_bytes(b"not listed")  # e.g. left by Dataset.map
    (tmp_path / "more.parquet").write_bytes(b"")
    found = text_files.list_corpus_files([tmp_path])
    assert found == [tmp_path / "more.parquet"] + [
        saved / f"data-0000{i}-of-00003.arrow" for i in range(3)
    ]
    (saved / "data-00001-of-00003.arrow").unlink()
    with pytest.raises(FileNotFoundError, match=r"state\.json: lists data-00001-of-00003\.arrow"):
        text_files.list_corpus_files([saved])
    (tmp_path / "dict" / "train").mkdir(parents=True)
    (tmp_path / "dict" / "train" / "state.json").write_text("{}")
    (tmp_path / "dict" / "dataset_dict.json").write_text('{"splits": ["train"]}')
    with pytest.raises(ValueError, match=r"dict: a saved DatasetDict \(splits: train\)"):
        text_files.list_corpus_files([tmp_path / "dict"])


def test_the_vocabulary_trains_on_the_rows_as_on_the_json_lines(corpus, tmp_path, monkeypatch):
    """WordPiece training is not deterministic (its ties), so what is compared is what it is fed."""
    fed, train = [], ElectraTokenizer.train

    def recording_train(texts, **kwargs):
        assert not isinstance(texts, list)  # streamed
        fed.append(list(texts))
        return train(texts=fed[-1], **kwargs)

    monkeypatch.setattr(ElectraTokenizer, "train", recording_train)
    documents = documents_of(corpus)
    for name, write in (("jsonl", write_jsonl), ("parquet", write_parquet)):
        build_pretraining_data(
            write(tmp_path / name, documents),
            tmp_path / f"{name}-data",
            vocab_size=200,
            workers=1,
            **SMALL,
        )
    lines = [line for texts in documents.values() for text in texts for line in text.split("\n")]
    assert fed[0] == fed[1] == lines


@pytest.mark.large
def test_shared_books_as_parquet_and_arrow_build_as_json_lines(tmp_path):
    names = (*BOOKS, "pg1661_the_adventures_of_sherlock_holmes.txt")
    books = [shared_data("corpus", "gutenberg_books", name) for name in names]
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in frequency_vocabulary(books, 2000)), "utf-8")
    # A document every 40 paragraphs, a paragraph a line, as a web corpus's records are.
    documents = {}  # sorted, as the JSON Lines and Parquet files are listed and the shards numbered
    for book in sorted(books):
        (paragraphs,) = read_documents(book, strip_gutenberg=True)
        documents[book.stem] = [
            "\n".join(paragraphs[i : i + 40]) for i in range(0, len(paragraphs), 40)
        ]
    sources = {
        "jsonl": write_jsonl(tmp_path / "jsonl", documents),
        "parquet": write_parquet(tmp_path / "parquet", documents, row_group_size=7),
        "arrow": write_saved_dataset(tmp_path / "saved", documents, batch_rows=5),
    }
    options = dict(vocab_file=vocab, max_length=128, progress=False)
    for name, workers in (("jsonl", 1), ("parquet", 1), ("parquet", 2), ("arrow", 2)):
        summary = build_pretraining_data(
            sources[name], tmp_path / f"{name}{workers}", workers=workers, **options
        )
        assert summary["documents"] == sum(map(len, documents.values()))
    assert summary["examples"] > 2000 and summary["tokens_dropped"] == 0
    built = shard_bytes(tmp_path / "jsonl1")
    for other in ("parquet1", "parquet2", "arrow2"):
        assert shard_bytes(tmp_path / other) == built
