"""Text files -> tokenized, packed pretraining examples -> .npy shards and a manifest (see `shards`).

Files are read as chunks of whole documents or paragraphs (`text_files.read_chunks`; rows of Parquet and
Arrow files, `table_files.read_table_chunks`), which worker
processes split into sentences, tokenize and pack, each chunk with its own seed derived from the build seed,
the file's position and the chunk's; the results are written in corpus order. Chunks are cut by size, not
by worker, so the output depends on the seed and the corpus only, never on the number of workers or their
timing, and no more than a few chunks are in memory at once, whatever the corpus size.
"""

import collections
import contextlib
import functools
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from itertools import chain
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from keras_electra.data import build_summary, text_files
from keras_electra.data.atomic import atomic_directory
from keras_electra.data.build_summary import VOCAB_FILE, Progress
from keras_electra.data.documents import (
    DOCUMENT_MARKER,
    TextFormat,
    file_format,
    read_documents,
)
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.packing import pack_documents
from keras_electra.data.sentences import split_sentences
from keras_electra.data.shard_writer import ShardWriter
from keras_electra.data.shards import MANIFEST_FILE, write_json_atomic

# Chunks submitted ahead of the one being written, per worker: enough to keep every worker busy.
_CHUNKS_IN_FLIGHT_PER_WORKER = 2
_worker_state = None


def build_pretraining_data(
    corpus,
    out_dir,
    *,
    max_length=128,
    vocab_file=None,
    vocab_size=None,
    tokenizer=None,
    lowercase=True,
    strip_gutenberg=False,
    seed=0,
    examples_per_shard=50_000,
    heldout_fraction=0.01,
    workers=None,
    progress=True,
    format="prose",
    text_field="text",
    document_marker=DOCUMENT_MARKER,
    language="en",
):
    """Builds the data directory `out_dir` from the text files or folders `corpus`; returns the summary.

    `format` is "prose" (a document is a file, a JSON Lines record, its text under `text_field`, or the
    text between `document_marker` lines; paragraphs split into sentences of `language`, long sentences
    carried over, so no text is lost) or "sentence-per-line" (the authors' convention and packing,
    truncation included); see `documents`. Plain, .gz, .bz2 and .zst files are read, and Parquet and
    Arrow files (a row a document, its text in the column `text_field`, a dotted path for a struct's).

    The vocabulary: `vocab_file` (cased as `lowercase` says), `tokenizer` or `vocab_size` (WordPiece
    trained on the streamed corpus). Every round(1 / heldout_fraction)-th example is held out (at least
    one of two or more). `out_dir` (absent or empty) is built as `<out_dir>.tmp-<pid>`, renamed at the
    end and removed on any error.
    """
    _check_vocabulary_arguments(vocab_file, vocab_size, tokenizer)
    _check_arguments(max_length, seed, examples_per_shard, heldout_fraction, workers)
    text_format = TextFormat(format, text_field, document_marker)
    start = time.perf_counter()
    files = text_files.list_corpus_files(corpus)
    out_dir = _empty_or_absent(Path(out_dir))
    with atomic_directory(out_dir) as temporary:
        tokenizer = tokenizer or _tokenizer(
            files, text_format, vocab_file, vocab_size, lowercase, strip_gutenberg
        )
        tokenizer.save_vocabulary(temporary / VOCAB_FILE)
        options = _pack_options(tokenizer, max_length, strip_gutenberg, text_format, language)
        writer = ShardWriter(
            temporary, examples_per_shard, round(1 / heldout_fraction), max_length, options["dtype"]
        )
        inputs = [{"path": str(path), "format": file_format(path), "rows": 0} for path in files]
        counts = _build_examples(files, seed, tokenizer, options, workers, writer, progress, inputs)
        _check_found_examples(counts, corpus)
        summary = _write_manifest_and_summary(
            temporary, writer, tokenizer, options, seed, counts, inputs, time.perf_counter() - start
        )
    build_summary.print_summary(summary, out_dir)
    return summary


def _check_vocabulary_arguments(*vocabulary):
    if sum(given is not None for given in vocabulary) != 1:
        raise ValueError("pass exactly one of `vocab_file`, `vocab_size` or `tokenizer`")


