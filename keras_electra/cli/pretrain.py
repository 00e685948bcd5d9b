"""`keras-electra pretrain`: joint generator/discriminator training on a data directory.

`pretrain` runs as stages: the run directory (new, or resumed), the data, the plan of the run (batch,
schedule) and the model (new, continued from --init-from or restored from the last checkpoint:
pretrain_model.py), the callbacks, training, then saving and the report. Its flags are
parsers/pretrain.py's.
"""

import importlib.util
import inspect
import time
from pathlib import Path
from typing import Callable, NamedTuple

import keras
import numpy as np

from keras_electra.callbacks import (
    NonFiniteLossGuard,
    PeriodicCheckpoint,
    StopOnInterrupt,
    fit_in_chunks,
)
from keras_electra.cli import arguments
from keras_electra.cli.init_from import check_flags
from keras_electra.cli.model_options import architecture
from keras_electra.cli.plotting import plot_history
from keras_electra.cli.pretrain_demos import default_data, fill_mask_examples, finetuning_demo
from keras_electra.cli.pretrain_distribution import set_up_distribution
from keras_electra.cli.pretrain_model import check_warmup, model_and_plan
from keras_electra.cli.runs import (
    DEFAULT_OUT,
    RESUMABLE_CHANGES,
    check_out_directory,
    check_trained_to_the_end,
    progress_verbosity,
    read_history,
    record_run,
    resume_point,
)
from keras_electra.data.atomic import save_model_atomic
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import read_manifest, write_json_atomic
from keras_electra.models.presets import pretrainer_config
from keras_electra.pretraining import distribution as distribution_lib
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

# --finetune-epochs only changes the demo that follows the run.
PRETRAIN_RESUMABLE_CHANGES = (*RESUMABLE_CHANGES, "finetune_epochs")
# What an objective's pretrainer reports of these (docs/electra.md, "Objectives").
REPORTED = (
    "loss",
    "mlm_accuracy",
    "disc_accuracy",
    "disc_auc",
    "disc_precision",
    "disc_recall",
    "encoder_mlm_loss",
    "encoder_mlm_accuracy",
)
# curves.png's panels: (title, the history.csv columns drawn).
CURVES = [
    ("losses", ("loss", "mlm_loss", "disc_loss", "encoder_mlm_loss")),
    (
        "encoder",
        ("disc_accuracy", "disc_auc", "disc_precision", "disc_recall", "encoder_mlm_accuracy"),
    ),
    (
        "held-out",
        ("val_disc_accuracy", "val_disc_auc", "val_mlm_accuracy", "val_encoder_mlm_accuracy"),
    ),
]
NON_FINITE_ADVICE = (
    "--resume would replay the same batches from it: start a new run with a lower "
    "--learning-rate, or with --on-non-finite skip"
)


def run(args):
    """`pretrain` under --distribution; the global distribution is restored afterwards."""
    check_flags(args)
    check_warmup(args)
    arguments.resolve_precision(args)
    distribution = set_up_distribution(args)
    previous = keras.distribution.distribution() if distribution else None
    if distribution:
        keras.distribution.set_distribution(distribution)
    try:
        pretrain(args, distribution)
    finally:
        if distribution:
            keras.distribution.set_distribution(previous)


