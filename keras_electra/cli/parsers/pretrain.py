"""`keras-electra pretrain`'s flags."""

from keras_electra.cli import arguments
from keras_electra.cli.model_options import add_model_arguments
from keras_electra.cli.parsers import choices


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="pretrain an ELECTRA generator + discriminator",
        description="Pretrain on --data (a `build-data` directory); without --data, on the default corpus: "
        "the docstrings and pydoc topics of this Python's standard library. The backend comes from "
        "KERAS_BACKEND. RUN receives pretrainer.keras, discriminator.keras, vocab.txt, history.csv, "
        "curves.png, metrics.json (held-out metrics before and after), checkpoints/ and TensorBoard logs/.",
    )
    parser.add_argument(
        "--data",
        type=arguments.existing_dir,
        metavar="DIR",
        help="a data directory from `keras-electra build-data`",
    )
    parser.add_argument("--size", choices=choices.SIZES, default="small")
    add_init_arguments(parser)
    parser.add_argument(
        "--objective",
        choices=choices.OBJECTIVES,
        default="electra",
        help="what the step trains: ELECTRA, BERT's MLM (mlm) or a Table-5 ablation",
    )
    add_model_arguments(parser)
    add_run_arguments(parser)
    add_checkpoint_arguments(parser)
    parser.add_argument(
        "--log-every",
        type=arguments.positive_int,
        default=50,
        metavar="N",
        help="steps per point of the curves",
    )
    parser.add_argument(
        "--vocab-size",
        type=arguments.vocab_size,
        default=8192,
        help="vocabulary of the default corpus",
    )
    add_distribution_arguments(parser)
    parser.add_argument(
        "--finetune-epochs",
        type=arguments.non_negative_int,
        default=3,
        metavar="N",
        help="default corpus only: epochs of the fine-tuning demo that follows pretraining (0 skips it)",
    )
    arguments.add_precision_arguments(
        parser,
        ", as do --steps, --warmup-steps, --save-every and --log-every (checkpoint names count batches)",
    )
    parser.set_defaults(run=arguments.Command("keras_electra.cli.pretrain"))


def add_init_arguments(parser):
    """Where a continued run starts (docs/pretraining.md, "Continue from a released model")."""
    parser.add_argument(
        "--init-from",
        type=arguments.existing_checkpoint,
        metavar="SRC",
        help="continue from SRC instead of a new model: a Hugging Face ELECTRA discriminator (with "
        "--init-generator) or BERT encoder, an authors' TF1 checkpoint, a keras-hub preset, a .keras file "
        "of ours (a pretrainer, backbone or task model) or a pretrain run directory. The architecture is "
        "SRC's (--size is not used); an encoder alone gets a new generator of the paper's width. --data "
        "must be built with SRC's vocabulary (build-data --vocab SRC). Defaults: the nearest size's batch "
        "and pretraining rate, warm-up over 6%% of --steps; the optimizer starts fresh",
    )
    parser.add_argument(
        "--init-generator",
        type=arguments.existing_dir,
        metavar="DIR",
        help="with a Hugging Face --init-from: the generator (ElectraForMaskedLM) released with it",
    )


def add_run_arguments(parser):
    """The run's length, batch, directory, learning-rate schedule and seed."""
    parser.add_argument("--steps", type=arguments.positive_int, default=1000, metavar="N")
    parser.add_argument(
        "--batch-size",
        type=arguments.batch_size,
        default=None,
        metavar="B",
        help="default: the size's",
    )
    parser.add_argument(
        "--out",
        type=arguments.output_dir,
        metavar="RUN",
        help="new directory for the run (default: runs/pretrain-<time>)",
    )
    parser.add_argument(
        "--learning-rate",
        type=arguments.positive_float,
        default=None,
        help="peak; default: the size's",
    )
    parser.add_argument(
        "--warmup-steps",
        type=arguments.non_negative_int,
        default=None,
        help="default: min(10%% of steps, 10000); with --init-from, 6%% of steps",
    )
    parser.add_argument("--seed", type=arguments.seed, default=0)


def add_checkpoint_arguments(parser):
    parser.add_argument(
        "--save-every",
        type=arguments.positive_int,
        default=1000,
        metavar="N",
        help="checkpoint interval (steps)",
    )
    parser.add_argument(
        "--keep-checkpoints",
        type=arguments.positive_int,
        default=3,
        metavar="K",
        help="checkpoints kept (the last K)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last good checkpoint (weights, optimizer, schedule, random "
        "state, data position): run the interrupted command again with --resume added",
    )
    parser.add_argument(
        "--on-non-finite",
        choices=("stop", "skip"),
        default="stop",
        help="a NaN or infinite loss: stop, naming the step (the last checkpoint stays the last good state), "
        "or skip that batch's update and count it",
    )


def add_distribution_arguments(parser):
    parser.add_argument(
        "--distribution",
        choices=choices.DISTRIBUTIONS,
        default="none",
        help="JAX backend only. data: replicate the model on every device (of every host) and split each "
        "global batch (--batch-size) over them; model: also shard the encoders' kernels and the embedding "
        "tables over --model-parallel devices. Multi-host: run the same command on every host with "
        "KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port), KERAS_DISTRIBUTION_NUM_PROCESSES "
        "and KERAS_DISTRIBUTION_PROCESS_ID set (process K > 0 writes its copy of RUN to RUN-processK)",
    )
    parser.add_argument(
        "--model-parallel",
        type=arguments.positive_int,
        default=None,
        metavar="N",
        help="with --distribution model: devices per model replica, at most one host's (default: the largest "
        "such degree that keeps every attention head on one device)",
    )
