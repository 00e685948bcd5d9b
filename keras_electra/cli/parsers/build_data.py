"""`keras-electra build-data`'s flags."""

from keras_electra.cli import arguments
from keras_electra.data.documents import DOCUMENT_MARKER, FORMATS


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="tokenize and pack a text corpus into sharded pretraining examples",
        description="Text files or folders (UTF-8 .txt or JSON Lines .jsonl, plain or .gz/.bz2/.zst; "
        "Parquet .parquet and Arrow .arrow, such as a folder datasets' save_to_disk wrote) -> "
        "sentences -> examples packed as the ELECTRA authors do, without losing text -> .npy shards, "
        "manifest.json, vocab.txt and summary.json in --out. In the default prose format a document is a "
        "file, a JSON Lines record or Parquet/Arrow row, or the text between lines holding only "
        f"{DOCUMENT_MARKER}; blank lines separate paragraphs.",
    )
    parser.add_argument(
        "--corpus",
        nargs="+",
        required=True,
        type=arguments.existing_path,
        metavar="PATH",
        help="text, JSON Lines, Parquet or Arrow files, or folders of them",
    )
    add_reading_arguments(parser)
    add_vocabulary_arguments(parser)
    parser.add_argument(
        "--max-length",
        type=arguments.packed_length,
        default=128,
        metavar="L",
        help="tokens per example (128)",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=arguments.output_dir,
        metavar="DIR",
        help="new directory for the data",
    )
    parser.add_argument(
        "--strip-gutenberg", action="store_true", help="drop Project Gutenberg headers/licence"
    )
    parser.add_argument(
        "--cased", action="store_true", help="keep case and accents (default: uncased)"
    )
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument(
        "--workers", type=arguments.workers, default=None, help="processes (default: one per core)"
    )
    parser.add_argument("--heldout-fraction", type=arguments.heldout_fraction, default=0.01)
    parser.set_defaults(run=arguments.Command("keras_electra.cli.build_data"))


def add_vocabulary_arguments(parser):
    """A vocabulary to train, or one to use: a vocab.txt, or a model's (docs/pretraining.md)."""
    vocab = parser.add_mutually_exclusive_group(required=True)
    vocab.add_argument(
        "--vocab-size",
        type=arguments.vocab_size,
        metavar="N",
        help="train a WordPiece vocabulary of N tokens",
    )
    vocab.add_argument(
        "--vocab",
        type=arguments.existing_checkpoint,
        metavar="FILE|MODEL",
        help="use this vocab.txt (one token a line), or the vocabulary of a model `pretrain --init-from` "
        "continues: a Hugging Face directory, a .keras file or TF1 checkpoint with vocab.txt beside it, a "
        "pretrain run directory, a keras-hub preset (its casing too)",
    )


def add_reading_arguments(parser):
    """How the corpus files are read: their format and, for prose, where documents end."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="prose",
        help="prose (default): ordinary wrapped text, split into sentences; sentence-per-line: the authors' "
        "convention (one sentence a line, a blank line between documents) and packing, truncation included",
    )
    parser.add_argument(
        "--text-field",
        default="text",
        metavar="NAME",
        help="JSON Lines: the field holding the text; Parquet and Arrow: its column, or a dotted path "
        "to a struct column's field (meta.text)",
    )
    parser.add_argument(
        "--document-marker",
        default=DOCUMENT_MARKER,
        metavar="LINE",
        help=f"prose: a line holding only this ends a document ({DOCUMENT_MARKER})",
    )
    parser.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="prose: ISO 639 code for sentence splitting (en)",
    )
