"""`compare`'s budget: the FLOPs each objective pretrains for (given, or what the first objective runs in
--budget-minutes here), and the steps and fine-tuning points they buy."""

import json
import math
import time

import keras

from keras_electra.cli.model_options import model_options
from keras_electra.cli.parsers.compare import DEFAULT_BUDGET_FLOPS
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import special_token_arguments
from keras_electra.models.presets import TRAINING
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.flops import pretraining_step_flops
from keras_electra.pretraining.optimizer import pretraining_optimizer

CALIBRATION_STEPS = 5  # timed after as many untimed ones (compilation)


def batch_size_of(args):
    return args.batch_size or TRAINING[args.size]["batch_size"]


def new_pretrainer(args, manifest, objective):
    return ElectraPretrainer.from_size(
        args.size,
        vocab_size=manifest["vocab_size"],
        seed=args.seed,
        objective=objective,
        dtype=args.mixed_precision,
        **model_options(args),
        **special_token_arguments(manifest),
    )


def comparison_budget(args, out, data_dir, manifest, clock=time.monotonic):
    """{"flops": per objective, "calibration": how --budget-minutes became FLOPs, or None}; a resumed
    comparison reads it back from budget.json, so that it trains the same steps. `clock` times the
    steps (`time_steps`)."""
    if (out / "budget.json").exists():
        return json.loads((out / "budget.json").read_text())
    budget = {"flops": args.budget_flops or DEFAULT_BUDGET_FLOPS, "calibration": None}
    if args.budget_minutes:
        calibration = time_steps(args, data_dir, manifest, args.objectives[0], clock)
        budget = {
            "flops": args.budget_minutes * 60 * calibration["flops_per_second"],
            "calibration": calibration,
        }
        print(
            f"--budget-minutes {args.budget_minutes:g}: {args.objectives[0]} runs "
            f"{calibration['flops_per_second']:.3g} FLOPs/s here, so each objective gets {budget['flops']:.3g} FLOPs"
        )
    return budget


def time_steps(args, data_dir, manifest, objective, clock=time.monotonic):
    """The seconds of one step of `objective` here, and its FLOPs per second: CALIBRATION_STEPS steps
    timed by `clock` (a function returning seconds), after as many untimed ones."""
    pretrainer = new_pretrainer(args, manifest, objective)
    pretrainer.compile(
        optimizer=pretraining_optimizer(
            TRAINING[args.size]["learning_rate"], 0, 2 * CALIBRATION_STEPS
        )
    )
    batch_size = batch_size_of(args)

    def batches(first):
        return PretrainingDataset(
            data_dir,
            batch_size,
            num_batches=CALIBRATION_STEPS,
            seed=args.seed,
            start_example=first * batch_size,
        )

    pretrainer.fit(batches(0), verbose=0)  # compiles
    start = clock()
    pretrainer.fit(batches(CALIBRATION_STEPS), verbose=0)
    seconds = (clock() - start) / CALIBRATION_STEPS
    flops = pretraining_step_flops(pretrainer.get_config(), batch_size, manifest["max_length"])[
        "total"
    ]
    return {
        "objective": objective,
        "backend": keras.backend.backend(),
        "seconds_per_step": seconds,
        "flops_per_second": flops / seconds,
    }


def objective_plan(args, manifest, objective, budget):
    """The steps of `objective` that the budget buys, and the points along them to fine-tune."""
    batch_size = batch_size_of(args)
    config = new_pretrainer(args, manifest, objective).get_config()
    flops_per_step = pretraining_step_flops(config, batch_size, manifest["max_length"])["total"]
    steps = math.floor(budget["flops"] / flops_per_step)
    if steps < 1:
        raise ValueError(
            f"budget {budget['flops']:.3g} FLOPs: less than one step of {objective} "
            f"({flops_per_step:.3g} FLOPs at batch {batch_size})"
        )
    every, point_steps = checkpoint_points(steps, args.points)
    return {
        "objective": objective,
        "batch_size": batch_size,
        "flops_per_step": flops_per_step,
        "steps": steps,
        "flops": steps * flops_per_step,
        "save_every": every,
        "point_steps": point_steps,
    }


def checkpoint_points(steps, points):
    """The checkpoint interval and the steps to fine-tune: 0 (the initial weights), each checkpoint,
    and the last step. The interval rounds up, so that no checkpoint lands a step or two before the end
    (604 of 605), a point that would only repeat the last one."""
    every = max(1, math.ceil(steps / points))
    return every, sorted({0, *range(every, steps + 1, every), steps})
