"""`keras-electra compare`: pretraining objectives side by side at equal compute, then fine-tuned.

The paper's claim (Table 1, Table 5; docs/electra.md, "Objectives") is that replaced token detection
gives a better encoder than masked language modelling for the same pretraining FLOPs. `compare`
checks it on the user's corpus in stages, each resumable: the data (the default corpus when there
is no --data), the budget (FLOPs; from --budget-minutes by timing a few steps), pretraining each
objective for the steps the budget buys (a `pretrain` run, checkpoints along the way), fine-tuning
the encoder at each of those points with every seed, and the report (comparison_report.py).

OUT holds run.json (the settings, for --resume), budget.json, data/ (default corpus only),
OBJECTIVE/pretrain/ (a `pretrain` run), OBJECTIVE/finetune/step-NNNNNNN/seed-S/ and
initial/seed-S/ (the initial weights, shared by every objective) (a `finetune` output and its
scores.json; its model and checkpoints are removed once it is scored), and comparison.json,
comparison.md and comparison.png.
"""

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import keras

from keras_electra.callbacks import checkpoints
from keras_electra.cli import arguments, pretrain
from keras_electra.cli.comparison_report import write_comparison
from keras_electra.cli.finetune import finetune, take
from keras_electra.cli.model_options import add_model_arguments, model_options
from keras_electra.cli.pretrain_demos import default_data
from keras_electra.cli.runs import check_out_directory, check_settings, record_run
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import read_manifest, special_token_arguments, write_json_atomic
from keras_electra.finetuning import tasks
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.presets import SIZES, TRAINING, finetuning_learning_rate
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.flops import pretraining_step_flops
from keras_electra.pretraining.objectives import OBJECTIVES
from keras_electra.pretraining.optimizer import pretraining_optimizer

DEFAULT_OUT = "runs/compare-%Y%m%d-%H%M%S"
# The no-argument run: a few minutes of the tiny model per objective on a 2-core CPU.
DEFAULT_BUDGET_FLOPS = 3e12
CALIBRATION_STEPS = 5  # timed after as many untimed ones (compilation)


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
        choices=list(OBJECTIVES),
        default=["electra", "mlm"],
        metavar="NAME",
        help=f"some of {', '.join(OBJECTIVES)} (default: electra mlm)",
    )
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
    parser.add_argument("--task", choices=tasks.TASKS, default=tasks.DOCSTRING_KIND)
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
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
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
    add_finetuning_arguments(parser)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the comparison in --out: run the interrupted command again with --resume",
    )
    parser.set_defaults(run=run)


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


def run(args):
    if len(set(args.objectives)) != len(args.objectives):
        raise ValueError(f"--objectives {' '.join(args.objectives)}: an objective is named twice")
    tasks.check_data(args.task, args.task_data, "--task-data")
    if not args.resume:
        args.out = args.out or time.strftime(DEFAULT_OUT)
    out, resuming = check_out_directory(args)
    if resuming:
        check_settings(args, out)
    data_dir, manifest = comparison_data(args, out)
    budget = comparison_budget(args, out, data_dir, manifest)
    plans = [objective_plan(args, manifest, objective, budget) for objective in args.objectives]
    split = finetuning_data(args)  # read now: a bad task file is named before any pretraining
    # Written once the plans and the task's data hold: bad input leaves no run behind (the default corpus aside).
    out.mkdir(parents=True, exist_ok=True)
    record_run(args, out)
    write_json_atomic(out / "budget.json", budget)
    stages = Stages(
        args.seeds + sum(1 + (len(plan["point_steps"]) - 1) * args.seeds for plan in plans) + 1
    )
    runs = {}
    for plan in plans:
        runs[plan["objective"]] = pretrain_objective(args, out, data_dir, plan, stages)
        if not isinstance(runs[plan["objective"]], dict):
            return runs[plan["objective"]]  # the exit status of a run that stopped early
    tokenizer = ElectraTokenizer.from_vocab_file(
        data_dir / manifest["vocab_file"], lowercase=manifest["lowercase"]
    )
    status = finetune_all(args, out, runs, tokenizer, split, stages)
    if status is not None:
        return status
    stages.start("report: comparison.json, comparison.md, comparison.png")
    write_comparison(out, args, budget, runs, tasks.baseline(args.task, split[0][1], split[1][1]))
    print(f"saved to {out}/: comparison.json, comparison.md, comparison.png")


