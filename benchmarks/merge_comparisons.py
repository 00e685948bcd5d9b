"""One table and one plot from several `keras-electra compare` runs made on the same data, task and budget
(say, the paper's model and each model option, run one after another with `--data` of the first run).

    python benchmarks/merge_comparisons.py OUT.md RUN_DIR [RUN_DIR ...]

Each objective of each run becomes a row labelled with its model options; OUT.md gets the table and
OUT.png the dev score against pretraining FLOPs (the plot `compare` draws, one line per row).
"""

import argparse
import json
from pathlib import Path

from keras_electra.cli.comparison_report import heldout_metrics, options_label, plot, score_text

SAME = ("task", "data", "size", "seeds", "seed", "backend")


def load(run):
    """A run's comparison.json, its data named by path (a run on the default corpus built it in RUN/data)."""
    path = Path(run) / "comparison.json"
    if not path.is_file():
        raise SystemExit(
            f"{path}: not found (is {run} the --out folder of a finished `keras-electra compare`?)"
        )
    result = json.loads(path.read_text())
    if result["settings"]["data"] == "default corpus":
        result["settings"]["data"] = str((Path(run) / "data").resolve())
    return result


def merged(run_dirs):
    results = [load(run) for run in run_dirs]
    first = results[0]
    for run, result in zip(run_dirs[1:], results[1:]):
        differing = [key for key in SAME if result["settings"][key] != first["settings"][key]]
        if differing or result["budget_flops"] != first["budget_flops"]:
            raise SystemExit(
                f"{run}: not comparable with {run_dirs[0]} (differs in {differing or 'budget'})"
            )
    rows = []
    for result in results:
        options = options_label(result["settings"])
        rows += [
            {**run, "objective": f"{run['objective']} ({options})" if options else run["objective"]}
            for run in result["objectives"]
        ]
    return {**first, "objectives": rows}


def table(result):
    lines = [
        "| setting | steps | held-out pretraining metrics | dev score, initial weights | "
        "dev score along the way (step: score) | dev score, pretrained |",
        "|---|---|---|---|---|---|",
    ]
    for run in result["objectives"]:
        middle = "; ".join(f"{point['step']}: {score_text(point)}" for point in run["points"][1:-1])
        lines.append(
            f"| {run['objective']} | {run['steps']:,} | {heldout_metrics(run)} | "
            f"{score_text(run['initial'])} | {middle} | {score_text(run['final'])} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", type=Path, help="the markdown file to write; the plot goes beside it as .png"
    )
    parser.add_argument("runs", nargs="+", help="output folders of `keras-electra compare`")
    args = parser.parse_args()
    result = merged(args.runs)
    args.out.write_text(table(result))
    plot(result, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