def _check_arguments(max_length, seed, examples_per_shard, heldout_fraction, workers):
    if max_length < 5:
        raise ValueError(
            f"max_length must be at least 5 (the shortest packing target), got {max_length}"
        )
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if examples_per_shard < 1:
        raise ValueError(f"examples_per_shard must be at least 1, got {examples_per_shard}")
    # Above 0.5, k = round(1 / fraction) would be 1 and leave no training examples.
    if not 0 < heldout_fraction <= 0.5:
        raise ValueError(f"heldout_fraction must be in (0, 0.5], got {heldout_fraction}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")


def _empty_or_absent(out_dir):
    """`out_dir`, once it is known not to hold anything a build would overwrite."""
    if out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir}: already exists and is not empty; not overwriting it")
    return out_dir


def _check_found_examples(counts, corpus):
    if not counts["examples"]:
        corpus_names = ", ".join(map(str, _as_list(corpus)))
        raise ValueError(
            f"{corpus_names}: no examples ({counts['documents']} documents) in the corpus"
        )


def _write_manifest_and_summary(
    directory, writer, tokenizer, options, seed, counts, inputs, seconds
):
    """Closes the shards and writes manifest.json and summary.json beside them; returns the summary."""
    shards, heldout = writer.finish()
    manifest = build_summary.manifest(tokenizer, options, seed, shards, heldout, counts, inputs)
    summary = build_summary.summary(counts, options["max_length"], seconds, inputs)
    write_json_atomic(directory / MANIFEST_FILE, manifest)
    write_json_atomic(directory / "summary.json", summary)
    return summary


def _as_list(corpus):
    return [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)


def _tokenizer(files, text_format, vocab_file, vocab_size, lowercase, strip_gutenberg):
    if vocab_file is not None:
        return ElectraTokenizer.from_vocab_file(vocab_file, lowercase=lowercase)

    def units():
        documents = (
            read_documents(path, text_format, strip_gutenberg=strip_gutenberg) for path in files
        )
        return chain.from_iterable(chain.from_iterable(documents))

    # Paragraphs stream into the trainer, which reads them twice (ElectraTokenizer.train): its
    # memory grows with the distinct words, not the corpus.
    return ElectraTokenizer.train(texts=_Reread(units), vocab_size=vocab_size, lowercase=lowercase)


class _Reread:
    """An iterable that calls `make` for each pass: a generator's items, read again."""

    def __init__(self, make):
        self.make = make

    def __iter__(self):
        return self.make()


def _dtype(tokenizer):
    return "uint16" if tokenizer.vocab_size <= 65536 else "int32"


def _pack_options(tokenizer, max_length, strip_gutenberg, text_format, language):
    """What every chunk is packed with (`_pack_chunk`'s keyword arguments beside the seed); the manifest
    records them."""
    return dict(
        max_length=max_length,
        strip_gutenberg=strip_gutenberg,
        dtype=_dtype(tokenizer),
        text_format=text_format,
        language=language,
    )


def _chunk_seed(seed, chunk):
    """Independent, well-mixed seeds per chunk. A file's first chunk has the seed each whole file had
    before files were chunked, so a file under one chunk packs as it always did."""
    key = [seed, chunk.file_index] + ([chunk.index] if chunk.index else [])
    return int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0])


def _chunks(files, text_format, strip_gutenberg, inputs):
    """Every file's chunks, in corpus order; counts each file's rows into `inputs`."""
    for file_index, path in enumerate(files):
        chunks = text_format.chunks(
            path, file_index, strip_gutenberg=strip_gutenberg, chunk_bytes=text_files.CHUNK_BYTES
        )
        for chunk in chunks:
            inputs[file_index]["rows"] += chunk.rows
            yield chunk


def _build_examples(files, seed, tokenizer, options, workers, writer, progress, inputs):
    """Packs every chunk (in parallel when `workers` > 1), feeding `writer` in corpus order; returns counts
    (and counts each file's rows into `inputs`)."""
    workers = workers or os.cpu_count() or 1
    chunks = _chunks(files, options["text_format"], options["strip_gutenberg"], inputs)
    bar = Progress(files, enabled=progress)
    counts = Counter(files=len(files))
    if workers == 1:
        pack = functools.partial(_pack_chunk, tokenizer, seed=seed, **options)
        _consume(map(pack, chunks), writer, counts, bar)
        return counts
    # "spawn": forking a process that already ran the Rust tokenizer's thread pool can deadlock.
    executor = ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(tokenizer.vocabulary, tokenizer.lowercase, seed, options),
    )
    try:
        # Processes start within `submit`, so they inherit this environment and the caller's is restored.
        with _environment(_worker_environment(workers)):
            results = _in_order(executor, chunks, workers * _CHUNKS_IN_FLIGHT_PER_WORKER)
            _consume(results, writer, counts, bar)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return counts


