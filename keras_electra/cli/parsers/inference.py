"""The flags of the commands that use a trained model: `evaluate` and `predict` (a fine-tuned one),
`fill-mask` and `detect` (a pretraining run's)."""

from keras_electra.cli import arguments
from keras_electra.cli.parsers import choices
from keras_electra.serving.layout import is_export


def add_evaluate_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="score a fine-tuned model",
        description="Print the task's metrics of FT on --split of --data.",
    )
    add_finetuned_model_argument(parser)
    parser.add_argument("--task", required=True, choices=choices.TASKS)
    parser.add_argument(
        "--data", type=arguments.existing_dir, metavar="DIR", help="docstring-kind needs none"
    )
    parser.add_argument("--split", default="dev")
    parser.add_argument("--batch-size", type=arguments.batch_size, default=32)
    parser.set_defaults(run=arguments.Command("keras_electra.cli.evaluate"))


def add_finetuned_model_argument(parser):
    """--model of the commands that use a fine-tuned model (`evaluate`, `predict`)."""
    parser.add_argument(
        "--model",
        required=True,
        type=arguments.existing_path,
        metavar="FT",
        help="a `finetune` output directory (`predict`: or a `keras-electra export` directory)",
    )


def run_predict(args):
    """`predict` on an export (its serving.json) runs without Keras (keras_electra/serving/); on a
    fine-tuned model, with it."""
    if is_export(args.model):
        return arguments.Command("keras_electra.serving.predict", keras=False)(args)
    return arguments.Command("keras_electra.cli.predict")(args)


def add_predict_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="predict with a fine-tuned model",
        description="One input a line (or argument). Sentence pairs and SQuAD's question + context are "
        "separated by a tab. CoNLL input is split into words on whitespace.",
    )
    add_finetuned_model_argument(parser)
    parser.add_argument("texts", nargs="*", help="inputs; read from stdin when none are given")
    parser.set_defaults(run=run_predict)


def add_fill_mask_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="the generator's top-k tokens for each [MASK]",
        description='Fill each "[MASK]" of TEXT with the generator of a pretraining run (pretrainer.keras).',
    )
    add_pretrain_run_argument(parser)
    parser.add_argument("--top-k", type=arguments.top_k, default=5)
    parser.add_argument("text", nargs="+")
    parser.set_defaults(run=arguments.Command("keras_electra.cli.fill_mask", "run_fill_mask"))


def add_detect_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="the discriminator's probability that each token was replaced",
        description="Per token of TEXT, the probability the discriminator of a pretraining run gives to "
        '"replaced".',
    )
    add_pretrain_run_argument(parser)
    parser.add_argument("text", nargs="+")
    parser.set_defaults(run=arguments.Command("keras_electra.cli.fill_mask", "run_detect"))


def add_pretrain_run_argument(parser):
    parser.add_argument(
        "--model",
        required=True,
        type=arguments.existing_dir,
        metavar="RUN",
        help="a `pretrain` run directory",
    )
