"""The `keras-electra` command: one sub-command per module of this package."""

import sys

from keras_electra.cli import (
    build_data,
    compare,
    convert,
    evaluate,
    fill_mask,
    finetune,
    predict,
    pretrain,
)
from keras_electra.cli.arguments import Parser

# name -> the function that adds its sub-parser
COMMANDS = {
    "build-data": build_data.add_parser,
    "pretrain": pretrain.add_parser,
    "finetune": finetune.add_parser,
    "compare": compare.add_parser,
    "evaluate": evaluate.add_parser,
    "predict": predict.add_parser,
    "fill-mask": fill_mask.add_parser,
    "detect": fill_mask.add_detect_parser,
    "convert": convert.add_parser,
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
    try:
        return args.run(args) or 0
    except (FileNotFoundError, ValueError, FileExistsError) as error:
        # Bad input: the message names the file, line or argument; no traceback.
        print(f"keras-electra {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Commands write through temporary files and directories: nothing is left half-written.
        print(f"\nkeras-electra {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
