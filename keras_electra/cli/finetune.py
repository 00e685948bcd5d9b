"""`keras-electra finetune`: a pretrained discriminator fine-tuned on a GLUE, CoNLL-2003 or SQuAD task."""

import math
import time
from pathlib import Path

import keras
import numpy as np

from keras_electra.callbacks import (
    NonFiniteLossGuard,
    StepLogger,
    StopOnInterrupt,
    latest_checkpoint,
)
from keras_electra.cli import arguments
from keras_electra.cli.plotting import plot_history
from keras_electra.cli.runs import (
    RUN_FILE,
    check_out_directory,
    check_settings,
    check_trained_to_the_end,
    progress_verbosity,
    read_history,
    record_run,
)
from keras_electra.data.atomic import save_model_atomic
from keras_electra.data.shards import write_json_atomic
from keras_electra.finetuning import tasks
from keras_electra.finetuning.training import fine_tune, with_dtype_policy
from keras_electra.models.presets import finetuning_learning_rate_choice


def take(x, y, count):
    """The first `count` examples of raw `x` (a list or a tuple of lists) and `y`."""
    if count is None:
        return x, y
    x = tuple(part[:count] for part in x) if isinstance(x, tuple) else x[:count]
    return x, y[:count]


def finetune(
    task,
    backbone,
    tokenizer,
    train,
    dev,
    out_dir,
    *,
    batch_size=32,
    max_length=None,
    seed=0,
    keep_checkpoints=3,
    verbose=1,
    **schedule,
):
    """Fine-tunes, saves model.keras, task.json, history.csv, steps.csv and curves.png in `out_dir`,
    and returns the dev metrics. Raises `StoppedEarly` when training stopped early: status 1 at a NaN
    or infinite loss, 130 at Ctrl-C (after saving a checkpoint).

    `schedule` holds `fine_tune`'s epochs and learning_rate, and any of its layer_decay,
    authors_layer_decay, gradient_accumulation_steps and save_every. Checkpoints go to
    `out_dir/checkpoints`; when it holds one, training continues from it.
    """
    keras.utils.set_random_seed(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = tasks.build_model(task, backbone, tokenizer, max_length, seed=seed)
    x, y, weights = model.preprocess(train[0], tasks.training_targets(task, train[1]))
    start = cut_logs_to_checkpoint(out_dir, len(next(iter(x.values()))), batch_size)
    interrupt, guard = StopOnInterrupt(initial_step=start), NonFiniteLossGuard(initial_step=start)
    fine_tune(
        model,
        x,
        y,
        sample_weight=weights,
        batch_size=batch_size,
        seed=seed,
        verbose=verbose,
        checkpoint_dir=out_dir / "checkpoints",
        keep_checkpoints=keep_checkpoints,
        callbacks=[
            keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True),
            StepLogger(out_dir / "steps.csv", initial_step=start),
            interrupt,
            guard,
        ],
        **schedule,
    )
    check_trained_to_the_end(
        "finetune",
        model,
        out_dir / "checkpoints",
        guard,
        interrupt,
        keep_checkpoints,
        "start a new run with a lower --learning-rate",
    )
    save_finetuned(model, task, out_dir)
    return tasks.score(task, tasks.predict(task, model, dev[0], batch_size), dev[1])


