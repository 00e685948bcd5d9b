"""`keras-electra finetune`: a pretrained discriminator fine-tuned on a GLUE, CoNLL-2003 or SQuAD task."""

import argparse
import math
import time
from pathlib import Path

import keras
import numpy as np

from keras_electra.callbacks import NonFiniteLossGuard, StepLogger, StopOnInterrupt, latest_checkpoint
from keras_electra.cli.plotting import plot_history
from keras_electra.cli.runs import (
    RUN_FILE, check_out_directory, check_settings, read_history, report_non_finite_loss, run_settings,
    save_interrupted,
)
from keras_electra.data.atomic import save_model_atomic
from keras_electra.data.shards import write_json_atomic
from keras_electra.finetuning import tasks
from keras_electra.finetuning.training import fine_tune, with_dtype_policy
from keras_electra.models.presets import finetuning_learning_rate

# --mixed-precision: Keras dtype policies (variables stay float32 under the mixed ones).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def positive(text):
    """argparse type of counts such as --gradient-accumulation-steps: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}")
    return value


def add_precision_arguments(parser, counting=""):
    """--mixed-precision and --gradient-accumulation-steps (`counting`: what else counts updates)."""
    parser.add_argument(
        "--mixed-precision", choices=PRECISIONS, default="float32",
        help="dtype policy: mixed_bfloat16 (TPUs, Ampere+ GPUs, CPUs with bf16) or mixed_float16 (older "
        "NVIDIA GPUs; loss scaling is added) compute in 16 bits and keep float32 weights",
    )
    parser.add_argument(
        "--gradient-accumulation-steps", type=positive, default=1, metavar="K",
        help="update the weights once every K batches of --batch-size, with their mean gradient: an update "
        f"sees K x --batch-size examples; the learning-rate schedule counts updates{counting}",
    )


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="fine-tune a pretrained discriminator on a task",
        description="Fine-tune on --task's train split and score on its dev split. FT receives model.keras "
        "(preprocessor included: it predicts on raw text), task.json, history.csv, curves.png and metrics.json.",
    )
    parser.add_argument("--task", required=True, choices=tasks.TASKS)
    parser.add_argument("--data", required=True, metavar="DIR", help="the task's folder (e.g. glue/SST-2)")
    parser.add_argument("--model", required=True, metavar="RUN_OR_FILE", help="a pretrain run or a .keras file")
    parser.add_argument("--out", required=True, metavar="FT", help="new directory for the fine-tuned model")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 (10 for rte, stsb; 2 for squad)")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: by model size (reference §9)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--layer-decay", type=float, default=0.8, help="layer-wise lr decay; 1 turns it off")
    parser.add_argument("--authors-layer-decay", action="store_true", help="the authors' off-by-one form")
    parser.add_argument("--max-length", type=int, default=None, help="default: 128 (384 for squad)")
    parser.add_argument("--max-train-examples", type=int, default=None, help="train on the first N only")
    parser.add_argument("--max-dev-examples", type=int, default=None, help="score the first N dev examples only")
    parser.add_argument("--seed", type=int, default=0, help="initial head weights, dropout and the data's order")
    add_precision_arguments(parser)
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the run in --out from its last good checkpoint (weights, optimizer and schedule, seeds, "
        "data position): run the interrupted command again with --resume added",
    )
    parser.add_argument("--save-every", type=positive, default=None, metavar="N",
                        help="write a checkpoint every N updates (default: at the end of each epoch)")
    parser.add_argument("--keep-checkpoints", type=positive, default=3, metavar="K", help="keep the last K checkpoints")
    parser.set_defaults(run=run)


def take(x, y, count):
    """The first `count` examples of raw `x` (a list or a tuple of lists) and `y`."""
    if count is None:
        return x, y
    x = tuple(part[:count] for part in x) if isinstance(x, tuple) else x[:count]
    return x, y[:count]


def finetune(task, backbone, tokenizer, train, dev, out_dir, *, epochs, learning_rate, batch_size=32,
             layer_decay=0.8, authors_layer_decay=False, max_length=None, seed=0, gradient_accumulation_steps=None,
             save_every=None, keep_checkpoints=3, verbose=1):
    """Fine-tunes, saves model.keras, task.json, history.csv, steps.csv and curves.png in `out_dir`,
    and returns the dev metrics; or the exit status when training stopped early: 1 at a NaN or
    infinite loss, 130 at Ctrl-C (after saving a checkpoint).

    Checkpoints go to `out_dir/checkpoints`; when it holds one, training continues from it.
    """
    keras.utils.set_random_seed(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = tasks.build_model(task, backbone, tokenizer, max_length, seed=seed)
    x, y, weights = model.preprocess(train[0], tasks.training_targets(task, train[1]))
    found = latest_checkpoint(out_dir / "checkpoints")
    start = found[1] if found else 0
    # A resumed run redoes what followed its checkpoint: its logs are cut back to it.
    read_history(out_dir / "history.csv", before=start // math.ceil(len(next(iter(x.values()))) / batch_size))
    read_history(out_dir / "steps.csv", before=start + 1, column="step")
    interrupt, guard = StopOnInterrupt(initial_step=start), NonFiniteLossGuard(initial_step=start)
    fine_tune(
        model, x, y, sample_weight=weights, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
        layer_decay=layer_decay, authors_layer_decay=authors_layer_decay, verbose=verbose,
        gradient_accumulation_steps=gradient_accumulation_steps, seed=seed, checkpoint_dir=out_dir / "checkpoints",
        save_every=save_every, keep_checkpoints=keep_checkpoints,
        callbacks=[keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True),
                   StepLogger(out_dir / "steps.csv", initial_step=start), interrupt, guard],
    )
    if guard.stopped_at is not None:
        return report_non_finite_loss("finetune", guard, out_dir / "checkpoints",
                                      "start a new run with a lower --learning-rate")
    if interrupt.interrupted_at is not None:
        return save_interrupted("finetune", model, out_dir / "checkpoints", interrupt.interrupted_at,
                                keep_checkpoints)
    save_model_atomic(model, out_dir / "model.keras")
    write_json_atomic(out_dir / "task.json", {"task": task})
    # Per-step points for the plot: a few epochs give too few to see a curve.
    curves = read_history(out_dir / "steps.csv", column="step")
    plot_history(curves, np.arange(1, len(curves["loss"]) + 1), out_dir / "curves.png",
                 [("training (running mean of each epoch)", tuple(curves))])
    return tasks.score(task, tasks.predict(task, model, dev[0], batch_size), dev[1])


def run(args):
    for name in ("epochs", "learning_rate", "batch_size"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} {value}: must be positive")
    out_dir, resuming = check_out_directory(args)
    if resuming:
        check_settings(args, out_dir)  # `finetune` finds the checkpoint itself
    train = take(*tasks.load_split(args.task, args.data, "train"), args.max_train_examples)
    dev = take(*tasks.load_split(args.task, args.data, "dev"), args.max_dev_examples)
    backbone, tokenizer = tasks.load_pretrained(args.model)
    backbone = with_dtype_policy(backbone, args.mixed_precision)  # a saved model keeps the policy it was saved with
    epochs = args.epochs or tasks.EPOCHS.get(args.task, 3)
    learning_rate = args.learning_rate or finetuning_learning_rate(backbone.hidden_dim)
    print(f"{keras.backend.backend()} backend: {args.task}, {len(train[1]):,} training / {len(dev[1]):,} dev "
          f"examples, {epochs} epochs, lr {learning_rate:g}, layer decay {args.layer_decay:g}, {args.mixed_precision}"
          + (f", {args.gradient_accumulation_steps} batches of {args.batch_size} per update"
             if args.gradient_accumulation_steps > 1 else ""))
    if not (out_dir / RUN_FILE).exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out_dir / RUN_FILE, {"settings": run_settings(args)})
    start = time.time()
    scores = finetune(
        args.task, backbone, tokenizer, train, dev, out_dir, epochs=epochs, learning_rate=learning_rate,
        batch_size=args.batch_size, layer_decay=args.layer_decay, authors_layer_decay=args.authors_layer_decay,
        max_length=args.max_length, seed=args.seed, gradient_accumulation_steps=args.gradient_accumulation_steps,
        save_every=args.save_every, keep_checkpoints=args.keep_checkpoints,
    )
    if not isinstance(scores, dict):
        return scores  # the exit status of a run that stopped early
    seconds = time.time() - start
    result = {"task": args.task, "dev": scores, "baseline": tasks.baseline(args.task, train[1], dev[1]),
              "train_examples": len(train[1]), "dev_examples": len(dev[1]), "epochs": epochs,
              "learning_rate": learning_rate, "seconds": seconds, "backend": keras.backend.backend(),
              "mixed_precision": args.mixed_precision, "gradient_accumulation_steps": args.gradient_accumulation_steps}
    write_json_atomic(out_dir / "metrics.json", result)
    print(f"\n{args.task} dev ({seconds:.0f} s): " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    if result["baseline"]:
        print(f"  baseline (majority class / mean): score {result['baseline']['score']:.4f}")
    print(f"saved to {out_dir}/: model.keras, task.json, metrics.json, history.csv, steps.csv, curves.png")