def pretrain(args, distribution=None):
    if not args.resume:
        args.out = args.out or time.strftime(DEFAULT_OUT)
    run_dir, resuming = check_out_directory(args)
    data_dir, manifest = pretraining_data(args, run_dir, resuming)
    tokenizer = ElectraTokenizer.from_vocab_file(
        data_dir / manifest["vocab_file"], lowercase=manifest["lowercase"]
    )
    checkpoint, start_step, record = (
        resume_point(args, run_dir, PRETRAIN_RESUMABLE_CHANGES) if resuming else (None, 0, None)
    )
    pretrainer, plan, source = model_and_plan(args, manifest, tokenizer, checkpoint, start_step)
    run_dir.mkdir(parents=True, exist_ok=True)  # once SRC, the data and the flags are known good
    data = datasets(args, plan, data_dir, distribution, start_step)
    describe(args, plan, pretrainer, manifest, data, distribution, source)
    if resuming:
        read_history(run_dir / "history.csv", before=start_step // plan.log_every)
    before, init_from = (
        (record["before"], record.get("init_from"))
        if checkpoint
        else first_evaluation(args, run_dir, pretrainer, data.heldout, source)
    )
    callbacks, guard, interrupt = training_callbacks(args, plan, run_dir, start_step)
    start = time.time()
    fit_in_chunks(
        pretrainer,
        data.batches,
        plan.batches,
        plan.log_every,
        callbacks,
        start=start_step,
        validation_data=data.heldout,
        verbose=progress_verbosity(),
    )
    seconds = time.time() - start
    check_trained_to_the_end(
        "pretrain",
        pretrainer,
        run_dir / "checkpoints",
        guard,
        interrupt,
        args.keep_checkpoints,
        NON_FINITE_ADVICE,
    )
    metrics = save_run(
        args, plan, run_dir, pretrainer, tokenizer, data.heldout, (before, init_from), seconds
    )
    report(args, run_dir, pretrainer, tokenizer, data, metrics, distribution)


def check_length(data_dir, manifest, size):
    default = inspect.signature(ElectraPretrainer).parameters["max_sequence_length"].default
    positions = pretrainer_config(size).get("max_sequence_length", default)
    if manifest["max_length"] > positions:
        raise ValueError(
            f"{data_dir}: max_length {manifest['max_length']} exceeds the {positions} positions "
            f"of the {size} model"
        )


def pretraining_data(args, run_dir, resuming):
    """(data directory, its manifest). The run directory is made once --data is known to be good."""
    if resuming and not args.data and (run_dir / "data" / "manifest.json").exists():
        return run_dir / "data", read_manifest(
            run_dir / "data"
        )  # the default corpus, built by the interrupted run
    if args.data:
        data_dir = Path(args.data)
        manifest = read_manifest(data_dir)
        if not args.init_from:  # else SRC's positions, checked with SRC
            check_length(data_dir, manifest, args.size)
        return data_dir, manifest
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = default_data(run_dir, args)
    return data_dir, read_manifest(data_dir)


class Data(NamedTuple):
    directory: Path
    batches: Callable  # (first batch, count) -> the training batches from `first` on
    train: PretrainingDataset
    heldout: PretrainingDataset
    num_shards: int
    shard_index: int


def datasets(args, plan, data_dir, distribution, start_step):
    # Each process reads its own slice of every global batch; Keras splits it over the process's devices.
    distribution_lib.check_batch_size(plan.batch_size, distribution)
    num_shards, shard_index = distribution_lib.process_shard(distribution)
    shards = dict(num_shards=num_shards, shard_index=shard_index)

    def batches(first, count):
        return PretrainingDataset(
            data_dir,
            plan.batch_size,
            num_batches=count,
            seed=args.seed,
            start_example=first * plan.batch_size,
            **shards,
        )

    train = batches(start_step, plan.batches - start_step)
    heldout = PretrainingDataset(
        data_dir,
        plan.batch_size,
        split="heldout",
        shuffle=False,
        drop_remainder=distribution is not None,
        **shards,
    )
    return Data(data_dir, batches, train, heldout, num_shards, shard_index)


def describe(args, plan, pretrainer, manifest, data, distribution, source):
    if source is not None:
        print(source.description)
    if distribution is not None:
        print(
            f"{distribution!r}; this process reads data shard {data.shard_index + 1} of {data.num_shards}: "
            f"{plan.batch_size // data.num_shards} examples of every global batch of {plan.batch_size}"
        )
    print(
        f"{keras.backend.backend()} backend, {model_name(args, pretrainer)}, objective {pretrainer.objective} "
        f"({pretrainer.discriminator.count_params():,} encoder parameters{architecture(pretrainer)}), "
        f"{data.train.num_examples:,} training / {data.heldout.num_examples:,} "
        f"held-out examples of {manifest['max_length']} tokens, {args.steps} steps of {plan.batch_size}"
        + (f" x {plan.accumulate} accumulated batches" if plan.accumulate > 1 else "")
        + f", {args.mixed_precision} ({args.mixed_precision_reason})"
    )
    print(
        f"learning rate {plan.learning_rate:g}: {plan.learning_rate_reason}; warm-up {plan.warmup} "
        f"steps, then linear decay to 0 at step {args.steps}"
    )


def model_name(args, pretrainer):
    if not args.init_from:
        return f"{args.size} model"
    return (
        f"--init-from's model ({pretrainer.num_layers} layers of {pretrainer.hidden_dim}, generator "
        f"{pretrainer.generator_num_layers} of {pretrainer.generator_hidden_dim})"
    )


def first_evaluation(args, run_dir, pretrainer, heldout, source):
    """(the held-out metrics before training: --init-from's own at step 0, SRC's record), kept in
    run.json for a resumed run's report."""
    before = pretrainer.evaluate(heldout, verbose=0, return_dict=True)
    init_from = source.record if source else None
    record_run(args, run_dir, PRETRAIN_RESUMABLE_CHANGES, before=before, init_from=init_from)
    return before, init_from


def training_callbacks(args, plan, run_dir, start_step):
    """(callbacks, the non-finite loss guard, the Ctrl-C handler) of fit."""
    saver = PeriodicCheckpoint(
        run_dir / "checkpoints",
        every=args.save_every * plan.accumulate,
        keep=args.keep_checkpoints,
        initial_step=start_step,
    )
    guard, interrupt = (
        NonFiniteLossGuard(initial_step=start_step),
        StopOnInterrupt(initial_step=start_step),
    )
    callbacks = [
        # append: fit_in_chunks calls fit once per epoch.
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        interrupt,
        saver,
    ] + ([guard] if args.on_non_finite == "stop" else [])
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("tensorboard"):
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
    else:
        print(
            "TensorBoard logs need tensorflow and tensorboard, not both installed; history.csv has the numbers."
        )
    return callbacks, guard, interrupt


def save_run(args, plan, run_dir, pretrainer, tokenizer, heldout, start, seconds):
    """The trained models, the vocabulary, curves.png and metrics.json in the run directory; returns the
    metrics. `start` is (the held-out metrics before training, --init-from's record or None)."""
    after = pretrainer.evaluate(heldout, verbose=0, return_dict=True)
    before, init_from = start
    save_model_atomic(pretrainer, run_dir / "pretrainer.keras")
    save_model_atomic(pretrainer.discriminator, run_dir / "discriminator.keras")
    tokenizer.save(run_dir)
    plot_curves(args, plan, run_dir)
    metrics = {
        "backend": keras.backend.backend(),
        "size": args.size,
        "steps": args.steps,
        "batch_size": plan.batch_size,
        "train_seconds": seconds,
        "heldout_examples": heldout.num_examples,
        "mixed_precision": args.mixed_precision,
        "gradient_accumulation_steps": plan.accumulate,
        "objective": pretrainer.objective,
        "learning_rate": plan.learning_rate,
        "learning_rate_reason": plan.learning_rate_reason,
        "warmup_steps": plan.warmup,
        "init_from": init_from,
        "before": before,
        "after": after,
        "dropout": pretrainer.dropout,
        **{
            name: getattr(pretrainer, name)
            for name in ("local_mixing_window", "discriminator_output_bias")
        },
    }
    if "replaced_fraction" in after:
        metrics["all_original_accuracy"] = 1.0 - after["replaced_fraction"]
    if args.on_non_finite == "skip":
        # Under mixed_float16 the loss-scale optimizer skips such steps itself, and ours sees none.
        optimizer = getattr(pretrainer.optimizer, "inner_optimizer", pretrainer.optimizer)
        metrics["skipped_batches"] = int(keras.ops.convert_to_numpy(optimizer.skipped_steps))
        print(f"{metrics['skipped_batches']} batches with a NaN or infinite gradient were skipped")
    write_json_atomic(run_dir / "metrics.json", metrics)
    return metrics


def plot_curves(args, plan, run_dir):
    """curves.png: history.csv's losses, training metrics and held-out metrics against the step."""
    history = read_history(run_dir / "history.csv")
    steps_axis = np.minimum(
        np.arange(1, len(history["loss"]) + 1) * plan.log_every // plan.accumulate, args.steps
    )
    plot_history(history, steps_axis, run_dir / "curves.png", CURVES)


def report(args, run_dir, pretrainer, tokenizer, data, metrics, distribution):
    """Held-out metrics before and after, the generator on held-out text and, on the default corpus, the
    fine-tuning demo."""
    before, after = metrics["before"], metrics["after"]
    source = f" (before: {args.init_from}'s own, at step 0)" if args.init_from else ""
    print(
        f"\nheld-out metrics, before -> after {args.steps} steps ({metrics['train_seconds']:.0f} s)"
        f"{source}:"
    )
    for name in (name for name in REPORTED if name in after):
        print(f"  {name:20s} {before[name]:8.4f} -> {after[name]:8.4f}")
    if "disc_accuracy" in after:
        print(
            f"  (labelling every token original would score disc_accuracy {metrics['all_original_accuracy']:.4f})"
        )
    print("fill-mask on held-out text:")
    # The same examples in every process: the generator's computation spans them all.
    questions = (
        data.heldout
        if data.num_shards == 1
        else PretrainingDataset(
            data.directory, metrics["batch_size"], split="heldout", shuffle=False
        )
    )
    print("\n".join(fill_mask_examples(pretrainer, tokenizer, questions)))
    finetuning_demo(
        args, run_dir, pretrainer.discriminator, tokenizer, metrics, distribution is not None
    )
    print(
        f"saved to {run_dir}/: pretrainer.keras, discriminator.keras, vocab.txt, tokenizer_config.json, "
        "curves.png, metrics.json"
    )
