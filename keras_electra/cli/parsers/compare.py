"""`keras-electra compare`'s flags."""

from keras_electra.cli import arguments
from keras_electra.cli.model_options import add_model_arguments
from keras_electra.cli.parsers import choices

# The no-argument run: a few minutes of the tiny model per objective on a CPU, with no accelerator.
DEFAULT_BUDGET_FLOPS = 3e12


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="pretrain several objectives at equal compute, fine-tune each, and compare",
        description="Pretrain each of --objectives on the same data for the same FLOPs, fine-tune the encoder "
        "at checkpoints along the way on --task with --seeds seeds, and write comparison.json, comparison.md "
        "and comparison.png to --out. With no arguments: the standard-library corpus, the docstring-kind task.",
    )
    parser.add_argument(
        "--data",
        type=arguments.existing_dir,
        metavar="DIR",
        help="a `build-data` directory (default: the standard-library corpus, built in OUT/data)",
    )
    parser.add_argument(
        "--objectives",
        nargs="+",
        choices=choices.OBJECTIVES,
        default=["electra", "mlm"],
        metavar="NAME",
        help=f"some of {', '.join(choices.OBJECTIVES)} (default: electra mlm)",
    )
    add_budget_arguments(parser)
    parser.add_argument("--task", choices=choices.TASKS, default=choices.DOCSTRING_KIND)
    parser.add_argument(
        "--task-data",
        type=arguments.existing_dir,
        metavar="DIR",
        help="the task's folder (e.g. glue/SST-2); docstring-kind needs none",
    )
    parser.add_argument(
        "--seeds",
        type=arguments.positive_int,
        default=3,
        metavar="N",
        help="fine-tuning seeds 0..N-1 at every point",
    )
    parser.add_argument(
        "--out", type=arguments.output_dir, metavar="OUT", help="default: runs/compare-<time>"
    )
    add_pretraining_arguments(parser)
    add_finetuning_arguments(parser)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the comparison in --out: run the interrupted command again with --resume",
    )
    parser.set_defaults(run=arguments.Command("keras_electra.cli.compare"))


def add_budget_arguments(parser):
    """Each objective's pretraining FLOPs, given or timed."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--budget-flops",
        type=arguments.positive_float,
        metavar="F",
        help=f"pretraining FLOPs of each objective (default {DEFAULT_BUDGET_FLOPS:g})",
    )
    budget.add_argument(
        "--budget-minutes",
        type=arguments.positive_float,
        metavar="M",
        help="the FLOPs the first objective runs in M minutes here, timed over a few steps",
    )


def add_pretraining_arguments(parser):
    """The pretraining runs' model, batch, points fine-tuned and seed, and the default corpus's vocabulary."""
    parser.add_argument("--size", choices=choices.SIZES, default="tiny")
    add_model_arguments(parser)
    parser.add_argument(
        "--batch-size",
        type=arguments.batch_size,
        default=None,
        metavar="B",
        help="pretraining batch; default: the size's",
    )
    parser.add_argument(
        "--points",
        type=arguments.positive_int,
        default=2,
        metavar="K",
        help="checkpoints fine-tuned along each run, besides the initial weights (default 2)",
    )
    parser.add_argument(
        "--seed", type=arguments.seed, default=0, help="pretraining seed (the data's order too)"
    )
    parser.add_argument(
        "--vocab-size",
        type=arguments.vocab_size,
        default=8192,
        help="vocabulary of the default corpus",
    )
    arguments.add_mixed_precision_argument(parser)


def add_finetuning_arguments(parser):
    parser.add_argument(
        "--finetune-epochs",
        type=arguments.positive_int,
        default=None,
        metavar="N",
        help="default: the task's (3; 10 for rte, stsb; 2 for squad)",
    )
    parser.add_argument(
        "--finetune-learning-rate",
        type=arguments.positive_float,
        default=None,
        help="default: by model size",
    )
    parser.add_argument(
        "--max-train-examples",
        type=arguments.positive_int,
        default=None,
        help="fine-tune on the first N only",
    )
    parser.add_argument(
        "--max-dev-examples",
        type=arguments.positive_int,
        default=None,
        help="score the first N dev examples only",
    )
