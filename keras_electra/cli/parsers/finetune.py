"""`keras-electra finetune`'s flags."""

from keras_electra.cli import arguments
from keras_electra.cli.parsers import choices


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="fine-tune a pretrained discriminator on a task",
        description="Fine-tune on --task's train split and score on its dev split. FT receives model.keras "
        "(preprocessor included: it predicts on raw text), task.json, history.csv, curves.png and metrics.json.",
    )
    parser.add_argument("--task", required=True, choices=choices.TASKS)
    parser.add_argument(
        "--data",
        type=arguments.existing_dir,
        metavar="DIR",
        help="the task's folder (e.g. glue/SST-2); docstring-kind needs none",
    )
    parser.add_argument(
        "--model",
        required=True,
        type=arguments.existing_path,
        metavar="RUN_OR_FILE",
        help="a pretrain run or a .keras file",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=arguments.output_dir,
        metavar="FT",
        help="new directory for the fine-tuned model",
    )
    add_training_arguments(parser)
    parser.add_argument(
        "--max-train-examples",
        type=arguments.positive_int,
        default=None,
        help="train on the first N only",
    )
    parser.add_argument(
        "--max-dev-examples",
        type=arguments.positive_int,
        default=None,
        help="score the first N dev examples only",
    )
    parser.add_argument(
        "--seed",
        type=arguments.seed,
        default=0,
        help="initial head weights, dropout and the data's order",
    )
    arguments.add_precision_arguments(parser)
    add_checkpoint_arguments(parser)
    parser.set_defaults(run=arguments.Command("keras_electra.cli.finetune"))


def add_training_arguments(parser):
    """The schedule (epochs, learning rate and its layer-wise decay), the batch and the sequence length."""
    parser.add_argument(
        "--epochs",
        type=arguments.positive_int,
        default=None,
        help="default: 3 (10 for rte, stsb; 2 for squad)",
    )
    parser.add_argument(
        "--learning-rate",
        type=arguments.positive_float,
        default=None,
        help='default: by model size (docs/electra.md, "Fine-tuning")',
    )
    parser.add_argument("--batch-size", type=arguments.batch_size, default=32)
    parser.add_argument(
        "--layer-decay",
        type=arguments.fraction,
        default=0.8,
        help="layer-wise lr decay; 1 turns it off",
    )
    parser.add_argument(
        "--authors-layer-decay", action="store_true", help="the authors' off-by-one form"
    )
    parser.add_argument(
        "--max-length",
        type=arguments.sequence_length,
        default=None,
        help="default: 128 (384 for squad)",
    )


def add_checkpoint_arguments(parser):
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last good checkpoint (weights, optimizer and schedule, seeds, "
        "data position): run the interrupted command again with --resume added",
    )
    parser.add_argument(
        "--save-every",
        type=arguments.positive_int,
        default=None,
        metavar="N",
        help="write a checkpoint every N updates (default: at the end of each epoch)",
    )
    parser.add_argument(
        "--keep-checkpoints",
        type=arguments.positive_int,
        default=3,
        metavar="K",
        help="keep the last K checkpoints",
    )
