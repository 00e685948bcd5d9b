"""What `keras-electra compare` writes: comparison.json (everything), comparison.md (the tables) and
comparison.png (dev score against pretraining FLOPs, one line per objective)."""

import keras
import numpy as np

from keras_electra.cli.plotting import headless_pyplot
from keras_electra.data.atomic import write_atomic
from keras_electra.data.shards import write_json_atomic

# The held-out pretraining metrics the table shows, those an objective reports (docs/electra.md, "Objectives").
TABLE_METRICS = ("disc_auc", "disc_accuracy", "mlm_accuracy", "encoder_mlm_accuracy")


def spread(scores):
    """(mean, standard deviation over seeds): the sample deviation, 0 for a single seed."""
    scores = np.asarray(scores, "float64")
    return float(scores.mean()), float(scores.std(ddof=1)) if len(scores) > 1 else 0.0


def comparison(args, budget, runs, baseline):
    """comparison.json's content: the settings, the budget and, per objective, its pretraining and the
    dev scores of every point (mean and deviation over the seeds)."""
    objectives = []
    for run in runs.values():
        points = [
            {**point, **dict(zip(("mean", "std"), spread(point["scores"])))}
            for point in run["points"]
        ]
        objectives.append({**run, "points": points, "initial": points[0], "final": points[-1]})
    return {
        "settings": {
            "task": args.task,
            "task_data": args.task_data,
            "data": args.data or "default corpus",
            "size": args.size,
            "seeds": args.seeds,
            "seed": args.seed,
            "backend": keras.backend.backend(),
            "finetune_epochs": args.finetune_epochs,
            "max_train_examples": args.max_train_examples,
            "max_dev_examples": args.max_dev_examples,
            "local_mixing": args.local_mixing,
            "discriminator_bias": args.discriminator_bias,
            "dropout": args.dropout,
        },
        "budget_flops": budget["flops"],
        "calibration": budget["calibration"],
        "baseline": baseline,
        "objectives": objectives,
    }


def markdown(result):
    settings, seeds = result["settings"], result["settings"]["seeds"]
    options = options_label(settings)
    lines = [
        f"# Pretraining objectives at equal compute: {settings['task']}",
        "",
        f"{settings['size']} model{f' ({options})' if options else ''} on {settings['data']}, "
        f"{result['budget_flops']:.3g} pretraining FLOPs per objective, {settings['backend']} backend; "
        f"dev score (the task's headline metric) mean ± standard deviation over {seeds} fine-tuning "
        f"seed{'s' if seeds > 1 else ''}."
        + (
            f" Majority-class dev score: {result['baseline']['score']:.4f}."
            if result["baseline"]
            else ""
        ),
        "",
        "| objective | pretraining FLOPs | steps | held-out pretraining metrics | dev score, initial weights"
        " | dev score, pretrained |",
        "|---|---|---|---|---|---|",
    ]
    for run in result["objectives"]:
        lines.append(
            f"| {run['objective']} | {run['flops']:.3g} | {run['steps']:,} | {heldout_metrics(run)} "
            f"| {score_text(run['initial'])} | {score_text(run['final'])} |"
        )
    lines += [
        "",
        "Along the way:",
        "",
        "| objective | step | pretraining FLOPs | dev score | per seed |",
        "|---|---|---|---|---|",
    ]
    for run in result["objectives"]:
        for point in run["points"]:
            lines.append(
                f"| {run['objective']} | {point['step']:,} | {point['flops']:.3g} | {score_text(point)} | "
                + ", ".join(f"{score:.4f}" for score in point["scores"])
                + " |"
            )
    return "\n".join(lines) + "\n"


def options_label(settings):
    """The model options that depart from the paper's, comma-separated, or "" for the paper's model."""
    options = [f"local mixing {settings['local_mixing']}"] if settings["local_mixing"] else []
    options += ["prior-logit bias"] if settings["discriminator_bias"] == "prior" else []
    options += [f"dropout {settings['dropout']:g}"] if settings["dropout"] is not None else []
    return ", ".join(options)


def heldout_metrics(run):
    """The table's held-out pretraining metrics of one objective's run, those it reports."""
    return ", ".join(
        f"{name} {run['heldout'][name]:.4f}" for name in TABLE_METRICS if name in run["heldout"]
    )


def score_text(point):
    """A point's dev score as "mean ± std" over the seeds."""
    return f"{point['mean']:.4f} ± {point['std']:.4f}"


def plot(result, path):
    plt = headless_pyplot()

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for run in result["objectives"]:
        flops = [point["flops"] for point in run["points"]]
        axis.errorbar(
            flops,
            [p["mean"] for p in run["points"]],
            yerr=[p["std"] for p in run["points"]],
            marker="o",
            capsize=3,
            label=run["objective"],
        )
    if result["baseline"]:
        axis.axhline(
            result["baseline"]["score"], color="grey", linestyle="--", label="majority class"
        )
    axis.set_xlabel("pretraining FLOPs")
    axis.set_ylabel(f"{result['settings']['task']} dev score")
    axis.set_title(
        f"{result['settings']['size']} model, mean ± std over {result['settings']['seeds']} seeds"
    )
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    write_atomic(path, lambda file: figure.savefig(file, format="png", dpi=100))
    plt.close(figure)


def write_comparison(out, args, budget, runs, baseline):
    """comparison.json, comparison.md and comparison.png in `out`, each written atomically."""
    result = comparison(args, budget, runs, baseline)
    write_json_atomic(out / "comparison.json", result)
    text = markdown(result)
    write_atomic(out / "comparison.md", lambda file: file.write(text.encode("utf-8")))
    plot(result, out / "comparison.png")
    return result
