"""Throughput of `build_pretraining_data` against Hugging Face's Rust BERT tokenizer, on the Gutenberg books.

    python benchmarks/build_data_throughput.py

One vocabulary (30,522 requested) is trained on the stripped books first, untimed. Then, with it, in turns
(ours, HF, ours, HF, ...; the median of each is reported):

(a) ours: `build_pretraining_data(vocab_file=..., max_length=128, strip_gutenberg=True, workers=cores)` in
    the default prose format, everything included: process start-up, reading, Gutenberg stripping, joining
    lines, sentence splitting, tokenizing, packing, writing.
(b) HF: `tokenizers.BertWordPieceTokenizer(vocab_file, lowercase=True).encode_batch` over the same stripped
    text's lines, already in memory: tokenizing only.

Both rates divide the same number (MB of the text files) by the seconds taken. The target is ours >= 1.0x HF.
The table is printed and written to benchmarks/results/build_data_throughput.md.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gutenberg_books"
RESULT = Path(__file__).resolve().parent / "results" / "build_data_throughput.md"
VOCAB_SIZE = 30522
TARGET_RATIO = 1.0
ROUNDS = 3


def stripped_lines(files):
    from keras_electra.data.documents import TextFormat, read_documents

    lines = TextFormat("sentence-per-line")
    return [
        line
        for path in files
        for document in read_documents(path, lines, strip_gutenberg=True)
        for line in document
    ]


def time_ours(vocab_file, out_dir):
    from keras_electra.data import build_pretraining_data

    start = time.perf_counter()
    summary = build_pretraining_data(
        CORPUS,
        out_dir,
        vocab_file=vocab_file,
        max_length=128,
        strip_gutenberg=True,
        workers=os.cpu_count(),
        progress=False,
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
        (
            "keras-electra `build_pretraining_data`, prose (read, strip, split, tokenize, pack, write)",
            ours_seconds,
            ours,
        ),
        ("HF `BertWordPieceTokenizer.encode_batch` (tokenize only)", hf_seconds, hf),
    ]
    lines = ["| pipeline | seconds (median) | MB/s | vs HF |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {seconds:.2f} | {rate:.2f} | {rate / hf:.2f}x |"
        for name, seconds, rate in rows
    ]
    return "\n".join(lines)


def main():
    if not CORPUS.is_dir():
        sys.exit(
            f"{CORPUS}: corpus not found; this benchmark needs the shared Gutenberg books there"
        )
    from keras_electra.data import ElectraTokenizer
    from keras_electra.data.text_files import list_corpus_files

    files = list_corpus_files(CORPUS)
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    lines = stripped_lines(files)
    ours, hf = [], []
    with tempfile.TemporaryDirectory() as folder:
        vocab_file = ElectraTokenizer.train(texts=lines, vocab_size=VOCAB_SIZE).save_vocabulary(
            Path(folder) / "vocab.txt"
        )
        for round_ in range(ROUNDS):
            seconds, summary = time_ours(vocab_file, Path(folder) / f"data{round_}")
            ours.append(seconds)
            hf.append(time_hugging_face(vocab_file, lines))
    result = table(megabytes, statistics.median(ours), statistics.median(hf))
    header = (
        f"{len(files)} Gutenberg books, {megabytes:.1f} MB of text, {summary['text_tokens']:,} tokens -> "
        f"{summary['examples']:,} examples of 128 ({100 * summary['non_padding_fraction']:.1f}% non-padding); "
        f"vocabulary {VOCAB_SIZE} requested; {os.cpu_count()} CPU cores, workers = cores; {ROUNDS} rounds "
        f"(ours {', '.join(f'{s:.2f}' for s in ours)} s; HF {', '.join(f'{s:.2f}' for s in hf)} s); "
        f"target: ours >= {TARGET_RATIO}x HF."
    )
    print(f"\n{header}\n\n{result}")
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(f"{header}\n\n{result}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
