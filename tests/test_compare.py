"""`keras-electra compare`: objectives pretrained on the same data for the same FLOPs, fine-tuned along
the way, reported in three files that agree with each other and with the runs they summarise."""

import functools
import itertools
import json
import math
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import BACKEND, ROOT, write_corpus
from test_finetune_cli import run_cli

from keras_electra.cli import arguments, compare
from keras_electra.cli.compare_budget import CALIBRATION_STEPS, checkpoint_points, comparison_budget
from keras_electra.cli.comparison_report import options_label
from keras_electra.cli.main import build_parser, main
from keras_electra.data.shards import read_manifest
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.flops import pretraining_step_flops

pytestmark = pytest.mark.skipif(
    BACKEND != "torch",
    reason="one backend suffices for the command; the model tests cover every backend",
)
# About 7 tiny steps of 4 x 32 at vocabulary 200: ELECTRA's 6, BERT's 7 (checkpoints at 3 and 4).
BUDGET = 2.5e9


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    corpus = write_corpus(folder / "texts", files=2, documents=10)
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(corpus),
                "--vocab-size",
                "200",
                "--max-length",
                "32",
                "--heldout-fraction",
                "0.2",
                "--workers",
                "1",
                "--out",
                str(folder / "data"),
            ]
        )
        == 0
    )
    return folder / "data"


def compare_argv(data, out, *extra):
    return [
        "compare",
        "--data",
        data,
        "--objectives",
        "electra",
        "mlm",
        "--batch-size",
        4,
        "--seeds",
        2,
        "--points",
        2,
        "--finetune-epochs",
        1,
        "--max-train-examples",
        48,
        "--max-dev-examples",
        40,
        "--out",
        out,
        *extra,
    ]


@pytest.fixture(scope="module")
def comparison(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "cmp"
    assert main([str(a) for a in compare_argv(data, out, "--budget-flops", BUDGET)]) == 0
    return out


@pytest.mark.large
def test_each_objective_gets_the_steps_its_flops_buy(comparison):
    result = json.loads((comparison / "comparison.json").read_text())
    assert [run["objective"] for run in result["objectives"]] == ["electra", "mlm"]
    for run in result["objectives"]:
        saved = keras.saving.load_model(
            comparison / run["objective"] / "pretrain" / "pretrainer.keras", compile=False
        )
        assert saved.objective == run["objective"]
        flops = pretraining_step_flops(saved.get_config(), 4, 32)["total"]
        assert run["flops_per_step"] == flops and run["steps"] == math.floor(BUDGET / flops)
        assert run["flops"] == run["steps"] * flops <= BUDGET < (run["steps"] + 1) * flops
        metrics = json.loads(
            (comparison / run["objective"] / "pretrain" / "metrics.json").read_text()
        )
        assert metrics["steps"] == run["steps"] and metrics["objective"] == run["objective"]
        assert run["heldout"] == metrics["after"]
    electra, mlm = result["objectives"]
    assert (
        electra["steps"] < mlm["steps"]
    )  # the generator costs FLOPs that BERT spends on more steps


@pytest.mark.large
def test_points_are_the_initial_weights_every_checkpoint_and_the_end(comparison):
    result = json.loads((comparison / "comparison.json").read_text())
    for run in result["objectives"]:
        every = -(-run["steps"] // 2)
        assert [p["step"] for p in run["points"]] == sorted({0, every, run["steps"]})
        assert [p["flops"] for p in run["points"]] == [
            p["step"] * run["flops_per_step"] for p in run["points"]
        ]
        checkpoints = sorted(
            (comparison / run["objective"] / "pretrain" / "checkpoints").glob("step-*.keras")
        )
        assert [int(p.stem.split("-")[1]) for p in checkpoints] == list(
            range(every, run["steps"] + 1, every)
        )
    # Every objective starts from the same encoder, fine-tuned once.
    assert result["objectives"][0]["points"][0] == result["objectives"][1]["points"][0]


@pytest.mark.parametrize("points", [1, 2, 3, 5])
def test_points_are_evenly_spaced_and_none_repeats_the_end(points):
    for steps in range(10 * points, 2000):
        every, point_steps = checkpoint_points(steps, points)
        assert point_steps[0] == 0 and point_steps[-1] == steps and len(point_steps) == points + 1
        assert all(step % every == 0 for step in point_steps[:-1])  # checkpoints the run saves
        assert min(b - a for a, b in zip(point_steps, point_steps[1:])) >= every / 2


@pytest.mark.large
def test_scores_are_the_fine_tunings_and_their_mean_and_deviation(comparison):
    result = json.loads((comparison / "comparison.json").read_text())
    for run in result["objectives"]:
        for point in run["points"]:
            folder = (
                comparison / "initial"
                if point["step"] == 0
                else comparison / run["objective"] / "finetune" / f"step-{point['step']:07d}"
            )
            scores = [
                json.loads((folder / f"seed-{s}" / "scores.json").read_text())["dev"]["score"]
                for s in (0, 1)
            ]
            assert point["scores"] == scores
            assert point["mean"] == pytest.approx(np.mean(scores)) and point[
                "std"
            ] == pytest.approx(np.std(scores, ddof=1))
            for score in scores:  # a count of correct dev examples over the 40 scored
                assert abs(score * 40 - round(score * 40)) < 1e-6
            assert (
                not (folder / "seed-0" / "checkpoints").exists()
                and not (folder / "seed-0" / "model.keras").exists()
            )
        assert run["final"] == run["points"][-1] and run["initial"] == run["points"][0]


@pytest.mark.large
def test_the_table_and_the_plot_show_the_json(comparison):
    result = json.loads((comparison / "comparison.json").read_text())
    table = (comparison / "comparison.md").read_text()
    for run in result["objectives"]:
        row = next(
            line
            for line in table.splitlines()
            if line.startswith(f"| {run['objective']} | {run['flops']:.3g} |")
        )
        assert (
            f"| {run['steps']:,} |" in row
            and f"{run['final']['mean']:.4f} ± {run['final']['std']:.4f}" in row
        )
        metric = "disc_auc" if run["objective"] == "electra" else "encoder_mlm_accuracy"
        assert f"{metric} {run['heldout'][metric]:.4f}" in row
        along = [
            line
            for line in table.splitlines()
            if line.startswith(f"| {run['objective']} | ") and line not in row
        ]
        assert len(along) == len(run["points"])
    assert f"{result['baseline']['score']:.4f}" in table
    assert (comparison / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_header_names_every_option_that_departs_from_the_paper():
    paper = {"local_mixing": 0, "discriminator_bias": "zero", "dropout": None}
    assert options_label(paper) == ""
    assert options_label({**paper, "dropout": 0.0}) == "dropout 0"
    assert (
        options_label({"local_mixing": 3, "discriminator_bias": "prior", "dropout": 0.05})
        == "local mixing 3, prior-logit bias, dropout 0.05"
    )


def merge(out, *runs):
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "merge_comparisons.py"),
            str(out),
            *map(str, runs),
        ],
        capture_output=True,
        text=True,
    )


