"""The `keras-electra` command: each sub-command's flags in cli/parsers/, its run in a module of cli/.

Parsing imports no Keras: --help and a bad argument need no backend framework, and the command's
module (Keras with it) is imported once the arguments are good (`arguments.Command`).
"""

import sys

from keras_electra.cli.arguments import Parser
from keras_electra.cli.exit_status import (
    BAD_INPUT,
    StoppedEarly,
    interrupted_status,
    sigterm_as_interrupt,
)
from keras_electra.cli.parsers import (
    build_data,
    compare,
    convert,
    export,
    finetune,
    inference,
    pretrain,
)
from keras_electra.extras import MissingExtra
from keras_electra.signals import Terminated

# name -> the function that adds its sub-parser
COMMANDS = {
    "build-data": build_data.add_parser,
    "pretrain": pretrain.add_parser,
    "finetune": finetune.add_parser,
    "compare": compare.add_parser,
    "evaluate": inference.add_evaluate_parser,
    "predict": inference.add_predict_parser,
    "fill-mask": inference.add_fill_mask_parser,
    "detect": inference.add_detect_parser,
    "convert": convert.add_parser,
    "export": export.add_parser,
}


def build_parser():
    parser = Parser(
        prog="keras-electra",
        description="Pretrain and fine-tune ELECTRA text encoders with Keras 3 (backend from KERAS_BACKEND).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add_parser in COMMANDS.items():
        add_parser(subparsers, name)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    with sigterm_as_interrupt():
        return run(args)


def run(args):
    try:
        return args.run(args) or 0
    except StoppedEarly as stop:
        return stop.status  # the run has said why
    except (FileNotFoundError, ValueError, FileExistsError, MissingExtra) as error:
        # Bad input: the message names the file, line or argument; no traceback.
        print(f"keras-electra {args.command}: error: {error}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt as interrupt:
        # Commands write through temporary files and directories: nothing is left half-written.
        said = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"\nkeras-electra {args.command}: {said}", file=sys.stderr)
        return interrupted_status(interrupt)


if __name__ == "__main__":
    sys.exit(main())
