"""What a build reports: the manifest's fields, summary.json's rates, and the progress line."""

import sys
from collections import Counter

from keras_electra.data.shards import FORMAT, FORMAT_VERSION
from keras_electra.version import __version__

VOCAB_FILE = "vocab.txt"


class Progress:
    """One stderr line, rewritten as each chunk is done: files, MB of text and examples so far."""

    def __init__(self, files, enabled):
        self.enabled = enabled
        self.total_files = len(files)
        self.done = Counter()

    def update(self, chunk_counts):
        self.done.update(chunk_counts)
        if self.enabled:
            print(
                f"\rbuild-data: {self.done['files_done']}/{self.total_files} files, "
                f"{self.done['bytes'] / 1e6:.1f} MB, {self.done['examples']:,} examples",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self):
        if self.enabled:
            print(file=sys.stderr, flush=True)


def manifest(tokenizer, options, seed, shards, heldout, counts, inputs):
    """manifest.json's fields; `inputs` lists each corpus file's path, format and rows (records of JSON
    Lines, rows of Parquet and Arrow, lines of text)."""
    text_format = options["text_format"]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "max_length": options["max_length"],
        "seed": seed,
        "lowercase": tokenizer.lowercase,
        "strip_gutenberg": options["strip_gutenberg"],
        "text_format": text_format.format,
        "document_marker": text_format.marker,
        "text_field": text_format.text_field,
        "language": options["language"],
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
        "inputs": inputs,
    }


def _manifest_counts(counts):
    names = ("files", "documents", "tokens", "examples", "truncated_examples", "unk_tokens")
    return {name: int(counts[name]) for name in names}


def summary(counts, max_length, seconds, inputs):
    """The manifest's counts plus what people check first: how much of the examples is text, how much
    text was lost, the [UNK] share and the throughput."""
    summary = _manifest_counts(counts)
    text_tokens, dropped = counts["tokens"], counts["tokens_dropped"]
    slots = counts["examples"] * max_length
    megabytes = counts["bytes"] / 1e6
    summary.update(
        text_tokens=text_tokens,
        tokens_in_examples=text_tokens - dropped,
        tokens_dropped=dropped,
        tokens_in_examples_percent=100 * (text_tokens - dropped) / max(text_tokens, 1),
        tokens_dropped_percent=100 * dropped / max(text_tokens, 1),
        non_padding_fraction=counts["non_padding_tokens"] / max(slots, 1),
        # The authors' short targets pad on purpose; reported apart from the padding at documents' ends.
        short_target_examples=int(counts["short_target_examples"]),
        short_target_padding_percent=100 * counts["short_target_padding"] / max(slots, 1),
        truncated_percent=100 * counts["truncated_examples"] / counts["examples"],
        unk_percent=100 * counts["unk_tokens"] / max(text_tokens, 1),
        text_mb=megabytes,
        seconds=seconds,
        mb_per_second=megabytes / seconds,
        inputs=inputs,
    )
    return summary


def print_summary(summary, out_dir):
    print(
        f"{out_dir}: {summary['documents']:,} documents, {summary['text_tokens']:,} text tokens -> "
        f"{summary['examples']:,} examples, {100 * summary['non_padding_fraction']:.1f}% non-padding "
        f"({summary['short_target_padding_percent']:.1f}% padding from short targets); "
        f"{summary['tokens_in_examples']:,} tokens in examples, {summary['tokens_dropped']:,} dropped "
        f"({summary['tokens_dropped_percent']:.2f}%); {summary['unk_percent']:.2f}% [UNK]; "
        f"{summary['text_mb']:.1f} MB in {summary['seconds']:.1f} s ({summary['mb_per_second']:.2f} MB/s)"
    )
