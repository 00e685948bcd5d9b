"""How much of the examples is text, how much text is lost, and whether a large build stays in bounded memory.

    python benchmarks/data_efficiency.py            # the three corpora below
    python benchmarks/data_efficiency.py --scale 1000  # also a 1,000 MB build (written to a temporary folder)

Corpora, each built with max_length 128 and a 30,522-token vocabulary trained on it, counted from the shards:
- the main job's default corpus (the standard library's docstrings and the pydoc topics);
- five Gutenberg books of ../shared/data/corpus (the five first by file name), Gutenberg text stripped;
- all 22 books.
Each in the default prose format and in the authors' sentence-per-line format (what landed main did).

The scale run repeats the 22 books with their paragraphs shuffled by a different seed each time until the
corpus has the size asked for, then builds it with a vocabulary trained on the books, 2 workers, and reports
MB/s and the peak RSS of the main process and of the largest worker. Results go to
benchmarks/results/data_efficiency.md.
"""

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

BOOKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gutenberg_books"
RESULT = Path(__file__).resolve().parent / "results" / "data_efficiency.md"


def build(corpus, out, fmt, **options):
    from keras_electra.data import build_pretraining_data

    return build_pretraining_data(corpus, out, max_length=128, format=fmt, progress=False, **options)


def efficiency_rows(folder):
    from keras_electra.data.stdlib_corpus import write_stdlib_corpus

    books = sorted(BOOKS.glob("*.txt"))
    corpora = [
        ("default corpus (stdlib docs)", [write_stdlib_corpus(folder / "stdlib.txt")], False),
        ("five Gutenberg books", books[:5], True),
        ("all 22 Gutenberg books", books, True),
    ]
    rows = []
    for name, files, strip in corpora:
        for fmt in ("prose", "sentence-per-line"):
            out = folder / f"{len(rows)}"
            s = build(files, out, fmt, vocab_size=30522, strip_gutenberg=strip)
            rows.append(
                f"| {name} | {fmt} | {s['documents']:,} | {s['examples']:,} | {100 * s['non_padding_fraction']:.1f}% "
                f"| {s['short_target_padding_percent']:.1f}% | {s['tokens_dropped_percent']:.2f}% | {s['text_tokens']:,} |"
            )
    header = ("| corpus | format | documents | examples x 128 | non-padding | of which padding from short targets "
              "| text tokens lost | text tokens |\n|---|---|---:|---:|---:|---:|---:|---:|")
    return header + "\n" + "\n".join(rows)


def write_scaled_corpus(path, megabytes):
    """The books, stripped, paragraphs shuffled with seed i in the i-th repetition, one document each."""
    from keras_electra.data.documents import DOCUMENT_MARKER, read_documents

    paragraphs = [p for book in sorted(BOOKS.glob("*.txt")) for d in read_documents(book, strip_gutenberg=True) for p in d]
    written, seed = 0, 0
    with open(path, "w", encoding="utf-8") as file:
        while written < megabytes * 1e6:
            random.Random(seed).shuffle(paragraphs)
            text = "\n\n".join(paragraphs) + f"\n{DOCUMENT_MARKER}\n"
            written += file.write(text)
            seed += 1
    return path


def scale_row(folder, megabytes):
    from keras_electra.data import ElectraTokenizer

    corpus = write_scaled_corpus(folder / "large.txt", megabytes)
    size = corpus.stat().st_size / 1e6
    vocab = ElectraTokenizer.train(files=sorted(BOOKS.glob("*.txt")), vocab_size=30522).save_vocabulary(folder / "vocab.txt")
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    s = build(corpus, folder / "large", "prose", vocab_file=vocab, workers=2)
    seconds = time.perf_counter() - start
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (
        f"{size:,.0f} MB corpus (one file), prose, 2 workers: {s['examples']:,} examples, "
        f"{100 * s['non_padding_fraction']:.1f}% non-padding, {s['tokens_dropped']} tokens lost, {seconds:.0f} s "
        f"({size / seconds:.2f} MB/s); peak RSS: main process {main_rss:,.0f} MB (before the build: "
        f"{start_rss:,.0f} MB), largest worker {worker_rss:,.0f} MB."
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0, metavar="MB", help="also build a corpus of this size")
    args = parser.parse_args()
    if not BOOKS.is_dir():
        sys.exit(f"{BOOKS}: not found; this benchmark needs the shared Gutenberg books")
    with tempfile.TemporaryDirectory() as folder:
        parts = [efficiency_rows(Path(folder))]
        if args.scale:
            parts.append(scale_row(Path(folder), args.scale))
    report = "\n\n".join(parts)
    print(report)
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
