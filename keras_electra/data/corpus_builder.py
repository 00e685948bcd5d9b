"""Text files -> tokenized, packed pretraining examples -> .npy shards and a manifest (see `shards`).

Files are tokenized and packed in parallel processes, one file a task, each with its own seed derived from
the build seed and the file's position, and the results are assembled in file order: the output depends on
the seed and the corpus only, never on the number of workers or their timing.
"""

import contextlib
import functools
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from itertools import chain
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from keras_electra.data.atomic import atomic_directory
from keras_electra.data.documents import list_corpus_files, read_documents
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.packing import pack_documents
from keras_electra.data.shards import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    write_array_atomic,
    write_json_atomic,
)
from keras_electra.version import __version__

VOCAB_FILE = "vocab.txt"
HELDOUT_FILE = "heldout.npy"
# Lines per `encode_batch` call: enough for the Rust encoder to parallelise, bounded so memory stays flat.
_ENCODE_BATCH_LINES = 20_000
_worker_tokenizer = None


def build_pretraining_data(
    corpus,
    out_dir,
    *,
    max_length=128,
    vocab_file=None,
    vocab_size=None,
    lowercase=True,
    strip_gutenberg=False,
    seed=0,
    examples_per_shard=50_000,
    heldout_fraction=0.01,
    workers=None,
    progress=True,
):
    """Builds the data directory `out_dir` from the text files or folders `corpus`; returns the summary.

    Pass exactly one of `vocab_file` (an existing vocab.txt) or `vocab_size` (train a WordPiece vocabulary
    on the corpus, Gutenberg stripping applied). Every k-th example, k = round(1 / heldout_fraction), goes
    to heldout.npy (at least one when there are two or more examples). `out_dir` must not exist or be
    empty: everything is built in a sibling `<out_dir>.tmp-<pid>` that is renamed at the very end and
    removed on any error, so `out_dir` is either complete or absent.
    """
    if (vocab_file is None) == (vocab_size is None):
        raise ValueError("pass exactly one of `vocab_file` or `vocab_size`")
    _check_arguments(max_length, seed, examples_per_shard, heldout_fraction, workers)
    start = time.perf_counter()
    files = list_corpus_files(corpus)
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir}: already exists and is not empty; not overwriting it")
    with atomic_directory(out_dir) as temporary:
        if vocab_file is not None:
            tokenizer = ElectraTokenizer.from_vocab_file(vocab_file, lowercase=lowercase)
        else:
            lines = chain.from_iterable(_documents(files, strip_gutenberg))
            tokenizer = ElectraTokenizer.train(texts=lines, vocab_size=vocab_size, lowercase=lowercase)
        tokenizer.save_vocabulary(temporary / VOCAB_FILE)
        dtype = _dtype(tokenizer)
        options = dict(max_length=max_length, strip_gutenberg=strip_gutenberg, dtype=dtype)
        writer = _ShardWriter(temporary, examples_per_shard, round(1 / heldout_fraction), max_length, dtype)
        counts = _build_examples(files, seed, tokenizer, options, workers, writer, progress)
        if not counts["examples"]:
            corpus_names = ", ".join(map(str, _as_list(corpus)))
            raise ValueError(f"{corpus_names}: no examples ({counts['documents']} documents) in the corpus")
        shards, heldout = writer.finish()
        manifest = _manifest(tokenizer, options, seed, shards, heldout, counts)
        summary = _summary(counts, time.perf_counter() - start)
        write_json_atomic(temporary / MANIFEST_FILE, manifest)
        write_json_atomic(temporary / "summary.json", summary)
    _print_summary(summary, out_dir)
    return summary