def cut_logs_to_checkpoint(out_dir, examples, batch_size):
    """The batch of the newest checkpoint in `out_dir` (0 without one). A resumed run redoes what
    followed it, so its logs are cut back to it."""
    found = latest_checkpoint(out_dir / "checkpoints")
    start = found[1] if found else 0
    read_history(out_dir / "history.csv", before=start // math.ceil(examples / batch_size))
    read_history(out_dir / "steps.csv", before=start + 1, column="step")
    return start


def save_finetuned(model, task, out_dir):
    """model.keras, task.json and curves.png in `out_dir`."""
    save_model_atomic(model, out_dir / "model.keras")
    write_json_atomic(out_dir / "task.json", {"task": task})
    # Per-step points for the plot: a few epochs give too few to see a curve.
    curves = read_history(out_dir / "steps.csv", column="step")
    plot_history(
        curves,
        np.arange(1, len(curves["loss"]) + 1),
        out_dir / "curves.png",
        [("training (running mean of each epoch)", tuple(curves))],
    )


def run(args):
    arguments.resolve_precision(args)
    out_dir, resuming = check_out_directory(args)
    if resuming:
        check_settings(args, out_dir)  # `finetune` finds the checkpoint itself
    tasks.check_data(args.task, args.data, "--data")
    train = take(*tasks.load_split(args.task, args.data, "train"), args.max_train_examples)
    dev = take(*tasks.load_split(args.task, args.data, "dev"), args.max_dev_examples)
    backbone, tokenizer = tasks.load_pretrained(args.model)
    # A saved model keeps the policy it was saved with.
    backbone = with_dtype_policy(backbone, args.mixed_precision)
    epochs = args.epochs or tasks.EPOCHS.get(args.task, 3)
    learning_rate, learning_rate_reason = chosen_learning_rate(args, backbone.hidden_dim)
    describe(args, train, dev, epochs, learning_rate)
    if not (out_dir / RUN_FILE).exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        record_run(args, out_dir)
    start = time.time()
    scores = finetune(
        args.task,
        backbone,
        tokenizer,
        train,
        dev,
        out_dir,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=args.batch_size,
        layer_decay=args.layer_decay,
        authors_layer_decay=args.authors_layer_decay,
        max_length=args.max_length,
        seed=args.seed,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        save_every=args.save_every,
        keep_checkpoints=args.keep_checkpoints,
        verbose=progress_verbosity(),
    )
    report(
        args,
        out_dir,
        scores,
        train,
        dev,
        epochs,
        (learning_rate, learning_rate_reason),
        time.time() - start,
    )


def chosen_learning_rate(args, hidden_dim):
    """(rate, reason), printed: a width matching no size would hide which size's rate it took."""
    if args.learning_rate:
        rate, reason = args.learning_rate, "given by --learning-rate"
    else:
        rate, reason = finetuning_learning_rate_choice(hidden_dim)
        reason += "; --learning-rate sets another"
    print(f"learning rate {rate:g}: {reason}")
    return rate, reason


def describe(args, train, dev, epochs, learning_rate):
    print(
        f"{keras.backend.backend()} backend: {args.task}, {len(train[1]):,} training / {len(dev[1]):,} dev "
        f"examples, {epochs} epochs, lr {learning_rate:g}, layer decay {args.layer_decay:g}, "
        f"{args.mixed_precision} ({args.mixed_precision_reason})"
        + (
            f", {args.gradient_accumulation_steps} batches of {args.batch_size} per update"
            if args.gradient_accumulation_steps > 1
            else ""
        )
    )


def report(args, out_dir, scores, train, dev, epochs, learning_rate, seconds):
    """metrics.json, and the dev scores beside the task's trivial baseline. `learning_rate` is
    (rate, reason)."""
    result = {
        "task": args.task,
        "dev": scores,
        "baseline": tasks.baseline(args.task, train[1], dev[1]),
        "train_examples": len(train[1]),
        "dev_examples": len(dev[1]),
        "epochs": epochs,
        "learning_rate": learning_rate[0],
        "learning_rate_reason": learning_rate[1],
        "seconds": seconds,
        "backend": keras.backend.backend(),
        "mixed_precision": args.mixed_precision,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
    }
    write_json_atomic(out_dir / "metrics.json", result)
    print(
        f"\n{args.task} dev ({seconds:.0f} s): "
        + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
    )
    if result["baseline"]:
        print(f"  baseline (majority class / mean): score {result['baseline']['score']:.4f}")
    print(
        f"saved to {out_dir}/: model.keras, task.json, metrics.json, history.csv, steps.csv, curves.png"
    )
