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
MB/s and the peak RSS of the build's process and of its largest worker (sampled from /proc). Results go to
benchmarks/results/data_efficiency.md.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BOOKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gutenberg_books"
RESULT = Path(__file__).resolve().parent / "results" / "data_efficiency.md"


def build(corpus, out, fmt, **options):
    from keras_electra.data import build_pretraining_data

    return build_pretraining_data(
        corpus, out, max_length=128, format=fmt, progress=False, **options
    )


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
                f"| {name} | {fmt} | {s['documents']:,} | {s['examples']:,} "
                f"| {100 * s['non_padding_fraction']:.1f}% "
                f"| {s['short_target_padding_percent']:.1f}% | {s['tokens_dropped_percent']:.2f}% "
                f"| {s['text_tokens']:,} |"
            )
    header = (
        "| corpus | format | documents | examples x 128 | non-padding | of which padding from short targets "
        "| text tokens lost | text tokens |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )
    return header + "\n" + "\n".join(rows)


def write_scaled_corpus(path, megabytes):
    """The books, stripped, paragraphs shuffled with seed i in the i-th repetition, one document each."""
    from keras_electra.data.documents import DOCUMENT_MARKER, read_documents

    paragraphs = [
        p
        for book in sorted(BOOKS.glob("*.txt"))
        for d in read_documents(book, strip_gutenberg=True)
        for p in d
    ]
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
    vocab = ElectraTokenizer.train(
        files=sorted(BOOKS.glob("*.txt")), vocab_size=30522
    ).save_vocabulary(folder / "vocab.txt")
    # A fresh process, so that its peak memory is the build's alone.
    child = [sys.executable, __file__, "--child", str(corpus), str(vocab), str(folder / "large")]
    result = json.loads(
        subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
    )
    return (
        f"{size:,.0f} MB corpus (one file), prose, 2 workers: {result['examples']:,} examples, "
        f"{100 * result['non_padding_fraction']:.1f}% non-padding, {result['tokens_dropped']} tokens lost, "
        f"{result['seconds']:.0f} s ({size / result['seconds']:.2f} MB/s); peak RSS: main process "
        f"{result['main_mb']:,.0f} MB, largest worker {result['worker_mb']:,.0f} MB."
    )


def child_build(corpus, vocab, out):
    """Builds `corpus`, sampling the workers' peak RSS (VmHWM) every 0.2 s; prints the figures as JSON."""
    peaks, done = {}, threading.Event()

    def sample():
        while not done.wait(0.2):
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    fields = dict(
                        line.split(":", 1)
                        for line in status.read_text().splitlines()
                        if ":" in line
                    )
                except OSError:
                    continue  # the process ended
                if fields.get("PPid", "").strip() == str(os.getpid()) and "VmHWM" in fields:
                    peaks[status.parent.name] = int(fields["VmHWM"].split()[0]) / 1024

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    summary = build(corpus, out, "prose", vocab_file=vocab, workers=2)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                **summary,
                "seconds": seconds,
                "main_mb": main_mb,
                "worker_mb": max(peaks.values(), default=0),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--scale", type=float, default=0, metavar="MB", help="also build a corpus of this size"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("CORPUS", "VOCAB", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        return child_build(*args.child)
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