def _in_order(executor, chunks, in_flight):
    """Results of `_pack_chunk_in_worker` over `chunks`, in order, with at most `in_flight` pending."""
    pending = collections.deque()
    for chunk in chunks:
        pending.append(executor.submit(_pack_chunk_in_worker, chunk))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _worker_environment(workers):
    """What keeps worker start-up cheap and the cores not oversubscribed.

    A worker runs no model, so the package skips importing Keras and the models there (see
    `keras_electra/__init__.py`): seconds less per worker. The Rust encoder of each worker gets an equal
    share of the cores.
    """
    threads = max(1, (os.cpu_count() or 1) // workers)
    return {"KERAS_ELECTRA_DATA_WORKER": "1", "RAYON_NUM_THREADS": str(threads)}


@contextlib.contextmanager
def _environment(variables):
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _consume(results, writer, counts, bar):
    try:
        for rows, chunk_counts in results:
            writer.add(rows)
            counts.update(chunk_counts)
            bar.update(chunk_counts)
    finally:
        bar.close()  # ends the progress line, also before an error's traceback


def _init_worker(vocabulary, lowercase, seed, options):
    global _worker_state
    _worker_state = (ElectraTokenizer(vocabulary, lowercase=lowercase), seed, options)


def _pack_chunk_in_worker(chunk):
    tokenizer, seed, options = _worker_state
    return _pack_chunk(tokenizer, chunk, seed=seed, **options)


def _pack_chunk(
    tokenizer, chunk, *, seed, max_length, strip_gutenberg, dtype, text_format, language
):
    """The packed examples of one chunk as a padded [n, max_length] array, and the chunk's counts."""
    counts = Counter(bytes=len(chunk.data), files_done=int(chunk.index == 0))
    documents = _tokenized_documents(tokenizer, chunk, text_format, language, counts)
    examples = list(
        pack_documents(
            documents,
            max_length=max_length,
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
            seed=_chunk_seed(seed, chunk),
            carry_over=text_format.format == "prose",
        )
    )
    lengths = np.array([len(example.token_ids) for example in examples], dtype=np.int64)
    rows = np.full((len(examples), max_length), tokenizer.pad_token_id, dtype=dtype)
    rows[np.arange(max_length) < lengths[:, None]] = np.fromiter(
        chain.from_iterable(example.token_ids for example in examples),
        dtype=dtype,
        count=int(lengths.sum()),
    )
    counts.update(_example_counts(examples, lengths, max_length))
    return rows, counts


def _example_counts(examples, lengths, max_length):
    short = [i for i, example in enumerate(examples) if example.target_length < max_length]
    return Counter(
        examples=len(examples),
        truncated_examples=sum(example.truncated for example in examples),
        tokens_dropped=sum(example.dropped_tokens for example in examples),
        non_padding_tokens=int(lengths.sum()),
        short_target_examples=len(short),
        short_target_padding=int(max_length * len(short) - lengths[short].sum()),
    )


def _tokenized_documents(tokenizer, chunk, text_format, language, counts):
    """The chunk's documents as lists of token-id sentences, all its sentences encoded in one Rust call."""
    documents = text_format.documents(chunk)
    if text_format.format == "prose":
        documents = [
            [s for paragraph in document for s in split_sentences(paragraph, language)]
            for document in documents
        ]
    ids = tokenizer.encode_batch(chain.from_iterable(documents))
    counts.update(
        documents=len(documents) - int(chunk.continues_document and bool(documents)),
        tokens=sum(map(len, ids)),
        unk_tokens=sum(sentence.count(tokenizer.unk_token_id) for sentence in ids),
    )
    tokenized, position = [], 0
    for document in documents:
        tokenized.append(ids[position : position + len(document)])
        position += len(document)
    return tokenized