class Stages:
    """Prints one progress line a stage: its number of all, and the minutes since the first."""

    def __init__(self, total):
        self.total, self.done, self.began = total, 0, time.time()

    def start(self, what):
        self.done += 1
        print(
            f"\n[compare {self.done}/{self.total}, {(time.time() - self.began) / 60:.1f} min] {what}",
            flush=True,
        )


def comparison_data(args, out):
    """(data directory, manifest): --data, or the default corpus built once in OUT/data."""
    if args.data:
        data_dir = Path(args.data)
    elif (out / "data" / "manifest.json").exists():
        data_dir = (
            out / "data"
        )  # built by the interrupted run (build-data renames it into place when done)
    else:
        data_dir = default_data(out, args)
    manifest = read_manifest(data_dir)
    pretrain.check_length(data_dir, manifest, args.size)
    return data_dir, manifest


def batch_size_of(args):
    return args.batch_size or TRAINING[args.size]["batch_size"]


def new_pretrainer(args, manifest, objective):
    return ElectraPretrainer.from_size(
        args.size,
        vocab_size=manifest["vocab_size"],
        seed=args.seed,
        objective=objective,
        **model_options(args),
        **special_token_arguments(manifest),
    )


def comparison_budget(args, out, data_dir, manifest):
    """{"flops": per objective, "calibration": how --budget-minutes became FLOPs, or None}; a resumed
    comparison reads it back from budget.json, so that it trains the same steps."""
    if (out / "budget.json").exists():
        return json.loads((out / "budget.json").read_text())
    budget = {"flops": args.budget_flops or DEFAULT_BUDGET_FLOPS, "calibration": None}
    if args.budget_minutes:
        calibration = time_steps(args, data_dir, manifest, args.objectives[0])
        budget = {
            "flops": args.budget_minutes * 60 * calibration["flops_per_second"],
            "calibration": calibration,
        }
        print(
            f"--budget-minutes {args.budget_minutes:g}: {args.objectives[0]} runs "
            f"{calibration['flops_per_second']:.3g} FLOPs/s here, so each objective gets {budget['flops']:.3g} FLOPs"
        )
    return budget


def time_steps(args, data_dir, manifest, objective):
    """The seconds of one step of `objective` here, and its FLOPs per second."""
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
    start = time.time()
    pretrainer.fit(batches(CALIBRATION_STEPS), verbose=0)
    seconds = (time.time() - start) / CALIBRATION_STEPS
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


def pretrain_objective(args, out, data_dir, plan, stages):
    """Runs (or resumes) the `pretrain` of `plan`; returns the plan with the run's held-out metrics, or
    the exit status of a run that stopped early."""
    run_dir = out / plan["objective"] / "pretrain"
    stages.start(
        f"pretrain {plan['objective']}: {plan['steps']:,} steps of {plan['batch_size']} "
        f"({plan['flops_per_step']:.3g} FLOPs each, {plan['flops']:.3g} in all)"
    )
    if not (run_dir / "metrics.json").exists():
        status = pretrain.run(pretrain_arguments(args, data_dir, plan, run_dir))
        if status is not None:
            return status
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        **plan,
        "run": str(run_dir.relative_to(out)),
        "pretrain_seconds": metrics["train_seconds"],
        "heldout_before": metrics["before"],
        "heldout": metrics["after"],
    }


def pretrain_arguments(args, data_dir, plan, run_dir):
    """`pretrain`'s arguments for one objective of the comparison, checkpoints at every point kept."""
    parser = argparse.ArgumentParser()
    pretrain.add_parser(parser.add_subparsers(), "pretrain")
    argv = [
        "--data",
        data_dir,
        "--size",
        args.size,
        "--objective",
        plan["objective"],
        "--steps",
        plan["steps"],
        "--batch-size",
        plan["batch_size"],
        "--seed",
        args.seed,
        "--out",
        run_dir,
        "--save-every",
        plan["save_every"],
        "--keep-checkpoints",
        len(plan["point_steps"]),
        "--log-every",
        min(50, plan["steps"]),
        "--finetune-epochs",
        0,
        "--local-mixing",
        args.local_mixing,
        "--discriminator-bias",
        args.discriminator_bias,
        *(["--dropout", args.dropout] if args.dropout is not None else []),
    ]
    resume = ["--resume"] if run_dir.exists() and any(run_dir.iterdir()) else []
    return parser.parse_args(["pretrain", *map(str, argv), *resume])


