"""`keras-electra fill-mask` and `keras-electra detect`: the pretrained generator and discriminator at work."""

from pathlib import Path

import keras

from keras_electra.cli import arguments
from keras_electra.data.atomic import check_keras_file
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.pretraining.fill_mask import fill_mask, masked_language_model
from keras_electra.pretraining.replaced_tokens import replaced_probabilities


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="the generator's top-k tokens for each [MASK]",
        description='Fill each "[MASK]" of TEXT with the generator of a pretraining run (pretrainer.keras).',
    )
    add_model_argument(parser)
    parser.add_argument("--top-k", type=arguments.top_k, default=5)
    parser.add_argument("text", nargs="+")
    parser.set_defaults(run=run_fill_mask)


def add_detect_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="the discriminator's probability that each token was replaced",
        description="Per token of TEXT, the probability the discriminator of a pretraining run gives to "
        '"replaced".',
    )
    add_model_argument(parser)
    parser.add_argument("text", nargs="+")
    parser.set_defaults(run=run_detect)


def add_model_argument(parser):
    parser.add_argument(
        "--model",
        required=True,
        type=arguments.existing_dir,
        metavar="RUN",
        help="a `pretrain` run directory",
    )


def load_run(run_dir):
    run_dir = Path(run_dir)
    model_file = run_dir / "pretrainer.keras"
    if not model_file.is_file():
        raise FileNotFoundError(
            f"--model {run_dir}: {model_file} not found (a `keras-electra pretrain` run?)"
        )
    check_keras_file(model_file)
    return keras.saving.load_model(model_file, compile=False), ElectraTokenizer.from_directory(
        run_dir
    )


def run_fill_mask(args):
    pretrainer, tokenizer = load_run(args.model)
    model = masked_language_model(pretrainer)
    for text in args.text:
        print(text)
        for number, guesses in enumerate(fill_mask(model, tokenizer, text, args.top_k), 1):
            print(f"  [MASK] {number}: " + ", ".join(f"{token} {p:.3f}" for token, p in guesses))


def run_detect(args):
    pretrainer, tokenizer = load_run(args.model)
    if pretrainer.discriminator_head is None:
        raise ValueError(
            f"--model {args.model}: its objective ({pretrainer.objective}) trains no replaced-token "
            "detection head; `detect` needs electra, electra-15 or all-tokens-mlm"
        )
    for text in args.text:
        print(text)
        print(
            "  "
            + " ".join(
                f"{token}:{p:.2f}"
                for token, p in replaced_probabilities(pretrainer, tokenizer, text)
            )
        )