def _check_arguments(max_length, seed, examples_per_shard, heldout_fraction, workers):
    if max_length < 5:
        raise ValueError(f"max_length must be at least 5 (the shortest packing target), got {max_length}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if examples_per_shard < 1:
        raise ValueError(f"examples_per_shard must be at least 1, got {examples_per_shard}")
    # Above 0.5, k = round(1 / fraction) would be 1 and leave no training examples.
    if not 0 < heldout_fraction <= 0.5:
        raise ValueError(f"heldout_fraction must be in (0, 0.5], got {heldout_fraction}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")


def _as_list(corpus):
    return [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)


def _documents(files, strip_gutenberg):
    for path in files:
        yield from read_documents(path, strip_gutenberg=strip_gutenberg)


def _dtype(tokenizer):
    return "uint16" if tokenizer.vocab_size <= 65536 else "int32"


def _file_seed(seed, index):
    """Independent, well-mixed seeds per file, so no two (seed, file) pairs share a packing stream."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


def _build_examples(files, seed, tokenizer, options, workers, writer, progress):
    """Packs every file (in parallel when `workers` > 1), feeding `writer` in file order; returns counts."""
    workers = min(os.cpu_count() or 1, len(files)) if workers is None else workers
    seeds = [_file_seed(seed, index) for index in range(len(files))]
    bar = _Progress(files, enabled=progress)
    counts = Counter(files=len(files))
    if workers == 1:
        pack = functools.partial(_pack_file, tokenizer, **options)
        _consume(map(pack, files, seeds), writer, counts, bar)
        return counts
    # "spawn": forking a process that already ran the Rust tokenizer's thread pool can deadlock.
    executor = ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(tokenizer.vocabulary, tokenizer.lowercase),
    )
    try:
        # Processes start within `submit`, so they inherit this environment and the caller's is restored.
        with _environment(_worker_environment(workers)):
            futures = [executor.submit(_pack_file_in_worker, *task, options) for task in zip(files, seeds)]
        _consume((future.result() for future in futures), writer, counts, bar)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return counts


def _worker_environment(workers):
    """What keeps worker start-up cheap and the cores not oversubscribed.

    A worker imports keras (through this package) but runs no model, so the numpy backend, the fastest to
    import, spares each worker the seconds that importing torch or TensorFlow takes. The Rust encoder of each
    worker gets an equal share of the cores.
    """
    threads = max(1, (os.cpu_count() or 1) // workers)
    return {"KERAS_BACKEND": "numpy", "RAYON_NUM_THREADS": str(threads)}


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
        for rows, file_counts in results:
            writer.add(rows)
            counts.update(file_counts)
            bar.update(file_counts)
    finally:
        bar.close()  # ends the progress line, also before an error's traceback


def _init_worker(vocabulary, lowercase):
    global _worker_tokenizer
    _worker_tokenizer = ElectraTokenizer(vocabulary, lowercase=lowercase)


def _pack_file_in_worker(path, file_seed, options):
    return _pack_file(_worker_tokenizer, path, file_seed, **options)


def _pack_file(tokenizer, path, file_seed, *, max_length, strip_gutenberg, dtype):
    """The packed examples of one file as a padded [n, max_length] array, and the file's counts."""
    counts = Counter(bytes=os.path.getsize(path))
    documents = _tokenized_documents(tokenizer, path, strip_gutenberg, counts)
    examples = list(
        pack_documents(
            documents,
            max_length=max_length,
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
            seed=file_seed,
        )
    )
    lengths = np.array([len(example.token_ids) for example in examples], dtype=np.int64)
    rows = np.full((len(examples), max_length), tokenizer.pad_token_id, dtype=dtype)
    rows[np.arange(max_length) < lengths[:, None]] = np.fromiter(
        chain.from_iterable(example.token_ids for example in examples), dtype=dtype, count=int(lengths.sum())
    )
    counts.update(examples=len(examples), truncated_examples=sum(example.truncated for example in examples))
    return rows, counts


def _tokenized_documents(tokenizer, path, strip_gutenberg, counts):
    """Yields the documents of `path` as lists of token-id sentences, encoding many lines per Rust call."""
    for batch in _document_batches(read_documents(path, strip_gutenberg=strip_gutenberg)):
        ids = tokenizer.encode_batch(chain.from_iterable(batch))
        counts.update(
            documents=len(batch),
            tokens=sum(map(len, ids)),
            unk_tokens=sum(sentence.count(tokenizer.unk_token_id) for sentence in ids),
        )
        position = 0
        for document in batch:
            yield ids[position : position + len(document)]
            position += len(document)


def _document_batches(documents):
    batch, lines = [], 0
    for document in documents:
        batch.append(document)
        lines += len(document)
        if lines >= _ENCODE_BATCH_LINES:
            yield batch
            batch, lines = [], 0
    if batch:
        yield batch


class _ShardWriter:
    """Splits examples, in arrival order, into held-out rows and training shards of a fixed size.

    A full shard is written only once a further training example arrives, so the last training example is
    always still at hand when `finish` must move one to the held-out split.
    """

    def __init__(self, directory, examples_per_shard, heldout_every, max_length, dtype):
        self.directory = directory
        self.examples_per_shard = examples_per_shard
        self.heldout_every = heldout_every
        empty = np.empty((0, max_length), dtype)
        self.pending, self.pending_rows = [empty], 0
        self.heldout = [empty]
        self.shards = []
        self.seen = 0

    def add(self, rows):
        index = np.arange(self.seen, self.seen + len(rows))
        is_heldout = (index + 1) % self.heldout_every == 0
        self.heldout.append(rows[is_heldout])
        self.pending.append(rows[~is_heldout])
        self.pending_rows += len(rows) - int(is_heldout.sum())
        self.seen += len(rows)
        # Concatenating only when a shard is due keeps the copying linear in the corpus size.
        if self.pending_rows > self.examples_per_shard:
            pending = np.concatenate(self.pending)
            while len(pending) > self.examples_per_shard:
                self._write(pending[: self.examples_per_shard])
                pending = pending[self.examples_per_shard :]
            self.pending, self.pending_rows = [pending], len(pending)

    def finish(self):
        """Writes the last shard and heldout.npy; returns their manifest entries."""
        heldout, pending = np.concatenate(self.heldout), np.concatenate(self.pending)
        if not len(heldout) and self.seen >= 2:
            heldout, pending = pending[-1:], pending[:-1]
        if len(pending):
            self._write(pending)
        write_array_atomic(self.directory / HELDOUT_FILE, heldout)
        return self.shards, {"file": HELDOUT_FILE, "examples": len(heldout)}

    def _write(self, rows):
        name = f"train-{len(self.shards):05d}.npy"
        write_array_atomic(self.directory / name, rows)
        self.shards.append({"file": name, "examples": len(rows)})


class _Progress:
    """One stderr line, rewritten as each file is done: files, MB of text and examples so far."""

    def __init__(self, files, enabled):
        self.enabled = enabled
        self.total_files = len(files)
        self.done = Counter()

    def update(self, file_counts):
        self.done.update(file_counts, files=1)
        if self.enabled:
            print(
                f"\rbuild-data: {self.done['files']}/{self.total_files} files, "
                f"{self.done['bytes'] / 1e6:.1f} MB, {self.done['examples']:,} examples",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self):
        if self.enabled:
            print(file=sys.stderr, flush=True)


def _manifest(tokenizer, options, seed, shards, heldout, counts):
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "max_length": options["max_length"],
        "seed": seed,
        "lowercase": tokenizer.lowercase,
        "strip_gutenberg": options["strip_gutenberg"],
        "vocab_file": VOCAB_FILE,
        "vocab_size": tokenizer.vocab_size,
        "vocab_sha256": tokenizer.vocabulary_hash(),
        "special_token_ids": {
            "pad": tokenizer.pad_token_id,
            "unk": tokenizer.unk_token_id,
            "cls": tokenizer.cls_token_id,
            "sep": tokenizer.sep_token_id,
            "mask": tokenizer.mask_token_id,
        },
        "dtype": options["dtype"],
        "shards": shards,
        "heldout": heldout,
        "counts": _manifest_counts(counts),
    }


def _manifest_counts(counts):
    names = ("files", "documents", "tokens", "examples", "truncated_examples", "unk_tokens")
    return {name: int(counts[name]) for name in names}


def _summary(counts, seconds):
    """The manifest's counts plus the rates people check first: truncation, [UNK] share and throughput."""
    summary = _manifest_counts(counts)
    megabytes = counts["bytes"] / 1e6
    summary.update(
        truncated_percent=100 * counts["truncated_examples"] / counts["examples"],
        unk_percent=100 * counts["unk_tokens"] / max(counts["tokens"], 1),
        text_mb=megabytes,
        seconds=seconds,
        mb_per_second=megabytes / seconds,
    )
    return summary


def _print_summary(summary, out_dir):
    print(
        f"{out_dir}: {summary['documents']:,} documents, {summary['tokens']:,} tokens -> "
        f"{summary['examples']:,} examples ({summary['truncated_percent']:.1f}% truncated, "
        f"{summary['unk_percent']:.2f}% [UNK]); {summary['text_mb']:.1f} MB in {summary['seconds']:.1f} s "
        f"({summary['mb_per_second']:.2f} MB/s)"
    )
