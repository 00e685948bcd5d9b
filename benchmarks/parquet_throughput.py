"""`build-data` on Parquet against the same documents as JSON Lines: MB/s of text and peak memory.

    python benchmarks/parquet_throughput.py                  # 1,000 MB of text
    python benchmarks/parquet_throughput.py --megabytes 100  # a quicker look

The documents: the 22 shared Gutenberg books, stripped, their paragraphs shuffled with seed i in the i-th
repetition and cut into documents of 2 to 20 paragraphs (a paragraph a line, as web corpora's records
are), until their text reaches the size asked for. They are written once as one Parquet file (pyarrow's
defaults: snappy, row groups of `--row-group-rows` documents) and once as one JSON Lines file, in a
temporary folder, with a vocabulary trained on the books (none of it timed).

Then, in turns (JSON Lines first), each is built by the command as a user runs it, in a fresh process:
`python -m keras_electra build-data --corpus FILE --vocab vocab.txt --workers 2 --max-length 128`. Its
time is the command's wall time; its memory the peak of the summed RSS of the command and its worker
processes, sampled every 0.2 s. MB/s divides the UTF-8 bytes of the documents' text (the same for both)
by the seconds. The CPU seconds (user and system, of the command and its workers) are reported too: on
a machine shared with other work, wall time varies by a third from run to run, CPU time much less.
Bars: Parquet's peak RSS within 10% of JSON Lines', and at least its MB/s. Each size's section of
benchmarks/results/parquet_throughput.md is rewritten, the others kept.
"""

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BOOKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gutenberg_books"
RESULT = Path(__file__).resolve().parent / "results" / "parquet_throughput.md"
RSS_BAR, SPEED_BAR = 1.10, 1.0
SAMPLE_SECONDS = 0.2


def paragraphs():
    from keras_electra.data.documents import read_documents

    books = sorted(BOOKS.glob("*.txt"))
    return [p for book in books for d in read_documents(book, strip_gutenberg=True) for p in d]


def documents(megabytes):
    """Yields documents until their text holds `megabytes` MB of UTF-8."""
    pool, size, seed = paragraphs(), 0, 0
    while True:
        rng = random.Random(seed)
        rng.shuffle(pool)
        start = 0
        while start < len(pool):
            count = rng.randint(2, 20)
            text = "\n".join(pool[start : start + count])
            yield text
            size, start = size + len(text.encode("utf-8")), start + count
            if size >= megabytes * 1e6:
                return
        seed += 1


def write_corpora(folder, megabytes, row_group_rows):
    """The same documents as folder/corpus.parquet and folder/corpus.jsonl; returns MB of text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, rows, text_bytes = pa.schema([("text", pa.string())]), [], 0
    with (
        pq.ParquetWriter(folder / "corpus.parquet", schema) as parquet,
        open(folder / "corpus.jsonl", "w", encoding="utf-8") as jsonl,
    ):
        for text in documents(megabytes):
            jsonl.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            rows.append(text)
            text_bytes += len(text.encode("utf-8"))
            if len(rows) == row_group_rows:
                parquet.write_table(pa.table({"text": rows}, schema))
                rows = []
        if rows:
            parquet.write_table(pa.table({"text": rows}, schema))
    return text_bytes / 1e6


def tree_rss_mb(root):
    """Summed RSS of process `root` and its descendants, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pids, total = [root], 0
    while pids:
        pid = pids.pop()
        pids += parents.get(pid, [])
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            pass
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_build(corpus, vocab, out):
    """Runs build-data on `corpus`; returns wall seconds, peak summed RSS (MB) of the process tree and
    its CPU seconds (the workers' count once the command has waited for them, as it does)."""
    command = [sys.executable, "-m", "keras_electra", "build-data", "--corpus", str(corpus)]
    command += ["--vocab", str(vocab), "--out", str(out), "--workers", "2", "--max-length", "128"]
    start, cpu = time.perf_counter(), cpu_seconds_of_children()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak, done = [0.0], threading.Event()

    def sample():
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], tree_rss_mb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.communicate()[0].decode()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode:
        sys.exit(f"build-data on {corpus} failed ({process.returncode}): {output}")
    return seconds, peak[0], cpu_seconds_of_children() - cpu


