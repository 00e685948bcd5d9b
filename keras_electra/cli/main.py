"""The `keras-electra` command: one sub-command per module of this package."""

import argparse
import sys

from keras_electra.cli import build_data, pretrain

COMMANDS = {"build-data": build_data, "pretrain": pretrain}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="keras-electra",
        description="Pretrain ELECTRA text encoders with Keras 3 (backend from KERAS_BACKEND).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(subparsers, name)
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (FileNotFoundError, ValueError, FileExistsError) as error:
        # Bad input: the message names the file, line or argument; no traceback.
        print(f"keras-electra {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