@pytest.mark.large
def test_merged_runs_keep_every_row_labelled_and_refuse_another_budget(comparison, tmp_path):
    other = tmp_path / "mixing"
    shutil.copytree(
        comparison, other, ignore=shutil.ignore_patterns("electra", "mlm", "initial", "data")
    )
    result = json.loads((comparison / "comparison.json").read_text())
    mixing = {**result, "settings": {**result["settings"], "local_mixing": 3}}
    (other / "comparison.json").write_text(json.dumps(mixing))
    assert merge(tmp_path / "merged.md", comparison, other).returncode == 0
    rows = (tmp_path / "merged.md").read_text().splitlines()[2:]
    expected = [
        (name, run) for name in ("{}", "{} (local mixing 3)") for run in result["objectives"]
    ]
    assert len(rows) == len(expected)
    for row, (name, run) in zip(rows, expected):
        assert row.startswith(f"| {name.format(run['objective'])} | {run['steps']:,} |")
        assert row.endswith(f"| {run['final']['mean']:.4f} ± {run['final']['std']:.4f} |")
    assert (tmp_path / "merged.png").read_bytes()[:4] == b"\x89PNG"
    (other / "comparison.json").write_text(
        json.dumps({**mixing, "budget_flops": 2 * result["budget_flops"]})
    )
    refused = merge(tmp_path / "refused.md", comparison, other)
    assert refused.returncode != 0 and f"{other}: not comparable" in refused.stderr
    assert not (tmp_path / "refused.md").exists()
    missing = merge(tmp_path / "missing.md", comparison, tmp_path / "nowhere")
    assert missing.returncode != 0 and "nowhere/comparison.json: not found" in missing.stderr


@pytest.mark.large
def test_resume_redoes_only_what_is_missing(data, comparison, tmp_path, capsys):
    import shutil

    out = tmp_path / "cmp"
    shutil.copytree(comparison, out)
    kept = out / "electra" / "pretrain" / "pretrainer.keras"
    mtime = kept.stat().st_mtime_ns
    gone = (
        out
        / "mlm"
        / "finetune"
        / sorted(p.name for p in (out / "mlm" / "finetune").iterdir())[-1]
        / "seed-1"
    )
    score = json.loads((gone / "scores.json").read_text())["dev"]["score"]
    shutil.rmtree(gone)
    for name in ("comparison.json", "comparison.md", "comparison.png"):
        (out / name).unlink()
    code, printed, _ = run_cli(
        capsys, *compare_argv(data, out, "--budget-flops", BUDGET, "--resume")
    )
    runs = json.loads((comparison / "comparison.json").read_text())["objectives"]
    fine_tunings = 2 * (
        1 + sum(len(run["points"]) - 1 for run in runs)
    )  # the initial weights' once
    assert code == 0 and printed.count("done before") == fine_tunings - 1
    assert kept.stat().st_mtime_ns == mtime
    assert json.loads((gone / "scores.json").read_text())["dev"]["score"] == score
    assert (
        json.loads((out / "comparison.json").read_text())["objectives"]
        == json.loads((comparison / "comparison.json").read_text())["objectives"]
    )