def measure(folder, rounds):
    """Builds both corpora `rounds` times in turns; returns {format: [(seconds, peak MB, CPU s), ...]}."""
    from keras_electra.data import ElectraTokenizer

    vocab = ElectraTokenizer.train(files=sorted(BOOKS.glob("*.txt")), vocab_size=30522)
    vocab = vocab.save_vocabulary(folder / "vocab.txt")
    runs = {"jsonl": [], "parquet": []}
    for round_ in range(rounds):
        for name in runs:
            out = folder / f"{name}-{round_}"
            runs[name].append(timed_build(folder / f"corpus.{name}", vocab, out))
            seconds, peak, cpu = runs[name][-1]
            print(
                f"{name} round {round_}: {seconds:.0f} s, {peak:.0f} MB, {cpu:.0f} CPU s",
                flush=True,
            )
    return runs


def section(args, text_mb, files, runs, loads):
    seconds = {name: statistics.median(r[0] for r in rows) for name, rows in runs.items()}
    peak = {name: max(r[1] for r in rows) for name, rows in runs.items()}
    cpu = {name: statistics.median(r[2] for r in rows) for name, rows in runs.items()}
    rate = {name: text_mb / s for name, s in seconds.items()}
    speed, memory = rate["parquet"] / rate["jsonl"], peak["parquet"] / peak["jsonl"]
    each = {name: ", ".join(f"{r[0]:.0f}" for r in rows) for name, rows in runs.items()}
    lines = [
        f"## {args.megabytes:g} MB",
        "",
        f"`python benchmarks/parquet_throughput.py --megabytes {args.megabytes:g} --rounds "
        f"{args.rounds}`: {text_mb:,.0f} MB of text; corpus.parquet {files['parquet']:,.0f} MB (row "
        f"groups of {args.row_group_rows:,} documents), corpus.jsonl {files['jsonl']:,.0f} MB; "
        f"{os.cpu_count()} CPU cores, shared with other work (load average {loads[0]:.1f} before "
        f"the builds, {loads[1]:.1f} after), 2 workers; JSON Lines first in each round.",
        "",
        "| input | seconds (median; each) | MB/s of text | CPU seconds (median) | MB per CPU second "
        "| peak RSS, process tree (MB) |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {seconds[name]:.0f} ({each[name]}) | {rate[name]:.2f} | {cpu[name]:.0f} "
            f"| {text_mb / cpu[name]:.2f} | {peak[name]:,.0f} |"
            for name in ("jsonl", "parquet")
        ),
        "",
        f"Parquet / JSON Lines: speed {speed:.2f}x (bar >= {SPEED_BAR}), CPU time "
        f"{cpu['parquet'] / cpu['jsonl']:.2f}x, peak RSS {memory:.2f}x "
        f"(bar <= {RSS_BAR}): {'met' if speed >= SPEED_BAR and memory <= RSS_BAR else 'NOT met'}.",
    ]
    return "\n".join(lines)


def write_result(text, megabytes):
    """Replaces this size's section of the results file, keeping the others, smallest size first."""
    old = RESULT.read_text("utf-8") if RESULT.exists() else ""
    sections = {
        float(m[1]): m[0].strip() for m in re.finditer(r"## (\S+) MB\n.*?(?=\n## |\Z)", old, re.S)
    }
    sections[megabytes] = text
    header = "# build-data: Parquet against JSON Lines (benchmarks/parquet_throughput.py)"
    body = "\n\n".join(sections[size] for size in sorted(sections))
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(f"{header}\n\n{body}\n", encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=1000, help="MB of text (1000)")
    parser.add_argument("--rounds", type=int, default=1, help="builds of each, in turns (1)")
    parser.add_argument(
        "--row-group-rows", type=int, default=10_000, help="Parquet row groups (10000)"
    )
    args = parser.parse_args()
    if not BOOKS.is_dir():
        sys.exit(f"{BOOKS}: not found; this benchmark needs the shared Gutenberg books")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        text_mb = write_corpora(folder, args.megabytes, args.row_group_rows)
        files = {f: (folder / f"corpus.{f}").stat().st_size / 1e6 for f in ("jsonl", "parquet")}
        loads = [os.getloadavg()[0]]
        runs = measure(folder, args.rounds)
        loads.append(os.getloadavg()[0])
    text = section(args, text_mb, files, runs, loads)
    print(f"\n{text}")
    write_result(text, args.megabytes)


if __name__ == "__main__":
    main()
