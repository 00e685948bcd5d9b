"""The argument types of every `keras-electra` sub-command, and its parser.

A bad value is refused while the command line is parsed, before any file is read or written or any
model built: one line on stderr names the flag, its value and what it takes, and the exit status is 2.
Numbers are refused outside these limits (and NaN and the infinities always):

- counts (--steps, --epochs, intervals, example counts, --gradient-accumulation-steps):
  at most MAX_COUNT = 2**31 - 1, int32's largest: orders of magnitude past any run, and a count that
  every backend holds (--steps x --gradient-accumulation-steps batches still fit in int64);
- --batch-size: at most MAX_BATCH_SIZE = 2**20 examples, far past any accelerator's memory;
- --seed: from 0 to MAX_SEED = 2**31 - 1, since the torch backend keeps its seeds in int32;
- --vocab-size and --top-k: at most MAX_VOCAB_SIZE = 2**20 tokens, far past the released WordPiece
  vocabularies (30,522 tokens for ELECTRA, 119,547 for multilingual BERT);
- --max-length: at most MAX_LENGTH = 2**16 tokens, far past every position table of ours (512);
- --workers: at most MAX_WORKERS = 1024 processes;
- learning rates: finite and above 0 (a huge one is allowed: it diverges, and the run says so);
- fractions (--layer-decay, --heldout-fraction): in their intervals.

Paths are checked for being there (a file, a directory) and returned as given, so that `--resume`
compares a run's settings as they were typed.
"""

import argparse
import importlib
import math
from pathlib import Path

MAX_COUNT = 2**31 - 1
MAX_BATCH_SIZE = 2**20
MAX_SEED = 2**31 - 1
MAX_VOCAB_SIZE = 2**20
MAX_LENGTH = 2**16
MAX_WORKERS = 1024


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (usage goes to --help), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Command:
    """A sub-command parser's `run`: `function(args)` of `module`, imported when the command runs.

    The parsers (cli/parsers/) import no Keras, so that --help and a bad argument need no backend
    framework; the command's module, and Keras with it, is imported once the arguments are good.
    With `keras=False` the module runs without Keras (`predict` on an export).
    """

    def __init__(self, module, function="run", keras=True):
        self.module, self.function, self.keras = module, function, keras

    def __call__(self, args):
        if self.keras:
            # The public names first: importing them registers every Keras class, which loading a
            # .keras file of any of them needs.
            importlib.import_module("keras_electra.api")
        return getattr(importlib.import_module(self.module), self.function)(args)


class Integer:
    """argparse type: an integer from `minimum` to `maximum` (attributes, which the tests walk past)."""

    def __init__(self, minimum, maximum):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not self.minimum <= value <= self.maximum:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {self.minimum:,} to {self.maximum:,}; got {text!r}"
            )
        return value


class Real:
    """argparse type: a finite number above `minimum` (or at it, with `minimum_included`) and at most
    `maximum`. NaN is refused by name: every comparison with it is False, so a bare `x <= 0` check
    would let it through."""

    def __init__(self, minimum, maximum=math.inf, minimum_included=False):
        self.minimum, self.maximum, self.minimum_included = minimum, maximum, minimum_included

    def __call__(self, text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = self.minimum <= value if self.minimum_included else self.minimum < value
        if not (math.isfinite(value) and above and value <= self.maximum):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}; got {text!r}")
        return value

    def describe(self):
        if self.maximum == math.inf:
            return f"a finite number {'>=' if self.minimum_included else '>'} {self.minimum:g}"
        return f"a number in {'[' if self.minimum_included else '('}{self.minimum:g}, {self.maximum:g}]"


positive_int = Integer(1, MAX_COUNT)
non_negative_int = Integer(0, MAX_COUNT)
batch_size = Integer(1, MAX_BATCH_SIZE)
seed = Integer(0, MAX_SEED)
vocab_size = Integer(1, MAX_VOCAB_SIZE)
top_k = Integer(1, MAX_VOCAB_SIZE)
# A task's input needs room for [CLS] and two [SEP]s; build-data packs examples toward targets of at
# least 5 tokens ([CLS] a [SEP] b [SEP]).
sequence_length = Integer(3, MAX_LENGTH)
packed_length = Integer(5, MAX_LENGTH)
workers = Integer(1, MAX_WORKERS)
positive_float = Real(0)
fraction = Real(0, 1)
dropout_rate = Real(0, 0.9, minimum_included=True)
# Above 0.5, one example in round(1 / fraction) = 1 would be held out: all of them.
heldout_fraction = Real(0, 0.5)


def existing_path(text):
    """argparse type: a file or directory that exists."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return text


def existing_file(text):
    """argparse type: a file that exists."""
    if not Path(existing_path(text)).is_file():
        raise argparse.ArgumentTypeError(f"{text}: a directory, not a file")
    return text


def existing_dir(text):
    """argparse type: a directory that exists."""
    if not Path(existing_path(text)).is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a file, not a directory")
    return text


def existing_checkpoint(text):
    """argparse type: a file or directory that exists, or the PREFIX of a TF1 checkpoint (PREFIX.index)."""
    return text if Path(f"{text}.index").is_file() else existing_path(text)


def output_dir(text):
    """argparse type: a directory to write, absent or a directory (whether it may hold files is the
    command's to say: `--resume` continues a run there)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a file, not a directory")
    return text


# --mixed-precision: Keras dtype policies (variables stay float32 under the mixed ones), or auto.
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def add_mixed_precision_argument(parser):
    """--mixed-precision of `pretrain`, `finetune` and `compare`."""
    parser.add_argument(
        "--mixed-precision",
        choices=PRECISIONS,
        default="auto",
        help="dtype policy. auto (default): mixed_bfloat16 where the processor computes bfloat16 "
        "natively (CPUs with AVX512-BF16, AMX or Arm BF16; Ampere and later GPUs) and the backend "
        "gains from it (not JAX on a CPU), float32 elsewhere. mixed_bfloat16 and mixed_float16 "
        "(older NVIDIA GPUs; loss scaling is added) compute in 16 bits and keep float32 weights",
    )


def resolve_precision(args):
    """--mixed-precision auto replaced by the policy it chooses, so that run.json and --resume hold
    the policy trained with; why, in `args.mixed_precision_reason`, for the run's description."""
    from keras_electra import precision  # imports Keras: once the arguments are good

    args.mixed_precision, args.mixed_precision_reason = precision.resolve(args.mixed_precision)


def add_precision_arguments(parser, counting=""):
    """--mixed-precision and --gradient-accumulation-steps of `pretrain` and `finetune` (`counting`: what
    else counts updates)."""
    add_mixed_precision_argument(parser)
    parser.add_argument(
        "--gradient-accumulation-steps",
        type=positive_int,
        default=1,
        metavar="K",
        help="update the weights once every K batches of --batch-size, with their mean gradient: an update "
        f"sees K x --batch-size examples; the learning-rate schedule counts updates{counting}",
    )
