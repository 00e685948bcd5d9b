"""Throughput of `build_pretraining_data` against Hugging Face's Rust BERT tokenizer, on the Gutenberg books.

    python benchmarks/build_data_throughput.py

One vocabulary (30,522 requested) is trained on the stripped books first, untimed. Then, with it:

(a) ours: `build_pretraining_data(vocab_file=..., max_length=128, strip_gutenberg=True, workers=cores)`,
    everything included: process start-up, reading, Gutenberg stripping, tokenizing, packing, writing.
(b) HF: `tokenizers.BertWordPieceTokenizer(vocab_file, lowercase=True).encode_batch` over the same stripped
    documents' lines, already in memory: tokenizing only, so the ceiling of what (a) could reach.

Both rates divide the same number (MB of the text files) by the seconds taken. The target is ours >= 0.5 x HF.
The table is printed and written to benchmarks/results/build_data_throughput.md.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gutenberg_books"
RESULT = Path(__file__).resolve().parent / "results" / "build_data_throughput.md"
VOCAB_SIZE = 30522
TARGET_RATIO = 0.5


def stripped_lines(files):
    from keras_electra.data.documents import read_documents

    documents = (document for path in files for document in read_documents(path, strip_gutenberg=True))
    return [line for document in documents for line in document]


def time_ours(vocab_file, out_dir):
    from keras_electra.data import build_pretraining_data

    start = time.perf_counter()
    summary = build_pretraining_data(
        CORPUS, out_dir, vocab_file=vocab_file, max_length=128, strip_gutenberg=True, workers=os.cpu_count()
    )
    return time.perf_counter() - start, summary


def time_hugging_face(vocab_file, lines):
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(vocab_file), lowercase=True)
    start = time.perf_counter()
    tokenizer.encode_batch(lines)
    return time.perf_counter() - start


def table(megabytes, ours_seconds, hf_seconds):
    ours, hf = megabytes / ours_seconds, megabytes / hf_seconds
    rows = [
        ("keras-electra `build_pretraining_data` (read, strip, tokenize, pack, write)", ours_seconds, ours),
        ("HF `BertWordPieceTokenizer.encode_batch` (tokenize only)", hf_seconds, hf),
    ]
    lines = ["| pipeline | seconds | MB/s | vs HF |", "|---|---|---|---|"]
    lines += [f"| {name} | {seconds:.2f} | {rate:.2f} | {rate / hf:.2f}x |" for name, seconds, rate in rows]
    return "\n".join(lines)


def main():
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS}: corpus not found; this benchmark needs the shared Gutenberg books there")
    from keras_electra.data import ElectraTokenizer
    from keras_electra.data.documents import list_corpus_files

    files = list_corpus_files(CORPUS)
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    lines = stripped_lines(files)
    with tempfile.TemporaryDirectory() as folder:
        vocab_file = ElectraTokenizer.train(texts=lines, vocab_size=VOCAB_SIZE).save_vocabulary(
            Path(folder) / "vocab.txt"
        )
        ours_seconds, summary = time_ours(vocab_file, Path(folder) / "data")
        hf_seconds = time_hugging_face(vocab_file, lines)
    result = table(megabytes, ours_seconds, hf_seconds)
    header = (
        f"{len(files)} Gutenberg books, {megabytes:.1f} MB of text, {summary['tokens']:,} tokens -> "
        f"{summary['examples']:,} examples of 128; vocabulary {VOCAB_SIZE} requested; {os.cpu_count()} CPU "
        f"cores, workers = cores; target: ours >= {TARGET_RATIO}x HF."
    )
    print(f"\n{header}\n\n{result}")
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(f"{header}\n\n{result}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
