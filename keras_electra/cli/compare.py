"""`keras-electra compare`: pretraining objectives side by side at equal compute, then fine-tuned.

The paper's claim (Table 1, Table 5; docs/electra.md, "Objectives") is that replaced token detection
gives a better encoder than masked language modelling for the same pretraining FLOPs. `compare`
checks it on the user's corpus in stages, each resumable: the data (the default corpus when there
is no --data), the budget (FLOPs; from --budget-minutes by timing a few steps), pretraining each
objective for the steps the budget buys (a `pretrain` run, checkpoints along the way), fine-tuning
the encoder at each of those points with every seed, and the report. The budget and the plans are
compare_budget.py's, the fine-tuning compare_finetuning.py's, the report comparison_report.py's.

OUT holds run.json (the settings, for --resume), budget.json, data/ (default corpus only),
OBJECTIVE/pretrain/ (a `pretrain` run), OBJECTIVE/finetune/step-NNNNNNN/seed-S/ and
initial/seed-S/ (the initial weights, shared by every objective) (a `finetune` output and its
scores.json; its model and checkpoints are removed once it is scored), and comparison.json,
comparison.md and comparison.png.
"""

import argparse
import json
import time
from pathlib import Path

from keras_electra.cli import arguments, pretrain
from keras_electra.cli.compare_budget import comparison_budget, objective_plan
from keras_electra.cli.compare_finetuning import finetune_all, finetuning_data
from keras_electra.cli.comparison_report import write_comparison
from keras_electra.cli.parsers import pretrain as pretrain_parser
from keras_electra.cli.pretrain_demos import default_data
from keras_electra.cli.runs import check_out_directory, check_settings, record_run
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.shards import read_manifest, write_json_atomic
from keras_electra.finetuning import tasks

DEFAULT_OUT = "runs/compare-%Y%m%d-%H%M%S"


def run(args):
    arguments.resolve_precision(args)
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
    runs = {
        plan["objective"]: pretrain_objective(args, out, data_dir, plan, stages) for plan in plans
    }
    tokenizer = ElectraTokenizer.from_vocab_file(
        data_dir / manifest["vocab_file"], lowercase=manifest["lowercase"]
    )
    finetune_all(args, out, runs, tokenizer, split, stages)
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
        # Built by the interrupted run (build-data renames it into place when done).
        data_dir = out / "data"
    else:
        data_dir = default_data(out, args)
    manifest = read_manifest(data_dir)
    pretrain.check_length(data_dir, manifest, args.size)
    return data_dir, manifest


def pretrain_objective(args, out, data_dir, plan, stages):
    """Runs (or resumes) the `pretrain` of `plan`; returns the plan with the run's held-out metrics."""
    run_dir = out / plan["objective"] / "pretrain"
    stages.start(
        f"pretrain {plan['objective']}: {plan['steps']:,} steps of {plan['batch_size']} "
        f"({plan['flops_per_step']:.3g} FLOPs each, {plan['flops']:.3g} in all)"
    )
    if not (run_dir / "metrics.json").exists():
        pretrain.run(pretrain_arguments(args, data_dir, plan, run_dir))
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
    pretrain_parser.add_parser(parser.add_subparsers(), "pretrain")
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
        "--mixed-precision",
        args.mixed_precision,
        *(["--dropout", args.dropout] if args.dropout is not None else []),
    ]
    resume = ["--resume"] if run_dir.exists() and any(run_dir.iterdir()) else []
    return parser.parse_args(["pretrain", *map(str, argv), *resume])
