"""`keras-electra build-data`: text files -> packed, sharded pretraining examples."""

import sys

from keras_electra.cli.exit_status import FAILED, interrupted_status
from keras_electra.data.corpus_builder import build_pretraining_data
from keras_electra.data.source_vocabulary import is_vocabulary_file, source_vocabulary


def run(args):
    tokenizer = model_vocabulary(args)
    # The data directory is built under a temporary name and renamed when complete, so whatever stops
    # the build leaves no --out behind; these say so instead of showing a traceback.
    try:
        build_pretraining_data(
            args.corpus,
            args.out,
            max_length=args.max_length,
            vocab_file=None if tokenizer or args.vocab is None else args.vocab,
            vocab_size=args.vocab_size,
            tokenizer=tokenizer,
            lowercase=not args.cased,
            strip_gutenberg=args.strip_gutenberg,
            seed=args.seed,
            workers=args.workers,
            heldout_fraction=args.heldout_fraction,
            format=args.format,
            text_field=args.text_field,
            document_marker=args.document_marker,
            language=args.language,
        )
    except KeyboardInterrupt as interrupt:
        print(
            f"\nkeras-electra build-data: interrupted; nothing written to --out {args.out}",
            file=sys.stderr,
        )
        return interrupted_status(interrupt)
    except (FileNotFoundError, FileExistsError):
        raise  # bad input, reported by `main`
    except OSError as error:
        print(
            f"keras-electra build-data: error: {error}; nothing written to --out {args.out}",
            file=sys.stderr,
        )
        return FAILED


def model_vocabulary(args):
    """The tokenizer of a model given as --vocab (None for a vocab.txt or --vocab-size): its casing is
    the model's, so that the data is tokenized as the model was trained."""
    if args.vocab is None or is_vocabulary_file(args.vocab):
        return None
    tokenizer = source_vocabulary(args.vocab)
    if args.cased and tokenizer.lowercase:
        raise ValueError(
            f"--cased: the vocabulary of {args.vocab} ({tokenizer.vocab_file}) is uncased"
        )
    print(
        f"vocabulary of {args.vocab}: {tokenizer.vocab_file} ({tokenizer.vocab_size:,} tokens, "
        f"{'uncased' if tokenizer.lowercase else 'cased'})"
    )
    return tokenizer