def finetuning_data(args):
    """((train x, y), (dev x, y)) of --task."""
    train = take(*tasks.load_split(args.task, args.task_data, "train"), args.max_train_examples)
    return train, take(*tasks.load_split(args.task, args.task_data, "dev"), args.max_dev_examples)


def encoder_at(run_dir, step):
    """The encoder of a `pretrain` run at `step`: 0 is its initial weights (the saved config carries the
    seed, so `from_config` rebuilds them), the last step is discriminator.keras, others a checkpoint."""
    final = keras.saving.load_model(run_dir / "discriminator.keras", compile=False)
    if step == 0:
        return ElectraBackbone.from_config(final.get_config())
    found = {s: path for path, s in checkpoints(run_dir / "checkpoints")}
    if step in found:
        return keras.saving.load_model(found[step], compile=False).discriminator
    if step == json.loads((run_dir / "metrics.json").read_text())["steps"]:
        return final
    raise FileNotFoundError(
        f"{run_dir / 'checkpoints'}: no intact checkpoint of step {step} to fine-tune"
    )


def finetune_all(args, out, runs, tokenizer, split, stages):
    """Fine-tunes the initial weights (every objective's encoder starts from the same ones: same size
    and seed), then each run's later points, with each seed; adds each run's "points" (step, FLOPs,
    per-seed dev scores). Returns the exit status of a fine-tuning that stopped early."""
    first = out / next(iter(runs.values()))["run"]
    initial = finetune_seeds(
        args, out / "initial", "the initial weights", first, 0, tokenizer, split, stages
    )
    if not isinstance(initial, list):
        return initial
    for run in runs.values():
        run["points"] = [{"step": 0, "flops": 0, "scores": initial}]
        for step in run["point_steps"][1:]:
            flops = step * run["flops_per_step"]
            scores = finetune_seeds(
                args,
                out / run["objective"] / "finetune" / f"step-{step:07d}",
                f"{run['objective']} at step {step:,} ({flops:.3g} FLOPs)",
                out / run["run"],
                step,
                tokenizer,
                split,
                stages,
            )
            if not isinstance(scores, list):
                return scores
            run["points"].append({"step": step, "flops": flops, "scores": scores})
    return None


def finetune_seeds(args, out_dir, what, run_dir, step, tokenizer, split, stages):
    """The dev scores of the encoder of `run_dir` at `step`, fine-tuned with each seed in `out_dir`/seed-S."""
    scores = []
    for seed in range(args.seeds):
        stages.start(f"finetune {what}, seed {seed}")
        result = finetune_once(
            args, out_dir / f"seed-{seed}", run_dir, step, tokenizer, split, seed
        )
        if not isinstance(result, dict):
            return result
        scores.append(result["dev"]["score"])
    return scores


def finetune_once(args, out_dir, run_dir, step, tokenizer, split, seed):
    """scores.json of one fine-tuning (read back when a resumed comparison has it already)."""
    if (out_dir / "scores.json").exists():
        result = json.loads((out_dir / "scores.json").read_text())
        print(f"  done before: dev score {result['dev']['score']:.4f}")
        return result
    backbone = encoder_at(run_dir, step)
    start = time.time()
    scores = finetune(
        args.task,
        backbone,
        tokenizer,
        *split,
        out_dir,
        epochs=args.finetune_epochs or tasks.EPOCHS.get(args.task, 3),
        learning_rate=args.finetune_learning_rate or finetuning_learning_rate(backbone.hidden_dim),
        seed=seed,
        verbose=0,
    )
    if not isinstance(scores, dict):
        return scores
    result = {"dev": scores, "seconds": time.time() - start}
    write_json_atomic(out_dir / "scores.json", result)
    # The comparison keeps scores, not models (the encoders are in the pretrain runs): frees the disk.
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    (out_dir / "model.keras").unlink(missing_ok=True)
    print(
        "  dev "
        + ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
        + f" ({result['seconds']:.0f} s)"
    )
    return result
