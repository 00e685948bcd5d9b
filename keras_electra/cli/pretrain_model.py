"""`pretrain`'s plan (batch, learning rate and schedule, from the flags and the size's defaults or the
continued-pretraining recipe) and its model: restored from a checkpoint, continued from --init-from,
or new; compiled with a fresh optimizer."""

from pathlib import Path
from typing import NamedTuple

import keras

from keras_electra.cli.init_from import initial_source
from keras_electra.cli.model_options import model_options
from keras_electra.data.shards import special_token_arguments
from keras_electra.models.presets import SIZE_NAMES, TRAINING, nearest_size
from keras_electra.pretraining.continuation import CONTINUED_WARMUP_FRACTION
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.optimizer import pretraining_optimizer


class Plan(NamedTuple):
    """What the flags and the size's defaults make of a run; `batches` and `log_every` count fit's
    batches, `accumulate` of them to an optimizer update (--steps and the schedule count updates)."""

    batch_size: int
    learning_rate: float
    warmup: int
    accumulate: int
    batches: int
    log_every: int
    learning_rate_reason: str


def check_warmup(args):
    """Before anything is written: the default warm-ups (10% or 6% of the steps) always fit the run."""
    if args.warmup_steps is not None and args.warmup_steps > args.steps:
        raise ValueError(
            f"--warmup-steps {args.warmup_steps}: more than the run's --steps {args.steps}"
        )


def plan_of(args, continued_width=None):
    """The run's plan. A run continued from an encoder `continued_width` wide takes the continued-
    pretraining recipe (docs/pretraining.md, "Continue from a released model"): the nearest size's
    batch and peak rate, warm-up over 6% of the steps."""
    if continued_width is None:
        size, why = args.size, f"--size {args.size}"
        warmup = min(args.steps // 10, 10_000)
    else:
        (size, why), warmup = (
            nearest_size(continued_width),
            round(CONTINUED_WARMUP_FRACTION * args.steps),
        )
    warmup = warmup if args.warmup_steps is None else args.warmup_steps
    accumulate, training = args.gradient_accumulation_steps, TRAINING[size]
    return Plan(
        batch_size=args.batch_size or training["batch_size"],
        learning_rate=args.learning_rate or training["learning_rate"],
        warmup=warmup,
        accumulate=accumulate,
        batches=args.steps * accumulate,
        log_every=min(args.log_every, args.steps) * accumulate,
        learning_rate_reason="--learning-rate"
        if args.learning_rate
        else f"{SIZE_NAMES[size]}'s pretraining rate ({why})",
    )


def model_and_plan(args, manifest, tokenizer, checkpoint, start_step):
    """(pretrainer, plan, the --init-from `Source` or None): the pretrainer of `checkpoint` (weights,
    optimizer state with the schedule's position, and every seed's state), or one continued from
    --init-from or new, compiled with a fresh optimizer."""
    if checkpoint:
        pretrainer = keras.models.load_model(checkpoint)
        plan = plan_of(args, pretrainer.hidden_dim if args.init_from else None)
        print(f"resuming from {checkpoint}: batch {start_step} of {plan.batches}")
        return pretrainer, plan, None
    source = None
    if args.init_from:
        data_dir = Path(args.data)
        source = initial_source(args, data_dir, manifest, tokenizer, args.mixed_precision)
    plan = plan_of(args, source.pretrainer.hidden_dim if source else None)
    pretrainer = source.pretrainer if source else new_pretrainer(args, manifest)
    compile_pretrainer(args, plan, pretrainer)
    return pretrainer, plan, source


def new_pretrainer(args, manifest):
    return ElectraPretrainer.from_size(
        args.size,
        vocab_size=manifest["vocab_size"],
        seed=args.seed,
        dtype=args.mixed_precision,
        objective=args.objective,
        **model_options(args),
        **special_token_arguments(manifest),
    )


def compile_pretrainer(args, plan, pretrainer):
    pretrainer.compile(
        optimizer=pretraining_optimizer(
            plan.learning_rate,
            plan.warmup,
            args.steps,
            gradient_accumulation_steps=plan.accumulate,
            skip_non_finite=args.on_non_finite == "skip",
        )
    )