@pytest.mark.large
def test_a_resume_with_another_budget_names_the_flag(data, comparison, tmp_path, capsys):
    import shutil

    out = tmp_path / "cmp"
    shutil.copytree(comparison, out)
    code, _, err = run_cli(capsys, *compare_argv(data, out, "--budget-flops", 3e9, "--resume"))
    assert code == 2 and "--budget-flops is 3000000000.0" in err


def test_bad_arguments_are_named_before_anything_is_written(data, tmp_path, capsys):
    cases = [
        (("--budget-flops", 1e6), "budget 1e+06 FLOPs: less than one step of electra"),
        (("--task", "sst2"), "--task-data: required for --task sst2"),
        (("--objectives", "mlm", "mlm"), "an objective is named twice"),
    ]
    for extra, message in cases:
        out = tmp_path / extra[0].strip("-")
        code, _, err = run_cli(capsys, *compare_argv(data, out, *extra))
        assert code == 2 and message in err and "Traceback" not in err
        assert not out.exists()
    code, _, err = run_cli(
        capsys, *compare_argv(data, tmp_path / "x", "--budget-flops", 1e12, "--budget-minutes", 1)
    )
    assert code == 2 and "not allowed with argument" in err


def steady_clock(seconds_per_step):
    """A clock that advances CALIBRATION_STEPS * `seconds_per_step` at each reading: the timed steps take
    `seconds_per_step` each, whatever the machine's speed."""
    return itertools.count(step=CALIBRATION_STEPS * seconds_per_step).__next__


def test_minutes_become_the_flops_of_the_timed_rate(data, tmp_path):
    args = build_parser().parse_args(
        ["compare", "--data", str(data), "--objectives", "mlm", "electra", "--budget-minutes", "2"]
    )
    args.batch_size = 4
    arguments.resolve_precision(args)  # as `compare` does first
    budget = comparison_budget(args, tmp_path, data, read_manifest(data), clock=steady_clock(0.25))
    calibration = budget["calibration"]
    assert calibration["objective"] == "mlm" and calibration["seconds_per_step"] == 0.25
    vocab_size = read_manifest(data)["vocab_size"]
    mlm = ElectraPretrainer.from_size("tiny", vocab_size=vocab_size, objective="mlm")
    mlm_flops_per_step = pretraining_step_flops(mlm.get_config(), 4, 32)["total"]
    assert calibration["flops_per_second"] == pytest.approx(mlm_flops_per_step / 0.25)
    assert budget["flops"] == pytest.approx(2 * 60 * mlm_flops_per_step / 0.25)


@pytest.mark.large
def test_a_budget_in_minutes_is_the_flops_the_first_objective_runs_in_them(
    data, tmp_path, monkeypatch
):
    # The timed MLM steps take 1 s each by the clock (--budget-minutes would otherwise buy a number of
    # steps that depends on the machine's speed): 3 MLM steps, and fewer ELECTRA ones.
    monkeypatch.setattr(
        compare, "comparison_budget", functools.partial(comparison_budget, clock=steady_clock(1.0))
    )
    out = tmp_path / "cmp"
    minutes = 0.05
    assert (
        main(
            [
                "compare",
                "--data",
                str(data),
                "--objectives",
                "mlm",
                "electra",
                "--budget-minutes",
                str(minutes),
                "--batch-size",
                "4",
                "--seeds",
                "1",
                "--points",
                "1",
                "--finetune-epochs",
                "1",
                "--max-train-examples",
                "16",
                "--max-dev-examples",
                "16",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads((out / "comparison.json").read_text())
    calibration = result["calibration"]
    assert calibration["objective"] == "mlm" and calibration["seconds_per_step"] == 1.0
    mlm, electra = result["objectives"]
    assert calibration["flops_per_second"] == pytest.approx(
        mlm["flops_per_step"] / calibration["seconds_per_step"]
    )
    assert result["budget_flops"] == pytest.approx(minutes * 60 * calibration["flops_per_second"])
    for run in (mlm, electra):
        assert run["steps"] == math.floor(result["budget_flops"] / run["flops_per_step"])
